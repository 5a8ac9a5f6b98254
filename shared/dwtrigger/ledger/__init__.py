"""The ledger: what the relay sent, and what the sweep knows and owes — the port, and the judgement of what a claim
means, whatever keeps it.

With a ledger, concurrent deliveries send once (a trigger is sent only by whoever created its claim, a record created
only if absent), a redelivery while DataWorks holds a trigger sends nothing (DataWorks holds a trigger sent before
the instance's parents or time allow for 24 hours, and no look-up shows it), and the sweep knows which instances
are done and which releases events asked for. Without one everything works statelessly, with more look-ups.

It keeps, per rule's `ledger:`:
- claims: the n-th send of an instance (Slot), created only if absent ("sending", until the claimer's deadline), then
  overwritten with what happened: sent (DataWorks said Success: true), failed (nothing left), unknown (a trigger got
  no answer: it may have landed);
- done: the instance ran (per business date and cycle), never looked up again;
- seen: what a delivery last saw become of an instance (released by its trigger, or past waiting), so another FC
  instance's delivery answers from it for a while instead of looking the instance up;
- asked: an event asked for a release (MNS and timer evidence);
- notices: what the sweep owes or sent about a release (overdue, released_late, stuck): said once, retried until
  every channel took it.

Only DataWorks' word makes a release done. A claim is a promise to ask, never an answer: a claim still "sending"
after its claimer's deadline, a send that got no answer, or a record this module cannot read as one of its own (a
field missing, a time from a clock far ahead, an almost-number name) stands between the instance and nobody — the
next delivery looks the instance up again and sends if it still waits. What a look-up shows beats what the ledger
remembers: an instance waiting for its trigger alone holds no trigger, whatever a claim says.

`Book` is the port: what each call returns and raises, in these types; an adapter (`oss.py`: objects under
`oss://bucket/prefix/`) keeps them, and `open_book` picks it by the `ledger:` address's scheme. The claim protocol
(claim, send, record how it ended) is `claims.py`, over any adapter.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from datetime import date, datetime, timedelta
from typing import Callable, Dict, List, Literal, Optional, Set, Tuple, Union

import msgspec

from ..retry import Deadline

HOLD = timedelta(hours=24)            # DataWorks keeps a trigger sent too early this long, then drops it
# Clock skew between FC instances, and the time FC takes to stop an invocation past its deadline: a claim is
# waited for this long after its claimer's deadline, and a send this close before a look-up may not show in it.
GRACE = timedelta(seconds=10)
LONGEST = timedelta(hours=24)         # no invocation outlives FC's longest timeout: a claim reaching further is not ours
AHEAD = timedelta(minutes=5)          # a time further ahead of our clock than this was not written by a sender we know
LEGACY_TTL = timedelta(minutes=15)    # how long a claim written without `until` (an older dwtrigger) may be live


class Entry(msgspec.Struct, omit_defaults=True):
    """One send of an instance, as its claim holds it (epoch ms throughout)."""
    state: Literal["sending", "sent", "failed", "unknown"]
    rule: str
    event_id: str
    claimed_at: int
    until: Optional[int] = None        # the claimer's deadline plus GRACE: no send of this claim happens later
    token: str = ""                    # the claiming decision's own mark: its retries know their claim
    sent_at: Optional[int] = None      # sent / unknown: when the trigger went out
    held_until: Optional[int] = None   # DataWorks holds it (the instance waited on parents or time) until then
    status: Optional[str] = None       # the instance's status when sent
    request_id: Optional[str] = None

    @property
    def live_until(self) -> int:
        return self.until if self.until is not None else self.claimed_at + _ms(LEGACY_TTL)


class Sighting(msgspec.Struct):
    """What a delivery saw become of an instance, for the next delivery in any FC instance (epoch ms): its times,
    how it left its wait (the status a look-up listed, or "sent": a trigger DataWorks released it with) and when.
    Read as the FC instance's own memory is (recent.py): only while young, so a rerun by hand is not missed."""
    cycle_ms: int
    biz_date_ms: int
    what: str
    at_ms: int


NOTICES = ("overdue", "released_late", "stuck")


class Request(msgspec.Struct):
    """The body an `on: http` request_id names (its SHA-256, hex) since `at` (epoch ms): one record, written
    before the release, so a request id is never on record without its body (sources/http.py)."""
    digest: str
    at: int


class Notice(msgspec.Struct, omit_defaults=True):
    """A notice about one release (rule, node, business date), as the ledger holds it (epoch ms). It is owed from
    `noted_at` and done once every channel named took it (`sent_at`); until then each sweep run tries the channels
    not in `delivered` again."""
    kind: Literal["overdue", "released_late", "stuck"]
    noted_at: int
    reason: str = ""
    channels: List[str] = []           # the channels it is owed to (their names in the rules file)
    delivered: List[str] = []          # those that took it
    sent_at: Optional[int] = None      # when the last of them took it
    attempts: int = 0                  # delivery rounds so far
    last_error: str = ""               # why the last round left a channel out (scrubbed)
    failures: int = 0                  # stuck: the sweep runs in a row whose release with evidence failed

    @property
    def done(self) -> bool:
        return self.sent_at is not None

    @property
    def owed(self) -> bool:
        """Still to be delivered to a channel. A `stuck` notice counting failed runs (`failures`) names no channel
        until it is owed."""
        return bool(self.channels) and not self.done


