"""s.yaml and deploy/ram/: valid for fc3, wired to rules.yaml both ways, every failure ending in the dead-letter
queue, least privilege. Nothing here reaches the cloud.

s.yaml is resolved the way `s` resolves it (deploy/wiring.py; `test_the_resolution_is_what_s_preview_prints` holds
the two equal wherever the Serverless Devs CLI is installed) and validated against deploy/s.schema.json (dwtrigger's
choices) and, where it is laid beside the repo, fc3's own schema (its src/schema.json, taken from another repository
and so not committed here: see FC3_SCHEMA); the policies are rendered the way the runbook renders them
(envsubst's ${NAME}).
"""
import copy
import json
import os
import re
import shlex
import shutil
import string
import subprocess

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator

from conftest import ROOT
from deployed import ACCOUNT, CONFIG, FUNCTIONS, S, TEMPLATE, wiring
from dwtrigger.rules import parse_rules
from dwtrigger.sources import mns as mns_source, oss as oss_source

SCHEMA = json.loads((ROOT / "deploy" / "s.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
# fc3's src/schema.json (github.com/devsapp/fc3, generated from its TypeScript interfaces; fc3 checks each resource's
# props with it before deploying). Third-party data, so never committed: the team lays it in the shared reference
# folder beside the repo; where it is absent the checks against it skip, saying so.
FC3_SCHEMA = ROOT.parent / "shared" / "reference" / "fc3-schema.json"
FC3 = json.loads(FC3_SCHEMA.read_text()) if FC3_SCHEMA.is_file() else None
# fc3 validates a trigger's config against any of its trigger interfaces (one of them requires nothing): here each
# is held to the interface of its type.
FC3_TRIGGERS = {"oss": "IOssTriggerConfig", "mns_topic": "IMnsTriggerConfig", "timer": "ITimerTriggerConfig",
                "eventbridge": "IEventBridge", "http": "IHttpTriggerConfig"}
RAM = ROOT / "deploy" / "ram"
RULES_TEXT = (ROOT / "rules.yaml").read_text()
RULES = parse_rules(RULES_TEXT, "rules.yaml")
VARS = S["vars"]
DLQ = f"acs:mns:{VARS['region']}:{ACCOUNT}:/queues/{VARS['dlq']}"
RUNBOOK = (ROOT / "docs" / "deploy.md").read_text()
REFERENCE = (ROOT / "docs" / "reference.md").read_text()    # the environment variables


def triggers(kind: str, s: dict = S, function: str = None) -> list:
    return [t for name, r in s["resources"].items() for t in r["props"].get("triggers", [])
            if t["triggerType"] == kind and function in (None, name)]


def named(name: str, s: dict) -> dict:
    [trigger] = [t for r in s["resources"].values() for t in r["props"].get("triggers", []) if t["triggerName"] == name]
    return trigger


def policy(name: str, **names: str) -> dict:
    """A deploy/ram/ document rendered as `envsubst` would; an unknown ${NAME} fails."""
    known = {"REGION": VARS["region"], "ACCOUNT": ACCOUNT, "DLQ": VARS["dlq"], "ROLE": VARS["role"], **names}
    return json.loads(string.Template((RAM / name).read_text()).substitute(known))


def errors(doc: dict) -> list:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def fc3_errors(doc: dict) -> list:
    """What fc3's Ajv would log for each resource's props, and each trigger's config against its interface."""
    if FC3 is None:
        return []
    found = []
    for name, resource in doc["resources"].items():
        props = resource["props"]
        found += [f"{name}/{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in Draft7Validator(FC3).iter_errors(props)]
        for t in props.get("triggers", []):
            interface = Draft7Validator({"$ref": f"#/definitions/{FC3_TRIGGERS[t['triggerType']]}",
                                         "definitions": FC3["definitions"]})
            found += [f"{name}/{t['triggerName']}: {e.message}" for e in interface.iter_errors(t["triggerConfig"])]
    return found


def runbook_yaml(marker: str):
    """The runbook's YAML example holding `marker`, parsed: the runbook's snippets are checked, not just shown."""
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", RUNBOOK, re.S) if marker in b]
    return yaml.safe_load(block)


def direct_topic(s: dict = S) -> dict:
    """`s` with topic etl-done on the runbook's direct topic trigger instead of its subscribed queue."""
    s = copy.deepcopy(s)
    [topic] = wiring.resolve({"vars": TEMPLATE["vars"], "x": runbook_yaml("triggerType: mns_topic")}, CONFIG)["x"]
    queue = next(q["queue"] for q in s["vars"]["subscriptions"] if q["topic"] == "etl-done")
    s["vars"]["subscriptions"] = [q for q in s["vars"]["subscriptions"] if q["topic"] != "etl-done"]
    mns = s["resources"]["mns"]["props"]
    mns["triggers"] = [topic] + [t for t in mns["triggers"]
                                 if mns_source.queue_of(wiring.Trigger("mns", "mns", t)) != queue]
    return s


# ---- valid for fc3 ---------------------------------------------------------------------------------------------

def test_s_yaml_is_valid_for_dwtrigger_once_resolved():
    Draft202012Validator.check_schema(SCHEMA)
    assert errors(S) == []
    assert "${" not in json.dumps(S)


@pytest.mark.skipif(FC3 is None, reason=f"fc3's schema is not at {FC3_SCHEMA}")
def test_s_yaml_and_the_runbook_private_endpoint_are_valid_for_fc3():
    Draft7Validator.check_schema(FC3)
    assert fc3_errors(S) == []
    assert fc3_errors(private_endpoint()) == []


@pytest.mark.skipif(not shutil.which("s") and not os.environ.get("CI"), reason="the Serverless Devs CLI (npm install -g @serverless-devs/s) "
                                                  "is not on PATH")
def test_the_resolution_is_what_s_preview_prints(tmp_path):
    """`s preview` renders s.yaml offline (no component is downloaded); a throwaway alias gives it the account, and
    the deploying shell the http callers' secrets (the resolution names them `<NAME from the shell>`)."""
    secrets = {name: f"<{name} from the shell>"
               for name in re.findall(r"\$\{env\(\s*['\"]?(\w+)", (ROOT / "s.yaml").read_text())}
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], **secrets}
    subprocess.run(["s", "config", "add", "--AccessKeyID", "not-a-key", "--AccessKeySecret", "not-a-secret",
                    "--AccountID", ACCOUNT, "-a", "default"], env=env, capture_output=True, check=True, timeout=120)
    run = subprocess.run(["s", "preview", "-o", "json"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    preview = json.loads(run.stdout[run.stdout.index("{"):])
    assert preview == S
    assert fc3_errors(preview) == []


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
    "an unknown trigger type": lambda s: triggers("timer", s)[0].update(triggerType="cron"),
    "a five-field cron": lambda s: triggers("timer", s)[0]["triggerConfig"].update(cronExpression="0 0 * * *"),
    "hour 24": lambda s: triggers("timer", s)[0]["triggerConfig"].update(cronExpression="0 0 24 * * *"),
    "an MNS source without its queue": lambda s: triggers("eventbridge", s)[0]["triggerConfig"]["eventSourceConfig"][
        "eventSourceParameters"]["sourceMNSParameters"].pop("QueueName"),
    "a queue trigger that blocks behind a failing message": lambda s: triggers("eventbridge", s)[-1][
        "triggerConfig"]["runOptions"].update(errorsTolerance="NONE"),
    "a queue trigger that discards what fails": lambda s: triggers("eventbridge", s)[0]["triggerConfig"][
        "runOptions"].pop("deadLetterQueue"),
    "a dead-letter ARN with FC's /messages": lambda s: triggers("eventbridge", s)[0]["triggerConfig"]["runOptions"][
        "deadLetterQueue"].update(Arn=DLQ + "/messages"),
    "runOptions of the event mode, where they do nothing": lambda s: triggers("eventbridge", s)[0][
        "triggerConfig"]["runOptions"].update(mode="event-driven"),
    "no retry strategy": lambda s: triggers("eventbridge", s)[0]["triggerConfig"]["runOptions"].pop("retryStrategy"),
    "raw data, without the subject naming the queue": lambda s: triggers("eventbridge", s)[0]["triggerConfig"][
        "eventSinkConfig"]["deliveryOption"].update(eventSchema="RawData"),
    "a subscription without its queue": lambda s: s["vars"]["subscriptions"][0].pop("queue"),
    "a topic trigger without its retry strategy": lambda s: triggers("mns_topic", s)[0]["triggerConfig"].pop(
        "notifyStrategy"),
    "a topic trigger without its format": lambda s: triggers("mns_topic", s)[0]["triggerConfig"].pop(
        "notifyContentFormat"),
    "no invocation role": lambda s: triggers("mns_topic", s)[0].pop("invocationRole"),
    "a topic ARN without /topics/": lambda s: triggers("mns_topic", s)[0].update(
        sourceArn=f"acs:mns:cn-shanghai:{ACCOUNT}:topic/etl-done"),
    "logConfig: auto (DefaultRegex joins a decision line to the dated line before it)": lambda s: s["resources"][
        "oss"]["props"].update(logConfig="auto"),
    "lines joined by DefaultRegex": lambda s: s["resources"]["oss"]["props"]["logConfig"].update(
        logBeginRule="DefaultRegex"),
    "a VPC without its security group": lambda s: s["resources"]["oss"]["props"].update(
        vpcConfig={"vpcId": "vpc-a1", "vSwitchIds": ["vsw-a1"]}),
}


@pytest.mark.parametrize("break_it", BREAKS.values(), ids=BREAKS.keys())
def test_the_schema_refuses_what_fc3_or_the_dead_letter_story_would(break_it):
    broken = direct_topic()
    assert errors(broken) == []
    break_it(broken)
    assert errors(broken)


def private_endpoint() -> dict:
    """s.yaml with the runbook's vpcConfig example, and two fc3 props dwtrigger does not detail."""
    private = wiring.resolve(wiring.merged(TEMPLATE, runbook_yaml("vpcConfig")), CONFIG)
    private["resources"]["timer"]["props"].update(instanceConcurrency=1, tags=[{"key": "team", "value": "etl"}])
    return private


def test_the_runbook_private_endpoint_is_accepted():
    """fc3 props dwtrigger does not detail pass; vpcConfig, which a dataworks-vpc endpoint needs, is checked."""
    private = private_endpoint()
    assert all(f["props"]["vpcConfig"]["vpcId"].startswith("vpc-") for f in private["resources"].values())
    assert errors(private) == []
    assert "dataworks-vpc." in RUNBOOK


def test_one_python312_function_per_handler_built_by_the_pre_deploy_action():
    handlers = {f"dwtrigger-{d.name}" for d in (ROOT / "functions").iterdir() if (d / "index.py").is_file()}
    assert {f["functionName"] for f in FUNCTIONS} == handlers
    build, _ = S["actions"]["pre-deploy"]
    for function in FUNCTIONS:
        assert function["runtime"] == "python3.12"
        assert build["run"] == f"make package FC_PYTHON={function['runtime'].removeprefix('python')}"


def test_functions_log_to_sls_and_set_only_variables_dwtrigger_documents():
    for function in FUNCTIONS:
        assert function["logConfig"]["logBeginRule"] == "None"
        undocumented = [name for name in function["environmentVariables"] if f"`{name}`" not in REFERENCE]
        assert undocumented == [], f"{function['functionName']}: not variables dwtrigger reads"


def test_the_pre_deploy_action_sets_up_the_project_and_logstore_every_function_logs_to_before_the_deploy():
    """Each decision line one SLS entry (logBeginRule None), in the project and logstore `dwtrigger logs setup`
    makes first: the action's command line is read by the command itself."""
    from dwtrigger.ops.logs import setup

    build, logs = S["actions"]["pre-deploy"]
    assert build["run"].startswith("make package")      # .venv/bin/dwtrigger is there once the packages are built
    program, *args = shlex.split(logs["run"])
    assert program == ".venv/bin/dwtrigger" and args[:2] == ["logs", "setup"]
    asked = setup.make_context("setup", args[2:]).params
    assert asked["region"] == VARS["region"] and not asked["dry_run"]
    assert asked["project"] == f"dwtrigger-{ACCOUNT}"
    for function in FUNCTIONS:
        assert function["logConfig"] == {"project": asked["project"], "logstore": asked["logstore"],
                                         "logBeginRule": "None", "enableRequestMetrics": True,
                                         "enableInstanceMetrics": True}
        assert function["region"] == asked["region"]


# ---- rules.yaml <-> triggers, both ways ------------------------------------------------------------------------

def where(rule: str) -> str:
    return f"rules.yaml:{RULES.named(rule).line}: rule '{rule}'"


def with_rules(extra: str):
    return parse_rules(RULES_TEXT + extra, "rules.yaml")


def without(s: dict, *names: str) -> dict:
    s = copy.deepcopy(s)
    for resource in s["resources"].values():
        resource["props"]["triggers"] = [t for t in resource["props"].get("triggers", [])
                                         if t["triggerName"] not in names]
    return s


COMPLETED = ("oss:ObjectCreated:PutObject, oss:ObjectCreated:PostObject, oss:ObjectCreated:CompleteMultipartUpload, "
             "oss:ObjectCreated:PutSymlink, oss:ObjectCreated:CopyObject")


def test_every_rule_has_a_trigger_and_every_trigger_a_rule():
    assert wiring.check(RULES, S) == []
    assert wiring.check(RULES, direct_topic()) == []
    # Several of each: two buckets, three queues (two of them topics'), two timers on two functions.
    assert len({t["sourceArn"] for t in triggers("oss")}) == 2 and len(triggers("eventbridge", function="mns")) == 3
    assert {t["triggerName"] for t in triggers("timer")} == {"nightly", "every-10-minutes"}


def test_a_rule_no_trigger_feeds_is_refused_with_the_trigger_to_add():
    s = without(S, "backup-clicks", "nightly", "etl-events", "billing-done")
    assert wiring.check(RULES, s) == [
        f"{where('clicks-hourly')}: no trigger in s.yaml feeds its keys in bucket etl-landing-backup (clicks-hourly): "
        f"add an oss trigger on etl-landing-backup to the oss function (prefix 'logs/clicks/', suffix '.done', "
        f"events {COMPLETED}), or remove the rule",
        "s.yaml: vars.subscriptions: queue dwtrigger-billing-done (subscribed to topic billing-done) has no "
        "eventbridge trigger on the mns function: add one",
        f"{where('billing-feed')}: no trigger in s.yaml feeds topic billing-done: subscribe a queue to it "
        "(vars.subscriptions) with an eventbridge trigger on that queue, or add a mns_topic trigger, to the mns "
        "function; or remove the rule",
        f"{where('crm-export')}: no trigger in s.yaml reads queue etl-events: add an eventbridge trigger on it to "
        "the mns function, or remove the rule",
        f"{where('nightly')}: no timer trigger named nightly on the timer function feeds it: add one, or remove the "
        "rule",
    ]


def test_a_trigger_no_rule_takes_is_refused_with_the_rule_to_add():
    rules = parse_rules(re.sub(r"\n  # A timer releases.*", "\n", RULES_TEXT, flags=re.S), "rules.yaml")
    s = copy.deepcopy(S)
    s["vars"]["subscriptions"].append({"topic": "hr-done", "queue": "dwtrigger-hr-done"})
    queue = copy.deepcopy(named("billing-done", s))
    queue.update(triggerName="hr-done")
    queue["triggerConfig"]["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"].update(
        QueueName="dwtrigger-hr-done")
    s["resources"]["mns"]["props"]["triggers"].append(queue)
    bucket = copy.deepcopy(named("backup-clicks", s))
    bucket.update(triggerName="archive", sourceArn=f"acs:oss:cn-shanghai:{ACCOUNT}:etl-archive")
    s["resources"]["oss"]["props"]["triggers"].append(bucket)
    assert wiring.check(rules, s) == [
        "s.yaml: oss trigger 'archive' of resource oss on bucket etl-archive (prefix 'logs/clicks/', suffix '.done') "
        "feeds no rule in rules.yaml: remove the trigger, or add a rule for the objects it delivers",
        "s.yaml: eventbridge trigger 'hr-done' of resource mns on queue dwtrigger-hr-done (subscribed to topic "
        "hr-done) feeds no rule in rules.yaml: remove it, or add a rule",
        "s.yaml: timer trigger 'nightly' of resource timer feeds no rule in rules.yaml (a timer rule's `timer:` names "
        "its trigger): remove it, or add a rule",
        "s.yaml: eventbridge trigger 'payments' of resource rocketmq on topic payments feeds no rule in rules.yaml: "
        "remove it, or add a rule",
        "s.yaml: eventbridge trigger 'ad-clicks' of resource kafka on topic ad-clicks feeds no rule in rules.yaml: "
        "remove it, or add a rule",
        "s.yaml: eventbridge trigger 'hr-sync' of resource rabbitmq on queue hr-sync feeds no rule in rules.yaml: "
        "remove it, or add a rule",
        "s.yaml: http trigger 'release' of resource http feeds no rule in rules.yaml (no rule is `on: http`): "
        "remove it, or add a rule",
    ]


def test_an_oss_trigger_is_exactly_as_tight_as_its_rules_allow():
    s = copy.deepcopy(S)
    named("landing-orders", s)["triggerConfig"]["filter"]["key"]["prefix"] = "exports/"
    named("landing-inventory", s)["triggerConfig"]["events"] = ["oss:ObjectCreated:PutObject"]
    named("landing-partner", s)["triggerConfig"]["events"] = ["oss:ObjectCreated:*"]
    [loose, missing, extra] = wiring.check(RULES, s)
    assert loose.startswith("s.yaml: oss trigger 'landing-orders' of resource oss: its filter (prefix 'exports/', "
                            "suffix '/_SUCCESS') lets through more than its rules need: replace it by 4 trigger(s): ")
    assert f"prefix 'exports/orders/dt=', suffix '/_SUCCESS', events {COMPLETED} for orders-daily" in loose
    assert missing == ("s.yaml: oss trigger 'landing-inventory' of resource oss: rules inventory-daily also take "
                       "oss:ObjectCreated:PostObject, oss:ObjectCreated:CompleteMultipartUpload, "
                       "oss:ObjectCreated:PutSymlink, oss:ObjectCreated:CopyObject: subscribe to them too")
    assert extra == ("s.yaml: oss trigger 'landing-partner' of resource oss: no rule it feeds takes "
                     "oss:ObjectCreated:PostObject, oss:ObjectCreated:PutSymlink, oss:ObjectCreated:CopyObject, "
                     "oss:ObjectCreated:AppendObject, oss:ObjectCreated:InitiateMultipartUpload, "
                     "oss:ObjectCreated:UploadPart, oss:ObjectCreated:UploadPartCopy: subscribe to exactly "
                     "oss:ObjectCreated:PutObject, oss:ObjectCreated:CompleteMultipartUpload")


def test_the_derived_filters_never_overlap_and_stay_within_osss_limit():
    rules = parse_rules("version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n" + "".join(
        f'  - {{name: r{i}, on: oss, bucket: b, key: "t{i}/dt={{bizdate:%Y%m%d}}/_SUCCESS", '
        f"trigger: [{{workspace: 1, node: {i + 1}}}]}}\n" for i in range(12)) +
        '  - {name: nested, on: oss, bucket: b, key: "t1/dt=x/{bizdate:%Y%m%d}/_SUCCESS", '
        "trigger: [{workspace: 1, node: 99}]}\n")
    filters = oss_source.derive(rules, "b")
    assert len(filters) == oss_source.OSS_TRIGGERS_PER_BUCKET
    assert not any(a.overlaps(b) for i, a in enumerate(filters) for b in filters[i + 1:])
    for key in oss_source.keys(rules, "b"):
        assert sum(f.lets_through(key.prefix, key.suffix) for f in filters) == 1, key
    # t1/dt= and t1/dt=x/ overlap (one prefix starts the other, same suffix): one trigger takes both rules; past
    # the limit, t1/dt= and t10/dt= merge into t1, which then overlaps t11/dt=.
    assert [f.rules for f in filters if "nested" in f.rules] == [("nested", "r1", "r10", "r11")]
    assert {f.suffix for f in filters} == {"/_SUCCESS"}


def test_topics_reach_the_function_through_their_queue_or_a_direct_trigger_never_both():
    both = direct_topic()
    both["vars"]["subscriptions"].append({"topic": "etl-done", "queue": "dwtrigger-etl-done"})
    both["resources"]["mns"]["props"]["triggers"].append(named("etl-done", S))
    assert wiring.check(RULES, both) == [
        "s.yaml: mns_topic trigger 'etl-done-topic' of resource mns: topic etl-done also reaches the function "
        "through its subscribed queue, so every message would be decided twice: keep one of the two"]
    stream = direct_topic()
    triggers("mns_topic", stream)[0]["triggerConfig"]["notifyContentFormat"] = "STREAM"
    assert wiring.check(RULES, stream) == [
        "s.yaml: mns_topic trigger 'etl-done-topic' of resource mns: set notifyContentFormat to JSON: a STREAM "
        "message does not name its topic"]


def test_a_deployment_may_hold_several_timers_and_expect_needs_the_sweep():
    rules = with_rules("  - {name: hourly, on: timer, timer: hourly, trigger: [{workspace: 10001, node: 7}]}\n")
    s = copy.deepcopy(S)
    assert wiring.check(rules, s) == [f"rules.yaml:{rules.named('hourly').line}: rule 'hourly': no timer trigger "
                                      "named hourly on the timer function feeds it: add one, or remove the rule"]
    s["resources"]["timer"]["props"]["triggers"].append(dict(named("nightly", s), triggerName="hourly"))
    assert wiring.check(rules, s) == []
    del s["resources"]["sweep"]
    assert wiring.check(rules, s) == [f"{where('orders-daily')}: `expect` needs the sweep function's timer trigger, "
                                      "and s.yaml has none: add it, or remove `expect`"]


def test_a_rule_taking_any_message_is_fed_by_every_mns_trigger_and_needs_one():
    rules = with_rules("  - {name: anything, on: mns, trigger: [{workspace: 10001, node: 7}]}\n")
    extra = copy.deepcopy(S)
    extra["resources"]["mns"]["props"]["triggers"].append(dict(named("etl-events", S), triggerName="other"))
    extra["resources"]["mns"]["props"]["triggers"][-1]["triggerConfig"] = copy.deepcopy(
        named("etl-events", S)["triggerConfig"])
    extra["resources"]["mns"]["props"]["triggers"][-1]["triggerConfig"]["eventSourceConfig"][
        "eventSourceParameters"]["sourceMNSParameters"]["QueueName"] = "other-queue"
    assert wiring.check(rules, extra) == []
    bare = without(S, "etl-events", "etl-done", "billing-done")
    bare["vars"]["subscriptions"] = []
    assert f"rules.yaml:{rules.named('anything').line}: rule 'anything': it takes any message, and no trigger in " \
        "s.yaml brings the mns function one: add an eventbridge (queue) or mns_topic trigger to it, or remove the " \
        "rule" in wiring.check(rules, bare)


def test_a_trigger_on_a_function_whose_handler_rejects_its_events_is_refused():
    s = copy.deepcopy(S)
    s["resources"]["timer"]["props"]["triggers"].append(named("etl-events", s))
    assert wiring.check(RULES, s) == ["s.yaml: eventbridge trigger 'etl-events' of resource timer: belongs on the "
                                      "mns function, whose handler takes eventbridge events"]


# ---- disabled rules: they need no trigger, and one kept for them is a warning --------------------------------------

def disabling(*names: str, extra: str = ""):
    """rules.yaml (and `extra` rules) with the rules `names` switched off."""
    text = RULES_TEXT + extra
    for name in names:
        text = text.replace(f"  - name: {name}\n", f"  - name: {name}\n    enabled: false\n", 1)
    rules = parse_rules(text, "rules.yaml")
    assert {rule.name for rule in rules.disabled} >= set(names)
    return rules


def off(rules, name: str) -> str:
    [rule] = [rule for rule in rules.disabled if rule.name == name]
    return f"'{name}' (enabled: false at rules.yaml:{rule.line})"


KEPT = ": meanwhile it invokes the function for events no rule in play takes; remove it if the rule stays off"


def test_a_trigger_kept_for_a_disabled_rule_is_a_warning_naming_it_and_the_rule_needs_none():
    rules = disabling("nightly")
    assert wiring.check(rules, S) == ["s.yaml: timer trigger 'nightly' of resource timer feeds no rule in rules.yaml "
                                      "(a timer rule's `timer:` names its trigger): remove it, or add a rule"]
    assert wiring.judge(rules, S) == (
        [], [f"s.yaml: timer trigger 'nightly' of resource timer is kept for disabled rule {off(rules, 'nightly')}"
             + KEPT])
    assert wiring.judge(rules, without(S, "nightly")) == ([], [])


def kept_for(warnings: list) -> dict:
    """trigger -> the disabled rules its warning names."""
    return {re.match(r"s\.yaml: \w+ trigger '([\w-]+)'", w)[1]: re.findall(r"'([\w-]+)' \(enabled: false", w)
            for w in warnings}


EXTRA_DISABLED = """\
  - {name: hr-export, on: mns, queue: hr-queue, enabled: false, trigger: [{workspace: 10001, node: 7}]}
  - {name: clicks-archive, on: oss, bucket: etl-archive, key: "logs/clicks/{cycle:%Y%m%d%H}/*.done", enabled: false,
     trigger: [{workspace: 10001, node: 8}]}
  - {name: weekly, on: timer, timer: weekly, enabled: false, trigger: [{workspace: 10001, node: 9}]}
"""


def test_each_warning_names_exactly_the_disabled_rules_its_trigger_feeds():
    """OSS keys (a rule's own, its `require` entries', per bucket), a topic's direct trigger, a queue's, a subscribed
    queue's, a timer's: each kept trigger names the disabled rules it feeds, not the others; `weekly` has no trigger,
    which is no problem."""
    rules = disabling("sales-complete", "clicks-hourly", "partner-drop", "finance-close", "billing-feed",
                      "crm-export", "nightly", extra=EXTRA_DISABLED)
    s = direct_topic()
    hr = copy.deepcopy(named("etl-events", s))
    hr["triggerName"] = "hr-events"
    hr["triggerConfig"]["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]["QueueName"] = "hr-queue"
    s["resources"]["mns"]["props"]["triggers"].append(hr)
    archive = copy.deepcopy(named("backup-clicks", s))
    archive.update(triggerName="archive", sourceArn=f"acs:oss:cn-shanghai:{ACCOUNT}:etl-archive")
    s["resources"]["oss"]["props"]["triggers"].append(archive)
    problems, warnings = wiring.judge(rules, s)
    assert problems == []
    sales = ["sales-complete"]
    assert kept_for(warnings) == {
        "landing-sales-orders": sales, "landing-sales-customers": sales, "landing-sales-items": sales,
        "landing-clicks": ["clicks-hourly"], "landing-partner": ["partner-drop"], "backup-clicks": ["clicks-hourly"],
        "archive": ["clicks-archive"], "etl-done-topic": ["finance-close"], "etl-events": ["crm-export"],
        "billing-done": ["billing-feed"], "hr-events": ["hr-export"], "nightly": ["nightly"]}
    assert warnings[3] == (f"s.yaml: oss trigger 'landing-clicks' of resource oss is kept for disabled rule "
                           f"{off(rules, 'clicks-hourly')}{KEPT}")


def test_a_disabled_rule_for_any_message_keeps_every_mns_trigger():
    rules = with_rules("  - {name: anything, on: mns, enabled: false, trigger: [{workspace: 10001, node: 7}]}\n")
    s = copy.deepcopy(S)
    other = copy.deepcopy(named("etl-events", s))
    other["triggerName"] = "other"
    other["triggerConfig"]["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]["QueueName"] = "q"
    s["resources"]["mns"]["props"]["triggers"].append(other)
    assert wiring.check(rules, s) == ["s.yaml: eventbridge trigger 'other' of resource mns on queue q feeds no rule "
                                      "in rules.yaml: remove it, or add a rule"]
    assert wiring.judge(rules, s) == ([], [f"s.yaml: eventbridge trigger 'other' of resource mns is kept for disabled "
                                           f"rule {off(rules, 'anything')}{KEPT}"])


def test_an_oss_trigger_wider_than_the_rules_in_play_need_is_a_warning_when_a_disabled_rule_needs_it():
    """One trigger for every export's _SUCCESS: exactly what the rules need with `exports-any` enabled."""
    rules = with_rules('  - {name: exports-any, on: oss, bucket: etl-landing, key: "exports/{table}/_SUCCESS", '
                       "enabled: false, trigger: [{workspace: 10001, node: 7}]}\n")
    s = without(S, "landing-orders", "landing-inventory", "landing-sales-orders", "landing-sales-customers")
    exports = copy.deepcopy(named("landing-orders", S))
    exports["triggerName"] = "landing-exports"
    exports["triggerConfig"]["filter"]["key"]["prefix"] = "exports/"
    s["resources"]["oss"]["props"]["triggers"].append(exports)
    [wide] = wiring.check(rules, s)
    assert wide.startswith("s.yaml: oss trigger 'landing-exports' of resource oss: its filter (prefix 'exports/', "
                           "suffix '/_SUCCESS') lets through more than its rules need: replace it by 4 trigger(s)")
    assert wiring.judge(rules, s) == ([], [f"s.yaml: oss trigger 'landing-exports' of resource oss is kept for "
                                           f"disabled rule {off(rules, 'exports-any')}{KEPT}"])


def test_what_disabled_rules_do_not_explain_still_refuses_the_build():
    rules = disabling("nightly")
    s = without(S, "etl-events")
    archive = copy.deepcopy(named("backup-clicks", s))
    archive.update(triggerName="archive", sourceArn=f"acs:oss:cn-shanghai:{ACCOUNT}:etl-archive")
    s["resources"]["oss"]["props"]["triggers"].append(archive)
    problems, warnings = wiring.judge(rules, s)
    assert problems == [
        "s.yaml: oss trigger 'archive' of resource oss on bucket etl-archive (prefix 'logs/clicks/', suffix '.done') "
        "feeds no rule in rules.yaml: remove the trigger, or add a rule for the objects it delivers",
        f"rules.yaml:{rules.named('crm-export').line}: rule 'crm-export': no trigger in s.yaml reads queue "
        "etl-events: add an eventbridge trigger on it to the mns function, or remove the rule"]
    assert kept_for(warnings) == {"nightly": ["nightly"]}


def test_a_rule_in_play_no_trigger_feeds_stays_a_problem_beside_a_disabled_rule_whose_keys_merge_with_its():
    """With `orders-late` in play the two rules' keys would share one trigger, so the problem reads otherwise
    (naming both); it is about a rule in play all the same."""
    rules = with_rules('  - {name: orders-late, on: oss, bucket: etl-landing, '
                       'key: "exports/orders/dt={bizdate:%Y-%m-%d}/late/_SUCCESS", enabled: false, '
                       "trigger: [{workspace: 10001, node: 7}]}\n")
    s = without(S, "landing-orders")
    assert wiring.judge(rules, s) == (wiring.check(rules, s), [])
    assert wiring.check(rules, s)[0].startswith(f"{where('orders-daily')}: no trigger in s.yaml feeds its keys in "
                                                "bucket etl-landing (orders-daily): ")


# ---- dead letters on every path ----------------------------------------------------------------------------------

def test_every_function_sends_what_still_fails_after_fcs_retries_to_the_dead_letter_queue():
    for function in FUNCTIONS:
        config = function["asyncInvokeConfig"]
        assert config["destinationConfig"]["onFailure"]["destination"] == DLQ + "/messages"
        assert 1 <= config["maxAsyncRetryAttempts"] <= 8
    sends = [s["Resource"] for s in policy("function.json")["Statement"] if s["Action"] == "mns:SendMessage"]
    assert sends == [DLQ + "/messages"]


def test_every_queue_trigger_retries_then_dead_letters_the_same_queue_without_blocking():
    for trigger in triggers("eventbridge"):
        config = trigger["triggerConfig"]
        # true = asynchronous (s.yaml says why): FC's retries and failure destination take the function's errors.
        assert config["asyncInvocationType"] is True
        assert config["eventSinkConfig"] == {"deliveryOption": {"mode": "event-streaming", "eventSchema": "CloudEvents"}}
        run = config["runOptions"]
        assert (run["mode"], run["errorsTolerance"], run["deadLetterQueue"]) == ("event-streaming", "ALL", {"Arn": DLQ})
        assert run["retryStrategy"]["MaximumRetryAttempts"] >= 1


def test_eventbridge_triggers_come_last_as_fc3_needs():
    """fc3 stops deploying a function's triggers at the first EventBridge one that has not changed."""
    for function in FUNCTIONS:
        kinds = [t["triggerType"] == "eventbridge" for t in function.get("triggers", [])]
        assert kinds == sorted(kinds), function["functionName"]


def test_the_runbook_says_how_to_apply_a_topic_trigger_change_and_confirm_the_invocation_mode():
    text = " ".join(RUNBOOK.split())
    assert "trigger is no need update!" in text and "s mns remove --trigger" in text
    assert "aliyun eventbridge GetEventStreaming" in text and "Sink.SinkFCParameters.InvocationType" in text


# ---- RAM -----------------------------------------------------------------------------------------------------

def test_the_ledger_policy_grants_exactly_its_objects_and_their_listing():
    doc = policy("oss-ledger.json", LEDGER_BUCKET="etl-ledger", LEDGER_PREFIX="dwtrigger/")
    objects, listing = doc["Statement"]
    assert (objects["Action"], objects["Resource"]) == (
        ["oss:GetObject", "oss:PutObject"], f"acs:oss:*:{ACCOUNT}:etl-ledger/dwtrigger/*")
    assert (listing["Action"], listing["Resource"]) == ("oss:ListObjects", f"acs:oss:*:{ACCOUNT}:etl-ledger")
    assert listing["Condition"] == {"StringLike": {"oss:Prefix": "dwtrigger/*"}}


def test_the_drain_policy_reads_and_deletes_the_dead_letter_queues_messages_only():
    [statement] = policy("dlq-drain.json")["Statement"]
    assert statement == {"Effect": "Allow", "Action": ["mns:BatchReceiveMessage", "mns:DeleteMessage"],
                         "Resource": f"{DLQ}/messages"}     # as MNS documents both actions


def test_every_policy_is_a_ram_document_with_no_unknown_placeholder():
    names = {"TARGET_ACCOUNT": "9876543210987654", "TARGET_ROLE": "dwtrigger-cross",
             "SERVICE": "fc.aliyuncs.com", "FUNCTION": "dwtrigger-oss", "BUCKET": "etl-landing",
             "LEDGER_BUCKET": "etl-ledger", "LEDGER_PREFIX": "dwtrigger/", "LOG_PROJECT": VARS["logProject"],
             "LOGSTORE": VARS["logstore"], "PAGE_BUCKET": "etl-board", "PAGE_PREFIX": "dwtrigger/"}
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
