"""`dwtrigger validate`'s warnings: the same as probing every pair of rules, found by probing only the pairs that can
overlap (the test_cli test shows them as a user sees them)."""
import random
import re
from itertools import combinations

import pytest
from click.testing import CliRunner

from dwtrigger.ops import lint
from dwtrigger.ops.cli import main
from dwtrigger.rules import Problem, parse_rules
from dwtrigger.templates import Template, TemplateError, compile_template

HEAD = "version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n"


def ruleset(*rules: str):
    return parse_rules(HEAD + "".join(f"  - {{name: r{i}, {body}, trigger: [{{workspace: 1, node: {i + 1}}}]}}\n"
                                      for i, body in enumerate(rules)), "r.yaml")


def every_pair(rules):
    """The warnings by probing every pair: what `warnings` must say."""
    found = []
    for r in rules.rules:
        found += [Problem(rules.path, r.line, r.name, field, message) for field, message in lint._never(r)]
        found += [Problem(rules.path, line or r.line, r.name, field, message)
                  for line, field, message in lint._literal(r)]
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


# ---- thousands of rules: the work and the warnings stay bounded, whatever the keys share --------------------

def big(*bodies: str, bucket: str = "bkt"):
    """A rules file of OSS rules in one bucket (bodies are keys) or, for bodies starting 'on:', of those rules."""
    return ruleset(*(b if b.startswith("on:") else f'on: oss, bucket: {bucket}, key: "{b}"' for b in bodies))


DATE = "{bizdate:%Y-%m-%d}"
SHAPES = {      # 2,000 keys that share what used to make validate compare every pair
    "prefix": lambda i: f"exports/shared/{{table}}/part-{i}.csv",
    "suffix": lambda i: f"{{table}}/v{i}/dt={DATE}/_SUCCESS",
    "middle": lambda i: f"exports/{{table}}/v{i}/dt={DATE}/_SUCCESS",
    "identical": lambda i: f"exports/{{table}}/dt={DATE}/_SUCCESS",
    "globstar": lambda i: f"**/v{i}/**/_SUCCESS" if i % 2 else f"data/**/t{i}/_SUCCESS",
    "star": lambda i: "exports/**" if i == 1000 else f"exports/t{i}/dt={DATE}/_SUCCESS",
    "crowd": lambda i: f"exports/{{table}}-v{i}-{{part}}.csv",       # all overlap; no example shows it
    "timer": lambda i: "on: timer, timer: nightly",
    "topic": lambda i: "on: mns, topic: done" if i == 0 else f'on: mns, topic: done, message: {{job: ["j{i}"]}}',
}


@pytest.fixture
def matched(monkeypatch):
    """How many keys `warnings` matches against a template (the costly part of a probe)."""
    count = [0]
    match = Template.match

    def counting(self, key):
        count[0] += 1
        return match(self, key)

    monkeypatch.setattr(Template, "match", counting)
    return count


@pytest.mark.parametrize("shape", SHAPES)
def test_2000_rules_take_work_and_warnings_in_proportion_whatever_their_keys_share(shape, probed, matched):
    n = 2000
    found = lint.warnings(big(*(SHAPES[shape](i) for i in range(n))))
    assert len(probed) + matched[0] <= 4 * n            # the old check: up to n * (n - 1) / 2 = 1,999,000 probes
    assert len(found) <= 2 + lint.LISTED


def test_an_overlap_among_2000_rules_that_share_their_prefix_and_suffix_is_told(probed, matched):
    rules = big(*(SHAPES["middle"](i) for i in range(2000)), "exports/*/v777/dt=*/_SUCCESS")
    assert [str(p) for p in lint.warnings(rules)] == [
        "r.yaml:2004: rule 'r2000': overlaps rule 'r777': key 'exports/x/v777/dt=2026-01-01/_SUCCESS' in bucket 'bkt' "
        "matches both"]
    assert len(probed) + matched[0] <= 10


def test_a_crowd_of_keys_is_told_unchecked_once_and_hides_no_other_overlap():
    """Keys differing inside a segment all overlap, with no example to show it: they are probed up to the limit,
    the rest told as one warning; overlaps elsewhere, even among keys with their prefix, are still probed."""
    rules = big(*(SHAPES["crowd"](i) for i in range(2000)), "exports/a/b.csv", "exports/*/b.csv", "logs/x",
                "logs/*")
    found = [str(p) for p in lint.warnings(rules)]
    assert found[:2] == [
        "r.yaml:2005: rule 'r2001': overlaps rule 'r2000': key 'exports/a/b.csv' in bucket 'bkt' matches both",
        "r.yaml:2007: rule 'r2003': overlaps rule 'r2002': key 'logs/x' in bucket 'bkt' matches both"]
    [unchecked] = found[2:]
    assert re.fullmatch(r"r\.yaml:4: rule 'r0': 2,000 rules in bucket 'bkt' have keys starting 'exports/' and ending "
                        r"'\.csv' that their literal text does not tell apart: overlaps with them were not all checked "
                        r"\(1,99\d,\d{3} candidate pairs were not probed: validate stops after 6,008 probes of one "
                        r"key against another\)", unchecked), unchecked


