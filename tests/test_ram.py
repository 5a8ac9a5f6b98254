"""deploy/ram/ against every call dwtrigger makes: doctor (what `status` will read too), the sweep and the relay run
against the emulator and the OSS stand-in on both APIs, and each call they saw must be one the policies allow —
the operator's (operator.json and oss-require.json for each bucket read) for doctor, the function's role's
(dataworks.json, oss-require.json, oss-ledger.json) for the sweep and the relay. The action of each call is ram.py's
(DataWorks: dataworks:<API>; OSS: its documented action); resources and conditions are matched as RAM matches them."""
import json
import string
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import BOTH_APIS, MIRROR, ROLE_KEY, sample
from dwtrigger.dataworks import API_2020
from dwtrigger.ledger.oss import asked
from dwtrigger.ops import ram
from dwtrigger.ops.cli import main
from dwtrigger.ops.emulator import SlsStandIn
from logsetup import LOGSTORE, PROJECT as LOG_PROJECT, run as logs_run

pytestmark = BOTH_APIS      # each API's actions, as the policies grant them

RAM = Path(__file__).resolve().parents[1] / "deploy" / "ram"
ACCOUNT, REGION = "1234567890123456", "cn-shanghai"
NOW, BIZ = "2026-03-12T09:00:00+08:00", "2026-03-11"
ORDERS, CHECKS = 700001234567, 700001235300
LEDGER = {"LEDGER_BUCKET": "etl-ledger", "LEDGER_PREFIX": "dwtrigger/"}


def rules(api: str) -> str:
    """An OSS rule and a timer rule, each with `require` (one of them a listing), a ledger and `expect`, on `api`'s
    workspace."""
    workspace = 10001 if api == API_2020 else MIRROR[10001]
    kept = 'ledger: "oss://etl-ledger/dwtrigger/", expect: {by: "06:00", days: 2}'
    return f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai, api: "{api}"}}
rules:
  - {{name: orders, on: oss, bucket: etl-landing, key: "exports/orders/dt={{bizdate:%Y-%m-%d}}/_SUCCESS",
     require: ["oss://etl-reference/cal/{{bizdate:%Y%m%d}}.ok"], {kept},
     trigger: [{{workspace: {workspace}, node: {ORDERS}, at: "00:30"}}]}}
  - {{name: checks, on: timer, timer: morning, bucket: etl-landing, require: ["checks/{{bizdate:%Y%m%d}}/*.ok"], {kept},
     trigger: [{{workspace: {workspace}, node: {CHECKS}, at: "01:00"}}]}}