# Built at import, as every decoder of an answer is (dataworks/openapi.py says why: threads, msgspec's first use).
ENTRY, SIGHTING, REQUEST, NOTICE = (msgspec.json.Decoder(t) for t in (Entry, Sighting, Request, Notice))


class Slot(msgspec.Struct, frozen=True):
    """An instance, as the ledger names it."""
    api: str
    workspace: int
    node: int
    cycle_ms: int


# ---- what a claim attempt comes to (claims.claim) ------------------------------------------------------------

class Claimed(msgspec.Struct, frozen=True):
    """Claim `n` is ours: send now. Without a ledger nothing is claimed: Claimed(0, None)."""
    n: int
    entry: Optional[Entry]


class Stands(msgspec.Struct, frozen=True):
    """A trigger DataWorks accepted stands between the instance and ours (it holds it, or it came after our
    look-up, which therefore could not show it): nothing to send."""
    entry: Entry


class LookAgain(msgspec.Struct, frozen=True):
    """A send whose fate is unknown (its claimer died or ran out of time, or it got no answer) may have landed
    after our look-up: look the instance up again before sending."""
    entry: Entry


class Busy(msgspec.Struct, frozen=True):
    """Another delivery is sending and did not finish within our time (or claims kept being lost): nothing is
    known, nothing was sent; the decision fails, retryably."""
    entry: Optional[Entry]


Verdict = Union[Claimed, Stands, LookAgain, Busy]
LIVE = "live"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


def understood(body: Optional[bytes], now_ms: int) -> Optional[Entry]:
    """A claim's content as one of ours, or None: unreadable, cut short, off the schema, or with times no sender of
    ours could have written (ahead of our clock, a claim longer than any invocation, a hold longer than 24 hours)."""
    try:
        entry = ENTRY.decode(body or b"")
    except msgspec.DecodeError:
        return None
    ahead = now_ms + _ms(AHEAD)
    if not 0 <= entry.claimed_at <= ahead:
        return None
    if not entry.claimed_at <= entry.live_until <= entry.claimed_at + _ms(LONGEST + GRACE):
        return None
    if entry.state in ("sent", "unknown") and not (entry.sent_at is not None
                                                   and entry.claimed_at <= entry.sent_at <= ahead):
        return None
    if entry.held_until is not None and not (entry.state == "sent"
                                             and entry.sent_at < entry.held_until <= entry.sent_at + _ms(HOLD + GRACE)):
        return None
    return entry


def judge(entry: Optional[Entry], now_ms: int, looked_ms: int, ready: Optional[bool]):
    """What an entry (the latest claim, understood, or None) means for a send decided at `looked_ms` — when its
    look-up started, which found the instance `ready` (waiting for its trigger alone) or not; `ready` None: no
    look-up (`lookup: false`), so none is made again. A Stands or LookAgain verdict, LIVE (it has not settled:
    its claimer may still be sending, or its unanswered trigger may still land), or None (nothing stands in the
    way: claim the next number)."""
    if entry is None or entry.state == "failed":
        return None
    if entry.state != "sent":                   # sending, or unknown: what DataWorks made of it is not known
        settles = entry.live_until if entry.state == "sending" else entry.sent_at + _ms(GRACE)
        if now_ms < settles:
            return LIVE
        return LookAgain(entry) if ready is not None and looked_ms < settles else None
    if entry.sent_at >= looked_ms - _ms(GRACE):
        return Stands(entry)                    # accepted after (or just before) our look-up: it could not show it
    if entry.held_until is not None and now_ms < entry.held_until and ready is not True:
        return Stands(entry)                    # held by DataWorks; a look-up showing it ready says otherwise
    return None


