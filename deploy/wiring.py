"""s.yaml and rules.yaml agree, both ways: every rule has a trigger that feeds it, every trigger a rule it feeds.

s.yaml is read as `s` resolves it (${vars.*}, ${config(...)}, `extend` templates deep-merged under props) and
each trigger is taken by the handler its function's code package holds (`code: ./build/<fn>.zip`). The OSS
triggers of a bucket must be exactly the filters `derive` gives for the rules that watch it: each as tight as the
keys it lets through allow (their literal prefixes and suffixes), so a busy landing bucket invokes the function
only for objects a rule may take. A topic reaches the mns function through a direct topic trigger, or through a
queue subscribed to it (listed in `vars.subscriptions`) and that queue's trigger. Used by `make package`
(deploy/package.py), which refuses to build on any problem, and by tests/test_deploy.py.

A disabled rule (`enabled: false`) is off for now, not gone: it needs no trigger, and the trigger kept for it is
a warning naming it, not a problem (`judge`), so switching a rule off never stops a deployment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations
from os.path import commonprefix
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

import yaml

from dwtrigger.matching import firing, out_of_play      # the require entries whose landing fires a rule
from dwtrigger.rules import OSS_EVENT_NAMES, MnsRule, OssRule, Rule, RuleSet, RulesError, TimerRule, load_rules

OSS_TRIGGERS_PER_BUCKET = 10            # OSS's limit on a bucket's native triggers
STANDIN_CONFIG = {"AccountID": "123456789012"}   # checking reads names, never the account in an ARN
_EXPRESSION = re.compile(r"\$\{([^}]*)\}")
_VAR = re.compile(r"vars\.([A-Za-z_][\w-]*(?:\.[\w-]+)*)\Z")
_CONFIG = re.compile(r"""config\(\s*['"](\w+)['"]\s*\)\Z""")
_ROUNDS = 10                                         # how deep vars may name vars that name vars


# ---- s.yaml as `s` hands it to fc3 --------------------------------------------------------------------------

class Unresolved(ValueError):
    """A ${...} that `s` would resolve from something this check does not have."""


def load(path: Path, config: Optional[Dict[str, str]] = None) -> dict:
    return resolve(yaml.safe_load(path.read_text()), config or STANDIN_CONFIG)


def resolve(doc: dict, config: Dict[str, str]) -> dict:
    """`doc` with its expressions filled in (vars may use vars) and each `extend`ed resource's props merged over
    its template: mappings merge, anything else (lists too) is replaced."""
    variables = doc.get("vars") or {}
    for _ in range(_ROUNDS):                               # vars naming vars settle in a few rounds
        settled = _fill(variables, variables, config, strict=False)
        if settled == variables:
            break
        variables = settled
    out = _fill({**doc, "vars": variables}, variables, config, strict=True)
    for name, resource in (out.get("resources") or {}).items():
        if isinstance(resource, dict) and "extend" in resource:
            base = (out.get("template") or {}).get(resource["extend"].get("name"))
            if not isinstance(base, dict):
                raise Unresolved(f"s.yaml: resource {name} extends {resource['extend'].get('name')!r}, which is "
                                 "not a template in s.yaml")
            resource["props"] = merged(base, resource.get("props") or {})
    return out


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _fill(value, variables: dict, config: Dict[str, str], strict: bool):
    if isinstance(value, dict):
        return {k: _fill(v, variables, config, strict) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables, config, strict) for v in value]
    if not isinstance(value, str):
        return value
    return _EXPRESSION.sub(lambda m: str(_value(m[1].strip(), m[0], variables, config, strict)), value)


def _value(expression: str, text: str, variables: dict, config: Dict[str, str], strict: bool):
    var, conf = _VAR.match(expression), _CONFIG.match(expression)
    if conf and conf[1] in config:
        return config[conf[1]]
    found = variables
    for part in (var[1].split(".") if var else ()):
        found = found.get(part) if isinstance(found, dict) else \
            found[int(part)] if isinstance(found, list) and part.isdigit() and int(part) < len(found) else None
    if var and found is not None and not isinstance(found, (dict, list)) and "${" not in str(found):
        return found
    if strict:
        raise Unresolved(f"s.yaml: cannot resolve {text} (only ${{vars.NAME[.KEY]}} and ${{config('KEY')}} are "
                         "checked)")
    return text


