"""What a handler pays at cold start: the CLI, test tools and (until a rule calls DataWorks) the SDK stay out."""
import json
import subprocess
import sys

from conftest import ROOT

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def test_importing_a_handler_loads_no_cli_and_no_sdk_yet():
    for source in ("oss", "mns", "timer"):
        out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "functions" / source / "index.py")],
                             capture_output=True, text=True, check=True).stdout
        loaded = set(json.loads(out))
        assert "dwtrigger" in loaded
        assert not loaded & {"click", "pytest", "moto", "hypothesis", "boto3"}, loaded
        assert "alibabacloud_dataworks_public20200518" not in loaded     # imported on the first DataWorks call
