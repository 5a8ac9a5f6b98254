"""`dwtrigger validate`'s warnings: the same as probing every pair of rules, found by probing only the pairs that can
overlap (the test_cli test shows them as a user sees them)."""
import random
from itertools import combinations

import pytest
from click.testing import CliRunner

from dwtrigger.ops import lint
from dwtrigger.ops.cli import main
from dwtrigger.rules import Problem, parse_rules

HEAD = "version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n"


def ruleset(*rules: str):
    return parse_rules(HEAD + "".join(f"  - {{name: r{i}, {body}, trigger: [{{workspace: 1, node: {i + 1}}}]}}\n"
                                      for i, body in enumerate(rules)), "r.yaml")


def every_pair(rules):
    """The warnings by probing every pair: what `warnings` must say."""
    found = []
    for r in rules.rules:
        found += [Problem(rules.path, r.line, r.name, field, message) for field, message in lint._never(r)]
        found += [Problem(rules.path, r.line, r.name, field, message) for field, message in lint._literal(r)]
    for a, b in combinations(rules.rules, 2):
        why = lint._overlap(a, b)
        if why:
            found.append(Problem(rules.path, b.line, b.name, None, f"overlaps rule '{a.name}': {why}"))
    return found


@pytest.fixture
def probed(monkeypatch):
    """The pairs `warnings` probes, by name."""
    pairs = []
    overlap = lint._overlap

    def counting(a, b):
        pairs.append((a.name, b.name))
        return overlap(a, b)

    monkeypatch.setattr(lint, "_overlap", counting)
    return pairs


def test_rules_of_different_buckets_topics_queues_timers_or_sources_are_never_compared(probed):
    rules = ruleset(*(f'on: oss, bucket: bkt{i}, key: "**"' for i in range(50)),
                    *(f"on: mns, topic: t{i}" for i in range(20)), *(f"on: mns, queue: t{i}" for i in range(20)),
                    *(f"on: timer, timer: t{i}" for i in range(20)))
    assert lint.warnings(rules) == [] and probed == []


def test_in_a_bucket_only_keys_whose_prefixes_start_one_another_are_compared(probed):
    rules = ruleset(*(f'on: oss, bucket: bkt, key: "exports/t{i}/dt={{bizdate:%Y-%m-%d}}/_SUCCESS"' for i in range(100)),
                    'on: oss, bucket: bkt, key: "exports/t1/**"', 'on: oss, bucket: [aaa, bkt], key: "logs/*.done"')
    found = lint.warnings(rules)
    # exports/t1/ starts exports/t1/dt= only (not exports/t10/dt=, ...); logs/ starts no other prefix
    assert probed == [("r1", "r100")]
    assert [str(p) for p in found] == [
        "r.yaml:104: rule 'r100': overlaps rule 'r1': key 'exports/t1/dt=2026-01-01/_SUCCESS' in bucket 'bkt' "
        "matches both"]


def test_a_key_without_a_prefix_is_compared_with_every_key_of_its_buckets_once(probed):
    rules = ruleset(*(f'on: oss, bucket: [bkt, ccc], key: "t{i}/_SUCCESS"' for i in range(10)), 'on: oss, bucket: [ccc, bkt], '
                    'key: "{table}/_SUCCESS"', 'on: oss, bucket: ddd, key: "**"')
    assert len(lint.warnings(rules)) == 10
    assert sorted(probed) == [(f"r{i}", "r10") for i in range(10)]


def test_on_a_topic_or_queue_only_pairs_with_a_rule_without_a_pattern_are_compared(probed):
    rules = ruleset(*(f"on: mns, topic: done, message: {{job: [j{i}]}}" for i in range(30)), "on: mns, topic: done",
                    *(f"on: mns, queue: q, attributes: {{a: [x{i}]}}" for i in range(30)))
    assert len(lint.warnings(rules)) == 30
    assert sorted(probed) == sorted((f"r{i}", "r30") for i in range(30))


def test_rules_on_one_timer_are_each_compared():
    rules = ruleset(*(f"on: timer, timer: t{i % 3}" for i in range(9)))
    assert [(p.rule, p.message) for p in lint.warnings(rules)][:3] == [
        ("r3", "overlaps rule 'r0': same timer"), ("r6", "overlaps rule 'r0': same timer"),
        ("r4", "overlaps rule 'r1': same timer")]
    assert lint.warnings(rules) == every_pair(rules)


SEGMENTS = ["a", "b", "ab", "x.done", "*", "**", "{n}", "{bizdate:%Y%m%d}", "{cycle:%Y%m%d%H}", "_SUCCESS", "dt=", "",
            "p?", "$[yyyymmdd]"]


def random_rules(rng: random.Random):
    rules = []
    for _ in range(rng.randrange(2, 30)):
        kind = rng.choice(["oss", "oss", "oss", "mns", "timer"])
        if kind == "oss":
            while True:
                parts = [rng.choice(SEGMENTS) for _ in range(rng.randrange(1, 4))]
                key = ("/" if rng.random() < 0.7 else "").join(parts)
                if key and not ("{bizdate" in key and "{cycle" in key) and all(
                        key.count(c) < 2 for c in ("{n}", "{bizdate", "{cycle")) and "***" not in key:
                    break
            events = rng.choice(["", ', events: ["ObjectRemoved:*"]', ', events: ["ObjectCreated:PutObject"]'])
            rules.append(f'on: oss, bucket: {rng.choice(["bk1", "bk2", "[bk1, bk2]", "[bk2, bk3]"])}, key: "{key}"{events}')
        elif kind == "mns":
            pattern = rng.choice(["", ", message: {a: [x]}", ", attributes: {a: [y]}"])
            rules.append(f"on: mns, {rng.choice(['topic: t1', 'topic: t2', 'queue: q1', 'queue: t1'])}{pattern}")
        else:
            rules.append(f"on: timer, timer: {rng.choice(['n1', 'n2'])}")
    return ruleset(*rules)


