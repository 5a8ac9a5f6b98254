"""The operator's commands, run as a user runs them (click's runner, and a real subprocess for the demo)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import zipfile

import pytest

from commands import NO_KEYS, RULES, attempts, pair, run, served  # noqa: F401 - pair: a fixture
from conftest import EVENTS, ROLE_KEY, ROOT, sample
from dwtrigger import sources
from dwtrigger.ops.emulator import DEFAULT_SEED, Emulator

RULES_TEXT = (ROOT / "rules.yaml").read_text()
NIGHTLY_LINE = RULES_TEXT.splitlines().index("  - name: nightly") + 1


@pytest.fixture
def emulator_env(emulator):
    return {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
            "POWERTOOLS_SERVICE_NAME": "dwtrigger-cli-test", **ROLE_KEY}


@pytest.fixture
def resting_nightly(tmp_path) -> str:
    """rules.yaml with the nightly rule switched off."""
    path = tmp_path / "resting.yaml"
    path.write_text(RULES_TEXT.replace("    timer: nightly\n", "    timer: nightly\n    enabled: false\n", 1))
    return str(path)


def test_validate_accepts_the_example_rules():
    result = run("validate", RULES)
    assert result.exit_code == 0 and "13 rules OK" in result.output


def test_validate_lists_every_problem_with_file_line_rule_and_field(tmp_path):
    broken = tmp_path / "rules.yaml"
    broken.write_text((ROOT / "rules.yaml").read_text()
                      .replace("timezone: Europe/Berlin", "timezone: Europe/Berln")
                      .replace("node: 700001235000}", "node: 700001235000, nod: 1}"))
    result = run("validate", str(broken))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{broken}:64: rule 'finance-close' field 'timezone': unknown time zone 'Europe/Berln' "
        "(did you mean 'Europe/Berlin'?)",
        f"{broken}:96: rule 'nightly' field 'trigger[0].nod': unknown key (did you mean 'node'?)",
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


def test_explain_names_a_disabled_rule_that_would_match_and_exits_1_when_only_it_would(tmp_path, resting_nightly):
    nightly, off = str(EVENTS / "timer/nightly.json"), f"enabled: false at {resting_nightly}:{NIGHTLY_LINE}"
    result = run("explain", nightly, "--rules", resting_nightly)
    assert result.exit_code == 1
    assert result.output.endswith(f"  disabled nightly: would match ({off})\n"
                                  f"  -> ignored: no rule matched (rule 'nightly' would have, but it is disabled: "
                                  f"{off})\n")
    [entry] = json.loads(run("explain", nightly, "--rules", resting_nightly, "--json").stdout)
    assert entry["disabled"] == [{"rule": "nightly", "line": NIGHTLY_LINE, "why": f"would match ({off})"}]
    assert entry["ignored"] == f"no rule matched (rule 'nightly' would have, but it is disabled: {off})"
    # Beside a rule in play that takes the event, it is named too, and the functions do act on the event.
    both = tmp_path / "both.yaml"
    both.write_text(RULES_TEXT + "  - {name: nightly-old, on: timer, timer: nightly, enabled: false, "
                                 "trigger: [{workspace: 10001, node: 700001235001}]}\n")
    result = run("explain", nightly, "--rules", str(both))
    assert result.exit_code == 0, result.output
    assert "  MATCH nightly: matched\n" in result.output and "ignored" not in result.output
    assert result.output.endswith(f"  disabled nightly-old: would match (enabled: false at {both}:"
                                  f"{len(RULES_TEXT.splitlines()) + 1})\n")


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


def test_replay_of_a_directory_or_a_missing_file_is_one_sentence(tmp_path, emulator_env, emulator):
    directory = run("replay", str(EVENTS / "timer"), "--rules", RULES, env=emulator_env)
    assert (directory.exit_code, directory.output) == (
        2, f"Error: {EVENTS / 'timer'} is a directory: name the event files in it (e.g. {EVENTS / 'timer' / '*.json'})\n")
    missing = run("replay", str(EVENTS / "timer/nightly.json"), str(tmp_path / "dlq.ndjson"), "--rules", RULES,
                  env=emulator_env)
    assert (missing.exit_code, missing.output) == (2, f"Error: {tmp_path / 'dlq.ndjson'}: no such file\n")
    assert emulator.calls == []                          # nothing is sent before every file is read
    keyless = run("replay", str(EVENTS / "timer"), "--rules", RULES, env=NO_KEYS)
    assert (keyless.exit_code, keyless.output.startswith(f"Error: {EVENTS / 'timer'} is a directory")) == (2, True)


def test_replay_and_trigger_write_the_decision_log_to_a_file_or_keep_quiet(tmp_path, emulator_env, emulator):
    log = tmp_path / "decisions.ndjson"
    replayed = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES, "--log", str(log), env=emulator_env)
    assert (replayed.exit_code, replayed.stdout) == (0, "")
    assert replayed.stderr == "outcome            count\ntriggered          1\n"
    by_hand = run("trigger", "--rule", "orders-daily", "--bizdate", "2026-03-10", "--rules", RULES, "--log", str(log),
                  env=emulator_env)
    assert by_hand.exit_code == 0 and by_hand.stdout == ""
    assert by_hand.stderr.startswith("triggered: orders-daily node 700001234567 bizdate 2026-03-10")
    assert [(line["outcome"], line["node"]) for line in map(json.loads, log.read_text().splitlines())] == [
        ("triggered", 700001235000), ("triggered", 700001234567)]          # appended, one line per decision

    quiet = run("trigger", "--rule", "orders-daily", "--from", "2026-03-09", "--to", "2026-03-10", "--rules", RULES,
                "--quiet", env=emulator_env)
    assert quiet.exit_code == 0 and quiet.stdout == ""                    # no decision log, no progress bar
    assert quiet.stderr == "outcome            count\ntriggered          1\nalready_triggered  1\n"
    loud = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES, env=emulator_env)
    assert [json.loads(line)["outcome"] for line in loud.stdout.splitlines()] == ["already_triggered"]
    unwritable = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES, "--log",
                     str(tmp_path / "no" / "such" / "dir.ndjson"), env=emulator_env)
    assert (unwritable.exit_code, unwritable.output) == (
        2, f"Error: cannot write the decision log to {tmp_path / 'no' / 'such' / 'dir.ndjson'}: No such file or "
           "directory\n")


def test_trigger_says_what_rule_takes():
    said = " ".join(run("trigger", "--help").output.split())
    assert "--rule NAME The rule to release, by its `name:` in the rules file: each node it triggers (or --node). " \
           "[required]" in said


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
# What the mns function decides for a raw STREAM body on etl-done: any-etl-done reads no date field, and the body
# carries no time of its own.
UNDATED = ("rejected: the message carries no time of its own (MNS STREAM format), and rule 'any-etl-done' dates "
           "what it takes by its time")


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
    assert result.stderr.startswith(f"{body}: {UNDATED}")            # decided by the mns function's rules
    assert emulator.calls == []


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


def test_replay_failed_out_is_emptied_when_everything_was_released_or_would_be_in_a_dry_run(tmp_path, emulator_env,
                                                                                           emulator):
    nightly, rest = str(EVENTS / "timer/nightly.json"), tmp_path / "rest.ndjson"
    rest.write_bytes(b"stale\n")
    dry = run("replay", nightly, "--rules", RULES, "--dry-run", "--failed-out", str(rest), env=emulator_env)
    assert (dry.exit_code, rest.read_bytes(), emulator.calls) == (0, b"", [])
    assert "dry_run            1" in dry.stderr
    result = run("replay", nightly, "--rules", RULES, "--failed-out", str(rest), env=emulator_env)
    assert result.exit_code == 0 and rest.read_bytes() == b""
    assert [p.name for p in tmp_path.iterdir()] == ["rest.ndjson"]
    again = run("replay", nightly, "--rules", RULES, "--failed-out", str(rest), env=emulator_env)
    assert (again.exit_code, rest.read_bytes()) == (0, b"")                # released before: already_triggered
    assert again.stderr.splitlines() == ["outcome            count", "already_triggered  1"]
    assert released(emulator) == ["700001235000"]


# ---- replay exits 0 only when every record ended released -------------------------------------------------------

def line_of(doc: dict) -> bytes:
    """A record as --failed-out writes it."""
    return json.dumps(doc, separators=(",", ":")).encode()


IGNORED_TO_DO = ("; nothing was sent: add or enable the rule that should take it (`dwtrigger explain` says why "
                 "each misses) and replay it, or drop the record if it should release nothing")


def test_replay_of_a_record_no_rule_takes_exits_1_and_keeps_it(tmp_path, emulator_env, emulator):
    unmatched, rest = str(EVENTS / "oss/native-unmatched.json"), tmp_path / "rest.ndjson"
    result = run("replay", unmatched, "--rules", RULES, "--failed-out", str(rest), env=emulator_env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"{unmatched}: ignored: no rule matched{IGNORED_TO_DO}",
                                          "outcome            count", "ignored            1"]
    assert rest.read_bytes() == line_of(json.loads(sample("oss/native-unmatched.json"))) + b"\n"
    assert emulator.calls == []


def test_replay_of_a_record_only_a_disabled_rule_takes_names_the_rule_and_its_line(tmp_path, resting_nightly,
                                                                                   emulator_env, emulator):
    nightly, rest = str(EVENTS / "timer/nightly.json"), tmp_path / "rest.ndjson"
    for dry_run in ([], ["--dry-run"]):
        result = run("replay", nightly, "--rules", resting_nightly, "--failed-out", str(rest), *dry_run,
                     env=emulator_env)
        assert result.exit_code == 1, dry_run
        assert result.stderr.splitlines()[0] == (
            f"{nightly}: ignored: no rule matched (rule 'nightly' would have, but it is disabled: enabled: false at "
            f"{resting_nightly}:{NIGHTLY_LINE}){IGNORED_TO_DO}")
        assert rest.read_bytes() == line_of(json.loads(sample("timer/nightly.json"))) + b"\n"
    assert emulator.calls == []


def test_replay_of_a_record_waiting_for_files_exits_1_and_keeps_it(tmp_path, emulator_env, emulator, oss_standin):
    orders, rest = str(EVENTS / "oss/sales-1-orders.json"), tmp_path / "rest.ndjson"
    result = run("replay", orders, "--rules", RULES, "--failed-out", str(rest),
                 env={**emulator_env, "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint})
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{orders}: waiting_for_files: waiting for 2 of 2 required objects: "
        "oss://etl-landing/exports/sales/dt=2026-03-10/customers/_SUCCESS, "
        "oss://etl-landing/exports/sales/dt=2026-03-10/items/*.done; nothing was sent: the last of them to land "
        "releases it, or replay it once they are all there",
        "outcome            count", "waiting_for_files  1"]
    assert rest.read_bytes() == line_of(json.loads(sample("oss/sales-1-orders.json"))) + b"\n"
    assert emulator.calls == []


def test_replay_keeps_only_the_records_that_did_not_end_released(tmp_path, emulator_env, emulator):
    orders = dead_letter(sample("oss/native-put-orders.json"), "r-1")
    unmatched = dead_letter(sample("oss/native-unmatched.json"), "r-2")
    dlq, rest = tmp_path / "dlq.ndjson", tmp_path / "rest.ndjson"
    dlq.write_bytes(json.dumps(orders).encode() + b"\n" + json.dumps(unmatched).encode() + b"\n")
    dry = run("replay", str(dlq), "--rules", RULES, "--dry-run", "--failed-out", str(rest), env=emulator_env)
    assert dry.exit_code == 1 and rest.read_bytes() == line_of(unmatched) + b"\n"
    assert dry.stderr.splitlines() == [f"{dlq}:2: ignored: no rule matched{IGNORED_TO_DO}", "outcome            count",
                                       "ignored            1", "dry_run            1"]
    result = run("replay", str(dlq), "--rules", RULES, "--failed-out", str(rest), env=emulator_env)
    assert result.exit_code == 1 and rest.read_bytes() == line_of(unmatched) + b"\n"
    assert result.stderr.splitlines() == [f"{dlq}:2: ignored: no rule matched{IGNORED_TO_DO}",
                                          "outcome            count", "triggered          1", "ignored            1"]
    assert released(emulator) == ["700001234567"]


def test_replay_of_a_record_is_released_only_when_every_decision_of_it_is(tmp_path, emulator_env, emulator,
                                                                         oss_standin):
    """The nightly tick releases its node, and a second rule on it waits for a file that has not landed."""
    rules, rest = tmp_path / "rules.yaml", tmp_path / "rest.ndjson"
    rules.write_text(RULES_TEXT + '  - {name: nightly-export, on: timer, timer: nightly, bucket: etl-landing, '
                     'require: ["exports/nightly/dt={bizdate:%Y-%m-%d}/_SUCCESS"], '
                     "trigger: [{workspace: 10001, node: 700001234567}]}\n")
    result = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", str(rules), "--failed-out", str(rest),
                 env={**emulator_env, "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint})
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"{EVENTS / 'timer/nightly.json'}: waiting_for_files: ")
    assert result.stderr.splitlines()[-2:] == ["triggered          1", "waiting_for_files  1"]
    assert rest.read_bytes() == line_of(json.loads(sample("timer/nightly.json"))) + b"\n"
    assert released(emulator) == ["700001235000"]


def test_replay_counts_dry_run_as_released_only_under_the_dry_run_option(tmp_path, emulator_env, emulator):
    nightly, rest = str(EVENTS / "timer/nightly.json"), tmp_path / "rest.ndjson"
    result = run("replay", nightly, "--rules", RULES, "--failed-out", str(rest),
                 env={**emulator_env, "DWTRIGGER_DRY_RUN": "true"})
    assert result.exit_code == 1 and emulator.calls == []
    assert result.stderr.splitlines()[0].startswith(f"{nightly}: dry_run: ")
    assert result.stderr.splitlines()[0].endswith("; nothing was sent (DWTRIGGER_DRY_RUN is set): unset it to replay "
                                                  "for real, or pass --dry-run")
    assert rest.read_bytes() == line_of(json.loads(sample("timer/nightly.json"))) + b"\n"


def test_a_bug_naming_the_disabled_rules_costs_only_its_decision(tmp_path, monkeypatch, emulator_env, emulator):
    """Asking the disabled rules is part of matching: what goes wrong there is the decision's `failed`, never a
    crash that loses the other records."""
    from dwtrigger.matching import Index

    def broken(self, event, rules):
        raise KeyError("bug")

    monkeypatch.setattr(Index, "unmatched", broken)
    events = tmp_path / "events.json"
    events.write_text(json.dumps([json.loads(sample("oss/native-unmatched.json")),
                                  json.loads(sample("timer/nightly.json"))]))
    result = run("replay", str(events), "--rules", RULES, env=emulator_env)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (f"{events}[0]: failed: dwtrigger could not decide (KeyError); FC's "
                                             "retry runs the event again")
    assert released(emulator) == ["700001235000"]


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
    assert result.stderr.startswith(f"{rest}: {UNDATED}")
    assert emulator.calls == []


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
    assert by_hand.exit_code == 0 and by_hand.stderr.startswith("already_triggered: inventory-daily node 910000000001")
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


def test_demo_runs_every_sample_as_expected_from_any_directory(tmp_path):
    """From a directory that is no checkout; its log where --log says (another suite may run the demo at once)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DWTRIGGER_", "ALIBABA_CLOUD_"))}
    elsewhere, log = tmp_path / "elsewhere", tmp_path / "decisions.ndjson"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-m", "dwtrigger.ops.cli", "demo", "--log", str(log)], cwd=elsewhere,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(elsewhere.iterdir()) == [] and f"decision log: {log}" in proc.stdout
    board = tmp_path / "board.html"                           # the board of the demo's run, next to its log
    assert f"the day's board (open it in a browser): {board}" in proc.stdout.splitlines()
    page = board.read_text()
    assert page.startswith("<!doctype html>") and page.count('data-rule="orders-daily"') == 3   # expect.days
    assert page.count('data-verdict="released"') == 3
    samples = sum(1 for p in EVENTS.rglob("*") if p.suffix in (".json", ".txt", ".bin"))
    assert f"{samples} of {samples} samples gave the expected outcomes" in proc.stdout
    assert "released by the emulator" in proc.stdout
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    decisions = [line for line in lines if "outcome" in line]
    assert len(decisions) == sum(1 for line in proc.stdout.splitlines() if line.startswith(
        tuple(f"{name}/" for name in (*sources.names(), "malformed", "sweep"))))
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
    assert lines[0].endswith("(DataWorks could not tell whether it still waits: a dry run asks DataWorks nothing)")
    assert lines[3] == ("candidates=3 done=0 with_evidence=1 oss_checks=3 lookups=0 released=0 not_generated=0 "
                        "not_ready=0 overdue=2 unconfirmed=2 failed=0 endpoints_down=0 notices_sent=0 notices_failed=0 "
                        "stopped_at_deadline=False")
    assert emulator.calls == []


