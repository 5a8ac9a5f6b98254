"""s.yaml resolved as `s` resolves it (deploy/wiring.py), for the tests of the deployment and of the code packages
it names (test_deploy, test_package). Importing it puts deploy/ on sys.path, as `make package` runs its scripts
(package.py finds wiring.py there)."""
import sys

import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "deploy"))
import wiring  # noqa: E402  deploy/wiring.py, as make package runs it

ACCOUNT = "1234567890123456"                 # what ${config('AccountID')} gives `s`
CONFIG = {"AccountID": ACCOUNT}
TEMPLATE = yaml.safe_load((ROOT / "s.yaml").read_text())
S = wiring.resolve(TEMPLATE, CONFIG)
FUNCTIONS = [resource["props"] for resource in S["resources"].values()]
