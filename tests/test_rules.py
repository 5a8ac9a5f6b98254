"""The rules file: typed objects once, strict validation, errors that name file, line, rule and field.

Every test here runs twice: with libyaml's parser (when PyYAML has it, as the functions do) and with PyYAML's
pure-Python one. Only the events come from either; everything the tests check is the same code after them.
"""
import gc
import re
import subprocess
import sys
from dataclasses import fields, replace
from datetime import date, datetime, time
from pathlib import Path

import pytest
import yaml

from dwtrigger import rules as rules_module, yamldoc
from dwtrigger.rules import Channel, FieldSpec, Required, Rule, RulesError, Target, load_rules, parse_rules
from dwtrigger.sources.kafka import KafkaRule
from dwtrigger.sources.mns import MnsRule
from dwtrigger.sources.oss import OssRule
from dwtrigger.sources.rabbitmq import RabbitmqRule
from dwtrigger.sources.rocketmq import RocketmqRule
from dwtrigger.sources.timer import TimerRule

ROOT = Path(__file__).resolve().parents[1]
LIBYAML = getattr(getattr(yaml, "cyaml", None), "CParser", None)
LOADERS = {"libyaml": LIBYAML, "python": yamldoc._PyEvents}
LOADING = yamldoc._EVENTS          # what loads rules outside these tests


@pytest.fixture(autouse=True, params=list(LOADERS))
def loader(request, monkeypatch):
    """The parser under every test of this file."""
    if LOADERS[request.param] is None:
        pytest.skip("PyYAML was built without libyaml")
    monkeypatch.setattr(yamldoc, "_EVENTS", LOADERS[request.param])
    return request.param


HEAD = """\
version: 1
defaults:
  timezone: Asia/Shanghai
  region: cn-shanghai
rules:
"""


def problems(text: str):
    with pytest.raises(RulesError) as err:
        parse_rules(HEAD + text, "r.yaml")
    return err.value.problems


def only(text: str):
    found = problems(text)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_example_rules_file_loads_into_typed_rules():
    rules = load_rules(str(ROOT / "rules.yaml"))
    orders = rules.named("orders-daily")
    assert orders.on == "oss" and orders.buckets == ("etl-landing",)
    assert orders.key.names == ("bizdate",)
    assert orders.trigger[0].at == time(0, 30) and orders.trigger[0].lookup is True
    assert orders.env == "PROD" and orders.api == "2020-05-18"
    assert str(rules.named("finance-close").timezone) == "Europe/Berlin"      # a rule overrides defaults
    assert str(rules.named("nightly").timezone) == "Asia/Shanghai"           # ... or inherits them
    assert rules.named("clicks-hourly").buckets == ("etl-landing", "etl-landing-backup")
    assert [r.name for r in rules.for_source("timer")] == ["nightly"]
    assert rules.named("partner-drop").events == {"ObjectCreated:PutObject", "ObjectCreated:CompleteMultipartUpload"}


WHOLE_OBJECTS = frozenset(f"ObjectCreated:{a}" for a in (
    "PutObject", "PostObject", "CompleteMultipartUpload", "PutSymlink", "CopyObject"))


def own_fields(rule):
    """The fields a rule's source adds to the common Rule, templates and patterns by their text."""
    common = {f.name for f in fields(Rule)}
    return {f.name: plain(getattr(rule, f.name)) for f in fields(rule) if f.name not in common}


def plain(value):
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, Required):
        return value.bucket, value.key.source
    return getattr(value, "source", value)


def test_the_example_rules_load_into_one_typed_rule_per_source_with_only_its_fields():
    rules = load_rules(str(ROOT / "rules.yaml"))
    assert [(type(r), r.name, r.on, own_fields(r)) for r in rules.rules] == [
        (OssRule, "orders-daily", "oss", {"buckets": ("etl-landing",), "events": WHOLE_OBJECTS, "require": (),
                                          "key": "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"}),
        (OssRule, "inventory-daily", "oss", {"buckets": ("etl-landing",), "events": WHOLE_OBJECTS, "require": (),
                                             "key": "exports/inventory/dt={bizdate:%Y%m%d}/_SUCCESS"}),
        (OssRule, "sales-complete", "oss", {"buckets": ("etl-landing",), "events": WHOLE_OBJECTS,
                                            "key": "exports/sales/dt={bizdate:%Y-%m-%d}/orders/_SUCCESS",
                                            "require": ((None, "exports/sales/dt={bizdate:%Y-%m-%d}/customers/_SUCCESS"),
                                                        (None, "exports/sales/dt={bizdate:%Y-%m-%d}/items/*.done"))}),
        (OssRule, "clicks-hourly", "oss", {"buckets": ("etl-landing", "etl-landing-backup"), "events": WHOLE_OBJECTS,
                                           "require": (), "key": "logs/clicks/{cycle:%Y%m%d%H}/*.done"}),
        (OssRule, "partner-drop", "oss", {"buckets": ("etl-landing",), "require": (), "key": "inbound/partner/**",
                                          "events": {"ObjectCreated:PutObject",
                                                     "ObjectCreated:CompleteMultipartUpload"}}),
        (MnsRule, "finance-close", "mns", {"topic": "etl-done", "queue": None, "attributes": None,
                                           "message": {"job": ["finance-close"],
                                                       "status": [{"anything-but": ["FAILED", "CANCELLED"]}]},
                                           "date_field": FieldSpec(("bizdate",), "%Y%m%d", is_cycle=False)}),
        (MnsRule, "billing-feed", "mns", {"topic": "billing-done", "queue": None, "message": None,
                                          "attributes": {"team": ["billing"]}, "date_field": None}),
        (MnsRule, "crm-export", "mns", {"topic": None, "queue": "etl-events", "attributes": None, "date_field": None,
                                        "message": {"source": [{"prefix": "crm"}], "rows": [{"numeric": [">", 0]}]}}),
        (TimerRule, "nightly", "timer", {"timer": "nightly", "date_field": None, "bucket": None, "require": ()}),
        (RocketmqRule, "payments-settled", "rocketmq", {"topic": "payments", "group": None, "tags": ("settled",),
                                                         "attributes": None,
                                                         "message": {"status": ["OK"]},
                                                         "date_field": FieldSpec(("bizdate",), "%Y-%m-%d", False)}),
        (KafkaRule, "ads-ingest", "kafka", {"topic": "ad-clicks", "group": None, "attributes": {"team": ["ads"]},
                                            "message": {"job": ["ads-ingest"]},
                                            "date_field": FieldSpec(("bizdate",), "%Y%m%d", False)}),
        (RabbitmqRule, "hr-sync", "rabbitmq", {"queue": "hr-sync", "attributes": None, "date_field": None,
                                               "message": {"event": ["sync-done"]}}),
    ]


def test_replace_keeps_each_rule_its_own_type_and_source():
    """conftest's on_api moves rules to another API with dataclasses.replace."""
    moved = [replace(r, api="2024-05-18", trigger=(Target(1, 2, None, True),))
             for r in load_rules(str(ROOT / "rules.yaml")).rules]
    assert [(type(r).__name__, r.on, r.api, r.trigger[0].node) for r in moved if r.name in ("orders-daily",
            "crm-export", "nightly")] == [("OssRule", "oss", "2024-05-18", 2), ("MnsRule", "mns", "2024-05-18", 2),
                                          ("TimerRule", "timer", "2024-05-18", 2)]
    with pytest.raises(ValueError, match="init=False"):
        replace(moved[0], on="mns")                     # a rule's source is its type


def test_a_wildcard_event_means_a_whole_object_exists():
    """UploadPart and friends fire before the object exists: `*` leaves them out, naming one takes it."""
    rules = parse_rules(HEAD + """\
  - {name: default, on: oss, bucket: b, key: k, trigger: [{workspace: 1, node: 2}]}
  - {name: parts, on: oss, bucket: b, key: k, events: ["ObjectCreated:UploadPart", "ObjectRemoved:*"], trigger: [{workspace: 1, node: 3}]}
""")
    assert rules.named("default").events == {f"ObjectCreated:{a}" for a in (
        "PutObject", "PostObject", "CompleteMultipartUpload", "PutSymlink", "CopyObject")}
    assert rules.named("parts").events == {"ObjectCreated:UploadPart", "ObjectRemoved:DeleteObject",
                                           "ObjectRemoved:DeleteObjects", "ObjectRemoved:AbortMultipartUpload"}


