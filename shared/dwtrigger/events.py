"""Raw FC event bytes -> normalised events.

Every source delivers bytes in several shapes (see docs/reference.md, "Event shapes"). The relay only ever sees
`Event` (something to match) or `Rejected` (something malformed, with the reason), never raw JSON.

`parse` never raises: a handler that raised on a malformed event would make FC retry it for nothing.

Each source's module (sources/) recognises and parses its own shapes, with the decisions on points the FC
documentation leaves open (summarised in docs/reference.md, "Event shapes"); this module holds what they share:
reading the bytes, the records of a batch, field access and times. Times without a zone are read as UTC; any number
of fraction digits is accepted (truncated to micros).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Mapping, Optional, Union

from . import sources

MAX_RAW_BYTES = 32 * 1024 * 1024   # FC's synchronous payload limit: anything larger is not a real delivery
MAX_DEPTH = 64                     # real events nest < 10 levels; bounds recursion in every later consumer


NOT_JSON = object()   # a body or payload that is not JSON (matches only rules without a `message` pattern)


@dataclass(frozen=True)
class Event:
    source: str                         # its source's name (sources/): "oss", "mns", "timer", ...
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
    code: Optional[str] = None          # the decision's `error_code`, when its source answers by it (sources/http.py)


Parsed = Union[Event, Rejected]

# ISO 8601 date-times as producers write them (Python 3.10's fromisoformat takes less: no `Z`, fixed fractions).
_ISO_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
                       r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2})?)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Invalid(Exception):
    """Rejects the record (or the whole delivery) being parsed; the message is the reason."""


ANY_TOPIC = ""       # parse's stream_topic when a rule takes messages of any topic (sources/mns.py)
CLOUDEVENT = "cloudevent"       # the kind of a CloudEvent no source recognises


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
    known = sources.registry()
    if source not in known:
        yield Rejected(str(source), f"unknown source {source!r}: expected one of {', '.join(known)}")
        return
    try:
        doc, text = _load(raw)
        found = known[source].parse(doc, text, received_at, stream_topic)
    except Invalid as exc:
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
        raise Invalid(f"the event is of type {type(raw).__name__}, not bytes")
    if len(raw) > MAX_RAW_BYTES:
        raise Invalid(f"the event is {len(raw)} bytes, over the {MAX_RAW_BYTES}-byte limit")
    if not raw:
        raise Invalid("the event is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the event is not valid UTF-8 text") from None
    return shallow_json(text, "the event's JSON"), text


def shallow_json(text: str, what: str) -> object:
    """`text` parsed (`NOT_JSON` when it is not JSON); nested deeper than MAX_DEPTH rejects the event.

    Also applied to message bodies and timer payloads, whose document the matcher and date fields then use."""
    too_deep = Invalid(f"{what} is nested deeper than {MAX_DEPTH} levels")
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


def shape_of(doc: object) -> str | None:
    """The delivery shape of a document: a kind (a source's, `Source.shape`), CLOUDEVENT for an unknown CloudEvent,
    or None. The source that takes any text (MNS STREAM bodies) is asked last, so another's shape comes first.

    A list can only be a batch of CloudEvents (or of their JSON as strings, as Kafka triggers once sent them); its
    first CloudEvent decides (each item is checked later).
    """
    if isinstance(doc, list):
        return next((shape_of(item) for item in map(record_of, doc) if isinstance(item, dict) and "specversion" in item),
                    None)
    if not isinstance(doc, dict):
        return None
    found = next((kind for source in _recognising() for kind in [source.shape(doc)] if kind is not None), None)
    return CLOUDEVENT if found is None and "specversion" in doc else found


def record_of(item: object) -> object:
    """A batch's item: a string is the JSON of one (one that is not JSON, or too deep, stays the string)."""
    if not isinstance(item, str):
        return item
    try:
        found = shallow_json(item, "the record's JSON")
    except Invalid:
        return item
    return item if found is NOT_JSON else found


def _recognising() -> list:
    """The sources in the order they recognise shapes: the one taking any text last."""
    return sorted(sources.registry().values(), key=lambda source: source.takes_any_text)


def _owner(kind: str | None):
    """The source whose shape `kind` is, or None (no shape, or a CloudEvent no source recognises)."""
    return next((source for source in sources.registry().values() if kind in source.shapes), None)


def describe(kind: str | None) -> str | None:
    """How messages name a shape ("an OSS trigger event")."""
    owner = _owner(kind)
    return owner.shapes[kind] if owner else _CLOUDEVENT if kind == CLOUDEVENT else None


_CLOUDEVENT = "a CloudEvent of a type no source recognises"


def source_of(raw: bytes | str) -> str:
    """The function whose delivery shape `raw` has (for replay and explain): unrecognised text, or bytes that
    cannot be read at all, would be the function that takes any text (an MNS STREAM body)."""
    any_text = next(source.name for source in _recognising()[::-1])
    try:
        doc, _ = _load(raw)
    except Invalid:
        return any_text
    owner = _owner(shape_of(doc))
    return owner.name if owner else any_text


def not_for(source: str, doc: object) -> Invalid:
    """The rejection of a document the `source` function does not take, naming who does take it."""
    shape = shape_of(doc)
    if shape is not None:
        owner = _owner(shape)
        takes = (f"which the {owner.name} function takes, not the {source} function" if owner
                 else "which no dwtrigger function takes")
        return Invalid(f"the event looks like {describe(shape)}, {takes}")
    any_text = next(found.name for found in _recognising()[::-1])
    return Invalid(f"the event is not {sources.get(source).expected}; other content is only valid as an MNS topic "
                   f"message in STREAM format, which the {any_text} function takes")


def each(source: str, items: list, ids: list[str | None],
          parse_one: Callable[[dict, str | None], Event]) -> Iterator[Parsed]:
    """Parse each record of a delivery on its own, when it is asked for, so a bad record (or a bug its oddity
    finds) rejects only itself: its siblings are decided as usual."""
    for index, (item, event_id) in enumerate(zip(items, ids)):
        try:
            if not isinstance(item, dict):
                raise Invalid("it is not a JSON object")
            yield parse_one(item, event_id)
        except Invalid as exc:
            yield Rejected(source, f"record {index}: {exc}", event_id)
        except Exception as exc:  # noqa: BLE001 - see parse()
            yield Rejected(source, f"record {index} could not be parsed ({type(exc).__name__}: {str(exc)[:200]})",
                           event_id)


# ---- field access ----

def lookup(obj: object, path: str) -> object:
    """The value at a dotted path, or None when any step is missing."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def string(obj: object, path: str) -> str:
    """A required non-empty string field."""
    value = lookup(obj, path)
    if not isinstance(value, str) or not value:
        raise Invalid(f"field '{path}' is missing or not a non-empty string")
    return value


def utf8_size(value: str, what: str) -> int:
    """Byte size of text that goes on to OSS or MNS; JSON can smuggle in lone surrogates, which cannot."""
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise Invalid(f"the {what} is not valid Unicode text") from None


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


def time_field(obj: object, path: str) -> datetime:
    """An RFC 3339 time field as aware UTC (one without an offset read as UTC)."""
    text = string(obj, path)
    try:
        moment = iso_time(text, seconds=True)
        if moment is None:
            raise Invalid(f"field '{path}' is not an ISO 8601 time: {text[:40]!r}")
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):      # no such date, or none in UTC (9999-12-31T23:59-01:00)
        raise Invalid(f"field '{path}' is not a valid time: {text[:40]!r}") from None


def epoch_ms_field(obj: object, path: str) -> datetime:
    """An epoch-milliseconds field (an integer, or a string of digits as MNS's HTTP format sends it)."""
    value = lookup(obj, path)
    digits = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(digits, str) and digits.isascii() and digits.isdigit()):
        raise Invalid(f"field '{path}' is not epoch milliseconds")
    try:
        return _EPOCH + timedelta(milliseconds=int(digits))
    except (OverflowError, ValueError):
        raise Invalid(f"field '{path}' is out of range: {digits[:40]}") from None


def digest_id(text: str) -> str:
    """A stable id for something that carries none."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# ---- CloudEvents ----

def cloudevent_ids(events: list) -> list[str | None]:
    ids = [lookup(event, "id") for event in events]
    return [value if isinstance(value, str) else None for value in ids]


def cloudevent_data(cloudevent: dict, event_id: str | None, kind: str) -> dict:
    """The `data` of a CloudEvent that must be of `kind` and carry an id."""
    shape = shape_of(cloudevent)
    if shape != kind:
        raise Invalid(f"expected {describe(kind)}, got {describe(shape) or 'something else'}")
    if not event_id:
        raise Invalid("the CloudEvent has no 'id'")
    data = cloudevent.get("data")
    if not isinstance(data, dict):
        raise Invalid("the CloudEvent's 'data' is not an object")
    return data


