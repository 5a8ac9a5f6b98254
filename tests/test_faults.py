"""The fault matrix: each fault the emulator injects x each source, through the real SDK over loopback.

Scripted faults hit the requests in the order they arrive (look-up, trigger, look-up, ...), so attempts and calls
are exact. Every invocation is checked by `checks.invoke` (one terminal log line per decision, TriggerFailed exactly
when a decision failed, no secret anywhere) and every test ends with no instance released twice.
"""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from checks import duplicate_releases, invoke
from conftest import sample
from dwtrigger.dataworks import v20200518

SAMPLES = {"oss": "oss/native-put-orders.json", "mns": "mns/topic-json-finance.json", "timer": "timer/nightly.json"}
TRANSIENT = {"throttle": "Throttling.User", "error": "InternalError.System", "html_502": "BadResponse",
             "drop": "ConnectionError", "success_false": "Emulator.Injected.SuccessFalse"}
ALWAYS = {"throttle": {"script": ["throttle"] * 500}, "error": {"error_rate": 1}, "html_502": {"html_502_rate": 1},
          "drop": {"drop_rate": 1}, "success_false": {"success_false_rate": 1}}
LOOKUP, TRIGGER = "ListInstances", "RunTriggerNode"
SHORT = 1.2          # function.timeout (s): the deadline is 0.7 s after the start (margin 0.5 s)


@pytest.fixture
def h(harness):
    h = harness()
    yield h
    assert duplicate_releases(h.emu) == 0


def at(on: str, fault: str) -> list:
    """A script that faults the first look-up, or the first trigger."""
    return [fault] if on == LOOKUP else ["ok", fault]


def actions(h):
    return [c["action"] for c in h.calls()]


@pytest.mark.parametrize("source", SAMPLES)
@pytest.mark.parametrize("fault", TRANSIENT)
@pytest.mark.parametrize("on", [LOOKUP, TRIGGER])
def test_a_transient_fault_is_retried_after_a_fresh_lookup(h, source, fault, on):
    h.emu.set_faults(script=at(on, fault))
    [d], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], d["attempts"], raised) == ("triggered", 2, False)
    first = [LOOKUP] if on == LOOKUP else [LOOKUP, TRIGGER]
    assert actions(h) == first + [LOOKUP, TRIGGER]
    faulted = h.calls()[len(first) - 1]
    assert (faulted["action"], faulted["fault"]) == (on, fault)


@pytest.mark.parametrize("source", SAMPLES)
@pytest.mark.parametrize("on", [LOOKUP, TRIGGER])
def test_a_permanent_fault_fails_at_once_and_fcs_retry_succeeds(h, source, on):
    h.emu.set_faults(script=at(on, "forbidden"))
    [d], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"], raised) == \
        ("failed", "ResourceNotAuthorized.Api", False, 1, True)
    assert actions(h)[-1] == on
    [again], raised = invoke(h, source, sample(SAMPLES[source]))
    assert (again["outcome"], raised) == ("triggered", False)


@pytest.mark.parametrize("source", SAMPLES)
@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_fault_that_outlasts_the_deadline_raises_before_the_function_times_out(h, source, fault):
    h.emu.set_faults(**ALWAYS[fault])
    started = time.monotonic()
    [d], raised = invoke(h, source, sample(SAMPLES[source]), timeout=SHORT)
    assert time.monotonic() - started < SHORT
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", TRANSIENT[fault], True, True)
    assert d["attempts"] >= 2 and d["reason"].endswith("(retries stopped at the deadline)")
    assert actions(h) == [LOOKUP] * d["attempts"]


@pytest.mark.parametrize("source", SAMPLES)
def test_a_servers_retry_after_is_honoured(h, source):
    h.emu.set_faults(script=["throttle"], retry_after_ms=300)     # the harness's own backoff is at most 50 ms
    [d], _ = invoke(h, source, sample(SAMPLES[source]))
    assert (d["outcome"], d["attempts"]) == ("triggered", 2) and d["duration_ms"] >= 300


@pytest.mark.parametrize("source", SAMPLES)
def test_a_retry_after_past_the_deadline_raises_without_waiting(h, source):
    h.emu.set_faults(script=["throttle"], retry_after_ms=5000)
    started = time.monotonic()
    [d], raised = invoke(h, source, sample(SAMPLES[source]), timeout=SHORT)
    assert time.monotonic() - started < 1 and raised
    assert (d["error_code"], d["attempts"]) == ("Throttling.User", 1) and "deadline" in d["reason"]


@pytest.mark.parametrize("source", SAMPLES)
@pytest.mark.parametrize("on", [LOOKUP, TRIGGER])
def test_a_call_slower_than_the_time_left_times_out_and_the_retry_does_not_trigger_twice(h, source, on):
    h.emu.set_faults(script=at(on, "latency"), latency_ms=800)
    started = time.monotonic()
    [d], raised = invoke(h, source, sample(SAMPLES[source]), timeout=SHORT)
    assert time.monotonic() - started < SHORT
    assert (d["outcome"], d["error_code"], d["retryable"], d["attempts"], raised) == \
        ("failed", "Timeout", True, 1, True)
    h.emu.set_faults()
    wait_for_calls(h, 1 if on == LOOKUP else 2)      # FC retries later: the slow request has finished by then
    [again], _ = invoke(h, source, sample(SAMPLES[source]))
    # A slow trigger still lands after the client gave up: FC's retry finds the instance released.
    assert again["outcome"] == ("triggered" if on == LOOKUP else "already_triggered")
    assert actions(h).count(TRIGGER) == 1


def wait_for_calls(h, count: int) -> None:
    """Until the emulator has answered `count` requests (it records each once answered), at most 5 s."""
    give_up = time.monotonic() + 5
    while len(h.calls()) < count and time.monotonic() < give_up:
        time.sleep(0.02)


def test_a_trigger_that_landed_after_its_read_timeout_is_not_sent_again(h, monkeypatch):
    monkeypatch.setattr(v20200518, "READ_TIMEOUT_MS", 200)
    # Trigger: 400 ms, so the client gives up at 200 ms and it lands at 400 ms. The next look-up is throttled
    # for 600 ms, so the one after it sees the released instance.
    h.emu.set_faults(script=["ok", "latency", "throttle", "ok"], latency_ms=400, retry_after_ms=600)
    [d], raised = invoke(h, "oss", sample(SAMPLES["oss"]), timeout=5)
    assert (d["outcome"], d["attempts"], raised) == ("triggered", 3, False)
    assert d["reason"].startswith("an earlier attempt's trigger landed")
    assert sorted(actions(h)) == [LOOKUP] * 3 + [TRIGGER]


@pytest.mark.parametrize("source", SAMPLES)
def test_a_refused_trigger_is_not_claimed_when_another_delivery_releases_the_instance(h, harness, source):
    h.emu.set_faults(script=["ok", "throttle"], retry_after_ms=400)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(invoke, h, source, sample(SAMPLES[source]))
        wait_for_calls(h, 2)               # the first trigger was throttled: it waits 400 ms before looking again
        [other], _ = invoke(harness(), source, sample(SAMPLES[source]))    # a redelivery, in another FC instance
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