# ---- the triggers ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Trigger:
    resource: str          # its resource in s.yaml
    function: str          # the handler its function runs: oss, mns, timer or sweep
    spec: dict

    @property
    def name(self) -> str:
        return str(self.spec.get("triggerName"))

    @property
    def kind(self) -> str:
        return str(self.spec.get("triggerType"))

    @property
    def config(self) -> dict:
        return self.spec.get("triggerConfig") or {}

    @property
    def bucket_filter(self) -> Tuple[str, Filter]:
        """An OSS trigger's bucket and filter."""
        key = (self.config.get("filter") or {}).get("key") or {}
        return _last(self.spec.get("sourceArn"), ":"), Filter(
            str(key.get("prefix", "")), str(key.get("suffix", "")), _events(self.config.get("events") or []), ())

    @property
    def queue(self) -> Optional[str]:
        """The MNS queue an eventbridge trigger reads, if it reads one."""
        source = self.config.get("eventSourceConfig") or {}
        if source.get("eventSourceType") != "MNS":
            return None
        return ((source.get("eventSourceParameters") or {}).get("sourceMNSParameters") or {}).get("QueueName")

    def __str__(self) -> str:
        return f"s.yaml: {self.kind} trigger '{self.name}' of resource {self.resource}"


def triggers(s: dict) -> List[Trigger]:
    found = []
    for resource, body in (s.get("resources") or {}).items():
        props = body.get("props") or {}
        code = re.fullmatch(r"(?:\./)?build/(\w+)\.zip", str(props.get("code", "")))
        found += [Trigger(resource, code[1] if code else "?", t) for t in props.get("triggers") or []]
    return found


def _last(arn: object, separator: str) -> str:
    return str(arn).rsplit(separator, 1)[-1]


def _events(names: Iterable[str]) -> FrozenSet[str]:
    """OSS trigger event names (`oss:Family:Action`, `*` for the whole family as OSS reads it), without `oss:`."""
    out = set()
    for name in names:
        family, _, action = str(name).removeprefix("oss:").partition(":")
        out |= {f"{family}:{a}" for a in (OSS_EVENT_NAMES.get(family, ()) if action == "*" else [action])}
    return frozenset(out)


def _oss_names(events: Iterable[str]) -> List[str]:
    order = [f"{family}:{a}" for family, actions in OSS_EVENT_NAMES.items() for a in actions]
    return [f"oss:{e}" for e in sorted(events, key=order.index)]


# ---- OSS filters derived from the rules ---------------------------------------------------------------------

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


# ---- both directions -----------------------------------------------------------------------------------------

Found = Tuple[Optional[Trigger], str]      # a problem, and the trigger it is about (None: a rule, or s.yaml)


def refusals(rules_path: Path, template: Path) -> Tuple[List[str], List[str]]:
    """What `make package` says before it builds: (the problems, which refuse the build; the warnings, which do
    not). The problems are the rules file's as its loader words them (file, line, rule, field), else each
    disagreement between it and the triggers of `template`; the warnings, the triggers kept for disabled rules."""
    try:
        rules = load_rules(str(rules_path))
    except RulesError as e:
        return [str(p) for p in e.problems], []
    try:
        return judge(rules, load(template))
    except (OSError, yaml.YAMLError, Unresolved) as e:
        return [f"{template}: {e}"], []


def judge(rules: RuleSet, s: dict) -> Tuple[List[str], List[str]]:
    """`check`'s problems, less those only the disabled rules explain, and a warning for each trigger they spare.

    A trigger with problems (it feeds no rule, lets through or takes more than the rules in play need) that would
    have none were the disabled rules in play is kept for them: a warning naming them. A problem about a rule, or
    about s.yaml, stands whatever the disabled rules are; that a disabled rule has no trigger is no problem."""
    found = _problems(rules, s)
    wrong = [t for t, _ in _problems(RuleSet(rules.rules + rules.disabled, rules.path), s) if t is not None]
    spared = [t for t, _ in found if t is not None and t not in wrong]
    return [text for t, text in found if t is None or t in wrong], \
        [_kept_for(t, rules, s) for t in triggers(s) if t in spared]


