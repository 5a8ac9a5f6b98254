"""The faults the emulator injects, through the real SDK over loopback: each fault once, each source once.

Faults hit the DataWorks port after an event is planned, whatever its source, and the transport is the same for both
APIs: a test runs along the axes that change what it holds (the fault, the faulted action, a redirect's status, an
answer's body), and the sources and the 2024-05-18 API are spread over its cases rather than multiplied by them.

Scripted faults hit the requests in the order they arrive (look-up, trigger, look-up, ...), so attempts and calls
are exact. Every invocation is checked by `checks.invoke` (one terminal log line per decision, TriggerFailed exactly
when a decision failed, no secret anywhere) and every test ends with no instance released twice.
"""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from checks import duplicate_releases, invoke, wait_for_calls
from conftest import BOTH_APIS, ONE_API, orders_rules, queue_rules, sample
from dwtrigger.dataworks import API_2020, API_2024
from dwtrigger.dataworks import openapi
from dwtrigger.events import parse
from dwtrigger.ops import fc
from dwtrigger.relay import Invocation
from dwtrigger.retry import Deadline

SAMPLES = {"oss": "oss/native-put-orders.json", "mns": "mns/topic-json-finance.json", "timer": "timer/nightly.json"}
TRANSIENT = {"throttle": "Throttling.User", "error": "InternalError.System", "html_502": "BadResponse",
             "drop": "ConnectionError", "success_false": "Emulator.Injected.SuccessFalse"}
ALWAYS = {"throttle": {"script": ["throttle"] * 500}, "error": {"error_rate": 1}, "html_502": {"html_502_rate": 1},
          "drop": {"drop_rate": 1}, "success_false": {"success_false_rate": 1}}
LOOKUP, TRIGGER = "lookup", "trigger"          # each API's look-up and trigger action (Harness.calls)

SHORT = 1.5          # function.timeout (s): the deadline is 1.0 s after the start (margin 0.5 s)
LONG = 3             # for tests that run to the deadline: 2.5 s leave room for several attempts on a loaded machine


@pytest.fixture
def h(harness):
    h = harness()
    yield h
    assert duplicate_releases(h.emu) == 0


def at(on: str, fault: str) -> list:
    """A script that faults the first look-up, or the first trigger."""
    return [fault] if on == LOOKUP else ["ok", fault]


def actions(h):
    return h.actions()


# Each fault runs against an OSS event and every source meets one of them; 2024-05-18 meets one too.
EVERY_FAULT_ONE_SOURCE = [(API_2020, source, fault) for source in SAMPLES for fault in TRANSIENT
                          if source == "oss" or fault == "error"] + [(API_2024, "oss", "error")]


@pytest.mark.parametrize("api, source, fault", EVERY_FAULT_ONE_SOURCE)
@pytest.mark.parametrize("on", [LOOKUP, TRIGGER])
def test_a_transient_fault_is_retried_after_a_fresh_lookup(h, source, fault, on):
    h.emu.set_faults(script=at(on, fault))
    [d], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], d["attempts"], raised) == ("triggered", 2, False)
    first = [LOOKUP] if on == LOOKUP else [LOOKUP, TRIGGER]
    assert actions(h) == first + [LOOKUP, TRIGGER]
    faulted = h.calls()[len(first) - 1]
    assert (actions(h)[len(first) - 1], faulted["fault"]) == (on, fault)


@pytest.mark.parametrize("api, source, on", [(API_2020, "oss", LOOKUP), (API_2020, "mns", TRIGGER),
                                             (API_2024, "timer", LOOKUP), (API_2024, "oss", TRIGGER)])
def test_a_permanent_fault_fails_at_once_and_fcs_retry_succeeds(h, source, on):
    h.emu.set_faults(script=at(on, "forbidden"))
    [d], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"], raised) == \
        ("failed", "ResourceNotAuthorized.Api", False, 1, True)
    assert actions(h)[-1] == on
    [again], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (again["outcome"], raised) == ("triggered", False)


@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_fault_that_outlasts_the_deadline_raises_before_the_function_times_out(h, fault):
    """Retried until the deadline, then raised before FC's timeout (a 3 s function: its deadline at 2.5 s leaves
    room for several attempts on a loaded machine; the source plays no part here, the matrix above covers it)."""
    h.emu.set_faults(**ALWAYS[fault])
    started = time.monotonic()
    [d], raised = invoke(h, "oss", sample(SAMPLES["oss"]), timeout=LONG)
    assert time.monotonic() - started < LONG
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", TRANSIENT[fault], True, True)
    assert d["attempts"] >= 2 and d["reason"].endswith("(retries stopped at the deadline)")
    assert actions(h) == [LOOKUP] * d["attempts"]


