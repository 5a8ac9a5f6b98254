"""dwtrigger.events.parse against every sample in events/ and the limits it enforces."""
from __future__ import annotations

import base64
import copy
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dwtrigger import events, sources
from dwtrigger.events import MAX_DEPTH, MAX_RAW_BYTES, Event, Rejected, parse
from dwtrigger.sources import oss as oss_source, timer as timer_source
from dwtrigger.sources.mns import MAX_MNS_BODY_BYTES
from dwtrigger.sources.oss import MAX_KEY_BYTES

SOURCES = sources.names()

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLE_SUFFIXES = (".json", ".txt", ".bin")  # events/ also holds other files, e.g. expected outcomes
RECEIVED = datetime(2026, 3, 11, 2, 0, tzinfo=timezone.utc)
STREAM_TOPICS = {"mns/topic-stream-raw.txt": "etl-done", "mns/topic-stream-attrs.json": "billing-done"}
FINANCE = '{"job":"finance-close","status":"SUCCEEDED","bizdate":"20260310"}'
BILLING = "billing export finished for 2026-03-10"


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=timezone.utc)


def raw(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def doc(name: str):
    return json.loads(raw(name))


def dumps(value) -> bytes:
    return json.dumps(value).encode()


def parse_sample(name: str, source: str | None = None, stream_topic: str | None = None,
                 data: bytes | str | None = None):
    """Parse a sample (or `data` derived from it) with its own function unless `source` says otherwise."""
    return parse(source or name.split("/")[0], raw(name) if data is None else data, RECEIVED,
                 stream_topic or STREAM_TOPICS.get(name))


PAYMENT = '{"status": "OK", "bizdate": "2026-03-10", "amount": 1200}'
ADS = '{"job": "ads-ingest", "bizdate": "20260310", "rows": 5000}'


def message(source: str, event_id: str, time: datetime, body: str, attributes: dict, message_id, **channel) -> Event:
    """A message queue's message from EventBridge (sources/_eventbridge.py)."""
    return Event(source=source, kind=f"{source}-eventbridge", event_id=event_id, time=time, body=body,
                 attributes=attributes, message_id=message_id, **channel)


def oss(kind: str, event_id: str, time: datetime, bucket: str, key: str,
        event_name: str = "ObjectCreated:PutObject") -> Event:
    return Event(source="oss", kind=kind, event_id=event_id, time=time, bucket=bucket, key=key,
                 event_name=event_name)


def topic(kind: str, event_id: str, time: datetime, name: str, body: str, attributes=None,
          message_id: str | None = None, queue: str | None = None) -> Event:
    return Event(source="mns", kind=kind, event_id=event_id, time=time, topic=name, body=body,
                 attributes=attributes or {}, message_id=message_id, queue=queue)


def queue(n: int, time: datetime, body: str) -> Event:
    return Event(source="mns", kind="mns-queue-eventbridge", event_id=f"c2g71017-6f65-fbb7-3c55-00000000000{n}",
                 time=time, queue="etl-events", message_id=f"C6DB60D1574661357FA227277445000{n}", body=body)


def crm(source: str, rows: int) -> str:
    return json.dumps({"source": source, "rows": rows, "bizdate": "20260310"}, separators=(",", ":"))


def timer(time: datetime, when: str, payload: str) -> Event:
    return Event(source="timer", kind="timer", event_id=f"nightly@{when}", time=time, timer="nightly",
                 payload=payload)


EXPECTED = {
    "oss/native-put-orders.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C01", utc(2026, 3, 10, 16, 10), "etl-landing",
            "exports/orders/dt=2026-03-10/_SUCCESS")],
    "oss/sales-1-orders.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C11", utc(2026, 3, 10, 17, 5), "etl-landing",
            "exports/sales/dt=2026-03-10/orders/_SUCCESS")],
    "oss/sales-2-items.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C12", utc(2026, 3, 10, 17, 20), "etl-landing",
            "exports/sales/dt=2026-03-10/items/part-0001.done")],
    "oss/sales-3-customers.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C13", utc(2026, 3, 10, 17, 31), "etl-landing",
            "exports/sales/dt=2026-03-10/customers/_SUCCESS")],
    "oss/native-put-inventory.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C0A", utc(2026, 3, 10, 17, 42), "etl-landing",
            "exports/inventory/dt=20260310/_SUCCESS")],
    "oss/native-clicks-hourly.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C02", utc(2026, 3, 11, 1, 5, 12), "etl-landing",
            "logs/clicks/2026031108/part-0001.done")],
    "oss/native-partner-multipart.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C03", utc(2026, 3, 11, 2, 30, 41), "etl-landing",
            "inbound/partner/2026/03/file with space.csv", "ObjectCreated:CompleteMultipartUpload")],
    "oss/native-unmatched.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C04", utc(2026, 3, 11, 4), "etl-landing", "tmp/scratch/notes.txt")],
    "oss/native-delete.json": [
        oss("oss-native", "65EF2A1B3C4D5E6F7A8B9C05", utc(2026, 3, 11, 5), "etl-landing",
            "exports/orders/dt=2026-03-10/_SUCCESS", "ObjectRemoved:DeleteObject")],
    "oss/eventbridge-single.json": [
        oss("oss-eventbridge", "65EF3C2D4E5F60718293A4B5", utc(2026, 3, 11, 3, 15, 7), "etl-landing",
            "inbound/partner/2026/03/partner-20260311.csv")],
    "oss/eventbridge-list.json": [
        oss("oss-eventbridge", "65EF4D3E5F6071829304B5C6", utc(2026, 3, 11, 2, 1, 30), "etl-landing-backup",
            "logs/clicks/2026031109/part-0000.done"),
        oss("oss-eventbridge", "65EF4D3E5F6071829304B5C7", utc(2026, 3, 11, 16, 12), "etl-landing",
            "exports/orders/dt=2026-03-11/_SUCCESS")],
    "mns/topic-json-finance.json": [
        topic("mns-topic-json", "2F5B3C4D6E7F8091A2B3C4D5E6F70001", utc(2026, 3, 10, 23, 5), "etl-done", FINANCE,
              message_id="2F5B3C4D6E7F8091A2B3C4D5E6F70001")],
    "mns/topic-json-failed.json": [
        topic("mns-topic-json", "2F5B3C4D6E7F8091A2B3C4D5E6F70002", utc(2026, 3, 10, 23, 7, 30), "etl-done",
              FINANCE.replace("SUCCEEDED", "FAILED"), message_id="2F5B3C4D6E7F8091A2B3C4D5E6F70002")],
    "mns/topic-json-attrs-billing.json": [
        topic("mns-topic-json-attrs", "2F5B3C4D6E7F8091A2B3C4D5E6F70003", utc(2026, 3, 11, 0, 20), "billing-done",
              BILLING, {"team": "billing"}, message_id="2F5B3C4D6E7F8091A2B3C4D5E6F70003")],
    "mns/topic-stream-raw.txt": [       # a STREAM message's time is when it was received: `undated`
        replace(topic("mns-topic-stream", "sha256:fe5177df2f20067cc748fb52c33a7a87", RECEIVED, "etl-done", FINANCE),
                undated=True)],
    "mns/topic-stream-attrs.json": [
        replace(topic("mns-topic-stream-attrs", "sha256:81e53658e697429924ec2b2dcce74d6d", RECEIVED, "billing-done",
                      BILLING, {"team": "billing"}), undated=True)],
    "mns/queue-eventbridge-list.json": [queue(1, utc(2026, 3, 11, 1, 30, 0, 123000), crm("crm-daily", 120)),
                                        queue(2, utc(2026, 3, 11, 1, 30, 2, 456000), crm("crm-contacts", 45))],
    "mns/queue-eventbridge-single.json": [queue(3, utc(2026, 3, 11, 1, 45, 10, 789000), crm("crm-daily", 98))],
    "mns/queue-eventbridge-base64.json": [queue(4, utc(2026, 3, 11, 1, 50), crm("crm-daily", 120))],
    "mns/queue-subscribed-topic.json": [      # the topic's JSON notification, as the topic trigger gives it
        topic("mns-topic-json", "2F5B3C4D6E7F8091A2B3C4D5E6F70004", utc(2026, 3, 9, 23, 5), "etl-done",
              FINANCE.replace("20260310", "20260309"), message_id="2F5B3C4D6E7F8091A2B3C4D5E6F70004",
              queue="dwtrigger-etl-done")],
    **{f"rocketmq/eventbridge-{name}.json": [
        message("rocketmq", f"94ebc15f-f0db-4bbe-acce-56fb72fb000{n}", utc(2026, 3, 11, 1, 40, 0, 120000), body,
                {"producer": "ledger-svc", "TAGS": tag, "KEYS": "batch-0310"}, message_id, topic="payments")
        for n, tag, body, message_id in rows] for name, rows in {
            "base64": [(1, "settled", PAYMENT, "AC14C305069E1B28CDFA3181CDA20001")],
            "list": [(2, "settled", PAYMENT, None), (3, "pending", PAYMENT.replace(', "amount": 1200', ""), None)],
            "single": [(4, "settled", PAYMENT, "AC14C305069E1B28CDFA3181CDA20004")]}.items()},
    **{f"kafka/eventbridge-{name}.json": [
        message("kafka", f"8e215af8-ca18-4249-8645-f96c1026000{n}", utc(2026, 3, 11, 2, 5, 0, 589000), body,
                {"team": "ads"} if body != "hello kafka msg" else {}, f"ad-clicks/7/{offset}", topic="ad-clicks")
        for n, offset, body in rows] for name, rows in {
            "json-value": [(1, 25, ADS.replace(" ", ""))], "list": [(2, 26, ADS), (3, 27, "hello kafka msg")],
            "strings": [(4, 28, ADS)]}.items()},
    **{f"rabbitmq/eventbridge-{name}.json": [
        message("rabbitmq", f"bj694332-4cj1-389e-9d8c-b137h30b000{n}", utc(2026, 3, 11, 2, 30, 40, 709000), body,
                headers, f"f7622d51-e198-41de-a072-77c1ead7000{n}" if message_id else None, queue="hr-sync")
        for n, body, headers, message_id in rows] for name, rows in {
            "list": [(1, '{"event":"sync-done","rows":310}', {}, True), (2, '{"event":"sync-started"}', {}, True)],
            "single": [(3, '{"event": "sync-done", "rows": 12}', {"team": "hr", "attempt": "2"}, True)],
            "text": [(4, "sync done, 12 rows", {}, False)]}.items()},
    # A bad record in a batch is rejected with its reason and costs its sibling nothing.
    "rocketmq/eventbridge-with-bad-record.json": [
        Rejected("rocketmq", "record 0: neither 'data.topic' nor the subject (acs:mq:...%<topic>) names the topic",
                 "94ebc15f-f0db-4bbe-acce-56fb72fb0005"),
        message("rocketmq", "94ebc15f-f0db-4bbe-acce-56fb72fb0006", utc(2026, 3, 11, 1, 40, 0, 120000),
                '{"status":"OK","bizdate":"2026-03-10"}', {"producer": "ledger-svc", "TAGS": "settled",
                                                           "KEYS": "batch-0310"},
                "AC14C305069E1B28CDFA3181CDA20006", topic="payments")],     # a body given as a JSON object
    "kafka/eventbridge-with-bad-record.json": [
        Rejected("kafka", "record 0: the message has no value (a tombstone releases nothing)",
                 "8e215af8-ca18-4249-8645-f96c10260005"),
        message("kafka", "8e215af8-ca18-4249-8645-f96c10260006", utc(2026, 3, 11, 2, 5, 0, 589000),
                ADS.replace(" ", ""), {"team": "ads"}, "ad-clicks/7/30", topic="ad-clicks")],
    "rabbitmq/eventbridge-with-bad-record.json": [
        Rejected("rabbitmq", "record 0: subject 'acs:amqp:cn-shanghai:1234567890123456:/instances/"
                 "amqp-cn-tl32e7560001/vhosts/etl' does not name a queue (acs:amqp:...:/instances/<id>/vhosts/<vhost>/"
                 "queues/<queue>)", "bj694332-4cj1-389e-9d8c-b137h30b0005"),
        message("rabbitmq", "bj694332-4cj1-389e-9d8c-b137h30b0006", utc(2026, 3, 11, 2, 30, 40, 709000),
                '{"event": "sync-done", "rows": 12}', {"team": "hr", "attempt": "2"},
                "f7622d51-e198-41de-a072-77c1ead70006", queue="hr-sync")],
    "timer/nightly.json": [timer(utc(2026, 3, 11, 16), "2026-03-11T16:00:00Z", "release nightly")],
    "timer/nightly-payload-json.json": [
        timer(utc(2026, 3, 10, 16), "2026-03-10T16:00:00Z", '{"bizdate": "2026-03-09"}')],
}
MALFORMED = sorted(path.name for path in (EVENTS / "malformed").iterdir() if path.suffix in SAMPLE_SUFFIXES)


