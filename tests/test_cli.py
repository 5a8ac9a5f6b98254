"""The operator's commands, run as a user runs them (click's runner, and a real subprocess for the demo)."""
import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import EVENTS, ROLE_KEY, ROOT, sample
from dwtrigger.ops.cli import main

RULES = str(ROOT / "rules.yaml")


def run(*args, env=None, input=None):
    result = CliRunner().invoke(main, list(args), env=env, input=input)
    return result


@pytest.fixture
def emulator_env(emulator):
    return {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
            "POWERTOOLS_SERVICE_NAME": "dwtrigger-cli-test", **ROLE_KEY}


def test_validate_accepts_the_example_rules():
    result = run("validate", RULES)
    assert result.exit_code == 0 and "9 rules OK" in result.output


def test_validate_lists_every_problem_with_file_line_rule_and_field(tmp_path):
    broken = tmp_path / "rules.yaml"
    broken.write_text((ROOT / "rules.yaml").read_text()
                      .replace("timezone: Europe/Berlin", "timezone: Europe/Atlantis")
                      .replace("node: 700001235000}", "node: 700001235000, nod: 1}"))
    result = run("validate", str(broken))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{broken}:64: rule 'finance-close' field 'timezone': unknown time zone 'Europe/Atlantis' "
        "(use an IANA name, e.g. Asia/Shanghai)",
        f"{broken}:96: rule 'nightly' field 'trigger[0].nod': unknown key",
    ]
    assert "Traceback" not in result.output


def test_explain_shows_match_captures_times_and_calls():
    result = run("explain", str(EVENTS / "oss/native-put-orders.json"), "--rules", RULES)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "MATCH orders-daily" in out and "capture bizdate = 2026-03-10" in out
    assert "BizDate 2026-03-10 = 1773072000000" in out
    assert "CycleTime 2026-03-11T00:30:00+08:00 = 1773160200000" in out
    assert "action=ListInstances ProjectId=10001 ProjectEnv=PROD NodeId=700001234567 Bizdate=2026-03-10 00:00:00" in out


def test_explain_names_the_nearest_misses_and_speaks_json():
    result = run("explain", str(EVENTS / "oss/native-unmatched.json"), "--rules", RULES)
    assert "ignored: no rule matched" in result.output
    assert "miss  orders-daily: key 'tmp/scratch/notes.txt' does not match" in result.output
    data = json.loads(run("explain", str(EVENTS / "mns/topic-json-finance.json"), "--rules", RULES,
                          "--json").output)
    [finance] = [r for r in data[0]["rules"] if r["matched"]]
    assert finance["rule"] == "finance-close" and finance["targets"][0]["biz_date_ms"] == 1773097200000


def test_replay_takes_failure_destination_records_and_summarises(tmp_path, emulator_env, emulator):
    record = {"timestamp": 1773190000000, "requestContext": {"requestId": "r-1", "functionArn": "acs:fc:x",
              "condition": "UnhandledInvocationError", "approximateInvokeCount": 4},
              "requestPayload": sample("oss/native-put-orders.json").decode(),
              "responseContext": {"statusCode": 200, "functionError": "UnhandledInvocationError"},
              "responsePayload": "{}"}
    dlq = tmp_path / "dlq.ndjson"
    dlq.write_text(json.dumps(record) + "\n" + json.dumps({**record, "requestPayload":
                                                             sample("timer/nightly.json").decode()}) + "\n")
    result = run("replay", str(dlq), "--rules", RULES, env=emulator_env)
    assert result.exit_code == 0, result.output
    assert "triggered          2" in result.stderr
    assert sorted(c["params"]["NodeId"] for c in emulator.calls if c["action"] == "RunTriggerNode") == \
        ["700001234567", "700001235000"]


def test_replay_dry_run_sends_nothing_and_reads_stdin(emulator_env, emulator):
    result = run("replay", "-", "--rules", RULES, "--dry-run", env=emulator_env,
                 input=sample("oss/eventbridge-list.json"))
    assert result.exit_code == 0 and "dry_run            2" in result.stderr
    assert emulator.calls == []


def test_replay_exits_non_zero_when_anything_failed(emulator_env, emulator):
    emulator.set_faults(forbidden_rate=1.0)
    result = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES, env=emulator_env)
    assert result.exit_code == 1 and "failed             1" in result.stderr


