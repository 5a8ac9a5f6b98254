"""The rules file -> typed, validated rules (rule.py's types), once per FC instance.

Everything a rule says is checked here (the schema as written, in rulefile.py; time zone, templates, patterns,
cross-field rules), so the relay never re-checks. Problems are collected and reported all at once, in file order,
each naming the file, line, rule and field.
"""
from __future__ import annotations

import dataclasses
import gc
import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec
import yaml

from . import rulefile
from .dataworks import API_2020, APIS
from . import sources
from .rule import (INSTANT_FORMATS, Channel, Expect, FieldSpec, Ledger, Notify, Required, Rule, RuleSet, StatusPage,
                   Target)
from .rulefile import did_you_mean
from .templates import Template, TemplateError, compile_template
from .yamldoc import Lines, Unbuildable, compose

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])\Z")
_ROLE_ARN = re.compile(r"acs:ram::[0-9]+:role/[A-Za-z0-9._@-]+\Z")
_ENDPOINT = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?\Z")
_REGION = re.compile(r"[a-z]{2,4}(?:-[a-z0-9]{1,16}){1,4}\Z")    # cn-shanghai, ap-southeast-1, cn-shanghai-finance-1
_DATE_DIRECTIVES = re.compile(r"%[^YmdHMS%]")
ENVS = ("PROD", "DEV")
# Each `require` entry is an OSS call (a look or a listing) on every event the rule takes, inside that
# invocation's deadline: a bound keeps one event's checks quick and its OSS request count predictable.
MAX_REQUIRE = 20
MAX_OFFSET = 366            # days; a bound that catches a date typed where a count of days belongs


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
    except Unbuildable as e:
        raise RulesError([Problem(path, e.line, None, None, e.message)]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        column = _tab(text, mark) if mark else None
        message = f"tab at line {mark.line + 1}, column {column + 1}: YAML indents with spaces" if column is not None \
            else f"not valid YAML: {getattr(e, 'problem', None) or e}"
        raise RulesError([Problem(path, mark.line + 1 if mark else None, None, None, message)]) from None


def _tab(text: str, mark: yaml.Mark) -> Optional[int]:
    """The column of the tab behind a YAML error at `mark` (the tab there, or one in that line's indentation)."""
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    if line[mark.column:mark.column + 1] == "\t":
        return mark.column
    indentation = line[:len(line) - len(line.lstrip(" \t"))]
    return indentation.index("\t") if "\t" in indentation else None


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
    rules, disabled = checker.check_file(data)
    if checker.problems:
        raise RulesError(checker.problems)
    return RuleSet(tuple(rules), path, tuple(disabled), checker.status_page)


class _Checker:
    """Collects every problem in the file instead of stopping at the first: the file's own, then each rule's, each
    group in file order. A bad value is reported once, where it is written: nothing that follows from it (a rule
    inheriting a bad default, a check of a bad value's stand-in) is reported again."""

    def __init__(self, path: str, lines: Lines):
        self.path, self.lines, self.problems = path, lines, []
        self.data: Any = None
        self.places: List[Tuple] = []       # each problem's place in the file: (line, where on it)
        self.unset: Dict[Tuple[str, str], List[Tuple[int, str]]] = {}  # (field, why required): [(rule, label)]
        self.status_page: Optional[StatusPage] = None

    def add(self, at: Tuple, rule: Optional[str], field: Optional[str], message: str) -> None:
        where = _position(self.data, at)
        while at and at not in self.lines:
            at = at[:-1]
        line = self.lines.get(at)
        self.problems.append(Problem(self.path, line, rule, field, message))
        self.places.append((line or 0, where))

    def in_file_order(self, since: int) -> None:
        """The problems added since `since` in the order of what they are about in the file."""
        found = sorted(zip(self.places[since:], self.problems[since:]), key=lambda pair: pair[0])
        self.places[since:], self.problems[since:] = [place for place, _ in found], [p for _, p in found]

    def check_file(self, data: Any) -> Tuple[List[Rule], List[Rule]]:
        """(the rules in play, the disabled ones)."""
        self.data = data
        if not isinstance(data, dict):
            self.add((), None, None, "the rules file must be a mapping with `version` and `rules`")
            return [], []
        for extra in sorted(set(data) - set(_TOP), key=str):
            self.add((extra,), None, str(extra),
                     f"unknown key{did_you_mean(extra, _TOP) or ' (expected version, defaults, rules)'}")
        if data.get("version") != 1:
            self.add(("version",), None, "version", f"must be 1, got {data.get('version')!r}")
        defaults, bad_defaults = self._defaults(data.get("defaults"))
        self.in_file_order(0)
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            self.add(("rules",), None, "rules", "must be a non-empty list of rules")
            return [], []
        specs = _convert_all(raw_rules, defaults)
        rules: Tuple[List[Rule], List[Rule]] = ([], [])
        seen: Dict[str, int] = {}                   # each name, and the first rule with it
        start = len(self.problems)
        for i, raw in enumerate(raw_rules):
            before = len(self.problems)
            built = self._rule(i, raw, defaults, bad_defaults, specs[i] if specs else None)
            name = self._name(i, raw)
            if name is not None and name in seen:
                self.add(("rules", i, "name"), name, "name",
                         f"already the name of the rule at line {self.lines.get(('rules', seen[name]))}")
            seen.setdefault(name, i)
            self.in_file_order(before)
            if built is not None:
                rule, enabled = built
                rules[0 if enabled else 1].append(rule)
        if self.unset:
            self._unset()
            self.in_file_order(start)
        return rules

    def _unset(self) -> None:
        """A setting required and set neither by `defaults` nor by a rule: said at the rule when one rule lacks it,
        else once, at `defaults`, naming the rules."""
        for (field, message), lacking in self.unset.items():
            if len(lacking) == 1:
                i, label = lacking[0]
                self.add(("rules", i, field), label, field, message)
            else:
                self.add(("defaults", field), None, f"defaults.{field}",
                         f"{message}; {len(lacking):,} rules do not set it ({listed([label for _, label in lacking])})"
                         ": set it once in `defaults`, or in each rule")

    def _defaults(self, raw: Any) -> Tuple[Dict[str, Any], FrozenSet[str]]:
        """The defaults that are fine, and the names of those that are not (reported here, once)."""
        if raw is None:
            return {}, frozenset()
        if isinstance(raw, dict) and "status_page" in raw:
            raw = dict(raw)
            self.status_page = self._status_page(raw.pop("status_page"), raw.get("region"))
        bad: Set[str] = set()
        at = ("defaults",)

        def report(path: Tuple, message: Optional[str]) -> None:
            bad.add(path[0] if path else "")
            if message is not None:
                self.add(at + path, None, rulefile.label(at + path), message)

        settings = rulefile.convert_settings(raw, lambda path: self.lines.text(at + path), report)
        if settings is None:                # not a mapping: no rule can tell what it would have inherited
            return {}, frozenset(rulefile.Settings.__struct_fields__)
        _settings(settings, lambda field, message: report(rulefile.parse_path(field), message))
        return {k: v for k, v in msgspec.to_builtins(settings).items() if k not in bad}, frozenset(bad)

    def _name(self, i: int, raw: Any) -> Optional[str]:
        """A rule's name as written (`name: 2024` too), if it has one."""
        name = raw.get("name") if isinstance(raw, dict) else None
        return name if isinstance(name, str) else self.lines.text(("rules", i, "name")) if name is not None else None

    def _status_page(self, text: Any, region: Any) -> Optional[StatusPage]:
        """`defaults.status_page`, checked as a ledger is (an OSS folder), with the region its bucket is in."""
        where = ("defaults", "status_page")
        found = _LEDGER.match(text) if isinstance(text, str) else None
        if not found:
            self.add(where, None, "defaults.status_page", "must be oss://BUCKET/PREFIX/ (a bucket name, then an "
                     f"optional prefix ending in '/'), got {text!r}"[:200])
            return None
        if not isinstance(region, str) or not _REGION.match(region):
            self.add(where, None, "defaults.status_page", "needs `region` in `defaults`: the region of its bucket "
                     "(OSS signs for it)")
            return None
        return StatusPage(found.group(1), found.group(2), region)

    def _rule(self, i: int, raw: Any, defaults: Dict[str, Any], bad_defaults: FrozenSet[str],
              spec: Optional[rulefile.Source]) -> Optional[Tuple[Rule, bool]]:
        """The rule and whether it is enabled, or None (its problems reported)."""
        at = ("rules", i)
        label = self._name(i, raw) or f"#{i + 1}"
        if not isinstance(raw, dict):
            self.add(at, label, None, "a rule must be a mapping")
            return None
        if "status_page" in raw:
            self.add(at + ("status_page",), label, "status_page", "only in `defaults`: the sweep publishes one "
                     "page, the board of every rule")
            raw = {k: v for k, v in raw.items() if k != "status_page"}
            spec = None
        muted = {(field,) for field in bad_defaults if field not in raw}     # inherited, reported at defaults
        found: List[Tuple] = []                                             # this rule's problems, muted or not

        def report(path: Tuple, message: Optional[str]) -> None:
            muted.add(path)
            found.append(path)
            if message is not None:
                self.add(at + path, label, rulefile.label(path) or None, message)

        if spec is None:
            try:
                spec = msgspec.convert({**defaults, **raw}, rulefile.schema())
            except msgspec.ValidationError:
                spec = rulefile.convert_rule({**defaults, **raw}, lambda path: self.lines.text(at + path), report)
                if spec is None:
                    return None

        def problem(field: str, message: str) -> None:
            path = rulefile.parse_path(field)
            found.append(path)
            if any(path[:len(bad)] == bad for bad in muted):
                return
            if path in _SETTINGS and field not in raw and message.startswith("required"):
                self.unset.setdefault((field, message), []).append((i, label))     # said once (_unset)
            else:
                self.add(at + path, label, field, message)

        rule = _build(spec, problem, lambda path: self.lines.get(at + path), ("ledger",) in muted)
        return None if rule is None or found else (rule, spec.enabled)


_TOP = ("version", "defaults", "rules")
_SETTINGS = frozenset((field,) for field in rulefile.Settings.__struct_fields__)


def listed(names: Sequence[str], most: int = 3) -> str:
    """'a', 'b', 'c' and 2 more."""
    shown = ", ".join(f"'{name}'" for name in names[:most])
    return shown + (f" and {len(names) - most:,} more" if len(names) > most else "")


def _position(data: Any, path: Tuple) -> Tuple[int, ...]:
    """Where `path` is among its siblings at each level, as written (a key not written: after them all): problems
    on one line sort by it."""
    place = []
    for part in path:
        if isinstance(data, dict):
            keys = list(data)
            place.append(keys.index(part) if part in data else len(keys))
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            place.append(part)
            data = data[part]
        else:
            break
    return tuple(place)


def _convert_all(raw_rules: List[Any], defaults: Dict[str, Any]) -> Optional[List[rulefile.Source]]:
    """Every rule as written, converted in one call (a third of the time of one call each), or None if any is
    not a mapping or does not convert: then each is converted alone, for its own problems."""
    if not all(isinstance(raw, dict) for raw in raw_rules):
        return None
    try:
        return msgspec.convert([{**defaults, **raw} for raw in raw_rules], List[rulefile.schema()])
    except msgspec.ValidationError:
        return None


def _settings(spec: rulefile.Settings, problem) -> Tuple[Optional[ZoneInfo], Optional[Ledger], Optional[Notify]]:
    """The settings `defaults` or a rule sets, each checked on its own (what is required is _build's): the time
    zone, ledger and notice channels they name."""
    zone = _zone(spec.timezone, problem) if spec.timezone else None
    if spec.api is not None and spec.api not in APIS:
        problem("api", f"must be one of {', '.join(repr(a) for a in APIS)} (2020-05-18: legacy DataStudio, "
                       f"RunTriggerNode; 2024-05-18: new Data Studio, TriggerSchedulerTaskInstance), got {spec.api!r}")
    if spec.env is not None and spec.env.upper() not in ENVS:
        problem("env", f"must be PROD or DEV (in any case), got {spec.env!r}")
    if spec.region is not None and not _REGION.match(spec.region):
        problem("region", f"must be an Alibaba Cloud region id such as cn-shanghai or ap-southeast-1 (it names the "
                          f"hosts that signed calls go to), got {spec.region[:80]!r}")
    if spec.endpoint and not _ENDPOINT.match(spec.endpoint):
        problem("endpoint", "must be host[:port] without a scheme, e.g. dataworks-vpc.cn-shanghai.aliyuncs.com")
    if spec.role_arn and not _ROLE_ARN.match(spec.role_arn):
        problem("role_arn", "must look like acs:ram::<account-id>:role/<role-name>")
    return zone, _ledger(spec.ledger, problem), _notify(spec.notify, problem)


def _build(spec: rulefile.Source, problem, line_of, ledger_reported: bool) -> Optional[Rule]:
    """Cross-field checks and compilation; reports through `problem(field, message)`. `line_of(path)`: the line of
    a path in the rule (() the rule's). `ledger_reported`: the rule inherits a bad `ledger` (reported at
    `defaults`)."""
    if not _NAME.match(spec.name):
        problem("name", "must be 1-64 letters, digits, '-' or '_'")
    zone, ledger, notify = _settings(spec, problem)
    if not spec.timezone:
        problem("timezone", "required: the workspace's scheduling time zone (IANA name, e.g. Asia/Shanghai)")
    if not spec.region and not spec.endpoint:
        problem("region", "required (or set endpoint): the DataWorks region, e.g. cn-shanghai")
    elif not spec.region and getattr(spec, "require", None):
        problem("region", "required with `require`: the region of the buckets it checks (OSS signs for it)")
    if not spec.trigger:
        problem("trigger", "must list at least one {workspace, node}")
    if ledger and not spec.region:
        problem("region", "required with `ledger`: the region of its bucket (OSS signs for it)")
    source = sources.get(spec.__struct_config__.tag)
    fields = source.build(spec, problem)
    knows_cycle = _knows_cycle(fields or {})
    targets = tuple(_target(i, t, problem, knows_cycle) for i, t in enumerate(spec.trigger))
    ledger_reported = ledger_reported or bool(spec.ledger and not ledger)
    expect = _expect(spec, source, fields, ledger, targets, problem, ledger_reported)
    if notify is not None and ledger is None and not ledger_reported:
        problem("ledger", "required with `notify`: what was noticed is remembered in the ledger, so a notice is sent "
                          "once and tried again until every channel took it")
    _offset(spec, fields, problem)
    if zone is None or fields is None:
        return None
    if fields.get("require"):           # each entry's line, for validate's warnings
        fields["require"] = tuple(Required(entry.bucket, entry.key, line_of(("require", j)))
                                  for j, entry in enumerate(fields["require"]))
    return source.rule(name=spec.name, timezone=zone, region=spec.region, endpoint=spec.endpoint,
                       api=spec.api or API_2020, env=(spec.env or "PROD").upper(), role_arn=spec.role_arn,
                       trigger=targets, ledger=ledger, expect=expect,
                       notify=notify and dataclasses.replace(notify, line=line_of(("notify",))),
                       bizdate_offset=spec.bizdate_offset, line=line_of(()), **fields)


def _offset(spec: rulefile.Source, fields: Optional[dict], problem) -> None:
    """`bizdate_offset` moves a date the rule reads (a {bizdate}/{cycle} capture or a `bizdate:`/`cycle:` field):
    a rule that reads none would ignore it silently."""
    if not spec.bizdate_offset or fields is None:
        return
    if not -MAX_OFFSET <= spec.bizdate_offset <= MAX_OFFSET:
        problem("bizdate_offset", f"must be a number of days from -{MAX_OFFSET} to {MAX_OFFSET}, got "
                                  f"{spec.bizdate_offset}")
    key = fields.get("key")
    if not (key and {"bizdate", "cycle"} & set(key.names)) and not fields.get("date_field"):
        problem("bizdate_offset", "needs a date to move: {bizdate} or {cycle} in the key, or a `bizdate:` or "
                                  "`cycle:` field (without one, the business date is the day before the event)")


# What a rule's parts compile to, by their text: many rules share them (a ledger, a time zone, a list of events,
# a `require` entry). Only what compiled without a problem, and only so many, so a long-lived process that loads
# many files stays small. Every value is immutable.
_MEMO_SIZE = 4096


def remember(memo: Dict[Any, Any], key: Any, value: Any) -> Any:
    if len(memo) < _MEMO_SIZE:
        memo[key] = value
    return value


_LEDGERS: Dict[str, Ledger] = {}
_ZONES: Dict[str, ZoneInfo] = {}
_TIMES: Dict[str, time] = {}
_TEMPLATES: Dict[str, Template] = {}


def compiled_template(text: str) -> Template:
    found = _TEMPLATES.get(text)
    return found if found is not None else remember(_TEMPLATES, text, compile_template(text))


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
    return remember(_LEDGERS, text, Ledger(found.group(1), found.group(2)))


# An environment variable's name, as a shell and s.yaml's `environmentVariables` take it.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
# What a rules file holds by mistake where a name belongs: a URL (the DingTalk robot's carries its access token),
# a DingTalk signing secret (SEC + 64 hex digits), or a long run of letters and digits with no '_' in it.
_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|(?:https?|www)[.:]", re.I)
_SECRET_LIKE = re.compile(r"SEC[0-9a-fA-F]{16,}\Z|(?=[^_]*[0-9])(?=[^_]*[A-Za-z])[^_]{24,}\Z")
_CHANNELS = {"dingtalk": ("webhook_env", "the robot's webhook URL", "DWTRIGGER_DINGTALK_WEBHOOK",
                         "DWTRIGGER_DINGTALK_SECRET"),
             "webhook": ("url_env", "the webhook's URL", "DWTRIGGER_WEBHOOK_URL", "DWTRIGGER_WEBHOOK_SECRET")}


def _notify(spec: Optional[rulefile.Notify], problem) -> Optional[Notify]:
    """The channels `notify` names (None for `notify: {}`: no notices). Each value is the NAME of an environment
    variable: a URL or a secret written in their place is refused without being repeated (it would be in every
    copy of the file, and now in the message)."""
    if spec is None:
        return None
    channels = []
    for name, (url_field, url_what, url_example, secret_example) in _CHANNELS.items():
        raw = getattr(spec, name)
        if raw is None:
            continue
        url_env, secret_env = getattr(raw, url_field), raw.secret_env
        fine = _env_name(f"notify.{name}.{url_field}", url_env, url_what, url_example, problem)
        fine &= _env_name(f"notify.{name}.secret_env", secret_env, "its signing secret", secret_example, problem)
        if fine and url_env == secret_env:
            problem(f"notify.{name}.secret_env", f"names the same environment variable as `{url_field}`: the URL and "
                                                 "the signing secret are two values")
        channels.append(Channel(name, url_env, secret_env))
    return Notify(tuple(channels)) if channels else None


def _env_name(field: str, value: str, what: str, example: str, problem) -> bool:
    """Whether `value` is an environment variable's name; else the problem, saying what to write instead."""
    leaf = field.rpartition(".")[2]
    fix = (f"write the name of an environment variable (e.g. `{leaf}: {example}`) and set it in the function's "
           "environment; URLs and secrets are never written in the rules file")
    if _URL_LIKE.match(value) or "://" in value:
        problem(field, f"holds a URL where the name of the environment variable holding {what} belongs: {fix}")
    elif _SECRET_LIKE.match(value) or not _ENV_NAME.match(value) and len(value) >= 16:
        problem(field, f"looks like a secret where the name of the environment variable holding {what} belongs: {fix}")
    elif not _ENV_NAME.match(value):
        problem(field, f"must be an environment variable's name (letters, digits and '_', not starting with a digit), "
                       f"got {value!r}")
    else:
        return True
    return False


def _expect(spec: rulefile.Source, source: sources.Source, fields: Optional[dict], ledger: Optional[Ledger],
            targets: Tuple[Target, ...], problem, ledger_reported: bool) -> Optional[Expect]:
    """`expect`: what the sweep checks. The source checks what its evidence needs (an OSS rule's key must name the
    business date); a source whose evidence is the ledger's record that an event asked needs a ledger
    (`ledger_reported`: it names one, reported bad already)."""
    raw = spec.expect
    if raw is None:
        return None
    found = _HHMM.match(raw.by)
    if not found:
        problem("expect.by", f"must be HH:MM (24-hour, local time on the day after the business date), got {raw.by!r}")
    if not 1 <= raw.days <= MAX_EXPECT_DAYS:
        problem("expect.days", f"must be 1 to {MAX_EXPECT_DAYS} (each day is a check per node on every sweep)")
    source.check_expect(fields, problem)
    for i, target in enumerate(targets):
        if not target.lookup:
            problem(f"trigger[{i}].lookup", "must not be false with `expect`: the sweep looks an instance up to know "
                                            "whether it still waits (without, it would send on every run)")
    if source.asks and ledger is None and not ledger_reported:
        problem("expect", f"needs a `ledger` on `on: {spec.__struct_config__.tag}` rules: the sweep's evidence "
                          "that an event asked for a release is the ledger's record of it")
    return Expect(time(int(found.group(1)), int(found.group(2))), raw.days) if found else None


def _knows_cycle(fields: dict) -> bool:
    """Whether the rule itself names the instance's scheduled time: a {cycle} capture or a `cycle:` field."""
    key, date_field = fields.get("key"), fields.get("date_field")
    return bool(key and "cycle" in key.names) or bool(date_field and date_field.is_cycle)


def _zone(name: str, problem) -> Optional[ZoneInfo]:
    known = _ZONES.get(name)
    if known is not None:
        return known
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problem("timezone", _unknown_zone(name))
        return None
    if _FIXED.match(name):
        offset = int(zone.utcoffset(datetime(2000, 1, 1)).total_seconds()) // 60
        if offset:
            sign = " (POSIX's sign: Etc/GMT+N is west of Greenwich)" if "GMT" in name else ""
            problem("timezone", f"{name!r} is a fixed offset, {_utc(offset)} all year, with no daylight "
                                f"saving{sign}: name the workspace's zone, {_likely(offset)}")
            return None
    return remember(_ZONES, name, zone)


# Zone names that are a fixed offset but read as a region's time (EST is not New York's time in summer) or have a
# reversed sign (Etc/GMT-8 is UTC+08:00): refused unless the offset is 0. Asia/Shanghai has one offset all year too,
# but is the workspace's own zone, as DataWorks names it.
_FIXED = re.compile(r"(?:EST|MST|HST|(?:Etc/)?GMT[+-][0-9]+)\Z")
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])([0-9]{1,2})(?::?([0-9]{2}))?\Z", re.I)
# A region's zone at each whole-hour offset (an Alibaba Cloud region's where there is one), for the messages above.
_ZONE_AT = {-10: "Pacific/Honolulu", -8: "America/Los_Angeles", -7: "America/Denver", -6: "America/Chicago",
            -5: "America/New_York", 0: "UTC", 1: "Europe/Berlin", 3: "Asia/Riyadh", 4: "Asia/Dubai",
            7: "Asia/Jakarta", 8: "Asia/Shanghai", 9: "Asia/Tokyo"}


