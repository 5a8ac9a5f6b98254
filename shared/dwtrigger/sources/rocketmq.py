"""ApsaraMQ for RocketMQ: messages on a topic (`on: rocketmq`), through an EventBridge trigger (eventSourceType
RocketMQ), selected by `tags:`, `message:` and `attributes:` (docs/rules.md).

Decisions on points the documentation leaves open (../shared/reference/eventbridge-sources.md; summarised in
docs/reference.md, "Event shapes"):
- A CloudEvent is RocketMQ's by its `type` (`mq:Topic:*`); its `source` is the trigger's own name
  (`RocketMQ-<function>-<trigger>`) or `acs:mq`, so it is not read. Extension attributes (`aliyuneventbusname` ...)
  are not needed: event-streaming deliveries may lack them.
- The topic is `data.topic`, else the `subject`'s tail after `%` (`acs:mq:<region>:<uid>:<instance>%<topic>`).
- `systemProperties` values are read as strings or numbers alike (the documented example has both for fields the
  table calls Int); the message id is `UNIQ_KEY` when there is one.
- The message's attributes are its `userProperties` plus the system properties `TAGS` and `KEYS` under those names,
  as RocketMQ's own clients hold them in one map (a user property may not take a system property's name): so `tags:`
  reads `TAGS` where `attributes:` patterns can too, and Event needs no field of its own for them.
- `body` is a string in every documented example; how a binary body arrives is not documented: a body that is not
  JSON, is strict base64 and decodes to printable UTF-8 is decoded (as MNS bodies), anything else kept as it came; a
  JSON value instead of a string is taken as that JSON.
- A consumer group (`GroupID`) is the s.yaml trigger's: no message says which group read it, so a rule's `group:`
  matches nothing and only holds the trigger that feeds it to that group (wiring, `make package`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..events import Event
from ._eventbridge import BusSource, MessageRule, MessageSpec, attributes, channel_named, message

SYSTEM = ("TAGS", "KEYS")        # the system properties a rule may read, under these names, among the attributes


@dataclass(frozen=True, kw_only=True)
class RocketmqRule(MessageRule):
    on: str = dataclasses.field(default="rocketmq", init=False)
    topic: str
    group: Optional[str]                # the consumer group its trigger reads as (s.yaml's GroupID): wiring only
    tags: Optional[Tuple[str, ...]]


class Rocketmq(MessageSpec, tag="rocketmq"):
    topic: Optional[str] = None
    group: Optional[str] = None
    tags: Optional[List[str]] = None


class RocketmqSource(BusSource):
    name, rule, schema = "rocketmq", RocketmqRule, Rocketmq
    shapes = {"rocketmq-eventbridge": "a RocketMQ message from EventBridge"}
    expected = "a RocketMQ message from EventBridge (a CloudEvent of type mq:Topic:*, or a list of them)"
    channel, source_type, channel_parameter, type_prefix = "topic", "RocketMQ", "Topic", "mq:Topic:"
    group_parameter = "GroupID"
    headers = "message properties"
    own_options = ("tag",)

    def fields(self, cloudevent: dict, data: dict) -> dict:
        system = attributes(data.get("systemProperties"), "systemProperties")
        topic = channel_named(data, cloudevent, "topic", "%", "acs:mq:...%<topic>")
        own = {name: system[name] for name in SYSTEM if system.get(name)}
        return {"topic": topic, "message_id": system.get("UNIQ_KEY") or None, **message(data.get("body")),
                "attributes": {**attributes(data.get("userProperties"), "userProperties"), **own}}

    def own(self, spec: Rocketmq, problem) -> dict:
        if spec.tags is not None and (not spec.tags or not all(spec.tags)):
            problem("tags", "list one tag or more, none empty (leave `tags` out to take messages of any tag)")
        return {"tags": tuple(spec.tags) if spec.tags else None}

    def own_check(self, rule: RocketmqRule, event: Event) -> Any:
        tag = event.attributes.get("TAGS")
        if rule.tags and tag not in rule.tags:
            return ("tag {!r} is not one of {}", (tag, ", ".join(rule.tags))) if tag else \
                ("the message has no tag, and the rule takes tags {}", (", ".join(rule.tags),))
        return None

    def listed(self, rule: RocketmqRule) -> Dict[str, Any]:
        return {**super().listed(rule), "tags": list(rule.tags) if rule.tags else None}

    def filtered(self, rule: RocketmqRule) -> bool:
        return super().filtered(rule) or bool(rule.tags)

    def built(self, channel: str, body: str, attributes: Mapping[str, str], options: dict, when: datetime) -> dict:
        system = {"TAGS": options["tag"]} if options["tag"] else {}
        return {"type": "mq:Topic:SendMessage", "subject": f"acs:mq:-:-:-%{channel}",
                "data": {"topic": channel, "systemProperties": system, "userProperties": dict(attributes),
                         "body": body}}

    def explain_options(self) -> list:
        import click

        return [*super().explain_options(), click.option("--tag", metavar="TAG",
                                                                 help="A RocketMQ message's tag (TAGS).")]


SOURCE = RocketmqSource()
