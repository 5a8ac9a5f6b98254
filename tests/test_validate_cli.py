"""The rules file as users write it, through the commands they run (click's runner on the real `dwtrigger` group):
unquoted dates and lower-case env, a bad default reported once, every problem at once, disabled rules, MNS
rules for any message, instant date fields and `bizdate_offset` as `explain` shows them."""
import json

from click.testing import CliRunner

from conftest import EVENTS, sample
from dwtrigger import sources
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


# ---- issue 22: what validate says about the mistakes people make -----------------------------------------------

def test_validate_says_which_key_source_zone_or_capture_a_misspelt_one_meant(tmp_path):
    rules = write(tmp_path, """\
version: 1
defaults:
  timezone: Asia/Shangai
  region: cn-shanghai
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    evnts: ["ObjectCreated:PutObject"]
    expect: {by: "06:00", dayz: 3}
    require: ["exports/customers/dt={bizdat}/_SUCCESS"]
    trigger: [{workspace: 10001, node: 700001234567, nod: 1}]
  - {name: nightly, on: timers, timer: nightly, trigger: [{workspace: 10001, node: 700001235000}]}
  - {name: berlin, on: timer, timer: t, timezone: berlin, trigger: [{workspace: 10001, node: 700001235001}]}
""")
    result = run("validate", rules)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"{rules}:3: field 'defaults.timezone': unknown time zone 'Asia/Shangai' (did you mean 'Asia/Shanghai'?)",
        f"{rules}:10: rule 'orders' field 'evnts': unknown key (did you mean 'events'?)",
        f"{rules}:11: rule 'orders' field 'expect.dayz': unknown key (did you mean 'days'?)",
        f"{rules}:12: rule 'orders' field 'require[0]': {{bizdat}} is not captured by the key (did you mean "
        "'bizdate'?)",
        f"{rules}:13: rule 'orders' field 'trigger[0].nod': unknown key (did you mean 'node'?)",
        f"{rules}:14: rule 'nightly' field 'on': invalid value 'timers': expected one of "
        f"{', '.join(sources.names())} (did you mean 'timer'?)",
        f"{rules}:15: rule 'berlin' field 'timezone': unknown time zone 'berlin' (did you mean 'Europe/Berlin'?)",
    ]


def test_a_misspelt_key_is_the_one_problem_not_also_the_field_it_meant_missing(tmp_path):
    """`timzone` in `defaults`: no rule is told it lacks a time zone; `nod`, `bucekt`, `tigger`: not also "required"
    (nor the stand-in node id refused); a misspelt override of a default (`regoin`) is told alone."""
    rules = write(tmp_path, """\
version: 1
defaults:
  timzone: Asia/Shanghai
  region: cn-shanghai
rules:
  - {name: a, on: timer, timer: t1, trigger: [{workspace: 1, nod: 1}]}
  - {name: b, on: timer, timer: t2, trigger: [{workspace: 1, node: 2}]}
  - {name: c, on: timer, timer: t3, regoin: cn-hangzhou, tigger: [{workspace: 1, node: 3}]}
  - {name: d, on: oss, bucekt: etl-landing, key: "x/_SUCCESS", trigger: [{workspace: 1, node: 4}]}
""")
    assert run("validate", rules).stderr.splitlines() == [
        f"{rules}:3: field 'defaults.timzone': unknown key (did you mean 'timezone'?)",
        f"{rules}:6: rule 'a' field 'trigger[0].nod': unknown key (did you mean 'node'?)",
        f"{rules}:8: rule 'c' field 'regoin': unknown key (did you mean 'region'?)",
        f"{rules}:8: rule 'c' field 'tigger': unknown key (did you mean 'trigger'?)",
        f"{rules}:9: rule 'd' field 'bucekt': unknown key (did you mean 'bucket'?)",
    ]


def test_validate_suggests_nothing_for_a_name_like_no_other(tmp_path):
    rules = write(tmp_path, """\
version: 1
defaults: {timezone: Mars/Olympus, region: cn-shanghai}
rulez: []
rules:
  - {name: a, on: timer, timer: t, colour: red, trigger: [{workspace: 1, node: 2}]}
""")
    assert run("validate", rules).stderr.splitlines() == [
        f"{rules}:2: field 'defaults.timezone': unknown time zone 'Mars/Olympus' (use an IANA name, e.g. "
        "Asia/Shanghai)",
        f"{rules}:3: field 'rulez': unknown key (did you mean 'rules'?)",
        f"{rules}:5: rule 'a' field 'colour': unknown key",
    ]


