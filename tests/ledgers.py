"""Ledgers without the wire, for the ledger's tests: a clock that sleeping moves, an object store in a dict (under
the OSS adapter), and a second adapter of the port that keeps its records in memory — the smallest Book there is,
which the port's contract (test_ledger_contract) holds to what it holds the OSS adapter to."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dwtrigger.ledger import NOTICES, Book
from dwtrigger.ledger.oss import Adapter
from dwtrigger.oss import ObjectStore, OssError
from dwtrigger.retry import Deadline
from dwtrigger.rules import Ledger


class Ticking:
    """A clock for both the deadline (seconds) and the wall (an instant): sleeping moves both."""

    def __init__(self):
        self.seconds, self.start = 0.0, datetime(2026, 3, 12, 1, tzinfo=timezone.utc)

    def sleep(self, seconds):
        self.seconds += seconds

    def now(self):
        return self.start + timedelta(seconds=self.seconds)

    def deadline(self, seconds: float = 60.0) -> Deadline:
        return Deadline(seconds, lambda: self.seconds)


class MemoryStore(ObjectStore):
    """An object store in a dict: create-if-absent atomic, and a create whose answer can be lost once."""

    def __init__(self):
        self.objects, self.lose_next_answer = {}, False

    def create(self, bucket, key, body, deadline):
        if key in self.objects:
            return False
        self.objects[key] = body
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise OssError("ConnectionError", "the answer was lost", retryable=True)
        return True

    def write(self, bucket, key, body, deadline, content_type="application/json"):
        self.objects[key] = body

    def read(self, bucket, key, deadline):
        return self.objects.get(key)

    def keys(self, bucket, prefix, deadline):
        return sorted(k for k in self.objects if k.startswith(prefix))

    def missing(self, wanted, deadline):
        raise AssertionError("the ledger checks no files")

    def find(self, bucket, key, deadline, limit):
        raise AssertionError("the ledger finds no files")

    def modified(self, bucket, key, deadline):
        raise AssertionError("the ledger reads no times")


def oss_book(store: ObjectStore, clock: Ticking, seconds: float = 60.0, prefix: str = "dwtrigger/") -> Adapter:
    """The OSS adapter over `store`, as `ledger: oss://etl-ledger/<prefix>` opens it."""
    return Adapter(Ledger("etl-ledger", prefix), clock.deadline(seconds), clock.now, lambda: store)


class MemoryBook(Book):
    """The port kept in dicts (one per kind of record); `shelves` is shared by the books of one ledger."""

    def __init__(self, shelves: dict, clock: Ticking, seconds: float = 60.0):
        super().__init__(clock.deadline(seconds), clock.now)
        self.shelves = shelves
        for shelf in ("claims", "done", "seen", "asked", "notices", "requests"):
            shelves.setdefault(shelf, {})

    def create_claim(self, slot, n, entry):
        return self.shelves["claims"].setdefault((slot, n), entry) is entry

    def write_claim(self, slot, n, entry):
        self.shelves["claims"][slot, n] = entry

    def read(self, slot, n):
        return self.shelves["claims"].get((slot, n))

    def latest(self, slot):
        n = max((k for s, k in self.shelves["claims"] if s == slot), default=0)
        return n, self.read(slot, n)

    def sends(self, api, workspace, node, since_ms, until_ms):
        return sorted(((s, n, e) for (s, n), e in self.shelves["claims"].items()
                       if (s.api, s.workspace, s.node) == (api, workspace, node) and since_ms <= s.cycle_ms < until_ms),
                      key=lambda sent: (sent[0].cycle_ms, sent[1]))

    def where(self, slot, n):
        return f"memory:{slot}#{n}"

    def mark_done(self, api, workspace, node, biz_date, cycle_ms):
        self.shelves["done"][api, workspace, node, biz_date, cycle_ms] = True

    def is_done(self, api, workspace, node, biz_date, cycle_ms):
        return (api, workspace, node, biz_date, cycle_ms) in self.shelves["done"]

    def note_seen(self, api, workspace, node, biz_date, cycle_ms, sighting):
        self.shelves["seen"][api, workspace, node, biz_date, cycle_ms] = sighting

    def seen(self, api, workspace, node, biz_date, cycle_ms):
        return self.shelves["seen"].get((api, workspace, node, biz_date, cycle_ms))

    def note_asked(self, rule, node, biz_date, event_id):
        self.shelves["asked"][rule, node, biz_date] = event_id

    def was_asked(self, rule, node, biz_date):
        return (rule, node, biz_date) in self.shelves["asked"]

    def where_asked(self, rule, node, biz_date):
        return f"memory:asked/{rule}/{node}/{biz_date}"

    def notices(self, rule, node, biz_date):
        return {kind: notice for (r, n, d, kind), notice in self.shelves["notices"].items()
                if (r, n, d) == (rule, node, biz_date) and kind in NOTICES}

    def notice(self, rule, node, biz_date, kind):
        return self.shelves["notices"].get((rule, node, biz_date, kind))

    def noticed(self, rule):
        return {(n, f"{d:%Y-%m-%d}", kind) for r, n, d, kind in self.shelves["notices"] if r == rule}

    def note(self, rule, node, biz_date, notice):
        self.shelves["notices"][rule, node, biz_date, notice.kind] = notice

    def note_first(self, rule, node, biz_date, notice):
        return self.shelves["notices"].setdefault((rule, node, biz_date, notice.kind), notice) is notice

    def create_request(self, rule, request_id, request):
        return self.shelves["requests"].setdefault((rule, request_id), request) is request

    def read_request(self, rule, request_id):
        return self.shelves["requests"].get((rule, request_id))

    def write_request(self, rule, request_id, request):
        self.shelves["requests"][rule, request_id] = request
