"""ApsaraMQ for Kafka: messages on a topic (`on: kafka`), through an EventBridge trigger (eventSourceType Kafka,
event-streaming only), selected by `message:` (over the value's JSON) and `attributes:` (over the headers).

Decisions on points the documentation leaves open (../shared/reference/eventbridge-sources.md; summarised in
docs/reference.md, "Event shapes"):
- A delivery is a list of CloudEvents (type `alikafka:Topic:*`) or, as triggers of 2022 sent it, a list of their JSON
  as strings (`events.record_of`); a single CloudEvent is taken too.
- The topic is `data.topic`, else the `subject`'s tail after `:topic:`; the message id is `<topic>/<partition>/
  <offset>` when both are numbers (Kafka has no other), else none.
- `value` comes in the trigger's data format, which FC's trigger cannot choose (which one it uses is not
  documented): Json gives a JSON value (taken as that JSON), Text a string (JSON text or not), Binary base64 text
  (decoded when it decodes to printable UTF-8, as MNS bodies). A message without a value (a tombstone) is rejected.
- Headers: `data.headers.headers`, a list whose items' form is not documented: each `{key, value}` object is a header
  (a value that is a list of byte values decoded as UTF-8); a plain `{name: value}` object is taken as the headers
  too; any other form rejects the message, naming it. Values that are not strings are kept as compact JSON.
- The consumer group is the s.yaml trigger's (`ConsumerGroup`); a rule's `group:` only holds that trigger to it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Mapping, Optional

from ..events import Invalid
from ._eventbridge import BusSource, MessageRule, MessageSpec, attributes, channel_named, message


@dataclass(frozen=True, kw_only=True)
class KafkaRule(MessageRule):
    on: str = dataclasses.field(default="kafka", init=False)
    topic: str
    group: Optional[str]                # the consumer group its trigger reads as (s.yaml's ConsumerGroup): wiring only


class Kafka(MessageSpec, tag="kafka"):
    topic: Optional[str] = None
    group: Optional[str] = None


def headers(found: object) -> Dict[str, str]:
    """A record's headers: `{"headers": [{key, value}...], "isReadOnly": ...}`, or a plain object of them."""
    if isinstance(found, dict) and set(found) <= {"headers", "isReadOnly"} and isinstance(found.get("headers"), list):
        pairs = {}
        for item in found["headers"]:
            if not (isinstance(item, dict) and isinstance(item.get("key"), str)):
                raise Invalid(f"a header is not a {{key, value}} object: {str(item)[:80]!r}")
            pairs[item["key"]] = _header_value(item.get("value"))
        return attributes(pairs, "headers")
    return attributes(found, "headers")


def _header_value(value: object) -> object:
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("a header's value is not UTF-8 text") from None
    return value


class KafkaSource(BusSource):
    name, rule, schema = "kafka", KafkaRule, Kafka
    shapes = {"kafka-eventbridge": "a Kafka message from EventBridge"}
    expected = "a Kafka message from EventBridge (a list of CloudEvents of type alikafka:Topic:*, or of their JSON)"
    channel, source_type, channel_parameter, type_prefix = "topic", "Kafka", "Topic", "alikafka:"
    group_parameter = "ConsumerGroup"
    headers = "message headers"

    def fields(self, cloudevent: dict, data: dict) -> dict:
        topic = channel_named(data, cloudevent, "topic", ":topic:", "...:topic:<topic>")
        if data.get("value") is None:
            raise Invalid("the message has no value (a tombstone releases nothing)")
        place = [data.get(field) for field in ("partition", "offset")]
        numbered = all(isinstance(n, int) and not isinstance(n, bool) for n in place)
        return {"topic": topic, "message_id": f"{topic}/{place[0]}/{place[1]}" if numbered else None,
                "attributes": headers(data.get("headers")), **message(data["value"])}

    def built(self, channel: str, body: str, attributes: Mapping[str, str], options: dict, when: datetime) -> dict:
        return {"type": "alikafka:Topic:Message", "subject": f"acs:alikafka_-:topic:{channel}",
                "data": {"topic": channel, "partition": 0, "offset": 0, "timestamp": int(when.timestamp() * 1000),
                         "headers": {"headers": [{"key": k, "value": v} for k, v in attributes.items()],
                                     "isReadOnly": False}, "value": body}}


SOURCE = KafkaSource()
