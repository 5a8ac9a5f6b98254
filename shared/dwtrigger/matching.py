"""Does a rule take an event? The relay asks `Index.takers` (only the rules that could, found by lookup); `explain`
asks `match` of each rule and wants the reason for a miss. Both run the same checks, and a miss builds its
message only when `match` asks for it.

An OSS rule with `require` is taken by the landing of any of its files, so the last to land fires it whatever the
order: its key, or a `require` entry in the event's bucket that captures everything the key captures (what the
rule needs to name the other files and the instance).

A disabled rule (`enabled: false`) takes nothing, but an event no rule in play takes is told which disabled rules
would have (`Index.unmatched`, `ignored_reason`): an `ignored` decision that names the rule switched off is an
answer, a bare "no rule matched" sends the operator hunting.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .events import NOT_JSON, Event
from .rule import MnsRule, OssRule, Rule, RuleSet, TimerRule
from .templates import Template

Captures = Dict[str, Any]
Miss = Tuple[str, tuple]         # a reason's format and its arguments, formatted only for `explain`


def match(rule: Rule, event: Event, detail: bool = False) -> Tuple[Optional[Captures], str]:
    """(captures, how) or (None, why not). `detail` names the failing pattern field (for `explain`)."""
    if rule.on != event.source:
        return None, f"rule is for {rule.on} events"
    captures, how = _CHECKS[rule.on](rule, event)
    if captures is not None:
        return captures, how
    text, args = how
    if text is _PATTERN:
        what, pattern, document = args
        return None, f"{what}: {pattern.mismatch(document)}" if detail else f"{what} does not match the pattern"
    return None, text.format(*args)


def takes(rule: Rule, event: Event) -> Optional[Captures]:
    """The captures if `rule` takes `event` (of its source), else None."""
    return _CHECKS[rule.on](rule, event)[0]


def _oss(rule: OssRule, event: Event) -> Tuple[Optional[Captures], Any]:
    if event.bucket not in rule.buckets:
        return None, ("bucket {!r} is not {}", (event.bucket, ", ".join(rule.buckets)))
    if event.event_name not in rule.events:
        return None, ("event {!r} is not one of {}", (event.event_name, ", ".join(sorted(rule.events))))
    key = event.key or ""
    captures = rule.key.match(key)
    if captures is not None:
        return captures, "matched"
    for i, entry in firing(rule, event.bucket):
        captures = entry.key.match(key)
        if captures is not None:
            return captures, f"matched require[{i}] {entry.key.source!r}"
    return None, ("key {!r} does not match {!r}" + (" or a `require` entry" if rule.require else ""),
                  (event.key, rule.key.source))


def firing(rule: OssRule, bucket: Optional[str]) -> Iterable[Tuple[int, Any]]:
    """The `require` entries whose landing in `bucket` fires the rule: they capture all that its key captures."""
    names = set(rule.key.names)
    return ((i, entry) for i, entry in enumerate(rule.require)
            if entry.bucket in (None, bucket) and names <= set(entry.key.names))


def _mns(rule: MnsRule, event: Event) -> Tuple[Optional[Captures], Any]:
    if rule.topic and event.topic != rule.topic:
        return None, ("topic {!r} is not {!r}", (event.topic, rule.topic)) if event.topic \
            else ("not a topic message", ()) if event.queue else (_NO_TOPIC, ())
    if rule.queue and event.queue != rule.queue:
        return None, ("queue {!r} is not {!r}", (event.queue, rule.queue)) if event.queue \
            else ("not a queue message", ())
    if rule.attributes and not rule.attributes.matches(dict(event.attributes)):
        return None, (_PATTERN, ("message attributes", rule.attributes, dict(event.attributes)))
    if rule.message:
        if event.document is NOT_JSON:
            return None, ("message body is not JSON, and the rule has a `message` pattern", ())
        if not rule.message.matches(event.document):
            return None, (_PATTERN, ("message body", rule.message, event.document))
    return {}, "matched"


def _timer(rule: TimerRule, event: Event) -> Tuple[Optional[Captures], Any]:
    if event.timer != rule.timer:
        return None, ("timer {!r} is not {!r}", (event.timer, rule.timer))
    return {}, "matched"


_NO_TOPIC = ("the STREAM message names no topic (set DWTRIGGER_MNS_TOPIC on the function, or the topic trigger's "
             "JSON format)")
_PATTERN = "a pattern's mismatch"                 # a Miss whose reason the pattern itself words
_CHECKS = {"oss": _oss, "mns": _mns, "timer": _timer}


class Index:
    """The rules that could take an event, by lookup rather than by trying every rule: by bucket and the literal
    prefix of each key that fires a rule (OSS), by topic or queue (MNS; a rule naming neither is a candidate for
    every message), by timer name. Built once per rules file; an event costs a few dictionary lookups and a match
    against each candidate, whatever the rule count."""

    def __init__(self, rules: Sequence[Rule]):
        self._order = {id(rule): n for n, rule in enumerate(rules)}
        self._disabled: Optional[Index] = None              # `unmatched`'s, built when first asked
        self._names: Dict[Tuple[str, Optional[str]], List[Rule]] = defaultdict(list)  # MNS and timer rules
        self._prefixes: Dict[str, _Prefixes] = defaultdict(_Prefixes)                   # OSS rules, by bucket
        self._any_message: List[Rule] = []                  # MNS rules with neither topic nor queue
        for rule in rules:
            if isinstance(rule, OssRule):
                for bucket in rule.buckets:
                    for key in [rule.key] + [entry.key for _, entry in firing(rule, bucket)]:
                        self._prefixes[bucket].add(key, rule)
            elif isinstance(rule, MnsRule) and (rule.topic or rule.queue):
                self._names["topic" if rule.topic else "queue", rule.topic or rule.queue].append(rule)
            elif isinstance(rule, MnsRule):
                self._any_message.append(rule)
            elif isinstance(rule, TimerRule):
                self._names["timer", rule.timer].append(rule)

    def _rank(self, rule: Rule) -> int:
        return self._order[id(rule)]             # by identity: rules are dataclasses, compared (and hashed) by value

    def candidates(self, event: Event) -> List[Rule]:
        """The rules that may take `event`, in the rules file's order; every other rule surely does not."""
        if event.source == "oss":
            table = self._prefixes.get(event.bucket or "")
            found = table.under(event.key or "") if table else []
            return sorted(found, key=self._rank) if len(found) > 1 else found
        if event.source == "mns":
            found = self._names.get(("topic", event.topic), []) + self._names.get(("queue", event.queue), [])
            if self._any_message:
                found = sorted(found + self._any_message, key=self._rank)
            return found
        return self._names.get(("timer", event.timer), [])

    def takers(self, event: Event) -> List[Tuple[Rule, Captures]]:
        """Each rule that takes `event`, with its captures, in the rules file's order."""
        return [(rule, captures) for rule in self.candidates(event)
                for captures in [takes(rule, event)] if captures is not None]

    def unmatched(self, event: Event, rules: RuleSet) -> str:
        """The reason of the `ignored` decision of an event this index's rules (those in play of `rules`) do not
        take, naming the disabled rules of `rules` that would. Their index is built at the first such event, so an
        event that matches costs nothing more, and one that does not a lookup, as in play."""
        if self._disabled is None:
            self._disabled = Index(rules.disabled)
        return ignored_reason(rules, [rule for rule, _ in self._disabled.takers(event)])


