"""Event files as operators have them -> one Record (an event to run) or Unreadable per record, for replay and
explain.

Accepts a raw event file, a JSON list of events, NDJSON, and FC failure-destination records (the original
event is the string in `requestPayload`), so a dead-lettered event can be run again as it first arrived.
A record that cannot be read is reported, never guessed: only when the caller names the function (`--source`)
does content that is not an event document go to it as it is (a raw MNS STREAM body, a malformed sample).
"""
from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import List, Optional, Union

from ..events import source_of

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
        return [Record(label, source, data, data) if source else Unreadable(label, f"{whole}; {_ADVICE}", data)]
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
    """A JSON list that is itself one delivery (an EventBridge batch of CloudEvents), not a list of events."""
    return isinstance(doc, list) and bool(doc) and all(isinstance(d, dict) and "specversion" in d for d in doc)


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
        return e


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