def test_on_is_a_key_not_yaml_true_and_times_stay_strings():
    rules = parse_rules(HEAD + """\
  - name: a
    on: timer
    timer: t
    trigger: [{workspace: 1, node: 2, at: "00:30"}]
""")
    assert rules.rules[0].on == "timer"
    unquoted = parse_rules(HEAD + """\
  - name: a
    on: timer
    timer: t
    trigger: [{workspace: 1, node: 2, at: 00:30}]
""")
    assert unquoted.rules[0].trigger[0].at == time(0, 30)     # YAML 1.1 would have read 00:30 as 30
    p = only("""\
  - name: a
    on: timer
    timer: t
    trigger: [{workspace: 1, node: 2, at: 0030}]
""")
    assert (p.rule, p.field, p.line) == ("a", "trigger[0].at", 9)
    assert p.message == "must be HH:MM (24-hour), got '0030'"


def test_unknown_key_names_rule_field_and_line():
    p = only("""\
  - name: orders
    on: oss
    bucket: b
    key: "x/_SUCCESS"
    trigger:
      - {workspace: 1, node: 2, nod: 3}
""")
    assert (p.file, p.line, p.rule, p.field) == ("r.yaml", 11, "orders", "trigger[0].nod")
    assert p.message == "unknown key (did you mean 'node'?)"
    assert str(p) == "r.yaml:11: rule 'orders' field 'trigger[0].nod': unknown key (did you mean 'node'?)"


def test_every_problem_is_reported_at_once():
    found = problems("""\
  - name: one
    on: oss
    bucket: b
    key: "x/{bizdate:%Q}"
    trigger: [{workspace: 1, node: 2}]
  - name: two
    on: timer
    timezone: Mars/Olympus
    timer: t
    trigger: [{workspace: 1, node: 2}]
  - name: one
    on: timer
    timer: t
    trigger: [{workspace: 1, node: 3}]
""")
    assert [(p.rule, p.field) for p in found] == [("one", "key"), ("two", "timezone"), ("one", "name")]
    assert found[2].message == "already the name of the rule at line 6"
    assert found[1].line == 13 and "Mars/Olympus" in found[1].message


@pytest.mark.parametrize("body, field, words", [
    ("    on: timer\n    timer: t\n    api: \"2024-05-19\"\n", "api", "must be one of '2020-05-18', '2024-05-18'"),
    ("    on: timer\n    timer: t\n    env: TEST\n", "env", "must be PROD or DEV (in any case), got 'TEST'"),
    ("    on: timer\n    timer: t\n    role_arn: arn:aws:iam::1:role/x\n", "role_arn", "acs:ram::"),
    ("    on: timer\n    timer: t\n    endpoint: https://dataworks.cn-shanghai.aliyuncs.com\n", "endpoint", "scheme"),
    ("    on: mns\n    topic: t\n    queue: q\n", "topic", "not both"),
    ("    on: mns\n    topic: \"\"\n", "topic", "must not be empty"),
    ("    on: mns\n    topic: t\n    message: {status: [{anything_but: x}]}\n", "message.status[0]", "unknown"),
    ("    on: mns\n    topic: t\n    bizdate: {field: d, format: \"%d/%m\"}\n", "bizdate.format", "%Y"),
    ("    on: oss\n    bucket: b\n    key: k\n    events: [\"oss:ObjectCreated:PutObject\"]\n", "events[0]", "prefix"),
    ("    on: oss\n    bucket: b\n    key: k\n    topic: t\n", "topic", "not used"),
    ("    on: timer\n    timer: t\n    bucket: [a, b]\n    require: [x]\n", "bucket", "expected `str | null`"),
    ("    on: oss\n    key: k\n", "bucket", "required"),
    ("    on: timer\n    timer: t\n    trigger: [{workspace: 1, node: 2, lookup: false}]\n", "trigger[0].lookup", "at"),
    ("    on: timer\n    timer: t\n    trigger: [{workspace: 1, node: 2, at: \"24:00\"}]\n", "trigger[0].at", "HH:MM"),
    ("    on: timer\n    timer: t\n    trigger: [{workspace: one, node: 2}]\n", "trigger[0].workspace", "int"),
    ("    on: ftp\n    timer: t\n", "on", "expected one of"),
])
def test_rule_errors_name_the_field(body, field, words):
    text = "  - name: r1\n" + body
    if "trigger" not in body:
        text += "    trigger: [{workspace: 1, node: 2}]\n"
    p = only(text)
    assert (p.rule, p.field) == ("r1", field), str(p)
    assert words in p.message, str(p)


# ---- each source takes only its own fields (a tagged union on `on`) -------------------------------------

@pytest.mark.parametrize("body, field, line, message", [
    ("    on: mns\n    topic: t\n    require: [x]\n", "require", 9, "not used by `on: mns` rules"),
    ("    on: mns\n    bucket: b\n    topic: t\n", "bucket", 8, "not used by `on: mns` rules"),
    ("    on: timer\n    timer: t\n    key: k\n", "key", 9, "not used by `on: timer` rules"),
    ("    on: timer\n    timer: t\n    events: [\"ObjectCreated:*\"]\n", "events", 9, "not used by `on: timer` rules"),
    ("    on: oss\n    bucket: b\n    key: k\n    topic: t\n", "topic", 10, "not used by `on: oss` rules"),
    ("    on: oss\n    bucket: b\n    key: k\n    bizdate: {field: d, format: \"%Y%m%d\"}\n", "bizdate", 10,
     "not used by `on: oss` rules"),
    ("    on: oss\n    bucket: b\n    key: k\n    timer: t\n", "timer", 10, "not used by `on: oss` rules"),
    ("    on: timer\n    timer: t\n    bucket: b\n", "bucket", 9,
     "only names where required objects are, and this rule has no `require`"),
    ("    on: oss\n    bucket: b\n    key: k\n    buckets: [c]\n", "buckets", 10, "unknown key (did you mean 'bucket'?)"),
    ("    on: ftp\n    timer: t\n", "on", 7, "invalid value 'ftp': expected one of oss, mns, timer, rocketmq, kafka, rabbitmq"),
])
def test_a_field_on_the_wrong_source_names_the_field_and_the_source(body, field, line, message):
    p = only("  - name: r1\n" + body + "    trigger: [{workspace: 1, node: 2}]\n")
    assert (p.rule, p.field, p.line, p.message) == ("r1", field, line, message)


def test_every_field_of_another_source_is_named_at_once():
    found = problems("""\
  - name: moved
    on: mns
    bucket: b
    topic: t
    key: k
    require: [x]
    trigger: [{workspace: 1, node: 2}]
""")
    assert [(p.field, p.line, p.message) for p in found] == [("bucket", 8, "not used by `on: mns` rules"),
                                                             ("key", 10, "not used by `on: mns` rules"),
                                                             ("require", 11, "not used by `on: mns` rules")]


def test_a_rule_without_on_is_told_so():
    p = only("  - {name: r1, trigger: [{workspace: 1, node: 2}]}\n")
    assert (p.rule, p.field, p.line, p.message) == ("r1", "on", 6, "required")


# ---- require ------------------------------------------------------------------------------------------

def test_require_entries_in_the_event_bucket_another_bucket_and_with_wildcards():
    rule = parse_rules(HEAD + """\
  - name: gated
    on: oss
    bucket: [landing, backup]
    key: "in/{region}/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    require:
      - "in/customers/{region}/day={bizdate:%Y%m%d}/_SUCCESS"
      - "oss://reference/rates/{bizdate:%Y%m%d}.csv"
      - "in/parts/{region}/*.csv"
      - "oss://landing/in/{region}/dt={bizdate:%Y-%m-%d}/_SUCCESS"
      - "logs/**/{{done}}"
    trigger: [{workspace: 1, node: 2}]
""").named("gated")
    assert plain(rule.require) == (
        (None, "in/customers/{region}/day={bizdate:%Y%m%d}/_SUCCESS"),
        ("reference", "rates/{bizdate:%Y%m%d}.csv"),
        (None, "in/parts/{region}/*.csv"),
        ("landing", "in/{region}/dt={bizdate:%Y-%m-%d}/_SUCCESS"),    # the rule's key, but only for backup's events
        (None, "logs/**/{{done}}"),
    )
    values = {**rule.key.match("in/eu/dt=2026-03-10/_SUCCESS"), "bizdate": date(2026, 3, 10)}
    assert [r.key.partial(values).source for r in rule.require] == [
        "in/customers/eu/day=20260310/_SUCCESS", "rates/20260310.csv", "in/parts/eu/*.csv",
        "in/eu/dt=2026-03-10/_SUCCESS", "logs/**/{done}"]