"""


ROLE_KEYS = [{"access_key_id": ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"],
              "access_key_secret": ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
              "security_token": ROLE_KEY["ALIBABA_CLOUD_SECURITY_TOKEN"]}]


def policy(name: str, **names: str) -> dict:
    """A deploy/ram/ document rendered as `envsubst` would (an unknown ${NAME} fails)."""
    return json.loads(string.Template((RAM / name).read_text()).substitute(ACCOUNT=ACCOUNT, REGION=REGION, **names))


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def allowed(documents, call: dict) -> bool:
    """Whether a statement of `documents` allows the call: its action, its resource (an OSS call's bucket or
    object ARN) and the statement's conditions (oss:Prefix, the listing's prefix)."""
    action = ram.action(call)
    if "action" in call:
        resource, facts = f"acs:dataworks:{REGION}:{ACCOUNT}:*", {}
    elif "resource" in call:                        # the SLS stand-in's: the resource it names in a refusal
        resource, facts = call["resource"], {}
    else:
        path = call["bucket"] if call["operation"] == "ListObjectsV2" else f"{call['bucket']}/{call['key']}"
        resource, facts = f"acs:oss:{REGION}:{ACCOUNT}:{path}", {"oss:Prefix": call["params"].get("prefix", "")}
    for statement in (s for doc in documents for s in doc["Statement"]):
        conditions = statement.get("Condition", {}).get("StringLike", {})
        if (any(fnmatchcase(action, a) for a in _listed(statement["Action"]))
                and any(fnmatchcase(resource, r) for r in _listed(statement["Resource"]))
                and all(any(fnmatchcase(facts.get(key, ""), v) for v in _listed(values))
                        for key, values in conditions.items())):
            return True
    return False


def refused(documents, calls) -> list:
    return sorted({f"{ram.action(c)} {c.get('bucket') or ''}".strip() for c in calls if not allowed(documents, c)})


def reads(bucket: str) -> dict:
    return policy("oss-require.json", BUCKET=bucket)


OPERATOR = [policy("operator.json")] + [reads(b) for b in ("etl-landing", "etl-reference", "etl-ledger")]
FUNCTION = [policy("dataworks.json"), reads("etl-landing"), reads("etl-reference"), policy("oss-ledger.json", **LEDGER)]


@pytest.fixture
def landed(emulator, oss_standin, tmp_path, api):
    """The world with both rules' files of BIZ landed and the timer's `asked` record; the rules file's path."""
    path = tmp_path / "rules.yaml"
    path.write_text(rules(api))
    for bucket, key in (("etl-landing", f"exports/orders/dt={BIZ}/_SUCCESS"), ("etl-reference", "cal/20260311.ok"),
                        ("etl-landing", "checks/20260311/part-1.ok"),
                        ("etl-ledger", "dwtrigger/" + asked("checks", CHECKS, date.fromisoformat(BIZ)))):
        oss_standin.put(bucket, key, b"{}")
    return emulator, oss_standin, str(path)


def run(world, *args: str):
    emu, oss, path = world
    env = {**ROLE_KEY, "DWTRIGGER_RULES": path, "DWTRIGGER_OSS_ENDPOINT": oss.endpoint}
    return CliRunner().invoke(main, [*args, "--endpoint", emu.endpoint, "--protocol", "http", "--now", NOW], env=env)


def test_the_operator_policies_allow_every_call_doctor_makes(landed, api):
    emu, oss, _ = landed
    for rule in ("orders", "checks"):
        result = run(landed, "doctor", "--rule", rule, "--bizdate", BIZ)
        assert result.exit_code == 1 and "  ? " not in result.output, result.output   # no send on record yet
    calls = emu.calls + oss.calls
    parents = ram.dataworks(api, "parents")
    assert {ram.action(c) for c in calls} == {ram.dataworks(api, "look-up"), parents, "oss:ListObjects",
                                              "oss:GetObject"}
    assert refused(OPERATOR, calls) == []
    assert refused(FUNCTION, calls) == [parents]          # the function's role never asks for parents


def test_the_function_policies_allow_every_call_the_sweep_and_the_relay_make(landed, harness, api):
    emu, oss, path = landed
    result = run(landed, "sweep")
    assert result.exit_code == 0, result.output
    relay = harness(Path(path).read_text())
    oss.put("etl-reference", "cal/20260310.ok")
    [decision] = relay.invoke("oss", sample("oss/native-put-orders.json"))
    assert decision["outcome"] == "triggered", decision
    calls = emu.calls + oss.calls
    assert {ram.action(c) for c in calls} == {ram.dataworks(api, "look-up"), ram.dataworks(api, "trigger"),
                                              "oss:ListObjects", "oss:GetObject", "oss:PutObject"}
    assert refused(FUNCTION, calls) == []
    assert refused(FUNCTION + OPERATOR, calls) == []      # an operator who sweeps by hand holds both


