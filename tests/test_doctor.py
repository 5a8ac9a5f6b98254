"""`dwtrigger doctor`, run as a user runs it (click's runner, the real SDK, the emulator and the OSS stand-in on
loopback) on both APIs: each condition it checks, failing and passing, the JSON, the exit codes, and that it never
sends or writes anything."""
import json
import socket

import pytest
from click.testing import CliRunner

from conftest import ROLE_KEY, oss_seed
from dwtrigger.dataworks import API_2020, API_2024
from dwtrigger.ops.cli import main
from dwtrigger.ops.emulator import Emulator, OssStandIn

NOW, BIZ = "2026-03-12T09:00:00+08:00", "2026-03-11"     # the emulator's clock and --now; BIZ runs on 03-12
HELD_MS, EXPIRED_MS = 1773331200000, 1773244800000        # 2026-03-13 00:00 and 2026-03-12 00:00 (+08:00)
# A send held by DataWorks whose 24 hours ended at EXPIRED_MS: sent, and claimed, at 2026-03-11 00:00 (+08:00).
EXPIRED = {"held_until": EXPIRED_MS, "claimed_at": EXPIRED_MS - 86_400_000, "sent_at": EXPIRED_MS - 86_400_000}
READY, RAN, BLOCKED, BROKEN, QUEUED, FROZEN, SELF, FRESH, TWICE = range(710001, 710010)
UP_OK, UP_RUNNING, UP_FAILED, UP_REMOTE = 720001, 720002, 720003, 720004
WORKSPACES = {API_2020: (10001, 10002), API_2024: (30001, 30002)}   # the main one, and one a parent is in
READ_ONLY = {"ListInstances", "GetNodeParents", "ListTaskInstances", "ListUpstreamTasks"}


def nodes(other: int) -> list:
    """The same nodes in each API's workspace (`other`: where UP_REMOTE is)."""
    daily = {"deployed": "2026-01-01", "at": "00:30"}
    done = [{"bizdate": BIZ, "status": "SUCCESS"}]
    return [
        {"id": UP_OK, "name": "orders_load", **daily, "instances": done},
        {"id": UP_RUNNING, "name": "clicks_load", **daily, "instances": [{"bizdate": BIZ, "status": "RUNNING"}]},
        {"id": UP_FAILED, "name": "crm_load", **daily, "instances": [{"bizdate": BIZ, "status": "FAILURE"}]},
        {"id": READY, "name": "ready", **daily, "parents": [UP_OK, {"id": UP_REMOTE, "workspace": other}]},
        {"id": RAN, "name": "ran", **daily, "instances": done},
        {"id": BLOCKED, "name": "blocked", **daily, "parents": [UP_OK, UP_RUNNING]},
        {"id": BROKEN, "name": "broken", **daily, "parents": [UP_FAILED]},
        {"id": QUEUED, "name": "queued", **daily, "instances": [{"bizdate": BIZ, "status": "WAIT_RESOURCE"}]},
        {"id": FROZEN, "name": "frozen", **daily, "frozen": True},
        {"id": SELF, "name": "self", "deployed": "2026-03-10", "at": "00:30",
         "parents": [{"id": SELF, "cross_cycle": True}]},
        {"id": FRESH, "name": "fresh", "deployed": "2026-03-11", "at": "00:30"},
        {"id": TWICE, "name": "twice", "deployed": "2026-01-01", "times": ["00:00", "12:00"]},
    ]


def remote() -> list:
    return [{"id": UP_REMOTE, "name": "finance_load", "deployed": "2026-01-01", "at": "00:05",
             "instances": [{"bizdate": BIZ, "status": "SUCCESS"}]}]


SEED = {"now": NOW, "keys": [{"access_key_id": ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                              "access_key_secret": ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                              "security_token": ROLE_KEY["ALIBABA_CLOUD_SECURITY_TOKEN"]}],
        "workspaces": [{"id": main_, "api": api, "nodes": nodes(other)} for api, (main_, other) in WORKSPACES.items()]
        + [{"id": other, "api": api, "nodes": remote()}
           for api, (_, other) in WORKSPACES.items()]}


@pytest.fixture(scope="module")
def servers():
    with Emulator(SEED) as emu, OssStandIn(oss_seed()) as oss:
        yield emu, oss


@pytest.fixture
def world(servers):
    emu, oss = servers
    emu.reset()
    oss.reset()
    return emu, oss


