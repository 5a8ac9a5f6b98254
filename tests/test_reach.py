"""An endpoint that cannot be reached stops a command (ops/reach.Watch with relay.Silence): after three attempts in a
row that could not connect, counted across the records and dates of the command, with one message naming the
endpoint and what to check; what was not tried is kept. A closed port refuses for real; `.invalid` never resolves.
A server that answers, even with an error, stops nothing."""
import json
import socket
from datetime import datetime, timedelta, timezone

from conftest import EVENTS, ROLE_KEY
from commands import NO_KEYS, RULES, attempts, pair, run  # noqa: F401 - pair: a fixture

NOWHERE = "dataworks.no-such-region.invalid"          # RFC 2606: never resolves
REFUSED_CAUSE = ("nothing accepts connections at {}: is the endpoint right (--endpoint, --emulator, "
                 "DWTRIGGER_ENDPOINT, the rule's endpoint or region), and is the emulator running (`dwtrigger emulator`)?")
NOWHERE_CAUSE = (f"the host name of {NOWHERE}:443 does not resolve: check --endpoint, DWTRIGGER_ENDPOINT, or the "
                 "rule's endpoint and region")
KEYS = {**NO_KEYS, **ROLE_KEY}


def dead_letters(path, count: int):
    """`count` nightly timer events, one day apart, one a line: a dead-letter file."""
    fired = datetime(2025, 1, 1, 16, tzinfo=timezone.utc)
    event = json.loads((EVENTS / "timer/nightly.json").read_text())
    path.write_text("".join(json.dumps({**event, "triggerTime": f"{fired + timedelta(days=n):%Y-%m-%dT%H:%M:%SZ}"})
                            + "\n" for n in range(count)))
    return path


def tried(label: str) -> list:
    """The attempt lines of a decision that stopped once three attempts in a row could not connect."""
    return [f"{label}: attempt 1 failed (ConnectionError); retrying in # s",
            f"{label}: attempt 2 failed (ConnectionError); retrying in # s",
            f"{label}: attempt 3 failed (ConnectionError); not retried: no connection could be made 3 times in a row"]


def test_replay_of_500_dead_letters_stops_after_three_refused_attempts_and_keeps_every_record(tmp_path, refused):
    letters = dead_letters(tmp_path / "dead.ndjson", 500)
    kept = tmp_path / "failed.ndjson"
    result = run("replay", str(letters), "--rules", RULES, "--endpoint", refused, "--protocol", "http",
                 "--failed-out", str(kept), env=KEYS)               # --timeout stays 60 s: attempts end it, not time
    assert result.exit_code == 1
    assert attempts(result) == tried(f"{letters}:1")
    assert result.stderr.splitlines()[-6:] == [
        f"{letters}:1: failed: {refused}: Connection refused (retries stopped: the endpoint could not be reached)",
        "outcome            count",
        "failed             1",
        "not_tried          499",
        f"stopped: DataWorks at {refused} could not be reached 3 times in a row ({refused}: Connection refused): "
        f"not asked again by this command; 499 of 500 records not tried, kept in {kept}",
        f"likely: {REFUSED_CAUSE.format(refused)}"]
    assert kept.read_text().splitlines() == [json.dumps(json.loads(line), separators=(",", ":"))
                                             for line in letters.read_text().splitlines()]


def test_replay_without_failed_out_says_how_to_keep_what_was_not_tried(tmp_path, refused):
    letters = dead_letters(tmp_path / "dead.ndjson", 2)
    result = run("replay", str(letters), "--rules", RULES, "--endpoint", refused, "--protocol", "http", env=KEYS)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-2].endswith(
        "not asked again by this command; 1 of 2 records not tried, to replay later (--failed-out FILE keeps them)")


def test_trigger_of_a_range_stops_when_the_host_name_does_not_resolve(refused):
    result = run("trigger", "--rule", "nightly", "--from", "2026-03-01", "--to", "2026-03-31", "--rules", RULES,
                 "--endpoint", NOWHERE, env=KEYS)
    assert result.exit_code == 1
    assert attempts(result) == tried("nightly bizdate 2026-03-01")
    assert result.stderr.splitlines()[-6:] == [
        f"failed: nightly node 700001235000 bizdate 2026-03-01 cycle - {NOWHERE}:443: Name or service not known "
        "(retries stopped: the endpoint could not be reached)",
        "outcome            count",
        "failed             1",
        "not_tried          30",
        f"stopped: DataWorks at {NOWHERE} could not be reached 3 times in a row ({NOWHERE}:443: Name or service not "
        "known): not asked again by this command; business dates 2026-03-02 to 2026-03-31 not tried",
        f"likely: {NOWHERE_CAUSE}"]


