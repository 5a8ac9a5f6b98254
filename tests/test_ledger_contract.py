"""The ledger port's contract (ledger.Book), held against every adapter: the OSS one over the OSS stand-in (through
the real SDK) and the in-memory one of tests/ledgers.py — so an adapter for another store has a test to pass: add
it to `ADAPTERS` below. Each call returns what the port's docstring names; what an adapter does with records that are
not ours is its own module's test (test_ledger_oss)."""
import itertools
from datetime import date

import pytest

from conftest import ROLE_KEY, oss_seed
from dwtrigger import oss
from dwtrigger.credentials import RoleKeys
from dwtrigger.ledger import Entry, Notice, Slot
from dwtrigger.ops.emulator import OssStandIn
from ledgers import MemoryBook, Ticking, oss_book

API, WORKSPACE, NODE, CYCLE_MS = "2024-05-18", 10001, 700001234567, 1773160200000
SLOT = Slot(API, WORKSPACE, NODE, CYCLE_MS)
DAY, NEXT_DAY = date(2026, 3, 10), date(2026, 3, 11)
_PREFIXES = itertools.count()


@pytest.fixture(scope="module")
def standin():
    with OssStandIn(oss_seed()) as running:
        yield running


def _oss(standin, clock):
    store = oss.store("cn-shanghai", standin.endpoint, "http", False, RoleKeys(*ROLE_KEY.values()))
    return oss_book(store, clock, prefix=f"contract-{next(_PREFIXES)}/")     # a ledger of its own per test


ADAPTERS = {"oss": _oss, "memory": lambda standin, clock: MemoryBook({}, clock)}


@pytest.fixture(params=sorted(ADAPTERS))
def book(request, standin):
    return ADAPTERS[request.param](standin, Ticking())


def entry(event_id: str, state: str = "sending") -> Entry:
    return Entry(state, "orders", event_id, 1773277200000, until=1773277270000, token=event_id,
                 sent_at=1773277201000 if state != "sending" else None)


def test_a_claim_is_created_only_if_absent_then_overwritten(book):
    assert book.latest(SLOT) == (0, None) and book.read(SLOT, 1) is None
    assert book.create_claim(SLOT, 1, entry("e-1")) is True
    assert book.create_claim(SLOT, 1, entry("e-2")) is False                 # the first stays
    assert book.read(SLOT, 1) == entry("e-1") and book.latest(SLOT) == (1, entry("e-1"))
    book.write_claim(SLOT, 1, entry("e-1", "sent"))
    assert book.read(SLOT, 1) == entry("e-1", "sent") and book.read(SLOT, 2) is None


def test_the_latest_claim_is_the_highest_number_of_its_instance(book):
    for n in (1, 2, 11):
        book.create_claim(SLOT, n, entry(f"e-{n}", "failed"))
    book.create_claim(Slot(API, WORKSPACE, NODE, CYCLE_MS + 1), 12, entry("e-other"))       # another instance
    assert book.latest(SLOT) == (11, entry("e-11", "failed"))


def test_a_day_s_sends_are_its_instances_claims_oldest_first(book):
    later, before, after = (Slot(API, WORKSPACE, NODE, CYCLE_MS + d) for d in (3_600_000, -1, 86_400_000))
    for slot, n in ((later, 1), (SLOT, 2), (SLOT, 1), (before, 1), (after, 1)):
        book.create_claim(slot, n, entry(f"e-{slot.cycle_ms}-{n}"))
    book.create_claim(Slot(API, WORKSPACE, NODE + 1, CYCLE_MS), 1, entry("another node's"))
    assert book.sends(API, WORKSPACE, NODE, CYCLE_MS, CYCLE_MS + 86_400_000) == [
        (SLOT, 1, entry(f"e-{CYCLE_MS}-1")), (SLOT, 2, entry(f"e-{CYCLE_MS}-2")),
        (later, 1, entry(f"e-{later.cycle_ms}-1"))]


def test_where_names_each_claim_apart(book):
    places = {book.where(SLOT, 0), book.where(SLOT, 1), book.where(SLOT, 2),
              book.where(Slot(API, WORKSPACE, NODE, CYCLE_MS + 1), 1)}
    assert len(places) == 4 and all(isinstance(p, str) and p for p in places)


def test_done_is_kept_per_instance_and_per_day(book):
    assert not book.is_done(API, WORKSPACE, NODE, DAY, CYCLE_MS)
    book.mark_done(API, WORKSPACE, NODE, DAY, CYCLE_MS)
    book.mark_done(API, WORKSPACE, NODE, DAY, CYCLE_MS)                      # again: no harm
    assert book.is_done(API, WORKSPACE, NODE, DAY, CYCLE_MS)
    assert not book.is_done(API, WORKSPACE, NODE, DAY, None) and not book.is_done(API, WORKSPACE, NODE, NEXT_DAY, None)
    book.mark_done(API, WORKSPACE, NODE, NEXT_DAY, None)
    assert book.is_done(API, WORKSPACE, NODE, NEXT_DAY, None)
    assert not book.is_done(API, WORKSPACE, NODE + 1, NEXT_DAY, None)


def test_an_asked_release_is_kept_per_rule_node_and_day(book):
    assert not book.was_asked("nightly", NODE, DAY)
    book.note_asked("nightly", NODE, DAY, "e-1")
    book.note_asked("nightly", NODE, DAY, "e-2")
    assert book.was_asked("nightly", NODE, DAY)
    assert not book.was_asked("nightly", NODE, NEXT_DAY) and not book.was_asked("orders", NODE, DAY)
    assert book.where_asked("nightly", NODE, DAY) != book.where_asked("nightly", NODE, NEXT_DAY)


def test_notices_are_kept_by_kind_and_a_first_one_only_once(book):
    assert book.notices("orders", NODE, DAY) == {} and book.noticed("orders") == set()
    assert book.notice("orders", NODE, DAY, "overdue") is None
    first = Notice("overdue", 1773190800000, "first", ["ops"])
    assert book.note_first("orders", NODE, DAY, first) is True
    assert book.note_first("orders", NODE, DAY, Notice("overdue", 1773190900000, "second", ["ops"])) is False
    assert book.notice("orders", NODE, DAY, "overdue") == first
    delivered = Notice("overdue", 1773190800000, "first", ["ops"], ["ops"], 1773190801000, 1)
    book.note("orders", NODE, DAY, delivered)                                 # overwritten
    book.note("orders", NODE, NEXT_DAY, Notice("stuck", 1773190800000, failures=1))
    book.note("orders-2", NODE, DAY, Notice("stuck", 1773190800000, failures=1))          # another rule's
    assert book.notices("orders", NODE, DAY) == {"overdue": delivered}
    assert book.notices("orders", NODE, NEXT_DAY) == {"stuck": Notice("stuck", 1773190800000, failures=1)}
    assert book.noticed("orders") == {(NODE, "2026-03-10", "overdue"), (NODE, "2026-03-11", "stuck")}
