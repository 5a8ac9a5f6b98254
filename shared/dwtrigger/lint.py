"""`dwtrigger validate` warnings: rules that can never match, and pairs of rules that overlap.

Valid rules can still be wrong. These checks are advice, not errors: one event may legitimately match several
rules. Overlap is probed with a witness (each template's example key tried against the other rule), so a
reported overlap is real; an unreported one is not proven absent.
"""
from __future__ import annotations

import re
from itertools import combinations
from typing import List

from .rules import MnsRule, OssRule, Problem, Rule, RuleSet, TimerRule

_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")
_MNS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,255}\Z")
MAX_KEY_BYTES = 1023


def warnings(rules: RuleSet) -> List[Problem]:
    found: List[Problem] = []
    for rule in rules.rules:
        found += [Problem(rules.path, rule.line, rule.name, field, message) for field, message in _never(rule)]
    for a, b in combinations(rules.rules, 2):
        why = _overlap(a, b)
        if why:
            found.append(Problem(rules.path, b.line, b.name, None, f"overlaps rule '{a.name}': {why}"))
    return found


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
    if len(rule.key.example().encode()) > MAX_KEY_BYTES:
        yield "key", f"every key it matches is longer than OSS's {MAX_KEY_BYTES} bytes: it can never match"


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