def test_many_overlaps_are_told_a_few_per_rule_and_alike_rules_once():
    rules = big(*(f"exports/t{i}/_SUCCESS" for i in range(150)), "exports/**",          # one rule over 150
                *(["logs/{table}/_SUCCESS", "logs/{t}/_SUCCESS"] * 3),                   # 6 alike, capture names aside
                "logs/**/_SUCCESS", *["on: timer, timer: nightly"] * 3, "on: mns, queue: q", "on: mns, queue: q",
                "on: mns, queue: q, message: {a: [b]}")
    assert [str(p) for p in lint.warnings(rules)] == [
        "r.yaml:154: rule 'r150': overlaps rule 'r0': key 'exports/t0/_SUCCESS' in bucket 'bkt' matches both",
        "r.yaml:154: rule 'r150': overlaps rule 'r1': key 'exports/t1/_SUCCESS' in bucket 'bkt' matches both",
        "r.yaml:154: rule 'r150': overlaps rule 'r2': key 'exports/t2/_SUCCESS' in bucket 'bkt' matches both",
        "r.yaml:155: rule 'r151': overlaps rules 'r152', 'r153', 'r154' and 2 more: all 6 have the same bucket, events "
        "and key (capture names aside), and key 'logs/x/_SUCCESS' in bucket 'bkt' matches them all",
        "r.yaml:161: rule 'r157': overlaps rule 'r151' and the 5 rules like it: key 'logs/x/_SUCCESS' in bucket 'bkt' "
        "matches both",
        "r.yaml:162: rule 'r158': overlaps rules 'r159', 'r160': all 3 are on timer 'nightly'",
        "r.yaml:166: rule 'r162': overlaps rule 'r161': same queue and one has no message/attributes pattern",
        "r.yaml:167: rule 'r163': overlaps rule 'r161' and the rule like it: same queue and one has no "
        "message/attributes pattern",
        "r.yaml:154: rule 'r150': also overlaps 147 more rules: 'r3', 'r4', 'r5' and 144 more",
    ]


def test_the_look_ups_have_a_limit_too(monkeypatch):
    monkeypatch.setattr(lint, "LOOKUPS_PER_RULE", 0)
    monkeypatch.setattr(lint, "LOOKUPS", 3)
    found = [str(p) for p in lint.warnings(big(*(f"exports/t{i}/**" for i in range(5)), "exports/t1/x"))]
    assert found == [   # r0 and r1 looked up (2 each), then no more: what r1's look-up found is still told
        "r.yaml:9: rule 'r5': overlaps rule 'r1': key 'exports/t1/x' in bucket 'bkt' matches both",
        "r.yaml:6: rule 'r2': the keys of 4 rules were not compared with the others (validate looks up at most 3 "
        "parts of keys): overlaps with them were not checked"]


def test_capture_names_aside_means_the_same_keys():
    assert lint._alike("a/{table}/{bizdate:%Y}/{x}") == lint._alike("a/{t}/{bizdate:%Y}/{y}") == "a/{}/{bizdate:%Y}/{}"
    assert len({lint._alike(s) for s in ("a/{{x}}", "a/{{y}}", "a/{x}", "a/{{{x}}}", "{bizdate:%Y{x}")}) == 5
    assert lint._alike("{bizdate:%Y{x}") == "{bizdate:%Y{x}"      # a date's format is its own (here: '{x' literal)


# Keys that crowd a bucket: shared starts, `**` and `**/`, dates that write '/', whole literal segments.
PARTS = ["a", "b", "v1", "v2", "x.done", "*", "**", "{n}", "{m}", "{bizdate:%Y%m%d}", "{bizdate:%Y/%m/%d}",
         "{cycle:%Y%m%d%H}", "_SUCCESS", f"dt={DATE}", "", "p*", "*q", "t{n}", "v1*"]


def crowded_rules(rng: random.Random):
    rules = []
    for _ in range(rng.randrange(40, 110)):
        while True:
            parts = [rng.choice(PARTS) for _ in range(rng.randrange(1, 5))]
            key = rng.choice(["", "", "exports/", "exports/a/", "exports/*/", "**/"]) + \
                ("/" if rng.random() < 0.8 else "").join(parts)
            try:
                compile_template(key)
            except TemplateError:
                continue
            if key:
                break
        events = rng.choice(["", "", ', events: ["ObjectRemoved:*"]'])
        rules.append(f'on: oss, bucket: {rng.choice(["bk1", "bk1", "[bk1, bk2]", "bk2"])}, key: "{key}"{events}')
    return ruleset(*rules)


@pytest.mark.parametrize("seed", range(20))
def test_in_crowded_buckets_the_overlaps_are_those_of_probing_every_pair(seed):
    rules = crowded_rules(random.Random(seed))
    expected = [p for p in every_pair(rules) if p.field is None]
    try:
        overlaps = lint._Overlaps(rules)
        assert overlaps._each() == expected and overlaps.unchecked == []
    finally:
        lint._EXAMPLES.clear()


def test_a_rule_s_own_notify_without_expect_is_a_warning_and_one_from_defaults_is_not():
    rules = parse_rules("""\
version: 1
defaults:
  timezone: Asia/Shanghai
  region: cn-shanghai
  ledger: oss://led-ger/
  notify: {webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}}
rules:
  - {name: inherits, on: timer, timer: t, trigger: [{workspace: 1, node: 1}]}
  - name: own
    on: timer
    timer: u
    notify: {dingtalk: {webhook_env: DT_WEBHOOK, secret_env: DT_SECRET}}
    trigger: [{workspace: 1, node: 2}]
  - {name: checked, on: timer, timer: v, expect: {by: "06:00"}, notify: {dingtalk: {webhook_env: A, secret_env: B}},
     trigger: [{workspace: 1, node: 3}]}
""", "r.yaml")
    assert [str(p) for p in lint.warnings(rules)] == [
        "r.yaml:12: rule 'own' field 'notify': sends no notice without `expect`: notices come from the sweep, which "
        "checks only rules with `expect` (add `expect`, or drop `notify`)"]
