"""ApsaraMQ for RabbitMQ: messages on a queue (`on: rabbitmq`), through an EventBridge trigger (eventSourceType
RabbitMQ), selected by `message:` (over the body's JSON) and `attributes:` (over the AMQP headers).

Decisions on points the documentation leaves open (../shared/reference/eventbridge-sources.md; summarised in
docs/reference.md, "Event shapes"):
- A CloudEvent is RabbitMQ's by its `type` (`amqp:Queue:*`); its `source` (the trigger's or the event source's name)
  is not read.
- The queue is the `subject`'s tail after `/queues/` (`acs:amqp:<region>:<uid>:/instances/<id>/vhosts/<vhost>/
  queues/<queue>`), whatever the exchange and routing key that brought the message there.
- `body` is a JSON object in the documented examples; a non-JSON body's form is not documented: a string is taken as
  the text (base64 decoded when it decodes to printable UTF-8, as MNS bodies), any JSON value as that JSON.
- Which AMQP properties `props` carries is not documented beyond `contentEncoding` and `messageId`: the attributes
  are `props.headers` (the AMQP headers) when there are any; the message id is `props.messageId` when there is one.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Optional

from ..events import Invalid, lookup, string
from ._eventbridge import BusSource, MessageRule, MessageSpec, attributes, message


@dataclass(frozen=True, kw_only=True)
class RabbitmqRule(MessageRule):
    on: str = dataclasses.field(default="rabbitmq", init=False)
    queue: str


class Rabbitmq(MessageSpec, tag="rabbitmq"):
    queue: Optional[str] = None


class RabbitmqSource(BusSource):
    name, rule, schema = "rabbitmq", RabbitmqRule, Rabbitmq
    shapes = {"rabbitmq-eventbridge": "a RabbitMQ message from EventBridge"}
    expected = "a RabbitMQ message from EventBridge (a CloudEvent of type amqp:Queue:*, or a list of them)"
    channel, source_type, channel_parameter, type_prefix = "queue", "RabbitMQ", "QueueName", "amqp:"
    headers = "message headers"

    def fields(self, cloudevent: dict, data: dict) -> dict:
        subject = string(cloudevent, "subject")
        _, marker, queue = subject.rpartition("/queues/")
        if not marker or not queue or "/" in queue:
            raise Invalid(f"subject {subject[:200]!r} does not name a queue (acs:amqp:...:/instances/<id>/vhosts/"
                          "<vhost>/queues/<queue>)")
        props = data.get("props") or {}
        if not isinstance(props, dict):
            raise Invalid("the message's 'props' is not an object")
        message_id = props.get("messageId")
        return {"queue": queue, "message_id": message_id if isinstance(message_id, str) and message_id else None,
                "attributes": attributes(props.get("headers"), "headers"), **message(lookup(data, "body"))}

    def built(self, channel: str, body: str, attributes: Mapping[str, str], options: dict, when: datetime) -> dict:
        return {"type": "amqp:Queue:SendMessage", "subject": f"acs:amqp:-:-:/instances/-/vhosts/-/queues/{channel}",
                "data": {"envelope": {"exchange": "", "routingKey": channel, "redeliver": False},
                         "body": body, "props": {"headers": dict(attributes)}}}


SOURCE = RabbitmqSource()
