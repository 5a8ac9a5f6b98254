"""What the message sources EventBridge delivers share: MNS queues (sources/mns.py) and the message queues
(sources/rocketmq.py, kafka.py, rabbitmq.py), each behind `BusSource`.

EventBridge hands a function either one CloudEvent (event-driven) or a list of them (event-streaming); older Kafka
triggers sent a list of JSON *strings*, each a CloudEvent (aliyun/fc-runtime-go-sdk, 2022), which `cloudevents`
reads too. A message's body is matched by `message:` patterns over its JSON and its properties or headers by
`attributes:` patterns; its business date comes from a `bizdate:`/`cycle:` field or the CloudEvent's `time`. The
rules name their channel (a topic or a queue); the s.yaml triggers read one channel each, with a dead-letter
queue (deploy/s.schema.json holds every eventbridge trigger to `runOptions` with one and `errorsTolerance: ALL`).
"""
from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .. import rulefile
from ..events import (NOT_JSON, Event, Invalid, Parsed, cloudevent_data, cloudevent_ids, each, not_for,
                      record_of, shallow_json, shape_of, time_field, utf8_size)
from ..matching import PATTERN
from ..patterns import Pattern, PatternError, compile_pattern
from ..rule import FieldSpec, Rule
from ..rules import date_field_of
from . import Captures, Source, built_at, built_id

PATTERN_FIELDS = ("message", "attributes")


@dataclass(frozen=True, kw_only=True)
class MessageRule(Rule):
    """What a message queue's rule has beside its channel (a module's rule type adds it, and fixes `on`)."""
    message: Optional[Pattern]
    attributes: Optional[Pattern]
    date_field: Optional[FieldSpec]


class MessageSpec(rulefile.Source):
    """What a message queue's rule says beside its channel (a module's schema adds it, tagged with its name)."""
    message: Optional[Dict[str, Any]] = None
    attributes: Optional[Dict[str, Any]] = None
    bizdate: Optional[rulefile.DateField] = None
    cycle: Optional[rulefile.DateField] = None


# ---- the event ----

def cloudevents(doc: object) -> list:
    """The CloudEvents of a delivery: one (event-driven) or a list (event-streaming), where an item that is a string
    is the JSON of one (`events.record_of`)."""
    return [record_of(item) for item in (doc if isinstance(doc, list) else [doc])]


def attributes(values: object, what: str) -> Dict[str, str]:
    """Message properties or headers as strings (a value that is not a string as compact JSON)."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise Invalid(f"the message's {what} are not an object")
    return {str(name): value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            for name, value in values.items()}


def message(body: object) -> dict:
    """The Event fields of a message body: text as it came (a JSON value, as Kafka's Json format and RabbitMQ give
    it, as compact JSON text), base64 decoded when evidently encoded (`base64_decoded`), and its JSON document."""
    if body is None:
        raise Invalid("the message has no body")
    if not isinstance(body, str):
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    body = base64_decoded(body)
    utf8_size(body, "message body")
    return {"body": body, "document": shallow_json(body, "the message body's JSON")}


def base64_decoded(body: str) -> str:
    """The body, base64-decoded when it evidently was encoded (MNS's `IsBase64Decode: false`, Kafka's Binary format,
    a binary RocketMQ or RabbitMQ body as text).

    The CloudEvent does not say whether it was, so decode only a body that is not JSON, is strict base64 and decodes
    to printable UTF-8 text: plain words that happen to be base64 decode to binary and stay.
    """
    try:
        json.loads(body)
        return body
    except (ValueError, RecursionError):
        pass
    try:
        decoded = base64.b64decode(body, validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return body
    printable = decoded and all(char.isprintable() or char in "\t\n\r" for char in decoded)
    return decoded if printable else body


def channel_named(data: dict, cloudevent: dict, field: str, marker: str, form: str) -> str:
    """The topic or queue a message came on: `data[field]`, else the `subject`'s tail after `marker` (a subject without
    it names none: `form` shows the one expected)."""
    named = data.get(field)
    if not named:
        _, found, named = str(cloudevent.get("subject") or "").rpartition(marker)
        named = named if found else None
    if not isinstance(named, str) or not named:
        raise Invalid(f"neither 'data.{field}' nor the subject ({form}) names the {field}")
    return named


# ---- the rule ----

def patterns(spec, problem) -> Dict[str, Any]:
    """The rule's `message` and `attributes` patterns, compiled (None where it has none)."""
    compiled = {}
    for field in PATTERN_FIELDS:
        raw = getattr(spec, field)
        compiled[field] = None
        if raw is not None:
            try:
                compiled[field] = compile_pattern(raw)
            except PatternError as e:
                where = str(e).partition(": ")[0]
                problem(field if where == "(root)" else f"{field}.{where}", str(e))
    return compiled


