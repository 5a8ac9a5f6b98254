"""`dwtrigger logs setup` run against the SLS stand-in as an operator runs it, for the tests of the command and of the
policy that lets it run (test_logs, test_ram)."""
from click.testing import CliRunner

from conftest import ROLE_KEY
from dwtrigger.ops.cli import main

REGION, PROJECT, LOGSTORE = "cn-shanghai", "dwtrigger-1234567890123456", "decisions"
SETUP = ["logs", "setup", "--region", REGION, "--project", PROJECT, "--logstore", LOGSTORE]


def run(sls, *args, key=ROLE_KEY, endpoint=None):
    env = {"DWTRIGGER_PROTOCOL": "http", "DWTRIGGER_SLS_ENDPOINT": endpoint or sls.endpoint, **key}
    return CliRunner().invoke(main, [*SETUP, *args], env=env, prog_name="dwtrigger")
