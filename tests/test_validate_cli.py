"""The rules file as users write it, through the commands they run (click's runner on the real `dwtrigger` group):
unquoted dates and lower-case env, a bad default reported once, every problem at once, disabled rules, MNS
rules for any message, instant date fields and `bizdate_offset` as `explain` shows them."""
import json

from click.testing import CliRunner

from conftest import EVENTS, sample
from dwtrigger.ops.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), prog_name="dwtrigger")


def write(tmp_path, text: str, name: str = "rules.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_validate_takes_what_the_schema_knows_is_a_string_without_quotes(tmp_path):
    rules = write(tmp_path, """\
version: 1
defaults:
  timezone: Asia/Shanghai
  region: cn-shanghai
  api: 2020-05-18
  env: prod
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS
    trigger: [{workspace: 10001, node: 700001234567, at: 00:30}]
  - {name: 2024, on: timer, timer: 0800, api: 2024-05-18, trigger: [{workspace: 20001, node: 910000000001}]}
""")
    result = run("validate", rules)
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{rules}: 2 rules OK\n", "")


def test_validate_reports_a_bad_default_once_and_every_problem_of_every_rule(tmp_path):
    rules = write(tmp_path, """\
version: 1
defaults:
  timezone: Asia/Shanghai
  region: cn-shanghai
  api: 2020-05-19
  env: production
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS
    trigger: [{workspace: 10001, node: 700001234567, at: 0030, lookup: no}]
  - name: finance
    on: mns
    topic: etl-done
    queue: etl-events
    bizdate: {field: ts, format: epoch}
    trigger: [{workspace: 10002, node: -1}]
    enabled: false
""")
    result = run("validate", rules)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"{rules}:5: field 'defaults.api': must be one of '2020-05-18', '2024-05-18' (2020-05-18: legacy "
        "DataStudio, RunTriggerNode; 2024-05-18: new Data Studio, TriggerSchedulerTaskInstance), got '2020-05-19'",
        f"{rules}:6: field 'defaults.env': must be PROD or DEV (in any case), got 'production'",
        f"{rules}:12: rule 'orders' field 'trigger[0].at': must be HH:MM (24-hour), got '0030'",
        f"{rules}:12: rule 'orders' field 'trigger[0].lookup': must be true or false, got 'no'",
        f"{rules}:15: rule 'finance' field 'topic': set `topic` (topic trigger) or `queue` (queue via EventBridge), "
        "not both (or neither: the rule takes any message this function receives)",
        f"{rules}:17: rule 'finance' field 'bizdate.format': must be epoch_ms, epoch_s, iso or a format that uses "
        "only %Y %m %d %H %M %S and contains %Y %m %d, got 'epoch'",
        f"{rules}:18: rule 'finance' field 'trigger[0].node': must be a positive id",
    ]


RULES = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders-by-run-day
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    bizdate_offset: -1
    require: ["exports/customers/dt={bizdate:%Y-%m-%d}/_SUCCESS"]
    trigger: [{workspace: 10001, node: 700001234567, at: "00:30"}]
  - name: any-message
    on: mns
    cycle: {field: done_at, format: iso}
    trigger: [{workspace: 10001, node: 700001234999}]
  - name: resting
    on: mns
    enabled: false
    trigger: [{workspace: 10001, node: 700001235000}]
