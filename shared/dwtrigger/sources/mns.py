"""MNS: messages published to a topic (`on: mns`, a topic trigger) or sent to a queue (through EventBridge).

Decisions on points the FC documentation leaves open (summarised in docs/reference.md, "Event shapes"):
- MNS topic JSON: every top-level key that is not one of MNS's own (`_MNS_TOPIC_KEYS`, which includes
  `MessageTag`) is a message attribute; attribute values that are not strings are kept as compact JSON.
- MNS STREAM shapes carry no topic, id or time: the topic comes from configuration, the id is a hash of the
  body (so identical bodies share an id) and the time is the invocation time.
- For the mns function any UTF-8 text that is not another recognised shape is a STREAM body, including
  JSON such as a CloudEvent of an unknown type.
- MNS queue CloudEvents are recognised by a `type` starting `mns:Queue:` (their `source` is the EventBridge
  source's own name); the event id is the CloudEvent `id`, the message id `data.messageId`.
- MNS queue bodies (EventBridge, `IsBase64Decode: false` sends base64) are decoded when the body is not
  JSON, is strict base64 and decodes to printable UTF-8 text; anything else is kept verbatim.
- An MNS queue message whose body is a topic notification in JSON format (a topic's subscription pushing to the
  queue) is that topic message: the Event the topic trigger's JSON format gives, with `queue` the one it came
  through. So a topic can reach the function through a queue, whose trigger has a dead-letter queue.

A rule has no files: the ledger's `asked` record is all the sweep can go by.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .. import rulefile
from ..events import (Event, Invalid, Parsed, cloudevent_data, cloudevent_ids, digest_id, each,
                      epoch_ms_field, not_for, shallow_json, shape_of, string, time_field, utf8_size)
from ..patterns import Pattern
from ..rule import FieldSpec, Rule
from ..rules import date_field_of
from . import Captures, Source, built_at, built_id
from ._eventbridge import attributes, base64_decoded, patterns, patterns_check, source_parameters

MAX_MNS_BODY_BYTES = 64 * 1024     # MNS's own limit on a message body (UTF-8 bytes, after base64-decoding)
# MNS's own top-level keys in a topic JSON notification; any other key is a message attribute.
_MNS_TOPIC_KEYS = frozenset({"TopicOwner", "TopicName", "Subscriber", "SubscriptionName", "MessageId",
                             "MessageMD5", "Message", "PublishTime", "MessageTag"})
_MNS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,255}\Z")
_STREAM_NEEDS_TOPIC = ("an MNS STREAM message does not name its topic: set the trigger's notifyContentFormat "
                       "to JSON or set DWTRIGGER_MNS_TOPIC")


@dataclass(frozen=True, kw_only=True)
class MnsRule(Rule):
    on: str = dataclasses.field(default="mns", init=False)
    topic: Optional[str]
    queue: Optional[str]
    message: Optional[Pattern]
    attributes: Optional[Pattern]
    date_field: Optional[FieldSpec]

    @property
    def takes_any_message(self) -> bool:
        """It names neither topic nor queue: it takes any message, of any topic."""
        return not self.topic and not self.queue


class Mns(rulefile.Source, tag="mns"):
    topic: Optional[str] = None
    queue: Optional[str] = None
    message: Optional[Dict[str, Any]] = None
    attributes: Optional[Dict[str, Any]] = None
    bizdate: Optional[rulefile.DateField] = None
    cycle: Optional[rulefile.DateField] = None


# ---- the event ----

def _parse_mns(doc: object, text: str, received_at: datetime, stream_topic: str | None) -> Iterable[Parsed]:
    """MNS topic messages (four shapes) or MNS queue messages from EventBridge (one or a batch)."""
    shape = shape_of(doc)
    if shape == "mns-queue-eventbridge":
        events = doc if isinstance(doc, list) else [doc]
        return each("mns", events, cloudevent_ids(events), _queue_message)
    if shape == "mns-topic-json":
        return [_topic_json(doc)]
    if shape == "mns-topic-stream-attrs":
        body = string(doc, "body")
        return [_stream_event("mns-topic-stream-attrs", body, attributes(doc["attrs"], "attributes"), received_at,
                              stream_topic)]
    if shape not in (None, "cloudevent"):  # every MNS shape is handled above
        raise not_for("mns", doc)
    return [_stream_event("mns-topic-stream", text, {}, received_at, stream_topic)]


def _message(body: str) -> dict:
    """The Event fields of a message body: the text, size-checked, and its JSON document."""
    size = utf8_size(body, "message body")
    if size > MAX_MNS_BODY_BYTES:
        raise Invalid(f"the message body is {size} bytes, over MNS's {MAX_MNS_BODY_BYTES}-byte limit")
    return {"body": body, "document": shallow_json(body, "the message body's JSON")}


def _topic_json(doc: dict) -> Event:
    found = attributes({name: value for name, value in doc.items() if name not in _MNS_TOPIC_KEYS}, "attributes")
    message_id = string(doc, "MessageId")
    return Event(source="mns", kind="mns-topic-json-attrs" if found else "mns-topic-json",
                 event_id=message_id, time=epoch_ms_field(doc, "PublishTime"), topic=string(doc, "TopicName"),
                 message_id=message_id, attributes=found, **_message(string(doc, "Message")))


def _stream_event(kind: str, body: str, attributes: dict[str, str], received_at: datetime,
                  stream_topic: str | None) -> Event:
    """A STREAM message, which carries no topic, id or time of its own."""
    if stream_topic is None:
        raise Invalid(_STREAM_NEEDS_TOPIC)
    aware = received_at if received_at.tzinfo else received_at.replace(tzinfo=timezone.utc)
    time = aware.astimezone(timezone.utc)
    return Event(source="mns", kind=kind, event_id=digest_id(body), time=time, topic=stream_topic or None,
                 attributes=attributes, undated=True, **_message(body))


def _queue_message(cloudevent: dict, event_id: str | None) -> Event:
    data = cloudevent_data(cloudevent, event_id, "mns-queue-eventbridge")
    subject = string(cloudevent, "subject")
    _, marker, queue = subject.rpartition(":queues/")
    if not marker or not queue or "/" in queue:
        raise Invalid(f"subject {subject[:200]!r} does not name a queue (acs:mns:<region>:<uid>:queues/<name>)")
    message = _message(base64_decoded(string(data, "messageBody")))
    if shape_of(message["document"]) == "mns-topic-json":        # pushed here by a topic's subscription
        return replace(_topic_json(message["document"]), queue=queue)
    return Event(source="mns", kind="mns-queue-eventbridge", event_id=event_id,
                 time=time_field(cloudevent, "time"), queue=queue, message_id=string(data, "messageId"), **message)


# ---- the rule ----

def _build(spec: Mns, problem) -> dict:
    if spec.topic and spec.queue:
        problem("topic", "set `topic` (topic trigger) or `queue` (queue via EventBridge), not both (or neither: the "
                         "rule takes any message this function receives)")
    for field in ("topic", "queue"):
        if getattr(spec, field) == "":
            problem(field, "must not be empty (leave it out to take any message this function receives)")
    return dict(topic=spec.topic, queue=spec.queue, date_field=date_field_of(spec, problem), **patterns(spec, problem))



# ---- matching ----

def _check(rule: MnsRule, event: Event) -> Tuple[Optional[Captures], Any]:
    if rule.topic and event.topic != rule.topic:
        return None, ("topic {!r} is not {!r}", (event.topic, rule.topic)) if event.topic \
            else ("not a topic message", ()) if event.queue else (_NO_TOPIC, ())
    if rule.queue and event.queue != rule.queue:
        return None, ("queue {!r} is not {!r}", (event.queue, rule.queue)) if event.queue \
            else ("not a queue message", ())
    return patterns_check(rule, event)


_NO_TOPIC = ("the STREAM message names no topic (set DWTRIGGER_MNS_TOPIC on the function, or the topic trigger's "
             "JSON format)")


# ---- explain's built events ----

def _topic_explained(options: dict, when: datetime):
    pairs = [a.partition("=") for a in options["attributes"]]
    if any(not name or not sep for name, sep, _ in pairs):
        raise ValueError("--attribute takes NAME=VALUE")
    return topic_message(options["topic"], options["body"], {n: v for n, _, v in pairs}, when)


def topic_message(topic: str, body: str, attributes: Mapping[str, str], when: datetime):
    """A topic trigger's message in JSON format, with its attributes at the top level as MNS puts them (for
    explain: its label, function and document)."""
    doc = {"TopicName": topic, "Message": body, "PublishTime": int(when.timestamp() * 1000),
           "MessageMD5": hashlib.md5(body.encode("utf-8", "surrogatepass")).hexdigest().upper(), **attributes}
    doc["MessageId"] = built_id(doc)
    return f"mns topic {topic}", "mns", doc


def queue_message(queue: str, body: str, when: datetime):
    """A queue message as EventBridge delivers it: one CloudEvent (for explain: its label, function and document)."""
    doc = {"source": f"MNS-{queue}", "specversion": "1.0", "type": "mns:Queue:SendMessage",
           "subject": f"acs:mns:-:-:queues/{queue}", "time": built_at(when, "milliseconds"),
           "data": {"messageBody": body}}
    doc["id"] = doc["data"]["messageId"] = built_id(doc)
    return f"mns queue {queue}", "mns", doc


# ---- s.yaml: its triggers (deploy/wiring.py asks; never a handler) ---------------------------------------------

def queue_of(t) -> Optional[str]:
    """The MNS queue an eventbridge trigger reads, if it reads one (`t`: a deploy/wiring.py Trigger)."""
    return (source_parameters(t, "MNS") or {}).get("QueueName")


def _wiring(rules, s: dict, topics: Sequence, queues: Sequence, where) -> list:
    """The problems between the rules and the mns_topic and eventbridge triggers (deploy/wiring.py's `check`)."""
    mns = rules.for_source("mns")
    read = {queue_of(t): t for t in queues}
    subscriptions, problems = (s.get("vars") or {}).get("subscriptions") or [], []
    subscribed = {}
    for entry in subscriptions:
        if not isinstance(entry, dict) or set(entry) != {"topic", "queue"}:
            problems.append((None, f"s.yaml: vars.subscriptions: {entry!r} is not {{topic: NAME, queue: NAME}}"))
        elif entry["queue"] not in read:
            problems.append((None, f"s.yaml: vars.subscriptions: queue {entry['queue']} (subscribed to topic "
                                   f"{entry['topic']}) has no eventbridge trigger on the mns function: add one"))
        else:
            subscribed[entry["queue"]] = entry["topic"]
    direct = {t.arn_tail("/topics/"): t for t in topics}
    for t in topics:
        if t.config.get("notifyContentFormat") != "JSON":
            problems.append((t, f"{t}: set notifyContentFormat to JSON: a STREAM message does not name its topic"))
    for topic in set(direct) & set(subscribed.values()):
        problems.append((direct[topic], f"{direct[topic]}: topic {topic} also reaches the function through its "
                                        "subscribed queue, so every message would be decided twice: keep one of the "
                                        "two"))
    reached = set(direct) | set(subscribed.values())
    for rule in mns:
        if not rule.topic and not rule.queue and not direct and not read:
            problems.append((None, f"{where(rules, rule.name)}: it takes any message, and no trigger in s.yaml "
                                   "brings the mns function one: add an eventbridge (queue) or mns_topic trigger to "
                                   "it, or remove the rule"))
        if rule.topic and rule.topic not in reached:
            problems.append((None, f"{where(rules, rule.name)}: no trigger in s.yaml feeds topic {rule.topic}: "
                                   "subscribe a queue to it (vars.subscriptions) with an eventbridge trigger on that "
                                   "queue, or add a mns_topic trigger, to the mns function; or remove the rule"))
        if rule.queue and rule.queue not in read:
            problems.append((None, f"{where(rules, rule.name)}: no trigger in s.yaml reads queue {rule.queue}: add "
                                   "an eventbridge trigger on it to the mns function, or remove the rule"))
    wanted_topics, wanted_queues = {r.topic for r in mns if r.topic}, {r.queue for r in mns if r.queue}
    if any(not r.topic and not r.queue for r in mns):      # a rule that takes any message: every trigger feeds it
        return problems
    for topic, t in direct.items():
        if topic not in wanted_topics:
            problems.append((t, f"{t} on topic {topic} feeds no rule in rules.yaml: remove it, or add a rule"))
    for queue, t in read.items():
        if queue not in wanted_queues and subscribed.get(queue) not in wanted_topics:
            via = f" (subscribed to topic {subscribed[queue]})" if queue in subscribed else ""
            problems.append((t, f"{t} on queue {queue}{via} feeds no rule in rules.yaml: remove it, or add a rule"))
    return problems


class MnsSource(Source):
    name, rule, schema = "mns", MnsRule, Mns
    shapes = {"mns-topic-json": "an MNS topic message in JSON format",
              "mns-topic-stream-attrs": "an MNS topic message in STREAM format with attributes",
              "mns-queue-eventbridge": "an MNS queue message from EventBridge"}
    takes_any_text, document, asks = True, "message", True

    def shape(self, doc: dict) -> Optional[str]:
        if "specversion" in doc:
            event_type = doc.get("type")
            return "mns-queue-eventbridge" if isinstance(event_type, str) and event_type.startswith("mns:Queue:") \
                else None
        if "Message" in doc and len(doc.keys() & _MNS_TOPIC_KEYS) > 1:
            return "mns-topic-json"
        if doc.keys() == {"body", "attrs"} and isinstance(doc["attrs"], dict):
            return "mns-topic-stream-attrs"
        return None

    def parse(self, doc: object, text: str, received_at: datetime, stream_topic: Optional[str]) -> Iterable[Parsed]:
        return _parse_mns(doc, text, received_at, stream_topic)

    def build(self, spec: Mns, problem) -> Optional[dict]:
        return _build(spec, problem)

    def check(self, rule: MnsRule, event: Event) -> Tuple[Optional[Captures], Any]:
        return _check(rule, event)

    def lookup(self, rules: Sequence[MnsRule], rank: Callable[[Rule], int]) -> Callable[[Event], List[Rule]]:
        """By topic or queue; a rule naming neither is a candidate for every message."""
        names: Dict[Tuple[str, Optional[str]], List[Rule]] = defaultdict(list)
        any_message: List[Rule] = []
        for rule in rules:
            if rule.topic or rule.queue:
                names["topic" if rule.topic else "queue", rule.topic or rule.queue].append(rule)
            else:
                any_message.append(rule)

        def candidates(event: Event) -> List[Rule]:
            found = names.get(("topic", event.topic), []) + names.get(("queue", event.queue), [])
            if any_message:
                found = sorted(found + any_message, key=rank)
            return found
        return candidates

    def date_field(self, rule: MnsRule) -> Optional[FieldSpec]:
        return rule.date_field

    def decision_fields(self, rule: MnsRule, schedule) -> Dict[str, Any]:
        return {"topic": rule.topic, "queue": rule.queue}

    def summary(self, rule: MnsRule) -> str:
        channel = f"topic {rule.topic}" if rule.topic else f"queue {rule.queue}" if rule.queue else "any message"
        patterns = [field for field in ("message", "attributes") if getattr(rule, field)]
        return f"mns {channel}" + (f" ({' and '.join(patterns)} pattern)" if patterns else "")

    trigger_kinds = ("mns_topic", "eventbridge")

    def takes_trigger(self, t) -> bool:
        """Topic triggers, and eventbridge triggers reading an MNS queue."""
        return t.kind != "eventbridge" or source_parameters(t, "MNS") is not None

    def feeds(self, t, rule: MnsRule, s: dict) -> bool:
        """Its topic or queue (every message for a rule naming neither)."""
        if not rule.topic and not rule.queue:
            return True                             # it takes any message
        subscribed = {entry.get("queue"): entry.get("topic") for entry in (s.get("vars") or {}).get("subscriptions")
                      or [] if isinstance(entry, dict)}
        topic = t.arn_tail("/topics/") if t.kind == "mns_topic" else subscribed.get(queue_of(t))
        return bool(rule.topic) and rule.topic == topic or bool(rule.queue) and rule.queue == queue_of(t)

    def wiring(self, rules, s: dict, found: Dict[str, list], where) -> list:
        return _wiring(rules, s, found["mns_topic"], found["eventbridge"], where)

    def explained(self):
        return {"topic": (("body", "attributes"), "body", _topic_explained),
                "queue": (("body",), "body", lambda options, when: queue_message(options["queue"], options["body"],
                                                                                 when))}

    def explain_options(self) -> list:
        import click

        return [click.option("--topic", metavar="TOPIC", help="Build an MNS topic message (JSON format), with --body."),
                click.option("--queue", metavar="QUEUE",
                             help="Build an MNS queue message (through EventBridge), with --body."),
                click.option("--body", metavar="TEXT", help="The message body."),
                click.option("--attribute", "attributes", multiple=True, metavar="NAME=VALUE",
                             help="A message's attribute, property or header (repeatable).")]

    def never(self, rule: MnsRule) -> Iterable[Tuple[str, str]]:
        for field in ("topic", "queue"):
            name = getattr(rule, field)
            if name and not _MNS_NAME.match(name):
                yield field, f"{name!r} is not a valid MNS {field} name: this rule can never match"

    def channels(self, rule: MnsRule) -> List[Tuple[str, str, bool]]:
        return [(kind, getattr(rule, kind), bool(rule.message or rule.attributes)) for kind in ("topic", "queue")
                if getattr(rule, kind)]

    def together(self, kind: str, name: str) -> str:
        return f"are on {kind} {name!r} and none has a message/attributes pattern"

    def overlap(self, a: MnsRule, b: MnsRule, example) -> str:
        same = (a.topic and a.topic == b.topic) or (a.queue and a.queue == b.queue)
        unfiltered = not (a.message or a.attributes) or not (b.message or b.attributes)
        return f"same {'topic' if a.topic else 'queue'} and one has no message/attributes pattern" \
            if same and unfiltered else ""

    def listed(self, rule: MnsRule) -> Dict[str, Any]:
        return {"topic": rule.topic, "queue": rule.queue, "message": rule.message is not None,
                "attributes": rule.attributes is not None}


SOURCE = MnsSource()
