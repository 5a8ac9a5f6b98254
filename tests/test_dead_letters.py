"""What lands in the dead-letter queue comes back with `dwtrigger replay`, whichever path put it there.

Two services write to `vars.dlq` (docs/deploy.md, "Where a failure ends"): FC's failure destination writes its record
(the original event in `requestPayload`), EventBridge writes the CloudEvent it could not deliver, as it was. An MNS body
may hold either base64-encoded. And a topic read through its subscribed queue arrives as a queue message whose body
is the topic's JSON notification: it must be decided exactly as the topic trigger's delivery is, or the
recommended deployment would change what releases.
"""
import base64
import dataclasses
import json
from datetime import datetime, timezone

from click.testing import CliRunner

from conftest import ROLE_KEY, ROOT, sample
from dead_letters import fc_record
from dwtrigger.events import parse
from dwtrigger.ops.cli import main
from dwtrigger.ops.inputs import Record, Unreadable, read

RULES = str(ROOT / "rules.yaml")
RECEIVED = datetime(2026, 3, 11, 2, tzinfo=timezone.utc)
ADVICE = "if it is a raw MNS STREAM message body, pass --source mns"


def line(doc: object, encoded: bool = False) -> bytes:
    text = json.dumps(doc).encode()
    return base64.b64encode(text) if encoded else text


def through_queue(notification: bytes, encoded: bool = False) -> bytes:
    """An event-streaming batch of one message on the queue subscribed to the topic: MNS's JSON notification as
    the body (base64 when EventBridge passes it undecoded)."""
    cloudevent = json.loads(sample("mns/queue-eventbridge-single.json"))
    cloudevent["subject"] = cloudevent["subject"].replace(":queues/etl-events", ":queues/dwtrigger-etl-done")
    body = json.dumps(json.loads(notification))
    cloudevent["data"]["messageBody"] = base64.b64encode(body.encode()).decode() if encoded else body
    return json.dumps([cloudevent]).encode()


def replay(*args: str, emulator, input: bytes):
    env = {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
           "POWERTOOLS_SERVICE_NAME": "dwtrigger-dead-letters-test", **ROLE_KEY}
    return CliRunner().invoke(main, ["replay", "-", "--rules", RULES, *args], env=env, input=input)


def released(emulator) -> list:
    return sorted(c["params"]["NodeId"] for c in emulator.calls if c["action"] == "RunTriggerNode")


def test_replay_takes_fcs_records_and_eventbridges_dead_letters_as_json_or_base64(emulator):
    drained = b"\n".join([
        line(fc_record(sample("timer/nightly.json"))),                           # FC's record, JSON
        line(json.loads(sample("mns/queue-eventbridge-single.json"))),             # EventBridge's, JSON
        line(json.loads(sample("mns/queue-eventbridge-base64.json")), encoded=True),   # EventBridge's, base64
        line(fc_record(sample("mns/topic-json-finance.json")), encoded=True),     # FC's record, base64
    ]) + b"\n"
    result = replay(emulator=emulator, input=drained)
    assert result.exit_code == 0, result.output
    assert "triggered          3" in result.stderr and "already_triggered  1" in result.stderr
    # nightly, crm-export (the base64 sample's date; the JSON one's instance was released before), finance-close
    assert released(emulator) == ["700001235000", "700001235100", "700009999"]


def test_a_base64_dead_letter_that_fails_again_is_kept_as_the_json_it_encodes(tmp_path, emulator):
    emulator.set_faults(forbidden_rate=1.0)
    dead = fc_record(sample("timer/nightly.json"))
    kept = tmp_path / "rest.ndjson"
    result = replay("--failed-out", str(kept), emulator=emulator, input=line(dead, encoded=True) + b"\n")
    assert result.exit_code == 1 and "failed             1" in result.stderr
    assert kept.read_bytes() == json.dumps(dead, separators=(",", ":")).encode() + b"\n"
    assert read("rest.ndjson", kept.read_bytes()) == [Record("rest.ndjson", None, sample("timer/nightly.json"),
                                                             dead)]


def test_base64_that_encodes_no_dead_letter_is_never_guessed_at():
    message = base64.b64encode(b'{"job": "finance-close", "status": "SUCCEEDED"}') + b"\n"
    assert read("dlq.ndjson", message) == [Unreadable(
        "dlq.ndjson", f"not valid JSON at line 1, column 1: Expecting value; {ADVICE}", message)]
    assert read("dlq.ndjson", message, "mns") == [Record("dlq.ndjson", "mns", message, message)]


def test_a_topic_message_through_its_subscribed_queue_is_decided_as_the_topic_trigger_decides_it(emulator):
    for name in ("mns/topic-json-finance.json", "mns/topic-json-attrs-billing.json"):
        [direct] = parse("mns", sample(name), RECEIVED)
        for encoded in (False, True):
            [via_queue] = parse("mns", through_queue(sample(name), encoded), RECEIVED)
            assert via_queue == dataclasses.replace(direct, queue="dwtrigger-etl-done"), (name, encoded)
            assert via_queue.document == direct.document and via_queue.topic == json.loads(sample(name))["TopicName"]
    result = replay(emulator=emulator, input=through_queue(sample("mns/topic-json-finance.json")))
    assert result.exit_code == 0, result.output
    assert "triggered          1" in result.stderr and released(emulator) == ["700009999"]
