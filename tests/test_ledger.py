"""The ledger's objects as the relay writes and reads them in the OSS stand-in (through the real OSS SDK), on both
APIs: what a send records, a dead sender's claim, a claim that is not ours, a ledger that cannot be reached, a
refused trigger, and the `asked` record that is an MNS or timer rule's evidence for the sweep."""
import json
from datetime import timedelta

from checks import invoke
from conftest import orders_rules, sample
from dwtrigger.ops import fc

LEDGER = 'ledger: "oss://etl-ledger/dwtrigger/"'
NODE, CYCLE_MS = 700001234567, 1773160200000                  # orders_trigger, 2026-03-11 00:30 Shanghai
NIGHTLY, NIGHTLY_CYCLE_MS = 700001235000, 1773245100000       # nightly_trigger, 2026-03-12 00:05 Shanghai


def rules(extra: str = "") -> str:
    return orders_rules(f"{{workspace: 10001, node: {NODE}, at: \"00:30\"}}", extra=f"{LEDGER}\n    {extra}")


def claim_key(h, n: int, node: int = NODE, cycle_ms: int = CYCLE_MS) -> str:
    return f"dwtrigger/claims/{h.api}/{h.workspace(10001)}/{node}/{cycle_ms}/{n:04d}.json"


def claim(h, n: int, **where) -> dict:
    body = h.oss.body("etl-ledger", claim_key(h, n, **where))
    return None if body is None else json.loads(body)


def now_ms(h, minus: timedelta = timedelta()) -> int:
    return int((h.emu.clock.now() - minus).timestamp() * 1000)


def test_a_send_is_claimed_before_and_recorded_after(harness):
    h = harness(rules())
    [d], _ = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert (d["outcome"], d["held_until"]) == ("triggered", None)          # WAIT_TRIGGER: it runs now, no hold
    entry = claim(h, 1)
    assert entry == {"state": "sent", "rule": "orders", "event_id": d["event_id"], "claimed_at": now_ms(h),
                     "sent_at": now_ms(h), "status": entry["status"], "request_id": d["dataworks_request_id"]}
    assert entry["status"] in ("WAIT_TRIGGER", "WaitTrigger")
    puts = [(c["key"], c["params"].get("forbid_overwrite")) for c in h.oss.calls if c["operation"] == "PutObject"]
    assert puts == [(claim_key(h, 1), True), (claim_key(h, 1), False)]     # created only if absent, then recorded


def test_a_redelivery_after_the_run_marks_it_done_and_the_sweep_asks_nothing_more(harness):
    h = harness(rules('expect: {by: "06:00", days: 3}'))
    invoke(h, "oss", sample("oss/native-put-orders.json"))
    [again], _ = invoke(harness(h.rules_text), "oss", sample("oss/native-put-orders.json"))   # another FC instance
    assert again["outcome"] == "already_triggered"
    done = f"dwtrigger/done/{h.api}/{h.workspace(10001)}/{NODE}/2026-03-10/{CYCLE_MS}.json"
    assert h.oss.body("etl-ledger", done) == b"{}"
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-10/_SUCCESS")
    calls = len(h.calls())
    _, tally = h.runtime.sweep(fc.context_for("sweep", timeout=60))
    assert (tally.done, tally.lookups, len(h.calls())) == (1, 0, calls)


def test_a_claim_whose_sender_died_is_taken_over(harness):
    h = harness(rules())
    stale = {"state": "sending", "rule": "orders", "event_id": "gone", "claimed_at": now_ms(h, timedelta(minutes=16))}
    h.oss.put("etl-ledger", claim_key(h, 1), json.dumps(stale).encode())
    [d], _ = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert d["outcome"] == "triggered" and len(h.calls("trigger")) == 1
    assert claim(h, 1) == stale and claim(h, 2)["state"] == "sent"


def test_a_claim_in_flight_stops_a_second_send(harness):
    h = harness(rules())
    live = {"state": "sending", "rule": "orders", "event_id": "other", "claimed_at": now_ms(h, timedelta(minutes=1))}
    h.oss.put("etl-ledger", claim_key(h, 1), json.dumps(live).encode())
    [d], raised = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert (d["outcome"], raised) == ("already_triggered", False)
    assert d["reason"] == ("another delivery claimed this instance at 2026-03-12T08:59:00+08:00 and is sending its "
                           "trigger")
    assert h.calls("trigger") == [] and claim(h, 2) is None


def test_a_send_after_our_look_up_stops_ours_one_before_it_does_not(harness):
    """A look-up cannot show a trigger sent after it: a send recorded since is the racing delivery's. A send
    recorded before a look-up that still shows the instance waiting did not take (a rerun): it is sent again."""
    h = harness(rules())
    racing = {"state": "sent", "rule": "orders", "event_id": "other", "claimed_at": now_ms(h), "sent_at": now_ms(h)}
    h.oss.put("etl-ledger", claim_key(h, 1), json.dumps(racing).encode())
    [d], _ = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert (d["outcome"], d["reason"]) == ("already_triggered",
                                           "another delivery sent its trigger at 2026-03-12T09:00:00+08:00")
    assert h.calls("trigger") == []
    earlier = dict(racing, claimed_at=now_ms(h, timedelta(hours=1)), sent_at=now_ms(h, timedelta(hours=1)))
    h.oss.put("etl-ledger", claim_key(h, 1), json.dumps(earlier).encode())
    [d], _ = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert d["outcome"] == "triggered" and claim(h, 2)["state"] == "sent"


def test_a_claim_that_is_not_ours_counts_as_a_failed_send(harness):
    h = harness(rules())
    h.oss.put("etl-ledger", claim_key(h, 1), b'{"state": "sen')                # cut short
    [d], _ = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert d["outcome"] == "triggered" and claim(h, 2)["state"] == "sent"


def test_a_ledger_that_cannot_be_reached_sends_nothing(harness):
    h = harness(rules())
    h.oss.set_faults(forbidden_rate=1.0, actions=["PutObject"])
    [d], raised = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "AccessDenied", False, True)
    assert d["reason"].startswith("OSS: ") and h.calls("trigger") == []


def test_a_refused_trigger_frees_the_instance_for_the_next_delivery(harness):
    h = harness(rules())
    h.emu.set_faults(script=["forbidden"], actions=[_trigger_action(h)])
    [first], raised = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert (first["outcome"], first["error_code"], raised) == ("failed", "ResourceNotAuthorized.Api", True)
    assert claim(h, 1)["state"] == "failed"
    [second], _ = invoke(h, "oss", sample("oss/native-put-orders.json"))
    assert second["outcome"] == "triggered" and claim(h, 2)["state"] == "sent"


def _trigger_action(h) -> str:
    return "RunTriggerNode" if h.api == "2020-05-18" else "TriggerSchedulerTaskInstance"


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
    assert [(r["outcome"], r["biz_date"]) for r in records] == [("triggered", "2026-03-11"), ("overdue", "2026-03-10")]
    assert records[0]["reason"].startswith(
        f"the sweep found oss://etl-ledger/dwtrigger/asked/nightly/{NIGHTLY}/2026-03-11.json")
    assert records[1]["reason"].endswith("no event asked for this release (the ledger has no record of one)")
    assert claim(h, 2, node=NIGHTLY, cycle_ms=NIGHTLY_CYCLE_MS)["state"] == "sent"
    assert tally.released == 1 and len(h.calls("trigger")) == 2
