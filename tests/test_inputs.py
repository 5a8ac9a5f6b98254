"""How replay and explain read operators' files: one Record or Unreadable per record, never a guess."""
import json

from datetime import datetime, timezone

from conftest import sample
from dwtrigger import events
from dwtrigger.ops.inputs import Record, Unreadable, built, read
from dwtrigger.sources import mns as mns_source, oss as oss_source, timer as timer_source


def oss_event(*facts) -> Record:
    return built(*oss_source.oss_event(*facts))


def topic_message(*facts) -> Record:
    return built(*mns_source.topic_message(*facts))


def queue_message(*facts) -> Record:
    return built(*mns_source.queue_message(*facts))


def timer_event(*facts) -> Record:
    return built(*timer_source.timer_event(*facts))

ADVICE = "if it is a raw MNS STREAM message body, pass --source mns"


def dead_letter(event: str, request_id: str = "r-1") -> dict:
    """An FC failure-destination record of one sample event, as the dead-letter queue holds it."""
    return {"timestamp": 1773190000000, "requestContext": {"requestId": request_id, "functionArn": "acs:fc:x",
            "condition": "UnhandledInvocationError", "approximateInvokeCount": 4},
            "requestPayload": sample(event).decode(), "responseContext": {"statusCode": 200}}


def test_a_truncated_dead_letter_line_is_unreadable_and_costs_its_siblings_nothing():
    orders, nightly = dead_letter("oss/native-put-orders.json"), dead_letter("timer/nightly.json", "r-3")
    cut = json.dumps(dead_letter("mns/topic-json-finance.json", "r-2"))[:70]
    data = f"{json.dumps(orders)}\n{cut}\n{json.dumps(nightly)}\n".encode()
    assert read("dlq.ndjson", data) == [
        Record("dlq.ndjson:1", None, sample("oss/native-put-orders.json"), orders),
        Unreadable("dlq.ndjson:2", "not valid JSON at line 2, column 69: Unterminated string", cut.encode()),
        Record("dlq.ndjson:3", None, sample("timer/nightly.json"), nightly),
    ]
    assert [item.function for item in read("dlq.ndjson", data) if isinstance(item, Record)] == ["oss", "timer"]


def test_a_truncated_line_is_never_a_stream_body_even_when_the_function_is_named():
    data = b'{"job": "finance-close", "status": "SUCC\n{"job": "finance-close", "status": "SUCCEEDED"}\n'
    assert read("msgs.ndjson", data, "mns") == [
        Unreadable("msgs.ndjson:1", "not valid JSON at line 1, column 36: Unterminated string",
                   b'{"job": "finance-close", "status": "SUCC'),
        Record("msgs.ndjson:2", "mns", b'{"job": "finance-close", "status": "SUCCEEDED"}',
               {"job": "finance-close", "status": "SUCCEEDED"}),
    ]


def test_labels_name_the_file_line_and_list_index():
    batch = json.loads(sample("oss/eventbridge-list.json"))         # an EventBridge batch: one delivery
    timer = json.loads(sample("timer/nightly.json"))
    listing = read("events.json", json.dumps([timer, timer]).encode())
    assert [item.label for item in listing] == ["events.json[0]", "events.json[1]"]
    lines = f"\n{json.dumps([timer, batch])}\n\n  \n{json.dumps(batch)}\n".encode()
    assert [(item.label, item.function) for item in read("mixed.ndjson", lines)] == [
        ("mixed.ndjson:2[0]", "timer"), ("mixed.ndjson:2[1]", "oss"), ("mixed.ndjson:5", "oss")]
    assert [item.label for item in read("one.json", sample("oss/native-put-orders.json"))] == ["one.json"]


def test_a_list_of_cloudevents_as_json_strings_is_one_delivery_and_a_list_of_other_strings_is_not():
    strings = json.loads(sample("kafka/eventbridge-strings.json"))    # as Kafka triggers of 2022 sent them
    [record] = read("kafka.json", sample("kafka/eventbridge-strings.json"))
    assert (record.label, record.function, record.original) == ("kafka.json", "kafka", strings)
    mixed = read("mixed.json", json.dumps([*strings, "hello topic"]).encode())
    assert [(item.label, type(item)) for item in mixed] == [("mixed.json[0]", Unreadable),
                                                            ("mixed.json[1]", Unreadable)]


def test_a_file_of_no_json_is_unreadable_unless_its_function_is_named():
    [unreadable] = read("body.txt", b"hello topic\n")
    assert unreadable == Unreadable("body.txt", f"not valid JSON at line 1, column 1: Expecting value; {ADVICE}",
                                    b"hello topic\n")
    assert read("body.txt", b"hello topic\n", "mns") == [Record("body.txt", "mns", b"hello topic\n",
                                                                 b"hello topic\n")]
    [truncated] = read("truncated.json", sample("malformed/truncated.json"))
    assert truncated.reason == "not valid JSON at line 11, column 19: Unterminated string"   # a broken document


