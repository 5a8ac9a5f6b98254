"""The rules file -> typed, validated rules, once per FC instance.

Everything a rule says is checked here (schema, time zone, templates, patterns, cross-field rules), so the
relay never re-checks. Problems are collected per rule and reported all at once, each naming the file, line,
rule and field.
"""
from __future__ import annotations

import dataclasses
import gc
import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Dict, FrozenSet, List, Literal, Optional, Set, Tuple, Union, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from .dataworks import API_2020, APIS
from .patterns import Pattern, PatternError, compile_pattern
from .templates import Template, TemplateError, compile_template
from .yamldoc import Lines, Refused, compose

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
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])\Z")
_ROLE_ARN = re.compile(r"acs:ram::[0-9]+:role/[A-Za-z0-9._@-]+\Z")
_ENDPOINT = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?\Z")
_DATE_DIRECTIVES = re.compile(r"%[^YmdHMS%]")
# Each `require` entry is an OSS call (a look or a listing) on every event the rule takes, inside that
# invocation's deadline: a bound keeps one event's checks quick and its OSS request count predictable.
MAX_REQUIRE = 20


# ---- the file as written (msgspec checks types and unknown keys) -------------------------------------

class _Settings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    timezone: Optional[str] = None
    region: Optional[str] = None
    endpoint: Optional[str] = None
    api: Optional[str] = None
    env: Optional[Literal["PROD", "DEV"]] = None
    role_arn: Optional[str] = None
    ledger: Optional[str] = None


class _Expect(msgspec.Struct, forbid_unknown_fields=True):
    by: str
    days: int = 3


class _Target(msgspec.Struct, forbid_unknown_fields=True):
    workspace: int
    node: int
    at: Optional[str] = None
    lookup: bool = True


class _FieldSpec(msgspec.Struct, forbid_unknown_fields=True):
    field: str
    format: str


class _Source(_Settings, forbid_unknown_fields=True, kw_only=True, tag_field="on"):
    """What every rule says; each source below adds only its own fields, so a field on the wrong source is an
    unknown field of that source's struct."""
    name: str
    trigger: List[_Target]
    expect: Optional[_Expect] = None


class _Oss(_Source, tag="oss"):
    bucket: Union[str, List[str], None] = None
    key: Optional[str] = None
    events: Optional[List[str]] = None
    require: Optional[List[str]] = None


class _Mns(_Source, tag="mns"):
    topic: Optional[str] = None
    queue: Optional[str] = None
    message: Optional[Dict[str, Any]] = None
    attributes: Optional[Dict[str, Any]] = None
    bizdate: Optional[_FieldSpec] = None
    cycle: Optional[_FieldSpec] = None


class _Timer(_Source, tag="timer"):
    timer: Optional[str] = None
    bizdate: Optional[_FieldSpec] = None
    cycle: Optional[_FieldSpec] = None
    bucket: Optional[str] = None            # where `require` entries without oss:// are
    require: Optional[List[str]] = None


_RULE = Union[_Oss, _Mns, _Timer]
_SOURCES = {struct.__struct_config__.tag: struct for struct in get_args(_RULE)}
_SOURCE_FIELDS = frozenset().union(*(struct.__struct_fields__ for struct in _SOURCES.values()))
_CHOICES = {"on": ", ".join(_SOURCES), "env": "PROD, DEV"}


# ---- what the rest of the package uses ---------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    workspace: int
    node: int
    at: Optional[time]
    lookup: bool


@dataclass(frozen=True)
class FieldSpec:
    """A business date or cycle time read from a JSON message/payload field (dotted path)."""
    path: Tuple[str, ...]
    format: str
    is_cycle: bool


@dataclass(frozen=True)
class Required:
    """A `require` entry: `key` is filled from the event (`Template.partial`); bucket None is the event's bucket
    (OSS rules) or the rule's `bucket` (timer rules)."""
    bucket: Optional[str]
    key: Template


@dataclass(frozen=True)
class Ledger:
    """Where the relay remembers what it sent: objects under `prefix` (ends in '/' or is empty) in `bucket`."""
    bucket: str
    prefix: str

    def __str__(self) -> str:
        return f"oss://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class Expect:
    """The sweep re-checks the rule's last `days` business dates; a date with no evidence by `by` (local time on
    the day after it) is overdue."""
    by: time
    days: int


