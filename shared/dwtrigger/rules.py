"""The rules file -> typed, validated rules, once per FC instance.

Everything a rule says is checked here (schema, time zone, templates, patterns, cross-field rules), so the
relay never re-checks. Problems are collected per rule and reported all at once, each naming the file, line,
rule and field.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Dict, FrozenSet, List, Literal, Optional, Set, Tuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from .dataworks import API_2020, APIS
from .patterns import Pattern, PatternError, compile_pattern
from .templates import Template, TemplateError, compile_template

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
_CHOICES = {"on": "oss, mns, timer", "env": "PROD, DEV"}


# ---- the file as written (msgspec checks types and unknown keys) -------------------------------------

class _Settings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    timezone: Optional[str] = None
    region: Optional[str] = None
    endpoint: Optional[str] = None
    api: Optional[str] = None
    env: Optional[Literal["PROD", "DEV"]] = None
    role_arn: Optional[str] = None


class _Target(msgspec.Struct, forbid_unknown_fields=True):
    workspace: int
    node: int
    at: Optional[str] = None
    lookup: bool = True


class _FieldSpec(msgspec.Struct, forbid_unknown_fields=True):
    field: str
    format: str


class _Rule(_Settings, forbid_unknown_fields=True, kw_only=True):
    name: str
    on: Literal["oss", "mns", "timer"]
    trigger: List[_Target]
    bucket: Union[str, List[str], None] = None
    key: Optional[str] = None
    events: Optional[List[str]] = None
    require: Optional[List[str]] = None
    topic: Optional[str] = None
    queue: Optional[str] = None
    message: Optional[Dict[str, Any]] = None
    attributes: Optional[Dict[str, Any]] = None
    bizdate: Optional[_FieldSpec] = None
    cycle: Optional[_FieldSpec] = None
    timer: Optional[str] = None


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
class Rule:
    name: str
    on: str
    timezone: ZoneInfo
    region: Optional[str]
    endpoint: Optional[str]
    api: str
    env: str
    role_arn: Optional[str]
    trigger: Tuple[Target, ...]
    buckets: Tuple[str, ...] = ()
    key: Optional[Template] = None
    events: FrozenSet[str] = frozenset()   # OSS event names, "Family:*" already expanded
    topic: Optional[str] = None
    queue: Optional[str] = None
    message: Optional[Pattern] = None
    attributes: Optional[Pattern] = None
    date_field: Optional[FieldSpec] = None
    timer: Optional[str] = None
    line: Optional[int] = None          # where the rule starts in the file, for messages


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


# ---- YAML: 1.1 quirks off, bounded, line numbers kept --------------------------------------------------

# Real rules files nest fewer than 10 levels; 64 keeps every later walk far from Python's recursion limit.
_MAX_DEPTH = 64
# Counted expanded (a node counts each time an alias repeats it): everything after composing walks the
# expansion. An ordinary rule is 20-60 nodes (keys count), so 10,000 rules need at most 600,000, while a bomb
# needs billions. Validating 1,000,000 nodes takes 2-10 s (patterns compile slowest), never hours.
_MAX_NODES = 1_000_000


class _Refused(Exception):
    """A document the loader will not build, refused at one line."""

    def __init__(self, mark: yaml.Mark, message: str):
        super().__init__(message)
        self.line, self.message = mark.line + 1, message


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprises: `on:` stays a string key (not True), `00:30` stays a string
    (not the base-60 integer 30). Composing refuses what would hang or crash every later walk of the data:
    deep nesting, recursive aliases and alias bombs. Each node's expanded size and height are summed from its
    children once, so the checks are linear in the file, not in what its aliases expand to."""

    def __init__(self, text: str):
        super().__init__(text)
        self._open: List[List[int]] = []                  # [expanded size, height] of each node being composed
        self._anchored: Dict[str, Tuple[int, int]] = {}   # the same, of each finished anchored node

    def compose_node(self, parent: Optional[yaml.Node], index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            return self._alias(parent, index, event)
        if len(self._open) == _MAX_DEPTH:
            raise _Refused(event.start_mark, f"YAML nested deeper than {_MAX_DEPTH} levels")
        self._open.append([1, 1])
        node = super().compose_node(parent, index)
        size, height = self._open.pop()
        if size > _MAX_NODES:
            raise _Refused(node.start_mark, f"YAML aliases expand this document past {_MAX_NODES:,} nodes "
                                            "(an alias bomb?)")
        if event.anchor is not None:
            self._anchored[event.anchor] = (size, height)
        self._count(size, height)
        return node

    def _alias(self, parent: Optional[yaml.Node], index: Any, event: yaml.AliasEvent) -> yaml.Node:
        if event.anchor in self.anchors and event.anchor not in self._anchored:
            raise _Refused(event.start_mark, f"YAML alias *{event.anchor} is used inside its own anchor "
                                             "(a recursive alias)")
        node = super().compose_node(parent, index)   # refuses an undefined alias
        size, height = self._anchored[event.anchor]
        if len(self._open) + height > _MAX_DEPTH:
            raise _Refused(event.start_mark, f"YAML aliases nest this document deeper than {_MAX_DEPTH} levels")
        self._count(size, height)
        return node

    def _count(self, size: int, height: int) -> None:
        """Add a finished child to the node that contains it."""
        if self._open:
            parent = self._open[-1]
            parent[0] += size
            parent[1] = max(parent[1], height + 1)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"),
                              list("-+0123456789"))


