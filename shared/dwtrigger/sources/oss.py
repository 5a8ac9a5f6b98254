"""OSS: objects landing in buckets (`on: oss`), through an OSS trigger or EventBridge.

Decisions on points the FC documentation leaves open (summarised in docs/reference.md, "Event shapes"):
- OSS keys are URL-decoded only when they contain `%` and the escapes decode to valid UTF-8; `+` is kept
  as is. A literal key like `100%25.csv` is therefore read as `100%.csv` (OSS keys rarely contain `%XX`).
- OSS native event ids are the record's `responseElements.requestId` (a sha256 of the record when it has
  none); records of one delivery sharing an id get `#<index>` appended. CloudEvents use their `id`.

A rule with `require` is taken by the landing of any of its files, so the last to land fires it whatever the
order: its key, or a `require` entry in the event's bucket that captures everything the key captures (what the
rule needs to name the other files and the instance). Its evidence is its files for the date.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import combinations
from os.path import commonprefix
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Union
from urllib.parse import unquote

from .. import rulefile
from ..events import (Event, Invalid, Parsed, cloudevent_data, cloudevent_ids, digest_id, each, lookup, not_for,
                      shape_of, string, time_field, utf8_size)
from ..rule import Required, Rule, RuleSet
from ..rules import compiled_template, remember, require_entries
from ..schedule import written
from ..templates import Template, TemplateError
from . import Captures, Source, built_at, built_id

MAX_KEY_BYTES = 1023               # OSS's own limit on an object key (UTF-8 bytes, after URL-decoding)
OSS_EVENT_NAMES = {
    "ObjectCreated": ("PutObject", "PostObject", "CompleteMultipartUpload", "PutSymlink", "CopyObject",
                      "AppendObject", "InitiateMultipartUpload", "UploadPart", "UploadPartCopy"),
    "ObjectRemoved": ("DeleteObject", "DeleteObjects", "AbortMultipartUpload"),
    "ObjectModified": ("UpdateObjectMeta",),
}
# `Family:*` means the events that leave a whole object behind. These fire while an upload is still in
# progress (or, for appendable objects, before anyone knows it is finished), so only a rule naming them
# takes them; s.yaml's OSS trigger does not subscribe to them either.
_IN_PROGRESS = frozenset({"InitiateMultipartUpload", "UploadPart", "UploadPartCopy", "AppendObject"})
_LEAVES = ("ObjectCreated:", "ObjectModified:")        # events after which the object is there
_EVENT_SETS: Dict[Optional[Tuple[str, ...]], FrozenSet[str]] = {}
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")
CANDIDATES = 20          # keys of one date the sweep tries as the captures of a complete set, per bucket


@dataclass(frozen=True, kw_only=True)
class OssRule(Rule):
    on: str = dataclasses.field(default="oss", init=False)
    buckets: Tuple[str, ...]
    key: Template
    events: FrozenSet[str]              # OSS event names, "Family:*" already expanded
    require: Tuple[Required, ...]


class Oss(rulefile.Source, tag="oss"):
    bucket: Union[str, List[str], None] = None
    key: Optional[str] = None
    events: Optional[List[str]] = None
    require: Optional[List[str]] = None


@lru_cache(maxsize=4096)
def _bucket_ok(name: str) -> bool:      # validate's check (`never`)
    """Whether `name` is a valid OSS bucket name: thousands of rules name a few buckets, each checked once."""
    return _BUCKET.match(name) is not None


# ---- the event ----

def _parse_oss(doc: object) -> Iterable[Parsed]:
    """OSS native trigger records, or OSS CloudEvents from EventBridge (one object or a list)."""
    shape = shape_of(doc)
    if shape == "oss-native":
        records = doc["events"]
        if not records:
            raise Invalid("the OSS event has no records")
        return each("oss", records, _native_ids(records), _oss_native)
    if shape == "oss-eventbridge":
        events = doc if isinstance(doc, list) else [doc]
        return each("oss", events, cloudevent_ids(events), _oss_cloudevent)
    raise not_for("oss", doc)


def _native_ids(records: list) -> list[str]:
    """Ids stable across FC retries of a delivery and unique within it."""
    base = [_request_id(record) for record in records]
    counts = Counter(base)
    return [f"{value}#{index}" if counts[value] > 1 else value for index, value in enumerate(base)]


def _request_id(record: object) -> str:
    """The OSS request that caused the record, or a hash of the whole record when it names none."""
    value = lookup(record, "responseElements.requestId")
    if isinstance(value, str) and value:
        return value
    return digest_id(json.dumps(record, sort_keys=True, separators=(",", ":")))


def _oss_native(record: dict, event_id: str) -> Event:
    return _oss_event("oss-native", record, event_id, time_field(record, "eventTime"))


def _oss_cloudevent(cloudevent: dict, event_id: str | None) -> Event:
    data = cloudevent_data(cloudevent, event_id, "oss-eventbridge")
    return _oss_event("oss-eventbridge", data, event_id, time_field(cloudevent, "time"))


def _oss_event(kind: str, record: dict, event_id: str, time: datetime) -> Event:
    """An Event from one native OSS record (which is also a CloudEvent's `data`)."""
    key = _object_key(string(record, "oss.object.key"))
    return Event(source="oss", kind=kind, event_id=event_id, time=time,
                 bucket=string(record, "oss.bucket.name"), key=key,
                 event_name=string(record, "eventName").removeprefix("oss:"))


def _object_key(key: str) -> str:
    """The key URL-decoded when it holds valid %XX escapes (UNCERTAIN whether OSS encodes keys)."""
    if "%" in key:
        try:
            key = unquote(key, errors="strict")
        except UnicodeDecodeError:
            pass  # escapes that are not UTF-8 were never URL-encoding: keep the key literally
    size = utf8_size(key, "object key")
    if size > MAX_KEY_BYTES:
        raise Invalid(f"the object key is {size} bytes, over OSS's {MAX_KEY_BYTES}-byte limit")
    return key



# ---- the rule ----

def _build(spec: Oss, problem) -> Optional[dict]:
    buckets = (spec.bucket,) if isinstance(spec.bucket, str) else tuple(spec.bucket or ())
    if not buckets or not all(buckets):
        problem("bucket", "required: a bucket name or a list of names")
    key = None
    if not spec.key:
        problem("key", "required: a key template, e.g. \"exports/dt={bizdate:%Y-%m-%d}/_SUCCESS\"")
    elif spec.key.startswith("oss://"):
        bucket, _, rest = spec.key[len("oss://"):].partition("/")
        problem("key", f"is the key within the bucket, not an oss:// address: write `bucket: {bucket}` and "
                       f"`key: \"{rest}\"`")
    else:
        try:
            key = compiled_template(spec.key)
        except TemplateError as e:
            problem("key", str(e))
    events = _events(spec.events, problem)
    if not key or not buckets:
        return None
    own = (key.source, buckets[0] if len(buckets) == 1 else None)
    require = require_entries(spec.require, problem, {"bizdate", *key.names}, "captured by the key", own)
    return dict(buckets=buckets, key=key, events=events, require=require)


def _events(names: Optional[List[str]], problem) -> FrozenSet[str]:
    given = tuple(names) if names is not None else None
    known = _EVENT_SETS.get(given)
    if known is not None:
        return known
    events, ok = set(), True
    for i, name in enumerate(names if names is not None else ["ObjectCreated:*"]):
        family, _, action = name.partition(":")
        if family not in OSS_EVENT_NAMES or (action != "*" and action not in OSS_EVENT_NAMES[family]):
            problem(f"events[{i}]", f"unknown OSS event {name!r} (e.g. ObjectCreated:* or ObjectCreated:PutObject; "
                                    "no 'oss:' prefix)")
            ok = False
        elif action == "*":
            events.update(f"{family}:{a}" for a in OSS_EVENT_NAMES[family] if a not in _IN_PROGRESS)
        else:
            events.add(name)
    return remember(_EVENT_SETS, given, frozenset(events)) if ok else frozenset(events)



# ---- matching ----

def _check(rule: OssRule, event: Event) -> Tuple[Optional[Captures], Any]:
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


# ---- explain's built events ----

def oss_event(bucket: str, key: str, event_name: str, when: datetime):
    """An OSS trigger's native event of one object (for explain: its label, function and document). A `%` in the
    key is escaped, so the parser's URL-decoding gives the key back exactly as written."""
    record = {"eventName": event_name, "eventSource": "acs:oss", "eventTime": built_at(when, "milliseconds"),
              "eventVersion": "1.0",
              "oss": {"bucket": {"name": bucket}, "object": {"key": key.replace("%", "%25"), "size": 0}}}
    record["responseElements"] = {"requestId": built_id(record)[:24]}
    return f"oss://{bucket}/{key} ({event_name})", "oss", {"events": [record]}


# ---- s.yaml: its OSS triggers, derived from the rules (deploy/wiring.py asks; never a handler) ----------------

OSS_TRIGGERS_PER_BUCKET = 10            # OSS's limit on a bucket's native triggers


def _trigger_events(names: Iterable[str]) -> FrozenSet[str]:
    """OSS trigger event names (`oss:Family:Action`, `*` for the whole family as OSS reads it), without `oss:`."""
    out = set()
    for name in names:
        family, _, action = str(name).removeprefix("oss:").partition(":")
        out |= {f"{family}:{a}" for a in (OSS_EVENT_NAMES.get(family, ()) if action == "*" else [action])}
    return frozenset(out)


def _oss_names(events: Iterable[str]) -> List[str]:
    order = [f"{family}:{a}" for family, actions in OSS_EVENT_NAMES.items() for a in actions]
    return [f"oss:{e}" for e in sorted(events, key=order.index)]


@dataclass(frozen=True)
class Filter:
    """An OSS trigger's filter and events, and the rules whose keys it lets through."""
    prefix: str
    suffix: str
    events: FrozenSet[str]
    rules: Tuple[str, ...]

    def lets_through(self, prefix: str, suffix: str) -> bool:
        """Whether every key starting with `prefix` and ending with `suffix` passes this filter."""
        return prefix.startswith(self.prefix) and suffix.endswith(self.suffix)

    def overlaps(self, other: Filter) -> bool:
        """OSS refuses two rules of a bucket one of which could deliver what the other does."""
        return (self.prefix.startswith(other.prefix) or other.prefix.startswith(self.prefix)) and \
            (self.suffix.endswith(other.suffix) or other.suffix.endswith(self.suffix))

    def __add__(self, other: Filter) -> Filter:
        """The tightest filter that lets through what either does."""
        suffix = commonprefix([self.suffix[::-1], other.suffix[::-1]])[::-1]
        rules = tuple(sorted({*self.rules, *other.rules}))
        return Filter(commonprefix([self.prefix, other.prefix]), suffix, self.events | other.events, rules)

    def describe(self) -> str:
        return f"prefix {self.prefix!r}, suffix {self.suffix!r}, events {', '.join(_oss_names(self.events))}"


def keys(rules: RuleSet, bucket: str) -> List[Filter]:
    """The tightest filter of each key template whose object landing in `bucket` fires a rule."""
    return [Filter(key.prefix, key.suffix, rule.events, (rule.name,)) for rule in rules.for_source("oss")
            if isinstance(rule, OssRule) and bucket in rule.buckets
            for key in [rule.key] + [entry.key for _, entry in firing(rule, bucket)]]


def derive(rules: RuleSet, bucket: str) -> List[Filter]:
    """The OSS triggers `bucket` needs: one per key, merged where OSS would see them overlap, then (past OSS's
    limit) the pair whose merge keeps the longest prefix and suffix, until none overlaps and the limit holds."""
    filters = sorted(set(keys(rules, bucket)), key=_text)
    while True:
        pairs = list(combinations(filters, 2))
        clash = next(((a, b) for a, b in pairs if a.overlaps(b)), None)
        if clash is None and len(filters) <= OSS_TRIGGERS_PER_BUCKET:
            return filters
        a, b = clash or max(pairs, key=lambda pair: tuple(map(len, _text(pair[0] + pair[1]))))
        filters = sorted([f for f in filters if f not in (a, b)] + [a + b], key=_text)


def _text(f: Filter) -> Tuple[str, str]:
    return f.prefix, f.suffix


def bucket_filter(t) -> Tuple[str, Filter]:
    """An OSS trigger's bucket and filter (`t`: a deploy/wiring.py Trigger)."""
    key = (t.config.get("filter") or {}).get("key") or {}
    return t.arn_tail(":"), Filter(str(key.get("prefix", "")), str(key.get("suffix", "")),
                                   _trigger_events(t.config.get("events") or []), ())


def _wiring(rules: RuleSet, found: Sequence, where: Callable[[RuleSet, str], str]) -> list:
    """The problems between the rules and the oss triggers `found` (deploy/wiring.py's `check`)."""
    have: Dict[str, List[Tuple[Any, Filter]]] = {}
    for t in found:
        bucket, f = bucket_filter(t)
        have.setdefault(bucket, []).append((t, f))
    problems: list = []
    for bucket in sorted({b for r in rules.for_source("oss") for b in r.buckets} | set(have)):
        wanted, present = derive(rules, bucket), have.get(bucket, [])
        for need in wanted:
            if not any(f.lets_through(need.prefix, need.suffix) for _, f in present):
                problems.append((None, f"{where(rules, need.rules[0])}: no trigger in s.yaml feeds its keys in "
                                 f"bucket {bucket} ({', '.join(need.rules)}): add an oss trigger on {bucket} to the "
                                 f"oss function ({need.describe()}), or remove the rule"))
        for t, f in present:
            exact = [w for w in wanted if (w.prefix, w.suffix) == (f.prefix, f.suffix)]
            covered = [w for w in wanted if f.lets_through(w.prefix, w.suffix)]
            if exact and exact[0].events - f.events:
                problems.append((t, f"{t}: rules {', '.join(exact[0].rules)} also take "
                                    f"{', '.join(_oss_names(exact[0].events - f.events))}: subscribe to them too"))
            elif exact and f.events != exact[0].events:
                problems.append((t, f"{t}: no rule it feeds takes "
                                    f"{', '.join(_oss_names(f.events - exact[0].events))}: subscribe to exactly "
                                    f"{', '.join(_oss_names(exact[0].events))}"))
            elif not exact and covered:
                problems.append((t, f"{t}: its filter (prefix {f.prefix!r}, suffix {f.suffix!r}) lets through more "
                                    f"than its rules need: replace it by {len(covered)} trigger(s): "
                                    + "; ".join(f"{w.describe()} for {', '.join(w.rules)}" for w in covered)))
            elif not exact:
                problems.append((t, f"{t} on bucket {bucket} (prefix {f.prefix!r}, suffix {f.suffix!r}) feeds no "
                                    "rule in rules.yaml: remove the trigger, or add a rule for the objects it "
                                    "delivers"))
    return problems


class OssSource(Source):
    name, rule, schema = "oss", OssRule, Oss
    shapes = {"oss-native": "an OSS trigger event", "oss-eventbridge": "an OSS event from EventBridge"}
    expected = 'an OSS event ({"events": [...]} or a CloudEvent from acs.oss)'

    def shape(self, doc: dict) -> Optional[str]:
        if "specversion" in doc:
            return "oss-eventbridge" if doc.get("source") == "acs.oss" else None
        return "oss-native" if isinstance(doc.get("events"), list) else None

    def parse(self, doc: object, text: str, received_at: datetime, stream_topic: Optional[str]) -> Iterable[Parsed]:
        return _parse_oss(doc)

    def build(self, spec: Oss, problem) -> Optional[dict]:
        return _build(spec, problem)

    def check_expect(self, fields: Optional[dict], problem) -> None:
        """Its evidence is its files for the date: its key must name the business date (and not an hour: one
        evidence per date), and its events must leave the object behind."""
        key = (fields or {}).get("key")
        if key is not None and ("bizdate" not in key.names or "cycle" in key.names):
            problem("expect", "needs a key that captures {bizdate} and not {cycle}: the sweep looks for the files of "
                              "each business date")
        removals = sorted({name.partition(":")[0] for name in (fields or {}).get("events", ())
                           if not name.startswith(_LEAVES)})
        if removals:
            problem("expect", f"cannot check a rule released by {' or '.join(removals)} events: the sweep's evidence "
                              "is that the key exists, which a removal does not leave behind (drop `expect`, or take "
                              "ObjectCreated events)")

    def check(self, rule: OssRule, event: Event) -> Tuple[Optional[Captures], Any]:
        return _check(rule, event)

    def lookup(self, rules: Sequence[OssRule], rank: Callable[[Rule], int]) -> Callable[[Event], List[Rule]]:
        """By bucket and the literal prefix of each key that fires a rule."""
        prefixes: Dict[str, _Prefixes] = defaultdict(_Prefixes)
        for rule in rules:
            for bucket in rule.buckets:
                for key in [rule.key] + [entry.key for _, entry in firing(rule, bucket)]:
                    prefixes[bucket].add(key, rule)

        def candidates(event: Event) -> List[Rule]:
            table = prefixes.get(event.bucket or "")
            found = table.under(event.key or "") if table else []
            return sorted(found, key=rank) if len(found) > 1 else found
        return candidates

    def files(self, rule: OssRule, bucket: Optional[str]) -> Tuple[Tuple[Required, ...], Optional[str]]:
        return (Required(None, rule.key),) + rule.require, bucket

    def complete(self, store, rule: OssRule, schedule, deadline) -> Tuple[Optional[list], str]:
        """Keys its template matches for the date (the first CANDIDATES of each bucket), each with the `require`
        entries its own captures name, until one set is complete (the key found first, as a literal)."""
        from ..evidence import files
        from ..oss import Wanted

        gaps = []
        for bucket in rule.buckets:
            pattern = rule.key.partial(written(rule, schedule), loose=True)
            keys = store.find(bucket, pattern, deadline, CANDIDATES)
            if not keys and pattern.is_literal:       # the date names every file: say all that is missing
                others = files(rule, rule.key.match(pattern.prefix) or {}, schedule, bucket)[1:]
                gaps.append("missing " + ", ".join(map(str, [Wanted(bucket, pattern)]
                                                         + store.missing(others, deadline))))
            elif not keys:
                gaps.append(f"missing {Wanted(bucket, pattern)}")
            for key in keys:
                captures = rule.key.match(key) or {}
                wanted = [w for w in files(rule, captures, schedule, bucket)
                          if (w.bucket, w.key.source) != (bucket, key)]
                missing = store.missing(wanted, deadline)
                if not missing:
                    return [Wanted(bucket, Template(key, (key,)))] + wanted, ""
                if len(gaps) < 3:
                    gaps.append(f"oss://{bucket}/{key} is there, missing " + ", ".join(map(str, missing)))
        return None, "; ".join(gaps)

    def decision_fields(self, rule: OssRule, schedule) -> Dict[str, Any]:
        return {"bucket": rule.buckets[0], "key": rule.key.partial(written(rule, schedule), loose=True).source}

    released_by = "the event of the last to land releases it"

    def summary(self, rule: OssRule) -> str:
        buckets = rule.buckets[0] if len(rule.buckets) == 1 else "{" + ",".join(rule.buckets) + "}"
        return f"oss://{buckets}/{rule.key.source}"

    def listed(self, rule: OssRule) -> Dict[str, Any]:
        return {"buckets": list(rule.buckets), "key": rule.key.source, "events": sorted(rule.events)}

    def files_dated(self, rule: OssRule) -> bool:
        return bool({"bizdate", "cycle"} & set(rule.key.names))

    def created(self, event: Event) -> Optional[Tuple[str, str]]:
        return (event.bucket, event.key) if event.event_name.startswith("ObjectCreated:") else None

    trigger_kinds = ("oss",)

    def feeds(self, t, rule: OssRule, s: dict) -> bool:
        """Its keys in the trigger's bucket."""
        bucket, f = bucket_filter(t)
        return bucket in rule.buckets and any(
            f.lets_through(key.prefix, key.suffix) for key in [rule.key] + [e.key for _, e in firing(rule, bucket)])

    def wiring(self, rules, s: dict, found: Dict[str, list], where) -> list:
        return _wiring(rules, found["oss"], where)

    def explained(self):
        return {"bucket": (("key", "event_name"), "key", lambda options, when: oss_event(
            options["bucket"], options["key"], options["event_name"] or "ObjectCreated:PutObject", when))}

    def explain_options(self) -> list:
        import click

        return [click.option("--bucket", metavar="BUCKET", help="Build an OSS event: the bucket (with --key)."),
                click.option("--key", metavar="KEY", help="The object key of the OSS event."),
                click.option("--event-name", metavar="NAME",
                             help="The OSS event's name.  [default: ObjectCreated:PutObject]")]

    def never(self, rule: OssRule) -> Iterable[Tuple[str, str]]:
        for bucket in rule.buckets:
            if not _bucket_ok(bucket):
                yield "bucket", f"{bucket!r} is not a valid OSS bucket name (3-63 lowercase letters, digits, '-'): " \
                                "this rule can never match"
        if rule.key.source.startswith("/"):
            yield "key", "OSS object keys never start with '/': this rule can never match"
        # A template's example is never longer than its text (each part writes at most what it is written with):
        # only a long text needs its example made.
        if len(rule.key.source.encode()) > MAX_KEY_BYTES and len(rule.key.example().encode()) > MAX_KEY_BYTES:
            yield "key", f"every key it matches is longer than OSS's {MAX_KEY_BYTES} bytes: it can never match"

    def templates(self, rule: OssRule) -> List[Tuple[str, Template]]:
        return [("key", rule.key)]

    def keyed(self, rule: OssRule) -> Tuple[Template, Tuple[str, ...], FrozenSet[str]]:
        return rule.key, rule.buckets, rule.events

    def overlap(self, a: OssRule, b: OssRule, example: Callable[[Template], str]) -> str:
        shared = sorted(set(a.buckets) & set(b.buckets))
        for x, y in ((a, b), (b, a)):
            key = example(x.key)
            if shared and a.events & b.events and y.key.match(key) is not None:
                return f"key '{key}' in bucket {shared[0]!r} matches both"
        return ""


SOURCE = OssSource()
