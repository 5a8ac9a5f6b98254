"""`dwtrigger logs setup` as an operator runs it: the real SLS SDK against the SLS stand-in over loopback, which
checks SLS's signatures and keeps what it is given. What the command prints is asserted line by line, and what the
stand-in holds afterwards is what SLS would."""
import json
import os
import re
import subprocess
import sys

import pytest

from checks import SECRETS
from conftest import ROLE_KEY, ROOT, oss_seed
from dwtrigger.ops import sls_config
from dwtrigger.ops.emulator import SlsStandIn
from dwtrigger.outcomes import DECISION_FIELDS
from dwtrigger.sweep import Tally
from logsetup import LOGSTORE, PROJECT, REGION, SETUP, run

SEARCHES = [name for name, _, _ in sls_config.SAVED_SEARCHES]
ALERTS = [name for name, *_ in sls_config.ALERTS]
CREATED = [f"created project {PROJECT} in {REGION}",
           f"created logstore {LOGSTORE}: 30 days, 2 shards (split up to 16)",
           f"created index of {LOGSTORE}: message as JSON, {len(sls_config.index_fields())} fields typed; functionName",
           *(f"created saved search {name}" for name in SEARCHES),
           *(f"created alert {name}" for name in ALERTS),
           "11 created, 0 updated"]
AS_CONFIGURED = (f"SLS is as configured: nothing to change (project {PROJECT}, logstore {LOGSTORE}, index, 5 saved "
                 "searches, 3 alerts)")


@pytest.fixture(scope="module")
def served():
    with SlsStandIn(oss_seed()["keys"], REGION) as standin:
        yield standin


@pytest.fixture
def sls(served):
    served.reset()
    return served


def writes(sls) -> list:
    return [c["operation"] for c in sls.calls if not c["operation"].startswith("Get")]


def held(sls) -> dict:
    return sls.projects()[PROJECT]


def test_a_first_run_creates_the_project_logstore_index_saved_searches_and_alerts(sls):
    result = run(sls)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == CREATED
    assert result.stderr == ""
    project = held(sls)
    assert project["meta"]["region"] == REGION
    store = project["logstores"][LOGSTORE]
    assert (store["ttl"], store["shardCount"], store["autoSplit"]) == (30, 2, True)
    message = project["indexes"][LOGSTORE]["keys"]["message"]
    assert message["type"] == "json"
    # Every decision field, what the decision log adds, and the sweep summary's counts: leaves only.
    tally = {f"sweep.{name}" for name in Tally.__dataclass_fields__}
    assert set(message["json_keys"]) == DECISION_FIELDS | set(sls_config.ENVELOPE) | tally
    types = {name: key["type"] for name, key in message["json_keys"].items()}
    assert (types["outcome"], types["node"], types["attempts"], types["retryable"]) == ("text", "long", "long", "text")
    assert (types["sweep.overdue"], types["sweep.stopped_at_deadline"]) == ("long", "text")
    assert all(key["doc_value"] for key in message["json_keys"].values())
    assert {name: s["searchQuery"] for name, s in project["savedsearches"].items()} == dict(
        (name, query) for name, _, query in sls_config.SAVED_SEARCHES)
    queries = {name: a["configuration"]["queryList"][0] for name, a in project["alerts"].items()}
    assert set(queries) == set(ALERTS)
    assert queries["dwtrigger-failed"]["query"].startswith("message.outcome: failed | SELECT")
    assert queries["dwtrigger-overdue"]["query"].startswith("message.outcome: overdue | SELECT")
    assert queries["dwtrigger-sweep-deadline"]["query"] == ("message.sweep.stopped_at_deadline: true | "
                                                            "SELECT count(*) AS n")
    assert all((q["project"], q["store"], q["region"]) == (PROJECT, LOGSTORE, REGION) for q in queries.values())
    deadline = project["alerts"]["dwtrigger-sweep-deadline"]["configuration"]
    assert deadline["severityConfigurations"][0]["evalCondition"]["condition"] == "n >= 3"
    assert {a["configuration"]["policyConfiguration"]["actionPolicyId"] for a in project["alerts"].values()} == {
        "sls.builtin"}


def test_a_second_run_changes_nothing_and_says_so(sls):
    assert run(sls).exit_code == 0
    sls.gateway.clear_calls()
    result = run(sls)
    assert (result.exit_code, result.stdout.splitlines(), result.stderr) == (0, [AS_CONFIGURED], "")
    assert writes(sls) == []
    assert len(sls.calls) == 11


