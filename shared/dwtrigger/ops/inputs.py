"""Event files as operators have them -> one Record (an event to run) or Unreadable per record, for replay and
explain; and events built from a few facts (each source's `explained`, e.g. `sources.oss.oss_event`) in the shape
the functions receive, for explain without a file.

Accepts a raw event file, a JSON list of events, NDJSON, and FC failure-destination records (the original
event is the string in `requestPayload`), so a dead-lettered event can be run again as it first arrived.
EventBridge dead-letters a queue message as the CloudEvent it was: an event document already. A line holding
either kind of dead letter base64-encoded, as an MNS queue's body may be, is read as the dead letter it encodes.
A record that cannot be read is reported, never guessed: only when the caller names the function (`--source`)
does content that is not an event document go to it as it is (a raw MNS STREAM body, a malformed sample).
"""
from __future__ import annotations

import base64
import codecs
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Mapping, Optional, Union

from .. import sources
from ..events import record_of, source_of

UNREADABLE = "unreadable"
_ADVICE = "if it is a raw MNS STREAM message body, pass --source mns"


@dataclass(frozen=True)
class Record:
    """An event to run. `original` is what it was read from: a JSON document, or the bytes of a raw event."""
    label: str                  # path, path[i], path:LINE or path:LINE[i]
    source: Optional[str]       # the function the caller named; None: detected from the event's shape
    raw: bytes                  # the event as that function receives it
    original: object

    @property
    def function(self) -> str:
        return self.source or source_of(self.raw)

    def line(self) -> bytes:
        """One line that `read` (with the same source) takes back as this record."""
        doc = self.original.decode("utf-8", "surrogateescape") if isinstance(self.original, bytes) else self.original
        return json.dumps(doc, separators=(",", ":")).encode("ascii")


@dataclass(frozen=True)
class Unreadable:
    """A record that is not an event: where, why, and its bytes as they were."""
    label: str
    reason: str
    original: bytes

    def line(self) -> bytes:
        """Its bytes verbatim: written back out, nothing is lost, and reading them reports them again."""
        return self.original


Item = Union[Record, Unreadable]


class _NotJson(ValueError):
    """Where and why some bytes are not a JSON document."""


def read(label: str, data: bytes, source: Optional[str] = None) -> List[Item]:
    """Every record of a file: the whole file as one JSON document, else each non-blank line on its own."""
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    try:
        doc = _parse(body)
    except _NotJson as whole:
        return _lines(label, data, body, source, whole)
    return _records(label, doc, source)


def _lines(label: str, data: bytes, body: bytes, source: Optional[str], whole: _NotJson) -> List[Item]:
    """NDJSON: a line that is not JSON is unreadable and costs its siblings nothing. A file with no JSON line
    at all is one raw event if the caller named its function, else unreadable."""
    parsed = [(n, line, _attempt(line, n)) for n, line in enumerate(body.splitlines(), 1) if line.strip()]
    if parsed and all(isinstance(doc, _NotJson) for _, _, doc in parsed):
        # A file that opens like a JSON document is a broken one; only other text may be a STREAM body.
        advice = "" if body.lstrip()[:1] in (b"{", b"[") else f"; {_ADVICE}"
        return [Record(label, source, data, data) if source else Unreadable(label, f"{whole}{advice}", data)]
    return [item for n, line, doc in parsed for item in
            ([Unreadable(f"{label}:{n}", str(doc), line)] if isinstance(doc, _NotJson)
             else _records(f"{label}:{n}", doc, source))]


def _records(label: str, doc: object, source: Optional[str]) -> List[Item]:
    """A JSON list is a list of events, one level deep, unless it is itself one delivery."""
    if isinstance(doc, list) and not _is_batch(doc):
        return [_record(f"{label}[{i}]", each, source) for i, each in enumerate(doc)]
    return [_record(label, doc, source)]


def _record(label: str, doc: object, source: Optional[str]) -> Item:
    """One event: a failure-destination record's payload, an event document, or raw content in a JSON string."""
    payload = unwrap(doc)
    if payload is not None:
        return Record(label, source, payload, doc)
    if source is None and not isinstance(doc, (dict, list)):
        # Raw content in JSON clothing (as --failed-out writes raw events): its function is not for us to guess.
        kind = {str: "string", bool: "boolean", type(None): "null"}.get(type(doc), "number")
        return Unreadable(label, f"a bare JSON {kind} is not an event document; {_ADVICE}",
                          json.dumps(doc, separators=(",", ":")).encode("ascii"))
    return Record(label, source, _text_bytes(doc) if isinstance(doc, str) else json.dumps(doc).encode(), doc)