def test_sweep_releases_what_has_evidence_and_waits(sweep_env, emulator):
    result = run("sweep", "--rules", RULES, "--now", SWEPT_AT, env=sweep_env)
    assert result.exit_code == 0, result.output
    assert "triggered: orders-daily node 700001234567 bizdate 2026-03-09 the sweep found" in result.stderr
    assert [(c["action"], c["params"].get("Bizdate"), c["params"].get("CycleTime")) for c in emulator.calls] == [
        ("ListInstances", "2026-03-11 00:00:00", None), ("ListInstances", "2026-03-10 00:00:00", None),  # overdue?
        ("ListInstances", "2026-03-09 00:00:00", None), ("RunTriggerNode", None, "1773073800000")]   # 03-10 00:30
    assert [line.split(":")[0] for line in result.stderr.strip().splitlines()] == [
        "overdue", "overdue", "triggered", "candidates=3 done=0 with_evidence=1 oss_checks=3 lookups=3 released=1 "
        "not_generated=0 not_ready=0 overdue=2 unconfirmed=0 failed=0 endpoints_down=0 notices_sent=0 notices_failed=0 "
        "stopped_at_deadline=False"]


def test_sweep_exits_1_when_it_could_not_look(sweep_env, oss_standin):
    oss_standin.set_faults(forbidden_rate=1.0)
    result = run("sweep", "--rules", RULES, "--now", SWEPT_AT, env=sweep_env)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    for line, day in zip(lines, ("2026-03-11", "2026-03-10", "2026-03-09")):
        assert line.startswith(f"failed: orders-daily node 700001234567 bizdate {day} the sweep could not look for "
                               "evidence: ")
    assert "failed=3" in lines[3]


