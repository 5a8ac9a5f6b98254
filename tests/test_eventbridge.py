"""The message queues EventBridge delivers (sources/_eventbridge.py; rocketmq.py, kafka.py, rabbitmq.py).

Every delivery shape ../shared/reference/eventbridge-sources.md documents, or leaves open, is accepted: one
CloudEvent (event-driven) or a list (event-streaming), a list of their JSON as strings (Kafka, 2022), a body or
value as JSON text, as a JSON value, as base64 (a binary body, Kafka's Binary format) or as plain text, RocketMQ's
systemProperties as strings or numbers. A bad record is rejected with its reason and costs its siblings nothing.
Then each source through the commands as a user runs them: explain, replay and drain against the emulator (the
dead letters EventBridge writes), the sweep's `expect` through the ledger's `asked` record, and status.
"""
import base64
import copy
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from mns.account import Account
from mns.queue import Message

from conftest import ROLE_KEY, ROOT, examples, oss_seed, sample
from dwtrigger import sources
from dwtrigger.events import Event, Rejected, parse
from dwtrigger.ops.cli import main
from dwtrigger.ops.emulator import MnsStandIn

RECEIVED = datetime(2026, 3, 11, 3, tzinfo=timezone.utc)
RULES = str(ROOT / "rules.yaml")

# One message of each source, as its single sample holds it, and where its body (or value) is.
SINGLE = {"rocketmq": "rocketmq/eventbridge-single.json", "kafka": "kafka/eventbridge-json-value.json",
          "rabbitmq": "rabbitmq/eventbridge-single.json"}
BODY = {"rocketmq": "body", "kafka": "value", "rabbitmq": "body"}
CHANNEL = {"rocketmq": ("topic", "payments"), "kafka": ("topic", "ad-clicks"), "rabbitmq": ("queue", "hr-sync")}


def cloudevent(source: str, body=None, **data) -> dict:
    """The source's sample message, its body replaced by `body` (when given) and `data` fields set."""
    doc = json.loads(sample(SINGLE[source]))
    doc = copy.deepcopy(doc[0] if isinstance(doc, list) else doc)
    if body is not None:
        doc["data"][BODY[source]] = body
    doc["data"].update(data)
    return doc


def delivered(items: list, form: str) -> bytes:
    """The delivery of `items` in `form`: single (event-driven), list (event-streaming), strings (Kafka, 2022)."""
    if form == "single":
        [item] = items
        return json.dumps(item).encode()
    return json.dumps(items if form == "list" else [json.dumps(item) for item in items]).encode()


def parsed(source: str, raw: bytes) -> list:
    return list(parse(source, raw, RECEIVED))


# ---- the shapes ---------------------------------------------------------------------------------------------------

def encoded(document: dict, encoding: str):
    """A JSON body as EventBridge may carry it: JSON text, the JSON value itself, or base64 of the text."""
    text = json.dumps(document)
    return {"text": text, "value": document, "base64": base64.b64encode(text.encode()).decode()}[encoding]


DOCUMENTS = st.dictionaries(st.text(min_size=1, max_size=8),
                            st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.text(max_size=12)),
                            max_size=4)


@settings(max_examples=examples(150))
@given(source=st.sampled_from(sorted(SINGLE)), documents=st.lists(DOCUMENTS, min_size=1, max_size=3),
       encoding=st.sampled_from(["text", "value", "base64"]), form=st.sampled_from(["single", "list", "strings"]))
def test_every_delivery_shape_and_body_encoding_gives_each_message_its_json(source, documents, encoding, form):
    if form == "single":
        documents = documents[:1]
    items = [cloudevent(source, encoded(document, encoding)) for document in documents]
    events = parsed(source, delivered(items, form))
    assert [type(event) for event in events] == [Event] * len(documents)
    assert [event.document for event in events] == documents
    field, name = CHANNEL[source]
    assert {getattr(event, field) for event in events} == {name}