def _parse(text: str, path: str) -> Tuple[Optional[yaml.Node], Any]:
    """The document's node graph (for line numbers) and the data constructed from it, parsed once."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    except _Refused as e:
        raise RulesError([Problem(path, e.line, None, None, e.message)]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RulesError([Problem(path, mark.line + 1 if mark else None, None, None,
                                  f"not valid YAML: {getattr(e, 'problem', None) or e}")]) from None
    finally:
        loader.dispose()


def _lines(root: Optional[yaml.Node]) -> Dict[Tuple, int]:
    """Map each path (keys and list indexes) to its 1-based line in the file. A node that aliases repeat is
    walked once, where its anchor is: inside an alias a path falls back to the line that uses the alias."""
    out: Dict[Tuple, int] = {}
    walked: Set[int] = set()

    def walk(node: yaml.Node, path: Tuple) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if id(node) in walked:
            return
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                out[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    if root is not None:
        walk(root, ())
    return out


# ---- loading ------------------------------------------------------------------------------------------

def load_rules(path: str) -> RuleSet:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise RulesError([Problem(path, None, None, None, f"cannot read the rules file: {e.strerror}")]) from None
    return parse_rules(text, path)


def parse_rules(text: str, path: str = "<rules>") -> RuleSet:
    node, data = _parse(text, path)
    checker = _Checker(path, _lines(node))
    rules = checker.check_file(data)
    if checker.problems:
        raise RulesError(checker.problems)
    return RuleSet(tuple(rules), path)


class _Checker:
    """Collects every problem in the file instead of stopping at the first."""

    def __init__(self, path: str, lines: Dict[Tuple, int]):
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
        rules, seen = [], set()
        for i, raw in enumerate(raw_rules):
            rule = self._rule(i, raw, defaults)
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

    def _rule(self, i: int, raw: Any, defaults: Dict[str, Any]) -> Optional[Rule]:
        at = ("rules", i)
        name = raw.get("name") if isinstance(raw, dict) else None
        label = name if isinstance(name, str) else f"#{i + 1}"
        if not isinstance(raw, dict):
            self.add(at, label, None, "a rule must be a mapping")
            return None
        try:
            spec = msgspec.convert({**defaults, **raw}, _Rule)
        except msgspec.ValidationError as e:
            field, message = _split_error(e)
            self.add(at + _path(field), label, field or None, message)
            return None
        before = len(self.problems)
        rule = _build(spec, lambda field, message: self.add(at + _path(field), label, field, message),
                      self.lines.get(at))
        return rule if len(self.problems) == before else None


def _split_error(e: msgspec.ValidationError) -> Tuple[str, str]:
    """'Expected `int`, got `str` - at `$.trigger[0].node`' -> ('trigger[0].node', 'expected `int`, got `str`')."""
    text = str(e)
    message, _, where = text.partition(" - at `")
    field = where.rstrip("`").lstrip("$").lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.+)`", message)
    if unknown:
        field = f"{field}.{unknown.group(1)}" if field else unknown.group(1)
        message = "unknown key"
    if message.startswith("Invalid enum value") and field in _CHOICES:
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


def _build(spec: _Rule, problem, line: Optional[int]) -> Optional[Rule]:
    """Cross-field checks and compilation; reports through `problem(field, message)`."""
    if not _NAME.match(spec.name):
        problem("name", "must be 1-64 letters, digits, '-' or '_'")
    zone = _zone(spec.timezone, problem)
    if spec.api not in (None, *APIS):
        problem("api", f"must be one of {', '.join(repr(a) for a in APIS)} (2020-05-18: legacy DataStudio, "
                       "RunTriggerNode; 2024-05-18: new Data Studio, TriggerSchedulerTaskInstance), quoted")
    if not spec.region and not spec.endpoint:
        problem("region", "required (or set endpoint): the DataWorks region, e.g. cn-shanghai")
    if spec.endpoint and not _ENDPOINT.match(spec.endpoint):
        problem("endpoint", "must be host[:port] without a scheme, e.g. dataworks-vpc.cn-shanghai.aliyuncs.com")
    if spec.role_arn and not _ROLE_ARN.match(spec.role_arn):
        problem("role_arn", "must look like acs:ram::<account-id>:role/<role-name>")
    if spec.require is not None:
        problem("require", "`require` gating is not supported yet: remove it (the rule would otherwise fire "
                           "without checking the other objects)")
    if not spec.trigger:
        problem("trigger", "must list at least one {workspace, node}")
    source = {"oss": _oss, "mns": _mns, "timer": _timer}[spec.on](spec, problem)
    knows_cycle = bool(source) and (bool(source.get("key") and "cycle" in source["key"].names)
                                    or bool(source.get("date_field") and source["date_field"].is_cycle))
    targets = tuple(_target(i, t, problem, knows_cycle) for i, t in enumerate(spec.trigger))
    if zone is None or source is None:
        return None
    return Rule(name=spec.name, on=spec.on, timezone=zone, region=spec.region, endpoint=spec.endpoint,
                api=spec.api or API_2020, env=spec.env or "PROD", role_arn=spec.role_arn, trigger=targets, line=line,
                **source)


def _zone(name: Optional[str], problem) -> Optional[ZoneInfo]:
    if not name:
        problem("timezone", "required: the workspace's scheduling time zone (IANA name, e.g. Asia/Shanghai)")
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problem("timezone", f"unknown time zone {name!r} (use an IANA name, e.g. Asia/Shanghai)")
        return None


def _unused(spec: _Rule, problem, names: Tuple[str, ...]) -> None:
    for name in names:
        if getattr(spec, name) is not None:
            problem(name, f"not used by `on: {spec.on}` rules")


def _oss(spec: _Rule, problem) -> Optional[dict]:
    _unused(spec, problem, ("topic", "queue", "message", "attributes", "bizdate", "cycle", "timer"))
    buckets = (spec.bucket,) if isinstance(spec.bucket, str) else tuple(spec.bucket or ())
    if not buckets or not all(buckets):
        problem("bucket", "required: a bucket name or a list of names")
    key = None
    if not spec.key:
        problem("key", "required: a key template, e.g. \"exports/dt={bizdate:%Y-%m-%d}/_SUCCESS\"")
    else:
        try:
            key = compile_template(spec.key)
        except TemplateError as e:
            problem("key", str(e))
    events = set()
    for i, name in enumerate(spec.events if spec.events is not None else ["ObjectCreated:*"]):
        family, _, action = name.partition(":")
        if family not in OSS_EVENT_NAMES or (action != "*" and action not in OSS_EVENT_NAMES[family]):
            problem(f"events[{i}]", f"unknown OSS event {name!r} (e.g. ObjectCreated:* or ObjectCreated:PutObject; "
                                    "no 'oss:' prefix)")
        elif action == "*":
            events.update(f"{family}:{a}" for a in OSS_EVENT_NAMES[family] if a not in _IN_PROGRESS)
        else:
            events.add(name)
    return dict(buckets=buckets, key=key, events=frozenset(events)) if key and buckets else None


def _mns(spec: _Rule, problem) -> Optional[dict]:
    _unused(spec, problem, ("bucket", "key", "events", "timer"))
    if bool(spec.topic) == bool(spec.queue):
        problem("topic", "set exactly one of `topic` (topic trigger) or `queue` (queue via EventBridge)")
    patterns = {}
    for field in ("message", "attributes"):
        raw = getattr(spec, field)
        if raw is not None:
            try:
                patterns[field] = compile_pattern(raw)
            except PatternError as e:
                where = str(e).partition(": ")[0]
                problem(field if where == "(root)" else f"{field}.{where}", str(e))
    date_field = _date_field(spec, problem)
    return dict(topic=spec.topic, queue=spec.queue, date_field=date_field, **patterns)


def _timer(spec: _Rule, problem) -> Optional[dict]:
    _unused(spec, problem, ("bucket", "key", "events", "topic", "queue", "message", "attributes"))
    if not spec.timer:
        problem("timer", "required: the timer trigger's triggerName")
    return dict(timer=spec.timer, date_field=_date_field(spec, problem))


def _date_field(spec: _Rule, problem) -> Optional[FieldSpec]:
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
        m = _HHMM.match(raw.at)
        if m:
            at = time(int(m.group(1)), int(m.group(2)))
        else:
            problem(f"trigger[{i}].at", f"must be HH:MM (24-hour), got {raw.at!r}")
    for field in ("workspace", "node"):
        if getattr(raw, field) <= 0:
            problem(f"trigger[{i}].{field}", "must be a positive id")
    if not raw.lookup and at is None and not knows_cycle:
        problem(f"trigger[{i}].lookup", "`lookup: false` needs `at` or a {cycle} capture/field: without a "
                                        "look-up the scheduled time must be known")
    return Target(raw.workspace, raw.node, at, raw.lookup)