def test_sweep_exits_1_when_a_notice_was_not_delivered_and_a_dry_run_sends_none(sweep_env, tmp_path):
    from receivers import Receiver, environment
    webhook = Receiver("webhook")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_TEXT.replace("  # ledger: oss://etl-ledger/dwtrigger/", "  ledger: oss://etl-ledger/dwtrigger/\n"
                                        "  notify: {webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}}\n  #"))
    env = {**sweep_env, **environment(None, webhook)}
    try:
        result = run("sweep", "--rules", str(rules), "--now", SWEPT_AT, "--dry-run", env=env)
        assert result.exit_code == 0 and webhook.requests == 0, result.output
        webhook.script.extend([("status", 500, b"down")] * 1000)
        result = run("sweep", "--rules", str(rules), "--now", SWEPT_AT, "--timeout", "8", env=env)
        assert result.exit_code == 1, result.output
        assert " overdue=2 " in result.stderr and " notices_sent=0 notices_failed=2 " in result.stderr
        webhook.script.clear()
        result = run("sweep", "--rules", str(rules), "--now", SWEPT_AT, env=env)
        assert result.exit_code == 0, result.output
        assert " notices_sent=2 notices_failed=0 " in result.stderr
        assert sorted(body["biz_date"] for body in webhook.taken) == ["2026-03-10", "2026-03-11"]
    finally:
        webhook.close()