def test_require_may_use_the_cycle_when_the_key_captures_it():
    rule = parse_rules(HEAD + """\
  - {name: hourly, on: oss, bucket: b, key: "h/{cycle:%Y%m%d%H}/*.done", trigger: [{workspace: 1, node: 2}],
     require: ["m/{cycle:%Y-%m-%d-%H}/_SUCCESS", "d/{bizdate:%Y%m%d}/_SUCCESS"]}
""").named("hourly")
    assert plain(rule.require) == ((None, "m/{cycle:%Y-%m-%d-%H}/_SUCCESS"), (None, "d/{bizdate:%Y%m%d}/_SUCCESS"))


def test_every_refused_require_entry_is_named_with_its_line():
    found = problems("""\
  - name: gated
    on: oss
    bucket: b
    key: "in/{region}/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    require:
      - "in/{region}/ok"
      - "in/{customer}/{cycle:%Y%m%d%H}"
      - "oss://{x}/y"
      - "oss:///y"
      - "oss://b*/y"
      - "in/{region}/dt={bizdate:%Y-%m-%d}/_SUCCESS"
      - "oss://b/in/{region}/dt={bizdate:%Y-%m-%d}/_SUCCESS"
      - "oss://o/in/{x"
      - "a/***"
      - ""
    trigger: [{workspace: 1, node: 2}]
""")
    uses = "(require entries may use bizdate, region)"
    assert [(p.rule, p.field, p.line, p.message) for p in found] == [
        ("gated", "require[1]", 12, f"{{customer}} is not captured by the key {uses}"),
        ("gated", "require[1]", 12, f"{{cycle}} is not captured by the key {uses}"),
        ("gated", "require[2]", 13, "the bucket of oss://BUCKET/KEY must be a plain name (no '{' or '*'), got '{x}'"),
        ("gated", "require[3]", 14, "the bucket of oss://BUCKET/KEY must be a plain name (no '{' or '*'), got ''"),
        ("gated", "require[4]", 15, "the bucket of oss://BUCKET/KEY must be a plain name (no '{' or '*'), got 'b*'"),
        ("gated", "require[5]", 16, "repeats the rule's own key: the object that fired the rule is always there"),
        ("gated", "require[6]", 17, "repeats the rule's own key: the object that fired the rule is always there"),
        ("gated", "require[7]", 18, "in the key 'in/{x': unclosed '{' at offset 3 (write '{{' for a literal brace)"),
        ("gated", "require[8]", 19, "'***' at offset 2: use '*' (within a segment) or '**' (across)"),
        ("gated", "require[9]", 20, "empty template"),
    ]


@pytest.mark.parametrize("entries, message", [
    ("[]", "must list at least one key template (or leave `require` out)"),
    ("[" + ", ".join(f"r{i}" for i in range(21)) + "]",
     "at most 20 entries: each is an OSS call on every event the rule takes"),
])
def test_require_is_a_short_non_empty_list(entries, message):
    p = only(f"  - name: r1\n    on: oss\n    bucket: b\n    key: k\n    require: {entries}\n"
             "    trigger: [{workspace: 1, node: 2}]\n")
    assert (p.field, p.line, p.message) == ("require", 10, message)


def test_twenty_require_entries_are_fine():
    rule = parse_rules(HEAD + "  - {name: r1, on: oss, bucket: b, key: k, trigger: [{workspace: 1, node: 2}], "
                       "require: [" + ", ".join(f"r{i}" for i in range(20)) + "]}\n").named("r1")
    assert len(rule.require) == 20


def test_a_timer_rule_requires_objects_in_its_bucket():
    rule = parse_rules(HEAD + """\
  - name: nightly
    on: timer
    timer: nightly
    bucket: landing
    cycle: {field: at, format: "%Y%m%d%H"}
    require: ["done/{cycle:%Y%m%d%H}/_SUCCESS", "d/{bizdate:%Y-%m-%d}/*.csv", "oss://ref/r/{bizdate:%Y%m%d}"]
    trigger: [{workspace: 1, node: 2}]
""").named("nightly")
    assert isinstance(rule, TimerRule) and rule.bucket == "landing"
    assert plain(rule.require) == ((None, "done/{cycle:%Y%m%d%H}/_SUCCESS"), (None, "d/{bizdate:%Y-%m-%d}/*.csv"),
                                   ("ref", "r/{bizdate:%Y%m%d}"))
    assert rule.date_field == FieldSpec(("at",), "%Y%m%d%H", is_cycle=True)


@pytest.mark.parametrize("body, field, line, message", [
    ("    require: [\"d/{bizdate:%Y%m%d}\"]\n", "bucket", 6,
     "required with `require`: the bucket the required objects are in (or write each entry as oss://BUCKET/KEY)"),
    ("    bucket: b\n    require: [\"oss://o/d/{bizdate:%Y%m%d}\"]\n", "bucket", 9,
     "only names where required objects are, and every `require` entry names its own oss:// bucket"),
    ("    bucket: b\n    require: [\"d/{table}\"]\n", "require[0]", 10,
     "{table} is not known to a timer rule (require entries may use bizdate)"),
    ("    bucket: b\n    require: [\"d/{cycle:%Y%m%d%H}\"]\n", "require[0]", 10,
     "{cycle} is not known to a timer rule (require entries may use bizdate)"),
])
def test_timer_require_refusals(body, field, line, message):
    p = only("  - name: r1\n    on: timer\n    timer: t\n" + body + "    trigger: [{workspace: 1, node: 2}]\n")
    assert (p.rule, p.field, p.line, p.message) == ("r1", field, line, message)


def test_a_timer_rule_with_only_other_buckets_needs_no_bucket():
    rule = parse_rules(HEAD + "  - {name: r1, on: timer, timer: t, require: [\"oss://o/x\"], "
                              "trigger: [{workspace: 1, node: 2}]}\n").named("r1")
    assert (rule.bucket, plain(rule.require)) == (None, (("o", "x"),))


def test_lookup_false_is_fine_when_the_key_names_the_cycle():
    rules = parse_rules(HEAD + """\
  - name: hourly
    on: oss
    bucket: b
    key: "h/{cycle:%Y%m%d%H}.done"
    trigger: [{workspace: 1, node: 2, lookup: false}]
""")
    assert rules.rules[0].trigger[0].lookup is False


def test_timezone_and_region_are_required_somewhere():
    with pytest.raises(RulesError) as err:
        parse_rules("version: 1\nrules:\n  - {name: a, on: timer, timer: t, trigger: [{workspace: 1, node: 2}]}\n")
    assert [(p.field) for p in err.value.problems] == ["timezone", "region"]


@pytest.mark.parametrize("text, line, column", [
    ("version: 1\nrules:\n\t- name: a\n", 3, 1),
    ("version: 1\nrules:\n  - name: a\n  \t  on: oss\n", 4, 3),
    ("version: 1\ndefaults:\n\ttimezone: UTC\nrules: []\n", 3, 1),
    ("version: 1\nrules:\n  - name: a\n    on: oss\n\t\n    key: x\n", 5, 1),
    ("version: 1\nrules:\n  - name: a\n    trigger:\n      -\t{workspace: 1}\n", 5, 8),
])
def test_a_tab_is_named_where_it_is_not_as_a_raw_yaml_error(text, line, column):
    with pytest.raises(RulesError) as err:
        parse_rules(text, "f.yaml")
    assert str(err.value) == f"f.yaml:{line}: tab at line {line}, column {column}: YAML indents with spaces"


@pytest.mark.parametrize("text, words", [
    ("version: 2\nrules: []\n", "must be 1"),
    ("rules: [\n", "not valid YAML"),
    ("- just a list\n", "mapping"),
    ("version: 1\nrulez: []\n", "unknown key"),
])
def test_file_level_errors(text, words):
    with pytest.raises(RulesError) as err:
        parse_rules(text, "f.yaml")
    assert any(words in p.message for p in err.value.problems), str(err.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(str(tmp_path / "nope.yaml"))


# ---- hostile YAML: refused at a line, quickly, never a RecursionError or a hang ------------------------
# A bomb that were not refused would hang its test (old code: minutes to hours) or raise RecursionError.

BOMB = "YAML aliases expand this document past 1,000,000 nodes (an alias bomb?)"
DEEP = "YAML nested deeper than 64 levels"


def refused(text: str, path: str = "r.yaml"):
    with pytest.raises(RulesError) as err:
        parse_rules(text, path)
    assert len(err.value.problems) == 1, str(err.value)
    p = err.value.problems[0]
    assert (p.file, p.rule, p.field) == (path, None, None), str(p)
    return p


def laughs(levels: int) -> str:
    """a: nine x's; b: nine *a's; ... each level nine times the one before."""
    names = "abcdefghijklmnop"[:levels]
    return "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{name}: &{name} [{', '.join(['*' + before] * 9)}]\n" for before, name in zip(names, names[1:]))


