"""The claim protocol (ledger/claims.py) without the wire: the claim itself over an object store in memory under the
OSS adapter, and the Claims block over both adapters (OSS over that store, and the in-memory one): what leaving it
records, on a return, an exception or a record the ledger could not take. The relay's end-to-end promises over the
OSS stand-in are test_ledger's."""
from datetime import timedelta

import pytest

from dwtrigger.ledger import Busy, Claimed, Slot, Stands, ms
from dwtrigger.ledger.claims import WAIT_S, Claims, claim
from dwtrigger.oss import OssError
from ledgers import MemoryBook, MemoryStore, Ticking, oss_book

NODE, CYCLE_MS = 700001234567, 1773160200000
SLOT = Slot("2020-05-18", 10001, NODE, CYCLE_MS)


def test_a_claim_whose_answer_was_lost_is_known_by_its_token_on_the_retry():
    store, clock = MemoryStore(), Ticking()
    store.lose_next_answer = True
    ours = oss_book(store, clock)
    with pytest.raises(OssError):
        claim(ours, SLOT, "orders", "e-1", "token-1", 0, True, clock.sleep)
    verdict = claim(ours, SLOT, "orders", "e-1", "token-1", 0, True, clock.sleep)    # the attempt's retry
    assert isinstance(verdict, Claimed) and verdict.n == 1 and clock.seconds == 0
    other = claim(oss_book(store, clock), SLOT, "orders", "e-2", "token-2", 0, True, clock.sleep)
    assert isinstance(other, Busy)                    # another delivery waits for it, and is told nothing is known


def test_a_claim_that_never_settles_is_waited_for_ten_seconds_at_most():
    store, clock = MemoryStore(), Ticking()
    claim(oss_book(store, clock, seconds=3600), SLOT, "orders", "e-1", "token-1", 0, True, clock.sleep)    # live 1 h
    verdict = claim(oss_book(store, clock, seconds=3600), SLOT, "orders", "e-2", "token-2", 0, True, clock.sleep)
    assert isinstance(verdict, Busy) and verdict.entry.event_id == "e-1"
    assert WAIT_S - 1 <= clock.seconds <= WAIT_S


# ---- the Claims block, over either adapter -------------------------------------------------------------------

@pytest.fixture(params=["oss", "memory"])
def books(request):
    """A maker of books on one ledger (each a delivery's), and the clock they share."""
    clock, store, shelves = Ticking(), MemoryStore(), {}
    if request.param == "oss":
        return (lambda: oss_book(store, clock)), clock
    return (lambda: MemoryBook(shelves, clock)), clock


def recorded(write):
    return write()


def lost(write):
    return None                                        # the ledger could not take it within the deadline


@pytest.mark.parametrize("unanswered", [False, True])
def test_leaving_the_block_without_a_send_ends_the_claim_failed_or_unknown(books, unanswered):
    make, clock = books
    book = make()
    with Claims(book, "orders", "e-1", clock.sleep, recorded) as claims:
        assert claims.take(SLOT, ms(clock.now()), True) == Claimed(1, book.read(SLOT, 1))
        assert claims.take(SLOT, ms(clock.now()), True).n == 1          # held: the ledger is not asked again
        if unanswered:
            claims.unanswered(clock.now())
    entry = book.read(SLOT, 1)
    assert (entry.state, entry.sent_at) == (("unknown", ms(clock.now())) if unanswered else ("failed", None))
    assert book.latest(SLOT) == (1, entry)


def test_an_exception_inside_the_block_still_ends_the_claim_and_goes_on(books):
    make, clock = books
    book = make()
    with pytest.raises(RuntimeError, match="the trigger blew up"):
        with Claims(book, "orders", "e-1", clock.sleep, recorded) as claims:
            assert isinstance(claims.take(SLOT, ms(clock.now()), True), Claimed)
            raise RuntimeError("the trigger blew up")
    assert book.read(SLOT, 1).state == "failed"
    with Claims(make(), "orders", "e-2", clock.sleep, recorded) as claims:      # the next delivery claims at once
        assert claims.take(SLOT, ms(clock.now()), True).n == 2


def test_a_send_recorded_stands_in_the_way_of_the_next_delivery(books):
    make, clock = books
    book = make()
    with Claims(book, "orders", "e-1", clock.sleep, recorded) as claims:
        looked = ms(clock.now())
        claims.take(SLOT, looked, False)
        clock.sleep(1)
        assert claims.sent(clock.now(), "WAIT_TIME", True, "req-1")
    entry = book.read(SLOT, 1)
    assert (entry.state, entry.status, entry.request_id, entry.sent_at) == ("sent", "WAIT_TIME", "req-1", looked + 1000)
    assert entry.held_until == ms(clock.now() + timedelta(hours=24))
    with Claims(make(), "orders", "e-2", clock.sleep, recorded) as claims:
        assert claims.take(SLOT, looked + 2000, False) == Stands(entry)   # held, and the look-up says not ready


def test_a_send_the_ledger_could_not_record_says_so_and_leaves_the_claim_sending(books):
    make, clock = books
    book = make()
    with Claims(book, "orders", "e-1", clock.sleep, lost) as claims:
        claims.take(SLOT, ms(clock.now()), True)
        assert claims.sent(clock.now(), "WAIT_TRIGGER", False, "req-1") is False
    assert book.read(SLOT, 1).state == "sending"      # of unknown fate once its claimer's deadline passed


def test_without_a_ledger_nothing_is_claimed_and_nothing_is_recorded():
    clock = Ticking()
    with Claims(None, "orders", "e-1", clock.sleep, lost) as claims:
        assert claims.take(SLOT, 0, None) == Claimed(0, None)
        assert claims.sent(clock.now(), None, True, "req-1") is True     # nothing to record is not a failure