def rules_file(tmp_path, api: str, checked: int = READY) -> str:
    """One rule per node, on `api`'s workspace; `ledgered` keeps a ledger, `wrong` names a node no one has;
    `landed`, `checked` (releasing `checked`) and `undated` `require` files."""
    workspace = WORKSPACES[api][0]
    named = {"ready": READY, "ran": RAN, "blocked": BLOCKED, "broken": BROKEN, "queued": QUEUED, "frozen": FROZEN,
             "self": SELF, "fresh": FRESH, "twice": TWICE, "wrong": 799999}
    rules = [f'  - {{name: {name}, on: timer, timer: t-{name}, trigger: [{{workspace: {workspace}, node: {node}}}]}}'
             for name, node in named.items()]
    rules.append(f'  - {{name: ledgered, on: timer, timer: t-ledgered, ledger: "oss://etl-ledger/dwtrigger/", '
                 f'trigger: [{{workspace: {workspace}, node: {BLOCKED}, at: "00:30"}}, '
                 f'{{workspace: {workspace}, node: {READY}, at: "00:30"}}, {{workspace: {workspace}, node: {RAN}}}]}}')
    day, stamp = "{bizdate:%Y-%m-%d}", "{bizdate:%Y%m%d}"
    rules += [  # `require`: an OSS rule's entries filled from each key's captures, a timer rule's from the date
        f'  - {{name: landed, on: oss, bucket: etl-landing, key: "exports/{{table}}/dt={day}/_SUCCESS", require: '
        f'["exports/{{table}}/dt={day}/_COUNTS", "oss://etl-reference/cal/{stamp}.ok"], '
        f'trigger: [{{workspace: {workspace}, node: {READY}}}]}}',
        f'  - {{name: checked, on: timer, timer: t-checked, bucket: etl-landing, require: ["orders/{stamp}.ok"], '
        f'trigger: [{{workspace: {workspace}, node: {checked}}}]}}',
        '  - {name: undated, on: oss, bucket: etl-landing, key: "inbox/{name}.csv", require: ["inbox/{name}.ok"], '
        f'trigger: [{{workspace: {workspace}, node: {READY}}}]}}']
    path = tmp_path / "rules.yaml"
    path.write_text(f'version: 1\ndefaults: {{timezone: Asia/Shanghai, region: cn-shanghai, api: "{api}"}}\n'
                    "rules:\n" + "\n".join(rules) + "\n")
    return str(path)


def doctor(servers, rules: str, *args: str, env=None):
    emu, oss = servers
    environ = {**ROLE_KEY, "DWTRIGGER_OSS_ENDPOINT": oss.endpoint, "DWTRIGGER_RULES": rules, **(env or {})}
    return CliRunner().invoke(main, ["doctor", "--endpoint", emu.endpoint, "--protocol", "http", "--now", NOW,
                                     *args], env=environ)


def lines(result) -> list:
    """The check lines of a one-node answer (its verdict: `said`)."""
    return [line for line in result.stdout.splitlines()[1:] if not line.startswith("  => ")]


def said(result) -> list:
    """The verdict lines, one a node."""
    return [line for line in result.stdout.splitlines() if line.startswith("  => ")]


def instance_id(emu, api: str, node: int, bizdate: str = BIZ, cycle: str = "00:30") -> int:
    workspace = WORKSPACES[api][0]
    [found] = [i["InstanceId"] for i in emu.instances(workspace, node) if i["DagType"] == "DAILY"
               and i["CycTime"] == _cycle_ms(bizdate, cycle)]
    return found


def _cycle_ms(bizdate: str, hhmm: str) -> int:
    from datetime import date, datetime, time, timedelta
    from zoneinfo import ZoneInfo
    day = date.fromisoformat(bizdate) + timedelta(days=1)
    return int(datetime.combine(day, time.fromisoformat(hhmm), ZoneInfo("Asia/Shanghai")).timestamp()) * 1000


def status(api: str, word: str) -> str:
    """A 2020-05-18 status as `api` spells it."""
    return word if api == API_2020 else "".join(part.title() for part in word.split("_"))


def assert_read_only(emu, oss) -> None:
    assert {c["action"] for c in emu.calls} <= READ_ONLY
    assert {c["operation"] for c in oss.calls} <= {"ListObjectsV2", "GetObject", "HeadObject", "GetObjectMeta"}


@pytest.fixture(params=[API_2020, API_2024])
def api(request):
    return request.param