def _utc(minutes: int) -> str:
    return f"UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"


def _likely(minutes: int) -> str:
    zone = _ZONE_AT.get(minutes // 60) if minutes % 60 == 0 else None
    return f"e.g. {zone}" if zone else "an IANA name such as Asia/Shanghai"


@lru_cache(maxsize=64)
def _unknown_zone(name: str) -> str:
    """Why `name` is no time zone, with the region's zone meant where it can tell (the zones are listed only for
    this)."""
    offset = _OFFSET.match(name.strip())
    if offset:
        sign, hours, minutes = offset.groups()
        total = (int(hours) * 60 + int(minutes or 0)) * (-1 if sign == "-" else 1)
        return f"{name!r} is an offset, not a time zone: name the workspace's zone, {_likely(total)}"
    if name.lower().rpartition("/")[2] == "beijing":
        return f"unknown time zone {name!r} (did you mean 'Asia/Shanghai'? China's zone is named after Shanghai)"
    zones = {zone for zone in available_timezones() if "/" in zone and not zone.startswith("Etc/")} | {"UTC"}
    hint = did_you_mean(name, zones, 0.85) or did_you_mean(name.rpartition("/")[2], {
        zone.rpartition("/")[2]: zone for zone in sorted(zones, reverse=True)}, 0.9)    # or by its city
    return f"unknown time zone {name!r}{hint or ' (use an IANA name, e.g. Asia/Shanghai)'}"


_Own = Optional[Tuple[str, Optional[str]]]


def require_entries(entries: Optional[List[str]], problem, known: Set[str], where: str,
                    own: _Own) -> Tuple[Required, ...]:
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
        key = compiled_template(text)
    except TemplateError as e:
        problem(field, str(e) if bucket is None else f"in the key {text!r}: {e}")
        return None
    unknown = [name for name in key.names if name not in known]
    for name in unknown:
        problem(field, f"{{{name}}} is not {where}" + (
            did_you_mean(name, known) or f" (require entries may use {', '.join(sorted(known))})"))
    if own and text == own[0] and bucket in (None, own[1]):
        problem(field, "repeats the rule's own key: the object that fired the rule is always there")
        return None
    return None if unknown else Required(bucket, key)


def date_field_of(spec: rulefile.Source, problem) -> Optional[FieldSpec]:
    """A `bizdate:` or `cycle:` field (the spec of a source that has them)."""
    if spec.bizdate and spec.cycle:
        problem("cycle", "set either `bizdate` or `cycle`, not both")
    chosen = spec.cycle or spec.bizdate
    if chosen is None:
        return None
    name = "cycle" if spec.cycle else "bizdate"
    needed = ("%Y", "%m", "%d", "%H") if spec.cycle else ("%Y", "%m", "%d")
    if chosen.format not in INSTANT_FORMATS and (
            _DATE_DIRECTIVES.search(chosen.format) or not all(d in chosen.format for d in needed)):
        problem(f"{name}.format", f"must be {', '.join(INSTANT_FORMATS)} or a format that uses only "
                                  f"%Y %m %d %H %M %S and contains {' '.join(needed)}, got {chosen.format!r}")
    if not chosen.field or any(not part for part in chosen.field.split(".")):
        problem(f"{name}.field", "required: the (dotted) JSON field holding the value")
    return FieldSpec(tuple(chosen.field.split(".")), chosen.format, is_cycle=bool(spec.cycle))


def _target(i: int, raw: rulefile.Target, problem, knows_cycle: bool) -> Target:
    at = None
    if raw.at is not None:
        at = _TIMES.get(raw.at)
        if at is None:
            m = _HHMM.match(raw.at)
            if m:
                at = remember(_TIMES, raw.at, time(int(m.group(1)), int(m.group(2))))
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