def test_a_billion_laughs_is_refused_where_it_crosses_the_limit():
    # a..f expand to 10, 91, 820, 7,381, 66,430, 597,871 nodes; g on line 8 to 5,380,840; i to 435,848,050.
    p = refused(laughs(9), "bomb.yaml")
    assert (p.line, p.message) == (8, BOMB)
    assert str(p) == f"bomb.yaml:8: {BOMB}"


def test_many_aliases_to_one_big_node_are_refused_at_the_node_that_holds_them():
    # f is 597,871 nodes (line 7): a list of 1,000 of them crosses the limit as a whole.
    p = refused(laughs(6) + "rules: [" + ", ".join(["*f"] * 1000) + "]\n")
    assert (p.line, p.message) == (8, BOMB)


@pytest.mark.parametrize("text, line, anchor", [
    ("version: 1\nrules: &r [*r]\n", 2, "r"),
    (HEAD + "  - &rule\n    name: a\n    on: mns\n    topic: t\n    message:\n      x: [*rule]\n", 11, "rule"),
])
def test_a_recursive_alias_is_refused_at_the_alias(text, line, anchor):
    p = refused(text)
    assert (p.line, p.message) == (line, f"YAML alias *{anchor} is used inside its own anchor (a recursive alias)")


def nested(levels: int, flow: bool) -> str:
    """A rule whose message pattern nests `levels` objects, {a: {a: ... [x]}}, from line 11 (block style,
    one object a line) or all on line 10 (flow style). Counting every node as a level: the document, `rules`
    and the rule are levels 1-3, object k is level 3+k, its key and the innermost [x] 4+k, x 5+levels."""
    rule = HEAD + "  - name: deep\n    on: mns\n    topic: t\n    trigger: [{workspace: 1, node: 2}]\n    message:"
    if flow:
        return rule + " " + "{a: " * levels + "[x]" + "}" * levels + "\n"
    return rule + "\n" + "".join(" " * (6 + i) + "a:\n" for i in range(levels)) + " " * (6 + levels) + "[x]\n"


@pytest.mark.parametrize("flow, line", [(True, 10), (False, 71)])
def test_nesting_5000_deep_is_refused_where_it_crosses_64_levels(flow, line):
    p = refused(nested(5000, flow))
    assert (p.line, p.message) == (line, DEEP)                  # the key of object 61 is level 65


@pytest.mark.parametrize("flow, line", [(True, 10), (False, 71)])
def test_nesting_up_to_64_levels_loads_and_one_more_is_refused(flow, line):
    deep = parse_rules(nested(59, flow)).rules[0].message        # x is level 64
    doc = "x"
    for _ in range(59):
        doc = {"a": doc}
    assert deep.matches(doc) and not deep.matches({"a": doc})
    p = refused(nested(60, flow))                                # x is level 65
    assert (p.line, p.message) == (line, DEEP)


def test_aliases_cannot_nest_past_the_limit_either():
    """Each anchor nests the one before 20 objects deeper: written out, 200 of them would be 4,000 deep."""
    chain = "".join(f"      k{i}: &m{i} " + "{a: " * 20 + (f"*m{i - 1}" if i else "[x]") + "}" * 20 + "\n"
                    for i in range(200))
    p = refused(HEAD + "  - name: a\n    on: mns\n    topic: t\n    trigger: [{workspace: 1, node: 2}]\n"
                "    message:\n" + chain)
    # m0 is 22 levels high and m1 42, so *m1 (line 13), 24 levels down in k2, would reach level 66.
    assert (p.line, p.message) == (13, "YAML aliases nest this document deeper than 64 levels")


def summary(rules):
    """Every field of every rule but its line, templates and patterns by their text."""
    return [(type(r).__name__, {f.name: plain(getattr(r, f.name)) for f in fields(r) if f.name != "line"})
            for r in rules.rules]


def test_anchors_aliases_and_merge_keys_load_like_the_file_written_out():
    with_aliases = parse_rules(HEAD + """\
  - &orders
    name: orders
    on: oss
    bucket: &buckets [landing, backup]
    key: "orders/{bizdate:%Y%m%d}/_SUCCESS"
    trigger: &both
      - {workspace: 10001, node: 700001}
      - {workspace: 10001, node: 700002, at: "00:30"}
  - <<: *orders
    name: refunds
    key: "refunds/{bizdate:%Y%m%d}/_SUCCESS"
  - name: done
    on: mns
    topic: t
    message: {job: &jobs [orders, refunds], <<: {status: [ok]}}
    attributes: {job: *jobs}
    trigger: *both
""")
    written_out = parse_rules(HEAD + """\
  - name: orders
    on: oss
    bucket: [landing, backup]
    key: "orders/{bizdate:%Y%m%d}/_SUCCESS"
    trigger: [{workspace: 10001, node: 700001}, {workspace: 10001, node: 700002, at: "00:30"}]
  - name: refunds
    on: oss
    bucket: [landing, backup]
    key: "refunds/{bizdate:%Y%m%d}/_SUCCESS"
    trigger: [{workspace: 10001, node: 700001}, {workspace: 10001, node: 700002, at: "00:30"}]
  - name: done
    on: mns
    topic: t
    message: {job: [orders, refunds], status: [ok]}
    attributes: {job: [orders, refunds]}
    trigger: [{workspace: 10001, node: 700001}, {workspace: 10001, node: 700002, at: "00:30"}]
""")
    assert summary(with_aliases) == summary(written_out)
    assert [r.name for r in with_aliases.rules] == ["orders", "refunds", "done"]


def test_a_problem_inside_an_alias_is_reported_where_the_anchor_is_and_where_the_alias_is():
    found = problems("""\
  - name: one
    on: timer
    timer: t
    trigger: &t
      - {workspace: 1, node: 0}
  - name: two
    on: timer
    timer: t
    trigger: *t
""")
    assert [(p.rule, p.field, p.line) for p in found] == [("one", "trigger[0].node", 10),
                                                         ("two", "trigger[0].node", 14)]


def test_an_undefined_alias_is_not_valid_yaml():
    p = refused("version: 1\nrules: *nope\n")
    assert (p.line, p.message) == (2, "not valid YAML: found undefined alias 'nope'")


def test_a_ledger_and_expect_load_from_defaults_and_the_rule():
    rules = parse_rules(HEAD.replace("  region: cn-shanghai\n", "  region: cn-shanghai\n  ledger: oss://led-ger/dw/t/\n")
                        + """\
  - name: daily
    on: oss
    bucket: b
    key: "d/{bizdate:%Y%m%d}/_SUCCESS"
    expect: {by: "06:30"}
    trigger: [{workspace: 1, node: 2}]
  - {name: nightly, on: timer, timer: t, ledger: "oss://other/", expect: {by: "23:59", days: 31},
     trigger: [{workspace: 1, node: 2}]}
""")
    daily, nightly = rules.rules
    assert (daily.ledger.bucket, daily.ledger.prefix, str(daily.ledger)) == ("led-ger", "dw/t/", "oss://led-ger/dw/t/")
    assert (daily.expect.by, daily.expect.days) == (time(6, 30), 3)
    assert (str(nightly.ledger), nightly.expect.by, nightly.expect.days) == ("oss://other/", time(23, 59), 31)


def test_a_status_page_is_read_from_defaults_with_its_region():
    rules = parse_rules(HEAD.replace("  region: cn-shanghai\n", "  region: cn-shanghai\n  status_page: oss://etl-board/d/\n")
                        + "  - {name: r1, on: oss, bucket: b, key: k, trigger: [{workspace: 1, node: 2}]}\n")
    page = rules.status_page
    assert (page.bucket, page.prefix, page.region, str(page)) == ("etl-board", "d/", "cn-shanghai", "oss://etl-board/d/")
    assert parse_rules(HEAD + "  - {name: r1, on: oss, bucket: b, key: k, trigger: [{workspace: 1, node: 2}]}\n"
                       ).status_page is None