def test_every_condition_met_passes_with_exit_0(world, tmp_path, api):
    emu, oss = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ready", "--bizdate", BIZ)
    assert result.exit_code == 0, result.output
    main_, other = WORKSPACES[api]
    assert result.stdout.splitlines()[0] == \
        f"ready: node {READY} in workspace {main_} (PROD, API {api}, Asia/Shanghai), business date {BIZ}"
    assert lines(result) == [
        f"  ✔ instance exists: {instance_id(emu, api, READY)} (cycle 2026-03-12 00:30 +08:00)",
        f"  ✔ waiting for its trigger: {status(api, 'WAIT_TRIGGER')}: a trigger releases it now",
        f"  ✔ parents succeeded: 2 of 2 succeeded ({UP_OK}, {UP_REMOTE})",
        "  ✔ scheduled time passed: 2026-03-12 00:30 +08:00",
        f"  ✔ not waiting on resources: {status(api, 'WAIT_TRIGGER')}",
        "  ✔ node not frozen: not frozen"]
    parents = "GetNodeParents" if api == API_2020 else "ListUpstreamTasks"
    lookups = [c for c in emu.calls if c["action"] != parents]
    assert [c["params"]["ProjectId"] for c in lookups] == [str(main_), str(main_), str(other)]   # a parent's own
    assert_read_only(emu, oss)


def test_an_instance_that_already_ran_fired_exit_0(world, tmp_path, api):
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ran", "--bizdate", BIZ)
    assert result.exit_code == 0
    assert lines(result)[1] == (f"  - waiting for its trigger: {status(api, 'SUCCESS')}: it already ran -> nothing "
                                "to send; to run it again, rerun it in Operation Center, then send a new trigger")
    assert said(result) == [f"  => fired: {status(api, 'SUCCESS')}: it already ran"]


def test_a_running_parent(world, tmp_path, api):
    emu, oss = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "blocked", "--bizdate", BIZ)
    assert result.exit_code == 1
    assert lines(result)[1:3] == [
        f"  ✘ waiting for its trigger: {status(api, 'NOT_RUN')}: it waits for its parents (or its time) first -> a "
        "trigger sent now is held by DataWorks until they allow (24 hours at most)",
        f"  ✘ parents succeeded: node {UP_RUNNING} (clicks_load) instance {instance_id(emu, api, UP_RUNNING)} is "
        f"{status(api, 'RUNNING')} -> wait for it (a trigger sent meanwhile is held for 24 hours)"]
    assert_read_only(emu, oss)


def test_a_failed_parent(world, tmp_path, api):
    emu, _ = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "broken", "--bizdate", BIZ)
    assert result.exit_code == 1
    assert said(result) == ["  => blocked: failed: waiting for its trigger, parents succeeded (what to do: above)"]
    assert lines(result)[2] == (
        f"  ✘ parents succeeded: node {UP_FAILED} (crm_load) instance {instance_id(emu, api, UP_FAILED)} is "
        f"{status(api, 'FAILURE')} -> fix and rerun the failed parent in Operation Center")


def test_a_cross_cycle_parent_is_judged_on_the_business_date_before(world, tmp_path, api):
    emu, _ = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "self", "--bizdate", BIZ)
    assert result.exit_code == 1
    yesterday = instance_id(emu, api, SELF, "2026-03-10")
    assert lines(result)[2] == (
        f"  ✘ parents succeeded: node {SELF} (self), previous cycle 2026-03-10 instance {yesterday} is "
        f"{status(api, 'WAIT_TRIGGER')} -> that parent is an HTTP trigger node too: it needs its own trigger")


def test_waiting_on_resources(world, tmp_path, api):
    result = doctor(world, rules_file(tmp_path, api), "--rule", "queued", "--bizdate", BIZ)
    assert result.exit_code == 0                                     # released: it fired, and runs when it can
    queued = status(api, "WAIT_RESOURCE")
    assert lines(result)[1] == f"  - waiting for its trigger: {queued}: released, it waits for resources -> " \
                               "nothing to send"
    assert said(result) == [f"  => fired: {queued}: released, it waits for resources"]
    assert lines(result)[4] == (f"  ✘ not waiting on resources: {queued}: released, queued for its resource group -> "
                                "the group is full: wait, or give it capacity (or another group) in Operation Center")


