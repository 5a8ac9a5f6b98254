"""Does a rule take an event? Returns the captures, or why not (the same answer feeds `dwtrigger explain`).

An OSS rule with `require` is taken by the landing of any of its files, so the last to land fires it whatever the
order: its key, or a `require` entry in the event's bucket that captures everything the key captures (what the
rule needs to name the other files and the instance).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from .events import NOT_JSON, Event
from .rules import MnsRule, OssRule, Rule, TimerRule


def match(rule: Rule, event: Event, detail: bool = False) -> Tuple[Optional[Dict[str, Any]], str]:
    """(captures, "matched") or (None, why not). `detail` names the failing pattern field (for `explain`)."""
    if rule.on != event.source:
        return None, f"rule is for {rule.on} events"
    return {"oss": _oss, "mns": _mns, "timer": _timer}[rule.on](rule, event, detail)


def _oss(rule: OssRule, event: Event, _detail: bool):
    if event.bucket not in rule.buckets:
        return None, f"bucket {event.bucket!r} is not {', '.join(rule.buckets)}"
    if event.event_name not in rule.events:
        return None, f"event {event.event_name!r} is not one of {', '.join(sorted(rule.events))}"
    key = event.key or ""
    captures = rule.key.match(key)
    if captures is not None:
        return captures, "matched"
    for i, entry in enumerate(rule.require):
        if entry.bucket in (None, event.bucket) and set(rule.key.names) <= set(entry.key.names):
            captures = entry.key.match(key)
            if captures is not None:
                return captures, f"matched require[{i}] {entry.key.source!r}"
    return None, f"key {event.key!r} does not match {rule.key.source!r}" + (
        " or a `require` entry" if rule.require else "")


def _mns(rule: MnsRule, event: Event, detail: bool):
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


def _timer(rule: TimerRule, event: Event, _detail: bool):
    if event.timer != rule.timer:
        return None, f"timer {event.timer!r} is not {rule.timer!r}"
    return {}, "matched"
