"""The sweep and the ledger, against the DataWorks emulator (its clock drives T+1 generation and the 24-hour hold)
and the OSS stand-in (the files, and the ledger's objects), through the real SDKs (both APIs where they differ).

What a person relies on: the sweep releases exactly what the relay's gate would (the same captures for the key
and every `require`, a timer's `require` too), says `overdue` only of an instance still waiting — worked out
before any DataWorks call, so an outage never silences it — and a dead endpoint, a tiny pace or the deadline
never starves the other rules or runs the function past its time."""
import json
import threading
import time
from datetime import date, datetime, time as clock_time, timedelta
from zoneinfo import ZoneInfo

import pytest

from checks import invoke
from conftest import BOTH_APIS, ONE_API, orders_rules, sample
from dwtrigger.ops import fc
from sweeps import NODE, ORDERS, outcomes, sweep

LEDGER = 'ledger: "oss://etl-ledger/dwtrigger/"'
EXPECT = 'expect: {by: "06:00", days: 3}'
BLOCKED = 700001300002          # its parents never finish on their own


def rules(node: int = NODE, extra: str = "", ledger: bool = True) -> str:
    return orders_rules(f"{{workspace: 10001, node: {node}}}",
                        extra=(f"{LEDGER}\n    " if ledger else "") + f"{EXPECT}\n    {extra}")


def event_for(day: str) -> bytes:
    doc = json.loads(sample("oss/native-put-orders.json"))
    doc["events"][0]["oss"]["object"]["key"] = ORDERS.format(day=day)
    doc["events"][0]["responseElements"]["requestId"] = f"R-{day}"
    return json.dumps(doc).encode()


def released(h, node: int = NODE) -> list:
    return sorted((i["Bizdate"], i["Triggers"]) for i in h.emu.instances(workspace=h.workspace(10001), node=node)
                  if i["Triggers"])


@BOTH_APIS
def test_a_file_whose_event_never_arrived_is_released_by_the_sweep(harness):
    h = harness(rules())
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-11"))
    records, tally = sweep(h)
    assert outcomes(records) == [("overdue", "2026-03-10"), ("overdue", "2026-03-09"), ("triggered", "2026-03-11")]
    d = records[2]
    assert (d["outcome"], d["source"], d["biz_date"], d["rule"]) == ("triggered", "sweep", "2026-03-11", "orders")
    assert d["reason"].startswith("the sweep found oss://etl-landing/exports/orders/dt=2026-03-11/_SUCCESS")
    assert released(h) == [(1773158400000, 1)]                       # 2026-03-11 00:00 Shanghai
    assert (tally.released, tally.with_evidence, tally.lookups, tally.overdue) == (1, 1, 3, 2)


