"""End to end: sample events -> runtime -> real SDK -> emulator on loopback; what DataWorks received and what
was logged. The form bodies asserted here are what the emulator recorded after verifying the signature."""
import importlib
import json
import threading
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from checks import wait_for_calls
from conftest import ACTIONS, BOTH_APIS, ROLE_KEY, ROOT, orders_rules, queue_rules, sample
from dwtrigger.dataworks import API_2020, API_2024, DataWorksError, openapi
from dwtrigger import app
from dwtrigger.ops import fc
from dwtrigger.credentials import InvocationKeys
from dwtrigger.outcomes import Decision
from dwtrigger.recent import ABSENT_S, FRESH_S, Seen
from dwtrigger import events
from dwtrigger.relay import Invocation, Relay, Silence
from dwtrigger.retry import Deadline
from dwtrigger.rules import load_rules

ORDERS = sample("oss/native-put-orders.json")         # exports/orders/dt=2026-03-10/_SUCCESS
FIELDS = set(Decision("x", "oss", None).record()) | {"request_id", "function_name"}


@BOTH_APIS
def test_orders_file_releases_the_instance_dataworks_has(harness):
    h = harness()
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "triggered" and d["rule"] == "orders-daily"
    assert (d["biz_date"], d["biz_date_ms"]) == ("2026-03-10", 1773072000000)
    assert (d["cycle_time"], d["cycle_time_ms"]) == ("2026-03-11T00:30:00+08:00", 1773160200000)
    [lookup], [trigger] = h.calls("lookup"), h.calls("trigger")
    assert (lookup["params"], trigger["params"]) == \
        h.wire(10001, 700001234567, "2026-03-10", 1773072000000, 1773160200000)
    assert trigger["status"] == 200 and d["dataworks_request_id"]
    assert trigger["access_key_id"] == ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"]
    released = [i for i in h.emu.instances(node=700001234567) if i["Released"]]
    assert [(i["CycTime"], i["Bizdate"]) for i in released] == [(1773160200000, 1773072000000)]


def test_every_decision_is_one_log_line_with_every_field(harness):
    h = harness()
    context = fc.context_for("oss")
    h.invoke("oss", sample("oss/eventbridge-list.json"), context)
    lines = h.lines()
    assert [line["outcome"] for line in lines] == ["triggered", "triggered"]
    for line in lines:
        assert FIELDS <= set(line), FIELDS - set(line)
        assert line["request_id"] == context.request_id and line["function_name"] == "dwtrigger-oss"
        assert line["source"] == "oss" and line["attempts"] == 1 and line["dry_run"] is False
    assert [line["bucket"] for line in lines] == ["etl-landing-backup", "etl-landing"]


@BOTH_APIS
def test_a_second_delivery_is_already_triggered_and_sends_nothing(harness):
    h = harness()
    assert h.invoke("oss", ORDERS)[0]["outcome"] == "triggered"
    [again] = harness().invoke("oss", ORDERS)                     # FC redelivers it, to another FC instance
    assert again["outcome"] == "already_triggered" and "success" in again["reason"].lower()
    assert len(h.calls("trigger")) == 1 and len(h.calls("lookup")) == 2


def test_an_fc_instance_answers_an_instance_it_released_lately_without_a_call(harness):
    h = harness()
    [first] = h.invoke("oss", ORDERS)
    [again] = h.invoke("oss", ORDERS)                               # the same FC instance: it remembers (recent.py)
    assert (again["outcome"], again["attempts"], again["cycle_time_ms"], again["biz_date_ms"]) == \
        ("already_triggered", 0, first["cycle_time_ms"], first["biz_date_ms"])
    assert again["reason"].startswith("this FC instance released it at ") and h.actions() == ["lookup", "trigger"]


def test_an_fc_instance_remembers_what_a_look_up_found_past_waiting(harness):
    h = harness()
    h.invoke("oss", ORDERS)                                                 # released: no longer waiting
    other = harness()
    assert [other.invoke("oss", ORDERS)[0]["outcome"] for _ in range(2)] == ["already_triggered"] * 2
    assert other.lines()[-1]["reason"].startswith("this FC instance saw it ")
    assert h.actions() == ["lookup", "trigger", "lookup"]                  # the second FC instance looked once


def test_an_event_that_matches_nothing_is_one_ignored_line(harness):
    h = harness()
    assert h.invoke("oss", sample("oss/native-unmatched.json"))[0]["outcome"] == "ignored"
    assert h.calls() == [] and h.lines()[0]["reason"] == "no rule matched"


def test_an_upload_still_in_progress_releases_nothing(harness):
    h = harness()
    started = ORDERS.replace(b'"ObjectCreated:PutObject"', b'"ObjectCreated:InitiateMultipartUpload"')
    [d] = h.invoke("oss", started)
    assert d["outcome"] == "ignored" and h.calls() == []


