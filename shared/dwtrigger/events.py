"""Raw FC event bytes -> normalised events.

Every source delivers bytes in several shapes (see docs/reference.md, "Event shapes"). The relay only ever sees
`Event` (something to match) or `Rejected` (something malformed, with the reason), never raw JSON.

`parse` never raises: a handler that raised on a malformed event would make FC retry it for nothing.

Decisions on points the FC documentation leaves open (summarised in docs/reference.md, "Event shapes"):
- OSS keys are URL-decoded only when they contain `%` and the escapes decode to valid UTF-8; `+` is kept
  as is. A literal key like `100%25.csv` is therefore read as `100%.csv` (OSS keys rarely contain `%XX`).
- OSS native event ids are the record's `responseElements.requestId` (a sha256 of the record when it has
  none); records of one delivery sharing an id get `#<index>` appended. CloudEvents use their `id`.
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
- Times without a zone are read as UTC; any number of fraction digits is accepted (truncated to micros).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator, Mapping, Optional, Union
from urllib.parse import unquote

SOURCES = ("oss", "mns", "timer")

MAX_RAW_BYTES = 32 * 1024 * 1024   # FC's synchronous payload limit: anything larger is not a real delivery
MAX_DEPTH = 64                     # real events nest < 10 levels; bounds recursion in every later consumer
MAX_KEY_BYTES = 1023               # OSS's own limit on an object key (UTF-8 bytes, after URL-decoding)
MAX_MNS_BODY_BYTES = 64 * 1024     # MNS's own limit on a message body (UTF-8 bytes, after base64-decoding)


NOT_JSON = object()   # a body or payload that is not JSON (matches only rules without a `message` pattern)


@dataclass(frozen=True)
class Event:
    source: str                         # "oss" | "mns" | "timer"
    kind: str                           # the wire shape it arrived in, e.g. "mns-topic-json"
    event_id: str
    time: datetime                      # timezone-aware (UTC) time the event says it happened
    bucket: Optional[str] = None        # oss
    key: Optional[str] = None           # oss, URL-decoded
    event_name: Optional[str] = None    # oss, e.g. "ObjectCreated:PutObject" (no "oss:" prefix)
    topic: Optional[str] = None         # mns topic trigger
    queue: Optional[str] = None         # mns queue via EventBridge
    message_id: Optional[str] = None    # mns
    body: Optional[str] = None          # mns message body as text
    attributes: Mapping[str, str] = field(default_factory=dict)  # mns message attributes
    timer: Optional[str] = None         # timer triggerName
    payload: Optional[str] = None       # timer payload string
    # `time` is when the function received it, not a time of its own (MNS STREAM formats carry none): it changes
    # when FC retries or a dead letter is replayed, so it cannot name a business date.
    undated: bool = False
    # The body (mns) or payload (timer) parsed once, by the parser's depth check; NOT_JSON when it is not JSON.
    document: object = field(default=NOT_JSON, compare=False, repr=False)


@dataclass(frozen=True)
class Rejected:
    source: str
    reason: str
    event_id: Optional[str] = None


Parsed = Union[Event, Rejected]

# MNS's own top-level keys in a topic JSON notification; any other key is a message attribute.
_MNS_TOPIC_KEYS = frozenset({"TopicOwner", "TopicName", "Subscriber", "SubscriptionName", "MessageId",
                             "MessageMD5", "Message", "PublishTime", "MessageTag"})
_CLOUDEVENT_KINDS = ("oss-eventbridge", "mns-queue-eventbridge", "cloudevent")
_DESCRIPTIONS = {
    "oss-native": "an OSS trigger event",
    "oss-eventbridge": "an OSS event from EventBridge",
    "mns-topic-json": "an MNS topic message in JSON format",
    "mns-topic-stream-attrs": "an MNS topic message in STREAM format with attributes",
    "mns-queue-eventbridge": "an MNS queue message from EventBridge",
    "timer": "a timer trigger event",
    "cloudevent": "a CloudEvent neither from acs.oss nor of an mns:Queue:* type",
}
_EXPECTED = {
    "oss": 'an OSS event ({"events": [...]} or a CloudEvent from acs.oss)',
    "timer": 'a timer event ({"triggerTime", "triggerName", "payload"})',
}
_STREAM_NEEDS_TOPIC = ("an MNS STREAM message does not name its topic: set the trigger's notifyContentFormat "
                       "to JSON or set DWTRIGGER_MNS_TOPIC")
# ISO 8601 date-times as producers write them (Python 3.10's fromisoformat takes less: no `Z`, fixed fractions).
_ISO_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
                       r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2})?)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class _Invalid(Exception):
    """Rejects the record (or the whole delivery) being parsed; the message is the reason."""


ANY_TOPIC = ""       # parse's stream_topic when an MNS rule names neither topic nor queue


def parse(source: str, raw: bytes | str, received_at: datetime,
          stream_topic: str | None = None) -> list[Parsed]:
    """Normalise what FC passed the `source` function into one Event or Rejected per message/record.

    `received_at` (the invocation time) and `stream_topic` (from configuration) stand in for what MNS
    STREAM deliveries do not carry. `stream_topic` ANY_TOPIC: the rules take messages of any topic, so a STREAM
    message without one is taken without one; None: it is rejected, saying how to name its topic.
    """
    return list(records(source, raw, received_at, stream_topic))


def records(source: str, raw: bytes | str, received_at: datetime,
            stream_topic: str | None = None) -> Iterator[Parsed]:
    """`parse`, a record at a time: the document is read first, each record only when asked for, so a caller
    that stops at its deadline leaves the rest of a huge batch unread."""
    if source not in SOURCES:
        yield Rejected(str(source), f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")
        return
    try:
        doc, text = _load(raw)
        if source == "mns":
            found = _parse_mns(doc, text, received_at, stream_topic)
        else:
            found = _parse_oss(doc) if source == "oss" else _parse_timer(doc)
    except _Invalid as exc:
        found = [Rejected(source, str(exc))]
    except Exception as exc:  # a bug here must not crash the handler into FC's retry loop
        found = [Rejected(source, f"the event could not be parsed ({type(exc).__name__}: {str(exc)[:200]})")]
    yield from found


# ---- bytes -> document ----

def _load(raw: object) -> tuple[object, str]:
    """The delivery's JSON document (`NOT_JSON` when it is not JSON) and its UTF-8 text."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if not isinstance(raw, (bytes, bytearray)):
        raise _Invalid(f"the event is of type {type(raw).__name__}, not bytes")
    if len(raw) > MAX_RAW_BYTES:
        raise _Invalid(f"the event is {len(raw)} bytes, over the {MAX_RAW_BYTES}-byte limit")
    if not raw:
        raise _Invalid("the event is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Invalid("the event is not valid UTF-8 text") from None
    return _shallow_json(text, "the event's JSON"), text


def _shallow_json(text: str, what: str) -> object:
    """`text` parsed (`NOT_JSON` when it is not JSON); nested deeper than MAX_DEPTH rejects the event.

    Also applied to message bodies and timer payloads, whose document the matcher and date fields then use."""
    too_deep = _Invalid(f"{what} is nested deeper than {MAX_DEPTH} levels")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError:
        return NOT_JSON
    # Nesting never exceeds the brackets written (those in strings included): most documents need no walk.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth_exceeds(doc, MAX_DEPTH):
        raise too_deep
    return doc


def _depth_exceeds(doc: object, limit: int) -> bool:
    """Whether containers nest deeper than `limit` (iterative, so it cannot itself recurse too deep). Only
    containers are stacked: a batch of many records is mostly leaves, looked at once each."""
    if type(doc) not in _CONTAINERS:
        return False
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        deeper = depth + 1
        for child in (value.values() if type(value) is dict else value):
            if type(child) in _CONTAINERS:
                stack.append((child, deeper))
    return False


_CONTAINERS = (dict, list)              # what json.loads makes: exactly these types, never subclasses


def _shape(doc: object) -> str | None:
    """The delivery shape of a document: a kind, "cloudevent" for an unknown CloudEvent, or None.

    A list can only be a batch of CloudEvents; its first CloudEvent decides (each item is checked later).
    """
    if isinstance(doc, list):
        kinds = (_shape(item) for item in doc if isinstance(item, dict))
        return next((kind for kind in kinds if kind in _CLOUDEVENT_KINDS), None)
    if not isinstance(doc, dict):
        return None
    if "specversion" in doc:
        if doc.get("source") == "acs.oss":
            return "oss-eventbridge"
        event_type = doc.get("type")
        queue = isinstance(event_type, str) and event_type.startswith("mns:Queue:")
        return "mns-queue-eventbridge" if queue else "cloudevent"
    if isinstance(doc.get("events"), list):
        return "oss-native"
    if "triggerName" in doc and "triggerTime" in doc:
        return "timer"
    if "Message" in doc and len(doc.keys() & _MNS_TOPIC_KEYS) > 1:
        return "mns-topic-json"
    if doc.keys() == {"body", "attrs"} and isinstance(doc["attrs"], dict):
        return "mns-topic-stream-attrs"
    return None


def source_of(raw: bytes | str) -> str:
    """The function whose delivery shape `raw` has (for replay and explain): unrecognised text, or bytes that
    cannot be read at all, would be an MNS STREAM body."""
    try:
        doc, _ = _load(raw)
    except _Invalid:
        return "mns"
    owner = (_shape(doc) or "mns").split("-")[0]
    return owner if owner in SOURCES else "mns"


def _not_for(source: str, doc: object) -> _Invalid:
    """The rejection of a document the `source` function does not take, naming who does take it."""
    shape = _shape(doc)
    if shape is not None:
        owner = shape.split("-")[0]
        takes = (f"which the {owner} function takes, not the {source} function" if owner in SOURCES
                 else "which no dwtrigger function takes")
        return _Invalid(f"the event looks like {_DESCRIPTIONS[shape]}, {takes}")
    return _Invalid(f"the event is not {_EXPECTED[source]}; other content is only valid as an MNS topic "
                    "message in STREAM format, which the mns function takes")


def _each(source: str, items: list, ids: list[str | None],
          parse_one: Callable[[dict, str | None], Event]) -> Iterator[Parsed]:
    """Parse each record of a delivery on its own, when it is asked for, so a bad record (or a bug its oddity
    finds) rejects only itself: its siblings are decided as usual."""
    for index, (item, event_id) in enumerate(zip(items, ids)):
        try:
            if not isinstance(item, dict):
                raise _Invalid("it is not a JSON object")
            yield parse_one(item, event_id)
        except _Invalid as exc:
            yield Rejected(source, f"record {index}: {exc}", event_id)
        except Exception as exc:  # noqa: BLE001 - see parse()
            yield Rejected(source, f"record {index} could not be parsed ({type(exc).__name__}: {str(exc)[:200]})",
                           event_id)


# ---- field access ----

def _lookup(obj: object, path: str) -> object:
    """The value at a dotted path, or None when any step is missing."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _string(obj: object, path: str) -> str:
    """A required non-empty string field."""
    value = _lookup(obj, path)
    if not isinstance(value, str) or not value:
        raise _Invalid(f"field '{path}' is missing or not a non-empty string")
    return value


def _utf8_size(value: str, what: str) -> int:
    """Byte size of text that goes on to OSS or MNS; JSON can smuggle in lone surrogates, which cannot."""
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise _Invalid(f"the {what} is not valid Unicode text") from None


def iso_time(text: str, seconds: bool = False) -> Optional[datetime]:
    """An ISO 8601 date-time: aware when it has an offset (`Z`, `+08:00`, `+0800`, `+08`), naive when it has
    none, None when it is not one (or, asked for `seconds` as RFC 3339 wants them, has none). Raises ValueError
    for a date that does not exist."""
    found = _ISO_TIME.fullmatch(text.strip())
    if found is None or (seconds and found[6] is None):
        return None
    year, month, day, hour, minute, second, fraction, utc, sign, off_h, off_m = found.groups()
    zone = timezone.utc if utc else None
    if sign:
        zone = timezone(timedelta(hours=int(off_h), minutes=int(off_m or 0)) * (-1 if sign == "-" else 1))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                    int((fraction or "0").ljust(6, "0")[:6]), tzinfo=zone)


def _iso_time(obj: object, path: str) -> datetime:
    """An RFC 3339 time field as aware UTC (one without an offset read as UTC)."""
    text = _string(obj, path)
    try:
        moment = iso_time(text, seconds=True)
        if moment is None:
            raise _Invalid(f"field '{path}' is not an ISO 8601 time: {text[:40]!r}")
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):      # no such date, or none in UTC (9999-12-31T23:59-01:00)
        raise _Invalid(f"field '{path}' is not a valid time: {text[:40]!r}") from None


def _epoch_ms_time(obj: object, path: str) -> datetime:
    """An epoch-milliseconds field (an integer, or a string of digits as MNS's HTTP format sends it)."""
    value = _lookup(obj, path)
    digits = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(digits, str) and digits.isascii() and digits.isdigit()):
        raise _Invalid(f"field '{path}' is not epoch milliseconds")
    try:
        return _EPOCH + timedelta(milliseconds=int(digits))
    except (OverflowError, ValueError):
        raise _Invalid(f"field '{path}' is out of range: {digits[:40]}") from None


def _digest_id(text: str) -> str:
    """A stable id for something that carries none."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# ---- OSS ----

def _parse_oss(doc: object) -> Iterable[Parsed]:
    """OSS native trigger records, or OSS CloudEvents from EventBridge (one object or a list)."""
    shape = _shape(doc)
    if shape == "oss-native":
        records = doc["events"]
        if not records:
            raise _Invalid("the OSS event has no records")
        return _each("oss", records, _native_ids(records), _oss_native)
    if shape == "oss-eventbridge":
        events = doc if isinstance(doc, list) else [doc]
        return _each("oss", events, _cloudevent_ids(events), _oss_cloudevent)
    raise _not_for("oss", doc)


def _native_ids(records: list) -> list[str]:
    """Ids stable across FC retries of a delivery and unique within it."""
    base = [_request_id(record) for record in records]
    counts = Counter(base)
    return [f"{value}#{index}" if counts[value] > 1 else value for index, value in enumerate(base)]


def _request_id(record: object) -> str:
    """The OSS request that caused the record, or a hash of the whole record when it names none."""
    value = _lookup(record, "responseElements.requestId")
    if isinstance(value, str) and value:
        return value
    return _digest_id(json.dumps(record, sort_keys=True, separators=(",", ":")))


def _oss_native(record: dict, event_id: str) -> Event:
    return _oss_event("oss-native", record, event_id, _iso_time(record, "eventTime"))


def _oss_cloudevent(cloudevent: dict, event_id: str | None) -> Event:
    data = _cloudevent_data(cloudevent, event_id, "oss-eventbridge")
    return _oss_event("oss-eventbridge", data, event_id, _iso_time(cloudevent, "time"))


def _oss_event(kind: str, record: dict, event_id: str, time: datetime) -> Event:
    """An Event from one native OSS record (which is also a CloudEvent's `data`)."""
    key = _object_key(_string(record, "oss.object.key"))
    return Event(source="oss", kind=kind, event_id=event_id, time=time,
                 bucket=_string(record, "oss.bucket.name"), key=key,
                 event_name=_string(record, "eventName").removeprefix("oss:"))


def _object_key(key: str) -> str:
    """The key URL-decoded when it holds valid %XX escapes (UNCERTAIN whether OSS encodes keys)."""
    if "%" in key:
        try:
            key = unquote(key, errors="strict")
        except UnicodeDecodeError:
            pass  # escapes that are not UTF-8 were never URL-encoding: keep the key literally
    size = _utf8_size(key, "object key")
    if size > MAX_KEY_BYTES:
        raise _Invalid(f"the object key is {size} bytes, over OSS's {MAX_KEY_BYTES}-byte limit")
    return key


# ---- CloudEvents ----

def _cloudevent_ids(events: list) -> list[str | None]:
    ids = [_lookup(event, "id") for event in events]
    return [value if isinstance(value, str) else None for value in ids]


def _cloudevent_data(cloudevent: dict, event_id: str | None, kind: str) -> dict:
    """The `data` of a CloudEvent that must be of `kind` and carry an id."""
    shape = _shape(cloudevent)
    if shape != kind:
        raise _Invalid(f"expected {_DESCRIPTIONS[kind]}, got {_DESCRIPTIONS.get(shape, 'something else')}")
    if not event_id:
        raise _Invalid("the CloudEvent has no 'id'")
    data = cloudevent.get("data")
    if not isinstance(data, dict):
        raise _Invalid("the CloudEvent's 'data' is not an object")
    return data


# ---- MNS ----

def _parse_mns(doc: object, text: str, received_at: datetime, stream_topic: str | None) -> Iterable[Parsed]:
    """MNS topic messages (four shapes) or MNS queue messages from EventBridge (one or a batch)."""
    shape = _shape(doc)
    if shape == "mns-queue-eventbridge":
        events = doc if isinstance(doc, list) else [doc]
        return _each("mns", events, _cloudevent_ids(events), _queue_message)
    if shape == "mns-topic-json":
        return [_topic_json(doc)]
    if shape == "mns-topic-stream-attrs":
        body = _string(doc, "body")
        return [_stream_event("mns-topic-stream-attrs", body, _attributes(doc["attrs"]), received_at,
                              stream_topic)]
    if shape not in (None, "cloudevent"):  # every MNS shape is handled above
        raise _not_for("mns", doc)
    return [_stream_event("mns-topic-stream", text, {}, received_at, stream_topic)]


def _message(body: str) -> dict:
    """The Event fields of a message body: the text, size-checked, and its JSON document."""
    size = _utf8_size(body, "message body")
    if size > MAX_MNS_BODY_BYTES:
        raise _Invalid(f"the message body is {size} bytes, over MNS's {MAX_MNS_BODY_BYTES}-byte limit")
    return {"body": body, "document": _shallow_json(body, "the message body's JSON")}


def _attributes(values: dict) -> dict[str, str]:
    """Message attributes as strings (non-strings as compact JSON)."""
    return {name: value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            for name, value in values.items()}


def _topic_json(doc: dict) -> Event:
    attributes = _attributes({name: value for name, value in doc.items() if name not in _MNS_TOPIC_KEYS})
    message_id = _string(doc, "MessageId")
    return Event(source="mns", kind="mns-topic-json-attrs" if attributes else "mns-topic-json",
                 event_id=message_id, time=_epoch_ms_time(doc, "PublishTime"), topic=_string(doc, "TopicName"),
                 message_id=message_id, attributes=attributes, **_message(_string(doc, "Message")))


def _stream_event(kind: str, body: str, attributes: dict[str, str], received_at: datetime,
                  stream_topic: str | None) -> Event:
    """A STREAM message, which carries no topic, id or time of its own."""
    if stream_topic is None:
        raise _Invalid(_STREAM_NEEDS_TOPIC)
    aware = received_at if received_at.tzinfo else received_at.replace(tzinfo=timezone.utc)
    time = aware.astimezone(timezone.utc)
    return Event(source="mns", kind=kind, event_id=_digest_id(body), time=time, topic=stream_topic or None,
                 attributes=attributes, undated=True, **_message(body))


def _queue_message(cloudevent: dict, event_id: str | None) -> Event:
    data = _cloudevent_data(cloudevent, event_id, "mns-queue-eventbridge")
    subject = _string(cloudevent, "subject")
    _, marker, queue = subject.rpartition(":queues/")
    if not marker or not queue or "/" in queue:
        raise _Invalid(f"subject {subject[:200]!r} does not name a queue (acs:mns:<region>:<uid>:queues/<name>)")
    message = _message(_base64_decoded(_string(data, "messageBody")))
    if _shape(message["document"]) == "mns-topic-json":        # pushed here by a topic's subscription
        return replace(_topic_json(message["document"]), queue=queue)
    return Event(source="mns", kind="mns-queue-eventbridge", event_id=event_id,
                 time=_iso_time(cloudevent, "time"), queue=queue, message_id=_string(data, "messageId"), **message)


def _base64_decoded(body: str) -> str:
    """The body, base64-decoded when EventBridge evidently encoded it (IsBase64Decode: false).

    The CloudEvent does not say whether it did, so decode only a body that is not JSON, is strict base64
    and decodes to printable UTF-8 text: plain words that happen to be base64 decode to binary and stay.
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


# ---- timer ----

def _parse_timer(doc: object) -> list[Parsed]:
    """A timer trigger event: `payload` is always a string (JSON configured there arrives as text)."""
    if _shape(doc) != "timer":
        raise _not_for("timer", doc)
    name, when = _string(doc, "triggerName"), _string(doc, "triggerTime")
    payload = doc.get("payload")
    if payload is not None and not isinstance(payload, str):
        raise _Invalid("field 'payload' is not a string")
    document = NOT_JSON if payload is None else _shallow_json(payload, "the timer payload's JSON")
    return [Event(source="timer", kind="timer", event_id=f"{name}@{when}", time=_iso_time(doc, "triggerTime"),
                  timer=name, payload=payload, document=document)]