@dataclass(frozen=True, kw_only=True)
class Rule:
    """What every rule has; OssRule, MnsRule and TimerRule add their source's fields (and fix `on`)."""
    name: str
    on: str
    timezone: ZoneInfo
    region: Optional[str]
    endpoint: Optional[str]
    api: str
    env: str
    role_arn: Optional[str]
    trigger: Tuple[Target, ...]
    ledger: Optional[Ledger] = None
    expect: Optional[Expect] = None
    line: Optional[int] = None          # where the rule starts in the file, for messages


@dataclass(frozen=True, kw_only=True)
class OssRule(Rule):
    on: str = dataclasses.field(default="oss", init=False)
    buckets: Tuple[str, ...]
    key: Template
    events: FrozenSet[str]              # OSS event names, "Family:*" already expanded
    require: Tuple[Required, ...]


@dataclass(frozen=True, kw_only=True)
class MnsRule(Rule):
    on: str = dataclasses.field(default="mns", init=False)
    topic: Optional[str]
    queue: Optional[str]
    message: Optional[Pattern]
    attributes: Optional[Pattern]
    date_field: Optional[FieldSpec]


@dataclass(frozen=True, kw_only=True)
class TimerRule(Rule):
    on: str = dataclasses.field(default="timer", init=False)
    timer: str
    date_field: Optional[FieldSpec]
    bucket: Optional[str]               # where `require` entries without oss:// are
    require: Tuple[Required, ...]