def test_a_setting_no_rule_has_is_said_once_and_a_duplicate_name_points_at_the_first(tmp_path):
    """Five rules lack a time zone: one problem, at `defaults`, naming them; the one rule that lacks a region (it
    names an endpoint, and `require` needs a region) is told at the rule."""
    rules = write(tmp_path, """\
version: 1
defaults:
  env: PROD
rules:
  - {name: orders, on: timer, timer: t1, region: cn-shanghai, trigger: [{workspace: 1, node: 1}]}
  - {name: sales, on: timer, timer: t2, region: cn-shanghai, trigger: [{workspace: 1, node: 2}]}
  - {name: clicks, on: timer, timer: t3, region: cn-shanghai, trigger: [{workspace: 1, node: 3}]}
  - {name: orders, on: timer, timer: t4, region: cn-shanghai, trigger: [{workspace: 1, node: 4}]}
  - {name: partner, on: timer, timer: t5, region: cn-shanghai, trigger: [{workspace: 1, node: 5}]}
  - name: finance
    on: timer
    timer: t6
    timezone: Europe/Berlin
    endpoint: dataworks.example.com
    require: ["oss://etl-landing/done/{bizdate:%Y%m%d}"]
    trigger: [{workspace: 1, node: 6}]
""")
    result = run("validate", rules)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"{rules}:2: field 'defaults.timezone': required: the workspace's scheduling time zone (IANA name, e.g. "
        "Asia/Shanghai); 5 rules do not set it ('orders', 'sales', 'clicks' and 2 more): set it once in `defaults`, "
        "or in each rule",
        f"{rules}:8: rule 'orders' field 'name': already the name of the rule at line 5",
        f"{rules}:10: rule 'finance' field 'region': required with `require`: the region of the buckets it checks "
        "(OSS signs for it)",
    ]
    bare = write(tmp_path, "version: 1\nrules:\n" + "".join(
        f"  - {{name: r{i}, on: timer, timer: t, region: cn-shanghai, trigger: [{{workspace: 1, node: {i}}}]}}\n"
        for i in range(1, 3)), "bare.yaml")
    assert run("validate", bare).stderr == (
        f"{bare}:1: field 'defaults.timezone': required: the workspace's scheduling time zone (IANA name, e.g. "
        "Asia/Shanghai); 2 rules do not set it ('r1', 'r2'): set it once in `defaults`, or in each rule\n")


def test_a_fixed_offset_zone_is_refused_with_the_zone_meant_and_utc_is_taken(tmp_path):
    """EST is UTC-05:00 in July too, when New York is at -04:00: a business date or cycle time an hour off. Etc/GMT+N
    zones have POSIX's reversed sign. Refused once where written (`defaults`), naming a region's zone."""
    rules = write(tmp_path, """\
version: 1
defaults: {timezone: EST, region: cn-shanghai}
rules:
  - {name: a, on: timer, timer: t1, trigger: [{workspace: 1, node: 1}]}
  - {name: b, on: timer, timer: t2, trigger: [{workspace: 1, node: 2}]}
  - {name: c, on: timer, timer: t3, timezone: Etc/GMT-8, trigger: [{workspace: 1, node: 3}]}
  - {name: d, on: timer, timer: t4, timezone: UTC-05:00, trigger: [{workspace: 1, node: 4}]}
  - {name: e, on: timer, timer: t5, timezone: MST, trigger: [{workspace: 1, node: 5}]}
  - {name: f, on: timer, timer: t6, timezone: UTC, trigger: [{workspace: 1, node: 6}]}
  - {name: g, on: timer, timer: t7, timezone: Etc/GMT+0, trigger: [{workspace: 1, node: 7}]}
""")
    result = run("validate", rules)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"{rules}:2: field 'defaults.timezone': 'EST' is a fixed offset, UTC-05:00 all year, with no daylight saving: "
        "name the workspace's zone, e.g. America/New_York",
        f"{rules}:6: rule 'c' field 'timezone': 'Etc/GMT-8' is a fixed offset, UTC+08:00 all year, with no daylight "
        "saving (POSIX's sign: Etc/GMT+N is west of Greenwich): name the workspace's zone, e.g. Asia/Shanghai",
        f"{rules}:7: rule 'd' field 'timezone': 'UTC-05:00' is an offset, not a time zone: name the workspace's zone, "
        "e.g. America/New_York",
        f"{rules}:8: rule 'e' field 'timezone': 'MST' is a fixed offset, UTC-07:00 all year, with no daylight saving: "
        "name the workspace's zone, e.g. America/Denver",
    ]
    text = open(rules).read()
    for refused, meant in (("EST", "America/New_York"), ("Etc/GMT-8", "Asia/Shanghai"),
                           ("UTC-05:00", "America/New_York"), ("MST", "America/Phoenix")):
        text = text.replace(f"timezone: {refused},", f"timezone: {meant},")
    result = run("validate", write(tmp_path, text))
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{rules}: 7 rules OK\n", "")


