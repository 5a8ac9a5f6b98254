"""A source is one module behind one protocol (dwtrigger.sources), registered in one place.

Two guards: nothing outside sources/ tests which source a rule or an event is (an AST scan of the package, the
handlers, deploy/ and bench/validate.py), and a source written only here (one class, one registry entry) goes the
whole way: loaded from a rules file, its event parsed and matched, listed, validated and explained by the
commands, and released through the relay against the emulator.
"""
from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import pytest
from click.testing import CliRunner

from conftest import ONE_API, ROOT
from dwtrigger import events, rulefile, sources
from dwtrigger.events import Event
from dwtrigger.matching import Index, match
from dwtrigger.ops.cli import main
from dwtrigger.rule import Rule
from dwtrigger.rules import RulesError, parse_rules

# Where the rest of dwtrigger lives: none of it may ask which source a rule or an event is. (bench/perf.py and
# bench/reliability.py build workloads of each source's rules on purpose.)
SCANNED = [*sorted((ROOT / "shared" / "dwtrigger").rglob("*.py")), *sorted((ROOT / "functions").rglob("*.py")),
           *sorted((ROOT / "deploy").rglob("*.py")), ROOT / "bench" / "validate.py"]
OWN = ROOT / "shared" / "dwtrigger" / "sources"


def _names(node: ast.AST) -> list:
    """The string constants `node` is, or holds as a tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [name for item in node.elts for name in _names(item)]
    return []


def _scheme(node: ast.Compare) -> bool:
    """Whether the comparison reads a URL's scheme or protocol (a variable or attribute so named)."""
    return any(getattr(sub, "id", getattr(sub, "attr", None)) in ("scheme", "protocol") for sub in ast.walk(node))


def source_tests(tree: ast.AST, names: set, types: set) -> list:
    """(line, code) of each place that tells sources apart: isinstance of a source's rule type or schema, a
    comparison with a source's name, a literal listing two sources or more, an import from a source module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
            kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            hit = any(getattr(kind, "id", getattr(kind, "attr", None)) in types for kind in kinds)
        elif isinstance(node, ast.Compare):     # a URL's scheme "http" is not the source `http`
            hit = any(set(_names(side)) & names for side in [node.left, *node.comparators]) and not _scheme(node)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            hit = len(set(_names(node)) & names) > 1
        elif isinstance(node, ast.Dict):
            hit = len({key.value for key in node.keys if isinstance(key, ast.Constant)} & names) > 1
        elif isinstance(node, ast.ImportFrom):
            hit = any(f"sources.{name}" in f"{'.' * node.level}{node.module or ''}" for name in names) or \
                node.module is not None and node.module.endswith("sources") and \
                any(alias.name in names for alias in node.names)
        else:
            hit = False
        if hit:
            found.append((node.lineno, ast.unparse(node)[:80]))
    return found


def test_nothing_outside_sources_tells_sources_apart():
    known = sources.registry().values()
    names = {source.name for source in known}
    types = {cls.__name__ for source in known for cls in (source.rule, source.schema)}
    found = [f"{path.relative_to(ROOT)}:{line}: {code}" for path in SCANNED if OWN not in path.parents
             for line, code in source_tests(ast.parse(path.read_text(encoding="utf-8")), names, types)]
    assert found == []


def test_the_scan_finds_each_way_of_telling_sources_apart():
    code = """
from dwtrigger.sources.oss import OssRule
from ..sources import mns
if isinstance(rule, OssRule): pass
if event.source == "mns": pass
if rule.on in ("timer",): pass
KINDS = ("oss", "timer")
HOME = {"oss": 1, "mns": 2}
"""
    assert [line for line, _ in source_tests(ast.parse(code), {"oss", "mns", "timer"}, {"OssRule"})] == \
        [2, 3, 4, 5, 6, 7, 8]
    assert source_tests(ast.parse('sources.get(rule.on).check(rule, event)\nx = ("oss",)'), {"oss"}, set()) == []


def test_each_registered_source_has_one_name_its_handler_and_its_samples():
    """The registry is what the functions and the samples follow: every function but the sweep is a source's, and
    each source's name is its `on:`, its rule's, its schema's tag, its shapes' prefix, its handler's and its
    samples' folder."""
    registered = sources.registry()
    assert {path.parent.name for path in (ROOT / "functions").glob("*/index.py")} - {"sweep"} == set(registered)
    for name, source in registered.items():
        assert source.name == name and source.schema.__struct_config__.tag == name
        assert source.rule.__dataclass_fields__["on"].default == name
        assert source.shapes and all(kind.startswith(name) for kind in source.shapes)
        assert f'handle("{name}", event, context)' in (ROOT / "functions" / name / "index.py").read_text()
        assert (ROOT / "events" / name / "expected.yaml").is_file()
    assert [source.name for source in registered.values() if source.takes_any_text] == ["mns"]


# ---- a source written here: a bell rings ({"bell": NAME, "rang": TIME}), and its rules name the bell ----------

@dataclass(frozen=True, kw_only=True)
class BellRule(Rule):
    on: str = dataclasses.field(default="bell", init=False)
    bell: str


