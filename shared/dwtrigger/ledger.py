"""The ledger: what the relay sent, kept as small JSON objects under a rule's `ledger: oss://bucket/prefix/`.

With it, concurrent deliveries send once (a trigger is sent only by whoever created its claim, an object created
only if absent), a redelivery while DataWorks holds a trigger sends nothing (DataWorks holds a trigger sent before
the instance's parents or time allow for 24 hours, and no look-up shows it), and the sweep knows which instances
are done and which releases events asked for. Without one everything works statelessly, with more look-ups.

  claims/<api>/<workspace>/<node>/<cycle ms>/<n>.json   the n-th send of an instance: created only if absent, then
                                                        overwritten with what happened (sent, or failed)
  done/<api>/<workspace>/<node>/<business date>/<cycle ms|day>.json   the instance ran: never looked up again
  asked/<rule>/<node>/<business date>.json              an event asked for this release (MNS and timer evidence)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Optional, Tuple, TypeVar

import msgspec

from .dataworks import Deadline
from .oss import ObjectStore
from .retry import RemoteError
from .rules import Ledger

T = TypeVar("T")
HOLD = timedelta(hours=24)            # DataWorks keeps a trigger sent too early this long, then drops it
CLAIM_TTL = timedelta(minutes=15)     # a claim still "sending" after this outlived any invocation: its sender died
_RACES = 4                            # claims lost to senders that then failed, before giving way


class Entry(msgspec.Struct, omit_defaults=True):
    """One send of an instance, as its claim object holds it."""
    state: str                         # sending | sent | failed
    rule: str
    event_id: str
    claimed_at: int                    # epoch ms
    sent_at: Optional[int] = None
    held_until: Optional[int] = None   # DataWorks holds it (the instance waited on parents or time) until then
    status: Optional[str] = None       # the instance's status when sent
    request_id: Optional[str] = None


@dataclass(frozen=True)
class Slot:
    """An instance, as the ledger names it."""
    api: str
    workspace: int
    node: int
    cycle_ms: int

    def claim(self, n: int) -> str:
        return f"claims/{self.api}/{self.workspace}/{self.node}/{self.cycle_ms}/{n:04d}.json"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Book:
    """One rule's ledger through an object store, within one invocation's deadline."""

    def __init__(self, ledger: Ledger, store: ObjectStore, deadline: Deadline):
        self.ledger, self.store, self.deadline = ledger, store, deadline

    def claim(self, slot: Slot, rule: str, event_id: str, now: datetime,
              looked: datetime) -> Tuple[Optional[int], Optional[Entry]]:
        """(n, our entry): claim n is ours, send now. (None, entry): do not send — `entry` is the send that holds
        the instance (DataWorks holds it, another delivery is sending it, or sent it after our look-up at `looked`,
        which therefore could not show it)."""
        n, latest = 0, None            # a first send has no claim before it: try claim 1 before listing any
        for _ in range(_RACES):
            if latest is not None and _holds(latest, now, looked):
                return None, latest
            entry = Entry(state="sending", rule=rule, event_id=event_id, claimed_at=ms(now))
            if self.store.create(self.ledger.bucket, self._key(slot.claim(n + 1)), msgspec.json.encode(entry),
                                 self.deadline):
                return n + 1, entry
            n, latest = self._latest(slot)  # sends before ours, or one claimed this very moment
        return None, latest

    def sent(self, slot: Slot, n: int, entry: Entry, now: datetime, status: Optional[str], held: bool,
             request_id: Optional[str]) -> Entry:
        """Record that claim n was sent; `held`: DataWorks holds it until its parents and time allow (24 h)."""
        done = msgspec.structs.replace(entry, state="sent", sent_at=ms(now), status=status, request_id=request_id,
                                       held_until=ms(now + HOLD) if held else None)
        self.store.write(self.ledger.bucket, self._key(slot.claim(n)), msgspec.json.encode(done), self.deadline)
        return done

    def failed(self, slot: Slot, n: int, entry: Entry) -> None:
        """Claim n was not sent: the next delivery (or attempt) may claim n + 1 at once."""
        self.store.write(self.ledger.bucket, self._key(slot.claim(n)),
                         msgspec.json.encode(msgspec.structs.replace(entry, state="failed")), self.deadline)

    def mark_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> None:
        self.store.write(self.ledger.bucket, self._key(_done(api, workspace, node, biz_date, cycle_ms)), b"{}",
                         self.deadline)

    def is_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> bool:
        return self.store.read(self.ledger.bucket, self._key(_done(api, workspace, node, biz_date, cycle_ms)),
                               self.deadline) is not None

    def note_asked(self, rule: str, node: int, biz_date: date, event_id: str) -> None:
        self.store.write(self.ledger.bucket, self._key(f"asked/{rule}/{node}/{biz_date:%Y-%m-%d}.json"),
                         msgspec.json.encode({"event_id": event_id}), self.deadline)

    def was_asked(self, rule: str, node: int, biz_date: date) -> bool:
        return self.store.read(self.ledger.bucket, self._key(f"asked/{rule}/{node}/{biz_date:%Y-%m-%d}.json"),
                               self.deadline) is not None

    def latest(self, slot: Slot) -> Tuple[int, Optional[Entry]]:
        """The instance's last send on record, read only (for `dwtrigger doctor`): as `_latest`."""
        return self._latest(slot)

    def _latest(self, slot: Slot) -> Tuple[int, Optional[Entry]]:
        """The highest claim number and its entry (0, None without one)."""
        keys = self.store.keys(self.ledger.bucket, self._key(slot.claim(0)[:-len("0000.json")]), self.deadline)
        numbers = sorted(int(k.rsplit("/", 1)[-1][:-5]) for k in keys if k.endswith(".json")
                         and k.rsplit("/", 1)[-1][:-5].isdigit())
        if not numbers:
            return 0, None
        body = self.store.read(self.ledger.bucket, self._key(slot.claim(numbers[-1])), self.deadline)
        try:
            return numbers[-1], msgspec.json.decode(body or b"", type=Entry)
        except msgspec.DecodeError:           # not ours, or cut short: treat as a failed send
            return numbers[-1], None

    def _key(self, name: str) -> str:
        return f"{self.ledger.prefix}{name}"