def test_only_text_that_is_no_json_document_gets_the_stream_advice():
    assert [item.reason for item in read("a.json", b'\n  [{"triggerName": "a"},\n')] == [
        "not valid JSON at line 3, column 1: Expecting value"]
    assert [item.reason for item in read("b.txt", b"job finance-close done\n")] == [
        f"not valid JSON at line 1, column 1: Expecting value; {ADVICE}"]


def test_bytes_that_are_not_utf8_are_located():
    [whole] = read("not-utf8.bin", sample("malformed/not-utf8.bin"))
    assert whole.reason == "not UTF-8 at line 1, column 65: byte 0xe9"
    [good, bad] = read("dlq.ndjson", b'{"triggerName": "a", "triggerTime": "2026-03-11T16:00:00Z"}\n{"k": "\xff"}\n')
    assert (good.label, good.function) == ("dlq.ndjson:1", "timer")
    assert bad == Unreadable("dlq.ndjson:2", "not UTF-8 at line 2, column 8: byte 0xff", b'{"k": "\xff"}')


def test_a_bare_json_string_is_a_raw_event_only_for_a_named_function():
    data = b'"hello topic"\n42\n'
    assert read("raw.ndjson", data) == [
        Unreadable("raw.ndjson:1", f"a bare JSON string is not an event document; {ADVICE}", b'"hello topic"'),
        Unreadable("raw.ndjson:2", f"a bare JSON number is not an event document; {ADVICE}", b"42")]
    assert read("raw.ndjson", data, "mns") == [Record("raw.ndjson:1", "mns", b"hello topic", "hello topic"),
                                               Record("raw.ndjson:2", "mns", b"42", 42)]


def test_each_line_reads_back_as_the_same_record():
    record = dead_letter("timer/nightly.json")
    [fdr] = read("dlq.ndjson", json.dumps(record, indent=2).encode())
    assert fdr.line() == json.dumps(record, separators=(",", ":")).encode()
    assert read("again", fdr.line()) == [Record("again", None, fdr.raw, record)]
    [raw] = read("not-utf8.bin", sample("malformed/not-utf8.bin"), "mns")
    assert raw.line().startswith(b'"{\\"events\\"') and b"\n" not in raw.line()
    assert read("again", raw.line(), "mns")[0].raw == sample("malformed/not-utf8.bin")
    [_, bad] = read("dlq.ndjson", b'{"a": 1}\n{"a": \n')
    assert bad.line() == b'{"a": '
    assert [(item.label, item.reason) for item in read("rest", bad.line())] == [
        ("rest", "not valid JSON at line 1, column 7: Expecting value")]


def test_empty_files_hold_no_records_and_a_bom_is_no_error():
    assert read("empty", b"") == [] and read("blank", b"\n \n", "mns") == []
    assert read("bom.json", b"\xef\xbb\xbf" + sample("timer/nightly.json"))[0].function == "timer"


WHEN = datetime(2026, 3, 10, 16, 10, 0, 123000, tzinfo=timezone.utc)


def test_built_events_parse_back_to_the_facts_they_were_built_from():
    def parsed(record):
        [event] = events.parse(record.function, record.raw, WHEN)
        return event

    oss = parsed(oss_event("etl-landing", "a b/100%25 done+.csv", "ObjectCreated:PutObject", WHEN))
    assert (oss.kind, oss.bucket, oss.key, oss.event_name, oss.time) == (
        "oss-native", "etl-landing", "a b/100%25 done+.csv", "ObjectCreated:PutObject", WHEN)
    topic = parsed(topic_message("etl-done", '{"job": "x"}', {"team": "billing"}, WHEN))
    assert (topic.kind, topic.topic, topic.body, topic.document, dict(topic.attributes), topic.time) == (
        "mns-topic-json-attrs", "etl-done", '{"job": "x"}', {"job": "x"}, {"team": "billing"}, WHEN)
    queue = parsed(queue_message("etl-events", "plain text", WHEN))
    assert (queue.kind, queue.queue, queue.body, queue.time) == ("mns-queue-eventbridge", "etl-events", "plain text",
                                                                 WHEN)
    timer = parsed(timer_event("nightly", '{"bizdate": "20260310"}', WHEN))
    assert (timer.kind, timer.timer, timer.payload, timer.event_id) == (
        "timer", "nightly", '{"bizdate": "20260310"}', "nightly@2026-03-10T16:10:00Z")
    again = oss_event("etl-landing", "k", "ObjectCreated:PutObject", WHEN)
    assert again == oss_event("etl-landing", "k", "ObjectCreated:PutObject", WHEN)      # same facts, same id