def test_a_call_outside_the_policies_is_refused_by_the_check():
    """The check itself: an action, a bucket or a listing prefix the policies do not name is refused."""
    listing = {"operation": "ListObjectsV2", "bucket": "etl-ledger", "key": None, "params": {"prefix": "other/"}}
    assert refused(FUNCTION, [{"action": "GetNodeParents"}, listing,
                              {"operation": "GetObject", "bucket": "etl-private", "key": "a", "params": {}},
                              {"operation": "PutObject", "bucket": "etl-landing", "key": "a", "params": {}}]) == [
        "dataworks:GetNodeParents", "oss:GetObject etl-private", "oss:ListObjects etl-ledger",
        "oss:PutObject etl-landing"]
    assert refused(FUNCTION, [dict(listing, params={"prefix": "dwtrigger/claims/"})]) == []


def test_the_advice_names_the_file_that_grants_each_action():
    for action, name in ram.GRANTED_BY.items():
        assert any(action in _listed(s["Action"]) for s in policy(Path(name).name)["Statement"]), (action, name)
    assert ram.grant(["oss:ListObjects", "oss:GetObject"], ("etl-landing",)).endswith(
        f"({ram.OSS_READS} with BUCKET=etl-landing)")


def test_the_sls_setup_policy_allows_every_call_logs_setup_makes_in_its_project_only():
    """A first run, a run repairing drift of every kind, and a run with nothing to do: every SLS call they make."""
    with SlsStandIn(ROLE_KEYS, REGION) as sls:
        assert logs_run(sls).exit_code == 0

        def drift(project):
            project["logstores"][LOGSTORE]["ttl"] = 7
            project["indexes"][LOGSTORE]["keys"]["message"]["json_keys"]["node"]["type"] = "text"
            project["savedsearches"]["dwtrigger-outcomes"]["searchQuery"] = "*"
            project["alerts"]["dwtrigger-failed"]["schedule"]["interval"] = "1h"
        sls.change(LOG_PROJECT, drift)
        assert logs_run(sls).stdout.splitlines()[-1] == "0 created, 4 updated"
        assert logs_run(sls).exit_code == 0
        calls = sls.calls
    assert {ram.action(c) for c in calls} == set(ram.SLS.values())
    assert refused([policy("sls-setup.json", LOG_PROJECT=LOG_PROJECT, LOGSTORE=LOGSTORE)], calls) == []
    elsewhere = policy("sls-setup.json", LOG_PROJECT="someone-elses", LOGSTORE=LOGSTORE)
    assert refused([elsewhere], calls) == sorted(set(ram.SLS.values()))
    assert Path(ram.SLS_SETUP).name == "sls-setup.json"


def test_the_status_page_policy_lets_the_sweep_publish_and_the_operators_lets_status_read(tmp_path):
    """The sweep's page (oss-status-page.json: PutObject under its prefix, and nothing the ledger's grants cover);
    `dwtrigger status --html` reads only what an operator may (Last-Modified included: oss:GetObject)."""
    from board_day import NOW as DAY, day

    page = [policy("oss-status-page.json", PAGE_BUCKET="etl-ledger", PAGE_PREFIX="board/")]
    with day(tmp_path, page="oss://etl-ledger/board/") as d:
        published = [c for c in d.oss.calls if c["operation"] == "PutObject" and c["key"].startswith("board/")]
        assert len(published) == 2
        assert refused(FUNCTION, published) == ["oss:PutObject etl-ledger"]
        assert refused(FUNCTION + page, d.oss.calls) == []
        before, asked = len(d.oss.calls), len(d.emu.calls)
        result = CliRunner().invoke(main, ["status", "--rules", str(d.path), "--endpoint", d.emu.endpoint,
                                           "--protocol", "http", "--now", DAY, "--html", str(tmp_path / "b.html")],
                                    env=d.env)
        assert result.exit_code == 1, result.output
        read = d.oss.calls[before:]
        assert {ram.action(c) for c in read} == {"oss:GetObject", "oss:ListObjects"}
        assert refused(OPERATOR, read) == [] and refused(OPERATOR, d.emu.calls[asked:]) == []
        assert {ram.action(c) for c in d.emu.calls[asked:]} == {"dataworks:ListInstances"}