class Claimant:
    """One decision's claim on an instance, kept across its attempts: a retry after a trigger that got no answer
    sends again under the same claim, and a decision that ends without a send on record gives its claim up, so
    FC's retry or the next delivery is never stopped by a send that did not happen. Writes after the claim are
    best effort: a ledger that cannot record a send leaves the ledger behind, never undoes the send."""

    def __init__(self, book: Book, rule: str, event_id: str):
        self.book, self.rule, self.event_id = book, rule, event_id
        self._open: Optional[Tuple[Slot, int, Entry]] = None

    def take(self, slot: Slot, now: datetime, looked: datetime) -> Tuple[bool, Optional[Entry]]:
        """(True, None): the instance is ours to send. (False, entry): another send holds it (see Book.claim).
        Raises RemoteError when the ledger cannot be read or written (nothing may be sent unclaimed)."""
        if self._open is not None and self._open[0] == slot:
            return True, None
        n, entry = self.book.claim(slot, self.rule, self.event_id, now, looked)
        if n is None:
            return False, entry
        self._open = (slot, n, entry)
        return True, None

    def sent(self, now: datetime, status: Optional[str], held: bool, request_id: Optional[str]) -> Optional[Entry]:
        """The send is on record (None when the ledger could not record it)."""
        if self._open is None:
            return None
        slot, n, entry = self._open
        self._open = None
        return quietly(self.book.sent, slot, n, entry, now, status, held, request_id)

    def give_up(self) -> None:
        """No send of ours is on record: the next attempt or delivery may claim at once."""
        if self._open is not None:
            slot, n, entry = self._open
            self._open = None
            quietly(self.book.failed, slot, n, entry)


def quietly(write: Callable[..., T], *args) -> Optional[T]:
    """A ledger write that must not undo what it records: its failure leaves the ledger behind, not the release."""
    try:
        return write(*args)
    except RemoteError:
        return None


def _holds(entry: Entry, now: datetime, looked: datetime) -> bool:
    """Whether this send still stands between the instance and a new one."""
    if entry.state == "sending":
        return ms(now) - entry.claimed_at < CLAIM_TTL.total_seconds() * 1000
    if entry.state != "sent":
        return False
    return (entry.held_until is not None and ms(now) < entry.held_until) or entry.sent_at >= ms(looked)


def _done(api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> str:
    return f"done/{api}/{workspace}/{node}/{biz_date:%Y-%m-%d}/{cycle_ms or 'day'}.json"