def test_no_evidence_is_overdue_from_by_on_and_not_before(harness):
    h = harness(rules())
    clock = h.emu.clock.now()                                        # 2026-03-12 09:00 Shanghai
    due = datetime(2026, 3, 12, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    records, _ = sweep(h, due - timedelta(microseconds=1))          # 03-11 is not due yet
    assert [d["biz_date"] for d in records] == ["2026-03-10", "2026-03-09"]
    records, _ = sweep(h, due)                                       # exactly at `by`: due
    assert [d["biz_date"] for d in records] == ["2026-03-11", "2026-03-10", "2026-03-09"]
    records, tally = sweep(h, clock)
    assert outcomes(records) == [("overdue", "2026-03-11"), ("overdue", "2026-03-10"), ("overdue", "2026-03-09")]
    assert records[0]["reason"] == ("no evidence by 2026-03-12T06:00:00+08:00: missing oss://etl-landing/exports/"
                                    "orders/dt=2026-03-11/_SUCCESS")
    assert h.actions() == ["lookup"] * (2 + 3 + 3) and h.calls("trigger") == []   # each overdue: still waiting?
    assert (tally.overdue, tally.unconfirmed) == (3, 0)


@BOTH_APIS
def test_overdue_is_not_said_of_an_instance_released_by_hand_even_without_a_ledger(harness):
    h = harness(rules(ledger=False))
    [by_hand] = [d.record() for d in h.runtime.release_by_hand("orders", {"bizdate": date(2026, 3, 10)}, None,
                                                                fc.context_for("cli"))]
    assert by_hand["outcome"] == "triggered"
    other = harness(h.rules_text)                                     # another FC instance: no memory of it
    for runtime in (h, other, other):
        records, _ = sweep(runtime)
        assert outcomes(records) == [("overdue", "2026-03-11"), ("overdue", "2026-03-09")]


@ONE_API
def test_overdue_is_said_when_dataworks_cannot_be_asked(harness):
    """An outage of DataWorks never silences an overdue: it is said, and says DataWorks could not tell."""
    h = harness(rules(), env={"DWTRIGGER_ENDPOINT": "127.0.0.1:9"})           # nothing listens on port 9
    records, tally = sweep(h, timeout=10)
    assert outcomes(records) == [("overdue", "2026-03-11"), ("overdue", "2026-03-10"), ("overdue", "2026-03-09")]
    assert "(DataWorks could not tell whether it still waits: " in records[0]["reason"]
    assert (tally.overdue, tally.unconfirmed, tally.lookups) == (3, 3, 2)     # two tries: no answer, twice


@BOTH_APIS
def test_an_early_file_is_released_by_the_sweep_once_the_instance_exists(harness):
    h = harness(rules())
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-13"))       # its instance is generated on 03-13
    [early], raised = invoke(h, "oss", event_for("2026-03-13"))
    assert (early["outcome"], early["error_code"], raised) == ("failed", "InstanceNotFound", True)
    h.emu.clock.advance(2 * 24 * 3600)                               # 2026-03-14 09:00: the instance exists
    records, _ = sweep(h, h.emu.clock.now())
    assert [o for o in outcomes(records) if o[0] == "triggered"] == [("triggered", "2026-03-13")]


@BOTH_APIS
def test_a_trigger_held_by_dataworks_is_not_sent_again_until_the_hold_expires(harness):
    h = harness(rules(node=BLOCKED))
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-10"))
    [first], _ = invoke(h, "oss", event_for("2026-03-10"))
    assert first["outcome"] == "triggered" and first["held_until"] == "2026-03-13T09:00:00+08:00"
    [again], _ = invoke(h, "oss", event_for("2026-03-10"))           # a redelivery during the hold
    assert (again["outcome"], again["held_until"]) == ("already_triggered", first["held_until"])
    assert again["reason"].startswith("held since 2026-03-12T09:00:00+08:00")
    records, _ = sweep(harness(h.rules_text), h.emu.clock.now())    # another FC instance: the ledger remembers
    assert ("triggered", "2026-03-10") not in outcomes(records) and len(h.calls("trigger")) == 1
    h.emu.clock.advance(25 * 3600)                                   # the hold expired, the instance still waits
    records, _ = sweep(h, h.emu.clock.now())
    assert ("triggered", "2026-03-10") in outcomes(records) and len(h.calls("trigger")) == 2


@BOTH_APIS
def test_without_a_ledger_a_held_trigger_is_not_sent_again_on_every_run(harness):
    """No ledger remembers the hold, so the sweep sends only to an instance waiting for its trigger alone: not on
    every run while DataWorks holds one, and once the parents are done, if the hold was lost, it does."""
    h = harness(rules(node=BLOCKED, ledger=False))
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-10"))
    [first], _ = invoke(h, "oss", event_for("2026-03-10"))
    assert first["held_until"] == "2026-03-13T09:00:00+08:00"
    for hours in (0, 1, 25):                                         # runs in fresh FC instances, the last after
        h.emu.clock.advance(hours * 3600)                            # the hold expired
        records, tally = sweep(harness(h.rules_text), h.emu.clock.now())
        assert ("triggered", "2026-03-10") not in outcomes(records) and tally.not_ready == 1
    assert len(h.calls("trigger")) == 1
    h.emu.finish_parents(h.workspace(10001), BLOCKED, "2026-03-10")  # it now waits for its trigger alone
    records, _ = sweep(harness(h.rules_text), h.emu.clock.now())
    assert ("triggered", "2026-03-10") in outcomes(records) and len(h.calls("trigger")) == 2


def test_two_concurrent_deliveries_with_a_ledger_send_exactly_one_trigger(harness):
    h, other = harness(rules()), harness(rules())                    # two FC instances
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-10"))
    start, results = threading.Barrier(2), []

    def deliver(runner):
        start.wait()
        results.extend(invoke(runner, "oss", event_for("2026-03-10"))[0])

    threads = [threading.Thread(target=deliver, args=(runner,)) for runner in (h, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(d["outcome"] for d in results) == ["already_triggered", "triggered"], results
    assert len(h.calls("trigger")) == 1 and released(h) == [(1773072000000, 1)]


@ONE_API
def test_the_sweep_asks_dataworks_nothing_for_what_the_ledger_knows_is_done(harness):
    rules_text = f"version: 1\ndefaults: {{timezone: Asia/Shanghai, region: cn-shanghai, {LEDGER}}}\nrules:\n" + "".join(
            f'  - {{name: r{n}, on: oss, bucket: etl-landing, key: "x/{n}/dt={{bizdate:%Y-%m-%d}}/ok", '
            f'expect: {{by: "06:00", days: 3}}, trigger: [{{workspace: 10001, node: {NODE}, at: "00:30"}}]}}\n'
            for n in range(100))
    h = harness(rules_text)
    for day in ("2026-03-11", "2026-03-10", "2026-03-09"):
        for n in range(100):
            h.oss.put("etl-landing", f"x/{n}/dt={day}/ok")
        h.oss.put("etl-ledger", f"dwtrigger/done/{h.api}/{h.workspace(10001)}/{NODE}/{day}/"
                                f"{_cycle_ms(day)}.json", b"{}")
    records, tally = sweep(h)
    assert (records, tally.candidates, tally.done, tally.lookups) == ([], 300, 300, 0)
    assert h.calls() == []


# ---- evidence is exactly what the relay's gate requires -----------------------------------------------------

TABLES = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai, ledger: "oss://etl-ledger/dwtrigger/"}
rules:
  - name: tables
    on: oss
    bucket: etl-landing
    key: "exports/{table}/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    require: ["exports/{table}/dt={bizdate:%Y-%m-%d}/_COUNTS"]
    expect: {by: "06:00", days: 1}
    trigger: [{workspace: 10001, node: 700001234567}]
"""


def test_the_sweep_takes_each_key_s_captures_for_its_require_entries(harness):
    """One table's _SUCCESS and another table's _COUNTS are no complete day, for the gate nor for the sweep."""
    h = harness(TABLES)
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-11/_SUCCESS")
    h.oss.put("etl-landing", "exports/customers/dt=2026-03-11/_COUNTS")
    records, tally = sweep(h)
    assert outcomes(records) == [("overdue", "2026-03-11")] and h.calls("trigger") == []
    assert records[0]["reason"] == (
        "no evidence by 2026-03-12T06:00:00+08:00: oss://etl-landing/exports/orders/dt=2026-03-11/_SUCCESS is there, "
        "missing oss://etl-landing/exports/orders/dt=2026-03-11/_COUNTS")
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-11/_COUNTS")
    records, tally = sweep(h)
    assert outcomes(records) == [("triggered", "2026-03-11")]
    assert records[0]["reason"].startswith(
        "the sweep found oss://etl-landing/exports/orders/dt=2026-03-11/_SUCCESS, "
        "oss://etl-landing/exports/orders/dt=2026-03-11/_COUNTS; ")


TIMER_REQUIRE = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai, ledger: "oss://etl-ledger/dwtrigger/"}
rules:
  - name: nightly
    on: timer
    timer: nightly
    bucket: etl-landing
    require: ["exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"]
    expect: {by: "06:00", days: 1}
    trigger: [{workspace: 10001, node: 700001235000, at: "00:05"}]
"""


def test_a_timer_rule_s_require_holds_the_sweep_back_as_it_holds_the_timer(harness):
    h = harness(TIMER_REQUIRE)
    [d], _ = invoke(h, "timer", sample("timer/nightly.json"))
    assert (d["outcome"], d["biz_date"]) == ("waiting_for_files", "2026-03-11")
    records, _ = sweep(h)
    assert outcomes(records) == [("overdue", "2026-03-11")] and h.calls("trigger") == []
    assert records[0]["reason"].endswith("its timer fired (oss://etl-ledger/dwtrigger/asked/nightly/700001235000/"
                                         "2026-03-11.json), missing oss://etl-landing/exports/orders/dt=2026-03-11/"
                                         "_SUCCESS")
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-11/_SUCCESS")
    records, _ = sweep(h)
    assert outcomes(records) == [("triggered", "2026-03-11")] and len(h.calls("trigger")) == 1


# ---- one dead endpoint, the pace and the deadline --------------------------------------------------------------

def _two_endpoints(dead: str, live: str) -> str:
    return f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai, {LEDGER}}}
