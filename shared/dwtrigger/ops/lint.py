"""`dwtrigger validate` warnings: rules that can never match, templates written as regular expressions, globs or
DataWorks parameters, and pairs of rules that overlap.

Valid rules can still be wrong. These checks are advice, not errors: one event may legitimately match several
rules, and a key may really hold a '?' or a '$'. Overlap is probed with a witness (each template's example key
tried against the other rule), so a reported overlap is real; an unreported one is not proven absent.

The work grows with the rules, not with their pairs, whatever their keys share:

- Rules alike for overlap are one unit, probed once: OSS rules with one bucket list, one event list and one key
  (capture names aside), the rules on one timer, the rules on one topic or queue without a message/attributes
  pattern. Ten thousand copies of a key are one probe, and one warning.
- In a bucket, each OSS unit's example key looks up the keys that could match it, as an event's key would: those
  whose literal prefix starts it. Where more than a few keys share a prefix, they are indexed further (only then
  analysed): by literal suffix (it ends the key), by '/'-segments (a key without `**` has a fixed number, and each
  of its whole literal segments is the key's segment at that place, counted from the start, or from the end after
  a `**`; a whole literal segment between two `**` is one of the key's segments). Only the keys found are matched
  against the example, and every pair a probe could report is among them: `exports/{t}/v7/_SUCCESS` never meets
  `exports/{t}/v8/_SUCCESS`, however many keys share `exports/` and `/_SUCCESS`.
- What the look-ups leave is bounded: candidates are matched fewest first, at most PROBES_PER_RULE a rule (and
  PROBES more), and past that one warning names the keys not all compared and how many pairs were skipped.
- Up to DETAIL overlapping pairs, each is told as its own warning, as probing every pair would. Beyond, alike
  rules are told once, as a group, and each rule (or group) names at most LISTED overlaps, then how many more.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from itertools import combinations
from operator import attrgetter, itemgetter
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from .. import sources
from ..rule import Rule, RuleSet
from ..rules import Problem, listed
from ..templates import Template, _Var
from .lookalikes import lookalikes

DETAIL = 100                # up to this many overlapping pairs of rules, each is its own warning
LISTED = 3                  # beyond, each rule (or group of alike rules) names at most this many overlaps
PROBES_PER_RULE, PROBES = 2, 2_000              # OSS keys matched against an example: 2 a rule, and 2,000
LOOKUPS_PER_RULE, LOOKUPS = 200, 100_000        # look-ups for candidates (a safety net: a few a rule is usual)


# A rule's own `notify` without `expect` is valid (it may come before its `expect`), yet says nothing: notices come
# from the sweep, which looks only at rules with `expect`. Inherited from `defaults` it is not told: there a rule
# without `expect` is the usual case.
_UNHEARD = ("sends no notice without `expect`: notices come from the sweep, which checks only rules with `expect` "
            "(add `expect`, or drop `notify`)")


def warnings(rules: RuleSet) -> List[Problem]:
    found: List[Problem] = []
    for rule in rules.rules:
        found += [Problem(rules.path, rule.line, rule.name, field, message) for field, message in _never(rule)]
        found += [Problem(rules.path, line or rule.line, rule.name, field, message)
                  for line, field, message in _literal(rule)]
        if rule.notify is not None and rule.notify.line is not None and rule.expect is None:
            found.append(Problem(rules.path, rule.notify.line, rule.name, "notify", _UNHEARD))
    try:
        return found + _Overlaps(rules).told()
    finally:
        _EXAMPLES.clear()


# ---- overlaps ----------------------------------------------------------------------------------------------

KEYED = "key"           # the kind of a unit of rules alike by key (`Source.keyed`); others are a channel's kind


class _Unit:
    """Rules alike for overlap: if two of them overlap, all do, and they overlap the same other rules. `kind` is
    KEYED or a channel's kind (`Source.channels`: timer, topic, queue); a KEYED unit has its key's template, example
    and shape, its buckets and events; an unfiltered channel's unit what its rules share (`alike`)."""
    __slots__ = ("kind", "members", "order", "template", "example", "shape", "buckets", "events", "alike")

    def __init__(self, kind: str, order: int):
        self.kind, self.order, self.members = kind, order, []


