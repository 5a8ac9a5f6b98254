"""Timers: a timer trigger firing (`on: timer`), its payload a string.

A rule's evidence is its `require` entries, filled from the business date, and for the sweep the ledger's record
that its timer fired.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .. import rulefile
from ..events import NOT_JSON, Event, Invalid, Parsed, not_for, shallow_json, shape_of, string, time_field
from ..rule import FieldSpec, Required, Rule
from ..rules import date_field_of, require_entries
from . import Captures, Source, built_at


@dataclass(frozen=True, kw_only=True)
class TimerRule(Rule):
    on: str = dataclasses.field(default="timer", init=False)
    timer: str
    date_field: Optional[FieldSpec]
    bucket: Optional[str]               # where `require` entries without oss:// are
    require: Tuple[Required, ...]


class Timer(rulefile.Source, tag="timer"):
    timer: Optional[str] = None
    bizdate: Optional[rulefile.DateField] = None
    cycle: Optional[rulefile.DateField] = None
    bucket: Optional[str] = None            # where `require` entries without oss:// are
    require: Optional[List[str]] = None


# ---- the event ----

def _parse_timer(doc: object) -> list[Parsed]:
    """A timer trigger event: `payload` is always a string (JSON configured there arrives as text)."""
    if shape_of(doc) != "timer":
        raise not_for("timer", doc)
    name, when = string(doc, "triggerName"), string(doc, "triggerTime")
    payload = doc.get("payload")
    if payload is not None and not isinstance(payload, str):
        raise Invalid("field 'payload' is not a string")
    document = NOT_JSON if payload is None else shallow_json(payload, "the timer payload's JSON")
    return [Event(source="timer", kind="timer", event_id=f"{name}@{when}", time=time_field(doc, "triggerTime"),
                  timer=name, payload=payload, document=document)]



# ---- the rule ----

def _build(spec: Timer, problem) -> dict:
    if not spec.timer:
        problem("timer", "required: the timer trigger's triggerName")
    date_field = date_field_of(spec, problem)
    known = {"bizdate", "cycle"} if spec.cycle else {"bizdate"}
    require = require_entries(spec.require, problem, known, "known to a timer rule", None)
    here = any(not entry.startswith("oss://") for entry in spec.require or ())
    if here and not spec.bucket:
        problem("bucket", "required with `require`: the bucket the required objects are in (or write each entry "
                          "as oss://BUCKET/KEY)")
    elif spec.bucket is not None and not here:
        problem("bucket", "only names where required objects are, and " + (
            "every `require` entry names its own oss:// bucket" if spec.require else "this rule has no `require`"))
    return dict(timer=spec.timer, date_field=date_field, bucket=spec.bucket, require=require)



# ---- matching ----

def _check(rule: TimerRule, event: Event) -> Tuple[Optional[Captures], Any]:
    if event.timer != rule.timer:
        return None, ("timer {!r} is not {!r}", (event.timer, rule.timer))
    return {}, "matched"


# ---- explain's built events ----

def timer_event(name: str, payload: Optional[str], when: datetime):
    """A timer trigger's event (for explain: its label, function and document)."""
    doc = {"triggerTime": built_at(when, "seconds"), "triggerName": name,
           **({"payload": payload} if payload is not None else {})}
    return f"timer {name}", "timer", doc


# ---- s.yaml: its triggers (deploy/wiring.py asks; never a handler) ---------------------------------------------

def _wiring(rules, found: Sequence, where) -> list:
    """The problems between the rules and the timer triggers `found` (deploy/wiring.py's `check`)."""
    named, timers = {t.name for t in found}, rules.for_source("timer")
    problems: list = [(None, f"{where(rules, r.name)}: no timer trigger named {r.timer} on the timer "
                             "function feeds it: add one, or remove the rule")
                      for r in timers if r.timer not in named]
    problems += [(t, f"{t} feeds no rule in rules.yaml (a timer rule's `timer:` names its trigger): remove it, or "
                     "add a rule") for t in found if t.name not in {r.timer for r in timers}]
    return problems


class TimerSource(Source):
    name, rule, schema = "timer", TimerRule, Timer
    shapes = {"timer": "a timer trigger event"}
    expected = 'a timer event ({"triggerTime", "triggerName", "payload"})'
    document, asks = "timer payload", True

    def shape(self, doc: dict) -> Optional[str]:
        return "timer" if "specversion" not in doc and "triggerName" in doc and "triggerTime" in doc else None

    def parse(self, doc: object, text: str, received_at: datetime, stream_topic: Optional[str]) -> Iterable[Parsed]:
        return _parse_timer(doc)

    def build(self, spec: Timer, problem) -> Optional[dict]:
        return _build(spec, problem)

    def check(self, rule: TimerRule, event: Event) -> Tuple[Optional[Captures], Any]:
        return _check(rule, event)

    def lookup(self, rules: Sequence[TimerRule], rank: Callable[[Rule], int]) -> Callable[[Event], List[Rule]]:
        """By timer name."""
        names: Dict[str, List[Rule]] = {}
        for rule in rules:
            names.setdefault(rule.timer, []).append(rule)
        return lambda event: names.get(event.timer, [])

    def date_field(self, rule: TimerRule) -> Optional[FieldSpec]:
        return rule.date_field

    def files(self, rule: TimerRule, bucket: Optional[str]) -> Tuple[Tuple[Required, ...], Optional[str]]:
        return rule.require, rule.bucket

    def decision_fields(self, rule: TimerRule, schedule) -> Dict[str, Any]:
        return {"bucket": rule.bucket, "timer": rule.timer}

    def summary(self, rule: TimerRule) -> str:
        return f"timer {rule.timer}"

    trigger_kinds = ("timer",)

    def feeds(self, t, rule: TimerRule, s: dict) -> bool:
        """Its timer."""
        return rule.timer == t.name

    def wiring(self, rules, s: dict, found: Dict[str, list], where) -> list:
        return _wiring(rules, found["timer"], where)

    def explained(self):
        return {"timer": (("payload",), None, lambda options, when: timer_event(options["timer"], options["payload"],
                                                                                when))}

    def explain_options(self) -> list:
        import click

        return [click.option("--timer", metavar="NAME", help="Build a timer event of this trigger name."),
                click.option("--payload", metavar="TEXT", help="The timer event's payload.")]

    def channels(self, rule: TimerRule) -> List[Tuple[str, str, bool]]:
        return [("timer", rule.timer, False)]

    def overlap(self, a: TimerRule, b: TimerRule, example) -> str:
        return "same timer" if a.timer == b.timer else ""

    def listed(self, rule: TimerRule) -> Dict[str, Any]:
        return {"timer": rule.timer, "bucket": rule.bucket}


SOURCE = TimerSource()