@pytest.mark.parametrize("source", sorted(SINGLE))
@pytest.mark.parametrize("body, text", [
    ("sync done, 12 rows", "sync done, 12 rows"),                                 # plain text stays text
    (base64.b64encode(b"done for 2026-03-10").decode(), "done for 2026-03-10"),    # binary as base64: decoded
    (base64.b64encode(b"\x00\xff\x10binary").decode(), "AP8QYmluYXJ5"),            # not text once decoded: kept
    ("dGVzdA", "dGVzdA"),                                                          # not strict base64: kept
    (["a", 1], '["a",1]'),                                                         # any JSON value: compact JSON
    (12, "12"),
])
def test_a_body_that_is_no_json_object_is_text_a_rule_without_message_patterns_can_take(source, body, text):
    [event] = parsed(source, delivered([cloudevent(source, body)], "list"))
    assert event.body == text


@pytest.mark.parametrize("system, attributes, message_id", [
    ({"TAGS": "settled", "KEYS": "k-1", "UNIQ_KEY": "AC14", "MIN_OFFSET": "0", "TRACE_ON": "true",
      "CONSUME_START_TIME": 1773193200396}, {"TAGS": "settled", "KEYS": "k-1"}, "AC14"),
    ({"TAGS": 7, "KEYS": 12345, "UNIQ_KEY": 99, "MIN_OFFSET": 0, "TRACE_ON": True, "CONSUME_START_TIME": "1773"},
     {"TAGS": "7", "KEYS": "12345"}, "99"),                                       # numbers where strings were
    ({}, {}, None),                                                                # none at all
])
def test_rocketmq_system_properties_are_read_as_strings_or_numbers(system, attributes, message_id):
    [event] = parsed("rocketmq", delivered([cloudevent("rocketmq", systemProperties=system)], "single"))
    assert event.attributes == {"producer": "ledger-svc", **attributes} and event.message_id == message_id


def test_the_topic_comes_from_the_subject_when_the_data_names_none():
    rocketmq = cloudevent("rocketmq", topic=None)
    kafka = cloudevent("kafka", topic="")
    assert parsed("rocketmq", delivered([rocketmq], "single"))[0].topic == "payments"
    assert parsed("kafka", delivered([kafka], "list"))[0].topic == "ad-clicks"


@pytest.mark.parametrize("headers, attributes", [
    ({"headers": [{"key": "team", "value": "ads"}], "isReadOnly": False}, {"team": "ads"}),
    ({"headers": [{"key": "team", "value": list(b"ads")}], "isReadOnly": False}, {"team": "ads"}),  # bytes
    ({"headers": [], "isReadOnly": False}, {}),
    ({"team": "ads", "attempt": 2}, {"team": "ads", "attempt": "2"}),             # a plain object of them
    (None, {}),
])
def test_kafka_headers_in_each_form_are_the_attributes(headers, attributes):
    [event] = parsed("kafka", delivered([cloudevent("kafka", headers=headers)], "list"))
    assert event.attributes == attributes


def test_kafka_takes_an_event_driven_single_cloudevent_too():
    [event] = parsed("kafka", delivered([cloudevent("kafka")], "single"))
    assert (event.topic, event.message_id, event.attributes) == ("ad-clicks", "ad-clicks/7/25", {"team": "ads"})


@pytest.mark.parametrize("source, bad, reason", [
    ("rocketmq", {"subject": "acs:mq:cn-shanghai:1:MQ_INST_1", "data": {"body": "x"}},
     "neither 'data.topic' nor the subject (acs:mq:...%<topic>) names the topic"),
    ("rocketmq", {"data": {"topic": "payments", "body": None}}, "the message has no body"),
    ("rocketmq", {"data": {"topic": "payments", "body": "x", "userProperties": ["a"]}},
     "the message's userProperties are not an object"),
    ("kafka", {"data": {"topic": "ad-clicks", "value": None}},
     "the message has no value (a tombstone releases nothing)"),
    ("kafka", {"data": {"topic": "ad-clicks", "value": "x", "headers": {"headers": ["team=ads"]}}},
     "a header is not a {key, value} object: 'team=ads'"),
    ("kafka", {"data": {"topic": "ad-clicks", "value": "x", "headers": {"headers": [{"key": "k", "value": [255]}]}}},
     "a header's value is not UTF-8 text"),
    ("rabbitmq", {"subject": "acs:amqp:cn-shanghai:1:/instances/i/vhosts/v/queues/"},
     "subject 'acs:amqp:cn-shanghai:1:/instances/i/vhosts/v/queues/' does not name a queue"),
    ("rabbitmq", {"data": {"body": "x", "props": "messageId=1"}}, "the message's 'props' is not an object"),
    ("rabbitmq", {"time": "yesterday"}, "'time'"),
])
@pytest.mark.parametrize("form", ["list", "strings"])
def test_a_bad_record_is_rejected_with_its_reason_and_costs_its_siblings_nothing(source, bad, reason, form):
    broken = {**cloudevent(source), **{k: v for k, v in bad.items() if k != "data"}}
    if "data" in bad:
        broken["data"] = bad["data"]
    first, rejected, last = parsed(source, delivered([cloudevent(source), broken, cloudevent(source)], form))
    assert isinstance(rejected, Rejected) and rejected.reason.startswith("record 1: ") and reason in rejected.reason
    assert isinstance(first, Event) and first == last