# rules.yaml plus what a dead-letter file must not reach by accident: a topic rule without a message pattern
# (any STREAM body on etl-done), and a timer rule on a frozen node (its decisions fail).
EXTRA_RULES = """
  - {name: any-etl-done, on: mns, topic: etl-done, trigger: [{workspace: 10001, node: 700001235300}]}
  - {name: frozen, on: timer, timer: frozen, trigger: [{workspace: 10001, node: 700001300001}]}
"""
ADVICE = "if it is a raw MNS STREAM message body, pass --source mns"


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text((ROOT / "rules.yaml").read_text() + EXTRA_RULES)
    return str(path)


def dead_letter(payload: bytes, request_id: str) -> dict:
    return {"timestamp": 1773190000000, "requestContext": {"requestId": request_id, "functionArn": "acs:fc:x",
            "condition": "UnhandledInvocationError", "approximateInvokeCount": 4},
            "requestPayload": payload.decode(), "responseContext": {"statusCode": 200}}


def released(emulator, action="RunTriggerNode") -> list:
    return sorted(c["params"]["NodeId"] for c in emulator.calls if c["action"] == action)


# A STREAM body carries no date: its business date is the day before replay runs, which the emulator's world
# has no instance for. That the body reached the topic rule shows in the look-up DataWorks received.
NO_INSTANCE = "failed: DataWorks has no cycle instance for business date"


def test_replay_skips_a_truncated_dead_letter_line_and_releases_only_the_good_records(tmp_path, rules,
                                                                                     emulator_env, emulator):
    cut = json.dumps(dead_letter(sample("mns/topic-json-finance.json"), "r-2"))[:70]
    dlq = tmp_path / "dlq.ndjson"
    dlq.write_text(f"{json.dumps(dead_letter(sample('oss/native-put-orders.json'), 'r-1'))}\n{cut}\n"
                   f"{json.dumps(dead_letter(sample('timer/nightly.json'), 'r-3'))}\n")
    result = run("replay", str(dlq), "--rules", rules, env={**emulator_env, "DWTRIGGER_MNS_TOPIC": "etl-done"})
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{dlq}:2: unreadable: not valid JSON at line 2, column 69: Unterminated string",
        "outcome            count", "triggered          2", "unreadable         1"]
    assert released(emulator) == ["700001234567", "700001235000"]      # orders and nightly, nothing on etl-done
    assert "700001235300" not in released(emulator, "ListInstances")


def test_replay_sends_a_raw_stream_body_only_to_the_function_named(tmp_path, rules, emulator_env, emulator):
    body = tmp_path / "body.txt"
    body.write_bytes(b"hello topic")
    env = {**emulator_env, "DWTRIGGER_MNS_TOPIC": "etl-done"}
    refused = run("replay", str(body), "--rules", rules, env=env)
    assert refused.exit_code == 1 and emulator.calls == []
    assert refused.stderr.splitlines()[0] == \
        f"{body}: unreadable: not valid JSON at line 1, column 1: Expecting value; {ADVICE}"
    result = run("replay", str(body), "--rules", rules, "--source", "mns", env=env)
    assert result.stderr.startswith(f"{body}: {NO_INSTANCE}")
    assert released(emulator, "ListInstances") == ["700001235300"]


def test_replay_exits_non_zero_on_rejected_and_names_the_record(tmp_path, emulator_env, emulator):
    events = tmp_path / "events.json"
    events.write_text(json.dumps([json.loads(sample("timer/nightly.json")),
                                  json.loads(sample("malformed/timer-bad-time.json"))]))
    result = run("replay", str(events), "--rules", RULES, env=emulator_env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{events}[1]: rejected: field 'triggerTime' is not an ISO 8601 time: 'yesterday at 4'",
        "outcome            count", "triggered          1", "rejected           1"]
    assert released(emulator) == ["700001235000"]


def reported(result) -> list:
    """The first three lines replay reported, instance ids (the emulator's, random) as #."""
    return [re.sub(r"instance \d+", "instance #", line) for line in result.stderr.splitlines()[:3]]