def test_a_frozen_node(world, tmp_path, api):
    emu, _ = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "frozen", "--bizdate", BIZ)
    assert result.exit_code == 1
    assert lines(result)[1] == (f"  ✘ waiting for its trigger: {status(api, 'NOT_RUN')}: the node is frozen, so it "
                                "does not run -> unfreeze it first (below)")
    assert lines(result)[5] == (f"  ✘ node not frozen: the node is frozen (paused): instance "
                                f"{instance_id(emu, api, FROZEN)} -> unfreeze (resume) it in Operation Center, then "
                                "send the trigger again")


def test_before_its_scheduled_time_and_an_instance_named_by_cycle(world, tmp_path, api):
    emu, _ = world
    rules = rules_file(tmp_path, api)
    several = doctor(world, rules, "--rule", "twice", "--bizdate", BIZ)
    assert (several.exit_code, lines(several)[0]) == (1, (
        f"  ✘ instance exists: 2 instances of business date {BIZ}, 2 waiting: 00:00 {status(api, 'WAIT_TRIGGER')}, "
        f"12:00 {status(api, 'WAIT_TIME')} -> name one with --cycle 'YYYY-MM-DD HH:MM'"))
    noon = doctor(world, rules, "--rule", "twice", "--bizdate", BIZ, "--cycle", "2026-03-12 12:00")
    assert noon.exit_code == 0                                       # its time has not come: nothing else needed
    assert said(noon) == ["  => will fire: nothing blocks it; it waits for its time, 2026-03-12 12:00 +08:00"]
    assert lines(noon)[0] == f"  ✔ instance exists: {instance_id(emu, api, TWICE, cycle='12:00')} " \
                             "(cycle 2026-03-12 12:00 +08:00)"
    assert lines(noon)[1] == (f"  ✘ waiting for its trigger: {status(api, 'WAIT_TIME')}: it waits for its time first "
                              "-> a trigger sent now is held by DataWorks until then (24 hours at most)")
    assert lines(noon)[3] == ("  ✘ scheduled time passed: 2026-03-12 12:00 +08:00, 3 h 0 min from now -> DataWorks "
                              "runs it no earlier; a trigger sent before is held (24 hours)")
    elsewhen = doctor(world, rules, "--rule", "twice", "--bizdate", BIZ, "--cycle", "2026-03-12 06:00")
    assert lines(elsewhen)[0] == (
        f"  ✘ instance exists: none of business date {BIZ} is scheduled at 2026-03-12 06:00 +08:00; scheduled: "
        f"00:00 {status(api, 'WAIT_TRIGGER')}, 12:00 {status(api, 'WAIT_TIME')} -> name one of those with --cycle "
        "(and check the rule's `at`)")


def test_no_instance_not_generated_yet(world, tmp_path, api):
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ready", "--bizdate", "2026-03-13")
    assert result.exit_code == 1
    assert lines(result) == [
        "  ✘ instance exists: not generated yet: business date 2026-03-13 runs on 2026-03-14 and DataWorks generates "
        "a day's instances the day before it (T+1) -> ask again from the evening of 2026-03-13; nothing can trigger "
        "it before then"] + [f"  - {name}: not checked: no instance" for name in (
            "waiting for its trigger", "parents succeeded", "scheduled time passed", "not waiting on resources",
            "node not frozen")]


def test_no_instance_wrong_node(world, tmp_path, api):
    emu, oss = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "wrong", "--bizdate", BIZ)
    assert result.exit_code == 1
    other = API_2024 if api == API_2020 else API_2020
    assert lines(result)[0] == (
        f"  ✘ instance exists: none for business date {BIZ} nor for 2026-03-10: it looks like a wrong node or "
        f"workspace id -> check node 799999 and workspace {WORKSPACES[api][0]} in rule 'wrong', its env (PROD) and "
        f"its api ({api}; a workspace on the other Data Studio generation needs \"{other}\"); a node deployed today "
        "or yesterday has no instance yet")
    assert [c["params"].get("Bizdate") for c in emu.calls] == (
        [f"{BIZ} 00:00:00", "2026-03-10 00:00:00"] if api == API_2020 else ["1773158400000", "1773072000000"])
    assert_read_only(emu, oss)


def test_no_instance_before_the_node_was_deployed(world, tmp_path, api):
    emu, _ = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "fresh", "--bizdate", "2026-03-09")
    assert result.exit_code == 1
    assert lines(result)[0] == (
        f"  ✘ instance exists: none for business date 2026-03-09, though the node has one for 2026-03-11 "
        f"({instance_id(emu, api, FRESH)}): it looks like a date before the node's first instance or outside its "
        "schedule -> instances start the day after a node is deployed; check the node's schedule in Operation Center")