@pytest.mark.parametrize("source", ["mns"])     # the wait is the transport's: one source shows it
def test_a_servers_retry_after_is_honoured(h, source):
    h.emu.set_faults(script=["throttle"], retry_after_ms=300)     # the harness's own backoff is at most 50 ms
    [d], _ = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], d["attempts"]) == ("triggered", 2) and d["duration_ms"] >= 300


@pytest.mark.parametrize("source", ["timer"])
def test_a_retry_after_past_the_deadline_raises_without_waiting(h, source, monkeypatch):
    """Asked to wait 5 s with 1 s left: the relay gives up at once. What it slept is recorded, not timed."""
    slept = []
    monkeypatch.setattr(h.runtime.relay, "sleep", slept.append)
    h.emu.set_faults(script=["throttle"], retry_after_ms=5000)
    [d], raised = invoke(h, source, sample(SAMPLES[source]), timeout=SHORT)
    assert slept == [] and raised
    assert (d["error_code"], d["attempts"]) == ("Throttling.User", 1) and "deadline" in d["reason"]


@pytest.mark.parametrize("on", [LOOKUP, TRIGGER])
def test_a_call_slower_than_the_time_left_times_out_and_the_retry_does_not_trigger_twice(h, on):
    source = "oss"
    h.emu.set_faults(script=at(on, "latency"), latency_ms=LONG * 1000)     # past the deadline
    started = time.monotonic()
    [d], raised = invoke(h, source, sample(SAMPLES[source]), timeout=LONG)
    assert time.monotonic() - started < LONG
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"], raised) == \
        ("failed", "DeadlineExceeded", True, 1, True)
    h.emu.set_faults()
    wait_for_calls(h, 1 if on == LOOKUP else 2)      # FC retries later: the slow request has finished by then
    [again], _ = invoke(h, source, sample(SAMPLES[source]))
    # A slow trigger still lands after the client gave up: FC's retry finds the instance released.
    assert again["outcome"] == ("triggered" if on == LOOKUP else "already_triggered")
    assert actions(h).count(TRIGGER) == 1


def test_a_trigger_that_landed_after_its_read_timeout_is_not_sent_again(h, monkeypatch):
    monkeypatch.setattr(openapi, "READ_TIMEOUT_MS", 200)
    # Trigger: 1 s, so the client gives up at 200 ms and it lands at 1 s. The pauses before the next look-ups end
    # once it landed (not after a time it is hoped to take), so the look-up after the throttled one sees it released.
    monkeypatch.setattr(h.runtime.relay, "sleep", lambda seconds: wait_for_calls(h, 2))
    h.emu.set_faults(script=["ok", "latency", "throttle", "ok"], latency_ms=1000)
    [d], raised = invoke(h, "oss", sample(SAMPLES["oss"]), timeout=5)
    assert (d["outcome"], d["attempts"], raised) == ("triggered", 3, False)
    assert d["reason"].startswith("an earlier attempt's trigger landed")
    assert sorted(actions(h)) == [LOOKUP] * 3 + [TRIGGER]


@pytest.mark.parametrize("source", ["oss"])     # the race is the relay's, after planning: one source shows it
def test_a_refused_trigger_is_not_claimed_when_another_delivery_releases_the_instance(h, harness, source):
    h.emu.set_faults(script=["ok", "throttle"], retry_after_ms=400)
    other_done = threading.Event()
    h.runtime.relay.sleep = lambda seconds: other_done.wait(30)   # the first's backoff ends when the other is done
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(invoke, h, source, sample(SAMPLES[source]))
        wait_for_calls(h, 2)               # the first trigger was throttled: it backs off before looking again
        [other], _ = invoke(harness(), source, sample(SAMPLES[source]))    # a redelivery, in another FC instance
        other_done.set()
        [d], raised = first.result()
    assert (other["outcome"], d["outcome"], d["attempts"], raised) == ("triggered", "already_triggered", 2, False)
    assert [c["status"] for c in h.calls(TRIGGER)] == [429, 200]


def test_a_batch_decides_every_message_before_raising_and_the_retry_repeats_nothing(h):
    batch = sample("mns/queue-eventbridge-list.json")      # two messages for the same crm-export instance
    h.emu.set_faults(script=["forbidden"])
    records, raised = invoke(h, "mns", batch)
    assert raised and [r["outcome"] for r in records] == ["failed", "triggered"]
    records, raised = invoke(h, "mns", batch)
    assert not raised and [r["outcome"] for r in records] == ["already_triggered", "already_triggered"]
    assert actions(h).count(TRIGGER) == 1


