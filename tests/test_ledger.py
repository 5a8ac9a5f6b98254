"""The ledger's objects as the relay writes and reads them in the OSS stand-in (through the real OSS SDK), on both
APIs: what a send records, sends of unknown fate (a claimer that died, a trigger the deadline cut, a record the
ledger could not take), claims another delivery holds, holds that a look-up contradicts, objects of any shape, a
ledger that cannot be reached, and the `asked` record that is an MNS or timer rule's evidence for the sweep.

The promise under test: nothing reads as released unless DataWorks accepted it, and whatever a process leaves
behind when it dies between two steps, a later delivery still releases the instance exactly once."""
import json
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest

from checks import duplicate_releases, invoke, wait_for_calls
from conftest import BOTH_APIS, ONE_API, orders_rules, sample
from dwtrigger.dataworks import openapi
from dwtrigger.ledger import GRACE
from dwtrigger.ops import fc
from dwtrigger.recent import ABSENT_S, FRESH_S, TTL_S

LEDGER = 'ledger: "oss://etl-ledger/dwtrigger/"'
ZONE = ZoneInfo("Asia/Shanghai")
NODE, CYCLE_MS = 700001234567, 1773160200000                  # orders_trigger, 2026-03-11 00:30 Shanghai
BLOCKED = 700001300002                                        # its parents never finish: a trigger is held
NIGHTLY, NIGHTLY_CYCLE_MS = 700001235000, 1773245100000       # nightly_trigger, 2026-03-12 00:05 Shanghai
ORDERS = sample("oss/native-put-orders.json")


def rules(extra: str = "", node: int = NODE) -> str:
    return orders_rules(f"{{workspace: 10001, node: {node}, at: \"00:30\"}}", extra=f"{LEDGER}\n    {extra}")


def claim_key(h, n: int, node: int = NODE, cycle_ms: int = CYCLE_MS) -> str:
    return f"dwtrigger/claims/{h.api}/{h.workspace(10001)}/{node}/{cycle_ms}/{n:04d}.json"


def seen_key(h) -> str:
    return f"dwtrigger/seen/{h.api}/{h.workspace(10001)}/{NODE}/2026-03-10/{CYCLE_MS}.json"


def claim(h, n: int, **where) -> dict:
    body = h.oss.body("etl-ledger", claim_key(h, n, **where))
    return None if body is None else json.loads(body)


def plant(h, n: int, entry, **where) -> None:
    h.oss.put("etl-ledger", claim_key(h, n, **where), entry if isinstance(entry, bytes) else json.dumps(entry).encode())


def now_ms(h, minus: timedelta = timedelta()) -> int:
    return int((h.emu.clock.now() - minus).timestamp() * 1000)


def triggers(h, node: int = NODE) -> int:
    """Triggers DataWorks accepted for the node's 2026-03-10 instance."""
    return sum(i["Triggers"] for i in h.emu.instances(workspace=h.workspace(10001), node=node)
               if i["Bizdate"] == 1773072000000)


def _trigger_action(h) -> str:
    return "RunTriggerNode" if h.api == "2020-05-18" else "TriggerSchedulerTaskInstance"


# ---- what a send records ------------------------------------------------------------------------------------

def test_a_send_is_claimed_before_and_recorded_after(harness):
    h = harness(rules())
    [d], _ = invoke(h, "oss", ORDERS)
    assert (d["outcome"], d["held_until"]) == ("triggered", None)          # WAIT_TRIGGER: it runs now, no hold
    entry = claim(h, 1)
    assert entry == {"state": "sent", "rule": "orders", "event_id": d["event_id"], "claimed_at": now_ms(h),
                     "until": entry["until"], "token": entry["token"], "sent_at": now_ms(h),
                     "status": entry["status"], "request_id": d["dataworks_request_id"]}
    # Live until the invocation's deadline (60 s less its 3 s margin, less the little it spent before claiming: 5 s
    # at most, however loaded the machine) and the grace for clocks and FC's stop past it: never beyond.
    deadline_ms = entry["until"] - GRACE.total_seconds() * 1000
    assert now_ms(h) + 57_000 - 5_000 < deadline_ms <= now_ms(h) + 57_000
    assert entry["status"] in ("WAIT_TRIGGER", "WaitTrigger") and len(entry["token"]) == 16
    puts = [(c["key"], c["params"].get("forbid_overwrite")) for c in h.oss.calls if c["operation"] == "PutObject"]
    # created only if absent, then recorded; then what became of the instance, for other FC instances' deliveries
    assert puts == [(claim_key(h, 1), True), (claim_key(h, 1), False), (seen_key(h), False)]
    assert json.loads(h.oss.body("etl-ledger", seen_key(h))) == {
        "cycle_ms": CYCLE_MS, "biz_date_ms": 1773072000000, "what": "sent", "at_ms": now_ms(h)}


