"""Does a rule take an event? Returns the captures, or why not (the same answer feeds `dwtrigger explain`)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from .events import NOT_JSON, Event
from .rules import Rule


def match(rule: Rule, event: Event, detail: bool = False) -> Tuple[Optional[Dict[str, Any]], str]:
    """(captures, "matched") or (None, why not). `detail` names the failing pattern field (for `explain`)."""
    if rule.on != event.source:
        return None, f"rule is for {rule.on} events"
    return {"oss": _oss, "mns": _mns, "timer": _timer}[rule.on](rule, event, detail)


def _oss(rule: Rule, event: Event, _detail: bool):
    if event.bucket not in rule.buckets:
        return None, f"bucket {event.bucket!r} is not {', '.join(rule.buckets)}"
    if event.event_name not in rule.events:
        return None, f"event {event.event_name!r} is not one of {', '.join(sorted(rule.events))}"
    captures = rule.key.match(event.key or "")
    if captures is None:
        return None, f"key {event.key!r} does not match {rule.key.source!r}"
    return captures, "matched"


def _mns(rule: Rule, event: Event, detail: bool):
    if rule.topic and event.topic != rule.topic:
        return None, f"topic {event.topic!r} is not {rule.topic!r}" if event.topic else "not a topic message"
    if rule.queue and event.queue != rule.queue:
        return None, f"queue {event.queue!r} is not {rule.queue!r}" if event.queue else "not a queue message"
    if rule.attributes and not rule.attributes.matches(dict(event.attributes)):
        return None, _why("message attributes", rule.attributes, dict(event.attributes), detail)
    if rule.message:
        if event.document is NOT_JSON:
            return None, "message body is not JSON, and the rule has a `message` pattern"
        if not rule.message.matches(event.document):
            return None, _why("message body", rule.message, event.document, detail)
    return {}, "matched"


def _why(what: str, pattern, document: Any, detail: bool) -> str:
    return f"{what}: {pattern.mismatch(document)}" if detail else f"{what} does not match the pattern"


def _timer(rule: Rule, event: Event, _detail: bool):
    if event.timer != rule.timer:
        return None, f"timer {event.timer!r} is not {rule.timer!r}"
    return {}, "matched"
