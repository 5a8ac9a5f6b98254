"""Client-side pacing (pacing.py): reads and writes each paced under their own ceiling (the quota's), spaced by a
whole number of calls a second, starting at an eighth of it and doubling each second until a throttle (which takes
it back at least to the rate of the second before), cut on a throttle (once a second) by half the share of the
last second's calls refused (at least one whole call a second and 5%), climbing back slowly; a call whose turn
comes after the deadline is not made (retry.NoTimeLeft ends the retries with the last real error). Every pacer here
runs on a clock the test moves."""
import pytest

from conftest import sample

from dwtrigger.pacing import CLIMB, COOLING_S, FLOOR, GENTLE, MARGIN, RESTART_S, START, Pacer, Pacers
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


def gaps(waits):
    return waits[1:]


def test_calls_start_at_an_eighth_of_the_ceiling_and_the_rate_doubles_each_second_up_to_it():
    clock = Clock()
    pacer = Pacer(20.0, clock)
    assert pacer.rate() == START * 20
    # 2.5 a second, spaced as 2 (and 2% more): no rolling second ever holds a third call
    assert gaps(sent(pacer, clock, 3, 0.0)) == [pytest.approx((1 + MARGIN) / 2)] * 2
    clock.now = 1001.0
    assert pacer.rate() == pytest.approx(2 * START * 20)
    clock.now = 1004.0
    assert pacer.rate() == 20.0                                    # never above the quota
    pacer.delay()
    assert pacer.delay() == pytest.approx((1 + MARGIN) / 20)


@pytest.mark.parametrize("rate, spaced", [(2.9, 2), (3.0, 3), (19.5, 19), (0.75, 0.75)])
def test_calls_are_spaced_by_the_whole_rate_so_no_second_holds_more_than_it(rate, spaced):
    clock = Clock()
    pacer = Pacer(20.0, clock)
    pacer._rate, pacer._doubling = rate, False          # as a cut left it (it climbs 0.01 a second from here)
    starts = []
    for _ in range(10):
        sent(pacer, clock, 1, 0.0)
        starts.append(clock.now)
    assert starts[1] - starts[0] == pytest.approx((1 + MARGIN) / spaced if spaced >= 1 else 1 / spaced, rel=1e-3)
    assert max(sum(1 for t in starts if s <= t < s + 1) for s in starts) <= max(1, spaced)


def test_reads_and_writes_have_budgets_of_their_own():
    clock = Clock()
    pacing = Pacers((50.0, 20.0), clock)("dataworks.cn-shanghai.aliyuncs.com")
    assert (pacing.read.ceiling, pacing.write.ceiling) == (50.0, 20.0)
    clock.now += 10
    pacing.write.throttled()                                       # the only call of the last second: half off
    assert pacing.write.rate() == pytest.approx(0.5 * 20) and pacing.read.rate() == 50.0
    sent(pacing.write, clock, 1, 0.0)
    assert pacing.read.delay() == 0.0                              # a write's turn holds no read back


def test_a_throttle_cuts_by_half_the_share_of_the_last_second_s_calls_refused_and_its_burst_cuts_once():
    clock = Clock()
    pacer = Pacer(20.0, clock)
    clock.now += 10                                   # at the ceiling: 20 a second
    sent(pacer, clock, 4, 0.0)                        # 4 calls within the last second, one of them refused
    pacer.throttled()
    cut = pacer.rate()
    assert cut == pytest.approx((1 - 1 / 4 / 2) * 20)
    for _ in range(5):                                # the answers to calls sent before the cut
        pacer.throttled()
    assert pacer.rate() == cut
    clock.now += COOLING_S                            # a second on: none of its calls passed, 7 were refused
    pacer.throttled()
    assert pacer.rate() == pytest.approx(0.5 * (cut + CLIMB * 20 * COOLING_S))


@pytest.mark.parametrize("after_s, reached, back_to", [(0.5, 3.54, 2.5), (1.0, 5.0, 2.5), (1.5, 7.07, 3.54),
                                                       (2.0, 10.0, 5.0)])
def test_a_throttle_while_still_doubling_takes_the_rate_back_to_the_second_before(after_s, reached, back_to):
    """Eight FC instances start together at an eighth of the quota each (2.5 of 20) and double: the first throttle
    finds their sum over it, and each goes back to what passed a second before (or its start: 2.5), where a share
    off the overshoot (a quarter of the calls refused: an eighth off) would leave them over it for seconds more."""
    clock = Clock()
    pacer = Pacer(20.0, clock, rng=lambda: 0.0)
    clock.now += after_s
    assert pacer.rate() == pytest.approx(reached, abs=0.01)
    for _ in range(4):                                # four calls, one of them refused
        pacer.delay()
    pacer.throttled()
    assert pacer.rate() == pytest.approx(back_to, abs=0.01)
    clock.now += COOLING_S                            # no longer doubling: a later throttle cuts as below
    back = pacer.rate()
    pacer.throttled()
    assert pacer.rate() < back