class Book(ABC):
    """The port: one rule's ledger within one invocation's `deadline` (every call runs within it), `now` its clock.

    Every call raises RemoteError (retryable or not, as the adapter's store says) when the ledger cannot be read or
    written, and never returns a shorter answer instead. A record the adapter cannot read as one of ours is left out
    (a claim reads None), never raised. Days are business dates; `cycle_ms` None names a day's only instance."""

    def __init__(self, deadline: Deadline, now: Callable[[], datetime]):
        self.deadline, self.now = deadline, now

    # ---- claims: one per send of an instance, numbered from 1 ----

    @abstractmethod
    def create_claim(self, slot: Slot, n: int, entry: Entry) -> bool:
        """Claim n of the instance, created only if absent (atomic: of two creators exactly one wins): True when
        this call created it, False when it was there already (left as it was)."""

    @abstractmethod
    def write_claim(self, slot: Slot, n: int, entry: Entry) -> None:
        """Overwrite claim n with what became of its send (sent, failed, unknown)."""

    @abstractmethod
    def read(self, slot: Slot, n: int) -> Optional[Entry]:
        """Claim n, or None when there is none or it is not one of ours (see `understood`)."""

    @abstractmethod
    def latest(self, slot: Slot) -> Tuple[int, Optional[Entry]]:
        """The highest claim number of the instance and its entry (None when it is not one of ours); (0, None)
        when it has no claim."""

    @abstractmethod
    def sends(self, api: str, workspace: int, node: int, since_ms: int,
              until_ms: int) -> List[Tuple[Slot, int, Optional[Entry]]]:
        """Every claim of the node's instances scheduled from `since_ms` until `until_ms` (the board's: a day's),
        as (slot, number, entry or None when it is not one of ours), oldest first (by cycle, then number)."""

    @abstractmethod
    def where(self, slot: Slot, n: int) -> str:
        """Where claim n is kept (n 0: the instance's claims), as a person would look it up (doctor's report)."""

    # ---- done: the instance ran ----

    @abstractmethod
    def mark_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> None:
        """Record that the instance ran (idempotent)."""

    @abstractmethod
    def is_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> bool:
        """Whether `mark_done` recorded the instance."""

    # ---- seen: what a delivery last saw become of the instance ----

    @abstractmethod
    def note_seen(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int],
                  sighting: Sighting) -> None:
        """Record what became of the instance (overwrites)."""

    @abstractmethod
    def seen(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> Optional[Sighting]:
        """What `note_seen` recorded, or None (none, or not one of ours)."""

    # ---- asked: an event asked for a release (the sweep's evidence for MNS and timer rules) ----

    @abstractmethod
    def note_asked(self, rule: str, node: int, biz_date: date, event_id: str) -> None:
        """Record that event `event_id` asked for the release (the last one asking is kept)."""

    @abstractmethod
    def was_asked(self, rule: str, node: int, biz_date: date) -> bool:
        """Whether `note_asked` recorded the release."""

    @abstractmethod
    def where_asked(self, rule: str, node: int, biz_date: date) -> str:
        """Where the release's `asked` record is kept, as a person would look it up (the sweep's reasons)."""

    # ---- requests: the body each `on: http` request_id names ----

    @abstractmethod
    def create_request(self, rule: str, request_id: str, request: Request) -> bool:
        """Record the request only if it has no record (atomic): False when it has one (left as it was)."""

    @abstractmethod
    def read_request(self, rule: str, request_id: str) -> Optional[Request]:
        """The request's record, or None when there is none (or it is not one of ours)."""

    @abstractmethod
    def write_request(self, rule: str, request_id: str, request: Request) -> None:
        """Create or overwrite the request's record (one past its time)."""

    # ---- notices: what the sweep owes or said about a release, one per kind ----

    @abstractmethod
    def notices(self, rule: str, node: int, biz_date: date) -> Dict[str, Notice]:
        """The release's notices by kind ({} when none); one that is not ours (unreadable, off the schema, kept
        under another kind's name, a kind not in NOTICES) is left out."""

    @abstractmethod
    def notice(self, rule: str, node: int, biz_date: date, kind: str) -> Optional[Notice]:
        """The release's notice of `kind`, None when there is none (or it is not one of ours)."""

    @abstractmethod
    def noticed(self, rule: str) -> Set[Tuple[int, str, str]]:
        """(node, business date as YYYY-MM-DD, kind) of every notice the rule has, in one read: what the sweep
        reads before it reads any notice of the rule. Another rule's, and names not ours, are left out."""

    @abstractmethod
    def note(self, rule: str, node: int, biz_date: date, notice: Notice) -> None:
        """Create or overwrite the release's notice of `notice.kind`."""

    @abstractmethod
    def note_first(self, rule: str, node: int, biz_date: date, notice: Notice) -> bool:
        """Create the release's notice of `notice.kind` only if it has none (atomic): False when another run did
        first (the notice there is left as it was)."""


# The adapters, by the scheme of a rule's `ledger:` address: a module of this package whose `Adapter(where,
# deadline, now, store)` is a Book (`store`: the rule's ObjectStore on demand, for an adapter that keeps objects).
ADAPTERS = {"oss": "oss"}


def open_book(where, deadline: Deadline, now: Callable[[], datetime], store: Callable[[], object]) -> Book:
    """The Book for a rule's `ledger:` (rules.Ledger: its address as str) within this deadline."""
    scheme = str(where).partition("://")[0]
    return importlib.import_module(f".{ADAPTERS[scheme]}", __name__).Adapter(where, deadline, now, store)
