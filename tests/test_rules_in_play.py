"""What the rules file's newer words do end to end, through the runtime, the real SDKs, the DataWorks emulator and
the OSS stand-in (both APIs): `bizdate_offset` (the relay, `require` and the sweep), an instant in a message field,
an MNS rule for any message (a STREAM delivery names no topic), and `enabled: false`."""
import json

from checks import invoke
from conftest import sample
from dwtrigger.ops import fc

NODE = 700001234567                                 # orders_trigger, 00:30 Shanghai
BY_RUN_DAY = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders-by-run-day
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    bizdate_offset: -1
    require: ["exports/customers/run={bizdate:%Y%m%d}/_SUCCESS"]
    EXTRA
    trigger: [{workspace: 10001, node: 700001234567}]
"""


def orders_event(day: str) -> bytes:
    doc = json.loads(sample("oss/native-put-orders.json"))
    doc["events"][0]["oss"]["object"]["key"] = f"exports/orders/dt={day}/_SUCCESS"
    return json.dumps(doc).encode()


def test_a_file_named_by_the_day_its_job_ran_releases_the_day_before(harness):
    h = harness(BY_RUN_DAY.replace("EXTRA", ""))
    [waiting], _ = invoke(h, "oss", orders_event("2026-03-11"))
    assert (waiting["outcome"], waiting["biz_date"], waiting["reason"]) == (
        "waiting_for_files", "2026-03-10",
        "waiting for 1 of 1 required objects: oss://etl-landing/exports/customers/run=20260311/_SUCCESS")
    h.oss.put("etl-landing", "exports/customers/run=20260311/_SUCCESS")
    [d], _ = invoke(h, "oss", orders_event("2026-03-11"))
    assert (d["outcome"], d["biz_date"], d["biz_date_ms"], d["cycle_time_ms"]) == (
        "triggered", "2026-03-10", 1773072000000, 1773160200000)
    [lookup], [trigger] = h.calls("lookup"), h.calls("trigger")
    assert (lookup["params"], trigger["params"]) == h.wire(10001, NODE, "2026-03-10", 1773072000000, 1773160200000)


def test_the_sweep_looks_for_the_files_of_a_business_date_under_the_next_day(harness):
    h = harness(BY_RUN_DAY.replace("EXTRA", 'ledger: "oss://etl-ledger/dwtrigger/"\n'
                                            '    expect: {by: "06:00", days: 2}'))
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-12/_SUCCESS")          # business date 2026-03-11
    h.oss.put("etl-landing", "exports/customers/run=20260312/_SUCCESS")
    decisions, tally = h.runtime.sweep(fc.context_for("sweep", timeout=60))    # 2026-03-12 09:00 Shanghai
    records = [d.record() for d in decisions]
    assert [(d["outcome"], d["biz_date"], d["key"]) for d in records] == [
        ("overdue", "2026-03-10", "exports/orders/dt=2026-03-11/_SUCCESS"),
        ("triggered", "2026-03-11", "exports/orders/dt=2026-03-12/_SUCCESS")]
    assert records[1]["reason"].startswith(
        "the sweep found oss://etl-landing/exports/orders/dt=2026-03-12/_SUCCESS, "
        "oss://etl-landing/exports/customers/run=20260312/_SUCCESS")
    assert records[0]["reason"] == (
        "no evidence by 2026-03-11T06:00:00+08:00: missing oss://etl-landing/exports/orders/dt=2026-03-11/_SUCCESS, "
        "oss://etl-landing/exports/customers/run=20260311/_SUCCESS")
    assert [c["params"] for c in h.calls("trigger")] == [
        h.wire(10001, NODE, "2026-03-11", 1773158400000, 1773246600000)[1]]
    assert (tally.released, tally.overdue) == (1, 1)


ANY_MESSAGE = """\
version: 1
defaults: {timezone: Europe/Berlin, region: cn-shanghai}
rules:
  - {name: named-topic, on: mns, topic: etl-done, timezone: Asia/Shanghai,
     trigger: [{workspace: 10001, node: 700001235300}]}
  - {name: any-message, on: mns, bizdate: {field: closed_at, format: epoch_ms},
     trigger: [{workspace: 10002, node: 700009999}]}
  - {name: resting, on: mns, enabled: false, trigger: [{workspace: 10001, node: 700001235100}]}