@pytest.mark.parametrize("seed", range(60))
def test_the_warnings_are_those_of_probing_every_pair_in_the_same_order(seed):
    rules = random_rules(random.Random(seed))
    assert lint.warnings(rules) == every_pair(rules)


def test_a_key_longer_than_oss_allows_is_still_told():
    long = "k" * 1100
    rules = ruleset(f'on: oss, bucket: bkt, key: "{long}/{{bizdate:%Y%m%d}}"', f'on: oss, bucket: bkt2, key: "{long[:1000]}"')
    assert [(p.rule, p.field) for p in lint.warnings(rules)] == [("r0", "key")]


# ---- templates that mean more to their writer than to dwtrigger ----------------------------------------------

def test_regex_glob_and_dataworks_lookalikes_are_told_per_file_rule_and_field():
    rules = ruleset('on: oss, bucket: bkt, key: "in/part-?.csv", require: ["oss://ref/cal/$[yyyymmdd-1].ok", '
                    '"in/(csv|json)/_SUCCESS"]',
                    'on: timer, timer: nightly, bucket: bkt, require: ["exports/dt=$bizdate/_SUCCESS"]',
                    'on: oss, bucket: bkt2, key: "exports/dt={bizdate:%Y%m%d}/**/*.parquet"')
    assert [str(p) for p in lint.warnings(rules)] == [
        "r.yaml:4: rule 'r0' field 'key': '?' (offset 8) is a literal '?' here, not a glob's one character: "
        "write '*' (any text within a segment) or '{name}'",
        "r.yaml:4: rule 'r0' field 'require[0]': in the key 'cal/$[yyyymmdd-1].ok': '$[yyyymmdd-1]' (offset 4) is a "
        "DataWorks scheduling parameter, which dwtrigger does not expand: it matches only that text; write "
        "'{bizdate:%Y%m%d}'",
        "r.yaml:4: rule 'r0' field 'require[1]': '(csv|json)' (offset 3) reads as a regular expression, which "
        "templates do not have: it matches only that text; write '*' or '{name}', or one rule (or `require` entry) "
        "for each alternative",
        "r.yaml:5: rule 'r1' field 'require[0]': '$bizdate' (offset 11) is a DataWorks scheduling parameter, which "
        "dwtrigger does not expand: it matches only that text; write '{bizdate:%Y%m%d}'",
    ]


def test_validate_prints_the_lookalike_warnings_and_exits_0(tmp_path):
    """As a user runs it: the rule's line, the field, what the text is and what to write instead; rules still OK."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("""\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: "^exports/orders/dt=$[yyyymmdd]/.*$"
    trigger: [{workspace: 1, node: 2}]
  - name: partner
    on: oss
    bucket: etl-landing
    key: "inbound/${partner}/[0-9]*.csv"
    trigger: [{workspace: 1, node: 3}]
""")
    result = CliRunner().invoke(main, ["validate", str(rules)])
    assert result.exit_code == 0 and result.stdout == f"{rules}: 2 rules OK, 6 warnings\n"
    regex = "reads as a regular expression, which templates do not have: it matches only that text;"
    assert result.stderr.splitlines() == [
        f"warning: {rules}:4: rule 'orders' field 'key': '^' (offset 0) {regex} drop it: a template always matches "
        "the whole key",
        f"warning: {rules}:4: rule 'orders' field 'key': '$[yyyymmdd]' (offset 19) is a DataWorks scheduling "
        "parameter, which dwtrigger does not expand: it matches only that text; write '{bizdate:%Y%m%d}' if that "
        "date is the business date ($[...] counts from the scheduled time: for a daily node, the day after)",
        f"warning: {rules}:4: rule 'orders' field 'key': '.*' (offset 31) {regex} write '*' (any text within a "
        "segment) or '**' (across segments)",
        f"warning: {rules}:4: rule 'orders' field 'key': '$' (offset 33) {regex} drop it: a template always matches "
        "the whole key",
        f"warning: {rules}:9: rule 'partner' field 'key': '$' (offset 8) is literal text before the capture "
        "{partner}: write '{partner}' if the key has no '$'",
        f"warning: {rules}:9: rule 'partner' field 'key': '[0-9]' (offset 19) is literal text here, not a set of "
        "characters: write '*' (any text within a segment) or '{name}'",
    ]


def test_validate_refuses_a_regex_count_and_a_dataworks_capture_saying_what_to_write(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("""\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - {name: a, on: oss, bucket: etl-landing, key: "in/dt=${bizdate}/x", trigger: [{workspace: 1, node: 2}]}
  - {name: b, on: oss, bucket: etl-landing, key: "in/\\\\d{8}/x", trigger: [{workspace: 1, node: 3}]}
""")
    result = CliRunner().invoke(main, ["validate", str(rules)])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{rules}:4: rule 'a' field 'key': {{bizdate}} at offset 7 needs a format, e.g. {{bizdate:%Y%m%d}} "
        "(DataWorks' parameters are not expanded: write '{bizdate:%Y%m%d}', no '$')",
        f"{rules}:5: rule 'b' field 'key': bad capture name '8' at offset 5: use letters, digits and '_', not "
        "starting with a digit ('{8}' repeats in a regular expression; templates have none: write '*' (any text "
        "within a segment) or '{name}')",
    ]