def rejected(results, count: int = 1) -> list[str]:
    """The reasons of `results`, asserting they are `count` rejections."""
    assert len(results) == count and all(isinstance(result, Rejected) for result in results), results
    return [result.reason for result in results]


def test_every_sample_file_is_checked():
    samples = {str(path.relative_to(EVENTS)) for path in EVENTS.rglob("*")
               if path.suffix in SAMPLE_SUFFIXES and path.parent.name in SOURCES}
    assert samples == set(EXPECTED)
    assert set(MALFORMED) == {"truncated.json", "oss-missing-key.json", "cloudevent-unknown-source.json",
                              "timer-bad-time.json", "not-utf8.bin"}


@pytest.mark.parametrize("name", EXPECTED)
def test_sample_parses_to_normalised_events(name):
    assert parse_sample(name) == EXPECTED[name]
    assert parse_sample(name, data=raw(name).decode()) == EXPECTED[name]  # str is accepted too


@pytest.mark.parametrize("name, source", [(name, source) for name in EXPECTED for source in SOURCES
                                          if source != name.split("/")[0]])
def test_sample_given_to_the_wrong_function_names_the_right_one(name, source):
    results = parse_sample(name, source, stream_topic="etl-done")
    for reason in rejected(results):
        assert f"the {name.split('/')[0]} function" in reason