class Bell(rulefile.Source, tag="bell"):
    bell: Optional[str] = None


class BellSource(sources.Source):
    name, rule, schema = "bell", BellRule, Bell
    shapes = {"bell-ring": "a bell ringing"}
    expected = 'a bell ringing ({"bell", "rang"})'

    def shape(self, doc):
        return "bell-ring" if doc.keys() == {"bell", "rang"} else None

    def parse(self, doc, text, received_at, stream_topic):
        if not isinstance(doc, dict) or self.shape(doc) is None:
            raise events.not_for(self.name, doc)
        name = events.string(doc, "bell")
        return [Event(source=self.name, kind="bell-ring", event_id=f"{name}@{doc['rang']}",
                      time=events.time_field(doc, "rang"), topic=name)]

    def build(self, spec, problem):
        if not spec.bell:
            problem("bell", "required: the bell's name")
        return dict(bell=spec.bell)

    def check(self, rule, event):
        return ({}, "matched") if event.topic == rule.bell else (None, ("bell {!r} is not {!r}", (event.topic,
                                                                                                  rule.bell)))

    def lookup(self, rules, rank):
        return lambda event: [rule for rule in rules if rule.bell == event.topic]

    def summary(self, rule):
        return f"bell {rule.bell}"

    def listed(self, rule):
        return {"bell": rule.bell}


BELL_RULES = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - {name: dinner, on: bell, bell: dinner, trigger: [{workspace: 10001, node: 700001234567}]}
"""
RANG = json.dumps({"bell": "dinner", "rang": "2026-03-10T16:10:00Z"}).encode()   # 00:10 on 03-11 in Shanghai
RECEIVED = datetime(2026, 3, 10, 16, 11, tzinfo=timezone.utc)


@pytest.fixture
def bell(monkeypatch):
    """The bell source, registered for one test: the one line a source adds, as a fixture."""
    monkeypatch.setitem(sources.registry(), "bell", BellSource())


def test_a_source_defined_in_one_class_loads_parses_and_matches(bell):
    rules = parse_rules(BELL_RULES)
    [rule] = rules.rules
    assert isinstance(rule, BellRule) and rule.bell == "dinner" and rule.on == "bell"
    [event] = events.parse("bell", RANG, RECEIVED)
    assert (event.source, event.kind, event.event_id) == ("bell", "bell-ring", "dinner@2026-03-10T16:10:00Z")
    assert events.source_of(RANG) == "bell"
    assert Index(rules.rules).takers(event) == [(rule, {})]
    other = events.parse("bell", json.dumps({"bell": "lunch", "rang": "2026-03-10T04:00:00Z"}), RECEIVED)[0]
    assert match(rule, other) == (None, "bell 'lunch' is not 'dinner'") and Index(rules.rules).takers(other) == []
    [rejected] = events.parse("bell", b'{"tick": 1}', RECEIVED)
    assert rejected.reason == ('the event is not a bell ringing ({"bell", "rang"}); other content is only valid as '
                               'an MNS topic message in STREAM format, which the mns function takes')
    with pytest.raises(RulesError) as e:
        parse_rules(BELL_RULES.replace("bell: dinner, ", "bel: dinner, "))
    assert "field 'bel': unknown key (did you mean 'bell'?)" in str(e.value)


def test_a_source_defined_in_one_class_is_listed_validated_and_explained(bell, tmp_path):
    path, event = tmp_path / "rules.yaml", tmp_path / "rang.json"
    path.write_text(BELL_RULES)
    event.write_bytes(RANG)
    runner = CliRunner()
    listed = runner.invoke(main, ["rules", str(path)])
    assert listed.exit_code == 0 and "dinner  enabled  bell dinner  10001/700001234567" in listed.output
    validated = runner.invoke(main, ["validate", str(path)])
    assert (validated.exit_code, validated.output) == (0, f"{path}: 1 rules OK\n")
    explained = runner.invoke(main, ["explain", str(event), "--rules", str(path), "--now", "2026-03-10T16:11:00Z"])
    assert explained.exit_code == 0, explained.output
    assert explained.output.splitlines()[:4] == [
        f"{event}  (bell function)", "  kind bell-ring, id dinner@2026-03-10T16:10:00Z, time 2026-03-10T16:10:00+00:00",
        "  MATCH dinner: matched",
        "      node 700001234567 (Asia/Shanghai, API 2020-05-18): BizDate 2026-03-10 = 1773072000000, "
        "CycleTime from the look-up = -"]


@ONE_API
def test_a_source_defined_in_one_class_releases_through_the_relay(bell, harness):
    h = harness(BELL_RULES)
    [d] = h.invoke("bell", RANG)
    assert (d["outcome"], d["rule"], d["source"], d["topic"]) == ("triggered", "dinner", "bell", "dinner")
    assert (d["biz_date"], d["cycle_time_ms"]) == ("2026-03-10", 1773160200000)
    assert [(i["CycTime"], i["Bizdate"]) for i in h.emu.instances(node=700001234567) if i["Released"]] == \
        [(1773160200000, 1773072000000)]