@pytest.mark.parametrize("defaults, rule, where, message", [
    ("  status_page: oss://etl-board/d/\n", "status_page: oss://etl-board/d/, ", ("r1", "status_page", 7),
     "only in `defaults`: the sweep publishes one page, the board of every rule"),
    ("  status_page: s3://etl-board/\n", "", (None, "defaults.status_page", 5),
     "must be oss://BUCKET/PREFIX/ (a bucket name, then an optional prefix ending in '/'), got 's3://etl-board/'"),
])
def test_a_status_page_refusal_says_why(defaults, rule, where, message):
    with pytest.raises(RulesError) as err:
        parse_rules(HEAD.replace("  region: cn-shanghai\n", "  region: cn-shanghai\n" + defaults)
                    + f"  - {{name: r1, on: oss, bucket: b, key: k, {rule}trigger: [{{workspace: 1, node: 2}}]}}\n",
                    "r.yaml")
    [p] = err.value.problems
    assert (p.rule, p.field, p.line, p.message) == (*where, message)


def test_a_status_page_needs_a_region_in_defaults():
    with pytest.raises(RulesError) as err:
        parse_rules("version: 1\ndefaults: {timezone: Asia/Shanghai, status_page: oss://etl-board/}\nrules:\n"
                    "  - {name: r1, on: oss, region: cn-shanghai, bucket: b, key: k, trigger: [{workspace: 1, "
                    "node: 2}]}\n", "r.yaml")
    assert [str(p) for p in err.value.problems] == [
        "r.yaml:2: field 'defaults.status_page': needs `region` in `defaults`: the region of its bucket (OSS signs "
        "for it)"]


@pytest.mark.parametrize("body, field, message", [
    ('    ledger: "s3://b/p/"\n', "ledger",
     "must be oss://BUCKET/PREFIX/ (a bucket name, then an optional prefix ending in '/'), got 's3://b/p/'"),
    ('    ledger: "oss://b/p"\n', "ledger",
     "must be oss://BUCKET/PREFIX/ (a bucket name, then an optional prefix ending in '/'), got 'oss://b/p'"),
    ('    ledger: "oss://Bucket/"\n', "ledger",
     "must be oss://BUCKET/PREFIX/ (a bucket name, then an optional prefix ending in '/'), got 'oss://Bucket/'"),
    ('    expect: {by: "6am"}\n', "expect.by",
     "must be HH:MM (24-hour, local time on the day after the business date), got '6am'"),
    ('    expect: {by: "06:00", days: 0}\n', "expect.days",
     "must be 1 to 31 (each day is a check per node on every sweep)"),
    ('    expect: {by: "06:00", days: 32}\n', "expect.days",
     "must be 1 to 31 (each day is a check per node on every sweep)"),
])
def test_ledger_and_expect_refusals_name_the_field(body, field, message):
    p = only("  - name: r1\n    on: oss\n    bucket: b\n    key: \"d/{bizdate:%Y%m%d}\"\n" + body
             + "    trigger: [{workspace: 1, node: 2}]\n")
    assert (p.rule, p.field, p.line, p.message) == ("r1", field, 10, message)


@pytest.mark.parametrize("rule, message", [
    ('{name: r1, on: oss, bucket: b, key: "h/{cycle:%Y%m%d%H}", expect: {by: "06:00"}, '
     'trigger: [{workspace: 1, node: 2}]}',
     "needs a key that captures {bizdate} and not {cycle}: the sweep looks for the files of each business date"),
    ('{name: r1, on: oss, bucket: b, key: "any/**", expect: {by: "06:00"}, trigger: [{workspace: 1, node: 2}]}',
     "needs a key that captures {bizdate} and not {cycle}: the sweep looks for the files of each business date"),
    ('{name: r1, on: timer, timer: t, expect: {by: "06:00"}, trigger: [{workspace: 1, node: 2}]}',
     "needs a `ledger` on `on: timer` rules: the sweep's evidence that an event asked for a release is the "
     "ledger's record of it"),
    ('{name: r1, on: mns, topic: t, expect: {by: "06:00"}, trigger: [{workspace: 1, node: 2}]}',
     "needs a `ledger` on `on: mns` rules: the sweep's evidence that an event asked for a release is the "
     "ledger's record of it"),
    ('{name: r1, on: oss, bucket: b, key: "d/{bizdate:%Y%m%d}", events: ["ObjectRemoved:*"], expect: {by: "06:00"}, '
     'trigger: [{workspace: 1, node: 2}]}',
     "cannot check a rule released by ObjectRemoved events: the sweep's evidence is that the key exists, which a "
     "removal does not leave behind (drop `expect`, or take ObjectCreated events)"),
    ('{name: r1, on: oss, bucket: b, key: "d/{bizdate:%Y%m%d}", expect: {by: "06:00"}, '
     'events: ["ObjectCreated:PutObject", "ObjectRemoved:DeleteObject"], trigger: [{workspace: 1, node: 2}]}',
     "cannot check a rule released by ObjectRemoved events: the sweep's evidence is that the key exists, which a "
     "removal does not leave behind (drop `expect`, or take ObjectCreated events)"),
])
def test_expect_needs_evidence_the_sweep_can_find(rule, message):
    p = only(f"  - {rule}\n")
    assert (p.rule, p.field, p.message) == ("r1", "expect", message)


def test_expect_takes_objects_that_stay():
    rules = parse_rules(HEAD + '  - {name: r1, on: oss, bucket: b, key: "d/{bizdate:%Y%m%d}", expect: {by: "06:00"}, '
                        'events: ["ObjectCreated:*", "ObjectModified:UpdateObjectMeta"], ledger: "oss://led-ger/", '
                        'trigger: [{workspace: 1, node: 2}]}\n')
    assert rules.rules[0].expect is not None


@pytest.mark.parametrize("region", ["x@127.0.0.1:8080/", "cn-shanghai.evil.example", "cn-shanghai/", "CN-SHANGHAI",
                                    "cn", "cn-shanghai#", "cn shanghai", "-cn-shanghai", "cn-٣"])
def test_a_region_is_a_region_id_not_a_host(region):
    """The region names the hosts signed calls go to (dataworks.<region>.aliyuncs.com, sts.<region>..., OSS's
    endpoints): anything but a region id could send them elsewhere."""
    p = only(f"  - {{name: r1, on: timer, timer: t, region: {region!r}, trigger: [{{workspace: 1, node: 2}}]}}\n")
    assert (p.rule, p.field) == ("r1", "region")
    assert p.message.startswith("must be an Alibaba Cloud region id such as cn-shanghai or ap-southeast-1")


@pytest.mark.parametrize("region", ["cn-shanghai", "ap-southeast-1", "cn-shanghai-finance-1", "us-west-1",
                                    "cn-hangzhou-finance", "me-central-1"])
def test_region_ids_as_alibaba_cloud_writes_them_load(region):
    assert parse_rules(HEAD + f"  - {{name: r1, on: timer, timer: t, region: {region}, "
                              "trigger: [{workspace: 1, node: 2}]}\n").rules[0].region == region


def test_a_ledger_needs_the_region_its_bucket_signs_for():
    with pytest.raises(RulesError) as err:
        parse_rules("version: 1\ndefaults: {timezone: UTC, endpoint: dw.example, ledger: \"oss://bk1/\"}\nrules:\n"
                    "  - {name: a, on: timer, timer: t, trigger: [{workspace: 1, node: 2}]}\n")
    assert [(p.field, p.message) for p in err.value.problems] == [
        ("region", "required with `ledger`: the region of its bucket (OSS signs for it)")]


def test_expect_refuses_a_target_it_could_not_look_up():
    p = only('  - {name: r1, on: oss, bucket: b, key: "d/{bizdate:%Y%m%d}", expect: {by: "06:00"}, '
             'trigger: [{workspace: 1, node: 2}, {workspace: 1, node: 3, at: "00:30", lookup: false}]}\n')
    assert (p.rule, p.field, p.message) == ("r1", "trigger[1].lookup", (
        "must not be false with `expect`: the sweep looks an instance up to know whether it still waits (without, "
        "it would send on every run)"))


# ---- notify: channels named by environment variables, remembered in the ledger ----------------------------

NOTIFY_HEAD = HEAD.replace("  region: cn-shanghai\n", """\
  region: cn-shanghai
  ledger: oss://led-ger/dw/
  notify:
    dingtalk: {webhook_env: DT_WEBHOOK, secret_env: DT_SECRET}
""")
NOTIFY_RULE = '  - {{name: r1, on: oss, bucket: b, key: "d/{{bizdate:%Y%m%d}}", {extra}trigger: [{{workspace: 1, node: 2}}]}}\n'