# ---- answers that lie, drip, redirect or break their schema ----

def released(h, node: int = 700001234567) -> list:
    return [i["CycTime"] for i in h.emu.instances(node=node) if i["Released"]]


# Each status on each action; the sources spread over them.
@pytest.mark.parametrize("source, status, on", [("oss", 302, LOOKUP), ("oss", 307, TRIGGER), ("mns", 302, TRIGGER),
                                                ("timer", 307, LOOKUP)])
def test_a_redirect_is_never_followed(h, source, on, status):
    h.emu.set_faults(script=at(on, "redirect"), redirect_status=status)
    [d], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "Redirected", False, True)
    assert f"HTTP {status} to localhost" in d["reason"]
    assert h.emu.decoy_calls == []                    # no request, so no credential, reached the other host
    assert actions(h)[-1] == on and actions(h).count(TRIGGER) <= 1
    assert not any(i["Released"] for i in h.emu.instances(triggered=True))


@pytest.mark.parametrize("source", ["oss"])           # the budget is the transport's: one source shows it
def test_an_answer_dripped_byte_by_byte_ends_at_the_deadline(h, source):
    h.emu.set_faults(drip_rate=1, drip_ms=100)              # every answer would take ~30 s
    started = time.monotonic()
    [d], raised = invoke(h, source, sample(SAMPLES[source]), timeout=LONG)
    assert time.monotonic() - started < LONG
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "DeadlineExceeded", True, True)
    assert "deadline" in d["reason"]
    assert all(c["monotonic"] < started + LONG for c in h.calls())


MALFORMED_LISTINGS = {
    API_2020: [
        '{"Success": true, "Data": "x"}', '{"Success": true, "Data": []}',
        '{"Success": true, "Data": {"TotalCount": 1, "Instances": "x"}}',
        '{"Success": true, "Data": {"TotalCount": "many", "Instances": []}}', '[{"Success": true}]', "null",
        '{"Success": true}', '{"Success": true, "Data": {"TotalCount": 1, "Instances": [{"InstanceId": "x"}]}}',
        '{"Success": true, "Data": {"TotalCount": 1, "Instances": [{"InstanceId": 1, "NodeId": 700001234567, '
        '"Status": "WAIT_TRIGGER", "DagType": "DAILY", "CycTime": -5, "Bizdate": 1773072000000}]}}', "", "{"],
    API_2024: [
        '{"PagingInfo": "x"}', '{"PagingInfo": []}', '{"PagingInfo": {"TotalCount": 1, "TaskInstances": "x"}}',
        '{"PagingInfo": {"TotalCount": "many", "TaskInstances": []}}', '[{"PagingInfo": {}}]', "null", "{}",
        '{"PagingInfo": {"TotalCount": 1, "TaskInstances": [{"Id": "x"}]}}',
        '{"PagingInfo": {"TotalCount": 1, "TaskInstances": [{"Id": 1, "TaskId": 700001234567, '
        '"Status": "WaitTrigger", "TriggerTime": -5, "Bizdate": 1773072000000}]}}', "", "{"],
}


@pytest.mark.parametrize("api, body", [(api, body) for api, bodies in MALFORMED_LISTINGS.items() for body in bodies])
def test_a_look_up_answer_off_its_schema_is_a_retried_bad_response(h, body):
    h.emu.set_faults(script=["malformed"], malformed_body=body)
    [d], raised = invoke(h, "oss", sample(SAMPLES["oss"]))
    assert (d["outcome"], d["attempts"], raised) == ("triggered", 2, False)
    assert actions(h) == [LOOKUP, LOOKUP, TRIGGER]


@pytest.mark.parametrize("body", ['{}', '{"Success": null}', '{"Success": 0}', '{"Success": 1}', '{"Success": "maybe"}',
                                  '{"Success": "true"}', '{"RequestId": "r-1"}', '{"Success": [true]}'])
def test_a_trigger_counts_only_when_success_is_exactly_true(h, body):
    h.emu.set_faults(script=["ok", "malformed"], malformed_body=body)
    [d], raised = invoke(h, "oss", sample(SAMPLES["oss"]))
    # The first answer did not say Success: true, so the instance is looked up again and released for real.
    assert (d["outcome"], d["attempts"], raised) == ("triggered", 2, False)
    assert actions(h) == [LOOKUP, TRIGGER, LOOKUP, TRIGGER]
    assert [c["status"] for c in h.calls(TRIGGER)] == [200, 200] and released(h) == [1773160200000]