def test_sweep_needs_now_with_an_offset(sweep_env):
    result = run("sweep", "--rules", RULES, "--now", "2026-03-12T09:00", env=sweep_env)
    assert result.exit_code == 2 and "needs a UTC offset" in result.stderr


# ---- what misled operators, run as they ran it ----

def test_trigger_refuses_a_node_the_rule_does_not_have(emulator_env, emulator):
    result = run("trigger", "--rule", "orders-daily", "--bizdate", "2026-03-10", "--node", "5", "--rules", RULES,
                 env=emulator_env)
    assert result.exit_code == 2
    assert result.stderr == "Error: rule 'orders-daily' has no node 5; its nodes: 700001234567\n"
    assert emulator.calls == []


def test_trigger_takes_the_cycle_alone_and_refuses_a_bizdate_it_contradicts(emulator_env, emulator):
    refused = run("trigger", "--rule", "clicks-hourly", "--bizdate", "2026-03-11", "--cycle", "2026-03-11 08:00",
                  "--rules", RULES, env=emulator_env)
    assert refused.exit_code == 2 and emulator.calls == []
    assert refused.stderr == ("Error: --bizdate 2026-03-11 is not the business date of --cycle '2026-03-11 08:00': "
                              "that is 2026-03-10 (the day before the cycle's date); give --cycle alone\n")
    alone = run("trigger", "--rule", "clicks-hourly", "--cycle", "2026-03-11 08:00", "--rules", RULES,
                env=emulator_env)
    assert alone.exit_code == 0, alone.output
    assert alone.stderr.startswith("triggered: clicks-hourly node 700001234999 bizdate 2026-03-10 cycle "
                                   "2026-03-11T08:00:00+08:00 instance ")
    assert [c["params"]["CycleTime"] for c in emulator.calls if c["action"] == "RunTriggerNode"] == ["1773187200000"]
    neither = run("trigger", "--rule", "clicks-hourly", "--rules", RULES, env=emulator_env)
    assert neither.exit_code == 2 and neither.stderr == (
        "Error: name the instance: --bizdate YYYY-MM-DD, --cycle 'YYYY-MM-DD HH:MM', or --from and --to\n")