def test_a_redelivery_to_another_fc_instance_answers_from_what_the_ledger_saw_lately(harness):
    h = harness(rules())
    [first], _ = invoke(h, "oss", ORDERS)
    [again], _ = invoke(harness(h.rules_text), "oss", ORDERS)                # another FC instance, no call
    assert (again["outcome"], again["cycle_time_ms"], again["biz_date_ms"], again["attempts"]) == \
        ("already_triggered", CYCLE_MS, 1773072000000, 0)
    assert again["reason"] == ("the ledger says a delivery released it at "
                               f"{h.emu.clock.now().astimezone(ZONE).isoformat()} (not looked up again)")
    assert h.actions() == ["lookup", "trigger"]
    h.emu.clock.advance(TTL_S)                                               # a rerun by hand may have come since
    [late], _ = invoke(harness(h.rules_text), "oss", ORDERS)
    assert late["outcome"] == "already_triggered" and h.actions() == ["lookup", "trigger", "lookup"]


def test_what_the_ledger_saw_is_answered_from_within_the_grace_ahead_of_this_clock_and_never_further(harness):
    """Another FC instance's clock may run a little ahead: a sighting up to GRACE ahead is answered from; one dated
    further (a clock gone wrong, a record written by hand) says nothing, and the instance is looked up."""
    h = harness(rules())
    invoke(h, "oss", ORDERS)
    sighting = json.loads(h.oss.body("etl-ledger", seen_key(h)))
    for ahead, actions in ((GRACE, ["lookup", "trigger"]), (GRACE + timedelta(milliseconds=1),
                                                            ["lookup", "trigger", "lookup"])):
        h.oss.put("etl-ledger", seen_key(h), json.dumps(dict(sighting, at_ms=now_ms(h, -ahead))).encode())
        [again], _ = invoke(harness(h.rules_text), "oss", ORDERS)            # another FC instance
        assert again["outcome"] == "already_triggered" and h.actions() == actions


def test_a_retry_of_an_instance_not_generated_yet_answers_from_the_ledger_in_any_fc_instance(harness):
    h = harness(rules(node=700001300007))                   # deployed 03-11: no instance for 03-10
    [first], _ = invoke(h, "oss", ORDERS)
    [again], _ = invoke(harness(h.rules_text), "oss", ORDERS)                # FC's retry, another FC instance
    assert [(d["outcome"], d["error_code"], d["retryable"]) for d in (first, again)] == \
        [("failed", "InstanceNotFound", True)] * 2
    assert again["reason"].startswith("the ledger says a look-up at ") and h.actions() == ["lookup"]
    h.emu.clock.advance(ABSENT_S)                                            # generated since, maybe: look again
    [late], _ = invoke(harness(h.rules_text), "oss", ORDERS)
    assert late["error_code"] == "InstanceNotFound" and h.actions() == ["lookup", "lookup"]


def test_a_redelivery_after_the_run_marks_it_done_and_the_sweep_asks_nothing_more(harness):
    h = harness(rules('expect: {by: "06:00", days: 3}'))
    invoke(h, "oss", ORDERS)
    h.emu.clock.advance(TTL_S)                                  # what the ledger saw is too old to answer from
    [again], _ = invoke(harness(h.rules_text), "oss", ORDERS)                # another FC instance
    assert again["outcome"] == "already_triggered"
    done = f"dwtrigger/done/{h.api}/{h.workspace(10001)}/{NODE}/2026-03-10/{CYCLE_MS}.json"
    assert h.oss.body("etl-ledger", done) == b"{}"
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-10/_SUCCESS")
    calls = len(h.calls())
    decisions, tally = h.runtime.sweep(fc.context_for("sweep", timeout=60))
    assert tally.done == 1 and [d.biz_date for d in decisions] == ["2026-03-11", "2026-03-09"]    # overdue
    asked = [h.wire(10001, NODE, day, biz_ms, 0)[0]["Bizdate"]
             for day, biz_ms in (("2026-03-11", 1773158400000), ("2026-03-09", 1772985600000))]
    assert [c["params"]["Bizdate"] for c in h.calls()[calls:]] == asked    # still waiting? asked of 03-10: never