def test_a_malformed_event_is_rejected_with_the_reason_and_does_not_raise(harness):
    h = harness()
    result = h.handle("oss", sample("malformed/oss-missing-key.json"), fc.context_for("oss"))
    [d] = result["outcomes"]
    assert d["outcome"] == "rejected" and "oss.object.key" in d["reason"]
    assert h.lines()[0]["level"] == "WARNING"


@pytest.mark.parametrize("node, code, retryable", [
    (700001300001, "NodeFrozen", False),
    (700001300007, "InstanceNotFound", True),          # deployed 03-11: first instance is for bizdate 03-11
])
@BOTH_APIS
def test_frozen_or_missing_instances_fail_and_raise(harness, node, code, retryable):
    h = harness(orders_rules(f"{{workspace: 10001, node: {node}}}"))
    with pytest.raises(app.TriggerFailed) as err:
        h.handle("oss", ORDERS, fc.context_for("oss"))
    [d] = err.value.decisions
    assert (d.outcome, d.error_code, d.retryable) == ("failed", code, retryable)
    assert h.calls("trigger") == []
    assert h.lines()[0]["level"] == "ERROR" and h.lines()[0]["error_code"] == code


def test_a_retry_of_an_instance_not_generated_yet_fails_as_its_look_up_did_without_a_call(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001300007}"))     # deployed 03-11: none for 03-10
    with pytest.raises(app.TriggerFailed):
        h.handle("oss", ORDERS, fc.context_for("oss"))
    with pytest.raises(app.TriggerFailed) as err:                               # FC's retry, on this FC instance
        h.handle("oss", ORDERS, fc.context_for("oss"))
    [d] = err.value.decisions
    assert (d.outcome, d.error_code, d.retryable) == ("failed", "InstanceNotFound", True)
    assert d.reason.startswith("a look-up at ") and "listed no cycle instance for business date 2026-03-10" in d.reason
    assert h.actions() == ["lookup"]
    with pytest.raises(app.TriggerFailed):                                      # another FC instance looks itself
        harness(h.rules_text).handle("oss", ORDERS, fc.context_for("oss"))
    assert h.actions() == ["lookup", "lookup"]
    h.emu.clock.advance(ABSENT_S)                                               # generated since, maybe
    with pytest.raises(app.TriggerFailed):
        h.handle("oss", ORDERS, fc.context_for("oss"))
    assert h.actions() == ["lookup", "lookup", "lookup"]


@BOTH_APIS
def test_an_instance_that_already_ran_is_not_triggered(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001300004}"))
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "already_triggered" and h.calls("trigger") == []


@BOTH_APIS
def test_a_trigger_before_the_parents_finish_is_accepted_and_held(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001300002}"))
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "triggered" and {API_2020: "NOT_RUN", API_2024: "NotRun"}[h.api] in d["reason"]
    assert len(h.calls("trigger")) == 1


@BOTH_APIS
def test_several_waiting_instances_without_a_cycle_time_is_ambiguous(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001300003}"))
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["error_code"]) == ("failed", "Ambiguous")
    assert "00:00, 12:00" in d["reason"] and h.calls("trigger") == []


@BOTH_APIS
def test_at_picks_one_of_several_instances(harness):
    h = harness(orders_rules('{workspace: 10001, node: 700001300003, at: "12:00"}'))
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["cycle_time"]) == ("triggered", "2026-03-11T12:00:00+08:00")
    assert h.sent_cycles() == ["1773201600000"]


@BOTH_APIS
def test_backfill_instances_are_never_chosen(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001300006}"))
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "triggered"
    released = [i for i in h.emu.instances(node=700001300006) if i["Released"]]
    assert [i["DagType"] for i in released] == ["DAILY"]


@BOTH_APIS
def test_dev_environment_is_looked_up_in_dev(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001300005}", extra="env: DEV"))
    assert h.invoke("oss", ORDERS)[0]["outcome"] == "triggered"
    [lookup], [trigger] = h.calls("lookup"), h.calls("trigger")
    assert (lookup["params"], trigger["params"]) == \
        h.wire(10001, 700001300005, "2026-03-10", 1773072000000, 1773160200000, env="DEV")


@BOTH_APIS
def test_hourly_instance_from_the_key(harness):
    h = harness()
    [d] = h.invoke("oss", sample("oss/native-clicks-hourly.json"))      # logs/clicks/2026031108/...
    assert (d["outcome"], d["cycle_time"]) == ("triggered", "2026-03-11T08:00:00+08:00")
    [trigger] = h.calls("trigger")
    assert trigger["params"] == h.wire(10001, 700001234999, "2026-03-10", 1773072000000, 1773187200000)[1]


@BOTH_APIS
def test_lookup_false_sends_computed_times_without_a_lookup(harness):
    h = harness(orders_rules('{workspace: 10001, node: 700001234567, at: "00:30", lookup: false}'))
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "triggered" and h.calls("lookup") == []
    [trigger] = h.calls("trigger")
    assert trigger["params"] == h.wire(10001, 700001234567, "2026-03-10", 1773072000000, 1773160200000)[1]