def claim(oss, api: str, node: int, **entry) -> None:
    key = f"dwtrigger/claims/{api}/{WORKSPACES[api][0]}/{node}/{_cycle_ms(BIZ, '00:30')}/0001.json"
    oss.put("etl-ledger", key, json.dumps({"state": "sent", "rule": "ledgered", "event_id": "e-1",
                                           "claimed_at": 1773270000000, "sent_at": 1773270000000,
                                           "status": "NOT_RUN", "request_id": "REQ-1", **entry}).encode())


def test_ledger_a_send_held_and_in_force(world, tmp_path, api):
    emu, oss = world
    claim(oss, api, BLOCKED, held_until=HELD_MS)
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ledgered", "--bizdate", BIZ, "--node", str(BLOCKED))
    assert result.exit_code == 1                                          # its parent still runs
    assert lines(result)[6:] == [
        "  ✔ trigger sent (ledger): claim 1 sent 2026-03-12 07:00 +08:00 while NOT_RUN, request REQ-1",
        "  ✔ hold not expired (ledger): DataWorks holds it until 2026-03-13 00:00 +08:00: it fires once its parents "
        "and time allow"]
    assert_read_only(emu, oss)
    assert oss.objects("etl-ledger") == [f"dwtrigger/claims/{api}/{WORKSPACES[api][0]}/{BLOCKED}/"
                                         f"{_cycle_ms(BIZ, '00:30')}/0001.json"]


def test_ledger_a_hold_that_expired(world, tmp_path, api):
    _, oss = world
    claim(oss, api, BLOCKED, **EXPIRED)
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ledgered", "--bizdate", BIZ, "--node", str(BLOCKED))
    assert result.exit_code == 1
    assert lines(result)[7] == (
        "  ✘ hold not expired (ledger): expired 2026-03-12 00:00 +08:00: DataWorks dropped the trigger -> send it "
        f"again: the sweep does for a rule with `expect:`, or dwtrigger trigger --rule ledgered --bizdate {BIZ}")


@pytest.mark.parametrize("node, entry, sent, hold", [
    (BLOCKED, {"state": "failed", "sent_at": None},
     "✘ trigger sent (ledger): claim 1 is failed since 2026-03-12 07:00 +08:00 ({where}) -> its send did not happen: "
     "the next delivery (or the sweep) looks it up and sends if it still waits, or `dwtrigger trigger`",
     "- hold not expired (ledger): not checked: no send on record"),
    (BLOCKED, {"state": "sending", "claimed_at": 1773277170000, "until": 1773277230000, "sent_at": None},  # 08:59:30
     "✔ trigger sent (ledger): claim 1 is sending since 2026-03-12 08:59 +08:00 ({where}): a delivery is sending it "
     "(its deadline passes 2026-03-12 09:00 +08:00)", "- hold not expired (ledger): not checked: no send on record"),
    (BLOCKED, {"state": "sending", "until": 1773270060000, "sent_at": None},                # 07:01: its sender died
     "✘ trigger sent (ledger): claim 1 is sending since 2026-03-12 07:00 +08:00 ({where}): its sender stopped before "
     "it could say whether it sent -> whether DataWorks took it is not known: the next delivery (or the sweep) looks "
     "it up and sends if it still waits, or `dwtrigger trigger`",
     "- hold not expired (ledger): not checked: no send on record"),
    (BLOCKED, {"state": "unknown"},                                                          # sent 07:00, no answer
     "✘ trigger sent (ledger): claim 1 is unknown since 2026-03-12 07:00 +08:00 ({where}): a trigger went out "
     "2026-03-12 07:00 +08:00 and got no answer -> whether DataWorks took it is not known: the next delivery (or the "
     "sweep) looks it up and sends if it still waits, or `dwtrigger trigger`",
     "- hold not expired (ledger): not checked: no send on record"),
    (RAN, EXPIRED,
     "✔ trigger sent (ledger): claim 1 sent 2026-03-11 00:00 +08:00 while NOT_RUN, request REQ-1",
     "✔ hold not expired (ledger): the hold ended 2026-03-12 00:00 +08:00; the instance ran"),
    (READY, {"held_until": HELD_MS},                                                # a rerun: it waits again
     "✔ trigger sent (ledger): claim 1 sent 2026-03-12 07:00 +08:00 while NOT_RUN, request REQ-1",
     "✘ hold not expired (ledger): on record until 2026-03-13 00:00 +08:00, yet the instance waits for its trigger "
     "alone: no trigger is held (it was rerun, or DataWorks dropped it) -> send it: dwtrigger trigger --rule "
     "ledgered --bizdate 2026-03-11 (a held claim does not stop it)"),
    (READY, {"status": "WAIT_TRIGGER"},
     "✔ trigger sent (ledger): claim 1 sent 2026-03-12 07:00 +08:00 while WAIT_TRIGGER, request REQ-1",
     "✔ hold not expired (ledger): not held: it was waiting for its trigger when sent"),
])
def test_ledger_states(world, tmp_path, api, node, entry, sent, hold):
    _, oss = world
    claim(oss, api, node, **entry)
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ledgered", "--bizdate", BIZ, "--node", str(node))
    where = f"oss://etl-ledger/dwtrigger/claims/{api}/{WORKSPACES[api][0]}/{node}/{_cycle_ms(BIZ, '00:30')}/0001.json"
    assert lines(result)[6:] == [f"  {sent.format(where=where)}", f"  {hold}"]


