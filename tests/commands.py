"""The operator's commands run as a user runs them (click's runner), and what the command tests share about them
(test_cli, test_reach): the checkout's rules, an environment without keys, the retry lines printed, and DataWorks
and OSS served side by side as `dwtrigger emulator` serves them."""
import re

import pytest
from click.testing import CliRunner

from conftest import ROOT, WORLD, oss_seed, side_by_side
from dwtrigger.ops.cli import main
from dwtrigger.ops.emulator import Emulator, OssStandIn

RULES = str(ROOT / "rules.yaml")


def run(*args, env=None, input=None):
    return CliRunner().invoke(main, list(args), env=env, input=input, prog_name="dwtrigger")


def attempts(result) -> list:
    """The retry lines a command printed, delays as #."""
    return [re.sub(r"retrying in [0-9.]+ s", "retrying in # s", line) for line in result.stderr.splitlines()
            if ": attempt " in line]


def served(seed):
    """DataWorks on a free port P and the OSS stand-in on P+1, as `dwtrigger emulator` serves them."""
    return side_by_side(lambda: Emulator(seed),
                        lambda emu, port: OssStandIn(oss_seed(seed, ("etl-landing",)), port=port))


@pytest.fixture
def pair():
    with served(WORLD) as both:
        yield both


NO_KEYS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": None, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": None,
           "ALIBABA_CLOUD_SECURITY_TOKEN": None, "DWTRIGGER_EMULATOR": None, "DWTRIGGER_ENDPOINT": None,
           "DWTRIGGER_PROTOCOL": None, "DWTRIGGER_OSS_ENDPOINT": None, "DWTRIGGER_RULES": None}
