"""The load run's sweep variant (bench/reliability.py --drop): its own module, so `make test`'s workers run it beside
tests/test_load.py rather than after it (it is the longest of the suite, and mostly waiting on the pacers)."""
import pytest

from loads import none_failing, reliability

pytestmark = pytest.mark.load      # slow, and mostly waiting: run once, beside FC's Python's slow set (Makefile)


def test_the_sweep_recovers_every_event_whose_notification_was_lost_while_one_endpoint_is_down():
    """Daily OSS notifications lost, one daily rule's endpoint never answering, a tenth of the ledger's OSS requests
    failing, two instances whose file never landed released by hand: the sweep releases the other rules' dropped
    events, says `overdue` for every other date with no file (without DataWorks' word for the dead rule's), and
    never for what ran."""
    figures = reliability.run(events=60, workers=8, drop=0.4, ledger=True, ledger_faults=0.1, unreachable=1,
                              by_hand=2, timeout=4, sweep_timeout=60)
    print(figures)
    injected = ("ledger OSS errors injected (500 or dropped)", "unreachable: connections never answered",
                "sweep: overdue for the unreachable rules (unconfirmed)", "released by hand (no file)",
                "released by the sweep", "events dropped (file landed, no notification)")
    assert all(figures[name] > 0 for name in injected), {name: figures[name] for name in injected}
    assert figures["sweep look-ups"] > 0
    none_failing(figures)                    # lost, duplicates (repeats included), false or missed overdue: 0
    assert figures["overdue lines"] > figures["sweep: overdue for the unreachable rules (unconfirmed)"]
    # Claimed in the ledger first, a repeat trigger is never sent, on either API.
    assert figures["triggers after the release (refused / no effect)"] == 0