def unwrap(doc) -> Optional[bytes]:
    """The original event of an FC failure-destination record, else None."""
    if isinstance(doc, dict) and "requestPayload" in doc and "requestContext" in doc:
        payload = doc["requestPayload"]
        return _text_bytes(payload) if isinstance(payload, str) else json.dumps(payload).encode("utf-8")
    return None


def _is_batch(doc) -> bool:
    """A JSON list that is itself one delivery (an EventBridge batch of CloudEvents, or of their JSON as strings, as
    Kafka triggers once sent them: `events.record_of`), not a list of events."""
    return isinstance(doc, list) and bool(doc) and all(isinstance(d, dict) and "specversion" in d
                                                        for d in map(record_of, doc))


def _text_bytes(text: str) -> bytes:
    """A JSON string's bytes: undoes Record.line's escaping of bytes that are not UTF-8; a lone surrogate
    stays invalid UTF-8 for the handler to reject."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _attempt(line: bytes, number: int):
    """The line's JSON document, or the _NotJson saying why it has none."""
    try:
        return _parse(line, number)
    except _NotJson as e:
        return _base64_dead_letter(line) or e


def _base64_dead_letter(line: bytes) -> Optional[object]:
    """The dead letter a base64 line encodes (an FC failure-destination record, or EventBridge's CloudEvent or
    batch of them), else None: other base64 text, a STREAM body say, stays what it is."""
    try:
        doc = _parse(base64.b64decode(line.strip(), validate=True))
    except ValueError:                  # not base64 (binascii.Error), or not JSON (_NotJson)
        return None
    cloudevent = isinstance(doc, dict) and "specversion" in doc
    return doc if unwrap(doc) is not None or cloudevent or _is_batch(doc) else None


def _parse(data: bytes, first_line: int = 1) -> object:
    """The JSON document `data` holds (starting at line `first_line` of its file), else _NotJson with where."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = first_line + data.count(b"\n", 0, e.start)
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise _NotJson(f"not UTF-8 at line {line}, column {column}: byte 0x{data[e.start]:02x}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        why = e.msg.removesuffix(" starting at")      # "Unterminated string starting at": the position says where
        raise _NotJson(f"not valid JSON at line {first_line + e.lineno - 1}, column {e.colno}: {why}") from None
    except RecursionError:
        raise _NotJson(f"not readable at line {first_line}: nested too deeply") from None
    except ValueError as e:          # e.g. an integer of more than 4300 digits
        raise _NotJson(f"not readable at line {first_line}: {e}") from None


# ---- events built from a few facts, as the functions receive them (events.py parses them back) ----

def _flag(name: str) -> str:
    return "--" + {"attributes": "attribute"}.get(name, name).replace("_", "-")


def build_usage(metavar: Mapping[str, str], optional: bool = True) -> List[str]:
    """How each event `explain` builds is asked for, from the sources' own `explained()` (so a new source's show
    up): `--bucket BUCKET --key KEY [--event-name NAME]`; without `optional`, its required options only.
    `metavar`: each option's placeholder, by parameter name."""
    usage = []
    for source in sources.registry().values():
        for kind, (parts, needs, _) in source.explained().items():
            words = [f"{_flag(kind)} {metavar[kind]}"] + ([f"{_flag(needs)} {metavar[needs]}"] if needs else [])
            usage.append(" ".join(words + ([f"[{_flag(p)} {metavar[p]}]" for p in parts if p != needs]
                                           if optional else [])))
    return usage


def built_event(options: dict, when: datetime) -> Optional[Record]:
    """The event `dwtrigger explain`'s options describe (its parameters by name), or None when they describe none;
    ValueError for options that describe no one event. Each source says which options build its events
    (`Source.explained`)."""
    builds = {kind: build for source in sources.registry().values() for kind, build in source.explained().items()}
    part_of: Dict[str, List[str]] = {}          # which event each building option belongs to
    for kind, (parts, _, _) in builds.items():
        for part in parts:
            part_of.setdefault(part, []).append(kind)
    kinds = [kind for kind in builds if options[kind] is not None]
    if len(kinds) > 1:
        raise ValueError(f"{_flag(kinds[0])} and {_flag(kinds[1])} describe different events: give one")
    kind = kinds[0] if kinds else None
    for part, owners in part_of.items():
        if options[part] and kind not in owners:
            raise ValueError(f"{_flag(part)} belongs to an event built with {' or '.join(map(_flag, owners))}")
    if kind is None:
        return None
    _, needs, build = builds[kind]
    if needs and options[needs] is None:
        raise ValueError(f"{_flag(kind)} needs {_flag(needs)}")
    return built(*build(options, when))


def built(label: str, source: str, doc: dict) -> Record:
    """A built event's record: `doc` as the `source` function receives it."""
    return Record(label, source, json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass"), doc)