def test_ledger_without_a_send_and_the_json_shape(world, tmp_path, api):
    emu, oss = world
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ledgered", "--bizdate", BIZ, "--node", str(READY),
                    "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("rule", "biz_date", "now", "ok")} == \
        {"rule": "ledgered", "biz_date": BIZ, "now": NOW, "ok": False}
    [node] = report["nodes"]
    assert {k: v for k, v in node.items() if k != "checks"} == {
        "node": READY, "workspace": WORKSPACES[api][0], "env": "PROD", "api": api, "timezone": "Asia/Shanghai",
        "instance": {"id": instance_id(emu, api, READY), "status": status(api, "WAIT_TRIGGER"),
                     "cycle_ms": _cycle_ms(BIZ, "00:30"), "cycle_time": "2026-03-12T00:30:00+08:00"},
        "ok": False, "verdict": "blocked", "why": "failed: trigger sent (ledger) (what to do: above)"}
    assert [(c["key"], c["ok"], c["error"], c["blocks"]) for c in node["checks"]] == [
        ("instance", True, False, True), ("waiting", True, False, True), ("parents", True, False, True),
        ("time", True, False, True), ("resources", True, False, True), ("frozen", True, False, True),
        ("ledger_sent", False, False, True), ("ledger_hold", None, False, True)]
    sent = node["checks"][6]
    assert sent["detail"] == f"none on record (oss://etl-ledger/dwtrigger/claims/{api}/{WORKSPACES[api][0]}/" \
                             f"{READY}/{_cycle_ms(BIZ, '00:30')}/)"
    assert sent["advice"].endswith(f"Or send it: dwtrigger trigger --rule ledgered --bizdate {BIZ}")
    assert_read_only(emu, oss)


def test_a_refused_call_names_the_ram_action_to_grant_and_exits_2(world, tmp_path, api):
    emu, _ = world
    emu.set_faults(forbidden_rate=1.0)
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ready", "--bizdate", BIZ)
    assert result.exit_code == 2
    lookup = "ListInstances" if api == API_2020 else "ListTaskInstances"
    assert lines(result) == ["  ? instance exists: could not check: the look-up failed: ResourceNotAuthorized.Api: "
                             f"You are not authorized to call this API. -> grant dataworks:{lookup} to the identity "
                             "of these keys (deploy/ram/operator.json)"]
    assert said(result) == ["  => not known: could not check: instance exists"]
    assert ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"] not in result.output


def test_a_refused_parents_call_names_its_action_and_outweighs_a_failed_check(world, tmp_path, api):
    emu, _ = world
    parents = "GetNodeParents" if api == API_2020 else "ListUpstreamTasks"
    emu.set_faults(forbidden_rate=1.0, actions=[parents])
    result = doctor(world, rules_file(tmp_path, api), "--rule", "ledgered", "--bizdate", BIZ, "--node", str(READY))
    assert result.exit_code == 2                                     # its ledger_sent fails too: not known wins
    assert lines(result)[2] == ("  ? parents succeeded: could not check: the node's parents failed: "
                                "ResourceNotAuthorized.Api: You are not authorized to call this API. -> grant "
                                f"dataworks:{parents} to the identity of these keys (deploy/ram/operator.json)")
    assert said(result) == ["  => not known: could not check: parents succeeded"]


