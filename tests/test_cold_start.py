"""What a handler pays at cold start: the CLI, the test tools and the DataWorks product SDK's models never load;
the SDK (tea-openapi's generic call) waits for the first DataWorks call unless FC's initializer
(`index.initialize`) loads it first."""
import json
import os
import subprocess
import sys

from conftest import EVENTS, ROLE_KEY, ROOT, orders_rules

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
index = importlib.util.module_from_spec(spec)
spec.loader.exec_module(index)
if sys.argv[2:] == ["--initialize"]:
    index.initialize(None)
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} | {m for m in sys.modules if m.startswith('dwtrigger.')})))
"""


def load(source: str, *args: str, rules=ROOT / "rules.yaml", probe: str = PROBE):
    path = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}   # the tree under test
    return subprocess.run([sys.executable, "-c", probe, str(ROOT / "functions" / source / "index.py"), *args],
                          capture_output=True, text=True, env={"DWTRIGGER_RULES": str(rules), **path})


def test_importing_a_handler_loads_no_cli_and_no_sdk_yet():
    for source in ("oss", "mns", "timer"):
        loaded = set(json.loads(load(source).stdout))
        assert "dwtrigger" in loaded
        assert not loaded & {"click", "pytest", "moto", "hypothesis", "boto3"}, loaded
        assert not loaded & {"alibabacloud_tea_openapi", "alibabacloud_oss_v2"}   # imported on their first call
        assert not {m for m in loaded if m.startswith("dwtrigger.ops.")}     # no command, nor validate's advice


def test_the_initializer_loads_rules_and_sdk_before_the_first_event():
    out = load("oss", "--initialize")
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert "alibabacloud_tea_openapi" in loaded
    assert "alibabacloud_dataworks_public20200518" not in loaded       # the generic call needs none of its models
    assert "alibabacloud_oss_v2" in loaded                              # rules.yaml's sales-complete requires files
    assert "dwtrigger.rules" in loaded and "dwtrigger.ops.lookalikes" not in loaded     # validate's advice stays out


def test_a_deployment_without_require_never_loads_the_oss_sdk(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(orders_rules("{workspace: 10001, node: 700001234567}"))
    out = load("oss", "--initialize", rules=rules)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert "alibabacloud_tea_openapi" in loaded and "alibabacloud_oss_v2" not in loaded


def test_the_initializer_refuses_a_broken_rules_file(tmp_path):
    broken = tmp_path / "rules.yaml"
    broken.write_text("version: 1\nrules: [{name: x, on: oss}]\n")
    out = load("oss", "--initialize", rules=broken)
    assert out.returncode != 0 and "RulesError" in out.stderr and "rule 'x'" in out.stderr


def test_only_a_deployment_with_notify_loads_the_notice_channels(tmp_path):
    """Without `notify` the sweep never imports notify.py or notices.py (their bookkeeping, their wire); with it,
    the channels' secrets are read at start (to be scrubbed) and the notices wait for the sweep."""
    rules = tmp_path / "rules.yaml"
    probe = PROBE.replace("m.split('.')[0] for m in sys.modules", "m for m in sys.modules if m.startswith('dwtrigger')")
    for notify, expected in (("", set()), ("notify: {webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}}",
                                          {"dwtrigger.notify"})):
        rules.write_text(orders_rules("{workspace: 10001, node: 700001234567}",
                                      extra=f'ledger: "oss://etl-ledger/d/"\n    {notify}'))
        out = load("sweep", "--initialize", rules=rules, probe=probe)
        assert out.returncode == 0, out.stderr
        loaded = set(json.loads(out.stdout))
        assert loaded & {"dwtrigger.notify", "dwtrigger.notices"} == expected