def test_a_key_written_as_an_oss_address_is_refused_with_the_fix(tmp_path):
    rules = write(tmp_path, """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: "oss://etl-landing/exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    trigger: [{workspace: 1, node: 2}]
""")
    result = run("validate", rules)
    assert (result.exit_code, result.stderr) == (1, (
        f"{rules}:7: rule 'orders' field 'key': is the key within the bucket, not an oss:// address: write "
        '`bucket: etl-landing` and `key: "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"`\n'))


def test_a_tab_is_named_where_it_is(tmp_path):
    for text, line, column in (("version: 1\nrules:\n\t- name: a\n", 3, 1),
                               ("version: 1\nrules:\n  - name: a\n  \t  on: oss\n", 4, 3)):
        rules = write(tmp_path, text)
        result = run("validate", rules)
        assert (result.exit_code, result.stderr) == (
            1, f"{rules}:{line}: tab at line {line}, column {column}: YAML indents with spaces\n")


def test_require_warnings_are_at_the_entry_and_a_key_is_quoted_as_written(tmp_path):
    rules = write(tmp_path, r"""version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: 'exports\orders/{bizdate:%Y%m%d}/_SUCCESS'
    require:
      - "exports/customers/{bizdate:%Y%m%d}/_SUCCESS"
      - "exports/items/{bizdate:%Y%m%d}/part-?.csv"
    trigger: [{workspace: 1, node: 2}]
  - {name: all, on: oss, bucket: etl-landing, key: 'exports\orders/**', trigger: [{workspace: 1, node: 3}]}
""")
    result = run("validate", rules)
    assert (result.exit_code, result.stdout) == (0, f"{rules}: 2 rules OK, 4 warnings\n")
    regex = "'\\o' (offset 7) reads as a regular expression, which templates do not have: it matches only that text; " \
            "write 'o' alone"
    assert result.stderr.splitlines() == [
        f"warning: {rules}:4: rule 'orders' field 'key': {regex}",
        f"warning: {rules}:10: rule 'orders' field 'require[1]': '?' (offset 36) is a literal '?' here, not a glob's "
        "one character: write '*' (any text within a segment) or '{name}'",
        f"warning: {rules}:12: rule 'all' field 'key': {regex}",
        f"warning: {rules}:12: rule 'all': overlaps rule 'orders': key 'exports\\orders/20260101/_SUCCESS' in "
        "bucket 'etl-landing' matches both",
    ]


def test_a_missing_rules_file_is_named_the_way_the_command_takes_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DWTRIGGER_RULES", raising=False)
    result = run("validate")
    assert (result.exit_code, result.stderr) == (1, (
        "rules.yaml: cannot read the rules file: No such file or directory\n"
        "(name the rules file as the argument, `dwtrigger validate PATH`, or with DWTRIGGER_RULES)\n"))
    result = run("explain", "--timer", "nightly", "--rules", "nowhere.yaml")
    assert (result.exit_code, result.stderr) == (1, (
        "nowhere.yaml: cannot read the rules file: No such file or directory\n"
        "(name the rules file with --rules PATH or DWTRIGGER_RULES)\n"))