def test_notify_comes_from_defaults_and_a_rule_s_own_replaces_it():
    rules = parse_rules(NOTIFY_HEAD + NOTIFY_RULE.format(extra="")
                        + NOTIFY_RULE.format(extra="").replace("r1", "r2").replace(
                            "trigger", "notify: {webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}}, trigger")
                        + NOTIFY_RULE.format(extra="notify: {}, ").replace("r1", "r3"))
    inherited, own, none = rules.rules
    assert inherited.notify.channels == (Channel("dingtalk", "DT_WEBHOOK", "DT_SECRET"),)
    assert inherited.notify.line is None and own.notify.line == 10
    assert own.notify.channels == (Channel("webhook", "HOOK_URL", "HOOK_SECRET"),)
    assert none.notify is None


def test_notify_without_a_ledger_is_refused_with_the_reason():
    p = only(NOTIFY_RULE.format(extra="notify: {webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}}, "))
    assert (p.rule, p.field, p.line, p.message) == ("r1", "ledger", 6, (
        "required with `notify`: what was noticed is remembered in the ledger, so a notice is sent once and tried "
        "again until every channel took it"))


URL = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef"
DINGTALK_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"


@pytest.mark.parametrize("field, value, message", [
    ("webhook_env", URL, "holds a URL where the name of the environment variable holding the robot's webhook URL "
                         "belongs: write the name of an environment variable (e.g. `webhook_env: "
                         "DWTRIGGER_DINGTALK_WEBHOOK`) and set it in the function's environment; URLs and secrets are "
                         "never written in the rules file"),
    ("webhook_env", "oapi.dingtalk.com/robot/send?access_token=0123456789abcdef",
     "looks like a secret where the name of the environment variable holding the robot's webhook URL belongs: write "
     "the name of an environment variable (e.g. `webhook_env: DWTRIGGER_DINGTALK_WEBHOOK`) and set it in the "
     "function's environment; URLs and secrets are never written in the rules file"),
    ("secret_env", DINGTALK_SECRET, "looks like a secret where the name of the environment variable holding its "
                                    "signing secret belongs: write the name of an environment variable (e.g. "
                                    "`secret_env: DWTRIGGER_DINGTALK_SECRET`) and set it in the function's "
                                    "environment; URLs and secrets are never written in the rules file"),
    ("secret_env", "9LIVES", "must be an environment variable's name (letters, digits and '_', not starting with a "
                             "digit), got '9LIVES'"),
    ("secret_env", "DT_WEBHOOK", "names the same environment variable as `webhook_env`: the URL and the signing "
                                 "secret are two values"),
])
def test_a_channel_names_environment_variables_and_never_repeats_a_url_or_secret(field, value, message):
    values = {"webhook_env": "DT_WEBHOOK", "secret_env": "DT_SECRET", field: value}
    found = problems(NOTIFY_RULE.format(extra=f"ledger: oss://led-ger/, notify: {{dingtalk: {{webhook_env: "
                                              f"\"{values['webhook_env']}\", secret_env: \"{values['secret_env']}\"}}}}, "))
    assert [(p.rule, p.field, p.message) for p in found] == [("r1", f"notify.dingtalk.{field}", message)]
    assert value in ("9LIVES", "DT_WEBHOOK") or not any(part in str(found[0]) for part in (value, value[-20:]))


def test_a_misspelt_channel_is_told_what_was_meant_and_a_bad_default_is_said_once():
    found = problems(NOTIFY_RULE.format(extra="ledger: oss://led-ger/, notify: {webhok: {}}, "))
    assert [(p.field, p.message) for p in found] == [("notify.webhok", "unknown key (did you mean 'webhook'?)")]
    with pytest.raises(RulesError) as err:
        parse_rules(NOTIFY_HEAD.replace("DT_SECRET", "'no good'") + NOTIFY_RULE.format(extra="")
                    + NOTIFY_RULE.format(extra="").replace("r1", "r2"))
    assert [(p.line, p.rule, p.field) for p in err.value.problems] == [
        (7, None, "defaults.notify.dingtalk.secret_env")]


# ---- the loader: libyaml when present, one parse, the same data as SafeLoader ----------------------------

@pytest.mark.skipif(LIBYAML is None, reason="PyYAML was built without libyaml")
def test_rules_load_with_libyaml_when_pyyaml_has_it():
    assert yaml.__with_libyaml__ and LOADING is LIBYAML


def test_without_libyaml_pyyaml_parses_itself(monkeypatch):
    monkeypatch.setattr(yaml, "__with_libyaml__", False, raising=False)
    assert yamldoc._event_source() is yamldoc._PyEvents


def test_the_file_is_parsed_once(monkeypatch, loader):
    """One parser for the whole file: its events give both the data and every line number."""
    made = []

    class Counting(LOADERS[loader]):
        def __init__(self, text):
            made.append(text)
            super().__init__(text)

    monkeypatch.setattr(yamldoc, "_EVENTS", Counting)
    text = (ROOT / "rules.yaml").read_text()
    assert len(parse_rules(text).rules) == 12
    assert made == [text]
    broken = text.replace("node: 700001235000}", "node: 0}")
    with pytest.raises(RulesError) as err:
        parse_rules(broken)
    assert [(p.rule, p.line) for p in err.value.problems] == [("nightly", 96)] and len(made) == 2


class Reference(yaml.SafeLoader):
    """What the rules loader must construct: SafeLoader, with only true/false booleans and decimal integers, and
    no implicit dates (an explicit !!timestamp still is one)."""


Reference.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Reference.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                list("tTfF"))
Reference.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"),
                                list("-+0123456789"))