def test_the_board_is_imported_only_by_a_deployment_that_publishes_it(tmp_path):
    """dwtrigger.board (the page, its renderer) waits for a sweep run with `defaults.status_page`."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(orders_rules("{workspace: 10001, node: 700001234567}"))
    for source in ("sweep", "oss"):
        out = load(source, "--initialize", rules=rules)
        assert out.returncode == 0, out.stderr
        assert not [m for m in json.loads(out.stdout) if m.startswith("dwtrigger.board")], source
    paged = tmp_path / "paged.yaml"
    paged.write_text(orders_rules("{workspace: 10001, node: 700001234567}").replace(
        "region: cn-shanghai}", "region: cn-shanghai, status_page: oss://etl-board/dwtrigger/}", 1))
    out = load("sweep", "--initialize", rules=paged)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert "alibabacloud_oss_v2" in loaded and not [m for m in loaded if m.startswith("dwtrigger.board")]


# What tea-openapi's module imports and a release never uses (dataworks/sdk.py keeps them out): aiohttp and asyncio
# (the SDK's async methods), alibabacloud-credentials' client with Tea's core and apscheduler (its credential chain
# and refreshing providers; a rule without `role_arn` signs with the role's keys as they are), the WebSocket
# client and cryptography's RSA signing; and Powertools' metrics, tracer and JMESPath (outcomes.py).
UNUSED = {"aiohttp", "asyncio", "Tea.core", "apscheduler", "alibabacloud_credentials.client",
          "alibabacloud_credentials.provider", "alibabacloud_dataworks_public20200518", "websocket",
          "darabonba.websocket", "cryptography.hazmat.primitives.hashes", "aws_lambda_powertools.metrics",
          "aws_lambda_powertools.tracing", "jmespath"}

RELEASE = """
import importlib.util, json, sys, types
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
index = importlib.util.module_from_spec(spec)
spec.loader.exec_module(index)
context = types.SimpleNamespace(request_id="cold-1", function=types.SimpleNamespace(name="dwtrigger-oss"))
if sys.argv[3:] == ["--initialize"]:
    index.initialize(context)
answer = index.handler(open(sys.argv[2], "rb").read(), context)
print(json.dumps({"outcomes": [d["outcome"] for d in answer["outcomes"]], "modules": sorted(sys.modules)}))
"""


def test_a_release_never_imports_what_only_unused_paths_need(emulator, tmp_path):
    """Spawn -> one OSS event released through the real SDK, signed and checked by the emulator, cold and after
    the initializer: the modules only the SDK's async paths and the credential chain use never load."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(orders_rules("{workspace: 10001, node: 700001234567}"))
    env = {"DWTRIGGER_RULES": str(rules), "DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
           **ROLE_KEY, **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {})}
    for args in ((), ("--initialize",)):
        emulator.reset()
        out = subprocess.run([sys.executable, "-c", RELEASE, str(ROOT / "functions" / "oss" / "index.py"),
                              str(EVENTS / "oss" / "native-put-orders.json"), *args],
                             capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        answer = json.loads(out.stdout.splitlines()[-1])          # after the decision line
        assert answer["outcomes"] == ["triggered"], out.stdout
        loaded = set(answer["modules"])
        assert "alibabacloud_tea_openapi.client" in loaded and "alibabacloud_credentials.models" in loaded
        assert not {m for m in loaded for u in UNUSED if m == u or m.startswith(f"{u}.")}, args


def test_a_rule_that_assumes_a_role_loads_the_credentials_library_after_the_sdk(emulator, tmp_path):
    """`role_arn` needs the library's AssumeRole (and its refresh): imported for real once the SDK's placeholders
    are gone, its STS call under the wire's guard, the release signed with the assumed keys."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(orders_rules("{workspace: 10001, node: 700001234567}",
                                  extra='role_arn: "acs:ram::1234567890123456:role/dwtrigger-cross"'))
    env = {"DWTRIGGER_RULES": str(rules), "DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
           "DWTRIGGER_STS_ENDPOINT": emulator.sts_endpoint, **ROLE_KEY,
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {})}
    out = subprocess.run([sys.executable, "-c", RELEASE, str(ROOT / "functions" / "oss" / "index.py"),
                          str(EVENTS / "oss" / "native-put-orders.json"), "--initialize"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout.splitlines()[-1])
    assert answer["outcomes"] == ["triggered"], out.stdout
    assert {"alibabacloud_credentials.client", "Tea.core", "asyncio"} <= set(answer["modules"])
    [trigger] = [c for c in emulator.calls if c["action"] == "RunTriggerNode"]
    assert trigger["access_key_id"].startswith("STS.") and trigger["role_arn"].endswith("role/dwtrigger-cross")