@dataclass(frozen=True)
class RuleSet:
    rules: Tuple[Rule, ...]
    path: str

    def for_source(self, source: str) -> Tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.on == source)

    def named(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise LookupError(f"no rule named {name!r} in {self.path}")


@dataclass(frozen=True)
class Problem:
    file: str
    line: Optional[int]
    rule: Optional[str]
    field: Optional[str]
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" rule '{self.rule}'" if self.rule else ""
        what = f" field '{self.field}'" if self.field else ""
        return f"{where}:{who}{what}: {self.message}" if who or what else f"{where}: {self.message}"


class RulesError(Exception):
    def __init__(self, problems: List[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---- YAML (yamldoc.py) -----------------------------------------------------------------------------

def _parse(text: str, path: str) -> Tuple[Any, Lines]:
    """The document's data and the line of each path in it, parsed once (yamldoc.py)."""
    try:
        return compose(text)
    except Refused as e:
        raise RulesError([Problem(path, e.line, None, None, e.message)]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RulesError([Problem(path, mark.line + 1 if mark else None, None, None,
                                  f"not valid YAML: {getattr(e, 'problem', None) or e}")]) from None


# ---- loading ------------------------------------------------------------------------------------------

def load_rules(path: str) -> RuleSet:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise RulesError([Problem(path, None, None, None, f"cannot read the rules file: {e.strerror}")]) from None
    return parse_rules(text, path)


def parse_rules(text: str, path: str = "<rules>") -> RuleSet:
    # Loading makes a few objects per node and frees none until it is done: the cyclic GC, left on, would walk
    # them again and again (once, most of the time a large file took). So it waits until they are built and
    # the file's data (plain trees, freed by reference counting) is gone.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load(text, path)
    finally:
        if collecting:
            gc.enable()


def _load(text: str, path: str) -> RuleSet:
    data, lines = _parse(text, path)
    checker = _Checker(path, lines)
    rules = checker.check_file(data)
    if checker.problems:
        raise RulesError(checker.problems)
    return RuleSet(tuple(rules), path)


class _Checker:
    """Collects every problem in the file instead of stopping at the first."""

    def __init__(self, path: str, lines: Lines):
        self.path, self.lines, self.problems = path, lines, []

    def add(self, at: Tuple, rule: Optional[str], field: Optional[str], message: str) -> None:
        while at and at not in self.lines:
            at = at[:-1]
        self.problems.append(Problem(self.path, self.lines.get(at), rule, field, message))

    def check_file(self, data: Any) -> List[Rule]:
        if not isinstance(data, dict):
            self.add((), None, None, "the rules file must be a mapping with `version` and `rules`")
            return []
        for extra in sorted(set(data) - {"version", "defaults", "rules"}, key=str):
            self.add((extra,), None, str(extra), "unknown key (expected version, defaults, rules)")
        if data.get("version") != 1:
            self.add(("version",), None, "version", f"must be 1, got {data.get('version')!r}")
        defaults = self._defaults(data.get("defaults") or {})
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            self.add(("rules",), None, "rules", "must be a non-empty list of rules")
            return []
        specs = _convert_all(raw_rules, defaults)
        rules, seen = [], set()
        for i, raw in enumerate(raw_rules):
            rule = self._rule(i, raw, defaults, specs[i] if specs else None)
            name = raw.get("name") if isinstance(raw, dict) else None
            if isinstance(name, str) and name in seen:
                self.add(("rules", i, "name"), name, "name", "duplicate rule name")
            seen.add(name)
            if rule is not None:
                rules.append(rule)
        return rules

    def _defaults(self, raw: Any) -> Dict[str, Any]:
        try:
            return msgspec.to_builtins(msgspec.convert(raw, _Settings))
        except msgspec.ValidationError as e:
            field, message = _split_error(e)
            self.add(("defaults",) + _path(field), None, f"defaults.{field}" if field else "defaults", message)
            return {}

    def _rule(self, i: int, raw: Any, defaults: Dict[str, Any], spec: Optional[_Source]) -> Optional[Rule]:
        at = ("rules", i)
        name = raw.get("name") if isinstance(raw, dict) else None
        label = name if isinstance(name, str) else f"#{i + 1}"
        if not isinstance(raw, dict):
            self.add(at, label, None, "a rule must be a mapping")
            return None
        try:
            if spec is None:
                spec = msgspec.convert({**defaults, **raw}, _RULE)
        except msgspec.ValidationError as e:
            field, message = _split_error(e)
            if message == "unknown key" and field in _SOURCE_FIELDS:
                for name in _misplaced(raw):
                    self.add(at + (name,), label, name, f"not used by `on: {raw['on']}` rules")
            else:
                self.add(at + _path(field), label, field or None, message)
            return None
        before = len(self.problems)
        rule = _build(spec, lambda field, message: self.add(at + _path(field), label, field, message),
                      self.lines.get(at))
        return rule if len(self.problems) == before else None


def _convert_all(raw_rules: List[Any], defaults: Dict[str, Any]) -> Optional[List[_Source]]:
    """Every rule as written, converted in one call (a third of the time of one call each), or None if any is
    not a mapping or does not convert: then each is converted alone, for its own problems."""
    if not all(isinstance(raw, dict) for raw in raw_rules):
        return None
    try:
        return msgspec.convert([{**defaults, **raw} for raw in raw_rules], List[_RULE])
    except msgspec.ValidationError:
        return None


def _misplaced(raw: dict) -> List[str]:
    """The keys of a rule that only other sources' rules take (msgspec names just the first)."""
    own = _SOURCES[raw["on"]].__struct_fields__
    return [key for key in raw if key in _SOURCE_FIELDS and key not in own]


def _split_error(e: msgspec.ValidationError) -> Tuple[str, str]:
    """'Expected `int`, got `str` - at `$.trigger[0].node`' -> ('trigger[0].node', 'expected `int`, got `str`')."""
    text = str(e)
    message, _, where = text.partition(" - at `")
    field = where.rstrip("`").lstrip("$").lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.+)`", message)
    if unknown:
        field = f"{field}.{unknown.group(1)}" if field else unknown.group(1)
        message = "unknown key"
    if message.startswith(("Invalid enum value", "Invalid value")) and field in _CHOICES:
        message = f"{message}: expected one of {_CHOICES[field]}"
    missing = re.match(r"Object missing required field `(.+)`", message)
    if missing:
        field = f"{field}.{missing.group(1)}" if field else missing.group(1)
        message = "required"
    return field, message[:1].lower() + message[1:]


def _path(field: str) -> Tuple:
    out: List[Any] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field or ""):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


_API_CHOICES = (None, *APIS)


def _build(spec: _Source, problem, line: Optional[int]) -> Optional[Rule]:
    """Cross-field checks and compilation; reports through `problem(field, message)`."""
    if not _NAME.match(spec.name):
        problem("name", "must be 1-64 letters, digits, '-' or '_'")
    zone = _zone(spec.timezone, problem)
    if spec.api not in _API_CHOICES:
        problem("api", f"must be one of {', '.join(repr(a) for a in APIS)} (2020-05-18: legacy DataStudio, "
                       "RunTriggerNode; 2024-05-18: new Data Studio, TriggerSchedulerTaskInstance), quoted")
    if not spec.region and not spec.endpoint:
        problem("region", "required (or set endpoint): the DataWorks region, e.g. cn-shanghai")
    elif not spec.region and getattr(spec, "require", None):
        problem("region", "required with `require`: the region of the buckets it checks (OSS signs for it)")
    if spec.endpoint and not _ENDPOINT.match(spec.endpoint):
        problem("endpoint", "must be host[:port] without a scheme, e.g. dataworks-vpc.cn-shanghai.aliyuncs.com")
    if spec.role_arn and not _ROLE_ARN.match(spec.role_arn):
        problem("role_arn", "must look like acs:ram::<account-id>:role/<role-name>")
    if not spec.trigger:
        problem("trigger", "must list at least one {workspace, node}")
    ledger = _ledger(spec.ledger, problem)
    if ledger and not spec.region:
        problem("region", "required with `ledger`: the region of its bucket (OSS signs for it)")
    kind, source = _BUILDERS[type(spec)]
    fields = source(spec, problem)
    knows_cycle = _knows_cycle(fields or {})
    targets = tuple(_target(i, t, problem, knows_cycle) for i, t in enumerate(spec.trigger))
    expect = _expect(spec, fields, ledger, targets, problem)
    if zone is None or fields is None:
        return None
    return kind(name=spec.name, timezone=zone, region=spec.region, endpoint=spec.endpoint, api=spec.api or API_2020,
                env=spec.env or "PROD", role_arn=spec.role_arn, trigger=targets, ledger=ledger, expect=expect,
                line=line, **fields)


# What a rule's parts compile to, by their text: many rules share them (a ledger, a time zone, a list of events,
# a `require` entry). Only what compiled without a problem, and only so many, so a long-lived process that loads
# many files stays small. Every value is immutable.
_MEMO_SIZE = 4096


def _remember(memo: Dict[Any, Any], key: Any, value: Any) -> Any:
    if len(memo) < _MEMO_SIZE:
        memo[key] = value
    return value


_LEDGERS: Dict[str, Ledger] = {}
_ZONES: Dict[str, ZoneInfo] = {}
_EVENT_SETS: Dict[Optional[Tuple[str, ...]], FrozenSet[str]] = {}
_TIMES: Dict[str, time] = {}
_TEMPLATES: Dict[str, Template] = {}


def _template(text: str) -> Template:
    found = _TEMPLATES.get(text)
    return found if found is not None else _remember(_TEMPLATES, text, compile_template(text))


_LEDGER = re.compile(r"oss://([a-z0-9][a-z0-9-]{1,61}[a-z0-9])/((?:[^{}*?\s]+/)?)\Z")
MAX_EXPECT_DAYS = 31        # each day is an evidence check per node on every sweep


def _ledger(text: Optional[str], problem) -> Optional[Ledger]:
    if text is None:
        return None
    known = _LEDGERS.get(text)
    if known is not None:
        return known
    found = _LEDGER.match(text)
    if not found:
        problem("ledger", f"must be oss://BUCKET/PREFIX/ (a bucket name, then an optional prefix ending in '/'), "
                          f"got {text!r}")
        return None
    return _remember(_LEDGERS, text, Ledger(found.group(1), found.group(2)))


def _expect(spec: _Source, fields: Optional[dict], ledger: Optional[Ledger], targets: Tuple[Target, ...],
            problem) -> Optional[Expect]:
    """`expect`: what the sweep checks. An OSS rule's evidence is its files for the date, so its key must name the
    business date (and not an hour: one evidence per date); an MNS or timer rule's evidence is the ledger's
    record that an event asked, so it needs a ledger."""
    raw = spec.expect
    if raw is None:
        return None
    found = _HHMM.match(raw.by)
    if not found:
        problem("expect.by", f"must be HH:MM (24-hour, local time on the day after the business date), got {raw.by!r}")
    if not 1 <= raw.days <= MAX_EXPECT_DAYS:
        problem("expect.days", f"must be 1 to {MAX_EXPECT_DAYS} (each day is a check per node on every sweep)")
    key = (fields or {}).get("key")
    if isinstance(spec, _Oss) and key is not None and ("bizdate" not in key.names or "cycle" in key.names):
        problem("expect", "needs a key that captures {bizdate} and not {cycle}: the sweep looks for the files of "
                          "each business date")
    for i, target in enumerate(targets):
        if not target.lookup:
            problem(f"trigger[{i}].lookup", "must not be false with `expect`: the sweep looks an instance up to know "
                                            "whether it still waits (without, it would send on every run)")
    if not isinstance(spec, _Oss) and ledger is None:
        problem("expect", f"needs a `ledger` on `on: {spec.__struct_config__.tag}` rules: the sweep's evidence "
                          "that an event asked for a release is the ledger's record of it")
    return Expect(time(int(found.group(1)), int(found.group(2))), raw.days) if found else None


def _knows_cycle(fields: dict) -> bool:
    """Whether the rule itself names the instance's scheduled time: a {cycle} capture or a `cycle:` field."""
    key, date_field = fields.get("key"), fields.get("date_field")
    return bool(key and "cycle" in key.names) or bool(date_field and date_field.is_cycle)


def _zone(name: Optional[str], problem) -> Optional[ZoneInfo]:
    if not name:
        problem("timezone", "required: the workspace's scheduling time zone (IANA name, e.g. Asia/Shanghai)")
        return None
    known = _ZONES.get(name)
    if known is not None:
        return known
    try:
        return _remember(_ZONES, name, ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError):
        problem("timezone", f"unknown time zone {name!r} (use an IANA name, e.g. Asia/Shanghai)")
        return None


def _oss(spec: _Oss, problem) -> Optional[dict]:
    buckets = (spec.bucket,) if isinstance(spec.bucket, str) else tuple(spec.bucket or ())
    if not buckets or not all(buckets):
        problem("bucket", "required: a bucket name or a list of names")
    key = None
    if not spec.key:
        problem("key", "required: a key template, e.g. \"exports/dt={bizdate:%Y-%m-%d}/_SUCCESS\"")
    else:
        try:
            key = _template(spec.key)
        except TemplateError as e:
            problem("key", str(e))
    events = _events(spec.events, problem)
    if not key or not buckets:
        return None
    own = (key.source, buckets[0] if len(buckets) == 1 else None)
    require = _require(spec.require, problem, {"bizdate", *key.names}, "captured by the key", own)
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
    return _remember(_EVENT_SETS, given, frozenset(events)) if ok else frozenset(events)


def _mns(spec: _Mns, problem) -> dict:
    if bool(spec.topic) == bool(spec.queue):
        problem("topic", "set exactly one of `topic` (topic trigger) or `queue` (queue via EventBridge)")
    patterns = {}
    for field in ("message", "attributes"):
        raw = getattr(spec, field)
        patterns[field] = None
        if raw is not None:
            try:
                patterns[field] = compile_pattern(raw)
            except PatternError as e:
                where = str(e).partition(": ")[0]
                problem(field if where == "(root)" else f"{field}.{where}", str(e))
    return dict(topic=spec.topic, queue=spec.queue, date_field=_date_field(spec, problem), **patterns)


def _timer(spec: _Timer, problem) -> dict:
    if not spec.timer:
        problem("timer", "required: the timer trigger's triggerName")
    date_field = _date_field(spec, problem)
    known = {"bizdate", "cycle"} if spec.cycle else {"bizdate"}
    require = _require(spec.require, problem, known, "known to a timer rule", None)
    here = any(not entry.startswith("oss://") for entry in spec.require or ())
    if here and not spec.bucket:
        problem("bucket", "required with `require`: the bucket the required objects are in (or write each entry "
                          "as oss://BUCKET/KEY)")
    elif spec.bucket is not None and not here:
        problem("bucket", "only names where required objects are, and " + (
            "every `require` entry names its own oss:// bucket" if spec.require else "this rule has no `require`"))
    return dict(timer=spec.timer, date_field=date_field, bucket=spec.bucket, require=require)


_BUILDERS = {_Oss: (OssRule, _oss), _Mns: (MnsRule, _mns), _Timer: (TimerRule, _timer)}


_Own = Optional[Tuple[str, Optional[str]]]


def _require(entries: Optional[List[str]], problem, known: Set[str], where: str, own: _Own) -> Tuple[Required, ...]:
    """The `require` entries, each checked to be fillable from what the rule knows when it fires (`known`).
    `own` is an OSS rule's key and its bucket (None when it has several), which an entry may not repeat."""
    if entries is None:
        return ()
    if not entries:
        problem("require", "must list at least one key template (or leave `require` out)")
    if len(entries) > MAX_REQUIRE:
        problem("require", f"at most {MAX_REQUIRE} entries: each is an OSS call on every event the rule takes")
    found = (_required(f"require[{i}]", entry, problem, known, where, own) for i, entry in enumerate(entries))
    return tuple(r for r in found if r is not None)


def _required(field: str, entry: str, problem, known: Set[str], where: str, own: _Own) -> Optional[Required]:
    """One entry: a key template in the rule's bucket, or oss://BUCKET/KEY-TEMPLATE."""
    bucket, text = None, entry
    if entry.startswith("oss://"):
        bucket, _, text = entry[len("oss://"):].partition("/")
        if not bucket or "{" in bucket or "*" in bucket:
            problem(field, f"the bucket of oss://BUCKET/KEY must be a plain name (no '{{' or '*'), got {bucket!r}")
            return None
    try:
        key = _template(text)
    except TemplateError as e:
        problem(field, str(e) if bucket is None else f"in the key {text!r}: {e}")
        return None
    unknown = [name for name in key.names if name not in known]
    for name in unknown:
        problem(field, f"{{{name}}} is not {where} (require entries may use {', '.join(sorted(known))})")
    if own and text == own[0] and bucket in (None, own[1]):
        problem(field, "repeats the rule's own key: the object that fired the rule is always there")
        return None
    return None if unknown else Required(bucket, key)


def _date_field(spec: Union[_Mns, _Timer], problem) -> Optional[FieldSpec]:
    if spec.bizdate and spec.cycle:
        problem("cycle", "set either `bizdate` or `cycle`, not both")
    chosen = spec.cycle or spec.bizdate
    if chosen is None:
        return None
    name = "cycle" if spec.cycle else "bizdate"
    needed = ("%Y", "%m", "%d", "%H") if spec.cycle else ("%Y", "%m", "%d")
    if _DATE_DIRECTIVES.search(chosen.format) or not all(d in chosen.format for d in needed):
        problem(f"{name}.format", f"must use only %Y %m %d %H %M %S and contain {' '.join(needed)}")
    if not chosen.field or any(not part for part in chosen.field.split(".")):
        problem(f"{name}.field", "required: the (dotted) JSON field holding the value")
    return FieldSpec(tuple(chosen.field.split(".")), chosen.format, is_cycle=bool(spec.cycle))


def _target(i: int, raw: _Target, problem, knows_cycle: bool) -> Target:
    at = None
    if raw.at is not None:
        at = _TIMES.get(raw.at)
        if at is None:
            m = _HHMM.match(raw.at)
            if m:
                at = _remember(_TIMES, raw.at, time(int(m.group(1)), int(m.group(2))))
            else:
                problem(f"trigger[{i}].at", f"must be HH:MM (24-hour), got {raw.at!r}")
    if raw.workspace <= 0:
        problem(f"trigger[{i}].workspace", "must be a positive id")
    if raw.node <= 0:
        problem(f"trigger[{i}].node", "must be a positive id")
    if not raw.lookup and at is None and not knows_cycle:
        problem(f"trigger[{i}].lookup", "`lookup: false` needs `at` or a {cycle} capture/field: without a "
                                        "look-up the scheduled time must be known")
    return Target(raw.workspace, raw.node, at, raw.lookup)