def test_trigger_of_an_hourly_rule_without_a_cycle_names_the_cycle_option(emulator_env, emulator):
    result = run("trigger", "--rule", "clicks-hourly", "--bizdate", "2026-03-10", "--rules", RULES, env=emulator_env)
    assert result.exit_code == 1
    hours = ", ".join(f"{h:02d}:00" for h in range(24))
    assert result.stderr == ("failed: clicks-hourly node 700001234999 bizdate 2026-03-10 cycle - 24 instances of "
                             f"business date 2026-03-10 are waiting ({hours}); name one with --cycle "
                             "'2026-03-11 HH:MM'\n")
    assert [c["action"] for c in emulator.calls] == ["ListInstances"]


def test_trigger_releases_a_range_of_business_dates_with_a_summary(emulator_env, emulator):
    result = run("trigger", "--rule", "orders-daily", "--from", "2025-12-31", "--to", "2026-01-02", "--rules", RULES,
                 env=emulator_env)
    assert result.exit_code == 1                       # 2025-12-31: the node was not deployed yet
    lines = [re.sub(r"instance \d+", "instance #", line) for line in result.stderr.splitlines()]
    assert lines == [
        "releasing orders-daily 2025-12-31 to 2026-01-02",
        "failed: orders-daily node 700001234567 bizdate 2025-12-31 cycle 2026-01-01T00:30:00+08:00 DataWorks has no "
        "cycle instance for business date 2025-12-31 (instances are generated the day before; a node deployed today "
        "runs from tomorrow; a workspace on the other Data Studio generation than the rule's `api` lists none)",
        "triggered: orders-daily node 700001234567 bizdate 2026-01-01 cycle 2026-01-02T00:30:00+08:00 instance # was "
        "WAIT_TRIGGER",
        "triggered: orders-daily node 700001234567 bizdate 2026-01-02 cycle 2026-01-03T00:30:00+08:00 instance # was "
        "WAIT_TRIGGER",
        "outcome            count", "triggered          2", "failed             1"]
    assert [c["params"]["BizDate"] for c in emulator.calls if c["action"] == "RunTriggerNode"] == [
        "1767196800000", "1767283200000"]                # 2026-01-01 and 01-02, Shanghai midnight


@pytest.mark.parametrize("args, error", [
    (("--from", "2026-03-10"), "--from and --to go together"),
    (("--from", "2026-03-10", "--to", "2026-03-01"), "--to 2026-03-01 is before --from 2026-03-10"),
    (("--from", "2025-01-01", "--to", "2026-03-01"), "--from/--to span 425 days; at most 366 at a time"),
    (("--from", "2026-03-01", "--to", "2026-03-02", "--bizdate", "2026-03-01"),
     "--from/--to name the business dates: drop --bizdate and --cycle"),
])
def test_trigger_range_mistakes_are_refused_before_anything_is_sent(args, error, emulator_env, emulator):
    result = run("trigger", "--rule", "orders-daily", *args, "--rules", RULES, env=emulator_env)
    assert result.exit_code == 2 and result.stderr == f"Error: {error}\n"
    assert emulator.calls == []


def test_without_keys_the_commands_say_what_to_set_on_a_laptop(emulator):
    advice = ("Error: no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and "
              "ALIBABA_CLOUD_SECURITY_TOKEN for STS keys) to an identity that deploy/ram/dataworks.json allows, or "
              "reach a local emulator with --emulator URL (or DWTRIGGER_EMULATOR), as `dwtrigger emulator` prints\n")
    env = {**NO_KEYS, "DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http"}
    for args in (("trigger", "--rule", "nightly", "--bizdate", "2026-03-10"),
                 ("replay", str(EVENTS / "timer/nightly.json")), ("sweep",)):
        result = run(*args, "--rules", RULES, env=env)
        assert (result.exit_code, result.stderr) == (2, advice), args
    assert emulator.calls == []
    dry = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES, "--dry-run", env=env)
    assert dry.exit_code == 0 and "dry_run            1" in dry.stderr          # a dry run sends nothing


def test_emulator_option_reaches_the_demo_emulator_with_its_development_key(tmp_path):
    with served(DEFAULT_SEED) as (emu, oss):
        by_option = run("trigger", "--rule", "orders-daily", "--bizdate", "2026-03-10", "--rules", RULES,
                        "--emulator", emu.url, env=NO_KEYS)
        assert by_option.exit_code == 0, by_option.output
        assert by_option.stderr.startswith("triggered: orders-daily node 700001234567 bizdate 2026-03-10")
        oss.put("etl-landing", "exports/orders/dt=2026-03-09/_SUCCESS")
        by_env = run("sweep", "--rules", RULES, "--now", "2026-03-12T09:00:00+08:00",
                     env={**NO_KEYS, "DWTRIGGER_EMULATOR": emu.url, "DWTRIGGER_SWEEP_QPS": "50"})
        assert by_env.exit_code == 0, by_env.output
        assert "triggered: orders-daily node 700001234567 bizdate 2026-03-09 the sweep found" in by_env.stderr
        replayed = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES,
                       env={**NO_KEYS, "DWTRIGGER_EMULATOR": emu.url})
        assert replayed.exit_code == 0 and "triggered          1" in replayed.stderr
    assert {c["access_key_id"] for c in emu.calls} == {"STS.demo-function-role"}
    assert [c["operation"] for c in oss.calls] == ["GetObjectMeta"] * 3