def test_a_refused_ledger_read_names_the_oss_actions_and_the_bucket(world, tmp_path):
    _, oss = world
    oss.set_faults(forbidden_rate=1.0)
    result = doctor(world, rules_file(tmp_path, API_2020), "--rule", "ledgered", "--bizdate", BIZ, "--node",
                    str(READY))
    assert result.exit_code == 2
    assert lines(result)[6] == (
        "  ? trigger sent (ledger): could not read: the ledger failed: AccessDenied: You have no right to access "
        "this object because of bucket acl. -> grant oss:GetObject and oss:ListObjects on bucket etl-ledger to the "
        "identity of these keys (deploy/ram/oss-require.json with BUCKET=etl-ledger)")


@pytest.mark.parametrize("args, message", [
    (["--rule", "nope"], "Error: no rule named 'nope' in {rules}"),
    (["--rule", "ready", "--node", "1"], f"Error: rule 'ready' triggers no node 1 (its nodes: {READY})"),
    (["--rule", "ready", "--cycle", "2026-03-11 00:30"],
     f"Error: --cycle 2026-03-11 00:30 is not on the run day of business date {BIZ} (2026-03-12)"),
])
def test_wrong_requests_exit_2_and_ask_nothing(world, tmp_path, args, message):
    emu, _ = world
    rules = rules_file(tmp_path, API_2020)
    result = doctor(world, rules, *args, "--bizdate", BIZ)
    assert (result.exit_code, result.stderr.strip()) == (2, message.format(rules=rules))
    assert emu.calls == []


def test_it_reaches_an_emulator_as_every_command_does(world, tmp_path):
    """--emulator (the URL `dwtrigger emulator` prints) stands for --endpoint and --protocol; keys from the env."""
    emu, oss = world
    result = CliRunner().invoke(main, ["doctor", "--emulator", f"http://{emu.endpoint}", "--now", NOW, "--rule",
                                       "ready", "--bizdate", BIZ],
                                env={**ROLE_KEY, "DWTRIGGER_RULES": rules_file(tmp_path, API_2020)})
    assert result.exit_code == 0, result.output
    assert {c["action"] for c in emu.calls} == {"ListInstances", "GetNodeParents"}


def test_without_keys_it_says_what_to_set_and_asks_nothing(world, tmp_path):
    emu, _ = world
    result = CliRunner().invoke(main, ["doctor", "--endpoint", emu.endpoint, "--protocol", "http", "--now", NOW,
                                       "--rule", "ready", "--bizdate", BIZ],
                                env={"ALIBABA_CLOUD_ACCESS_KEY_ID": None, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": None,
                                     "ALIBABA_CLOUD_SECURITY_TOKEN": None, "DWTRIGGER_EMULATOR": None,
                                     "DWTRIGGER_RULES": rules_file(tmp_path, API_2020)})
    assert result.exit_code == 2
    assert "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET" in result.stderr
    assert "--emulator URL" in result.stderr
    assert emu.calls == []


def test_require_of_an_oss_rule_read_as_the_sweep_reads_it(world, tmp_path, api):
    """Nothing landed, then one table's _SUCCESS (its own _COUNTS and the calendar missing), then all of it."""
    emu, oss = world
    rules = rules_file(tmp_path, api)
    day = f"business date {BIZ}, cycle 2026-03-12 00:30 +08:00"
    advice = ("land them: the event of the last to land releases it (once all are there, the sweep does for a rule "
              f"with `expect:`, or dwtrigger trigger --rule landed --bizdate {BIZ})")
    nothing = doctor(world, rules, "--rule", "landed", "--bizdate", BIZ)
    assert nothing.exit_code == 1
    assert lines(nothing)[6:] == [f"  ✘ required files there: {day}: missing "
                                  f"oss://etl-landing/exports/*/dt={BIZ}/_SUCCESS -> {advice}"]
    assert said(nothing) == ["  => blocked: failed: required files there (what to do: above)"]
    oss.put("etl-landing", f"exports/orders/dt={BIZ}/_SUCCESS")
    oss.put("etl-landing", f"exports/clicks/dt={BIZ}/_COUNTS")          # another table's: no evidence for orders
    half = doctor(world, rules, "--rule", "landed", "--bizdate", BIZ)
    assert (half.exit_code, lines(half)[6:]) == (1, [
        f"  ✘ required files there: {day}: oss://etl-landing/exports/orders/dt={BIZ}/_SUCCESS is there, missing "
        f"oss://etl-landing/exports/orders/dt={BIZ}/_COUNTS, oss://etl-reference/cal/20260311.ok -> {advice}"])
    oss.put("etl-landing", f"exports/orders/dt={BIZ}/_COUNTS")
    oss.put("etl-reference", "cal/20260311.ok")
    done = doctor(world, rules, "--rule", "landed", "--bizdate", BIZ)
    assert (done.exit_code, lines(done)[6:]) == (0, [
        f"  ✔ required files there: {day}: oss://etl-landing/exports/orders/dt={BIZ}/_SUCCESS, "
        f"oss://etl-landing/exports/orders/dt={BIZ}/_COUNTS, oss://etl-reference/cal/20260311.ok"])
    assert said(done) == ["  => will fire: nothing blocks it; it waits for its trigger alone, which releases it now"]
    assert_read_only(emu, oss)