def test_a_throttle_at_the_rate_a_doubling_phase_starts_from_cuts_as_any_other():
    """Time stands still: the start rate itself was too much (more FC instances than the start assumes)."""
    clock = Clock()
    pacer = Pacer(20.0, clock, rng=lambda: 0.0)
    pacer.delay()
    pacer.throttled()
    assert pacer.rate() == pytest.approx(START * 20 / 2)      # every call of the second refused: half off


def test_a_single_refusal_among_many_calls_cuts_by_5_percent():
    clock = Clock()
    pacer = Pacer(20.0, clock)
    clock.now += 10
    sent(pacer, clock, 19, 0.0)
    pacer.throttled()
    assert pacer.rate() == pytest.approx(GENTLE * 20)


@pytest.mark.parametrize("draw, after", [(0.0, 2.5), (0.6, 2.2), (1.0, 2.0)])
def test_a_refusal_at_a_few_calls_a_second_cuts_a_whole_call_to_a_random_point_below_the_next(draw, after):
    """Eight FC instances at 3 a second, one throttled: it drops to 2 and climbs back to 3 at its own moment."""
    clock = Clock()
    pacer = Pacer(20.0, clock, rng=lambda: draw)
    pacer._rate, pacer._doubling = 3.4, False
    clock.now += 10
    sent(pacer, clock, 3, 0.4)
    pacer.throttled()                                   # half of a third refused: 3.4 * 5/6 = 2.83, 3.4 * 0.95
    assert pacer.rate() == pytest.approx(after)


def test_the_rate_climbs_back_slowly_while_calls_pass_then_doubles_after_quiet_minutes():
    clock = Clock()
    pacer = Pacer(20.0, clock)
    clock.now += 10
    pacer.throttled()
    cut = pacer.rate()
    clock.now += 10
    assert pacer.rate() == pytest.approx(cut + 10 * CLIMB * 20)
    clock.now += RESTART_S - 10
    quiet = pacer.rate()
    clock.now += 1
    assert pacer.rate() == pytest.approx(min(20.0, 2 * quiet))


def test_a_cut_never_leaves_less_than_the_floor():
    clock = Clock()
    pacer = Pacer(1.0, clock)
    for _ in range(20):
        clock.now += COOLING_S
        pacer.throttled()
    assert pacer.rate() == FLOOR


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


@pytest.mark.parametrize("script, cut", [(["throttle"], "read"), (["ok", "throttle"], "write")],
                         ids=["look-up", "trigger"])
def test_a_throttled_call_slows_its_kind_of_call_of_the_fc_instance_that_made_it_not_the_other(harness, script, cut):
    h = harness(env={"DWTRIGGER_DATAWORKS_QPS": "40/10"})
    pacing = h.runtime.pacers(h.emu.endpoint)
    assert (pacing.read.ceiling, pacing.write.ceiling) == (40.0, 10.0)
    h.runtime.pacers = Pacers(h.runtime.settings.dataworks_qps, Clock())          # time stands still
    h.emu.set_faults(script=script)                                             # the look-up, or the trigger
    [d] = h.invoke("oss", sample("oss/native-put-orders.json"))
    assert (d["outcome"], d["attempts"]) == ("triggered", 2)
    pacing = h.runtime.pacers(h.emu.endpoint)
    full = {"read": START * 40, "write": START * 10}
    assert {"read": pacing.read.rate(), "write": pacing.write.rate()} == \
        {kind: pytest.approx(rate / 2 if kind == cut else rate) for kind, rate in full.items()}    # half off
    assert harness().runtime.pacers(h.emu.endpoint).read.rate() >= START * 50    # another FC instance: its own


def test_a_turn_past_the_deadline_reserves_nothing_so_refusals_never_push_later_calls_back():
    clock = Clock()
    pacer = Pacer(8.0, clock)                           # 1 a second to start with
    assert pacer.delay() == 0.0                         # this call goes now; the next turn is a second away
    assert [pacer.delay(within=0.5) for _ in range(100)] == [None] * 100   # refused: nothing reserved
    assert pacer.delay(within=5) == pytest.approx((1 + MARGIN) / pacer.rate(), rel=0.01)