def test_emulator_option_uses_the_keys_set_and_refuses_a_second_endpoint(pair):
    emu, _ = pair
    mine = run("trigger", "--rule", "nightly", "--bizdate", "2026-03-10", "--rules", RULES, "--emulator", emu.url,
               env={**NO_KEYS, **ROLE_KEY})
    assert mine.exit_code == 0, mine.output
    assert {c["access_key_id"] for c in emu.calls} == {ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"]}
    demo_key = run("trigger", "--rule", "nightly", "--bizdate", "2026-03-10", "--rules", RULES, "--emulator", emu.url,
                   env=NO_KEYS)                       # this world's seed does not hold the demo key
    assert demo_key.exit_code == 1
    assert demo_key.stderr.splitlines()[-1] == (
        "likely: the emulator knows only its seed's keys: unset ALIBABA_CLOUD_ACCESS_KEY_ID to use the demo seed's "
        "key, or set one of the seed's keys")
    both = run("trigger", "--rule", "nightly", "--bizdate", "2026-03-10", "--rules", RULES, "--emulator", emu.url,
               "--endpoint", "dataworks.cn-shanghai.aliyuncs.com", env=NO_KEYS)
    assert both.exit_code == 2 and both.stderr == (
        "Error: --emulator names the endpoint and protocol: give it or --endpoint/--protocol, not both\n")
    from_env = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES, "--protocol", "https",
                   env={**NO_KEYS, "DWTRIGGER_EMULATOR": emu.url})
    assert from_env.exit_code == 2 and from_env.stderr == (
        "Error: DWTRIGGER_EMULATOR is set and names the endpoint and protocol: unset it to use --endpoint/--protocol\n")
    wrong = run("sweep", "--rules", RULES, "--emulator", "https://127.0.0.1:8765", env=NO_KEYS)
    assert wrong.exit_code == 2 and wrong.stderr == (
        "Error: --emulator 'https://127.0.0.1:8765': give the URL `dwtrigger emulator` printed, e.g. "
        "http://127.0.0.1:8765\n")


def test_an_endpoint_that_refuses_shows_each_attempt_and_the_likely_cause():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))                 # bound, never listening: every connect is refused
        port = closed.getsockname()[1]
        result = run("trigger", "--rule", "nightly", "--bizdate", "2026-03-10", "--rules", RULES, "--timeout", "2",
                     "--endpoint", f"127.0.0.1:{port}", "--protocol", "http", env={**NO_KEYS, **ROLE_KEY})
    assert result.exit_code == 1
    tries = attempts(result)
    assert tries and all(line.startswith("nightly bizdate 2026-03-10: attempt ") for line in tries)
    assert tries[0] == "nightly bizdate 2026-03-10: attempt 1 failed (ConnectionError); retrying in # s"
    cause = (f"nothing accepts connections at 127.0.0.1:{port}: is the endpoint right (--endpoint, --emulator, "
             "DWTRIGGER_ENDPOINT, the rule's endpoint or region), and is the emulator running (`dwtrigger emulator`)?")
    lines = result.stderr.splitlines()
    assert lines[1] == f"  likely: {cause}" and lines[-1] == f"likely: {cause}"
    assert lines[-3] == (f"failed: nightly node 700001235000 bizdate 2026-03-10 cycle - 127.0.0.1:{port}: "
                         "Connection refused (retries stopped: the endpoint could not be reached)")
    assert lines[-2] == (f"stopped: DataWorks at 127.0.0.1:{port} could not be reached 3 times in a row "
                         f"(127.0.0.1:{port}: Connection refused): not asked again by this command")


def test_ctrl_c_says_what_was_done_and_exits_130(tmp_path):
    """SIGINT while a record waits for DataWorks' answer: one line, the --failed-out file as it was, status 130 (the
    shell's for an interrupt), never click's "Aborted!" and 1."""
    kept = tmp_path / "failed.ndjson"
    kept.write_text("as it was\n")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(60)
        proc = subprocess.Popen([sys.executable, "-m", "dwtrigger.ops.cli", "replay",
                                 str(EVENTS / "timer/nightly.json"), "--rules", RULES,
                                 "--endpoint", "127.0.0.1:%d" % server.getsockname()[1],
                                 "--protocol", "http", "--failed-out", str(kept)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **ROLE_KEY, "DWTRIGGER_ENDPOINT": "", "DWTRIGGER_EMULATOR": ""})
        try:
            connection, _ = server.accept()          # the ready marker: the record's call waits for its answer
            with connection:
                proc.send_signal(signal.SIGINT)
                _, said = proc.communicate(timeout=60)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert said == f"interrupted: 0 of 1 records replayed, {kept} left as it was\n"
    assert kept.read_text() == "as it was\n" and not kept.with_name("failed.ndjson.partial").exists()


def test_https_to_the_emulator_says_it_speaks_http(emulator):
    result = run("trigger", "--rule", "nightly", "--bizdate", "2026-03-10", "--rules", RULES, "--timeout", "2",
                 "--endpoint", emulator.endpoint, env={**NO_KEYS, **ROLE_KEY})
    assert result.exit_code == 1
    assert attempts(result)[0].startswith("nightly bizdate 2026-03-10: attempt 1 failed (ConnectionError); ")
    assert result.stderr.splitlines()[-1] == (
        f"likely: {emulator.endpoint} speaks plain http, not https: reach a local emulator with --emulator "
        f"http://{emulator.endpoint} (or add --protocol http)")
    assert emulator.calls == []                        # a TLS hello is no request


def test_an_endpoint_name_that_does_not_resolve_is_named():
    result = run("replay", str(EVENTS / "timer/nightly.json"), "--rules", RULES, "--timeout", "2",
                 "--endpoint", "dataworks.no-such-region.invalid", env={**NO_KEYS, **ROLE_KEY})
    assert result.exit_code == 1
    assert attempts(result)[0].startswith(f"{EVENTS / 'timer/nightly.json'}: attempt 1 failed (ConnectionError); ")
    assert result.stderr.splitlines()[-1] == (
        "likely: the host name of dataworks.no-such-region.invalid:443 does not resolve: check --endpoint, "
        "DWTRIGGER_ENDPOINT, or the rule's endpoint and region")