@BOTH_APIS
def test_berlin_workspace_gets_berlin_midnight(harness):
    h = harness()
    [d] = h.invoke("mns", sample("mns/topic-json-finance.json"))        # bizdate 20260310 in the message
    assert (d["outcome"], d["biz_date"], d["biz_date_ms"]) == ("triggered", "2026-03-10", 1773097200000)
    assert d["cycle_time"] == "2026-03-11T02:00:00+01:00"
    [lookup], [trigger] = h.calls("lookup"), h.calls("trigger")      # 03-10 00:00 +01:00, 03-11 02:00 +01:00
    assert (lookup["params"], trigger["params"]) == \
        h.wire(10002, 700009999, "2026-03-10", 1773097200000, 1773190800000)


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_dry_run_decides_and_sends_nothing(harness, how):
    h = harness(dry_run=True) if how == "argument" else harness(env={"DWTRIGGER_DRY_RUN": "true"})
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["dry_run"], d["biz_date_ms"], d["cycle_time_ms"]) == \
        ("dry_run", True, 1773072000000, 1773160200000)
    assert h.calls() == []


def test_a_batch_decides_every_message_before_raising(harness):
    h = harness(queue_rules(contacts_node=700001300001))           # frozen
    with pytest.raises(app.TriggerFailed) as err:
        h.handle("mns", sample("mns/queue-eventbridge-list.json"), fc.context_for("mns"))
    assert [(d.rule, d.outcome) for d in err.value.decisions] == [("crm", "triggered"), ("contacts", "failed")]
    assert [line["outcome"] for line in h.lines()] == ["triggered", "failed"]
    assert "1 of 2 decisions failed" in str(err.value)
    # FC retries the whole event: the decision that succeeded comes back already_triggered.
    with pytest.raises(app.TriggerFailed) as again:
        h.handle("mns", sample("mns/queue-eventbridge-list.json"), fc.context_for("mns"))
    assert [d.outcome for d in again.value.decisions] == ["already_triggered", "failed"]
    assert len(h.calls("trigger")) == 1


LEDGERED = orders_rules("{workspace: 10001, node: 700001234567}", extra='ledger: "oss://etl-ledger/dwtrigger/"')


def test_a_trigger_refused_for_the_quota_is_retried_on_the_listing_of_a_moment_ago_under_its_claim(harness):
    h = harness(LEDGERED)                                     # the emulator's clock stands still: all one moment
    h.emu.set_faults(script=["ok", "throttle", "ok"])         # lookup ok, trigger throttled, trigger
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["attempts"]) == ("triggered", 2)
    assert h.actions() == ["lookup", "trigger", "trigger"]
    assert h.calls("trigger")[0]["code"] == "Throttling.User"


def test_without_a_ledger_a_retry_looks_again_for_nothing_holds_the_instance_through_the_backoff(harness):
    h = harness()
    h.emu.set_faults(script=["ok", "throttle", "ok", "ok"])   # lookup ok, trigger throttled, lookup, trigger
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["attempts"]) == ("triggered", 2)
    assert h.actions() == ["lookup", "trigger", "lookup", "trigger"]


def test_transient_failures_are_retried_with_a_fresh_lookup_once_the_listing_is_old(harness):
    h = harness(LEDGERED)
    start, ticks = h.emu.clock.now(), count()
    h.runtime.wall_clock = lambda: start + timedelta(seconds=FRESH_S * next(ticks))   # FRESH_S a reading
    h.emu.set_faults(script=["ok", "throttle", "ok", "ok"])   # lookup ok, trigger throttled, lookup, trigger
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["attempts"]) == ("triggered", 2)
    assert h.actions() == ["lookup", "trigger", "lookup", "trigger"]


def test_a_trigger_that_got_no_answer_is_retried_with_a_fresh_lookup(harness):
    h = harness()
    h.emu.set_faults(script=["ok", "drop", "ok", "ok"])       # lookup, trigger dropped (it may have landed), ...
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "triggered" and h.actions() == ["lookup", "trigger", "lookup", "trigger"]


def _lands_after_the_client_gave_up(h, monkeypatch, after_ms: int = 1000) -> None:
    """DataWorks takes the next trigger `after_ms`, long after the client gave up waiting for its answer (200 ms)."""
    monkeypatch.setattr(openapi, "READ_TIMEOUT_MS", 200)
    h.emu.set_faults(script=["latency", "ok"], latency_ms=after_ms, actions=[ACTIONS[h.api]["trigger"]])