def _kept_for(t: Trigger, rules: RuleSet, s: dict) -> str:
    """The warning for a trigger that only disabled rules of `rules` need, naming each it feeds."""
    fed = [rule for rule in rules.disabled if _feeds(t, rule, s)]
    return (f"{t} is kept for disabled rule{'s' if len(fed) > 1 else ''} "
            + ", ".join(f"'{rule.name}' ({out_of_play(rules, rule)})" for rule in fed)
            + ": meanwhile it invokes the function for events no rule in play takes; remove it if the rule stays off")


def _feeds(t: Trigger, rule: Rule, s: dict) -> bool:
    """Whether `t` (on its handler's function: `check` finds the others misplaced) brings `rule` events it takes:
    its keys in the trigger's bucket (OSS), its topic or queue (MNS; every message for a rule naming neither), its
    timer."""
    if t.kind == "oss":
        bucket, f = t.bucket_filter
        return isinstance(rule, OssRule) and bucket in rule.buckets and any(
            f.lets_through(key.prefix, key.suffix) for key in [rule.key] + [e.key for _, e in firing(rule, bucket)])
    if t.kind in ("mns_topic", "eventbridge"):
        if not isinstance(rule, MnsRule):
            return False
        if not rule.topic and not rule.queue:
            return True                             # it takes any message
        subscribed = {entry.get("queue"): entry.get("topic") for entry in (s.get("vars") or {}).get("subscriptions")
                      or [] if isinstance(entry, dict)}
        topic = _last(t.spec.get("sourceArn"), "/topics/") if t.kind == "mns_topic" else subscribed.get(t.queue)
        return bool(rule.topic) and rule.topic == topic or bool(rule.queue) and rule.queue == t.queue
    return isinstance(rule, TimerRule) and rule.timer == t.name


def check(rules: RuleSet, s: dict) -> List[str]:
    """Every problem, each naming the rule (file and line) or the trigger, and the way out."""
    return [text for _, text in _problems(rules, s)]


def _problems(rules: RuleSet, s: dict) -> List[Found]:
    found = triggers(s)
    misplaced = [(t, problem) for t, problem in zip(found, map(_misplaced, found)) if problem]
    by_kind = {kind: [t for t in found if t.kind == kind and t.function == home] for kind, home in _HOME.items()}
    return misplaced + _oss(rules, by_kind["oss"]) + _mns(rules, s, by_kind["mns_topic"], by_kind["eventbridge"]) \
        + _timers(rules, by_kind["timer"], [t for t in found if t.function == "sweep"])


_HOME = {"oss": "oss", "mns_topic": "mns", "eventbridge": "mns", "timer": "timer"}   # trigger type -> handler


def _misplaced(t: Trigger) -> Optional[str]:
    home = _HOME.get(t.kind)
    if t.function == "sweep" and t.kind == "timer" or t.function == home:
        return None
    if home is None:
        return f"{t}: no dwtrigger handler takes {t.kind} events: remove it"
    return f"{t}: belongs on the {home} function, whose handler takes {t.kind} events"


def _where(rules: RuleSet, name: str) -> str:
    rule = rules.named(name)
    return f"{rules.path}:{rule.line}: rule '{name}'" if rule.line else f"{rules.path}: rule '{name}'"


