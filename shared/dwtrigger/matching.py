"""Does a rule take an event? The relay asks `Index.takers` (only the rules that could, found by lookup); `explain`
asks `match` of each rule and wants the reason for a miss. Both run the same checks, and a miss builds its
message only when `match` asks for it.

Each source says how its rules take its events (`Source.check`, `Source.lookup`, sources/).

A disabled rule (`enabled: false`) takes nothing, but an event no rule in play takes is told which disabled rules
would have (`Index.unmatched`, `ignored_reason`): an `ignored` decision that names the rule switched off is an
answer, a bare "no rule matched" sends the operator hunting.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import sources
from .sources import Captures
from .events import Event
from .rule import Rule, RuleSet

Miss = Tuple[str, tuple]         # a reason's format and its arguments, formatted only for `explain`


def match(rule: Rule, event: Event, detail: bool = False) -> Tuple[Optional[Captures], str]:
    """(captures, how) or (None, why not). `detail` names the failing pattern field (for `explain`)."""
    if rule.on != event.source:
        return None, f"rule is for {rule.on} events"
    captures, how = sources.get(rule.on).check(rule, event)
    if captures is not None:
        return captures, how
    text, args = how
    if text is PATTERN:
        what, pattern, document = args
        return None, f"{what}: {pattern.mismatch(document)}" if detail else f"{what} does not match the pattern"
    return None, text.format(*args)


def takes(rule: Rule, event: Event) -> Optional[Captures]:
    """The captures if `rule` takes `event` (of its source), else None."""
    return sources.get(rule.on).check(rule, event)[0]


PATTERN = "a pattern's mismatch"                 # a Miss whose reason the pattern itself words


class Index:
    """The rules that could take an event, by lookup rather than by trying every rule: each source looks its own
    rules up (`Source.lookup`: OSS by bucket and key prefix, MNS by topic or queue, timers by name). Built once per
    rules file; an event costs a few dictionary lookups and a match against each candidate, whatever the rule
    count."""

    def __init__(self, rules: Sequence[Rule]):
        self._order = {id(rule): n for n, rule in enumerate(rules)}
        self._disabled: Optional[Index] = None              # `unmatched`'s, built when first asked
        by_source: Dict[str, List[Rule]] = defaultdict(list)
        for rule in rules:
            by_source[rule.on].append(rule)
        self._lookups: Dict[str, Callable[[Event], List[Rule]]] = {
            name: sources.get(name).lookup(found, self._rank) for name, found in by_source.items()}

    def _rank(self, rule: Rule) -> int:
        return self._order[id(rule)]             # by identity: rules are dataclasses, compared (and hashed) by value

    def candidates(self, event: Event) -> List[Rule]:
        """The rules that may take `event`, in the rules file's order; every other rule surely does not."""
        lookup = self._lookups.get(event.source)
        return lookup(event) if lookup else []

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