DOCUMENTS = [
    "a: 1\nb: [1, -2, +3, 1_000, 0, {c: d}]\n",
    "on: yes\noff: no\ny: true\nn: False\nt: 00:30\nu: 1:30:00\nv: 010\nw: 0x1F\nx: 0o7\nz: 0b1\n",
    "f: 1.5\ng: .inf\nh: -.5e+3\nd: 2026-03-10\ndt: 2026-03-10 08:30:00\nn: ~\nm: null\ne: ''\nplain:\n",
    "s: !!str 12\ni: !!int 0x10\nb: !!bool yes\nfl: !!float 2\nbin: !!binary aGVsbG8=\nts: !!timestamp 2026-01-01\n",
    "q: '1'\nr: \"true\"\n'on': x\n? complex\n: key\n! 12: ! true\n",
    "a: &x {b: 1, c: 2}\nd:\n  <<: *x\n  c: 3\ne: {<<: [*x, {f: 4, b: 9}], g: 1}\n",
    "a: {<<: {b: 1}, <<: {b: 2, c: 3}}\nb: {c: 0, <<: {c: 1, d: 2}}\nc: &m {<<: {a: 1}, b: 2}\nd: {<<: *m, e: 3}\n",
    "a: &s [{x: 1}, {x: 2, y: 3}]\nb: {<<: *s}\n= : v\n",
    "a: &a [1, [2, &b {c: 3}]]\nb: *a\nc: [*a, *b]\n1: one\ntrue: t\n~: null key\n2026-01-01: date key\n",
    "- a\n- - b\n  - c\n- {d: [e, {f: g}]}\n- |\n  literal\n  text\n- >\n  folded\n  text\n",
    "", "# a comment only\n", "---\n", "--- x\n...\n",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_data_is_what_safeloader_builds_without_yaml_11_surprises(text):
    data, _ = rules_module._parse(text, "d.yaml")
    assert data == yaml.load(text, Loader=Reference)


@pytest.mark.parametrize("text, line, message", [
    ("a: 1\n--- b\n", 2, "but found another document"),
    ("a: &x 1\nb: &x 2\n", 2, "second occurrence"),
    ("a: [\n", 2, None),
    ("x: !foo bar\n", 1, "could not determine a constructor for the tag '!foo'"),
    ("x: !foo [a]\n", 1, "could not determine a constructor for the tag '!foo'"),
    ("x: !!set {a, b}\n", 1, "could not determine a constructor for the tag 'tag:yaml.org,2002:set'"),
    ("x: !!str [a]\n", 1, "expected a scalar node, but found sequence"),
    ("x: !!map [a]\n", 1, "expected a mapping node, but found sequence"),
    ("x: !!seq {a: 1}\n", 1, "expected a sequence node, but found mapping"),
    ("{[a]: 1}\n", 1, "found unhashable key"),
    ("a: &l [1]\n*l : 2\n", 2, "found unhashable key"),
    ("a: <<\n", 1, "could not determine a constructor for the tag 'tag:yaml.org,2002:merge'"),
    ("<<: 1\n", 1, "expected a mapping or list of mappings for merging, but found scalar"),
    ("a:\n  <<: [{b: 1}, [2]]\n", 2, "expected a mapping for merging, but found sequence"),
    ("a: &s [1]\nb: {<<: *s}\n", 1, "expected a mapping for merging, but found scalar"),
])
def test_what_safeloader_refuses_is_refused_at_its_line(text, line, message):
    with pytest.raises(RulesError) as err:
        parse_rules(text, "d.yaml")
    [p] = err.value.problems
    assert p.line == line and p.message.startswith("not valid YAML: "), str(p)
    assert message is None or p.message == f"not valid YAML: {message}", str(p)


def test_lines_of_merged_keys_are_where_they_are_written():
    found = problems("""\
  - &base
    name: one
    on: timer
    timer: t
    trigger: [{workspace: 1, node: 2, at: "25:00"}]
  - <<: *base
    name: two
  - name: three
    <<: {on: timer, timer: t, trigger: [{workspace: 1, node: 0}]}
""")
    assert [(p.rule, p.field, p.line) for p in found] == [
        ("one", "trigger[0].at", 10), ("two", "trigger[0].at", 10), ("three", "trigger[0].node", 14)]


DEEPEST = [
    ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", DEEP),
    ("a: " + "{b: " * 100_000 + "c" + "}" * 100_000 + "\n", DEEP),
    ("a:\n" + "- " * 100_000 + "x\n", DEEP),
    ("".join(" " * i + "a:\n" for i in range(2_000)), DEEP),
    ("? " * 100_000 + "x\n", "not valid YAML: found unhashable key"),      # a mapping as a key, at once
]


def test_nesting_100000_deep_is_refused_not_a_crash(tmp_path, loader):
    """libyaml keeps its nesting on the heap, the composer is a loop: no C or Python recursion to overflow. In
    a child process, so that a crash (PyYAML's own C composer segfaults on the first) fails the test, not the run."""
    for i, (text, _) in enumerate(DEEPEST):
        (tmp_path / f"{i}.yaml").write_text(text)
    code = ("import sys; from dwtrigger import rules, yamldoc\n"
            "yamldoc._EVENTS = yamldoc._PyEvents if sys.argv[1] == 'python' else yamldoc._EVENTS\n"
            "for path in sys.argv[2:]:\n"
            "    try:\n        rules.load_rules(path)\n"
            "    except rules.RulesError as e:\n        print(e)\n")
    paths = [str(tmp_path / f"{i}.yaml") for i in range(len(DEEPEST))]
    run = subprocess.run([sys.executable, "-c", code, loader, *paths], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    said = run.stdout.splitlines()
    assert len(said) == len(DEEPEST), run.stdout[-2000:]
    for line, path, (_, message) in zip(said, paths, DEEPEST):
        assert line.startswith(f"{path}:") and line.endswith(f": {message}"), line[:300]


def test_loading_leaves_the_garbage_collector_as_it_was():
    assert gc.isenabled()
    parse_rules((ROOT / "rules.yaml").read_text())
    assert gc.isenabled()
    with pytest.raises(RulesError):
        parse_rules("version: 1\nrules: [{name: x}]\n")
    assert gc.isenabled()
    gc.disable()
    try:
        parse_rules((ROOT / "rules.yaml").read_text())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_rules_sharing_a_template_or_zone_get_equal_objects_and_each_its_own_line():
    rules = parse_rules(HEAD + "".join(
        f"  - {{name: r{i}, on: oss, bucket: b, key: \"d/{{bizdate:%Y%m%d}}/_SUCCESS\", timezone: Europe/Berlin,"
        f" trigger: [{{workspace: 1, node: {i + 1}, at: \"00:30\"}}]}}\n" for i in range(3))).rules
    assert [r.line for r in rules] == [6, 7, 8]
    assert len({r.key.source for r in rules}) == 1 and all(r.key.match("d/20260310/_SUCCESS") for r in rules)
    assert {str(r.timezone) for r in rules} == {"Europe/Berlin"} and rules[0].trigger[0].at == time(0, 30)
    assert rules[0].key.match("d/20260310/_SUCCESS") == {"bizdate": date(2026, 3, 10)}
    assert datetime(2026, 3, 10, tzinfo=rules[2].timezone).utcoffset().total_seconds() == 3600


# ---- defaults: a bad value is reported once, where it is written ---------------------------------------

def file_problems(text: str):
    with pytest.raises(RulesError) as err:
        parse_rules(text, "r.yaml")
    return [(p.line, p.rule, p.field, p.message) for p in err.value.problems]


API_CHOICES = ("must be one of '2020-05-18', '2024-05-18' (2020-05-18: legacy DataStudio, RunTriggerNode; "
               "2024-05-18: new Data Studio, TriggerSchedulerTaskInstance), got ")


def test_a_bad_default_is_one_problem_at_the_defaults_line_not_one_per_rule():
    assert file_problems("""\
version: 1
defaults:
  timezone: Asia/Shangai
  region: [cn-shanghai]
  api: 2020-05-19
  env: test
  ledger: s3://ledger/
rules:
  - {name: a, on: oss, bucket: b, key: "d/{bizdate:%Y%m%d}", trigger: [{workspace: 1, node: 2}]}
  - {name: b, on: mns, topic: t, expect: {by: "06:00"}, trigger: [{workspace: 1, node: 3}]}
  - {name: c, on: timer, timer: t, trigger: [{workspace: 1, node: 4}]}
""") == [
        (3, None, "defaults.timezone", "unknown time zone 'Asia/Shangai' (did you mean 'Asia/Shanghai'?)"),
        (4, None, "defaults.region", "expected `str | null`, got `array`"),
        (5, None, "defaults.api", API_CHOICES + "'2020-05-19'"),
        (6, None, "defaults.env", "must be PROD or DEV (in any case), got 'test'"),
        (7, None, "defaults.ledger", "must be oss://BUCKET/PREFIX/ (a bucket name, then an optional prefix ending "
                                     "in '/'), got 's3://ledger/'"),
    ]


def test_a_rule_overriding_a_bad_default_is_checked_on_its_own_value():
    assert file_problems("""\
version: 1
defaults: {timezone: Mars/Olympus, region: cn-shanghai}
rules:
  - {name: fine, on: timer, timer: t, timezone: UTC, trigger: [{workspace: 1, node: 2}]}
  - {name: own, on: timer, timer: t, timezone: Venus/Maxwell, trigger: [{workspace: 1, node: 3}]}
""") == [(2, None, "defaults.timezone", "unknown time zone 'Mars/Olympus' (use an IANA name, e.g. Asia/Shanghai)"),
         (5, "own", "timezone", "unknown time zone 'Venus/Maxwell' (use an IANA name, e.g. Asia/Shanghai)")]


def test_defaults_that_are_not_a_mapping_are_one_problem():
    assert file_problems("version: 1\ndefaults: [Asia/Shanghai]\nrules:\n"
                         "  - {name: a, on: timer, timer: t, trigger: [{workspace: 1, node: 2}]}\n") == [
        (2, None, "defaults", "expected `object`, got `array`")]


# ---- every problem of every rule, in file order ---------------------------------------------------------

def test_every_problem_of_every_rule_in_file_order():
    assert file_problems(HEAD + """\
  - name: two
    on: timer
    timer: t
    timezone: Mars/X
    trigger: [{workspace: one, node: 2, at: "25:00", nod: 3}, 7, {node: 0}]
    expect: {by: "99:00", days: 99}
    enabled: no
  - name: three
    on: oss
    bucket: b
    key: "x/{bizdate:%Q}"
    events: ["oss:ObjectCreated:*", {}]
    trigger: [{workspace: 1, node: 2, lookup: maybe}]
""") == [
        (9, "two", "timezone", "unknown time zone 'Mars/X' (use an IANA name, e.g. Asia/Shanghai)"),
        (10, "two", "trigger[0].workspace", "expected `int`, got `str`"),
        (10, "two", "trigger[0].at", "must be HH:MM (24-hour), got '25:00'"),
        (10, "two", "trigger[0].nod", "unknown key (did you mean 'node'?)"),
        (10, "two", "trigger[1]", "expected `object`, got `int`"),
        (10, "two", "trigger[2].node", "must be a positive id"),
        (10, "two", "trigger[2].workspace", "required"),                  # not written: after what is
        (11, "two", "expect", "needs a `ledger` on `on: timer` rules: the sweep's evidence that an event asked for "
                              "a release is the ledger's record of it"),
        (11, "two", "expect.by", "must be HH:MM (24-hour, local time on the day after the business date), got '99:00'"),
        (11, "two", "expect.days", "must be 1 to 31 (each day is a check per node on every sweep)"),
        (12, "two", "enabled", "must be true or false, got 'no'"),
        (16, "three", "key", "bad directive '%Q' at offset 11: {bizdate} allows %Y %m %d and %%"),
        (17, "three", "events[0]", "unknown OSS event 'oss:ObjectCreated:*' (e.g. ObjectCreated:* or "
                                   "ObjectCreated:PutObject; no 'oss:' prefix)"),
        (17, "three", "events[1]", "expected `str`, got `object`"),
        (18, "three", "trigger[0].lookup", "must be true or false, got 'maybe'"),
    ]


# ---- what the schema knows is a string needs no quotes ----------------------------------------------------

def test_strings_need_no_quotes_where_the_schema_says_string():
    rules = parse_rules("""\
version: 1
defaults: {timezone: UTC, region: cn-shanghai, api: 2024-05-18, env: Dev}
rules:
  - name: 2024
    on: timer
    timer: 1_000
    trigger: [{workspace: 1, node: 2, at: 00:30}]
  - {name: true, on: mns, topic: 12.50, trigger: [{workspace: 1, node: 3}]}
  - {name: b, on: oss, bucket: [20260101, etl], key: 20260311, api: 2020-05-18, env: prod,
     trigger: [{workspace: 1, node: 4}]}
  - {name: days, on: mns, queue: q, message: {day: [2026-03-10], rows: [5, 1.5]}, trigger: [{workspace: 1, node: 5}]}
""")
    timer, topic, oss, days = rules.rules
    assert (timer.name, timer.timer, timer.api, timer.env, timer.trigger[0].at) == (
        "2024", "1_000", "2024-05-18", "DEV", time(0, 30))
    assert (topic.name, topic.topic) == ("true", "12.50")
    assert (oss.buckets, oss.key.source, oss.api, oss.env) == (("20260101", "etl"), "20260311", "2020-05-18", "PROD")
    # Patterns are over JSON, which has no dates: a date-like value is text; numbers stay numbers.
    assert days.message.matches({"day": "2026-03-10", "rows": 5}) and not days.message.matches({"day": "x", "rows": 5})
    assert days.message.matches({"day": "2026-03-10", "rows": 1.5})


def test_a_number_where_a_string_belongs_is_quoted_back_as_written_in_messages():
    p = only("  - {name: r1, on: timer, timer: t, trigger: [{workspace: 1, node: 2, at: 8.30}]}\n")
    assert (p.field, p.message) == ("trigger[0].at", "must be HH:MM (24-hour), got '8.30'")
    p = only("  - {name: r1, on: timer, timer: t, trigger: [{workspace: \"1\", node: 2}]}\n")
    assert (p.field, p.message) == ("trigger[0].workspace", "expected `int`, got `str`")    # not the other way


def test_the_text_of_numbers_and_booleans_is_recorded_beside_their_line():
    _, lines = rules_module._parse("a: 1_0\nb: [+1, 2.50, TRUE, x, ~]\nc: {d: 1.0}\n", "d.yaml")
    assert [lines.text(p) for p in [("a",), ("b", 0), ("b", 1), ("b", 2), ("b", 3), ("b", 4), ("c", "d")]] == [
        "1_0", "+1", "2.50", "TRUE", None, None, "1.0"]
    assert [lines.get(p) for p in [("a",), ("b", 1), ("c", "d"), ("a", 0), ("c", "d", 0)]] == [1, 2, 3, None, None]


# ---- enabled: false ---------------------------------------------------------------------------------------

def test_a_disabled_rule_is_validated_and_kept_out_of_play():
    rules = parse_rules(HEAD + """\
  - {name: on-duty, on: timer, timer: t, trigger: [{workspace: 1, node: 2}]}
  - {name: resting, on: timer, timer: t, enabled: false, trigger: [{workspace: 1, node: 3}]}
""", "r.yaml")
    assert [r.name for r in rules.rules] == ["on-duty"] and [r.name for r in rules.disabled] == ["resting"]
    assert rules.for_source("timer") == rules.rules
    with pytest.raises(LookupError, match=r"^rule 'resting' is disabled \(`enabled: false`, r.yaml:7\): it releases "
                                          r"nothing until it is enabled$"):
        rules.named("resting")
    assert file_problems(HEAD + """\
  - {name: resting, on: timer, timer: t, enabled: false, trigger: [{workspace: 1, node: 0}]}
  - {name: resting, on: timer, timer: t, trigger: [{workspace: 1, node: 3}]}
""") == [(6, "resting", "trigger[0].node", "must be a positive id"),
         (7, "resting", "name", "already the name of the rule at line 6")]


# ---- MNS: topic, queue, or neither ---------------------------------------------------------------------------

def test_an_mns_rule_may_name_neither_topic_nor_queue():
    [rule] = parse_rules(HEAD + "  - {name: any, on: mns, trigger: [{workspace: 1, node: 2}]}\n").rules
    assert (rule.topic, rule.queue) == (None, None)


# ---- message field formats and bizdate_offset --------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ('bizdate: {field: ts, format: epoch_ms}', FieldSpec(("ts",), "epoch_ms", is_cycle=False)),
    ('cycle: {field: run.at, format: epoch_s}', FieldSpec(("run", "at"), "epoch_s", is_cycle=True)),
    ('cycle: {field: at, format: iso}', FieldSpec(("at",), "iso", is_cycle=True)),
])
def test_instant_formats_of_a_date_field(spec, expected):
    [rule] = parse_rules(HEAD + f"  - {{name: r, on: mns, topic: t, {spec}, trigger: [{{workspace: 1, node: 2}}]}}\n"
                         ).rules
    assert rule.date_field == expected