# ---- sends of unknown fate: never done, and the next delivery releases exactly once ------------------------

@ONE_API
def test_a_process_that_dies_between_claim_and_send_leaves_a_claim_fc_s_retry_releases(harness, tmp_path):
    """The sender is a real process, killed once its claim is stored and before its trigger is sent (the OSS
    stand-in stores the claim, then drips its answer). FC's retry, after the dead invocation's deadline, sends."""
    h = harness(rules())
    h.oss.set_faults(script=["drip"], drip_ms=2000, actions=["PutObject"])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"rules": h.rules_text, "api": h.api, "env": h.env, "now": h.emu.clock.now().isoformat(),
                                "source": "oss", "event": ORDERS.decode(), "timeout": 60}))
    child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("crash_child.py")), str(spec)],
                             cwd=Path(__file__).parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(600):                                       # the claim is stored: end the process there
            if claim(h, 1) is not None or child.poll() is not None:
                break
            time.sleep(0.05)
        assert claim(h, 1) is not None and child.poll() is None, child.communicate()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    h.oss.set_faults()
    assert claim(h, 1)["state"] == "sending" and h.calls("trigger") == []
    [meanwhile], raised = invoke(h, "oss", ORDERS, timeout=3)    # within the dead sender's deadline: not done
    assert (meanwhile["outcome"], meanwhile["error_code"], meanwhile["retryable"], raised) == (
        "failed", "SendInFlight", True, True)
    assert h.calls("trigger") == []
    h.emu.clock.advance(120)                                      # FC's retry, past the dead sender's deadline
    [retry], raised = invoke(h, "oss", ORDERS)
    assert (retry["outcome"], raised) == ("triggered", False)
    assert triggers(h) == 1 and duplicate_releases(h.emu) == 0
    assert claim(h, 1)["state"] == "sending" and claim(h, 2)["state"] == "sent"


def test_a_trigger_the_deadline_cut_is_failed_not_done_and_the_retry_reads_dataworks(harness):
    """The trigger's answer is dripped past the deadline (DataWorks took it) and the ledger takes no record of how
    the send ended: the decision is a retryable failure, and FC's retry learns from the look-up that it ran."""
    h = harness(rules())
    h.emu.set_faults(script=["drip"], drip_ms=400, actions=[_trigger_action(h)])
    h.oss.set_faults(script=["ok"] + ["error"] * 50, actions=["PutObject"])    # the claim; nothing after it
    [first], raised = invoke(h, "oss", ORDERS, timeout=3)
    assert (first["outcome"], first["error_code"], first["retryable"], raised) == ("failed", "DeadlineExceeded",
                                                                                   True, True)
    assert first["reason"].endswith("a trigger was sent and got no answer: it may have landed")
    assert claim(h, 1)["state"] == "sending"                      # the ledger took nothing after the claim
    h.oss.set_faults()
    h.emu.set_faults()
    h.emu.clock.advance(60)
    [retry], raised = invoke(h, "oss", ORDERS)
    assert (retry["outcome"], raised) == ("already_triggered", False)
    assert triggers(h) == 1 and len(h.calls("trigger")) == 1


@BOTH_APIS
def test_a_trigger_without_an_answer_is_recorded_unknown_and_sent_again_once_it_did_not_land(harness):
    """Every trigger of the invocation gets no answer (the connection drops before DataWorks acts): the claim
    ends `unknown` (the attempts leave the ledger time to record that, though it takes 0.7 s), the decision fails
    retryably; the retry waits out the grace a late trigger has to show, looks again, and sends."""
    h = harness(rules())
    h.emu.set_faults(drop_rate=1.0, actions=[_trigger_action(h)])
    h.oss.set_faults(script=["ok", "latency"], latency_ms=700, actions=["PutObject"])   # the claim; its record
    [first], raised = invoke(h, "oss", ORDERS, timeout=4)
    h.oss.set_faults()
    assert (first["outcome"], first["retryable"], raised) == ("failed", True, True)
    entry = claim(h, 1)
    assert (entry["state"], entry["sent_at"]) == ("unknown", now_ms(h))
    assert [c for c in h.oss.calls if c["operation"] == "PutObject"][0]["params"]["forbid_overwrite"] is True
    assert len([c for c in h.oss.calls if c["operation"] == "PutObject"]) == 2    # one claim for every attempt
    h.emu.set_faults()
    [early], _ = invoke(h, "oss", ORDERS, timeout=3)              # a late trigger could still show: not yet
    assert (early["outcome"], early["error_code"]) == ("failed", "SendInFlight")
    h.emu.clock.advance(GRACE.total_seconds() + 1)
    [retry], _ = invoke(h, "oss", ORDERS)
    assert retry["outcome"] == "triggered" and triggers(h) == 1
    assert claim(h, 2)["state"] == "sent"


