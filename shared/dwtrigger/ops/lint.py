"""`dwtrigger validate` warnings: rules that can never match, templates written as regular expressions, globs or
DataWorks parameters, and pairs of rules that overlap.

Valid rules can still be wrong. These checks are advice, not errors: one event may legitimately match several
rules, and a key may really hold a '?' or a '$'. Overlap is probed with a witness (each template's example key
tried against the other rule), so a reported overlap is real; an unreported one is not proven absent.

Only pairs that can overlap are probed: rules of one source with something in common (a bucket, a topic or
queue, a timer) and, in a bucket, keys whose literal prefixes are one the start of the other (a key a template
matches starts with its prefix, so a key both match starts with both). Sorted by prefix, the rules whose prefix
starts with a given one are neighbours, so the candidates are found without comparing every pair: the work grows
with the rules and the candidates, not with the square of the rules.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from itertools import combinations
from typing import Dict, Hashable, List, Sequence, Set, Tuple

from ..rules import MnsRule, OssRule, Problem, Rule, RuleSet, TimerRule
from ..templates import lookalikes

_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")
_MNS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,255}\Z")
MAX_KEY_BYTES = 1023


def warnings(rules: RuleSet) -> List[Problem]:
    found: List[Problem] = []
    for rule in rules.rules:
        found += [Problem(rules.path, rule.line, rule.name, field, message) for field, message in _never(rule)]
        found += [Problem(rules.path, rule.line, rule.name, field, message) for field, message in _literal(rule)]
    for i, j in sorted(_candidates(rules.rules)):           # in the order of every pair (a before b)
        a, b = rules.rules[i], rules.rules[j]
        why = _overlap(a, b)
        if why:
            found.append(Problem(rules.path, b.line, b.name, None, f"overlaps rule '{a.name}': {why}"))
    return found


def _candidates(rules: Sequence[Rule]) -> Set[Tuple[int, int]]:
    """(i, j), i < j, for each pair of rules that might overlap; every pair _overlap could report is here."""
    pairs: Set[Tuple[int, int]] = set()
    buckets: Dict[str, List[int]] = defaultdict(list)
    channels: Dict[Tuple[str, str], List[int]] = defaultdict(list)
    timers: Dict[Hashable, List[int]] = defaultdict(list)
    for i, rule in enumerate(rules):
        if isinstance(rule, OssRule):
            for bucket in set(rule.buckets):
                buckets[bucket].append(i)
        elif isinstance(rule, MnsRule):
            for kind in ("topic", "queue"):
                if getattr(rule, kind):
                    channels[(kind, getattr(rule, kind))].append(i)
        elif isinstance(rule, TimerRule):
            timers[rule.timer].append(i)
    for members in buckets.values():
        _prefix_pairs(rules, members, pairs)
    for members in channels.values():         # only a rule without a pattern overlaps another there
        for i in members:
            if not (rules[i].message or rules[i].attributes):
                pairs.update((min(i, j), max(i, j)) for j in members if j != i)
    for members in timers.values():
        pairs.update(combinations(members, 2))
    return pairs


def _prefix_pairs(rules: Sequence[Rule], members: List[int], pairs: Set[Tuple[int, int]]) -> None:
    """Rules of one bucket whose key prefixes are one the start of the other."""
    ordered = sorted((rules[i].key.prefix, i) for i in members)
    prefixes = [prefix for prefix, _ in ordered]
    for prefix, i in ordered:
        k = bisect_left(prefixes, prefix)
        while k < len(prefixes) and prefixes[k].startswith(prefix):
            j = ordered[k][1]
            if j != i:
                pairs.add((min(i, j), max(i, j)))
            k += 1


def _never(rule: Rule):
    """(field, message) for what makes a rule unable to match any real event."""
    if isinstance(rule, OssRule):
        yield from _never_oss(rule)
    elif isinstance(rule, MnsRule):
        for field in ("topic", "queue"):
            name = getattr(rule, field)
            if name and not _MNS_NAME.match(name):
                yield field, f"{name!r} is not a valid MNS {field} name: this rule can never match"


def _never_oss(rule: OssRule):
    for bucket in rule.buckets:
        if not _BUCKET.match(bucket):
            yield "bucket", f"{bucket!r} is not a valid OSS bucket name (3-63 lowercase letters, digits, '-'): " \
                            "this rule can never match"
    if rule.key.source.startswith("/"):
        yield "key", "OSS object keys never start with '/': this rule can never match"
    # A template's example is never longer than its text (each part writes at most what it is written with):
    # only a long text needs its example made.
    if len(rule.key.source.encode()) > MAX_KEY_BYTES and len(rule.key.example().encode()) > MAX_KEY_BYTES:
        yield "key", f"every key it matches is longer than OSS's {MAX_KEY_BYTES} bytes: it can never match"


def _literal(rule: Rule):
    """(field, message) for each part of a key or `require` template that means more to its writer than to dwtrigger
    (a regular expression, a glob's `?` or `[...]`, a DataWorks parameter): literal text here."""
    templates = [("key", "", rule.key)] if isinstance(rule, OssRule) else []
    templates += [(f"require[{i}]", f"in the key {entry.key.source!r}: " if entry.bucket else "", entry.key)
                  for i, entry in enumerate(getattr(rule, "require", ()))]
    for field, where, template in templates:
        for message in lookalikes(template.source):
            yield field, where + message


def _overlap(a: Rule, b: Rule) -> str:
    if isinstance(a, OssRule) and isinstance(b, OssRule):
        shared = sorted(set(a.buckets) & set(b.buckets))
        for x, y in ((a, b), (b, a)):
            key = x.key.example()
            if shared and a.events & b.events and y.key.match(key) is not None:
                return f"key {key!r} in bucket {shared[0]!r} matches both"
        return ""
    if isinstance(a, MnsRule) and isinstance(b, MnsRule):
        same = (a.topic and a.topic == b.topic) or (a.queue and a.queue == b.queue)
        unfiltered = not (a.message or a.attributes) or not (b.message or b.attributes)
        return f"same {'topic' if a.topic else 'queue'} and one has no message/attributes pattern" \
            if same and unfiltered else ""
    if isinstance(a, TimerRule) and isinstance(b, TimerRule):
        return "same timer" if a.timer == b.timer else ""
    return ""
