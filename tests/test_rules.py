"""The rules file: typed objects once, strict validation, errors that name file, line, rule and field."""
from datetime import time
from pathlib import Path

import pytest

from dwtrigger.rules import RulesError, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[1]

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
    assert p.message == "unknown key"
    assert str(p) == "r.yaml:11: rule 'orders' field 'trigger[0].nod': unknown key"


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
    assert "duplicate" in found[2].message
    assert found[1].line == 13 and "Mars/Olympus" in found[1].message


@pytest.mark.parametrize("body, field, words", [
    ("    on: oss\n    bucket: b\n    key: k\n    require: [x]\n", "require", "not supported yet"),
    ("    on: timer\n    timer: t\n    api: \"2024-05-18\"\n", "api", "not supported yet"),
    ("    on: timer\n    timer: t\n    env: TEST\n", "env", "expected one of"),
    ("    on: timer\n    timer: t\n    role_arn: arn:aws:iam::1:role/x\n", "role_arn", "acs:ram::"),
    ("    on: timer\n    timer: t\n    endpoint: https://dataworks.cn-shanghai.aliyuncs.com\n", "endpoint", "scheme"),
    ("    on: mns\n", "topic", "exactly one"),
    ("    on: mns\n    topic: t\n    queue: q\n", "topic", "exactly one"),
    ("    on: mns\n    topic: t\n    message: {status: [{anything_but: x}]}\n", "message.status[0]", "unknown"),
    ("    on: mns\n    topic: t\n    bizdate: {field: d, format: \"%d/%m\"}\n", "bizdate.format", "%Y"),
    ("    on: oss\n    bucket: b\n    key: k\n    events: [\"oss:ObjectCreated:PutObject\"]\n", "events[0]", "prefix"),
    ("    on: oss\n    bucket: b\n    key: k\n    topic: t\n", "topic", "not used"),
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