def test_a_send_the_ledger_could_not_record_is_still_a_release_and_the_next_delivery_reads_dataworks(harness):
    h = harness(rules())
    h.oss.set_faults(script=["ok"] + ["forbidden"] * 20, actions=["PutObject"])    # the claim, then nothing
    [d], raised = invoke(h, "oss", ORDERS)
    assert (d["outcome"], raised) == ("triggered", False)
    assert d["reason"].endswith("the ledger could not record the send")
    assert claim(h, 1)["state"] == "sending"
    h.oss.set_faults()
    h.emu.clock.advance(120)
    [again], _ = invoke(h, "oss", ORDERS)
    assert again["outcome"] == "already_triggered" and triggers(h) == 1


def test_a_trigger_that_landed_without_an_answer_is_recorded_sent_once_the_retry_s_look_up_shows_it_ran(
        harness, monkeypatch):
    """The trigger's answer comes after the client gave up (DataWorks took it): the retry's look-up shows the
    instance released, and the claim records the send, so no later delivery waits on its fate."""
    h = harness(rules())
    monkeypatch.setattr(openapi, "READ_TIMEOUT_MS", 200)
    h.runtime.relay.sleep = lambda seconds: wait_for_calls(h, 2)     # the backoff ends once the trigger landed
    h.emu.set_faults(script=["latency", "ok"], latency_ms=1000, actions=[_trigger_action(h)])   # lands at 1 s
    [d], raised = invoke(h, "oss", ORDERS)
    assert (d["outcome"], d["attempts"], raised) == ("triggered", 2, False)
    assert d["reason"].startswith("an earlier attempt's trigger landed")
    assert claim(h, 1)["state"] == "sent" and claim(h, 2) is None and triggers(h) == 1


def test_a_retry_inside_the_invocation_sends_again_under_its_own_claim(harness):
    """A trigger that got no answer is retried within the invocation under the claim it already holds: no other
    claim, no ledger call between the attempts."""
    h = harness(rules())
    h.emu.set_faults(script=["drop"], actions=[_trigger_action(h)])
    [d], _ = invoke(h, "oss", ORDERS)
    assert (d["outcome"], d["attempts"]) == ("triggered", 2)
    assert len(h.calls("trigger")) == 2 and triggers(h) == 1
    assert [(c["operation"], c["key"]) for c in h.oss.calls] == [
        ("GetObject", seen_key(h)), ("PutObject", claim_key(h, 1)), ("PutObject", claim_key(h, 1)),
        ("PutObject", seen_key(h))]
    assert claim(h, 1)["state"] == "sent" and claim(h, 2) is None


# ---- claims another delivery holds ------------------------------------------------------------------------

def test_a_claim_in_flight_is_waited_for_and_its_accepted_send_is_final(harness):
    h = harness(rules())
    live = {"state": "sending", "rule": "orders", "event_id": "other", "claimed_at": now_ms(h),
            "until": now_ms(h) + 60_000}
    plant(h, 1, live)
    pauses = []

    def its_send_is_accepted(seconds):                          # while we wait for its claim (no real pause)
        if not pauses:
            plant(h, 1, dict(live, state="sent", sent_at=now_ms(h)))
        pauses.append(seconds)

    h.runtime.relay.sleep = its_send_is_accepted
    [d], raised = invoke(h, "oss", ORDERS)
    assert (d["outcome"], raised, len(pauses)) == ("already_triggered", False, 1)
    assert d["reason"] == "another delivery sent its trigger at 2026-03-12T09:00:00+08:00"
    assert h.calls("trigger") == [] and claim(h, 2) is None