"""


def test_explain_shows_an_offset_business_date_and_the_files_named_by_the_run_day(tmp_path):
    result = run("explain", str(EVENTS / "oss/native-put-orders.json"), "--rules", write(tmp_path, RULES))
    assert result.exit_code == 0, result.output
    assert "MATCH orders-by-run-day: matched" in result.output and "capture bizdate = 2026-03-10" in result.output
    assert ("node 700001234567 (Asia/Shanghai, API 2020-05-18): BizDate 2026-03-09 = 1772985600000, "
            "CycleTime 2026-03-10T00:30:00+08:00 = 1773073800000") in result.output
    assert "requires oss://etl-landing/exports/customers/dt=2026-03-10/_SUCCESS" in result.output


def test_explain_a_stream_message_taken_by_a_rule_for_any_message_with_an_iso_time(tmp_path):
    event = tmp_path / "stream.txt"
    event.write_text('{"job": "clicks", "done_at": "2026-03-10T16:30:00Z"}')
    data = json.loads(run("explain", str(event), "--source", "mns", "--rules", write(tmp_path, RULES),
                          "--json").stdout)
    [entry] = data
    assert [(r["rule"], r["matched"]) for r in entry["rules"]] == [("any-message", True)]   # `resting` is out
    [target] = entry["rules"][0]["targets"]
    assert (target["biz_date"], target["biz_date_ms"], target["cycle_time"], target["cycle_time_ms"]) == (
        "2026-03-10", 1773072000000, "2026-03-11T00:30:00+08:00", 1773160200000)


def test_explain_says_why_a_time_without_an_offset_is_refused(tmp_path):
    event = tmp_path / "stream.txt"
    event.write_text('{"done_at": "2026-03-11T00:30:00"}')
    result = run("explain", str(event), "--source", "mns", "--rules", write(tmp_path, RULES))
    assert ("node 700001234999: rejected: field 'done_at' of the message is '2026-03-11T00:30:00': an ISO 8601 "
            "time without a UTC offset (Z or +08:00)") in result.output


def test_trigger_on_a_disabled_rule_says_it_is_disabled(tmp_path):
    rules = write(tmp_path, RULES)
    assert run("validate", rules).stdout == f"{rules}: 2 rules OK (1 disabled)\n"
    result = run("trigger", "--rule", "resting", "--bizdate", "2026-03-10", "--rules", rules, "--dry-run")
    assert result.exit_code != 0
    assert result.stderr == (f"Error: rule 'resting' is disabled (`enabled: false`, {rules}:15): it releases nothing "
                             "until it is enabled\n")


def test_a_disabled_rule_takes_no_event_and_is_named(tmp_path):
    """The finance message matches nothing in play: the disabled rule that would take it does not, and explain
    names it (exit 1: the functions would not act on the event)."""
    rules = write(tmp_path, RULES.replace("    cycle: {field: done_at, format: iso}\n", "    topic: other\n"))
    event = tmp_path / "finance.json"
    event.write_bytes(sample("mns/topic-json-finance.json"))
    result = run("explain", str(event), "--rules", rules)
    assert result.exit_code == 1
    assert f"disabled resting: would match (enabled: false at {rules}:15)" in result.output
    assert result.output.endswith(f"  -> ignored: no rule matched (rule 'resting' would have, but it is disabled: "
                                  f"enabled: false at {rules}:15)\n")


def test_explain_says_why_a_topic_rule_misses_a_stream_message_without_a_topic(tmp_path):
    event = tmp_path / "stream.txt"
    event.write_text('{"done_at": "2026-03-10T16:30:00Z"}')
    rules = write(tmp_path, RULES.replace("  - name: any-message\n", "  - {name: finance, on: mns, topic: etl-done, "
                                          "trigger: [{workspace: 10002, node: 700009999}]}\n  - name: any-message\n"))
    result = run("explain", str(event), "--source", "mns", "--rules", rules, "--json")
    assert result.exit_code == 0, result.output
    assert [(r["rule"], r["matched"], r["why"]) for r in json.loads(result.stdout)[0]["rules"]] == [
        ("finance", False, "the STREAM message names no topic (set DWTRIGGER_MNS_TOPIC on the function, or the topic "
                           "trigger's JSON format)"),
        ("any-message", True, "matched")]


def test_validate_3000_rules_sharing_a_prefix_warns_once_for_what_they_share(tmp_path):
    """The issue: 3,000 rules whose keys share a literal prefix took minutes to validate, every pair compared. Each
    key now looks up only the keys that could match it; 20 copies of a key are one warning, and a rule over all the
    others names a few of them, then how many more."""
    def rule(name, key):
        return f'  - {{name: {name}, on: oss, bucket: etl-landing, key: "{key}", trigger: [{{workspace: 1, node: 2}}]}}'

    lines = [rule(f"t{i}", f"exports/{{table}}/t{i}/dt={{bizdate:%Y-%m-%d}}/_SUCCESS") for i in range(3000)]
    lines += [rule(f"copy-{i}", "exports/orders/_SUCCESS") for i in range(20)] + [rule("all", "exports/**")]
    rules = write(tmp_path, "version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n" +
                  "\n".join(lines) + "\n")
    result = run("validate", rules)
    assert (result.exit_code, result.stdout) == (0, f"{rules}: 3021 rules OK, 5 warnings\n")
    assert result.stderr.splitlines() == [
        *(f"warning: {rules}:3024: rule 'all': overlaps rule 't{i}': key 'exports/x/t{i}/dt=2026-01-01/_SUCCESS' in "
          "bucket 'etl-landing' matches both" for i in range(3)),
        f"warning: {rules}:3004: rule 'copy-0': overlaps rules 'copy-1', 'copy-2', 'copy-3' and 16 more: all 20 have "
        "the same bucket, events and key, and key 'exports/orders/_SUCCESS' in bucket 'etl-landing' matches them all",
        f"warning: {rules}:3024: rule 'all': also overlaps 3,017 more rules: 't3', 't4', 't5' and 3,014 more",
    ]
