"""The load run of bench/reliability.py, small, and the faults of a send whose fate is unknown:
mixed sources and many rules against an emulator limited to 50 QPS with 2% injected 500s and hostile answers.
Nothing lost, nothing released twice or without an event, every trigger reported once, every decision logged, no
secret logged, no invocation past its timeout. Its sweep variant: tests/test_load_sweep.py."""
import pytest

from loads import none_failing, reliability

pytestmark = pytest.mark.load      # slow, and mostly waiting: run once, beside FC's Python's slow set (Makefile)


def test_a_small_load_run_loses_nothing_and_releases_nothing_twice():
    figures = reliability.run(events=200, workers=8)
    print(figures)
    assert figures["instances released"] > 100
    assert figures["throttled (429)"] and figures["injected 500s"] and figures["in-invocation retries"]
    assert figures["raises"] and figures["replays"]           # events for instances not generated yet, replayed
    assert {name: figures[name] for name in reliability.FAILING} == dict.fromkeys(reliability.FAILING, 0)
    assert set(figures["decisions (final)"]) <= {"triggered", "already_triggered", "ignored"}


def test_stalled_sends_ledger_errors_and_a_dead_endpoint_send_once_and_lose_nothing():
    """Triggers whose answer stalls past the deadline, or that DataWorks acts on after their caller gave up; a
    tenth of the ledger's OSS requests failing; two rules whose endpoint accepts connections and never answers.
    FC's retries send once (no trigger after the release either), the dead rules' events are dead-lettered, not
    lost, and every other record of their batches is released. (A 4 s timeout: the dead rules' attempts and
    replays each wait out the deadline.)"""
    figures = reliability.run(events=60, workers=8, ledger=True, stall=0.1, stall_late=0.1, ledger_faults=0.1,
                              unreachable=2, timeout=4)
    print(figures)
    injected = ("stalled sends injected: answer dripped", "stalled sends injected: acted on late",
                "ledger OSS errors injected (500 or dropped)", "unreachable: connections never answered",
                "unreachable: events dead-lettered (not releasable)", "released, answer stalled (drip or late)")
    assert all(figures[name] > 0 for name in injected), {name: figures[name] for name in injected}
    none_failing(figures)
    assert figures["duplicate releases (triggers after the release included)"] == 0