@pytest.mark.parametrize("name", MALFORMED)
@pytest.mark.parametrize("source", SOURCES)
def test_malformed_samples_are_rejected(name, source):
    rejected(parse(source, raw(f"malformed/{name}"), RECEIVED))


@pytest.mark.parametrize("name, source, words", [
    ("oss-missing-key.json", "oss", "'oss.object.key'"),
    ("timer-bad-time.json", "timer", "'triggerTime'"),
    ("cloudevent-unknown-source.json", "oss", "no dwtrigger function"),
    ("truncated.json", "oss", "the mns function"),
    ("not-utf8.bin", "mns", "UTF-8"),
])
def test_malformed_reasons_say_what_is_wrong(name, source, words):
    [reason] = rejected(parse(source, raw(f"malformed/{name}"), RECEIVED, "etl-done"))
    assert words in reason


@pytest.mark.parametrize("name", ["truncated.json", "cloudevent-unknown-source.json"])
def test_unrecognised_text_is_a_stream_body_for_mns_when_a_topic_is_set(name):
    [event] = parse("mns", raw(f"malformed/{name}"), RECEIVED, "etl-done")
    body = raw(f"malformed/{name}").decode()
    assert (event.kind, event.topic, event.body) == ("mns-topic-stream", "etl-done", body)