def test_a_delivery_during_the_backoff_looks_past_the_listing_a_trigger_without_an_answer_outdated(harness,
                                                                                                   monkeypatch):
    """A trigger's answer is lost (it landed); during the backoff another delivery of the instance reaches this FC
    instance: the listing of a moment ago was taken before that trigger, so it looks again and finds it released."""
    h, meanwhile = harness(), []
    _lands_after_the_client_gave_up(h, monkeypatch)

    def backoff(seconds):                 # no real pause: on the first, the other delivery comes once it landed
        if not meanwhile:
            meanwhile.append(None)
            wait_for_calls(h, 2)
            meanwhile[:] = h.invoke("oss", ORDERS)

    h.runtime.relay.sleep = backoff
    [d] = h.invoke("oss", ORDERS)
    assert [m["outcome"] for m in meanwhile] == ["already_triggered"]
    assert d["outcome"] == "triggered" and d["reason"].startswith("an earlier attempt's trigger landed")
    assert h.actions() == ["lookup", "trigger", "lookup", "lookup"]


def test_a_retry_after_a_trigger_without_an_answer_looks_again_whatever_listing_came_meanwhile(harness, monkeypatch):
    """With a ledger, a retry may reuse a listing of a moment ago — but not after a trigger that got no answer: a
    delivery during the backoff listed the instance before that trigger landed (it then waits on our claim), and its
    listing, though newer than ours, shows the instance waiting still. The retry looks again: nothing sent twice."""
    h, meanwhile = harness(LEDGERED), []
    monkeypatch.setattr(openapi, "READ_TIMEOUT_MS", 200)
    h.emu.set_faults(script=["hold"], actions=[ACTIONS[h.api]["trigger"]])    # our trigger waits, unanswered...
    landing = threading.Thread(target=lambda: (wait_for_calls(h, 2), h.emu.let_go()))
    landing.start()                       # ... until the other delivery has listed the instance: then it lands

    def backoff(seconds):                 # no real pause: on the first, the other delivery comes
        if not meanwhile:
            meanwhile.append(None)
            meanwhile[:] = h.invoke("oss", ORDERS)        # lists it waiting, then waits out our claim
            landing.join()
            wait_for_calls(h, 3)                          # our trigger landed

    h.runtime.relay.sleep = backoff
    [d] = h.invoke("oss", ORDERS)
    assert [(m["outcome"], m["error_code"]) for m in meanwhile] == [("failed", "SendInFlight")]
    assert d["outcome"] == "triggered" and d["reason"].startswith("an earlier attempt's trigger landed")
    assert h.actions() == ["lookup", "lookup", "trigger", "lookup"]      # theirs before ours landed, then ours


def test_a_permanent_error_fails_at_once(harness):
    h = harness()
    h.emu.set_faults(script=["forbidden"])
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"]) == \
        ("failed", "ResourceNotAuthorized.Api", False, 1)


def test_credentials_from_the_python310_context_win_over_the_environment(harness):
    h = harness()
    creds = fc.Credentials("STS.rotated-key", "rotated-secret", "rotated-token-9876543210")
    h.invoke("oss", ORDERS, fc.context_for("oss", credentials=creds))
    assert {c["access_key_id"] for c in h.calls()} == {"STS.rotated-key"}


def test_rotated_keys_are_picked_up_and_clients_reused_until_then(harness):
    h = harness()

    def adapter(rule_name):
        return h.runtime.port_for(InvocationKeys(None, h.env), h.runtime.rules.named(rule_name))

    h.invoke("oss", ORDERS)
    first = adapter("orders-daily")
    h.invoke("oss", sample("oss/native-clicks-hourly.json"))
    assert adapter("clicks-hourly") is first                 # same endpoint and keys: the same SDK client
    h.env.update({"ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.rotated-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "rotated-secret",
                  "ALIBABA_CLOUD_SECURITY_TOKEN": "rotated-token-9876543210"})
    h.invoke("oss", sample("oss/eventbridge-single.json"))
    assert h.calls()[-1]["access_key_id"] == "STS.rotated-key"
    assert adapter("orders-daily") is not first