def test_a_malformed_answer_costs_no_other_message_of_the_batch_its_line(harness):
    h = harness(queue_rules())
    h.emu.set_faults(script=["ok", "ok"], malformed_rate=1, malformed_body='{"Success": true, "Data": "x"}')
    records, raised = invoke(h, "mns", sample("mns/queue-eventbridge-list.json"), timeout=LONG)
    assert raised and [(r["rule"], r["outcome"], r["error_code"]) for r in records] == \
        [("crm", "triggered", None), ("contacts", "failed", "BadResponse")]


def test_pages_that_never_end_stop_at_the_first_repeat(h):
    h.emu.set_faults(endless_pages=True)
    started = time.monotonic()
    [d], raised = invoke(h, "oss", sample(SAMPLES["oss"]), timeout=LONG)
    assert time.monotonic() - started < LONG
    assert (d["outcome"], d["error_code"], raised) == ("failed", "BadResponse", True)
    assert "twice" in d["reason"]
    pages = [c["params"]["PageNumber"] for c in h.calls(LOOKUP)]
    # Each attempt reads pages 1 and 2 and stops at the repeat; the last may find no time left for page 2.
    assert pages.count("1") == d["attempts"] and pages == (["1", "2"] * d["attempts"])[:len(pages)]


@BOTH_APIS           # each API's listing holds the foreign instances in its own spelling
@pytest.mark.parametrize("source", SAMPLES)
def test_only_instances_of_the_node_and_business_date_asked_for_count(h, source):
    # Listed first: another node's SUCCESS instance, then this node's instance of the day before, waiting.
    h.emu.set_faults(foreign_instances=True)
    [d], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], raised) == ("triggered", False)
    assert h.sent_cycles() == [str(d["cycle_time_ms"])]
    node = d["node"]
    assert released(h, node) == [d["cycle_time_ms"]]       # not the day before's


def test_a_delivery_larger_than_the_deadline_allows_ends_before_the_timeout(h):
    """A batch of 40 messages, each a look-up and a trigger 100 ms slow, on a 2 s function: the decisions the
    deadline stops fail without calling DataWorks, every decision is logged, and no call starts after it."""
    template = json.loads(sample("mns/queue-eventbridge-single.json"))
    batch = [dict(template, id=f"m-{n}", time=f"2026-02-{n + 1:02d}T02:00:00Z",
                  data=dict(template["data"], messageId=f"M{n}")) for n in range(26)]
    batch += [dict(template, id=f"m-{n}", time=f"2026-01-{n - 24:02d}T02:00:00Z",
                   data=dict(template["data"], messageId=f"M{n}")) for n in range(26, 40)]
    h.emu.set_faults(latency_ms=100)
    started = time.monotonic()
    records, raised = invoke(h, "mns", json.dumps(batch).encode(), timeout=2)
    assert time.monotonic() - started < 2
    assert raised and len(records) == 40
    done = [r for r in records if r["outcome"] == "triggered"]
    stopped = [r for r in records if r["outcome"] == "failed"]
    assert done and stopped and len(done) + len(stopped) == 40
    assert {(r["error_code"], r["attempts"], r["retryable"]) for r in stopped} == {("DeadlineExceeded", 0, True)}
    assert all(c["monotonic"] < started + 1.5 for c in h.calls())      # the deadline: 2 s less a 0.5 s margin
    assert len(h.calls(TRIGGER)) == len(done)


# ---- OSS (`require`): the same verdicts, the same retries, the same deadline ----

REQUIRE = 'require: ["exports/customers/dt={bizdate:%Y-%m-%d}/_SUCCESS"]'
CUSTOMERS = "exports/customers/dt=2026-03-10/_SUCCESS"
OSS_TRANSIENT = {"throttle": "TotalQpsLimitExceeded", "error": "InternalError", "drop": "ConnectionError"}


@pytest.fixture
def gated(harness):
    h = harness(orders_rules("{workspace: 10001, node: 700001234567}", extra=REQUIRE))
    h.oss.put("etl-landing", CUSTOMERS)
    yield h
    assert duplicate_releases(h.emu) == 0


def oss_faults(h) -> list:
    return [c["fault"] for c in h.oss.calls]


@pytest.mark.parametrize("fault", OSS_TRANSIENT)
def test_a_transient_oss_fault_is_retried_in_the_invocation(gated, fault):
    gated.oss.set_faults(script=[fault])
    [d], raised = invoke(gated, "oss", sample(SAMPLES["oss"]))
    assert (d["outcome"], raised) == ("triggered", False)
    assert oss_faults(gated)[-2:] == [fault, None] and actions(gated) == [LOOKUP, TRIGGER]