@pytest.mark.parametrize("name", STREAM_TOPICS)
def test_stream_message_without_a_configured_topic_is_rejected(name):
    [reason] = rejected(parse("mns", raw(name), RECEIVED, None))
    assert "notifyContentFormat" in reason and "DWTRIGGER_MNS_TOPIC" in reason


def test_stream_time_is_the_invocation_time_in_utc():
    shanghai = RECEIVED.astimezone(timezone(timedelta(hours=8)))
    naive = RECEIVED.replace(tzinfo=None)
    for received_at in (shanghai, naive):
        [event] = parse("mns", raw("mns/topic-stream-raw.txt"), received_at, "etl-done")
        assert event.time == RECEIVED and event.time.tzinfo == timezone.utc


# ---- limits ----

@pytest.mark.parametrize("source", SOURCES)
def test_raw_input_over_the_size_limit_is_rejected(source):
    [reason] = rejected(parse(source, b" " * (MAX_RAW_BYTES + 1), RECEIVED, "etl-done"))
    assert str(MAX_RAW_BYTES) in reason


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])  # 100k levels overflows json's recursion
def test_json_nested_too_deep_is_rejected(source, depth):
    [reason] = rejected(parse(source, "[" * depth + "]" * depth, RECEIVED, "etl-done"))
    assert f"deeper than {MAX_DEPTH}" in reason