def _oss(rules: RuleSet, found: Sequence[Trigger]) -> List[Found]:
    have: Dict[str, List[Tuple[Trigger, Filter]]] = {}
    for t in found:
        bucket, f = t.bucket_filter
        have.setdefault(bucket, []).append((t, f))
    problems: List[Found] = []
    for bucket in sorted({b for r in rules.for_source("oss") for b in r.buckets} | set(have)):
        wanted, present = derive(rules, bucket), have.get(bucket, [])
        for need in wanted:
            if not any(f.lets_through(need.prefix, need.suffix) for _, f in present):
                problems.append((None, f"{_where(rules, need.rules[0])}: no trigger in s.yaml feeds its keys in "
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


def _mns(rules: RuleSet, s: dict, topics: Sequence[Trigger], queues: Sequence[Trigger]) -> List[Found]:
    mns = [r for r in rules.for_source("mns") if isinstance(r, MnsRule)]
    read = {t.queue: t for t in queues}
    subscriptions, problems = (s.get("vars") or {}).get("subscriptions") or [], []
    subscribed = {}
    for entry in subscriptions:
        if not isinstance(entry, dict) or set(entry) != {"topic", "queue"}:
            problems.append((None, f"s.yaml: vars.subscriptions: {entry!r} is not {{topic: NAME, queue: NAME}}"))
        elif entry["queue"] not in read:
            problems.append((None, f"s.yaml: vars.subscriptions: queue {entry['queue']} (subscribed to topic "
                                   f"{entry['topic']}) has no eventbridge trigger on the mns function: add one"))
        else:
            subscribed[entry["queue"]] = entry["topic"]
    direct = {_last(t.spec.get("sourceArn"), "/topics/"): t for t in topics}
    for t in topics:
        if t.config.get("notifyContentFormat") != "JSON":
            problems.append((t, f"{t}: set notifyContentFormat to JSON: a STREAM message does not name its topic"))
    for topic in set(direct) & set(subscribed.values()):
        problems.append((direct[topic], f"{direct[topic]}: topic {topic} also reaches the function through its "
                                        "subscribed queue, so every message would be decided twice: keep one of the "
                                        "two"))
    reached = set(direct) | set(subscribed.values())
    for rule in mns:
        if not rule.topic and not rule.queue and not direct and not read:
            problems.append((None, f"{_where(rules, rule.name)}: it takes any message, and no trigger in s.yaml "
                                   "brings the mns function one: add an eventbridge (queue) or mns_topic trigger to "
                                   "it, or remove the rule"))
        if rule.topic and rule.topic not in reached:
            problems.append((None, f"{_where(rules, rule.name)}: no trigger in s.yaml feeds topic {rule.topic}: "
                                   "subscribe a queue to it (vars.subscriptions) with an eventbridge trigger on that "
                                   "queue, or add a mns_topic trigger, to the mns function; or remove the rule"))
        if rule.queue and rule.queue not in read:
            problems.append((None, f"{_where(rules, rule.name)}: no trigger in s.yaml reads queue {rule.queue}: add "
                                   "an eventbridge trigger on it to the mns function, or remove the rule"))
    wanted_topics, wanted_queues = {r.topic for r in mns if r.topic}, {r.queue for r in mns if r.queue}
    if any(not r.topic and not r.queue for r in mns):      # a rule that takes any message: every trigger feeds it
        return problems
    for topic, t in direct.items():
        if topic not in wanted_topics:
            problems.append((t, f"{t} on topic {topic} feeds no rule in rules.yaml: remove it, or add a rule"))
    for queue, t in read.items():
        if queue not in wanted_queues and subscribed.get(queue) not in wanted_topics:
            via = f" (subscribed to topic {subscribed[queue]})" if queue in subscribed else ""
            problems.append((t, f"{t} on queue {queue}{via} feeds no rule in rules.yaml: remove it, or add a rule"))
    return problems


def _timers(rules: RuleSet, found: Sequence[Trigger], sweep: Sequence[Trigger]) -> List[Found]:
    named, timers = {t.name for t in found}, [r for r in rules.for_source("timer") if isinstance(r, TimerRule)]
    problems: List[Found] = [(None, f"{_where(rules, r.name)}: no timer trigger named {r.timer} on the timer "
                                    "function feeds it: add one, or remove the rule")
                             for r in timers if r.timer not in named]
    problems += [(t, f"{t} feeds no rule in rules.yaml (a timer rule's `timer:` names its trigger): remove it, or "
                     "add a rule") for t in found if t.name not in {r.timer for r in timers}]
    expecting = [r.name for r in rules.rules if r.expect]
    if expecting and not sweep:
        problems.append((None, f"{_where(rules, expecting[0])}: `expect` needs the sweep function's timer trigger, "
                               "and s.yaml has none: add it, or remove `expect`"))
    return problems