def test_a_claim_in_flight_that_does_not_settle_fails_the_decision_retryably(harness):
    h = harness(rules())
    plant(h, 1, {"state": "sending", "rule": "orders", "event_id": "other", "claimed_at": now_ms(h),
                 "until": now_ms(h) + 60_000})
    [d], raised = invoke(h, "oss", ORDERS, timeout=3)
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "SendInFlight", True, True)
    assert d["reason"].startswith("another delivery claimed this instance at 2026-03-12T09:00:00+08:00 and is "
                                  "sending its trigger; its outcome was not known")
    assert h.calls("trigger") == [] and claim(h, 2) is None


def test_a_claim_that_goes_stale_while_waited_for_is_looked_past_after_a_new_look_up(harness):
    """The claimer's deadline passes while we wait for it, and its trigger landed meanwhile (out of our sight):
    our look-up predates that, so a new one is made, though its listing is younger than FRESH_S — it shows the
    instance ran: nothing sent twice."""
    h = harness(rules())
    plant(h, 1, {"state": "sending", "rule": "orders", "event_id": "other", "claimed_at": now_ms(h),
                 "until": now_ms(h) + int(FRESH_S * 500)})
    other = harness(orders_rules(f"{{workspace: 10001, node: {NODE}, at: \"00:30\"}}"))    # no ledger

    pauses = []

    def its_trigger_lands_and_its_time_runs_out(seconds):      # while we wait for its claim (no real pause)
        if not pauses:
            other.runtime.release_by_hand("orders", {"bizdate": date(2026, 3, 10)}, None, fc.context_for("cli"))
            h.emu.clock.advance(FRESH_S * 0.6)
        pauses.append(seconds)

    h.runtime.relay.sleep = its_trigger_lands_and_its_time_runs_out
    [d], raised = invoke(h, "oss", ORDERS)
    assert (d["outcome"], raised, len(pauses)) == ("already_triggered", False, 1), d
    assert triggers(h) == 1 and duplicate_releases(h.emu) == 0 and claim(h, 2) is None


def test_a_claim_whose_claimer_passed_its_deadline_is_looked_past(harness):
    h = harness(rules())
    stale = {"state": "sending", "rule": "orders", "event_id": "gone", "claimed_at": now_ms(h, timedelta(minutes=2)),
             "until": now_ms(h, timedelta(minutes=1))}
    plant(h, 1, stale)
    [d], _ = invoke(h, "oss", ORDERS)
    assert d["outcome"] == "triggered" and len(h.calls("trigger")) == 1
    assert claim(h, 1) == stale and claim(h, 2)["state"] == "sent"


def test_a_send_after_our_look_up_stops_ours_one_before_it_does_not(harness):
    """A look-up cannot show a trigger sent after it — nor one sent a few seconds before it, which DataWorks may
    not show yet: such a send is the racing delivery's. A send recorded well before a look-up that still shows the
    instance waiting did not take (a rerun): it is sent again."""
    h = harness(rules())
    racing = {"state": "sent", "rule": "orders", "event_id": "other", "claimed_at": now_ms(h), "sent_at": now_ms(h)}
    plant(h, 1, racing)
    [d], _ = invoke(h, "oss", ORDERS)
    assert (d["outcome"], d["reason"]) == ("already_triggered",
                                           "another delivery sent its trigger at 2026-03-12T09:00:00+08:00")
    just_before = now_ms(h, GRACE / 2)
    plant(h, 1, dict(racing, claimed_at=just_before, sent_at=just_before))
    [d], _ = invoke(h, "oss", ORDERS)
    assert (d["outcome"], d["reason"]) == ("already_triggered",
                                           "another delivery sent its trigger at 2026-03-12T08:59:55+08:00")
    assert h.calls("trigger") == []
    earlier = dict(racing, claimed_at=now_ms(h, timedelta(hours=1)), sent_at=now_ms(h, timedelta(hours=1)))
    plant(h, 1, earlier)
    [d], _ = invoke(h, "oss", ORDERS)
    assert d["outcome"] == "triggered" and claim(h, 2)["state"] == "sent"


# ---- holds: what the look-up shows beats what the ledger remembers ---------------------------------------

@BOTH_APIS
def test_a_hold_stands_while_the_instance_waits_on_its_parents(harness):
    h = harness(rules(node=BLOCKED))
    [first], _ = invoke(h, "oss", ORDERS)
    assert first["outcome"] == "triggered" and first["held_until"] == "2026-03-13T09:00:00+08:00"
    h.emu.clock.advance(3600)                                              # an hour on: still held
    [again], _ = invoke(harness(h.rules_text), "oss", ORDERS)              # another FC instance, no memory
    assert (again["outcome"], again["held_until"]) == ("already_triggered", first["held_until"])
    assert again["reason"].startswith("held since 2026-03-12T09:00:00+08:00")
    assert len(h.calls("trigger")) == 1