def test_replay_failed_out_keeps_every_record_that_did_not_succeed(tmp_path, rules, emulator_env, emulator):
    frozen = dead_letter(sample("timer/nightly.json").replace(b'"nightly"', b'"frozen"'), "r-2")
    bad_time = json.loads(sample("malformed/timer-bad-time.json"))
    cut = b'{"timestamp": 1773190000000, "requestContext": {"requ'
    dlq, rest, again = tmp_path / "dlq.ndjson", tmp_path / "rest.ndjson", tmp_path / "again.ndjson"
    dlq.write_bytes(b"\n".join([json.dumps(dead_letter(sample("oss/native-put-orders.json"), "r-1")).encode(),
                                json.dumps(frozen).encode(), cut, json.dumps(bad_time).encode()]) + b"\n")
    result = run("replay", str(dlq), "--rules", rules, "--failed-out", str(rest), env=emulator_env)
    assert result.exit_code == 1
    assert reported(result) == [
        f"{dlq}:2: failed: the node is frozen (instance #); unfreeze it and replay the event",
        f"{dlq}:3: unreadable: not valid JSON at line 3, column 49: Unterminated string",
        f"{dlq}:4: rejected: field 'triggerTime' is not an ISO 8601 time: 'yesterday at 4'"]
    assert rest.read_bytes().splitlines() == [json.dumps(frozen, separators=(",", ":")).encode(), cut,
                                              json.dumps(bad_time, separators=(",", ":")).encode()]
    assert released(emulator) == ["700001234567"]
    replayed = run("replay", str(rest), "--rules", rules, "--failed-out", str(again), env=emulator_env)
    assert replayed.exit_code == 1
    assert reported(replayed) == [
        f"{rest}:1: failed: the node is frozen (instance #); unfreeze it and replay the event",
        f"{rest}:2: unreadable: not valid JSON at line 2, column 49: Unterminated string",
        f"{rest}:3: rejected: field 'triggerTime' is not an ISO 8601 time: 'yesterday at 4'"]
    assert again.read_bytes() == rest.read_bytes()


def test_replay_failed_out_is_emptied_when_everything_succeeded_and_a_dry_run_keeps_all(tmp_path, emulator_env,
                                                                                        emulator):
    nightly, rest = str(EVENTS / "timer/nightly.json"), tmp_path / "rest.ndjson"
    dry = run("replay", nightly, "--rules", RULES, "--dry-run", "--failed-out", str(rest), env=emulator_env)
    assert dry.exit_code == 0 and emulator.calls == []
    assert rest.read_bytes() == json.dumps(json.loads(sample("timer/nightly.json")), separators=(",", ":")).encode() \
        + b"\n"
    result = run("replay", nightly, "--rules", RULES, "--failed-out", str(rest), env=emulator_env)
    assert result.exit_code == 0 and rest.read_bytes() == b""
    assert [p.name for p in tmp_path.iterdir()] == ["rest.ndjson"]


def test_replay_failed_out_that_cannot_be_written_stops_before_anything_is_sent(tmp_path, emulator_env, emulator):
    result = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES,
                 "--failed-out", str(tmp_path / "missing" / "rest.ndjson"), env=emulator_env)
    assert result.exit_code == 2 and result.stderr.startswith("Error: [Errno 2] No such file or directory")
    assert emulator.calls == []


def test_replay_failed_out_keeps_a_raw_body_for_the_same_source(tmp_path, rules, emulator_env, emulator):
    body, rest = tmp_path / "body.txt", tmp_path / "rest.ndjson"
    body.write_bytes(b"hello topic")
    first = run("replay", str(body), "--rules", rules, "--source", "mns", "--failed-out", str(rest),
                env=emulator_env)                          # no STREAM topic configured: rejected
    assert first.exit_code == 1 and first.stderr.startswith(f"{body}: rejected: an MNS STREAM message")
    assert rest.read_bytes() == b'"hello topic"\n'
    result = run("replay", str(rest), "--rules", rules, "--source", "mns",
                 env={**emulator_env, "DWTRIGGER_MNS_TOPIC": "etl-done"})
    assert result.stderr.startswith(f"{rest}: {NO_INSTANCE}")
    assert released(emulator, "ListInstances") == ["700001235300"]