def test_replay_stops_after_two_records_whose_calls_got_no_answer(tmp_path):
    letters = dead_letters(tmp_path / "dead.ndjson", 5)
    kept = tmp_path / "failed.ndjson"
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)                                   # connections are taken, never answered
        endpoint = "127.0.0.1:%d" % mute.getsockname()[1]
        result = run("replay", str(letters), "--rules", RULES, "--endpoint", endpoint, "--protocol", "http",
                     "--timeout", "2", "--failed-out", str(kept), env=KEYS)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-3:] == [
        "failed             2",
        "not_tried          3",
        f"stopped: DataWorks at {endpoint} gave no answer to 2 decisions in a row (the call was stopped at the "
        f"invocation's deadline): not asked again by this command; 3 of 5 records not tried, kept in {kept}"]
    assert len(kept.read_text().splitlines()) == 5


def test_the_sweep_asks_an_unreachable_endpoint_three_times_in_all(refused, oss_standin):
    for day in ("2026-03-09", "2026-03-10"):                       # two releases with evidence, one overdue
        oss_standin.put("etl-landing", f"exports/orders/dt={day}/_SUCCESS")
    env = {**KEYS, "DWTRIGGER_ENDPOINT": refused, "DWTRIGGER_PROTOCOL": "http",
           "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint, "DWTRIGGER_SWEEP_QPS": "50"}
    result = run("sweep", "--rules", RULES, "--now", "2026-03-12T09:00:00+08:00", env=env)
    assert result.exit_code == 1
    assert attempts(result) == tried("sweep")
    down = f"DataWorks at {refused} could not be reached 3 times in a row ({refused}: Connection refused): not asked " \
           "again by this command"
    lines = result.stderr.splitlines()
    assert lines[-1] == f"likely: {REFUSED_CAUSE.format(refused)}" and lines[-2] == f"stopped: {down}"
    assert lines[-3].startswith("candidates=3 ") and " failed=2 endpoints_down=1 " in lines[-3]
    assert lines[-5:-3] == [f"failed: orders-daily node 700001234567 bizdate {day} the sweep found "
                            f"oss://etl-landing/exports/orders/dt={day}/_SUCCESS, and did not send: {down}"
                            for day in ("2026-03-09", "2026-03-10")]


def test_doctor_asks_an_unreachable_endpoint_three_times_for_all_its_nodes(tmp_path, refused):
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n"
                     "  - {name: pair, on: timer, timer: nightly, trigger: [{workspace: 10001, node: 1}, "
                     "{workspace: 10001, node: 2}]}\n")
    result = run("doctor", "--rule", "pair", "--bizdate", "2026-03-10", "--rules", str(rules), "--endpoint", refused,
                 "--protocol", "http", env=KEYS)
    assert result.exit_code == 2                        # it could not check
    checks = [line for line in result.stdout.splitlines() if line.startswith("  ? instance exists")]
    assert checks == [
        f"  ? instance exists: could not check: the look-up failed: ConnectionError: {refused}: Connection refused",
        f"  ? instance exists: could not check: the look-up: DataWorks at {refused} could not be reached 3 times in "
        f"a row ({refused}: Connection refused): not asked again by this command"]


def test_a_server_that_answers_with_errors_is_asked_for_every_record(tmp_path, pair):
    emu, _ = pair
    letters = dead_letters(tmp_path / "dead.ndjson", 4)
    result = run("replay", str(letters), "--rules", RULES, "--emulator", emu.url, env=NO_KEYS)   # a key it refuses
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-3:] == [
        "outcome            count", "failed             4",
        "likely: the emulator knows only its seed's keys: unset ALIBABA_CLOUD_ACCESS_KEY_ID to use the demo seed's "
        "key, or set one of the seed's keys"]
    assert [(call["params"]["Bizdate"], call["code"]) for call in emu.calls] == [
        (f"2025-01-0{day} 00:00:00", "InvalidAccessKeyId.NotFound") for day in (1, 2, 3, 4)]