def test_empty_values_sls_leaves_out_of_its_answers_are_no_difference(sls):
    assert run(sls).exit_code == 0

    def terse(project):
        for alert in project["alerts"].values():
            del alert["configuration"]["joinConfigurations"], alert["schedule"]["runImmediately"]
            del alert["configuration"]["groupConfiguration"]["fields"]
        for search in project["savedsearches"].values():
            del search["topic"]
    sls.change(PROJECT, terse)
    assert run(sls).stdout.splitlines() == [AS_CONFIGURED]


def test_a_dry_run_says_what_it_would_create_and_writes_nothing(sls):
    result = run(sls, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [line.replace("created", "would create", 1) for line in CREATED[:-1]] + [
        "dry run: 11 would be created, 0 updated; nothing changed"]
    assert writes(sls) == []
    assert sls.projects() == {}
    assert [c["operation"] for c in sls.calls] == ["GetProject"]      # nothing under a missing project is asked


def test_drift_is_named_field_by_field_and_repaired_keeping_what_a_person_added(sls):
    assert run(sls, "--action-policy", "etl-oncall").exit_code == 0

    def by_hand(project):
        message = project["indexes"][LOGSTORE]["keys"]["message"]
        message["json_keys"]["node"]["type"] = "text"
        message["json_keys"]["team"] = {"type": "text", "doc_value": True}
        del project["alerts"]["dwtrigger-overdue"]
        project["savedsearches"]["dwtrigger-outcomes"]["searchQuery"] = "*"
        project["logstores"][LOGSTORE]["ttl"] = 7
    sls.change(PROJECT, by_hand)
    query = dict((n, q) for n, _, q in sls_config.SAVED_SEARCHES)["dwtrigger-outcomes"]
    drift = [f"would update logstore {LOGSTORE}", "  ttl: 7 -> 30",
             f"would update index of {LOGSTORE}", '  message.node.type: "text" -> "long"',
             "would update saved search dwtrigger-outcomes", f'  searchQuery: "*" -> {json.dumps(query)[:97]}...',
             "would create alert dwtrigger-overdue"]
    sls.gateway.clear_calls()
    dry = run(sls, "--dry-run", "--action-policy", "etl-oncall")
    assert (dry.exit_code, dry.stdout.splitlines()) == (0, drift + [
        "dry run: 1 would be created, 3 updated; nothing changed"])
    assert writes(sls) == []
    result = run(sls, "--action-policy", "etl-oncall")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [line.replace("would create", "created").replace("would update", "updated")
                                          for line in drift] + ["1 created, 3 updated"]
    project = held(sls)
    message = project["indexes"][LOGSTORE]["keys"]["message"]["json_keys"]
    assert (message["node"]["type"], message["team"]["type"]) == ("long", "text")
    assert project["logstores"][LOGSTORE]["ttl"] == 30
    assert project["alerts"]["dwtrigger-overdue"]["configuration"]["policyConfiguration"]["actionPolicyId"] == \
        "etl-oncall"
    assert run(sls, "--action-policy", "etl-oncall").stdout.splitlines() == [AS_CONFIGURED]


def test_another_action_policy_is_an_update_of_each_alert(sls):
    assert run(sls).exit_code == 0
    result = run(sls, "--action-policy", "etl-oncall", "--dry-run")
    assert result.stdout.splitlines() == [
        line for name in ALERTS for line in (
            f"would update alert {name}",
            '  configuration.policyConfiguration.actionPolicyId: "sls.builtin" -> "etl-oncall"')] + [
        "dry run: 0 would be created, 3 updated; nothing changed"]


def test_a_wrong_key_is_refused_in_one_line_without_a_secret(sls):
    wrong = {**ROLE_KEY, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong-secret"}
    result = run(sls, key=wrong)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: SLS refused GetProject (SignatureNotMatch): check the access key (ALIBABA_CLOUD_ACCESS_KEY_ID and "
        "_SECRET, or the default credentials) and this machine's clock"]
    assert [(c["operation"], c["status"]) for c in sls.calls] == [("GetProject", 401)]
    unknown = run(sls, key={"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAInobody", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "x" * 9})
    assert unknown.exit_code == 2 and "(Unauthorized)" in unknown.stderr
    for said in (result.output, unknown.output):
        assert not [s for s in SECRETS if s in said]


def test_a_refused_read_changes_nothing_and_names_the_permission(sls):
    assert run(sls).exit_code == 0
    sls.deny("GetAlert")
    sls.gateway.clear_calls()
    result = run(sls)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: SLS refused GetAlert: the identity of these keys may not log:GetJob: grant it "
        "(deploy/ram/sls-setup.json)"]
    assert writes(sls) == []


def test_a_refused_write_stops_there_saying_what_was_done(sls):
    sls.deny("CreateAlert")
    result = run(sls)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == CREATED[:8]
    assert result.stderr.splitlines() == [
        "SLS refused CreateAlert: the identity of these keys may not log:CreateJob: grant it "
        "(deploy/ram/sls-setup.json); 8 of 11 changes were made, alert dwtrigger-failed and the rest were not"]
    assert held(sls)["alerts"] == {}


def test_an_endpoint_that_does_not_answer_is_one_sentence_and_exit_2(sls, unused_port):
    result = run(sls, endpoint=f"localhost:{unused_port}")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line == (f"Error: SLS at localhost:{unused_port} did not answer GetProject (no connection could be made "
                    f"to {PROJECT}.localhost:{unused_port}): check --endpoint (DWTRIGGER_SLS_ENDPOINT), --region "
                    "and this machine's network")


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_setup(sls, home, *args):
    """The command in a process of its own: alibabacloud-credentials reads HOME and its variables at import."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(ROOT / "shared"),
           "DWTRIGGER_PROTOCOL": "http", "DWTRIGGER_SLS_ENDPOINT": sls.endpoint,
           "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}     # never ask an ECS metadata address from a test
    return subprocess.run([sys.executable, "-m", "dwtrigger.ops.cli", *SETUP, *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_without_keys_in_the_environment_the_aliyun_cli_profile_is_used(sls, tmp_path):
    none = subprocess_setup(sls, tmp_path)
    assert none.returncode == 2
    assert none.stderr.splitlines() == [
        "Error: no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and "
        "ALIBABA_CLOUD_SECURITY_TOKEN for STS keys), or configure the aliyun CLI (`aliyun configure`) or "
        "~/.alibabacloud/credentials.ini, for an identity that deploy/ram/sls-setup.json allows"]
    assert sls.calls == []
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps({"current": "ops", "profiles": [
        {"name": "ops", "mode": "AK", "access_key_id": "LTAIplainkey", "access_key_secret": "plain-secret"}]}))
    found = subprocess_setup(sls, tmp_path, "--dry-run")
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[-1] == "dry run: 11 would be created, 0 updated; nothing changed"
    assert {c["access_key_id"] for c in sls.calls} == {"LTAIplainkey"}


def test_the_runbooks_dry_run_example_is_what_setup_says_of_that_drift(sls):
    """docs/deploy.md, step 5: an index field retyped by hand and an alert deleted, as the dry run says them."""
    runbook = (ROOT / "docs" / "deploy.md").read_text()
    start = runbook.index("```\n", runbook.index("`--dry-run` says what it would create")) + len("```\n")
    shown = runbook[start:runbook.index("```", start)].splitlines()
    assert run(sls).exit_code == 0

    def by_hand(project):
        project["indexes"][LOGSTORE]["keys"]["message"]["json_keys"]["node"]["type"] = "text"
        del project["alerts"]["dwtrigger-overdue"]
    sls.change(PROJECT, by_hand)
    dry = run(sls, "--dry-run")
    assert (dry.exit_code, dry.stdout.splitlines()) == (0, shown)
    assert held(sls)["indexes"][LOGSTORE]["keys"]["message"]["json_keys"]["node"]["type"] == "text"


def test_the_runbook_names_each_saved_search_with_its_query_and_each_alert():
    runbook = (ROOT / "docs" / "deploy.md").read_text()
    section = runbook[runbook.index("## 5. Watch outcomes in SLS"):runbook.index("## 6.")]
    rows = re.findall(r"^\| `(dwtrigger-[a-z-]+)` \([^)]*\) \| `(.+)` \|$", section, re.MULTILINE)
    assert {name: query.replace("\\|", "|") for name, query in rows} == {
        name: query for name, _, query in sls_config.SAVED_SEARCHES}
    for name, *_ in sls_config.ALERTS:
        assert f"`{name}`" in section
    assert "deploy/ram/sls-setup.json" in section and "logConfig: auto" not in runbook