def test_explain_exits_non_zero_on_a_rejected_event_and_a_broken_json_file_gets_no_stream_advice(tmp_path):
    rejected = run("explain", str(EVENTS / "malformed/timer-bad-time.json"), "--rules", RULES)
    assert rejected.exit_code == 1
    assert rejected.stdout == (f"{EVENTS / 'malformed/timer-bad-time.json'}  (timer function)\n"
                               "  rejected: field 'triggerTime' is not an ISO 8601 time: 'yesterday at 4'\n")
    broken = tmp_path / "event.json"
    broken.write_text('{\n  "triggerTime": "2026-03-11T16:00:00Z",\n  "triggerName": nightly\n}\n')
    result = run("explain", str(broken), "--rules", RULES)
    assert result.exit_code == 1
    assert result.stdout == f"{broken}\n  unreadable: not valid JSON at line 3, column 18: Expecting value\n"


def test_explain_builds_the_event_the_function_would_receive():
    built = run("explain", "--bucket", "etl-landing", "--key", "exports/orders/dt=2026-03-10/_SUCCESS",
                "--now", "2026-03-10T16:10:00Z", "--rules", RULES)
    from_file = run("explain", str(EVENTS / "oss/native-put-orders.json"), "--rules", RULES)
    assert built.exit_code == 0, built.output
    header, kind, *rest = built.stdout.splitlines()
    assert header == "oss://etl-landing/exports/orders/dt=2026-03-10/_SUCCESS (ObjectCreated:PutObject)  (oss function)"
    assert re.fullmatch(r"  kind oss-native, id [0-9A-F]{24}, time 2026-03-10T16:10:00\+00:00", kind)
    assert rest == from_file.stdout.splitlines()[2:]
    finance = json.loads(sample("mns/topic-json-finance.json"))
    topic = run("explain", "--topic", "etl-done", "--body", finance["Message"], "--now", "2026-03-10T23:05:00Z",
                "--rules", RULES, "--json")
    [report] = json.loads(topic.stdout)
    [target] = [r for r in report["rules"] if r["matched"]][0]["targets"]
    assert (report["kind"], target["node"], target["biz_date_ms"]) == ("mns-topic-json", 700009999, 1773097200000)
    billing = run("explain", "--topic", "billing-done", "--body", "done", "--attribute", "team=billing", "--rules",
                  RULES)
    assert "kind mns-topic-json-attrs" in billing.stdout and "MATCH billing-feed: matched" in billing.stdout
    queue = run("explain", "--queue", "etl-events", "--body", '{"source": "crm-daily", "rows": 98}', "--now",
                "2026-03-11T01:45:10+00:00", "--rules", RULES)
    assert "MATCH crm-export: matched" in queue.stdout and "BizDate 2026-03-10 = 1773072000000" in queue.stdout
    timer = run("explain", "--timer", "nightly", "--now", "2026-03-11T16:00:00Z", "--rules", RULES)
    assert timer.stdout.splitlines()[1] == "  kind timer, id nightly@2026-03-11T16:00:00Z, time 2026-03-11T16:00:00+00:00"
    assert "BizDate 2026-03-11 = 1773158400000" in timer.stdout


@pytest.mark.parametrize("args, error", [
    ((), "give an EVENT file, or build one: --bucket BUCKET --key KEY, --topic TOPIC --body TEXT, --queue QUEUE "
         "--body TEXT, --timer NAME, --rocketmq TOPIC --body TEXT, --kafka TOPIC --body TEXT, --rabbitmq QUEUE "
         "--body TEXT"),
    ((str(EVENTS / "timer/nightly.json"), "--timer", "nightly"), "give an EVENT file or build one with options, not both"),
    (("--bucket", "etl-landing"), "--bucket needs --key"),
    (("--bucket", "b", "--key", "k", "--timer", "t"), "--bucket and --timer describe different events: give one"),
    (("--topic", "t", "--body", "x", "--payload", "p"), "--payload belongs to an event built with --timer"),
    (("--queue", "q", "--body", "x", "--attribute", "a=b"),
     "--attribute belongs to an event built with --topic or --rocketmq or --kafka or --rabbitmq"),
    (("--rabbitmq", "q", "--body", "x", "--tag", "t"), "--tag belongs to an event built with --rocketmq"),
    (("--kafka", "t"), "--kafka needs --body"),
    (("--topic", "t", "--body", "x", "--attribute", "team"), "--attribute takes NAME=VALUE"),
    (("--timer", "t", "--source", "mns"), "--source is for event files: a built event names its function"),
])
def test_explain_refuses_options_that_build_no_event(args, error):
    result = run("explain", *args, "--rules", RULES)
    assert (result.exit_code, result.stderr) == (2, f"Error: {error}\n")


def test_explains_help_names_every_event_a_source_builds_with_its_options():
    """Built from each source's `explained()` and its options' placeholders, as the refusal's list is."""
    said = " ".join(run("explain", "--help").stdout.split())
    assert ("build one: --bucket BUCKET --key KEY [--event-name NAME], --topic TOPIC --body TEXT [--attribute "
            "NAME=VALUE], --queue QUEUE --body TEXT, --timer NAME [--payload TEXT], --rocketmq TOPIC --body TEXT "
            "[--attribute NAME=VALUE] [--tag TAG], --kafka TOPIC --body TEXT [--attribute NAME=VALUE], --rabbitmq "
            "QUEUE --body TEXT [--attribute NAME=VALUE]. Exit 1") in said


