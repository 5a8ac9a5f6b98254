"""s.yaml and rules.yaml agree, both ways: every rule has a trigger that feeds it, every trigger a rule it feeds.

s.yaml is read as `s` resolves it (${vars.*}, ${config(...)}, `extend` templates deep-merged under props) and
each trigger is taken by the handler its function's code package holds (`code: ./build/<fn>.zip`). The OSS
triggers of a bucket must be exactly the filters `derive` (sources/oss.py) gives for the rules that watch it: each
as tight as the keys it lets through allow (their literal prefixes and suffixes), so a busy landing bucket invokes
the function only for objects a rule may take. A topic reaches the mns function through a direct topic trigger, or through a
queue subscribed to it (listed in `vars.subscriptions`) and that queue's trigger. Used by `make package`
(deploy/package.py), which refuses to build on any problem, and by tests/test_deploy.py.

What each source's triggers must be is its module's (dwtrigger/sources/: `trigger_kinds`, `feeds`, `wiring`); this
module reads s.yaml, sends each source its function's triggers, and checks what no source owns (a trigger on the
wrong function, the sweep's timer).

A disabled rule (`enabled: false`) is off for now, not gone: it needs no trigger, and the trigger kept for it is
a warning naming it, not a problem (`judge`), so switching a rule off never stops a deployment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from dwtrigger import sources
from dwtrigger.matching import out_of_play
from dwtrigger.rules import Rule, RuleSet, RulesError, load_rules

STANDIN_CONFIG = {"AccountID": "123456789012"}   # checking reads names, never the account in an ARN
_EXPRESSION = re.compile(r"\$\{([^}]*)\}")
_VAR = re.compile(r"vars\.([A-Za-z_][\w-]*(?:\.[\w-]+)*)\Z")
_CONFIG = re.compile(r"""config\(\s*['"](\w+)['"]\s*\)\Z""")
_ENV = re.compile(r"""env\(\s*['"]?([A-Za-z_]\w*)['"]?\s*\)\Z""")  # the deploying shell's (secrets): never read here
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
    var, conf, env = _VAR.match(expression), _CONFIG.match(expression), _ENV.match(expression)
    if conf and conf[1] in config:
        return config[conf[1]]
    if env:
        return f"<{env[1]} from the shell>"
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

    def arn_tail(self, separator: str) -> str:
        """What its `sourceArn` names after the last `separator` (the bucket after ':', a topic after '/topics/')."""
        return str(self.spec.get("sourceArn")).rsplit(separator, 1)[-1]

    def __str__(self) -> str:
        return f"s.yaml: {self.kind} trigger '{self.name}' of resource {self.resource}"


def triggers(s: dict) -> List[Trigger]:
    found = []
    for resource, body in (s.get("resources") or {}).items():
        props = body.get("props") or {}
        code = re.fullmatch(r"(?:\./)?build/(\w+)\.zip", str(props.get("code", "")))
        found += [Trigger(resource, code[1] if code else "?", t) for t in props.get("triggers") or []]
    return found


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
    """Whether `t` (on its handler's function: `check` finds the others misplaced) brings `rule` events it takes: a
    trigger of a kind its source's function takes (`Source.trigger_kinds`) that feeds it (`Source.feeds`: its keys
    in the trigger's bucket, its topic or queue, its timer)."""
    return t.function == rule.on in _homes().get(t.kind, ()) and sources.get(rule.on).takes_trigger(t) and \
        sources.get(rule.on).feeds(t, rule, s)


def check(rules: RuleSet, s: dict) -> List[str]:
    """Every problem, each naming the rule (file and line) or the trigger, and the way out."""
    return [text for _, text in _problems(rules, s)]


def _problems(rules: RuleSet, s: dict) -> List[Found]:
    found = triggers(s)
    problems = [(t, problem) for t, problem in zip(found, map(_misplaced, found)) if problem]
    for source in sources.registry().values():      # each source's rules and its function's triggers
        own = {kind: [t for t in found if t.kind == kind and t.function == source.name and source.takes_trigger(t)]
               for kind in source.trigger_kinds}
        problems += source.wiring(rules, s, own, _where)
    return problems + _sweep(rules, [t for t in found if t.function == SWEEP])


SWEEP, SWEEP_TRIGGER = "sweep", "timer"      # the sweep's function, and the kind of its trigger


def _homes() -> Dict[str, List[str]]:
    """Each trigger type, and the handlers that take it (`Source.trigger_kinds`; eventbridge: several, each source's
    `wiring` refusing the event sources that are not its own)."""
    homes: Dict[str, List[str]] = {}
    for source in sources.registry().values():
        for kind in source.trigger_kinds:
            homes.setdefault(kind, []).append(source.name)
    return homes


def _misplaced(t: Trigger) -> Optional[str]:
    homes = [name for name in _homes().get(t.kind, []) if sources.get(name).takes_trigger(t)]
    if t.function == SWEEP and t.kind == SWEEP_TRIGGER or t.function in homes:
        return None
    if not homes:
        return f"{t}: no dwtrigger handler takes these {t.kind} events: remove it"
    return f"{t}: belongs on the {' or '.join(homes)} function, whose handler takes {t.kind} events"


def _where(rules: RuleSet, name: str) -> str:
    rule = rules.named(name)
    return f"{rules.path}:{rule.line}: rule '{name}'" if rule.line else f"{rules.path}: rule '{name}'"


def _sweep(rules: RuleSet, sweep: Sequence[Trigger]) -> List[Found]:
    problems: List[Found] = []
    expecting = [r.name for r in rules.rules if r.expect]
    if expecting and not sweep:
        problems.append((None, f"{_where(rules, expecting[0])}: `expect` needs the sweep function's timer trigger, "
                               "and s.yaml has none: add it, or remove `expect`"))
    return problems