@BOTH_APIS
def test_a_hold_the_look_up_contradicts_does_not_stop_a_new_event(harness):
    """The instance ran and an operator reran it: it waits for its trigger again, though the ledger still holds a
    send DataWorks was holding. The look-up wins: the event sends."""
    h = harness(rules())
    held = {"state": "sent", "rule": "orders", "event_id": "old", "claimed_at": now_ms(h, timedelta(hours=2)),
            "sent_at": now_ms(h, timedelta(hours=2)), "held_until": now_ms(h, -timedelta(hours=22)),
            "status": "NOT_RUN"}
    plant(h, 1, held)
    [d], _ = invoke(h, "oss", ORDERS)
    assert d["outcome"] == "triggered" and triggers(h) == 1 and claim(h, 2)["state"] == "sent"


def test_dwtrigger_trigger_sends_after_a_rerun_despite_a_held_claim(emulator, oss_standin, tmp_path):
    """The same through the command line, which judges the ledger by the wall clock."""
    from click.testing import CliRunner
    from conftest import ROLE_KEY
    from dwtrigger.ops.cli import main

    path = tmp_path / "rules.yaml"
    path.write_text(orders_rules(f"{{workspace: 10001, node: {NODE}, at: \"00:30\"}}", extra=LEDGER))
    wall = int(time.time() * 1000)
    oss_standin.put("etl-ledger", f"dwtrigger/claims/2020-05-18/10001/{NODE}/{CYCLE_MS}/0001.json", json.dumps(
        {"state": "sent", "rule": "orders", "event_id": "old", "claimed_at": wall - 7_200_000,
         "sent_at": wall - 7_200_000, "held_until": wall + 79_200_000, "status": "NOT_RUN"}).encode())
    env = {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
           "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint, "POWERTOOLS_SERVICE_NAME": "dwtrigger-ledger-cli", **ROLE_KEY}
    result = CliRunner().invoke(main, ["trigger", "--rule", "orders", "--bizdate", "2026-03-10", "--rules", str(path)],
                                env=env)
    assert result.exit_code == 0, result.output
    assert "triggered: orders node 700001234567 bizdate 2026-03-10" in result.stderr
    assert [c["action"] for c in emulator.calls] == ["ListInstances", "RunTriggerNode"]


# ---- objects of any shape: understood, or not ours and not confirmed ---------------------------------------

def _odd(h) -> dict:
    base = {"state": "sent", "rule": "orders", "event_id": "x", "claimed_at": now_ms(h), "sent_at": now_ms(h)}
    year = 365 * 86_400_000
    return {
        "sent without sent_at": json.dumps({k: v for k, v in base.items() if k != "sent_at"}).encode(),
        "sending claimed next year": json.dumps(dict(base, state="sending", claimed_at=now_ms(h) + year)).encode(),
        "sending until next year": json.dumps(dict(base, state="sending", until=now_ms(h) + year)).encode(),
        "held for ten years": json.dumps(dict(base, held_until=now_ms(h) + 10 * year)).encode(),
        "sent in the future": json.dumps(dict(base, sent_at=now_ms(h) + year)).encode(),
        "a state of its own": json.dumps(dict(base, state="done")).encode(),
        "times as text": json.dumps(dict(base, claimed_at=str(now_ms(h)))).encode(),
        "negative time": json.dumps(dict(base, claimed_at=-1, sent_at=-1)).encode(),
        "null": b"null",
        "cut short": b'{"state": "sen',
        "binary": bytes(range(256)),
    }


@pytest.mark.parametrize("shape", ["sent without sent_at", "sending claimed next year", "sending until next year",
                                   "held for ten years", "sent in the future", "a state of its own", "times as text",
                                   "negative time", "null", "cut short", "binary"])
@ONE_API
def test_a_claim_of_any_shape_is_never_a_traceback_nor_a_wedge(harness, shape):
    h = harness(rules())
    plant(h, 1, _odd(h)[shape])
    [d], raised = invoke(h, "oss", ORDERS)
    assert (d["outcome"], raised) == ("triggered", False), d
    assert triggers(h) == 1 and claim(h, 2)["state"] == "sent"
    [again], _ = invoke(harness(h.rules_text), "oss", ORDERS)
    assert again["outcome"] == "already_triggered" and triggers(h) == 1


@pytest.mark.parametrize("name, ours", [
    ("0002.json.partial", "0002.json"), ("00\u00b2.json", "0002.json"), ("\u0669\u0669.json", "0002.json"),
    ("0x10.json", "0002.json"), ("-1.json", "0002.json"), (" 3.json", "0002.json"),
    ("99999999999999999999.json", "100000000000000000000.json"),        # a number: the next claim is after it
])
@ONE_API
def test_a_claim_name_that_is_almost_a_number_or_a_huge_one_wedges_nothing(harness, name, ours):
    h = harness(rules())
    folder = claim_key(h, 1).rsplit("/", 1)[0]
    h.oss.put("etl-ledger", f"{folder}/{name}", b"{}")
    plant(h, 1, {"state": "failed", "rule": "orders", "event_id": "x", "claimed_at": now_ms(h)})   # so it lists
    [d], raised = invoke(h, "oss", ORDERS)
    assert (d["outcome"], raised) == ("triggered", False), d
    states = {key.rsplit("/", 1)[1]: json.loads(h.oss.body("etl-ledger", key))["state"]
              for key in h.oss.objects("etl-ledger") if key.startswith(folder) and key != f"{folder}/{name}"}
    assert states == {"0001.json": "failed", ours: "sent"} and triggers(h) == 1
    [again], _ = invoke(harness(h.rules_text), "oss", ORDERS)
    assert again["outcome"] == "already_triggered" and triggers(h) == 1


# ---- a ledger that cannot be reached, a refused trigger ---------------------------------------------------

def test_a_ledger_that_cannot_be_reached_sends_nothing(harness):
    h = harness(rules())
    h.oss.set_faults(forbidden_rate=1.0, actions=["PutObject"])
    [d], raised = invoke(h, "oss", ORDERS)
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "AccessDenied", False, True)
    assert d["reason"].startswith("OSS: ") and h.calls("trigger") == []