def test_a_refused_oss_check_fails_at_once_and_sends_nothing(gated):
    gated.oss.set_faults(script=["forbidden"])
    [d], raised = invoke(gated, "oss", sample(SAMPLES["oss"]))
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"], raised) == \
        ("failed", "AccessDenied", False, 1, True)
    assert d["reason"].startswith("OSS: ") and gated.calls() == []


@pytest.mark.parametrize("faults, code", [({"error_rate": 1}, "InternalError"),
                                          ({"drip_rate": 1, "drip_ms": 100}, "DeadlineExceeded")])
def test_an_oss_fault_that_outlasts_the_deadline_raises_before_the_function_times_out(gated, faults, code):
    gated.oss.set_faults(**faults)
    started = time.monotonic()
    [d], raised = invoke(gated, "oss", sample(SAMPLES["oss"]), timeout=LONG)
    assert time.monotonic() - started < LONG
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", code, True, True)
    assert "deadline" in d["reason"] and gated.calls() == []


def test_an_oss_redirect_is_never_followed(gated):
    gated.oss.set_faults(script=["redirect"])
    [d], raised = invoke(gated, "oss", sample(SAMPLES["oss"]))
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "Redirected", False, True)
    assert gated.oss.decoy_calls == [] and gated.calls() == []


def test_no_attempt_starts_that_could_not_finish_before_the_deadline(h):
    """With less than a call's worth of time left (0.4 s of a 0.5 s minimum), no call is made at all: the decision
    fails, retryable, and FC's retry runs it with a whole invocation's time."""
    call, _ = h.runtime.invocation(fc.context_for("oss"), time.monotonic())
    short = Invocation(Deadline(time.monotonic() + 0.4), call.port_for, call.store_for, call.now)
    [d] = [x.record() for x in h.runtime.relay.decide(parse("oss", sample(SAMPLES["oss"]), call.now()), short)]
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"]) == ("failed", "DeadlineExceeded", True, 0)
    assert h.calls() == []


def test_no_oss_call_starts_that_could_not_finish_before_the_deadline(harness):
    """The same for a `require` check: with 0.4 s left, no OSS request is made."""
    h = harness(orders_rules("{workspace: 10001, node: 700001234567}", extra=REQUIRE))
    call, _ = h.runtime.invocation(fc.context_for("oss"), time.monotonic())
    short = Invocation(Deadline(time.monotonic() + 0.4), call.port_for, call.store_for, call.now)
    [d] = [x.record() for x in h.runtime.relay.decide(parse("oss", sample(SAMPLES["oss"]), call.now()), short)]
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"]) == ("failed", "DeadlineExceeded", True, 0)
    assert h.oss.calls == [] and h.calls() == []


@ONE_API
def test_a_batch_record_whose_endpoint_never_answers_costs_the_others_nothing(harness, emulator):
    """A queue batch alternating a rule whose DataWorks endpoint takes connections and never answers with a healthy
    one: each decision takes its share of the time, not all of it, and after two unanswered decisions the dead
    endpoint is not asked again in the invocation. The healthy records are released in this very invocation."""
    import socket

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    dead = f"127.0.0.1:{hole.getsockname()[1]}"
    h = harness(f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai}}
rules:
  - {{name: dead, on: mns, queue: etl-events, message: {{source: [dead]}}, endpoint: "{dead}",
     trigger: [{{workspace: 10001, node: 700001235100}}]}}
  - {{name: alive, on: mns, queue: etl-events, message: {{source: [alive]}}, endpoint: "{emulator.endpoint}",
     trigger: [{{workspace: 10001, node: 700001235200}}]}}
""", env={"DWTRIGGER_ENDPOINT": ""})
    template = json.loads(sample("mns/queue-eventbridge-single.json"))
    batch = [dict(template, id=f"m-{n}", data=dict(template["data"], messageId=f"M{n}",
                                                   messageBody=json.dumps({"source": source})))
             for n, source in enumerate(["dead", "alive", "dead", "dead", "alive"])]
    try:
        started = time.monotonic()
        records, raised = invoke(h, "mns", json.dumps(batch).encode(), timeout=8)
        assert time.monotonic() - started < 8
    finally:
        hole.close()
    assert [(r["rule"], r["outcome"], r["error_code"]) for r in records] == [
        ("dead", "failed", "DeadlineExceeded"), ("alive", "triggered", None), ("dead", "failed", "DeadlineExceeded"),
        ("dead", "failed", "EndpointDown"), ("alive", "already_triggered", None)]
    assert raised and records[3]["retryable"] and records[3]["reason"].startswith(f"DataWorks at {dead} gave no answer")