def test_require_of_a_timer_rule_and_a_missing_file_that_no_longer_matters(world, tmp_path, api):
    rules = rules_file(tmp_path, api, checked=READY)
    missing = doctor(world, rules, "--rule", "checked", "--bizdate", BIZ)
    assert (missing.exit_code, lines(missing)[6:]) == (1, [
        f"  ✘ required files there: business date {BIZ}, cycle 2026-03-12 00:30 +08:00: missing "
        "oss://etl-landing/orders/20260311.ok -> land them: the timer releases it only if they are there when it "
        f"fires (once all are there, the sweep does for a rule with `expect:`, or dwtrigger trigger --rule checked "
        f"--bizdate {BIZ})"])
    ran = doctor(world, rules_file(tmp_path, api, checked=RAN), "--rule", "checked", "--bizdate", BIZ)
    assert ran.exit_code == 0                                          # released by hand: it fired all the same
    assert lines(ran)[6].startswith("  ✘ required files there: ")
    assert said(ran) == [f"  => fired: {status(api, 'SUCCESS')}: it already ran"]


def test_require_of_an_oss_rule_whose_key_names_no_date_is_not_checked(world, tmp_path):
    _, oss = world
    result = doctor(world, rules_file(tmp_path, API_2020), "--rule", "undated", "--bizdate", BIZ)
    assert (result.exit_code, lines(result)[6:]) == (0, [
        "  - required files there: not checked: the rule's key names no {bizdate} or {cycle}, so no object is tied "
        "to a business date; the relay checks `require` for each event"])
    assert oss.calls == []


def test_a_refused_require_read_names_the_oss_actions_and_the_buckets(world, tmp_path):
    _, oss = world
    oss.set_faults(forbidden_rate=1.0)
    result = doctor(world, rules_file(tmp_path, API_2020), "--rule", "landed", "--bizdate", BIZ)
    assert result.exit_code == 2
    assert lines(result)[6] == (
        "  ? required files there: could not check: the required files failed: AccessDenied: You have no right to "
        "access this object because of bucket acl. -> grant oss:GetObject and oss:ListObjects on bucket "
        "etl-landing, etl-reference to the identity of these keys (deploy/ram/oss-require.json with "
        "BUCKET=etl-landing, BUCKET=etl-reference, one policy each)")
    assert said(result) == ["  => not known: could not check: required files there"]


@pytest.fixture
def unused_port():
    """A port bound and not listening: a connection to it is refused, and no one else can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_an_unreachable_endpoint_exits_2(world, tmp_path, unused_port):
    result = CliRunner().invoke(main, ["doctor", "--endpoint", f"127.0.0.1:{unused_port}", "--protocol", "http",
                                       "--now", NOW, "--rule", "ready", "--bizdate", BIZ, "--timeout", "3"],
                                env={**ROLE_KEY, "DWTRIGGER_RULES": rules_file(tmp_path, API_2020)})
    assert result.exit_code == 2
    assert lines(result) == ["  ? instance exists: could not check: the look-up failed: ConnectionError: "
                             f"127.0.0.1:{unused_port}: Connection refused"]


def test_help_names_the_rules_variable():
    result = CliRunner().invoke(main, ["doctor", "--help"])
    assert result.exit_code == 0
    assert "--rules TEXT The rules file. [env var: DWTRIGGER_RULES; default: rules.yaml]" in " ".join(
        result.output.split())