def test_role_arn_assumes_the_role_on_top_of_the_function_role(harness, emulator):
    h = harness(orders_rules("{workspace: 10001, node: 700001234567}",
                             extra='role_arn: "acs:ram::1234567890123456:role/dwtrigger-cross"'),
                env={"DWTRIGGER_STS_ENDPOINT": emulator.sts_endpoint})
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "triggered"
    dataworks = h.calls("lookup") + h.calls("trigger")
    assert {c.get("role_arn") for c in dataworks} == {"acs:ram::1234567890123456:role/dwtrigger-cross"}
    assert all(c["access_key_id"] != ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"] for c in dataworks)


def test_a_refused_assume_role_is_a_permanent_failure_with_sts_code(harness, emulator):
    h = harness(orders_rules("{workspace: 10001, node: 700001234567}",
                             extra='role_arn: "acs:ram::1234567890123456:role/not-allowed"'),
                env={"DWTRIGGER_STS_ENDPOINT": emulator.sts_endpoint})
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"]) == \
        ("failed", "AssumeRole.EntityNotExist.Role", False, 1)
    assert "role/not-allowed" in d["reason"] and h.calls("lookup") == []


def test_missing_credentials_fail_clearly(harness):
    h = harness(env={"ALIBABA_CLOUD_ACCESS_KEY_ID": "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ""})
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["error_code"]) == ("failed", "NoCredentials") and h.calls() == []


def test_the_real_handlers_run_with_a_rules_file_from_the_environment(emulator, monkeypatch):
    from dwtrigger.ops.demo import load_handlers
    from conftest import ROOT

    for k, v in {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
                 "DWTRIGGER_RULES": str(ROOT / "rules.yaml"), "POWERTOOLS_SERVICE_NAME": "dwtrigger-handler-test",
                 **ROLE_KEY}.items():
        monkeypatch.setenv(k, v)
    app.use_runtime(None)
    try:
        handlers = load_handlers(ROOT)
        result = handlers["timer"](sample("timer/nightly.json"), fc.context_for("timer"))
    finally:
        app.use_runtime(None)
    assert [d["outcome"] for d in result["outcomes"]] == ["triggered"]
    assert json.dumps(result)    # the handler's return value is plain JSON


@pytest.mark.parametrize("api", [API_2020])    # a 2024-05-18 page holds 500: its paging is in test_dataworks
def test_a_busy_node_is_looked_up_across_pages(harness):
    from dwtrigger.ops.emulator import Emulator

    every_five = [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 24 * 60, 5)]      # 288 instances a day
    seed = {"now": "2026-03-12T09:00:00+08:00", "keys": [{"access_key_id": "STS.fn-role-key",
            "access_key_secret": "fn-role-secret", "security_token": "fn-role-token-0123456789"}],
            "workspaces": [{"id": 10001, "timezone": "Asia/Shanghai", "nodes": [
                {"id": 700001400000, "name": "five_minutes", "deployed": "2026-01-01", "times": every_five}]}]}
    rules = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - {name: m5, on: oss, bucket: etl-landing, key: "m5/{cycle:%Y%m%d%H%M}.done", trigger: [{workspace: 10001, node: 700001400000}]}
"""
    event = sample("oss/native-put-orders.json").replace(b"exports/orders/dt=2026-03-10/_SUCCESS",
                                                         b"m5/202603112355.done")
    with Emulator(seed) as emu:
        h = harness(rules, env={"DWTRIGGER_ENDPOINT": emu.endpoint})
        h.emu = emu
        [d] = h.invoke("oss", event)
    assert (d["outcome"], d["cycle_time"]) == ("triggered", "2026-03-11T23:55:00+08:00")
    assert [c["params"]["PageNumber"] for c in h.calls("ListInstances")] == ["1", "2", "3"]
    assert h.calls("RunTriggerNode")[0]["params"]["CycleTime"] == "1773244500000"


def test_concurrent_invocations_in_one_instance_keep_their_own_request_id_and_keys(harness):
    import threading

    h = harness()
    keys = {"a": fc.Credentials("STS.fn-role-key", "fn-role-secret", "fn-role-token-0123456789"),
            "b": fc.Credentials("STS.rotated-key", "rotated-secret", "rotated-token-9876543210")}
    samples = {"a": "oss/native-put-orders.json", "b": "timer/nightly.json"}
    errors = []

    def run(name):
        for i in range(15):
            context = fc.Context(fc.Function(f"dwtrigger-{name}"), request_id=f"{name}-{i}", credentials=keys[name])
            try:
                h.invoke("timer" if name == "b" else "oss", sample(samples[name]), context)
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)

    threads = [threading.Thread(target=run, args=(n,)) for n in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    lines = h.lines()
    assert len(lines) == 30
    for line in lines:
        owner = "b" if line["source"] == "timer" else "a"
        assert line["request_id"].startswith(f"{owner}-") and line["function_name"] == f"dwtrigger-{owner}"
    used = {(c["params"].get("NodeId") or c["params"]["TaskId"], c["access_key_id"]) for c in h.calls()}
    assert used == {("700001234567", "STS.fn-role-key"), ("700001235000", "STS.rotated-key")}


@pytest.mark.parametrize("api", [API_2020])
def test_a_redelivery_with_lookup_false_is_already_triggered_after_one_look_up(harness):
    h = harness(orders_rules('{workspace: 10001, node: 700001234567, at: "00:30", lookup: false}'))
    assert h.invoke("oss", ORDERS)[0]["outcome"] == "triggered"
    [again] = harness(h.rules_text).invoke("oss", ORDERS)    # FC redelivers elsewhere: DataWorks refuses the trigger
    assert (again["outcome"], again["cycle_time_ms"]) == ("already_triggered", 1773160200000)
    assert [(c["action"], c["status"]) for c in h.calls()] == [
        ("RunTriggerNode", 200), ("RunTriggerNode", 400), ("ListInstances", 200)]


@pytest.mark.parametrize("api", [API_2024])
def test_a_redelivery_with_lookup_false_on_2024_is_answered_success_and_has_no_effect(harness):
    """DataWorks answers a repeated TriggerSchedulerTaskInstance with success and ignores it: without a look-up
    nothing tells the repeat, so it is reported triggered (docs/rules.md: use the look-up, the default)."""
    h = harness(orders_rules('{workspace: 10001, node: 700001234567, at: "00:30", lookup: false}'))
    other = harness(h.rules_text)                      # FC redelivers it to another FC instance
    assert [x.invoke("oss", ORDERS)[0]["outcome"] for x in (h, other)] == ["triggered", "triggered"]
    assert [(c["action"], c["status"], c["code"]) for c in h.calls()] == [
        ("TriggerSchedulerTaskInstance", 200, None),
        ("TriggerSchedulerTaskInstance", 200, "Emulator.Instance.NoEffect")]
    assert [i["Triggers"] for i in h.emu.instances(workspace=30001, node=700001234567) if i["Triggers"]] == [1]


@BOTH_APIS
def test_a_refusal_with_lookup_false_still_fails_when_the_look_up_finds_nothing_done(harness):
    h = harness(orders_rules('{workspace: 10001, node: 700001234567, at: "01:00", lookup: false}'))  # runs 00:30
    [d] = h.invoke("oss", ORDERS)
    assert (d["outcome"], d["error_code"], d["retryable"]) == ("failed", "Emulator.Instance.NotFound", False)
    assert h.actions() == ["trigger", "lookup"]


def test_a_bug_one_decision_hits_fails_that_decision_only_and_on_record(harness, monkeypatch):
    h = harness(queue_rules())
    adapter = importlib.import_module(f"dwtrigger.dataworks.v{h.api.replace('-', '')}").Adapter
    looked_up = adapter.list_instances

    def buggy(self, workspace, env, node, *rest):      # stands in for a bug of ours no real part can produce
        if node == 700001235200:
            raise KeyError("a bug")
        return looked_up(self, workspace, env, node, *rest)

    monkeypatch.setattr(adapter, "list_instances", buggy)
    records = h.invoke("mns", sample("mns/queue-eventbridge-list.json"))
    assert [(r["rule"], r["outcome"], r["error_code"], r["retryable"]) for r in records] == [
        ("crm", "triggered", None, None), ("contacts", "failed", "InternalError", True)]
    assert "KeyError" in records[1]["reason"]
    assert [line["outcome"] for line in h.lines()] == ["triggered", "failed"]


def test_a_huge_batch_stops_at_the_deadline_and_leaves_the_rest_unread():
    """Records are read one at a time and each is decided only while the deadline has not passed: the record at
    hand when it passes stands for itself and every one after it, in one failed line, and none after it is read.
    The deadline's clock is the outside world's (injected): it passes after the tenth look at it."""
    ticks = count()
    deadline = Deadline(at=10, clock=lambda: next(ticks))
    base = json.loads(sample("oss/native-put-orders.json"))["events"][0]
    raw = json.dumps({"events": [dict(base, oss={"bucket": {"name": "etl-landing"}, "object": {"key": f"x/{n}"}},
                                      responseElements={"requestId": f"R{n}"}) for n in range(1000)]}).encode()
    read = []

    def reading():
        for record in events.records("oss", raw, datetime.now(timezone.utc)):
            read.append(record)
            yield record

    nowhere = lambda rule: pytest.fail("nothing here calls out")       # noqa: E731 - every record matches nothing
    call = Invocation(deadline, nowhere, nowhere, lambda: datetime.now(timezone.utc))
    decided = [d.record() for d in Relay(load_rules(str(ROOT / "rules.yaml"))).decide(reading(), call)]
    assert [d["outcome"] for d in decided] == ["ignored"] * 10 + ["failed"]
    assert (decided[-1]["event_id"], decided[-1]["key"], decided[-1]["error_code"], decided[-1]["retryable"]) == (
        "R10", "x/10", "DeadlineExceeded", True)
    assert len(read) == 11


BLOCKED = "{workspace: 10001, node: 700001300002, at: \"00:30\"}"          # its parents never finish on their own


def test_an_fc_instance_without_a_ledger_remembers_a_trigger_dataworks_holds(harness):
    """A redelivery to this FC instance during the hold sends nothing, and says so with the hold's end."""
    h = harness(orders_rules(BLOCKED))
    [first] = h.invoke("oss", ORDERS)
    [again] = h.invoke("oss", ORDERS)
    assert (first["outcome"], first["held_until"]) == ("triggered", "2026-03-13T09:00:00+08:00")
    assert (again["outcome"], again["held_until"]) == ("already_triggered", first["held_until"])
    assert again["reason"].startswith("held since 2026-03-12T09:00:00+08:00: this FC instance sent its trigger")
    assert h.actions() == ["lookup", "trigger", "lookup"]        # the look-up comes first: a hold is not a release


def test_a_remembered_hold_does_not_stop_a_send_the_look_up_shows_is_needed(harness):
    """This FC instance sent a trigger DataWorks held, yet the instance now waits for its trigger alone (rerun, or
    the hold was dropped): the look-up wins and the event sends."""
    h = harness(orders_rules("{workspace: 10001, node: 700001234567, at: \"00:30\"}"))
    now = int(h.emu.clock.now().timestamp() * 1000)
    key = (h.api, h.workspace(10001), "PROD", 700001234567, 1773072000000, 1773160200000)
    h.runtime.relay.recent.put(key, Seen(1773160200000, 1773072000000, "sent", now - 3_600_000,
                                         held_until_ms=now + 20 * 3_600_000))
    [d] = h.invoke("oss", ORDERS)
    assert d["outcome"] == "triggered" and h.actions() == ["lookup", "trigger"]


def test_a_piece_of_work_s_budget_never_outlives_the_invocation_s():
    """`within` (a sweep candidate's budget, a decision's share, the time kept for the ledger) is cut to the
    invocation's deadline: 2 s asked for with 1 s left is 1 s. On a clock the test holds."""
    now = [100.0]
    call = Invocation(Deadline(110.0, lambda: now[0]), lambda rule: None, lambda rule: None, lambda: None)
    assert (call.within(4).deadline.at, call.within(30).deadline.at) == (104.0, 110.0)
    now[0] = 109.0
    assert (call.within(2).deadline.at, call.share().deadline.at) == (110.0, 110.0)


def test_an_answer_between_refusals_starts_the_count_again():
    """The command line's Silence (ops/reach.Watch's): attempts that could not connect count, in a row; any answer
    starts the count again, a call the deadline cut says nothing, and FC's (no limit) never stops retries."""
    silence = Silence(unreached_after=3)
    refusal = DataWorksError("ConnectionError", "127.0.0.1:9: Connection refused", retryable=True,
                             unreachable="127.0.0.1:9")
    answer = DataWorksError("Throttling.User", "slow down", retryable=True, status=429)
    cut = DataWorksError("DeadlineExceeded", "no time was left for the call", retryable=True)
    said = [silence.attempted("dw", error) for error in (refusal, refusal, answer, refusal, cut, refusal, refusal)]
    assert said == [False, False, False, False, False, False, True]        # answered after two; cut: no news
    assert silence.attempted("dw", None) is False and silence.down("dw") is None          # a success answers too
    assert [silence.attempted("dw", refusal) for _ in range(3)] == [False, False, True]
    assert silence.down("dw") == ("DataWorks at dw could not be reached 3 times in a row (127.0.0.1:9: Connection "
                                  "refused): not asked again by this command")
    assert silence.down("other") is None and Silence().attempted("dw", refusal) is False   # FC's: never stops


# ---- look-ups shared: one per node and business date where a fresh one would say the same ----------------------

def batch(raw: bytes, keys) -> bytes:
    """The OSS notification `raw` (one record) as one delivery of a record per key."""
    doc = json.loads(raw)
    doc["events"] = [dict(doc["events"][0], oss=dict(doc["events"][0]["oss"], object=dict(
        doc["events"][0]["oss"]["object"], key=key))) for key in keys]
    return json.dumps(doc).encode()


def test_a_batch_naming_one_instance_n_times_makes_one_look_up_and_one_trigger(harness):
    h = harness()
    records = h.invoke("oss", batch(ORDERS, ["exports/orders/dt=2026-03-10/_SUCCESS"] * 4))
    assert [r["outcome"] for r in records] == ["triggered"] + ["already_triggered"] * 3
    assert {(r["biz_date_ms"], r["cycle_time_ms"]) for r in records} == {(1773072000000, 1773160200000)}
    assert h.actions() == ["lookup", "trigger"]


def test_the_hours_of_one_day_share_one_look_up_and_each_is_triggered(harness):
    h = harness()
    hours = ["2026031108", "2026031109", "2026031110"]
    records = h.invoke("oss", batch(sample("oss/native-clicks-hourly.json"),
                                    [f"logs/clicks/{hour}/part-0001.done" for hour in hours]))
    assert [(r["outcome"], r["cycle_time"][11:16]) for r in records] == \
        [("triggered", "08:00"), ("triggered", "09:00"), ("triggered", "10:00")]
    assert h.actions() == ["lookup", "trigger", "trigger", "trigger"]
    assert [c["params"].get("CycleTime") or c["params"].get("TriggerTime") for c in h.calls("trigger")] == \
        [str(r["cycle_time_ms"]) for r in records]


TWO_RULES_ONE_NODE = orders_rules("{workspace: 10001, node: 700001234567, at: \"00:30\"}") + """\
  - name: orders-audit
    on: oss
    bucket: etl-landing
    key: "exports/orders-audit/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    trigger: [{workspace: 10001, node: 700001234567}]
"""


def test_a_listing_no_longer_speaks_for_an_instance_triggered_since_whichever_rule_asks(harness):
    """Two rules release one node, one naming its time and one not: the second record's rule finds nothing in
    memory under its own name for the instance, and the day's listing predates the first's trigger: it looks again."""
    h = harness(TWO_RULES_ONE_NODE)
    records = h.invoke("oss", batch(ORDERS, ["exports/orders/dt=2026-03-10/_SUCCESS",
                                             "exports/orders-audit/dt=2026-03-10/_SUCCESS"]))
    assert [(r["rule"], r["outcome"]) for r in records] == [("orders", "triggered"),
                                                            ("orders-audit", "already_triggered")]
    assert h.actions() == ["lookup", "trigger", "lookup"]


def test_an_hour_a_listing_of_the_day_showed_past_waiting_needs_no_call_of_its_own(harness):
    h = harness()
    first = sample("oss/native-clicks-hourly.json")
    assert h.invoke("oss", first)[0]["outcome"] == "triggered"          # 08:00, from a listing of the day
    [again] = harness().invoke("oss", first)                             # another FC instance: looks it up
    assert again["outcome"] == "already_triggered"
    other = harness()
    other.invoke("oss", batch(first, ["logs/clicks/2026031109/part-0001.done"]))   # lists the day: 08:00 ran
    [remembered] = other.invoke("oss", first)
    assert remembered["outcome"] == "already_triggered" and remembered["attempts"] == 0
    assert remembered["reason"].startswith("this FC instance saw it ")
    assert h.actions() == ["lookup", "trigger", "lookup", "lookup", "trigger"]


FANNED = orders_rules("{workspace: 10001, node: 700001234567}, {workspace: 10001, node: 700001235200}, "
                      "{workspace: 10001, node: 700001235300}, {workspace: 10002, node: 700001235400}")
FANNED_TIMES = {700001234567: "00:30", 700001235200: "06:00", 700001235300: "01:00"}


@BOTH_APIS
def test_an_events_nodes_in_one_workspace_share_one_listing_where_the_api_lists_several(harness, api):
    """One file releases four nodes, three in one workspace: on 2024-05-18 one ListTaskInstances names the three
    (TaskIds) and each is triggered at its own instance's time; on 2020-05-18 a listing names one node."""
    h = harness(FANNED)
    records = h.invoke("oss", ORDERS)
    assert [(r["node"], r["outcome"], r["error_code"]) for r in records] == [
        (700001234567, "triggered", None), (700001235200, "triggered", None), (700001235300, "triggered", None),
        (700001235400, "failed", "InstanceNotFound")]                           # workspace 10002 has no such node
    assert {r["biz_date_ms"] for r in records} == {1773072000000}
    assert [r["cycle_time"][11:16] for r in records[:3]] == list(FANNED_TIMES.values())
    triggers = [(c["params"].get("NodeId") or c["params"]["TaskId"],
                 c["params"].get("CycleTime") or c["params"]["TriggerTime"]) for c in h.calls("trigger")]
    assert triggers == [(str(r["node"]), str(r["cycle_time_ms"])) for r in records[:3]]
    lookups = [c["params"] for c in h.calls("lookup")]
    if api == API_2024:
        first = dict(h.wire(10001, 700001234567, "2026-03-10", 1773072000000, 0)[0])
        del first["TaskId"]
        assert lookups[0] == {**first, "TaskIds": "[700001234567,700001235200,700001235300]"}
        assert [p.get("TaskId") for p in lookups[1:]] == ["700001235400"]      # the other workspace's, alone
        assert h.actions() == ["lookup", "trigger", "trigger", "trigger", "lookup"]
    else:
        assert [p["NodeId"] for p in lookups] == ["700001234567", "700001235200", "700001235300", "700001235400"]


@BOTH_APIS
def test_a_node_the_shared_listing_shows_released_is_already_triggered_with_no_call_of_its_own(harness, api):
    h = harness(FANNED)
    harness(orders_rules("{workspace: 10001, node: 700001235200}")).invoke("oss", ORDERS)   # another FC instance
    calls = len(h.emu.calls)
    records = h.invoke("oss", ORDERS)
    assert [r["outcome"] for r in records[:3]] == ["triggered", "already_triggered", "triggered"]
    assert records[1]["cycle_time"][11:16] == "06:00"
    expected = ["lookup", "trigger", "trigger", "lookup"] if api == API_2024 else \
        ["lookup", "trigger", "lookup", "lookup", "trigger", "lookup"]
    assert h.actions()[calls:] == expected


@BOTH_APIS
def test_a_node_with_no_instance_in_a_shared_listing_is_not_found_and_its_reason_counts_only_its_own(harness):
    """The first node asks for the listing of both; it has no instance of the date (deployed the day after)."""
    h = harness(orders_rules("{workspace: 10001, node: 700001300007}, {workspace: 10001, node: 700001234567}"))
    missing, found = h.invoke("oss", ORDERS)
    assert (missing["outcome"], missing["error_code"], found["outcome"]) == ("failed", "InstanceNotFound", "triggered")
    assert "no cycle instance for business date 2026-03-10" in missing["reason"]
    assert "ignored" not in missing["reason"]          # the other node's instance was not this node's to count
