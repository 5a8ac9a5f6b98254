"""s.yaml and deploy/ram/: valid for fc3, wired to rules.yaml, least privilege. Nothing here reaches the cloud.

s.yaml is resolved the way `s` resolves it (${vars.*}, ${config('AccountID')}, `extend` templates deep-merged
under props, lists replaced) and validated against deploy/s.schema.json, which is written from the fc3 keys
in the FC reference; the policies are rendered the way the runbook renders them (envsubst's ${NAME}).
"""
import copy
import json
import re
import string
from zoneinfo import ZoneInfo

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import ROOT
from dwtrigger.rules import OSS_EVENT_NAMES, load_rules

ACCOUNT = "1234567890123456"                 # what ${config('AccountID')} gives `s`
SCHEMA = json.loads((ROOT / "deploy" / "s.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
RAM = ROOT / "deploy" / "ram"
RULES = load_rules(str(ROOT / "rules.yaml"))


def substitute(value, variables):
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, str):
        value = value.replace("${config('AccountID')}", ACCOUNT)
        return re.sub(r"\$\{vars\.(\w+)\}", lambda m: str(variables[m[1]]), value)
    return value


def merged(base: dict, override: dict) -> dict:
    """Serverless Devs' extend2 deep merge: mappings merge, everything else (lists too) is replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def resolve(doc: dict) -> dict:
    out = substitute(doc, substitute(doc["vars"], {}))
    for resource in out["resources"].values():
        if "extend" in resource:
            resource["props"] = merged(out["template"][resource["extend"]["name"]], resource["props"])
    return out


S = resolve(yaml.safe_load((ROOT / "s.yaml").read_text()))
VARS = S["vars"]
FUNCTIONS = [resource["props"] for resource in S["resources"].values()]


def triggers(kind: str, s: dict = S, function: str = None) -> list:
    return [t for name, r in s["resources"].items() for t in r["props"].get("triggers", [])
            if t["triggerType"] == kind and function in (None, name)]


def policy(name: str, **names: str) -> dict:
    """A deploy/ram/ document rendered as `envsubst` would; an unknown ${NAME} fails."""
    known = {"REGION": VARS["region"], "ACCOUNT": ACCOUNT, "DLQ": VARS["dlq"], "ROLE": VARS["role"], **names}
    return json.loads(string.Template((RAM / name).read_text()).substitute(known))


def errors(doc: dict) -> list:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def test_s_yaml_is_valid_fc3_once_resolved():
    Draft202012Validator.check_schema(SCHEMA)
    assert errors(S) == []
    assert "${" not in json.dumps(S)


BREAKS = {
    "no handler": lambda s: s["resources"]["timer"]["props"].pop("handler"),
    "a misspelt key": lambda s: s["resources"]["timer"]["props"].update(memorysize=512),
    "a runtime FC lacks": lambda s: s["resources"]["timer"]["props"].update(runtime="python3.11"),
    "memory not in 64 MB steps": lambda s: s["resources"]["timer"]["props"].update(memorySize=500),
    "unbounded async retries": lambda s: s["resources"]["oss"]["props"]["asyncInvokeConfig"].update(
        maxAsyncRetryAttempts=9),
    "no failure destination": lambda s: s["resources"]["oss"]["props"]["asyncInvokeConfig"].pop("destinationConfig"),
    "a queue ARN without /messages": lambda s: s["resources"]["oss"]["props"]["asyncInvokeConfig"][
        "destinationConfig"]["onFailure"].update(destination=f"acs:mns:cn-shanghai:{ACCOUNT}:/queues/dlq"),
    "an OSS ARN without the account": lambda s: triggers("oss", s)[0].update(sourceArn="acs:oss:cn-shanghai:bkt"),
    "an OSS event without oss:": lambda s: triggers("oss", s)[0]["triggerConfig"].update(events=["ObjectCreated:*"]),
    "no invocation role": lambda s: triggers("mns_topic", s)[0].pop("invocationRole"),
    "a topic ARN without /topics/": lambda s: triggers("mns_topic", s)[0].update(
        sourceArn=f"acs:mns:cn-shanghai:{ACCOUNT}:topic/etl-done"),
    "an unknown trigger type": lambda s: triggers("timer", s)[0].update(triggerType="cron"),
    "a five-field cron": lambda s: triggers("timer", s)[0]["triggerConfig"].update(cronExpression="0 0 * * *"),
    "hour 24": lambda s: triggers("timer", s)[0]["triggerConfig"].update(cronExpression="0 0 24 * * *"),
    "an MNS source without its queue": lambda s: triggers("eventbridge", s)[0]["triggerConfig"]["eventSourceConfig"][
        "eventSourceParameters"]["sourceMNSParameters"].pop("QueueName"),
}


@pytest.mark.parametrize("break_it", BREAKS.values(), ids=BREAKS.keys())
def test_the_schema_refuses_what_fc3_would(break_it):
    broken = copy.deepcopy(S)
    break_it(broken)
    assert errors(broken)


def test_one_python312_function_per_handler_built_by_the_pre_deploy_action():
    handlers = {f"dwtrigger-{d.name}" for d in (ROOT / "functions").iterdir() if (d / "index.py").is_file()}
    assert {f["functionName"] for f in FUNCTIONS} == handlers
    [build] = S["actions"]["pre-deploy"]
    for function in FUNCTIONS:
        assert function["runtime"] == "python3.12"
        assert build["run"] == f"make package FC_PYTHON={function['runtime'].removeprefix('python')}"


def test_functions_log_to_sls_and_set_only_variables_dwtrigger_documents():
    readme = (ROOT / "README.md").read_text()
    for function in FUNCTIONS:
        assert function["logConfig"]
        undocumented = [name for name in function["environmentVariables"] if f"`{name}`" not in readme]
        assert undocumented == [], f"{function['functionName']}: not variables dwtrigger reads"


def event_names(events) -> set:
    """OSS event names, `Family:*` expanded to every event of the family."""
    names = set()
    for event in events:
        family, _, name = event.partition(":")
        names |= {f"{family}:{n}" for n in (OSS_EVENT_NAMES[family] if name == "*" else [name])}
    return names


def test_the_oss_trigger_lets_through_every_object_its_rules_wait_for():
    [trigger] = triggers("oss")
    bucket = trigger["sourceArn"].rsplit(":", 1)[1]
    subscribed = event_names(e.removeprefix("oss:") for e in trigger["triggerConfig"]["events"])
    key_filter = trigger["triggerConfig"]["filter"]["key"]
    rules = [r for r in RULES.for_source("oss") if bucket in r.buckets]
    assert rules, f"no rule in rules.yaml watches bucket {bucket}"
    for rule in rules:
        assert subscribed & event_names(rule.events), f"{rule.name}: none of its events is subscribed"
        assert re.split(r"[*{]", rule.key.source)[0].startswith(key_filter["prefix"]), rule.name
        assert re.split(r"[*}]", rule.key.source)[-1].endswith(key_filter["suffix"]), rule.name


def test_the_topic_the_queue_and_the_timer_each_have_a_rule():
    [topic], [queue], [timer] = triggers("mns_topic"), triggers("eventbridge"), triggers("timer", function="timer")
    # STREAM messages carry no topic name (README): JSON does.
    assert topic["triggerConfig"]["notifyContentFormat"] == "JSON"
    assert topic["sourceArn"].rsplit("/", 1)[1] in {r.topic for r in RULES.for_source("mns")}
    source = queue["triggerConfig"]["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]
    assert source["QueueName"] in {r.queue for r in RULES.for_source("mns")}
    assert timer["triggerName"] in {r.timer for r in RULES.for_source("timer")}
    zone = re.match(r"CRON_TZ=(\S+) ", timer["triggerConfig"]["cronExpression"])
    assert zone is None or ZoneInfo(zone[1])


def test_the_sweep_runs_every_few_minutes_long_enough_to_pace_its_look_ups():
    [sweep] = [f for f in FUNCTIONS if f["functionName"] == "dwtrigger-sweep"]
    [timer] = triggers("timer", function="sweep")
    assert re.fullmatch(r"CRON_TZ=\S+ 0 \*/(\d+) \* \* \* \*", timer["triggerConfig"]["cronExpression"])
    minutes = int(re.search(r"\*/(\d+)", timer["triggerConfig"]["cronExpression"])[1])
    assert 1 <= minutes <= 30 and sweep["timeout"] <= minutes * 60          # runs do not overlap
    assert RULES.rules and any(r.expect for r in RULES.rules)                # it has work in rules.yaml
    assert 0 < float(sweep["environmentVariables"]["DWTRIGGER_SWEEP_QPS"]) <= 50


def test_the_ledger_policy_grants_exactly_its_objects_and_their_listing():
    doc = policy("oss-ledger.json", LEDGER_BUCKET="etl-ledger", LEDGER_PREFIX="dwtrigger/")
    objects, listing = doc["Statement"]
    assert (objects["Action"], objects["Resource"]) == (
        ["oss:GetObject", "oss:PutObject"], f"acs:oss:*:{ACCOUNT}:etl-ledger/dwtrigger/*")
    assert (listing["Action"], listing["Resource"]) == ("oss:ListObjects", f"acs:oss:*:{ACCOUNT}:etl-ledger")
    assert listing["Condition"] == {"StringLike": {"oss:Prefix": "dwtrigger/*"}}


def test_every_failure_ends_in_the_dead_letter_queue_the_role_may_write_to():
    [destination] = {f["asyncInvokeConfig"]["destinationConfig"]["onFailure"]["destination"] for f in FUNCTIONS}
    # An EventBridge trigger invoked synchronously would bypass FC's async retries and the destination.
    assert all(t["triggerConfig"]["asyncInvocationType"] for t in triggers("eventbridge"))
    sends = [s["Resource"] for s in policy("function.json")["Statement"] if s["Action"] == "mns:SendMessage"]
    assert sends == [destination]


def test_every_policy_is_a_ram_document_with_no_unknown_placeholder():
    names = {"TARGET_ACCOUNT": "9876543210987654", "TARGET_ROLE": "dwtrigger-cross",
             "SERVICE": "fc.aliyuncs.com", "FUNCTION": "dwtrigger-oss", "BUCKET": "etl-landing",
             "LEDGER_BUCKET": "etl-ledger", "LEDGER_PREFIX": "dwtrigger/"}
    documents = sorted(RAM.glob("*.json"))
    assert documents
    for path in documents:
        doc = policy(path.name, **names)
        assert doc["Version"] == "1" and doc["Statement"], path.name
        for statement in doc["Statement"]:
            assert statement["Effect"] == "Allow" and ("Resource" in statement) != ("Principal" in statement)
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(re.fullmatch(r"[a-z]+:[A-Za-z]+", a) for a in actions), path.name


def test_the_cross_account_role_trusts_exactly_the_function_role():
    role_arn = re.compile(SCHEMA["$defs"]["roleArn"]["pattern"])
    [assume] = policy("assume-target.json", TARGET_ACCOUNT="9876543210987654", TARGET_ROLE="dwtrigger-cross")[
        "Statement"]
    assert assume["Action"] == "sts:AssumeRole" and role_arn.match(assume["Resource"])
    [trust] = policy("target-trust.json")["Statement"]
    assert trust["Principal"] == {"RAM": sorted({f["role"] for f in FUNCTIONS})}