@pytest.mark.parametrize("source", sorted(SINGLE))
def test_a_record_that_is_no_cloudevent_rejects_only_itself(source):
    raw = json.dumps([json.dumps(cloudevent(source)), "not json at all", 7]).encode()
    good, text, number = parsed(source, raw)
    assert isinstance(good, Event)
    assert (text.reason, number.reason) == ("record 1: it is not a JSON object", "record 2: it is not a JSON object")


# ---- the rule's `group:`: s.yaml's wiring, never a match ---------------------------------------------------------

def grouped(text: str, rocketmq: str, kafka: str):
    from dwtrigger.rules import parse_rules

    return parse_rules(text.replace("    topic: payments\n", f"    topic: payments\n    group: {rocketmq}\n")
                       .replace("    topic: ad-clicks\n", f"    topic: ad-clicks\n    group: {kafka}\n"), "rules.yaml")


def test_a_rule_s_group_holds_the_trigger_that_feeds_it_to_that_consumer_group():
    from deployed import S, wiring

    text = (ROOT / "rules.yaml").read_text()
    assert wiring.check(grouped(text, "GID_dwtrigger", "dwtrigger"), S) == []      # s.yaml's vars.*.group
    line = text.splitlines().index("  - name: payments-settled") + 1
    assert wiring.check(grouped(text, "GID_other", "dwtrigger"), S) == [
        f"rules.yaml:{line}: rule 'payments-settled': no trigger in s.yaml reads topic payments as group GID_other "
        "(s.yaml: eventbridge trigger 'payments' of resource rocketmq reads it as GID_dwtrigger): set its GroupID, or "
        "remove the rule",
        "s.yaml: eventbridge trigger 'payments' of resource rocketmq on topic payments as group GID_dwtrigger feeds no "
        "rule in rules.yaml: remove it, or add a rule"]
    [event] = parsed("rocketmq", sample(SINGLE["rocketmq"]))
    [rule] = [r for r in grouped(text, "GID_other", "dwtrigger").rules if r.name == "payments-settled"]
    assert sources.get("rocketmq").check(rule, event) == ({}, "matched")          # whatever group read it


def test_group_is_refused_where_the_queue_has_none():
    from dwtrigger.rules import RulesError, parse_rules

    with pytest.raises(RulesError) as err:
        parse_rules(MQ_RULES.replace("queue: hr-sync,", "queue: hr-sync, group: g,"), "mq.yaml")
    assert "rule 'hr-sync' field 'group': not used by `on: rabbitmq` rules" in str(err.value)


# ---- the commands -------------------------------------------------------------------------------------------------

# rules.yaml's three message-queue rules, on the test world's nodes, with the ledger and `expect`.
MQ_RULES = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai, ledger: "oss://etl-ledger/dwtrigger/"}
rules:
  - {name: payments-settled, on: rocketmq, topic: payments, tags: [settled], message: {status: ["OK"]},
     bizdate: {field: bizdate, format: "%Y-%m-%d"}, expect: {by: "06:00", days: 2},
     trigger: [{workspace: 10001, node: 700001235300, at: "01:00"}]}
  - {name: ads-ingest, on: kafka, topic: ad-clicks, attributes: {team: ["ads"]}, message: {job: ["ads-ingest"]},
     bizdate: {field: bizdate, format: "%Y%m%d"}, expect: {by: "06:00", days: 2},
     trigger: [{workspace: 10001, node: 700001235100, at: "03:00"}]}
  - {name: hr-sync, on: rabbitmq, queue: hr-sync, message: {event: ["sync-done"]}, expect: {by: "06:00", days: 2},
     trigger: [{workspace: 10001, node: 700001235000, at: "00:05"}]}