@BOTH_APIS
def test_a_refused_trigger_frees_the_instance_for_the_next_delivery(harness):
    h = harness(rules())
    h.emu.set_faults(script=["forbidden"], actions=[_trigger_action(h)])
    [first], raised = invoke(h, "oss", ORDERS)
    assert (first["outcome"], first["error_code"], raised) == ("failed", "ResourceNotAuthorized.Api", True)
    assert claim(h, 1)["state"] == "failed"
    [second], _ = invoke(h, "oss", ORDERS)
    assert second["outcome"] == "triggered" and claim(h, 2)["state"] == "sent"


# ---- the `asked` record: an MNS or timer rule's evidence ----------------------------------------------------

TIMER_RULES = f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai, {LEDGER}}}
rules:
  - name: nightly
    on: timer
    timer: nightly
    expect: {{by: "06:00", days: 2}}
    trigger: [{{workspace: 10001, node: {NIGHTLY}, at: "00:05"}}]
"""


def test_a_timer_event_is_the_evidence_the_sweep_releases_from(harness):
    h = harness(TIMER_RULES)
    h.emu.set_faults(script=["forbidden"], actions=[_trigger_action(h)])        # its trigger is lost
    [d], _ = invoke(h, "timer", sample("timer/nightly.json"))
    assert (d["outcome"], d["biz_date"]) == ("failed", "2026-03-11")
    assert json.loads(h.oss.body("etl-ledger", f"dwtrigger/asked/nightly/{NIGHTLY}/2026-03-11.json")) == {
        "event_id": d["event_id"]}
    decisions, tally = h.runtime.sweep(fc.context_for("sweep", timeout=60))
    records = [x.record() for x in decisions]
    assert [(r["outcome"], r["biz_date"]) for r in records] == [("overdue", "2026-03-10"), ("triggered", "2026-03-11")]
    assert records[1]["reason"].startswith(
        f"the sweep found oss://etl-ledger/dwtrigger/asked/nightly/{NIGHTLY}/2026-03-11.json")
    assert records[0]["reason"].endswith("no event asked for this release (the ledger has no record of one)")
    assert claim(h, 2, node=NIGHTLY, cycle_ms=NIGHTLY_CYCLE_MS)["state"] == "sent"
    assert tally.released == 1 and len(h.calls("trigger")) == 2