def test_replay_reads_ndjson_from_stdin(emulator_env, emulator):
    lines = sample("timer/nightly.json").replace(b"\n", b"") + b"\n{oops\n"
    result = run("replay", "-", "--rules", RULES, env=emulator_env, input=lines)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == \
        "-:2: unreadable: not valid JSON at line 2, column 2: Expecting property name enclosed in double quotes"
    assert released(emulator) == ["700001235000"]


def test_explain_reports_unreadable_records_and_exits_non_zero(tmp_path):
    dlq = tmp_path / "dlq.ndjson"
    dlq.write_bytes(sample("timer/nightly.json").replace(b"\n", b"") + b"\n{oops\n")
    result = run("explain", str(dlq), "--rules", RULES)
    assert result.exit_code == 1
    assert f"{dlq}:1  (timer function)" in result.output and "MATCH nightly" in result.output
    assert result.output.endswith(f"{dlq}:2\n  unreadable: not valid JSON at line 2, column 2: Expecting property "
                                  "name enclosed in double quotes\n")
    data = json.loads(run("explain", str(dlq), "--rules", RULES, "--json").stdout)
    assert data[1] == {"event": f"{dlq}:2", "unreadable": "not valid JSON at line 2, column 2: Expecting "
                                                          "property name enclosed in double quotes"}


def test_trigger_by_hand_uses_the_same_resolution(emulator_env, emulator):
    result = run("trigger", "--rule", "orders-daily", "--bizdate", "2026-03-10", "--rules", RULES, env=emulator_env)
    assert result.exit_code == 0, result.output
    assert "triggered: orders-daily node 700001234567 bizdate 2026-03-10 cycle 2026-03-11T00:30:00+08:00" in result.output
    [call] = [c for c in emulator.calls if c["action"] == "RunTriggerNode"]
    assert call["params"] == {"AppId": "10001", "NodeId": "700001234567", "CycleTime": "1773160200000",
                              "BizDate": "1773072000000"}


def test_a_new_data_studio_rule_validates_explains_replays_and_triggers(emulator_env, emulator):
    """rules.yaml's inventory-daily (api 2024-05-18) end to end through the CLI, the real SDK and the emulator."""
    assert run("validate", RULES).exit_code == 0
    explained = run("explain", str(EVENTS / "oss/native-put-inventory.json"), "--rules", RULES)
    assert "MATCH inventory-daily" in explained.output
    assert ("action=ListTaskInstances ProjectId=20001 ProjectEnv=Prod TaskId=910000000001 Bizdate=1773072000000 "
            "TriggerType=Scheduler WorkflowInstanceType=Normal PageNumber=1 PageSize=500") in explained.output
    assert ("action=TriggerSchedulerTaskInstance EnvType=Prod TaskId=910000000001 "
            "TriggerTime=the instance's TriggerTime") in explained.output
    replayed = run("replay", str(EVENTS / "oss/native-put-inventory.json"), "--rules", RULES, env=emulator_env)
    assert replayed.exit_code == 0 and "triggered          1" in replayed.stderr
    by_hand = run("trigger", "--rule", "inventory-daily", "--bizdate", "2026-03-10", "--rules", RULES, env=emulator_env)
    assert by_hand.exit_code == 0 and by_hand.output.startswith("already_triggered: inventory-daily node 910000000001")
    assert [(c["action"], c["query"], c["params"]) for c in emulator.calls] == [
        ("ListTaskInstances", [], {"ProjectId": "20001", "ProjectEnv": "Prod", "TaskId": "910000000001",
                                   "Bizdate": "1773072000000", "TriggerType": "Scheduler",
                                   "WorkflowInstanceType": "Normal", "PageNumber": "1", "PageSize": "500"}),
        ("TriggerSchedulerTaskInstance", ["EnvType"],
         {"EnvType": "Prod", "TaskId": "910000000001", "TriggerTime": "1773163800000"}),   # 03-11 01:30 Shanghai
        ("ListTaskInstances", [], {"ProjectId": "20001", "ProjectEnv": "Prod", "TaskId": "910000000001",
                                   "Bizdate": "1773072000000", "TriggerType": "Scheduler",
                                   "WorkflowInstanceType": "Normal", "PageNumber": "1", "PageSize": "500"})]


