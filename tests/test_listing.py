"""`dwtrigger rules`: every rule of a file, one line each for a person and `--json` for a program, through the real
`dwtrigger` group (click's runner)."""
import json

from click.testing import CliRunner

from dwtrigger.ops.cli import main

RULES = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders-daily
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    expect: {by: "06:00"}
    require: ["exports/customers/dt={bizdate:%Y-%m-%d}/_SUCCESS", "oss://etl-other/items/{bizdate:%Y%m%d}.done"]
    trigger: [{workspace: 10001, node: 700001234567, at: "00:30"}, {workspace: 10001, node: 700001234568}]
  - name: clicks-hourly
    on: oss
    api: "2024-05-18"
    bucket: [etl-landing, etl-landing-backup]
    key: "logs/clicks/{cycle:%Y%m%d%H}/*.done"
    events: ["ObjectCreated:PutObject"]
    trigger: [{workspace: 20001, node: 910000000001}]
  - {name: finance-close, on: mns, topic: etl-done, message: {job: [x]}, trigger: [{workspace: 10002, node: 7001}]}
  - {name: crm, on: mns, queue: etl-events, enabled: false, trigger: [{workspace: 10001, node: 7002}]}
  - {name: anything, on: mns, trigger: [{workspace: 10001, node: 7003}]}
  - name: nightly
    on: timer
    timer: nightly
    timezone: Europe/Berlin
    bucket: etl-landing
    require: ["done/{bizdate:%Y%m%d}"]
    trigger: [{workspace: 10001, node: 7004}]
"""


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), prog_name="dwtrigger", env=env)


def test_rules_lists_each_rule_on_one_line_in_file_order_disabled_ones_too(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    result = run("rules", str(path))
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "RULE           STATE     SOURCE                                                                      "
        "WORKSPACE/NODE                          API         EXPECT            REQUIRE",
        "orders-daily   enabled   oss://etl-landing/exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS             "
        "10001/700001234567, 10001/700001234568  2020-05-18  by 06:00, 3 days  2",
        "clicks-hourly  enabled   oss://{etl-landing,etl-landing-backup}/logs/clicks/{cycle:%Y%m%d%H}/*.done  "
        "20001/910000000001                      2024-05-18  -                 -",
        "finance-close  enabled   mns topic etl-done (message pattern)                                        "
        "10002/7001                              2020-05-18  -                 -",
        "crm            disabled  mns queue etl-events                                                        "
        "10001/7002                              2020-05-18  -                 -",
        "anything       enabled   mns any message                                                             "
        "10001/7003                              2020-05-18  -                 -",
        "nightly        enabled   timer nightly                                                               "
        "10001/7004                              2020-05-18  -                 1",
    ]


def test_rules_json_gives_a_program_every_rule(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.yaml"
    path.write_text(RULES)
    monkeypatch.chdir(tmp_path)
    result = run("rules", "--json", env={"DWTRIGGER_RULES": str(path)})
    assert (result.exit_code, result.stderr) == (0, "")
    listed = json.loads(result.stdout)
    assert [(r["name"], r["on"], r["enabled"], r["line"]) for r in listed] == [
        ("orders-daily", "oss", True, 4), ("clicks-hourly", "oss", True, 11), ("finance-close", "mns", True, 18),
        ("crm", "mns", False, 19), ("anything", "mns", True, 20), ("nightly", "timer", True, 21)]
    assert listed[0] == {
        "name": "orders-daily", "line": 4, "enabled": True, "on": "oss", "buckets": ["etl-landing"],
        "key": "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS",
        "events": ["ObjectCreated:CompleteMultipartUpload", "ObjectCreated:CopyObject", "ObjectCreated:PostObject",
                   "ObjectCreated:PutObject", "ObjectCreated:PutSymlink"],
        "trigger": [{"workspace": 10001, "node": 700001234567, "at": "00:30", "lookup": True},
                    {"workspace": 10001, "node": 700001234568, "at": None, "lookup": True}],
        "api": "2020-05-18", "env": "PROD", "timezone": "Asia/Shanghai", "region": "cn-shanghai", "endpoint": None,
        "expect": {"by": "06:00", "days": 3},
        "require": ["exports/customers/dt={bizdate:%Y-%m-%d}/_SUCCESS", "oss://etl-other/items/{bizdate:%Y%m%d}.done"],
        "ledger": None}
    assert {k: listed[3][k] for k in ("topic", "queue", "message", "attributes")} == {
        "topic": None, "queue": "etl-events", "message": False, "attributes": False}
    assert {k: listed[5][k] for k in ("timer", "bucket", "timezone", "require")} == {
        "timer": "nightly", "bucket": "etl-landing", "timezone": "Europe/Berlin", "require": ["done/{bizdate:%Y%m%d}"]}


def test_rules_of_a_broken_file_exits_1_with_validates_messages(tmp_path, monkeypatch):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("timer: nightly\n", "timer: nightly\n    timzone: UTC\n"))
    listed, validated = run("rules", str(path)), run("validate", str(path))
    assert (listed.exit_code, listed.stdout) == (1, "")
    assert listed.stderr == validated.stderr == (
        f"{path}:24: rule 'nightly' field 'timzone': unknown key (did you mean 'timezone'?)\n")
    monkeypatch.chdir(tmp_path / "..")
    missing = run("rules", "nowhere.yaml")
    assert (missing.exit_code, missing.stderr) == (1, (
        "nowhere.yaml: cannot read the rules file: No such file or directory\n"
        "(name the rules file as the argument, `dwtrigger rules PATH`, or with DWTRIGGER_RULES)\n"))