class _Overlaps:
    """The overlapping pairs of a rules file, found unit by unit, and told (`told`)."""

    def __init__(self, rules: RuleSet):
        self.rules, self.path = rules.rules, rules.path
        self.groups: List[Tuple[_Unit, str]] = []                  # units whose rules overlap one another
        self.links: Dict[Tuple[_Unit, _Unit], Optional[str]] = {}  # (u, v) overlapping, u's first rule first
        self.unchecked: List[Problem] = []
        self.probes = 0                                             # OSS keys matched against a unit's example
        self.limit = PROBES_PER_RULE * len(self.rules) + PROBES
        units: List[_Unit] = []
        keyed: Dict[tuple, _Unit] = {}
        channels: Dict[Tuple[str, str], Tuple[List[_Unit], List[_Unit]]] = {}
        alike: Dict[Template, str] = {}             # a file's rules share template objects (one per text)
        bucket_sets: Dict[Tuple[str, ...], FrozenSet[str]] = {}     # and bucket lists
        self.shapes: Dict[Template, tuple] = {}
        self.dates: dict = {}                       # each date token, marked, for _analyse

        def unit(table, key, kind):
            found = table.get(key)
            if found is None:
                found = table[key] = _Unit(kind, len(units))
                units.append(found)
            return found

        for i, rule in enumerate(self.rules):
            source = sources.get(rule.on)
            for kind, name, filtered_out in source.channels(rule):
                unfiltered, filtered = channels.setdefault((kind, name), ([], []))
                if filtered_out:
                    filtered.append(_Unit(kind, -1))
                    filtered[-1].members.append(i)
                else:
                    if not unfiltered:
                        unfiltered.append(_Unit(kind, -1))
                        unfiltered[0].alike = source.together(kind, name)
                    unfiltered[0].members.append(i)
            key = source.keyed(rule)
            if key is None:
                continue
            template, places, events = key
            text = alike.get(template)
            if text is None:
                text = alike[template] = _alike(template.source)
            buckets = bucket_sets.get(places)
            if buckets is None:
                buckets = bucket_sets[places] = frozenset(places)
            u = unit(keyed, (text, buckets, events), KEYED)
            if not u.members:
                u.template, u.shape, u.buckets, u.events = template, None, sorted(set(places)), events
            u.members.append(i)
        for u in units:
            if len(u.members) > 1:
                self._group(u)
        for unfiltered, filtered in channels.values():       # a rule with no pattern overlaps any rule there
            for u in unfiltered:
                self._group(u)
                for f in filtered:
                    self.links[(u, f) if u.members[0] < f.members[0] else (f, u)] = None
        self._buckets(list(keyed.values()))

    def _group(self, unit: _Unit) -> None:
        if len(unit.members) > 1:
            why = _overlap(self.rules[unit.members[0]], self.rules[unit.members[1]])
            if why:
                self.groups.append((unit, why))

    def shape(self, u: _Unit) -> tuple:
        """u's shape (_analyse), made when first needed: most keys never need it."""
        if u.shape is None:
            u.shape = self.shapes.get(u.template)
            if u.shape is None:
                u.shape = self.shapes[u.template] = _analyse(u.template, self.dates)
        return u.shape

    def _why(self, u: _Unit, v: _Unit) -> str:
        """Why the first rules of u and v overlap, u's first (u's example tried first): probed once, when told."""
        why = self.links[(u, v)]
        if why is None:
            why = self.links[(u, v)] = _overlap(self.rules[u.members[0]], self.rules[v.members[0]])
        return why

    # ---- OSS: candidates by key, bucket by bucket ----

    def _buckets(self, units: List[_Unit]) -> None:
        lists: Dict[Tuple[str, ...], List[_Unit]] = {}       # units by bucket list
        for u in units:
            u.example = _EXAMPLES[u.template] = u.template.example()
            lists.setdefault(tuple(u.buckets), []).append(u)
        by_bucket: Dict[str, List[int]] = defaultdict(list)  # bucket -> the bucket lists that name it
        for k, buckets in enumerate(lists):
            for bucket in buckets:
                by_bucket[bucket].append(k)
        shared: Dict[Tuple[int, ...], List[str]] = {}       # buckets with the same units are searched once
        for bucket, ks in by_bucket.items():
            shared.setdefault(tuple(ks), []).append(bucket)
        parts = []                                           # (buckets, their units in file order)
        grouped = list(lists.values())
        for ks, buckets in shared.items():
            members = [u for k in ks for u in grouped[k]]
            if len(members) > 1:
                parts.append((buckets, sorted(members, key=attrgetter("order")) if len(ks) > 1 else members))
        queries: list = []
        lookups, uncompared = 0, []
        lookup_limit = LOOKUPS_PER_RULE * len(self.rules) + LOOKUPS
        for part, (_, members) in enumerate(parts):
            keys = _Keys(members, self.shape)
            for u in members:
                if lookups > lookup_limit:
                    uncompared.append(u)
                    continue
                found, spent = keys.query(u.example)
                lookups += spent
                queries.append((sum(map(len, found)), len(queries), u, found, keys.own(u), part))
        queries.sort(key=itemgetter(0, 1))           # the fewest candidates first: one crowd cannot hide the rest
        skipped = self._probe(queries, len(parts) > 1)
        self._unchecked(parts, skipped, uncompared, lookup_limit)

    def _probe(self, queries: list, again: bool) -> dict:
        """Match each unit's example against its candidates' keys, up to the limit. What is left unprobed, by
        (partition, leaf id): [twice the pairs skipped, the leaf]."""
        links, limit = self.links, self.limit
        tried = set()                   # (unit, candidate) already matched: a unit may be in several partitions
        skipped: dict = {}

        def skip(leaf, count, part):    # count doubled but in the unit's own leaf, where each of a pair finds
            entry = skipped.get((part, id(leaf)))   # the other: half the sum is the pairs
            if entry is None:
                entry = skipped[(part, id(leaf))] = [0, leaf]
            entry[0] += count if leaf is own else 2 * count

        for _, _, u, found, own, part in queries:
            example, segments = u.example, None
            for n, leaf in enumerate(found):
                if self.probes >= limit:
                    for leaf in found[n:]:
                        skip(leaf, len(leaf) - (leaf is own), part)
                    break
                for k, v in enumerate(leaf):
                    if v is u:
                        continue
                    pair = (u, v) if u.members[0] < v.members[0] else (v, u)
                    if pair in links or u.events.isdisjoint(v.events):
                        continue
                    shape = v.shape if v.shape is not None else self.shape(v)
                    anchors = shape[4]
                    if anchors:
                        if segments is None:
                            segments = set(example.split("/"))
                        if not anchors <= segments:
                            continue
                    if again:
                        if (u.order, v.order) in tried:
                            continue
                        tried.add((u.order, v.order))
                    if self.probes >= limit:
                        skip(leaf, sum(1 for w in leaf[k:] if w is not u), part)
                        break
                    self.probes += 1
                    ends = shape[5]
                    if ends:                # prefix, `**` or `**/`, suffix: no need of a table
                        prefix, suffix = v.template.prefix, v.template.suffix
                        middle = example[len(prefix):len(example) - len(suffix)]
                        if len(example) >= len(prefix) + len(suffix) and example.startswith(prefix) and \
                                example.endswith(suffix) and (ends == "**" or not middle or middle[-1] == "/"):
                            links[pair] = None
                    elif v.template.match(example) is not None:
                        links[pair] = None
        return skipped

    def _unchecked(self, parts: list, skipped: dict, uncompared: List[_Unit], lookup_limit: int) -> None:
        """One warning for the pairs left unprobed, naming the keys with the most; one for keys not looked up."""
        rules = self.rules
        if skipped:
            crowds: dict = {}           # (partition, prefix, suffix or None): [twice the pairs, their rules]
            for (part, _), (twice, leaf) in skipped.items():
                suffixes = {u.template.suffix for u in leaf}
                crowd = crowds.setdefault((part, leaf[0].template.prefix, suffixes.pop() if len(suffixes) == 1
                                           else None), [0, []])
                crowd[0] += twice
                crowd[1] += [m for u in leaf for m in u.members]
            (part, prefix, suffix), (twice, members) = max(crowds.items(), key=lambda c: (c[1][0], -min(c[1][1])))
            buckets = parts[part][0]
            where = f"bucket {buckets[0]!r}" + (f" (and {len(buckets) - 1:,} more with the same rules)"
                                                  if len(buckets) > 1 else "")
            ends = " and ".join(([f"starting {_quoted(prefix)}"] if prefix else []) +
                                ([f"ending {_quoted(suffix)}"] if suffix else []))
            more = sum(c[0] for c in crowds.values()) - twice
            others = f"; {len(crowds) - 1:,} other crowds of keys, {(more + 1) // 2:,} pairs more" if more else ""
            first = rules[min(members)]
            self.unchecked.append(Problem(
                self.path, first.line, first.name, None,
                f"{len(members):,} rules in {where} have keys {ends + ' ' if ends else ''}that their literal text "
                f"does not tell apart: overlaps with them were not all checked ({(twice + 1) // 2:,} candidate "
                f"pairs were not probed: validate stops after {self.limit:,} probes of one key against "
                f"another{others})"))
        if uncompared:
            first = rules[min(m for u in uncompared for m in u.members)]
            self.unchecked.append(Problem(
                self.path, first.line, first.name, None,
                f"the keys of {sum(len(u.members) for u in uncompared):,} rules were not compared with the others "
                f"(validate looks up at most {lookup_limit:,} parts of keys): overlaps with them were not checked"))

    # ---- telling ----

    def told(self) -> List[Problem]:
        pairs = sum(len(u.members) * (len(u.members) - 1) // 2 for u, _ in self.groups) + \
            sum(len(u.members) * len(v.members) for u, v in self.links)
        return (self._each() if pairs <= DETAIL else self._summary()) + self.unchecked

    def _each(self) -> List[Problem]:
        """Each overlapping pair (a before b), in the order of every pair: as probing each pair would tell them."""
        found = []
        for u, why in self.groups:
            found += [(a, b, why) for a, b in combinations(u.members, 2)]
        for u, v in list(self.links):
            why, back = self._why(u, v), None               # back: the why when a rule of v comes first
            for a in u.members:
                for b in v.members:
                    if a < b:
                        found.append((a, b, why))
                    else:
                        back = back or _overlap(self.rules[v.members[0]], self.rules[u.members[0]])
                        found.append((b, a, back))
        found.sort()
        return [self._pair(a, b, why) for a, b, why in found]

    def _pair(self, a: int, b: int, why: str) -> Problem:
        first, rule = self.rules[a], self.rules[b]
        return Problem(self.path, rule.line, rule.name, None, f"overlaps rule '{first.name}': {why}")

    def _summary(self) -> List[Problem]:
        """Too many pairs to tell each: a group of alike rules once, on its first rule; for each rule (or group),
        at most LISTED overlaps told, then how many more, on its first rule."""
        rules, told = self.rules, []
        entries = [(u.members[0], u.members[1], u, None, why) for u, why in self.groups]
        entries += [(u.members[0], v.members[0], u, v, None) for u, v in self.links]
        entries.sort(key=itemgetter(0, 1))
        listed: Counter = Counter()
        hidden: Dict[_Unit, List[_Unit]] = defaultdict(list)
        for a, b, u, v, why in entries:
            if v is None and len(u.members) == 2:
                told.append(self._pair(a, b, why))
            elif v is None:
                told.append(Problem(self.path, rules[a].line, rules[a].name, None,
                                    f"overlaps rules {self._names(u.members[1:])}: {self._shared(u)}"))
            elif listed[u] < LISTED and listed[v] < LISTED:
                listed[u] += 1
                listed[v] += 1
                like = f" and {_like(u, 'it')}" if len(u.members) > 1 else ""
                also = f" (so do {_like(v, 'this one')})" if len(v.members) > 1 else ""
                told.append(Problem(self.path, rules[b].line, rules[b].name, None,
                                    f"overlaps rule '{rules[a].name}'{like}: {self._why(u, v)}{also}"))
            else:                                           # told as one more of whichever has told enough
                for full, other in ((u, v), (v, u)):
                    if listed[full] >= LISTED:
                        hidden[full].append(other)
        for u in sorted(hidden, key=lambda u: u.members[0]):
            more = sorted(m for v in hidden[u] for m in v.members)
            also = f" (as do {_like(u, 'it')})" if len(u.members) > 1 else ""
            first = rules[u.members[0]]
            told.append(Problem(self.path, first.line, first.name, None,
                                f"also overlaps {len(more):,} more rules{also}: {self._names(more)}"))
        return told

    def _shared(self, u: _Unit) -> str:
        """What a group's rules share (u has 3 rules or more), for its warning."""
        n = len(u.members)
        if u.kind == KEYED:
            names = " (capture names aside)" if len({self.rules[m].key.source for m in u.members}) > 1 else ""
            return (f"all {n:,} have the same bucket{'s' if len(u.buckets) > 1 else ''}, events and key{names}, "
                    f"and key {_quoted(u.example)} in bucket {u.buckets[0]!r} matches them all")
        return f"all {n:,} {u.alike}"

    def _names(self, members: Sequence[int]) -> str:
        return listed([self.rules[m].name for m in members], LISTED)


def _like(u: _Unit, this: str) -> str:
    """The other rules of u, for a warning on its first."""
    return f"the rule like {this}" if len(u.members) == 2 else f"the {len(u.members) - 1:,} rules like {this}"


class _Keys:
    """The OSS keys of the buckets that have the same rules, for looking up which could match a key: by literal
    prefix; where more than SMALL keys have one, by (suffix length, segments, least segments, positions, anchored)
    a table of (suffix, literal segments at those positions[, an anchor]) to a leaf, the list of units with them.
    The finer index is made for a prefix when first looked up, so only keys in a crowd are analysed."""
    SMALL = 8

    def __init__(self, units: List[_Unit], shape):
        self.tree: Dict[str, List[_Unit]] = {}
        for u in units:
            prefix = u.template.prefix
            node = self.tree.get(prefix)
            if node is None:
                self.tree[prefix] = [u]
            else:
                node.append(u)
        self.prefixes = sorted({len(p) for p in self.tree})
        self.fine: Dict[str, Tuple[list, dict]] = {}
        self.leaf: Dict[int, list] = {}             # unit order -> its leaf, once its prefix's index is made
        self.shape = shape

    def own(self, u: _Unit) -> list:
        """The leaf of u, which its own look-up finds."""
        leaf = self.leaf.get(u.order)
        return self.tree[u.template.prefix] if leaf is None else leaf

    def _refine(self, prefix: str, units: List[_Unit]) -> Tuple[list, dict]:
        kinds, table = set(), {}
        shapes = [self.shape(u) for u in units]
        seen = Counter(a for s in shapes for a in s[4])     # anchor on the rarest whole literal segment
        for u, (count, need, picks, values, anchors, _) in zip(units, shapes):
            suffix = u.template.suffix
            if anchors:
                kinds.add((len(suffix), count, need, picks, True))
                key: tuple = (suffix, values, min(anchors, key=lambda a: (seen[a], a)))
            else:
                kinds.add((len(suffix), count, need, picks, False))
                key = (suffix, values)
            leaf = table.get(key)
            if leaf is None:
                leaf = table[key] = []
            leaf.append(u)
            self.leaf[u.order] = leaf
        fine = self.fine[prefix] = ([(length, count, need, _picker(picks), anchored)
                                     for length, count, need, picks, anchored in kinds], table)
        return fine

    def query(self, key: str) -> Tuple[List[list], int]:
        """The leaves whose keys could match `key`, and the look-ups it took."""
        found, spent, n = [], 0, len(key)
        segments = None
        tree = self.tree
        for length in self.prefixes:
            if length > n:
                break
            spent += 1
            prefix = key[:length]
            units = tree.get(prefix)
            if units is None:
                continue
            if len(units) <= self.SMALL:
                found.append(units)
                continue
            kinds, table = self.fine.get(prefix) or self._refine(prefix, units)
            if segments is None:
                segments = key.split("/")
                m, present = len(segments), None
            for length, count, need, pick, anchored in kinds:
                if length > n or need > m or count is not None and count != m:
                    continue
                spent += 1
                suffix, values = key[n - length:], pick(segments)
                if anchored:
                    if present is None:
                        present = set(segments)
                    spent += len(present)
                    for segment in present:
                        leaf = table.get((suffix, values, segment))
                        if leaf:
                            found.append(leaf)
                else:
                    leaf = table.get((suffix, values))
                    if leaf:
                        found.append(leaf)
        return found, spent


def _picker(picks: Tuple[int, ...]):
    """A function of a key's segments: those at `picks`, as a tuple."""
    if len(picks) > 1:
        return itemgetter(*picks)
    if picks:
        k = picks[0]
        return lambda segments: (segments[k],)
    return lambda segments: ()


_EXAMPLES: Dict[Template, str] = {}     # while `warnings` runs: each OSS unit's example key, made once


def _example(template: Template) -> str:
    found = _EXAMPLES.get(template)
    return template.example() if found is None else found


_MARKS = frozenset("\0\1\2")
_NO_ANCHORS: FrozenSet[str] = frozenset()


_CAPTURE = re.compile(r"\{\{|\}\}|\{[^}]*\}")       # as templates.py reads braces: escapes, captures
_NAMED = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")     # a `{name}` (or the like inside `{{...}}`)


def _alike(source: str) -> str:
    """The template's text with each `{name}` written `{}`: two templates alike match the same keys, with one
    example."""
    if not _NAMED.search(source):
        return source
    if "{{" not in source and "}}" not in source and source.count("{") == source.count("}"):
        return _NAMED.sub("{}", source)             # no escape, no '{' in a date's format: captures are plain
    return _CAPTURE.sub(lambda m: m.group() if len(m.group()) == 2 or ":" in m.group() else "{}", source)


def _analyse(template: Template, dates: dict) -> tuple:
    """What a key matching `template` must hold: (segments, least segments, positions, literal segments there,
    anchors, ends). Without `**`: its exact number of '/'-segments, and each whole literal segment at its place.
    With: None, the segments its start and end name; the whole literal segments of its start (positions from 0)
    and of its end (from -1, the last); anchors, the whole literal segments between two `**`, each one of the
    key's segments somewhere. `ends`, for a template that is its prefix, one `**` or `**/` and its suffix: the
    text between them decides ('**' or '**/'), else ''. Read from the template's tokens (templates.py's own
    classes); `dates` keeps each date token's marked text."""
    if not _MARKS.isdisjoint(template.source):          # our marks below: say nothing rather than something wrong
        return None, 0, (), (), _NO_ANCHORS, ""
    # '\0' text within a segment, '\1' `**` (any text), '\2' `**/` (whole segments); a date keeps its literal text
    marks = []
    for t in template._tokens:
        if t.__class__ is str:
            marks.append(t)
        elif t.__class__ is _Var:
            marks.append("\2" if t.segments else "\1" if t.crosses else "\0")
        else:
            text = dates.get(t)
            if text is None:
                text = dates[t] = "".join("\0" if c is None else c for c in t.mask)
            marks.append(text)
    return _shape("".join(marks))


def _shape(text: str) -> tuple:
    """_analyse's shape of a template's marked text."""
    if "\1" not in text and "\2" not in text:
        pieces = text.split("/")
        if "\0" not in text:
            return len(pieces), len(pieces), tuple(range(len(pieces))), tuple(pieces), _NO_ANCHORS, ""
        picks = [k for k, p in enumerate(pieces) if "\0" not in p]
        return len(pieces), len(pieces), tuple(picks), tuple([pieces[k] for k in picks]), _NO_ANCHORS, ""
    starts = [i for i in (text.find("\1"), text.find("\2")) if i >= 0]
    first, last = min(starts), max(text.rfind("\1"), text.rfind("\2"))
    head = text[:first].split("/")[:-1]                  # what follows the last '/' runs into the `**`
    tail = text[last + 1:].split("/")
    if text[last] == "\1":                               # after `**/` a key's segment starts; after `**`, not
        tail = tail[1:]
    picks = tuple(k for k, p in enumerate(head) if "\0" not in p) + \
        tuple(k - len(tail) for k, p in enumerate(tail) if "\0" not in p)
    middle = re.split("[/\2]", text[first:last + 1])
    anchors = frozenset(p for p in middle[1:-1] if p and "\0" not in p and "\1" not in p)
    ends = "" if first != last or "\0" in text else "**" if text[first] == "\1" else "**/"
    return None, len(head) + len(tail), picks, tuple(head[k] if k >= 0 else tail[k] for k in picks), anchors, ends


def _never(rule: Rule):
    """(field, message) for what makes a rule unable to match any real event (`Source.never`)."""
    return sources.get(rule.on).never(rule)


def _literal(rule: Rule):
    """(line, field, message) for each part of a key or `require` template that means more to its writer than to
    dwtrigger (a regular expression, a glob's `?` or `[...]`, a DataWorks parameter): literal text here. The line is
    a `require` entry's own (None: the rule's)."""
    templates = [(None, field, "", template) for field, template in sources.get(rule.on).templates(rule)]
    templates += [(entry.line, f"require[{i}]", f"in the key {_quoted(entry.key.source)}: " if entry.bucket else "",
                   entry.key) for i, entry in enumerate(getattr(rule, "require", ()))]
    for line, field, where, template in templates:
        for message in lookalikes(template.source):
            yield line, field, where + message


def _quoted(text: str) -> str:
    """A key in a message, as written (a repr would double each backslash)."""
    return f"'{text}'"


def _overlap(a: Rule, b: Rule) -> str:
    """Why rules a and b overlap ('' if no witness shows they do): the probe of one pair (`Source.overlap`)."""
    return sources.get(a.on).overlap(a, b, _example) if a.on == b.on else ""