def test_trigger_an_hourly_instance_by_its_cycle(emulator_env, emulator):
    result = run("trigger", "--rule", "clicks-hourly", "--bizdate", "2026-03-10", "--cycle", "2026-03-11 08:00",
                 "--rules", RULES, env=emulator_env)
    assert result.exit_code == 0, result.output
    [call] = [c for c in emulator.calls if c["action"] == "RunTriggerNode"]
    assert call["params"]["CycleTime"] == "1773187200000"


def test_errors_are_one_sentence_and_debug_shows_the_traceback(emulator_env):
    result = run("trigger", "--rule", "no-such-rule", "--bizdate", "2026-03-10", "--rules", RULES, env=emulator_env)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: no rule named 'no-such-rule' in {RULES}"
    debug = run("--debug", "trigger", "--rule", "no-such-rule", "--bizdate", "2026-03-10", "--rules", RULES,
                env=emulator_env)
    assert "Traceback" in debug.stderr


def test_demo_runs_every_sample_as_expected():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DWTRIGGER_", "ALIBABA_CLOUD_"))}
    proc = subprocess.run([sys.executable, "-m", "dwtrigger.ops.cli", "demo", "--root", str(ROOT)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    samples = sum(1 for p in EVENTS.rglob("*") if p.suffix in (".json", ".txt", ".bin"))
    assert f"{samples} of {samples} samples gave the expected outcomes" in proc.stdout
    assert "released by the emulator" in proc.stdout
    lines = [json.loads(line) for line in (ROOT / "build/demo/decisions.ndjson").read_text().splitlines()]
    decisions = [line for line in lines if "outcome" in line]
    assert len(decisions) == sum(1 for line in proc.stdout.splitlines() if line.startswith(("oss/", "mns/",
                                                                                             "timer/", "malformed/",
                                                                                             "sweep/")))
    [summary] = [line for line in lines if "outcome" not in line]          # the sweep's, one per run
    assert summary["message"] == "sweep" and summary["sweep"]["released"] == 1


def test_validate_warns_about_rules_that_never_match_or_overlap(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("""\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    trigger: [{workspace: 1, node: 2}]
  - name: everything-under-exports
    on: oss
    bucket: [etl-landing, other]
    key: "exports/**"
    events: ["ObjectCreated:PutObject"]
    trigger: [{workspace: 1, node: 3}]
  - name: typo-bucket
    on: oss
    bucket: ETL_Landing
    key: "/abs/*.done"
    trigger: [{workspace: 1, node: 4}]
  - name: removals
    on: oss
    bucket: etl-landing
    key: "exports/**"
    events: ["ObjectRemoved:*"]
    trigger: [{workspace: 1, node: 5}]
  - {name: t1, on: mns, topic: done, message: {job: [a]}, trigger: [{workspace: 1, node: 6}]}
  - {name: t2, on: mns, topic: done, message: {job: [b]}, trigger: [{workspace: 1, node: 7}]}
  - {name: t3, on: mns, topic: done, trigger: [{workspace: 1, node: 8}]}
""")
    result = run("validate", str(rules))
    assert result.exit_code == 0 and "7 rules OK, 5 warnings" in result.stdout
    assert result.stderr.splitlines() == [
        f"warning: {rules}:15: rule 'typo-bucket' field 'bucket': 'ETL_Landing' is not a valid OSS bucket name "
        "(3-63 lowercase letters, digits, '-'): this rule can never match",
        f"warning: {rules}:15: rule 'typo-bucket' field 'key': OSS object keys never start with '/': "
        "this rule can never match",
        f"warning: {rules}:9: rule 'everything-under-exports': overlaps rule 'orders': key "
        "'exports/orders/dt=2026-01-01/_SUCCESS' in bucket 'etl-landing' matches both",
        f"warning: {rules}:28: rule 't3': overlaps rule 't1': same topic and one has no message/attributes pattern",
        f"warning: {rules}:28: rule 't3': overlaps rule 't2': same topic and one has no message/attributes pattern",
    ]


def test_the_emulator_runs_as_a_process_on_the_port_asked():
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "dwtrigger.ops.cli", "emulator", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert f"DataWorks emulator on http://127.0.0.1:{port}" in proc.stderr.readline()
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_admin/instances?node=700001234567") as r:
                    instances = json.load(r)
                break
            except OSError:
                assert time.monotonic() < deadline, "the emulator did not answer"
                time.sleep(0.05)
        assert instances and {i["NodeId"] for i in instances} == {700001234567}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_explain_names_the_pattern_field_that_failed():
    result = run("explain", str(EVENTS / "mns/topic-json-failed.json"), "--rules", RULES)
    assert "miss  finance-close: message body: field 'status' is \"FAILED\"; the pattern wants " \
           '[{"anything-but": ["FAILED", "CANCELLED"]}]' in result.output


def test_explain_names_the_required_objects_a_rule_would_check():
    result = run("explain", str(EVENTS / "oss/sales-2-items.json"), "--rules", RULES)
    assert result.exit_code == 0, result.output
    assert "MATCH sales-complete: matched require[1] 'exports/sales/dt={bizdate:%Y-%m-%d}/items/*.done'" in result.output
    assert [line.strip() for line in result.output.splitlines() if line.strip().startswith("requires")] == [
        "requires oss://etl-landing/exports/sales/dt=2026-03-10/orders/_SUCCESS",
        "requires oss://etl-landing/exports/sales/dt=2026-03-10/customers/_SUCCESS"]


SWEPT_AT = "2026-03-12T09:00:00+08:00"


@pytest.fixture
def sweep_env(emulator_env, oss_standin):
    oss_standin.put("etl-landing", "exports/orders/dt=2026-03-09/_SUCCESS")     # its notification never came
    return {**emulator_env, "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint, "DWTRIGGER_SWEEP_QPS": "50"}


def test_sweep_dry_run_names_what_it_found_and_would_send(sweep_env, emulator):
    result = run("sweep", "--rules", RULES, "--now", SWEPT_AT, "--dry-run", env=sweep_env)
    assert result.exit_code == 0, result.output
    lines = result.stderr.strip().splitlines()
    assert [line.split(" bizdate ")[0] for line in lines[:3]] == [
        "overdue: orders-daily node 700001234567", "overdue: orders-daily node 700001234567",
        "dry_run: orders-daily node 700001234567"]
    assert lines[0].startswith("overdue: orders-daily node 700001234567 bizdate 2026-03-11 no evidence by "
                               "2026-03-12T06:00:00+08:00: missing oss://etl-landing/exports/orders/dt=2026-03-11/")
    assert "the sweep found oss://etl-landing/exports/orders/dt=2026-03-09/_SUCCESS; would call " in lines[2]
    assert lines[3] == ("candidates=3 done=0 with_evidence=1 oss_checks=3 lookups=0 released=0 not_generated=0 "
                        "overdue=2 failed=0 stopped_at_deadline=False")
    assert emulator.calls == []


def test_sweep_releases_what_has_evidence_and_waits(sweep_env, emulator):
    result = run("sweep", "--rules", RULES, "--now", SWEPT_AT, env=sweep_env)
    assert result.exit_code == 0, result.output
    assert "triggered: orders-daily node 700001234567 bizdate 2026-03-09 the sweep found" in result.stderr
    assert [(c["action"], c["params"].get("CycleTime")) for c in emulator.calls] == [
        ("ListInstances", None), ("RunTriggerNode", "1773073800000")]          # 2026-03-10 00:30 Shanghai
    assert [line.split(":")[0] for line in result.stderr.strip().splitlines()] == [
        "overdue", "overdue", "triggered", "candidates=3 done=0 with_evidence=1 oss_checks=3 lookups=1 released=1 "
        "not_generated=0 overdue=2 failed=0 stopped_at_deadline=False"]


def test_sweep_exits_1_when_it_could_not_look(sweep_env, oss_standin):
    oss_standin.set_faults(forbidden_rate=1.0)
    result = run("sweep", "--rules", RULES, "--now", SWEPT_AT, env=sweep_env)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    for line, day in zip(lines, ("2026-03-11", "2026-03-10", "2026-03-09")):
        assert line.startswith(f"failed: orders-daily node 700001234567 bizdate {day} the sweep could not look for "
                               "evidence: ")
    assert "failed=3" in lines[3]


def test_sweep_needs_now_with_an_offset(sweep_env):
    result = run("sweep", "--rules", RULES, "--now", "2026-03-12T09:00", env=sweep_env)
    assert result.exit_code == 2 and "needs a UTC offset" in result.stderr
