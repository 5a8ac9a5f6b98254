"""Client-side pacing (pacing.py): nothing waits until DataWorks throttles; then calls are spaced at 70% of what
this FC instance sent in the second before, the rate probes back up while calls pass, and a call whose turn comes
after the deadline is not made (retry.NoTimeLeft ends the retries with the last real error)."""
import pytest

from conftest import sample

from dwtrigger.pacing import BACK_OFF, COOLING_S, FLOOR, PROBE_PER_S, UNPACED, Pacer
from dwtrigger.retry import Backoff, Deadline, GaveUp, NoTimeLeft, RemoteError, with_retries


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def sent(pacer, clock, n, spacing):
    """n calls, each started `spacing` s after the previous (or when its turn came); their waits."""
    waits = []
    for _ in range(n):
        wait = pacer.delay()
        waits.append(wait)
        clock.now += wait + spacing
    return waits


def test_nothing_waits_until_a_throttle():
    clock = Clock()
    pacer = Pacer(clock)
    assert sent(pacer, clock, 500, 0.001) == [0.0] * 500 and pacer.rate() is None


def test_a_throttle_spaces_calls_at_a_share_of_what_was_sent_in_the_last_second():
    clock = Clock()
    pacer = Pacer(clock)
    sent(pacer, clock, 20, 0.045)                     # 20 calls within the last second
    pacer.throttled()
    assert pacer.rate() == pytest.approx(BACK_OFF * 20)
    waits = sent(pacer, clock, 10, 0.0)
    starts, t = [], 0.0
    for wait in waits:
        t += wait
        starts.append(t)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(gap == pytest.approx(1 / (BACK_OFF * 20), rel=0.01) for gap in gaps)


def test_throttles_of_the_same_burst_cut_once_and_later_ones_cut_again():
    clock = Clock()
    pacer = Pacer(clock)
    sent(pacer, clock, 10, 0.09)                      # 10 calls within the last second
    for _ in range(5):                                 # the answers to calls sent before the cut
        pacer.throttled()
    first = pacer.rate()
    assert first == pytest.approx(BACK_OFF * 10)
    clock.now += COOLING_S + 0.01
    pacer.throttled()
    assert pacer.rate() < first and pacer.rate() >= FLOOR


def test_the_rate_probes_up_while_calls_pass_and_pacing_ends():
    clock = Clock()
    pacer = Pacer(clock)
    sent(pacer, clock, 10, 0.09)
    pacer.throttled()
    cut = pacer.rate()
    clock.now += 10
    assert pacer.rate() == pytest.approx(cut + 10 * PROBE_PER_S)
    clock.now += UNPACED / PROBE_PER_S
    assert pacer.rate() is None and pacer.delay() == 0.0


def test_a_call_whose_turn_comes_after_the_deadline_ends_the_retries_with_the_last_real_error():
    throttled = RemoteError("Throttling.User", "slow down", retryable=True, status=429)
    steps = []

    def step(attempt):
        steps.append(attempt)
        if attempt == 1:
            raise throttled
        raise NoTimeLeft("its turn comes later")

    with pytest.raises(GaveUp) as e:
        with_retries(step, Deadline(float("inf")), Backoff(rng=lambda: 0.0), sleep=lambda s: None)
    assert (e.value.error, e.value.attempts, e.value.deadline, steps) == (throttled, 1, True, [1, 2])


def test_an_attempt_the_deadline_stops_after_its_first_page_counts():
    """A listing's later page refused for time: the attempt asked DataWorks already, so it is counted."""
    repeated = RemoteError("BadResponse", "listed instance 1 twice", retryable=True)

    def step(attempt):
        if attempt == 1:
            raise repeated
        raise NoTimeLeft("no time for page 2", called=True)

    with pytest.raises(GaveUp) as e:
        with_retries(step, Deadline(float("inf")), Backoff(rng=lambda: 0.0), sleep=lambda s: None)
    assert (e.value.error, e.value.attempts, e.value.deadline) == (repeated, 2, True)


def test_a_throttled_call_paces_the_fc_instance_that_made_it(harness):
    h = harness()
    assert h.runtime.pacers(h.emu.endpoint).rate() is None
    h.emu.set_faults(script=["throttle"])
    [d] = h.invoke("oss", sample("oss/native-put-orders.json"))
    assert (d["outcome"], d["attempts"]) == ("triggered", 2)
    assert h.runtime.pacers(h.emu.endpoint).rate() is not None and harness().runtime.pacers(h.emu.endpoint).rate() is None


def test_a_turn_past_the_deadline_reserves_nothing_so_refusals_never_push_later_calls_back():
    clock = Clock()
    pacer = Pacer(clock)
    sent(pacer, clock, 2, 0.4)
    pacer.throttled()                                   # 2 calls in the last second: 1 a second from now on
    assert pacer.delay() == 0.0                         # this call goes now; the next turn is a second away
    assert [pacer.delay(within=0.5) for _ in range(100)] == [None] * 100   # refused: nothing reserved
    assert pacer.delay(within=5) == pytest.approx(1 / pacer.rate(), rel=0.01)