NO_RULE = "no rule matched"


def ignored_reason(rules: RuleSet, disabled: Sequence[Rule]) -> str:
    """The reason of an `ignored` decision: no rule matched, and for each rule of `disabled` (of `rules`) that would
    have taken the event, where it is switched off."""
    if not disabled:
        return NO_RULE
    return f"{NO_RULE} (" + "; ".join(f"rule {rule.name!r} would have, but it is disabled: {out_of_play(rules, rule)}"
                                      for rule in disabled) + ")"


def out_of_play(rules: RuleSet, rule: Rule) -> str:
    """Where a disabled rule of `rules` is switched off, as every message names it."""
    return f"enabled: false at {rules.path}:{rule.line}"


class _Prefixes:
    """Rules by the literal text their keys start with: a key looks up each prefix length present, not each rule."""

    def __init__(self) -> None:
        self._rules: Dict[str, List[Rule]] = defaultdict(list)
        self._lengths: List[int] = []

    def add(self, key: Template, rule: Rule) -> None:
        same = self._rules[key.prefix]
        if all(other is not rule for other in same):
            same.append(rule)
        if len(key.prefix) not in self._lengths:
            self._lengths = sorted(self._lengths + [len(key.prefix)])

    def under(self, key: str) -> List[Rule]:
        found: Dict[int, Rule] = {}
        for length in self._lengths:
            if length > len(key):
                break
            for rule in self._rules.get(key[:length], ()):
                found[id(rule)] = rule
        return list(found.values())
