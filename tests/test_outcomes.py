"""Decision lines are the audit trail: each is written the moment its decision is made, no log-level setting
hides or breaks one, and each is one line of valid JSON whatever the event held."""
import io
import json
import logging
import threading
import time
import uuid

import pytest

from conftest import ROLE_KEY, orders_rules, queue_rules, sample
from dwtrigger import app
from dwtrigger.ops import fc
from dwtrigger.outcomes import Decision, DecisionLog, one_line_json

HOSTILE = ["\ud800", "\udfff tail", "a\u2028b", "a\u2029b", "nel\u0085", "c1\u009b[31m", "quote\" and \\", "\x00\n\r"]


@pytest.mark.parametrize("level", ["WARNING", "ERROR", "CRITICAL", "verbose", ""])
def test_no_log_level_setting_filters_or_breaks_a_decision_line(monkeypatch, level):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", level)
    stream = io.StringIO()
    log = DecisionLog(service=f"dwtrigger-level-{uuid.uuid4().hex[:8]}", stream=stream)
    for outcome in ("triggered", "already_triggered", "ignored", "dry_run", "rejected", "failed"):
        log.write(Decision(outcome, "oss", "e-1"))
    assert [json.loads(line)["outcome"] for line in stream.getvalue().splitlines()] == \
        ["triggered", "already_triggered", "ignored", "dry_run", "rejected", "failed"]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_line_is_one_line_of_valid_json_whatever_a_field_holds(text):
    stream = io.StringIO()
    log = DecisionLog(service=f"dwtrigger-json-{uuid.uuid4().hex[:8]}", stream=stream)
    log.write(Decision("triggered", "oss", text, bucket=text, key=text, reason=text))
    written = stream.getvalue()
    written.encode("utf-8")                                    # no lone surrogate reaches the stream
    [line] = written.split("\n")[:-1]                          # str.split: only "\n" ends a line here...
    assert line.splitlines() == [line]                         # ...and no reader finds another break in it
    record = json.loads(line)
    assert record["event_id"] == record["key"] == record["reason"] == text


def test_one_line_json_escapes_only_what_readers_break_on():
    assert one_line_json({"k": "exports/订单/é"}) == '{"k":"exports/订单/é"}'
    assert one_line_json({"k": "\u2028\ud800"}) == '{"k":"\\u2028\\ud800"}'


def test_a_released_event_with_hostile_ids_is_logged(harness):
    """A CloudEvent id and an FC request id with a lone surrogate and a line separator: released and on record."""
    h = harness()
    event = json.loads(sample("oss/eventbridge-single.json"))
    event["id"] = "id-\ud800-\u2028"
    context = fc.Context(fc.Function("dwtrigger-oss"), request_id="req-\udfff-\u0085")
    [d] = h.invoke("oss", json.dumps(event).encode("utf-8", "surrogatepass"), context)
    assert d["outcome"] == "triggered"
    [line] = h.lines()
    assert (line["outcome"], line["event_id"], line["request_id"]) == ("triggered", event["id"], context.request_id)


def test_a_decision_is_on_record_before_the_next_one_starts(harness):
    """While the second message's look-up is still in flight, the first message's release is already logged: an
    instance killed at that moment leaves every release it made on record."""
    h = harness(queue_rules())
    h.emu.set_faults(script=["ok", "ok", "latency"], latency_ms=10_000)
    done = threading.Thread(target=h.invoke, args=("mns", sample("mns/queue-eventbridge-list.json")))
    done.start()
    give_up = time.monotonic() + 8
    while not h.stream.getvalue() and time.monotonic() < give_up:
        time.sleep(0.01)
    logged = [json.loads(line)["outcome"] for line in h.stream.getvalue().splitlines()]
    answered = h.actions()
    h.emu.reset()                                              # ends the slow look-up at once
    done.join()
    assert logged == ["triggered"] and answered == ["lookup", "trigger"]


def test_what_fc_gets_back_holds_the_same_scrubbed_records(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001234567}"))
    token = ROLE_KEY["ALIBABA_CLOUD_SECURITY_TOKEN"]     # a hostile answer echoes it back as its error code
    h.emu.set_faults(malformed_rate=1, malformed_body=json.dumps({"Success": False, "ErrorCode": token}))
    with pytest.raises(app.TriggerFailed) as err:
        h.handle("oss", sample("oss/native-put-orders.json"), fc.context_for("oss", timeout=2))
    [decision] = err.value.decisions
    assert decision.error_code == "[redacted]"
    assert decision.record() == {k: v for k, v in h.lines()[0].items() if k in decision.record()}
    assert token not in str(err.value) + repr(err.value.decisions) + h.stream.getvalue()


@pytest.mark.parametrize("decision", [
    Decision("triggered", "oss", "e-1", rule="orders", bucket="b", key="exports/dt=2026-03-09/_SUCCESS", workspace=1,
             node=2, biz_date="2026-03-09", biz_date_ms=1773000000000, attempts=1, duration_ms=12),
    Decision("failed", "mns", HOSTILE[0], reason=" ".join(HOSTILE), retryable=True, error_code="Throttling.User"),
    Decision("ignored", "timer", None, reason='{"a": 1}'),
])
def test_a_decision_line_is_the_line_powertools_own_formatter_writes(monkeypatch, decision):
    """The lean path for decision lines (outcomes._SameFieldsFormatter.format) against Powertools' format() of
    the same record with the decision's fields as extras: the same keys, in the same order, with the same values."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-abc-def;Parent=1")
    stream = io.StringIO()
    log = DecisionLog(service=f"dwtrigger-oracle-{uuid.uuid4().hex[:8]}", stream=stream)
    log.bind(fc.context_for("oss"))
    log.write(decision)
    [written] = stream.getvalue().splitlines()
    mine = json.loads(written)
    record = log.logger._logger.makeRecord("x", logging.getLevelName(mine["level"]), "outcomes.py", 1,
                                           mine["message"], None, None, func="write", extra=decision.record())
    formatter = log.logger._logger.handlers[0].formatter
    theirs = json.loads(super(type(formatter), formatter).format(record))
    assert list(mine) == list(theirs)
    assert {k: v for k, v in mine.items() if k not in ("timestamp", "location")} == \
        {k: v for k, v in theirs.items() if k not in ("timestamp", "location")}
    assert mine["xray_trace_id"] == "1-abc-def" and mine["request_id"] and mine["outcome"] == decision.outcome