rules:
  - {{name: down, on: oss, bucket: etl-landing, endpoint: "{dead}", key: "a/dt={{bizdate:%Y-%m-%d}}/ok",
     {EXPECT}, trigger: [{{workspace: 10001, node: 700001234999}}]}}
  - {{name: up, on: oss, bucket: etl-landing, endpoint: "{live}", key: "b/dt={{bizdate:%Y-%m-%d}}/ok",
     {EXPECT}, trigger: [{{workspace: 10001, node: 700001234567}}]}}
"""


@pytest.fixture
def silent_endpoint():
    """An endpoint that takes connections and never answers."""
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


@ONE_API
def test_a_dead_endpoint_costs_its_own_rule_two_tries_and_never_the_others(harness, emulator, silent_endpoint):
    h = harness(_two_endpoints(silent_endpoint, emulator.endpoint), env={"DWTRIGGER_ENDPOINT": ""})
    for day in ("2026-03-11", "2026-03-10", "2026-03-09"):
        h.oss.put("etl-landing", f"a/dt={day}/ok")
        h.oss.put("etl-landing", f"b/dt={day}/ok")
    started = time.monotonic()
    records, tally = sweep(h, timeout=12)
    assert time.monotonic() - started < 12
    by_rule = {(d["rule"], d["outcome"]) for d in records}
    assert by_rule == {("down", "failed"), ("up", "triggered")}, records
    assert sorted(d["biz_date"] for d in records if d["rule"] == "up") == ["2026-03-09", "2026-03-10", "2026-03-11"]
    assert sorted(d["error_code"] for d in records if d["rule"] == "down") == [
        "DeadlineExceeded", "DeadlineExceeded", "EndpointDown"]
    assert all(d["retryable"] for d in records if d["rule"] == "down")
    assert not tally.stopped_at_deadline


@ONE_API
def test_overdue_lines_come_through_an_outage_of_one_endpoint(harness, emulator, silent_endpoint):
    h = harness(_two_endpoints(silent_endpoint, emulator.endpoint), env={"DWTRIGGER_ENDPOINT": ""})
    records, tally = sweep(h, timeout=12)
    assert sorted((d["rule"], d["outcome"], d["biz_date"]) for d in records) == sorted(
        [(rule, "overdue", day) for rule in ("down", "up") for day in ("2026-03-09", "2026-03-10", "2026-03-11")])
    assert tally.unconfirmed == 3                                   # the dead endpoint's, said without its word


@ONE_API
def test_the_sweep_s_pace_never_sleeps_past_the_deadline(harness, monkeypatch):
    """The next turn comes after the deadline, so the pace stops the run instead of sleeping: what it slept is
    recorded (nothing), not timed."""
    h = harness(rules(), env={"DWTRIGGER_SWEEP_QPS": "0.1"})         # one call every ten seconds
    slept = []
    monkeypatch.setattr(h.runtime.relay, "sleep", slept.append)
    for day in ("2026-03-11", "2026-03-10", "2026-03-09"):
        h.oss.put("etl-landing", ORDERS.format(day=day))
    records, tally = sweep(h, timeout=4)
    assert slept == []
    assert tally.stopped_at_deadline and tally.released == 1
    assert sorted((d["outcome"], d["error_code"]) for d in records) == [
        ("failed", "DeadlineExceeded"), ("failed", "DeadlineExceeded"), ("triggered", None)]


@ONE_API
def test_a_run_the_deadline_stops_says_what_it_did_not_look_at(harness):
    rules_text = f"version: 1\ndefaults: {{timezone: Asia/Shanghai, region: cn-shanghai, {LEDGER}}}\nrules:\n" + "".join(
            f'  - {{name: r{n}, on: oss, bucket: etl-landing, key: "x/{n}/dt={{bizdate:%Y-%m-%d}}/ok", '
            f'expect: {{by: "06:00", days: 3}}, trigger: [{{workspace: 10001, node: {NODE}}}]}}\n' for n in range(40))
    h = harness(rules_text)
    h.oss.set_faults(latency_ms=300, actions=["GetObject", "HeadObject", "ListObjectsV2"])
    started = time.monotonic()
    records, tally = sweep(h, timeout=3)
    assert time.monotonic() - started < 3
    assert tally.stopped_at_deadline and tally.candidates == 120
    skipped = [d for d in records if d["reason"] == "the run's deadline came before its evidence was read"]
    assert skipped and all((d["outcome"], d["error_code"], d["retryable"]) == ("failed", "DeadlineExceeded", True)
                           for d in skipped)


def _cycle_ms(day: str) -> int:
    """The 00:30 instance of a business date: 00:30 Shanghai on the next day, in epoch ms."""
    cycle = datetime.combine(date.fromisoformat(day) + timedelta(days=1), clock_time(0, 30), ZoneInfo("Asia/Shanghai"))
    return int(cycle.timestamp() * 1000)


@ONE_API
def test_runs_the_deadline_cuts_short_take_turns_so_every_rule_is_released(harness):
    """Each run has time for one release (one DataWorks call a run at this pace): runs a minute apart start their
    releases in different places, so the fifth rule is not starved by the first four."""
    nodes = (700001234567, 700001235200, 700001235300, 700001235100, 700001235400)     # five daily nodes
    rules_text = f"version: 1\ndefaults: {{timezone: Asia/Shanghai, region: cn-shanghai, {LEDGER}}}\nrules:\n" + "".join(
            f'  - {{name: r{n}, on: oss, bucket: etl-landing, key: "x/{n}/dt={{bizdate:%Y-%m-%d}}/ok", '
            f'expect: {{by: "23:00", days: 1}}, trigger: [{{workspace: 10001, node: {node}}}]}}\n'
            for n, node in enumerate(nodes))
    h = harness(rules_text, env={"DWTRIGGER_SWEEP_QPS": "0.1"})
    for n in range(5):
        h.oss.put("etl-landing", f"x/{n}/dt=2026-03-11/ok")
    released_by = set()
    for minute in range(12):
        records, tally = sweep(h, h.emu.clock.now() + timedelta(minutes=minute), timeout=3)
        released_by |= {d["rule"] for d in records if d["outcome"] == "triggered"}
        assert tally.released <= 1
    assert released_by == {"r0", "r1", "r2", "r3", "r4"}