"""


def test_a_stream_message_without_a_topic_is_taken_by_the_rule_for_any_message(harness):
    h = harness(ANY_MESSAGE)
    body = json.dumps({"job": "finance-close", "closed_at": 1773097200000}).encode()   # 2026-03-10 00:00 Berlin
    [d], raised = invoke(h, "mns", body)
    assert not raised
    assert (d["outcome"], d["rule"], d["topic"], d["biz_date"], d["biz_date_ms"], d["cycle_time_ms"]) == (
        "triggered", "any-message", None, "2026-03-10", 1773097200000, 1773190800000)
    [lookup], [trigger] = h.calls("lookup"), h.calls("trigger")
    assert (lookup["params"], trigger["params"]) == \
        h.wire(10002, 700009999, "2026-03-10", 1773097200000, 1773190800000)


def test_a_topic_message_goes_to_its_topic_rule_and_the_rule_for_any_message(harness):
    h = harness(ANY_MESSAGE)
    doc = json.loads(sample("mns/topic-json-finance.json"))
    doc["Message"] = json.dumps({"closed_at": 1773183599999})                         # 2026-03-10 23:59:59.999
    records, _ = invoke(h, "mns", json.dumps(doc).encode())
    assert [(d["rule"], d["outcome"], d["biz_date"]) for d in records] == [
        ("named-topic", "triggered", "2026-03-10"), ("any-message", "triggered", "2026-03-10")]


def test_a_disabled_rule_takes_nothing(harness):
    h = harness(ANY_MESSAGE.replace("on: mns, topic: etl-done", "on: mns, topic: etl-done, enabled: false")
                .replace("on: mns, bizdate", "on: mns, topic: other, bizdate"))
    [d], _ = invoke(h, "mns", sample("mns/topic-json-finance.json"))
    assert (d["outcome"], d["rule"], d["reason"]) == ("ignored", None, (
        "no rule matched (rule 'named-topic' would have, but it is disabled: enabled: false at <rules>:4; rule "
        "'resting' would have, but it is disabled: enabled: false at <rules>:8)"))
    assert h.calls() == []


STREAM = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - {name: by-receipt, on: mns, message: {job: [finance-close]}, trigger: [{workspace: 10001, node: 700001235300}]}
  - {name: by-field, on: mns, message: {job: [finance-close]}, bizdate: {field: bizdate, format: "%Y%m%d"},
     timezone: Europe/Berlin,
     trigger: [{workspace: 10002, node: 700009999}]}
"""


def test_a_stream_message_names_the_same_instance_on_every_delivery_or_is_refused(harness):
    """A STREAM message carries no time of its own: the rule that reads its date from a field releases the same
    instance when FC retries it after midnight; the rule that would date it by its time is refused with the
    reason (nothing sent), and the handler does not raise for it: no retry can date it better."""
    h = harness(STREAM)
    body = sample("mns/topic-stream-raw.txt")
    first, raised = invoke(h, "mns", body)
    h.emu.clock.advance(24 * 3600)                                   # FC's retry, or a replay, the next day
    again, _ = invoke(h, "mns", body)
    for records in (first, again):
        assert [d["rule"] for d in records] == ["by-receipt", "by-field"] and records[0]["outcome"] == "rejected"
        assert records[1]["biz_date"] == "2026-03-10"
        assert records[0]["reason"].startswith(
            "the message carries no time of its own (MNS STREAM format), and rule 'by-receipt' dates what it takes by "
            "its time: the time it was received would name another business date when FC retries it or it is "
            "replayed after midnight.")
    assert [d["outcome"] for d in (first[1], again[1])] == ["triggered", "already_triggered"], (first, again)
    assert not raised
    assert {c["params"].get("NodeId", c["params"].get("TaskId")) for c in h.calls()} == {"700009999"}