def test_every_rules_option_defaults_to_dwtrigger_rules(tmp_path, monkeypatch, emulator_env, emulator, oss_standin):
    env = {**emulator_env, "DWTRIGGER_RULES": RULES, "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint}
    monkeypatch.chdir(tmp_path)                                                 # no rules.yaml here
    assert run("validate", env=env).stdout == f"{RULES}: 13 rules OK\n"
    assert "MATCH nightly" in run("explain", str(EVENTS / "timer/nightly.json"), env=env).stdout
    assert run("replay", str(EVENTS / "timer/nightly.json"), "--dry-run", env=env).exit_code == 0
    assert run("trigger", "--rule", "nightly", "--bizdate", "2026-03-10", env=env).exit_code == 0
    assert "overdue=3" in run("sweep", "--dry-run", "--now", "2026-03-12T09:00:00+08:00", env=env).stderr
    missing = run("validate", env={**env, "DWTRIGGER_RULES": None})
    assert missing.exit_code == 1 and missing.stderr == (
        "rules.yaml: cannot read the rules file: No such file or directory\n"
        "(name the rules file as the argument, `dwtrigger validate PATH`, or with DWTRIGGER_RULES)\n")


def test_version_and_short_help():
    from importlib.metadata import version

    assert run("--version").stdout == f"dwtrigger {version('dwtrigger')}\n"
    for args in (("-h",), ("trigger", "-h")):
        result = run(*args)
        assert result.exit_code == 0 and result.stdout.startswith(f"Usage: dwtrigger {' '.join(args[:-1])}".rstrip())


@pytest.mark.parametrize("command", ["explain", "sweep"])
def test_now_that_is_not_a_time_names_the_form_expected(command):
    result = run(command, "--now", "yesterday", "--rules", RULES, env=NO_KEYS)
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: Invalid value for '--now': 'yesterday' is not an ISO 8601 time: write e.g. "
                                  "2026-03-12T09:00:00+08:00 (Z for UTC)\n")


def test_demo_refuses_a_directory_that_is_no_checkout_and_leaves_nothing(tmp_path):
    result = run("demo", "--root", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path} is not a dwtrigger checkout: it has no events, functions, rules.yaml\n"
    assert list(tmp_path.iterdir()) == []


def test_demo_that_fails_midway_removes_what_it_made_and_restores_the_environment(tmp_path):
    (tmp_path / "events/timer").mkdir(parents=True)
    (tmp_path / "events/timer/nightly.json").write_bytes(sample("timer/nightly.json"))
    (tmp_path / "events/timer/expected.yaml").write_text("nightly.json: [triggered]\n")
    (tmp_path / "functions/timer").mkdir(parents=True)
    (tmp_path / "functions/timer/index.py").write_text("raise ImportError('a broken handler')\n")
    (tmp_path / "rules.yaml").write_text((ROOT / "rules.yaml").read_text())
    before = dict(os.environ)
    result = run("demo", "--root", str(tmp_path))
    assert result.exit_code == 2 and result.stderr == "Error: a broken handler\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events", "functions", "rules.yaml"]
    assert dict(os.environ) == before


@pytest.mark.slow           # packaging: run once, on FC's Python (Makefile)
def test_the_wheel_carries_what_the_commands_need_outside_the_checkout(tmp_path):
    """`pip wheel` of the project, installed on its own (the venv's dependencies), run from a directory that is no
    checkout: --version, validate, explain of a built event, and a dry run through --emulator, which reads the
    emulator's seed from the installed package."""
    src, dist, site, elsewhere = (tmp_path / name for name in ("src", "dist", "site", "elsewhere"))
    shutil.copytree(ROOT / "shared", src / "shared", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], check=True,
                   capture_output=True, timeout=600)      # the dev lock's setuptools: no index needed
    [wheel] = dist.glob("dwtrigger-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"dwtrigger"}
    assert "dwtrigger/ops/emulator/demo_seed.yaml" in names
    subprocess.run(pip + ["install", "--no-deps", "--target", str(site), str(wheel)], check=True,
                   capture_output=True, timeout=300)
    elsewhere.mkdir()
    shutil.copy(ROOT / "rules.yaml", elsewhere / "rules.yaml")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DWTRIGGER_", "ALIBABA_CLOUD_"))},
           "PYTHONPATH": str(site)}

    def dwtrigger(*args):
        return subprocess.run([str(site / "bin" / "dwtrigger"), *args], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=120)

    where = subprocess.run([sys.executable, "-c", "import dwtrigger; print(dwtrigger.__file__)"], cwd=elsewhere,
                           env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(site / "dwtrigger" / "__init__.py")
    version = dwtrigger("--version")
    assert version.stdout.startswith("dwtrigger ") and version.returncode == 0
    assert dwtrigger("validate").stdout == "rules.yaml: 13 rules OK\n"
    explained = dwtrigger("explain", "--timer", "nightly", "--now", "2026-03-11T16:00:00Z")
    assert explained.returncode == 0 and "BizDate 2026-03-11 = 1773158400000" in explained.stdout
    with Emulator(DEFAULT_SEED) as emu:                 # a dry run sends nothing, but runs by the emulator's clock
        dry = dwtrigger("trigger", "--rule", "nightly", "--bizdate", "2026-03-10", "--dry-run", "--emulator", emu.url)
    assert dry.returncode == 0 and dry.stderr.startswith("dry_run: nightly node 700001235000 bizdate 2026-03-10")
    demo = dwtrigger("demo")
    assert demo.returncode == 2 and demo.stderr == (
        "Error: the demo runs the samples of a dwtrigger checkout (events/, functions/, rules.yaml): run it inside "
        "one, or pass --root PATH\n")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["rules.yaml"]