def test_a_date_field_format_names_what_it_takes():
    p = only('  - {name: r, on: timer, timer: t, cycle: {field: at, format: epoch},\n'
             '     trigger: [{workspace: 1, node: 2}]}\n')
    assert (p.field, p.message) == ("cycle.format", "must be epoch_ms, epoch_s, iso or a format that uses only "
                                                     "%Y %m %d %H %M %S and contains %Y %m %d %H, got 'epoch'")


def test_bizdate_offset_loads_where_the_rule_reads_a_date():
    rules = parse_rules(HEAD + """\
  - {name: key, on: oss, bucket: b, key: "run={bizdate:%Y%m%d}/ok", bizdate_offset: -1,
     trigger: [{workspace: 1, node: 2}]}
  - {name: field, on: mns, cycle: {field: at, format: iso}, bizdate_offset: -2, trigger: [{workspace: 1, node: 3}]}
  - {name: plain, on: timer, timer: t, trigger: [{workspace: 1, node: 4}]}
""")
    assert [r.bizdate_offset for r in rules.rules] == [-1, -2, 0]


@pytest.mark.parametrize("rule, message", [
    ('{name: r1, on: oss, bucket: b, key: "in/**", bizdate_offset: -1, trigger: [{workspace: 1, node: 2}]}',
     "needs a date to move: {bizdate} or {cycle} in the key, or a `bizdate:` or `cycle:` field (without one, the "
     "business date is the day before the event)"),
    ('{name: r1, on: timer, timer: t, bizdate_offset: 1, trigger: [{workspace: 1, node: 2}]}',
     "needs a date to move: {bizdate} or {cycle} in the key, or a `bizdate:` or `cycle:` field (without one, the "
     "business date is the day before the event)"),
    ('{name: r1, on: oss, bucket: b, key: "d={bizdate:%Y%m%d}", bizdate_offset: 20260310, '
     'trigger: [{workspace: 1, node: 2}]}', "must be a number of days from -366 to 366, got 20260310"),
    ('{name: r1, on: oss, bucket: b, key: "d={bizdate:%Y%m%d}", bizdate_offset: "-1", '
     'trigger: [{workspace: 1, node: 2}]}', "expected `int`, got `str`"),
])
def test_bizdate_offset_refusals(rule, message):
    p = only(f"  - {rule}\n")
    assert (p.rule, p.field, p.message) == ("r1", "bizdate_offset", message)
