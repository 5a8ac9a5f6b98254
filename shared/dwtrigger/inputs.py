"""Event files as operators have them -> (label, source, raw bytes) for replay and explain.

Accepts a raw event file, a JSON list of events, NDJSON, and FC failure-destination records (the original
event is the string in `requestPayload`), so a dead-lettered event can be run again as it first arrived.
"""
from __future__ import annotations

import json
from typing import Iterator, List, Optional, Tuple

from .events import source_of

Item = Tuple[str, str, bytes]      # label, source, raw event bytes


def unwrap(doc) -> Optional[bytes]:
    """The original event of an FC failure-destination record, else None."""
    if isinstance(doc, dict) and "requestPayload" in doc and "requestContext" in doc:
        payload = doc["requestPayload"]
        return payload.encode("utf-8") if isinstance(payload, str) else json.dumps(payload).encode("utf-8")
    return None


def _is_batch(doc) -> bool:
    """A JSON list that is itself one delivery (an EventBridge batch of CloudEvents), not a list of events."""
    return isinstance(doc, list) and bool(doc) and all(isinstance(d, dict) and "specversion" in d for d in doc)


def _items(label: str, doc, source: Optional[str]) -> Iterator[Item]:
    if isinstance(doc, list) and not _is_batch(doc):
        for i, each in enumerate(doc):
            yield from _items(f"{label}[{i}]", each, source)
        return
    raw = unwrap(doc)
    if raw is None:
        raw = doc.encode("utf-8") if isinstance(doc, str) else json.dumps(doc).encode("utf-8")
    yield label, source or source_of(raw), raw


def read(label: str, data: bytes, source: Optional[str] = None) -> List[Item]:
    try:
        return list(_items(label, json.loads(data), source))
    except (ValueError, RecursionError):
        pass
    lines = [line for line in data.splitlines() if line.strip()]
    try:
        docs = [json.loads(line) for line in lines]
    except (ValueError, RecursionError):
        return [(label, source or "mns", data)]          # not JSON at all: a raw STREAM message body
    return [item for n, doc in enumerate(docs, 1) for item in _items(f"{label}:{n}", doc, source)]