def patterns_check(rule, event: Event, headers: str = "message attributes") -> Tuple[Optional[Captures], Any]:
    """Whether the message's attributes (`headers`, as misses name them) and body take the rule's patterns."""
    if rule.attributes and not rule.attributes.matches(dict(event.attributes)):
        return None, (PATTERN, (headers, rule.attributes, dict(event.attributes)))
    if rule.message:
        if event.document is NOT_JSON:
            return None, ("message body is not JSON, and the rule has a `message` pattern", ())
        if not rule.message.matches(event.document):
            return None, (PATTERN, ("message body", rule.message, event.document))
    return {}, "matched"




# ---- s.yaml ----

def source_parameters(t, source_type: str) -> Optional[dict]:
    """An eventbridge trigger's parameters when it reads `source_type` (MNS, RocketMQ, ...), else None."""
    source = t.config.get("eventSourceConfig") or {}
    if source.get("eventSourceType") != source_type:
        return None
    parameters = (source.get("eventSourceParameters") or {}).get(f"source{source_type}Parameters")
    return parameters if isinstance(parameters, dict) else {}


# ---- a message queue's source ----

class BusSource(Source):
    """A message queue whose messages EventBridge delivers as CloudEvents of types starting `type_prefix`: each rule
    names one channel (its `channel` field, "topic" or "queue"), and each s.yaml trigger reads one (its
    `source<source_type>Parameters`' `channel_parameter`), as the consumer group in its `group_parameter` when the
    queue has groups (a rule's optional `group:` holds the trigger to it: wiring, since no message says which group
    read it). A module gives the rest: `fields` (a CloudEvent's Event fields), `headers` (what its attributes are
    called), and its own rule fields (`own`, `own_check`)."""
    channel: str
    source_type: str
    channel_parameter: str
    type_prefix: str
    group_parameter: Optional[str] = None
    headers = "message attributes"
    document, asks = "message", True

    @property
    def kind(self) -> str:
        return next(iter(self.shapes))

    def shape(self, doc: dict) -> Optional[str]:
        event_type = doc.get("type")
        return self.kind if "specversion" in doc and isinstance(event_type, str) and \
            event_type.startswith(self.type_prefix) else None

    def parse(self, doc: object, text: str, received_at: datetime, stream_topic: Optional[str]) -> Iterable[Parsed]:
        """One CloudEvent or a list (of CloudEvents, or of their JSON as strings)."""
        if shape_of(doc) != self.kind:
            raise not_for(self.name, doc)
        items = cloudevents(doc)
        return each(self.name, items, cloudevent_ids(items), self._event)

    def _event(self, cloudevent: dict, event_id: Optional[str]) -> Event:
        data = cloudevent_data(cloudevent, event_id, self.kind)
        return Event(source=self.name, kind=self.kind, event_id=event_id, time=time_field(cloudevent, "time"),
                     **self.fields(cloudevent, data))

    def fields(self, cloudevent: dict, data: dict) -> dict:
        """The Event fields of one message: its channel, message_id, body and document, attributes."""
        raise NotImplementedError

    # the rule

    def build(self, spec, problem) -> Optional[dict]:
        name = getattr(spec, self.channel)
        if not name:
            problem(self.channel, f"required: the {self.channel} whose messages the rule takes")
        grouped = {"group": spec.group or None} if self.group_parameter else {}
        return {self.channel: name, "date_field": date_field_of(spec, problem), **patterns(spec, problem),
                **grouped, **self.own(spec, problem)}

    def own(self, spec, problem) -> dict:
        """Its own rule fields beside the channel and the patterns."""
        return {}

    def check(self, rule: Rule, event: Event) -> Tuple[Optional[Captures], Any]:
        wanted, got = getattr(rule, self.channel), getattr(event, self.channel)
        if got != wanted:
            return None, (f"{self.channel} {{!r}} is not {{!r}}", (got, wanted))
        miss = self.own_check(rule, event)
        return (None, miss) if miss else patterns_check(rule, event, self.headers)

    def own_check(self, rule: Rule, event: Event) -> Any:
        """Its own fields' miss, or None."""
        return None

    def lookup(self, rules: Sequence[Rule], rank: Callable[[Rule], int]) -> Callable[[Event], List[Rule]]:
        """By channel (rules keep the file's order)."""
        named: Dict[str, List[Rule]] = defaultdict(list)
        for rule in rules:
            named[getattr(rule, self.channel)].append(rule)
        return lambda event: named.get(getattr(event, self.channel), [])

    def date_field(self, rule) -> Optional[FieldSpec]:
        return rule.date_field

    def decision_fields(self, rule, schedule) -> Dict[str, Any]:
        return {self.channel: getattr(rule, self.channel)}

    # the commands

    def summary(self, rule) -> str:
        used = [field for field in ("tags", *PATTERN_FIELDS) if getattr(rule, field, None)]
        return f"{self.name} {self.channel} {getattr(rule, self.channel)}" + \
            (f" ({' and '.join(used)} {'filter' if used == ['tags'] else 'pattern'})" if used else "")

    def listed(self, rule) -> Dict[str, Any]:
        return {self.channel: getattr(rule, self.channel), **({"group": rule.group} if self.group_parameter else {}),
                **{field: getattr(rule, field) is not None for field in PATTERN_FIELDS}}

    def filtered(self, rule) -> bool:
        """Whether it takes only some of its channel's messages."""
        return bool(rule.message or rule.attributes)

    def channels(self, rule) -> List[Tuple[str, str, bool]]:
        return [(f"{self.name} {self.channel}", getattr(rule, self.channel), self.filtered(rule))]

    def together(self, kind: str, name: str) -> str:
        return f"are on {kind} {name!r} and none has a filter"

    def overlap(self, a, b, example) -> str:
        same = getattr(a, self.channel) == getattr(b, self.channel)
        return f"same {self.channel} and one has no filter" \
            if same and not (self.filtered(a) and self.filtered(b)) else ""

    # explain's built events: --<name> CHANNEL --body TEXT [--attribute NAME=VALUE] (mns declares the last two)

    def explained(self):
        return {self.name: (("body", "attributes", *self.own_options), "body", self._explained)}

    own_options: Tuple[str, ...] = ()

    def _explained(self, options: dict, when: datetime):
        pairs = [a.partition("=") for a in options["attributes"]]
        if any(not name or not sep for name, sep, _ in pairs):
            raise ValueError("--attribute takes NAME=VALUE")
        channel = options[self.name]
        doc = {"specversion": "1.0", "source": f"{self.source_type}-dwtrigger-{self.name}", "time": built_at(
            when, "milliseconds"), **self.built(channel, options["body"], {n: v for n, _, v in pairs}, options, when)}
        doc["id"] = built_id(doc)
        return f"{self.name} {self.channel} {channel}", self.name, doc

    def built(self, channel: str, body: str, attributes: Mapping[str, str], options: dict, when: datetime) -> dict:
        """A message's CloudEvent `type`, `subject` and `data`, as EventBridge delivers it."""
        raise NotImplementedError

    def explain_options(self) -> list:
        import click

        return [click.option(f"--{self.name}", metavar=self.channel.upper(),
                             help=f"Build a {self.source_type} message on this {self.channel}, with --body "
                                  "[--attribute NAME=VALUE].")]

    # s.yaml

    trigger_kinds = ("eventbridge",)

    def takes_trigger(self, t) -> bool:
        return source_parameters(t, self.source_type) is not None

    def channel_of(self, t) -> Optional[str]:
        """The channel an eventbridge trigger reads, if it reads this source's messages."""
        parameters = source_parameters(t, self.source_type)
        return None if parameters is None else parameters.get(self.channel_parameter)

    def group_of(self, t) -> Optional[str]:
        """The consumer group an eventbridge trigger of this source reads as (None: the queue has no groups)."""
        return (source_parameters(t, self.source_type) or {}).get(self.group_parameter) if self.group_parameter \
            else None

    def feeds(self, t, rule, s: dict) -> bool:
        group = getattr(rule, "group", None)
        return self.channel_of(t) == getattr(rule, self.channel) and (group is None or self.group_of(t) == group)

    def wiring(self, rules, s: dict, found: Dict[str, list], where) -> list:
        """Each rule's channel read by a trigger on its function (as its group, if it names one), and each trigger
        feeding some rule."""
        mine, problems, triggers = rules.for_source(self.name), [], found["eventbridge"]
        for rule in mine:
            name, group = getattr(rule, self.channel), getattr(rule, "group", None)
            if any(self.feeds(t, rule, s) for t in triggers):
                continue
            on = [t for t in triggers if self.channel_of(t) == name]
            problems.append((None, f"{where(rules, rule.name)}: no trigger in s.yaml reads {self.channel} {name}" + (
                f" as group {group} ({on[0]} reads it as {self.group_of(on[0])}): set its {self.group_parameter}"
                if on else
                f": add an eventbridge trigger with eventSourceType {self.source_type} on it"
                f"{f' ({self.group_parameter} {group})' if group else ''} to the {self.name} function") +
                ", or remove the rule"))
        named = {getattr(rule, self.channel) for rule in mine}          # a group is said where it is the difference
        problems += [(t, f"{t} on {self.channel} {self.channel_of(t)}" +
                      (f" as group {self.group_of(t)}" if self.channel_of(t) in named else "") +
                      " feeds no rule in rules.yaml: remove it, or add a rule")
                     for t in triggers if not any(self.feeds(t, rule, s) for rule in mine)]
        return problems