def test_depth_limit_counts_the_top_level_object():
    sample = doc("timer/nightly.json")
    sample["extra"] = json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    assert parse_sample("timer/nightly.json", data=dumps(sample)) == EXPECTED["timer/nightly.json"]
    sample["extra"] = [sample["extra"]]
    rejected(parse_sample("timer/nightly.json", data=dumps(sample)))


@pytest.mark.parametrize("key, ok", [
    ("k" * MAX_KEY_BYTES, True),
    ("k" * (MAX_KEY_BYTES + 1), False),
    ("é" * ((MAX_KEY_BYTES + 1) // 2), False),  # the limit is in UTF-8 bytes
    ("%20" * MAX_KEY_BYTES, True),               # and applies to the decoded key
])
def test_object_key_length_limit(key, ok):
    sample = doc("oss/native-put-orders.json")
    sample["events"][0]["oss"]["object"]["key"] = key
    [result] = parse_sample("oss/native-put-orders.json", data=dumps(sample))
    assert isinstance(result, Event) is ok
    if not ok:
        assert result.event_id == "65EF2A1B3C4D5E6F7A8B9C01" and str(MAX_KEY_BYTES) in result.reason


@pytest.mark.parametrize("size, ok", [(MAX_MNS_BODY_BYTES, True), (MAX_MNS_BODY_BYTES + 1, False)])
def test_mns_body_size_limit(size, ok):
    sample = doc("mns/topic-json-finance.json")
    sample["Message"] = "x" * size
    [result] = parse_sample("mns/topic-json-finance.json", data=dumps(sample))
    assert isinstance(result, Event) is ok
    [stream] = parse_sample("mns/topic-stream-raw.txt", data=b"x" * size)
    assert isinstance(stream, Event) is ok


# ---- OSS details ----

@pytest.mark.parametrize("key, expected", [
    ("inbound/partner/caf%C3%A9%2Bcrème.csv", "inbound/partner/café+crème.csv"),
    ("inbound/partner/a+b.csv", "inbound/partner/a+b.csv"),      # '+' is never a space
    ("inbound/partner/100%.csv", "inbound/partner/100%.csv"),    # '%' without escapes stays
    ("inbound/partner/x%FFy.csv", "inbound/partner/x%FFy.csv"),  # escapes that are not UTF-8 stay
])
def test_object_key_url_decoding(key, expected):
    sample = doc("oss/eventbridge-single.json")
    sample["data"]["oss"]["object"]["key"] = key
    [event] = parse_sample("oss/eventbridge-single.json", data=dumps(sample))
    assert event.key == expected


def test_native_records_sharing_a_request_id_get_the_record_index():
    sample = doc("oss/native-delete.json")
    sample["events"].append(json.loads(json.dumps(sample["events"][0])))
    sample["events"][1]["oss"]["object"]["key"] = "exports/orders/dt=2026-03-09/_SUCCESS"
    results = parse_sample("oss/native-delete.json", data=dumps(sample))
    assert [event.event_id for event in results] == ["65EF2A1B3C4D5E6F7A8B9C05#0", "65EF2A1B3C4D5E6F7A8B9C05#1"]


def test_native_record_without_request_id_gets_a_stable_hash_id():
    sample = doc("oss/native-put-orders.json")
    del sample["events"][0]["responseElements"]
    [first] = parse_sample("oss/native-put-orders.json", data=dumps(sample))
    [again] = parse_sample("oss/native-put-orders.json", data=json.dumps(sample, indent=4).encode())
    assert first.event_id == again.event_id and first.event_id.startswith("sha256:")


def test_one_bad_record_rejects_only_itself():
    sample = doc("oss/eventbridge-list.json")
    sample[0]["data"]["oss"]["object"]["key"] = 42
    sample.append("not an object")
    first, second, third = parse_sample("oss/eventbridge-list.json", data=dumps(sample))
    assert first.event_id == "65EF4D3E5F6071829304B5C6" and "record 0" in first.reason
    assert second == EXPECTED["oss/eventbridge-list.json"][1]
    assert "record 2" in third.reason


# ---- MNS details ----

def test_publish_time_as_int_or_string():
    sample = doc("mns/topic-json-finance.json")
    sample["PublishTime"] = str(sample["PublishTime"])
    expected = EXPECTED["mns/topic-json-finance.json"]
    assert parse_sample("mns/topic-json-finance.json", data=dumps(sample)) == expected


@pytest.mark.parametrize("value", [True, -1, "12a", "١٢٣", 1.5, "", None, 10 ** 20])
def test_bad_publish_time_is_rejected(value):
    sample = doc("mns/topic-json-finance.json")
    sample["PublishTime"] = value
    [reason] = rejected(parse_sample("mns/topic-json-finance.json", data=dumps(sample)))
    assert "'PublishTime'" in reason


def test_json_attributes_that_are_not_strings_become_json_text():
    sample = doc("mns/topic-json-attrs-billing.json")
    sample.update(priority=5, urgent=True)
    [event] = parse_sample("mns/topic-json-attrs-billing.json", data=dumps(sample))
    assert event.attributes == {"team": "billing", "priority": "5", "urgent": "true"}


def test_base64_body_is_decoded_only_when_it_is_base64_of_text():
    plain, encoded = doc("mns/queue-eventbridge-single.json"), doc("mns/queue-eventbridge-base64.json")
    assert base64.b64decode(encoded["data"]["messageBody"]).decode() == crm("crm-daily", 120)
    assert plain["data"]["messageBody"] == crm("crm-daily", 98)  # IsBase64Decode on: kept as is
    for body in ("TEST", "AAAA", "1234", "not base64!"):  # binary-decoding words, JSON, non-base64 stay
        plain["data"]["messageBody"] = body
        [event] = parse_sample("mns/queue-eventbridge-single.json", data=dumps(plain))
        assert event.body == body


def test_batch_with_one_bad_message():
    sample = doc("mns/queue-eventbridge-list.json")
    del sample[0]["data"]["messageId"]
    sample.append(json.loads(json.dumps(sample[1])))
    sample[2]["data"]["messageBody"] = "x" * (MAX_MNS_BODY_BYTES + 1)
    sample.append(doc("oss/eventbridge-single.json"))
    first, second, third, fourth = parse_sample("mns/queue-eventbridge-list.json", data=dumps(sample))
    assert isinstance(first, Rejected) and "'messageId'" in first.reason
    assert first.event_id == "c2g71017-6f65-fbb7-3c55-000000000001"
    assert second == EXPECTED["mns/queue-eventbridge-list.json"][1]
    assert "over MNS's" in third.reason
    assert "OSS event from EventBridge" in fourth.reason


@pytest.mark.parametrize("subject", ["acs:mns:cn-shanghai:1:topics/etl-events", "acs:mns:cn-shanghai:1:queues/"])
def test_queue_subject_must_name_a_queue(subject):
    sample = doc("mns/queue-eventbridge-single.json")
    sample["subject"] = subject
    [reason] = rejected(parse_sample("mns/queue-eventbridge-single.json", data=dumps(sample)))
    assert "does not name a queue" in reason


# ---- timer details ----

@pytest.mark.parametrize("when, expected", [
    ("2026-03-11T16:00:00.5Z", utc(2026, 3, 11, 16, 0, 0, 500000)),
    ("2026-03-11T16:00:00.123456789z", utc(2026, 3, 11, 16, 0, 0, 123456)),
    ("2026-03-12T00:00:00+08:00", utc(2026, 3, 11, 16)),
    ("2026-03-12T00:00:00+0800", utc(2026, 3, 11, 16)),
    ("2026-03-11 16:00:00", utc(2026, 3, 11, 16)),  # no zone: UTC
])
def test_iso_times_in_every_form_become_utc(when, expected):
    sample = doc("timer/nightly.json")
    sample["triggerTime"] = when
    [event] = parse_sample("timer/nightly.json", data=dumps(sample))
    assert event.time == expected and event.time.tzinfo == timezone.utc and event.event_id == f"nightly@{when}"


@pytest.mark.parametrize("when", ["2026-02-30T00:00:00Z", "2026-03-11T16:00Z", "٢٠٢٦-03-11T16:00:00Z"])
def test_invalid_times_are_rejected(when):
    sample = doc("timer/nightly.json")
    sample["triggerTime"] = when
    rejected(parse_sample("timer/nightly.json", data=dumps(sample)))


@pytest.mark.parametrize("payload, ok", [(None, True), ("", True), ({"bizdate": "2026-03-09"}, False)])
def test_timer_payload_must_be_a_string_when_present(payload, ok):
    sample = doc("timer/nightly.json")
    sample["payload"] = payload
    [result] = parse_sample("timer/nightly.json", data=dumps(sample))
    assert isinstance(result, Event) is ok and (not ok or result.payload == payload)


# ---- never raises ----

ODD_INPUTS = [
    None, 42, b"", b"null", b"[]", b"{}", b'"text"', b"[1, [2]]", b"NaN", b"1" * 5000, b"\xef\xbb\xbf{}",
    bytearray(b"hello"), "\ud800".encode("utf-8", "surrogatepass"),
    b'{"events": 5}', b'{"events": []}', b'{"events": [5, null]}', b'{"events": [{"oss": []}]}',
    b'{"specversion": 1, "source": null, "type": ["mns:Queue:"]}', b'[{"specversion": "1.0"}]',
    b'{"body": 5, "attrs": {}}', b'{"Message": null, "TopicName": []}',
    b'{"triggerName": {}, "triggerTime": 1e999}',
    b'{"events": [{"eventName": "x", "eventTime": "2026-03-11T00:00:00Z", "oss": {"bucket": {"name": "b"},'
    b' "object": {"key": "\\ud800"}}}]}',                                         # lone surrogate in a key
    b'{"Message": "\\udfff", "MessageId": "m", "TopicName": "t", "PublishTime": 1}',  # and in a body
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("data", ODD_INPUTS)
def test_parse_never_raises(source, data):
    results = parse(source, data, RECEIVED, "etl-done")
    assert results and all(isinstance(result, (Event, Rejected)) for result in results)
    assert not any("could not be parsed" in getattr(result, "reason", "") for result in results)  # not the guard


def test_unknown_source_is_rejected():
    [reason] = rejected(parse("sls", raw("timer/nightly.json"), RECEIVED))
    assert "unknown source" in reason


def test_an_unexpected_error_becomes_a_rejection(monkeypatch):
    def broken(_doc):
        raise KeyError("boom")
    monkeypatch.setattr(timer_source, "_parse_timer", broken)
    [reason] = rejected(parse("timer", raw("timer/nightly.json"), RECEIVED))
    assert "could not be parsed" in reason and "KeyError" in reason


@pytest.mark.parametrize("name, source, topic, document", [
    ("mns/topic-json-finance.json", "mns", None, {"job": "finance-close", "status": "SUCCEEDED", "bizdate": "20260310"}),
    ("mns/queue-eventbridge-base64.json", "mns", None, {"source": "crm-daily", "rows": 120, "bizdate": "20260310"}),
    ("mns/topic-stream-attrs.json", "mns", "billing-done", events.NOT_JSON),
    ("timer/nightly-payload-json.json", "timer", None, {"bizdate": "2026-03-09"}),
    ("timer/nightly.json", "timer", None, events.NOT_JSON),
])
def test_the_body_or_payload_is_parsed_once_into_document(name, source, topic, document):
    [event] = events.parse(source, (EVENTS / name).read_bytes(), RECEIVED, topic)
    assert event.document == document if document is not events.NOT_JSON else event.document is events.NOT_JSON


@pytest.mark.parametrize("name, source", [
    ("oss/native-put-orders.json", "oss"), ("oss/eventbridge-list.json", "oss"), ("timer/nightly.json", "timer"),
    ("mns/topic-json-finance.json", "mns"), ("mns/queue-eventbridge-list.json", "mns"),
    ("mns/topic-stream-raw.txt", "mns"), ("malformed/cloudevent-unknown-source.json", "mns"),
    ("malformed/not-utf8.bin", "mns"), ("malformed/oss-missing-key.json", "oss"),
])
def test_source_of_names_the_function_a_shape_belongs_to(name, source):
    assert events.source_of((EVENTS / name).read_bytes()) == source


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_record_time_with_no_utc_instant_rejects_only_its_record(when):
    sample = doc("oss/eventbridge-list.json")
    sample.insert(1, copy.deepcopy(sample[0]))
    sample[1]["id"], sample[1]["data"]["eventTime"], sample[1]["time"] = "odd-one", when, when
    first, odd, last = parse_sample("oss/eventbridge-list.json", data=dumps(sample))
    assert [first, last] == EXPECTED["oss/eventbridge-list.json"]
    assert isinstance(odd, Rejected) and odd.event_id == "odd-one" and "record 1" in odd.reason
    assert "not a valid time" in odd.reason


def test_a_record_that_trips_a_bug_rejects_only_itself(monkeypatch):
    calls = iter([None, ZeroDivisionError("boom")])

    def flaky(record, event_id, real=oss_source._oss_native):
        failure = next(calls)
        if failure:
            raise failure
        return real(record, event_id)

    monkeypatch.setattr(oss_source, "_oss_native", flaky)
    sample = doc("oss/native-put-orders.json")
    sample["events"].append(copy.deepcopy(sample["events"][0]))
    first, second = parse_sample("oss/native-put-orders.json", data=dumps(sample))
    assert isinstance(first, events.Event)
    assert isinstance(second, Rejected) and "record 1 could not be parsed (ZeroDivisionError: boom)" in second.reason