"""
NODES = {"payments-settled": "700001235300", "ads-ingest": "700001235100", "hr-sync": "700001235000"}
SAMPLES = ["rocketmq/eventbridge-single.json", "kafka/eventbridge-strings.json", "rabbitmq/eventbridge-single.json"]
NOW = "2026-03-12T09:00:00+08:00"


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, prog_name="dwtrigger")


@pytest.fixture
def mq_rules(tmp_path) -> str:
    path = tmp_path / "mq.yaml"
    path.write_text(MQ_RULES)
    return str(path)


@pytest.fixture
def env(emulator, oss_standin):
    return {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
            "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint, "POWERTOOLS_SERVICE_NAME": "dwtrigger-mq-test",
            "DWTRIGGER_SWEEP_QPS": "50", "DWTRIGGER_DATAWORKS_QPS": "1000/1000", **ROLE_KEY}     # no pauses


def released(emulator) -> list:
    return sorted(c["params"]["NodeId"] for c in emulator.calls if c["action"] == "RunTriggerNode")


@pytest.mark.parametrize("options, head, verdict", [
    (["--rocketmq", "payments", "--tag", "settled", "--attribute", "producer=ledger-svc", "--body",
      '{"status": "OK", "bizdate": "2026-03-10"}'], "rocketmq topic payments  (rocketmq function)",
     "  MATCH payments-settled: matched"),
    (["--rocketmq", "payments", "--tag", "pending", "--body", '{"status": "OK", "bizdate": "2026-03-10"}'],
     "rocketmq topic payments  (rocketmq function)", "  miss  payments-settled: tag 'pending' is not one of settled"),
    (["--kafka", "ad-clicks", "--attribute", "team=ads", "--body", '{"job": "ads-ingest", "bizdate": "20260310"}'],
     "kafka topic ad-clicks  (kafka function)", "  MATCH ads-ingest: matched"),
    (["--kafka", "ad-clicks", "--body", '{"job": "ads-ingest", "bizdate": "20260310"}'],
     "kafka topic ad-clicks  (kafka function)",
     '  miss  ads-ingest: message headers: field \'team\' is missing; the pattern wants ["ads"]'),
    (["--rabbitmq", "hr-sync", "--body", '{"event": "sync-done"}'], "rabbitmq queue hr-sync  (rabbitmq function)",
     "  MATCH hr-sync: matched"),
])
def test_explain_builds_each_message_queue_s_message_and_says_what_it_would_do(options, head, verdict):
    result = run("explain", *options, "--now", "2026-03-11T02:00:00Z", "--rules", RULES)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == head and lines[1].startswith(f"  kind {head.split()[0]}-eventbridge, id ")
    assert lines[1].endswith(", time 2026-03-11T02:00:00+00:00") and lines[2] == verdict


@pytest.mark.parametrize("name, reason", [
    ("rocketmq/eventbridge-with-bad-record.json",
     "record 0: neither 'data.topic' nor the subject (acs:mq:...%<topic>) names the topic"),
    ("kafka/eventbridge-with-bad-record.json", "record 0: the message has no value (a tombstone releases nothing)"),
])
def test_explain_of_a_batch_with_a_bad_record_says_why_and_exits_1(name, reason):
    result = run("explain", str(ROOT / "events" / name), "--rules", RULES)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"{ROOT / 'events' / name}  ({name.split('/')[0]} function)", f"  rejected: {reason}"]
    assert lines[4].startswith("  MATCH ")


def test_replay_releases_each_message_queue_s_samples_and_names_the_bad_record(mq_rules, env, emulator):
    files = [str(ROOT / "events" / name) for name in SAMPLES] + [str(ROOT / "events/kafka/eventbridge-list.json")]
    result = run("replay", *files, "--rules", mq_rules, env=env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{files[3]}: ignored: no rule matched; nothing was sent: add or enable the rule that should take it "
        "(`dwtrigger explain` says why each misses) and replay it, or drop the record if it should release nothing",
        "outcome            count", "triggered          3", "already_triggered  1", "ignored            1"]
    assert released(emulator) == sorted(NODES.values())
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["source"], d["rule"], d["biz_date"]) for d in decisions[:3]] == [
        ("rocketmq", "payments-settled", "2026-03-10"), ("kafka", "ads-ingest", "2026-03-10"),
        ("rabbitmq", "hr-sync", "2026-03-10")]
    assert (decisions[0]["topic"], decisions[1]["topic"], decisions[2]["queue"]) == ("payments", "ad-clicks", "hr-sync")


@pytest.fixture(scope="module")
def dlq():
    with MnsStandIn(oss_seed()["keys"], ["dwtrigger-dlq"], now=datetime(2026, 3, 12, 1, tzinfo=timezone.utc)) as mns:
        yield mns


def test_drain_releases_what_eventbridge_dead_lettered_from_each_message_queue(mq_rules, env, emulator, dlq):
    """EventBridge writes the CloudEvent (or the batch) it could not deliver to the dead-letter queue, as it was or
    base64-encoded."""
    dlq.reset()
    queue = Account(dlq.url, *ROLE_KEY.values()).get_queue("dwtrigger-dlq")
    queue.set_encoding(False)
    bodies = [sample(SAMPLES[0]).decode(), sample(SAMPLES[1]).decode(), base64.b64encode(sample(SAMPLES[2])).decode()]
    for body in bodies:
        queue.send_message(Message(body))
    result = run("drain", "--queue", "dwtrigger-dlq", "--mns-endpoint", dlq.endpoint, "--rules", mq_rules,
                 "--wait", "0", env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["outcome            count", "triggered          3",
                                          "messages: 3 received, 3 released and deleted, 0 left"]
    assert released(emulator) == sorted(NODES.values()) and dlq.messages("dwtrigger-dlq") == []


def test_a_message_whose_release_failed_is_the_sweep_s_evidence_and_status_shows_it(mq_rules, env, emulator,
                                                                                     oss_standin):
    """The ledger's `asked` record is a message rule's evidence: the sweep releases the business date a message asked
    for and DataWorks refused, says `overdue` of the date no message asked for, and status shows which is which."""
    emulator.set_faults(script=["forbidden"] * 3, actions=["RunTriggerNode"])
    failed = run("replay", *(str(ROOT / "events" / name) for name in SAMPLES), "--rules", mq_rules, env=env)
    assert failed.exit_code == 1 and "failed             3" in failed.stderr.splitlines()
    for rule, node in NODES.items():
        assert json.loads(oss_standin.body("etl-ledger", f"dwtrigger/asked/{rule}/{node}/2026-03-10.json"))
    emulator.set_faults()

    swept = run("sweep", "--now", NOW, "--rules", mq_rules, env=env)
    assert swept.exit_code == 0, swept.output
    instances = {"payments-settled": 4267865830375825, "ads-ingest": 868417306388875, "hr-sync": 3644330132131695}
    assert swept.stderr.splitlines()[:6] == [
        *(f"overdue: {rule} node {node} bizdate 2026-03-11 no evidence by 2026-03-12T06:00:00+08:00: no event asked "
          "for this release (the ledger has no record of one)" for rule, node in NODES.items()),
        *(f"triggered: {rule} node {node} bizdate 2026-03-10 the sweep found oss://etl-ledger/dwtrigger/asked/{rule}/"
          f"{node}/2026-03-10.json; instance {instances[rule]} was WAIT_TRIGGER" for rule, node in NODES.items())]
    assert released(emulator) == sorted([*NODES.values()] * 2)      # the refused sends, then the sweep's

    board = run("status", "--now", NOW, "--rules", mq_rules, "--json", env=env)
    assert board.exit_code == 1, board.output
    rows = {(row["rule"], row["biz_date"]): row for row in json.loads(board.stdout)["rows"]}
    for rule, node in NODES.items():
        asked = f"oss://etl-ledger/dwtrigger/asked/{rule}/{node}/2026-03-10.json"
        assert (rows[rule, "2026-03-10"]["verdict"], rows[rule, "2026-03-10"]["asked"]) == ("released", asked)
        assert (rows[rule, "2026-03-11"]["verdict"], rows[rule, "2026-03-11"]["asked"]) == ("overdue", None)
