"""The ledger: what the relay sent, kept as small JSON objects under a rule's `ledger: oss://bucket/prefix/`.

With it, concurrent deliveries send once (a trigger is sent only by whoever created its claim, an object created
only if absent), a redelivery while DataWorks holds a trigger sends nothing (DataWorks holds a trigger sent before
the instance's parents or time allow for 24 hours, and no look-up shows it), and the sweep knows which instances
are done and which releases events asked for. Without one everything works statelessly, with more look-ups.

  claims/<api>/<workspace>/<node>/<cycle ms>/<n>.json   the n-th send of an instance: created only if absent
                                                        ("sending", until the claimer's deadline), then
                                                        overwritten with what happened: sent (DataWorks said
                                                        Success: true), failed (nothing left), unknown (a trigger
                                                        got no answer: it may have landed)
  done/<api>/<workspace>/<node>/<business date>/<cycle ms|day>.json   the instance ran: never looked up again
  asked/<rule>/<node>/<business date>.json              an event asked for this release (MNS and timer evidence)
  noticed/<rule>/<node>/<business date>/<kind>.json     a notice the sweep owes or sent about the release
                                                        (overdue, released_late, stuck): said once, retried
                                                        until every channel took it

Only DataWorks' word makes a release done. A claim is a promise to ask, never an answer: a claim still "sending"
after its claimer's deadline, a send that got no answer, or an object this module cannot read as one of its own
(a field missing, a time from a clock far ahead, an almost-number name) stands between the instance and nobody —
the next delivery looks the instance up again and sends if it still waits. What a look-up shows beats what the
ledger remembers: an instance waiting for its trigger alone holds no trigger, whatever a claim says.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Dict, List, Literal, Optional, Set, Tuple, TypeVar, Union

import msgspec

from .dataworks import Deadline
from .oss import ObjectStore
from .retry import MIN_CALL_S
from .rule import Ledger

T = TypeVar("T")
HOLD = timedelta(hours=24)            # DataWorks keeps a trigger sent too early this long, then drops it
# Clock skew between FC instances, and the time FC takes to stop an invocation past its deadline: a claim is
# waited for this long after its claimer's deadline, and a send this close before a look-up may not show in it.
GRACE = timedelta(seconds=10)
LONGEST = timedelta(hours=24)         # no invocation outlives FC's longest timeout: a claim reaching further is not ours
AHEAD = timedelta(minutes=5)          # a time further ahead of our clock than this was not written by a sender we know
LEGACY_TTL = timedelta(minutes=15)    # how long a claim written without `until` (an older dwtrigger) may be live
POLL_S = (0.1, 1.0)                   # waiting on another delivery's claim: the first and the longest pause
WAIT_S = 10.0                         # the longest a decision waits for another's send to settle: the event's others wait too
_RACES = 4                            # claims lost to senders that then failed, before giving way
_NUMBER = re.compile(r"[0-9]+\.json\Z")     # a claim's name: ASCII digits only (int() takes '١٢' and '①' too)


class Entry(msgspec.Struct, omit_defaults=True):
    """One send of an instance, as its claim object holds it (epoch ms throughout)."""
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


NOTICES = ("overdue", "released_late", "stuck")


class Notice(msgspec.Struct, omit_defaults=True):
    """A notice about one release (rule, node, business date), as its `noticed/` object holds it (epoch ms). It is
    owed from `noted_at` and done once every channel named took it (`sent_at`); until then each sweep run tries
    the channels not in `delivered` again."""
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


@dataclass(frozen=True)
class Slot:
    """An instance, as the ledger names it."""
    api: str
    workspace: int
    node: int
    cycle_ms: int

    def claim(self, n: int) -> str:
        return f"claims/{self.api}/{self.workspace}/{self.node}/{self.cycle_ms}/{n:04d}.json"

    @property
    def folder(self) -> str:
        return self.claim(0)[:-len("0000.json")]


# ---- what a claim attempt comes to (Book.claim) -------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    """Claim `n` is ours: send now."""
    n: int
    entry: Entry


@dataclass(frozen=True)
class Stands:
    """A trigger DataWorks accepted stands between the instance and ours (it holds it, or it came after our
    look-up, which therefore could not show it): nothing to send."""
    entry: Entry


@dataclass(frozen=True)
class LookAgain:
    """A send whose fate is unknown (its claimer died or ran out of time, or it got no answer) may have landed
    after our look-up: look the instance up again before sending."""
    entry: Entry


@dataclass(frozen=True)
class Busy:
    """Another delivery is sending and did not finish within our time (or claims kept being lost): nothing is
    known, nothing was sent; the decision fails, retryably."""
    entry: Optional[Entry]


Verdict = Union[Claimed, Stands, LookAgain, Busy]
_LIVE = "live"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


def understood(body: Optional[bytes], now_ms: int) -> Optional[Entry]:
    """A claim's content as one of ours, or None: unreadable, cut short, off the schema, or with times no sender of
    ours could have written (ahead of our clock, a claim longer than any invocation, a hold longer than 24 hours)."""
    try:
        entry = msgspec.json.decode(body or b"", type=Entry)
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
    look-up (`lookup: false`), so none is made again. A Stands or LookAgain verdict, _LIVE (it has not settled:
    its claimer may still be sending, or its unanswered trigger may still land), or None (nothing stands in the
    way: claim the next number)."""
    if entry is None or entry.state == "failed":
        return None
    if entry.state != "sent":                   # sending, or unknown: what DataWorks made of it is not known
        settles = entry.live_until if entry.state == "sending" else entry.sent_at + _ms(GRACE)
        if now_ms < settles:
            return _LIVE
        return LookAgain(entry) if ready is not None and looked_ms < settles else None
    if entry.sent_at >= looked_ms - _ms(GRACE):
        return Stands(entry)                    # accepted after (or just before) our look-up: it could not show it
    if entry.held_until is not None and now_ms < entry.held_until and ready is not True:
        return Stands(entry)                    # held by DataWorks; a look-up showing it ready says otherwise
    return None


class Book:
    """One rule's ledger through an object store, within one invocation's deadline. Every method raises
    RemoteError (OssError) when the store cannot be read or written."""

    def __init__(self, ledger: Ledger, store: ObjectStore, deadline: Deadline, now: Callable[[], datetime]):
        self.ledger, self.store, self.deadline, self.now = ledger, store, deadline, now

    def claim(self, slot: Slot, rule: str, event_id: str, token: str, looked_ms: int, ready: Optional[bool],
              sleep: Callable[[float], None]) -> Verdict:
        """Claim the instance's next send, or say what stands in the way (see `judge`). A claim another delivery
        holds is waited for (re-read, with pauses) while it is live and our deadline leaves time; a claim made
        with our `token` (an earlier attempt of this decision whose answer was lost) is ours."""
        n, latest = 0, None            # a first send has no claim before it: try claim 1 before listing any
        for _ in range(_RACES):
            at = self.now()
            until = ms(at) + int(self.deadline.left() * 1000) + _ms(GRACE)
            entry = Entry(state="sending", rule=rule, event_id=event_id, claimed_at=ms(at), until=until, token=token)
            if self.store.create(self.ledger.bucket, self._key(slot.claim(n + 1)), msgspec.json.encode(entry),
                                 self.deadline):
                return Claimed(n + 1, entry)
            n, latest = self.latest(slot)   # sends before ours, or one claimed this very moment
            if latest is not None and token and latest.token == token:
                return Claimed(n, latest)
            verdict = self._settled(slot, n, latest, looked_ms, ready, sleep)
            if verdict is not None:
                return verdict
        return Busy(latest)

    def _settled(self, slot: Slot, n: int, latest: Optional[Entry], looked_ms: int, ready: Optional[bool],
                 sleep: Callable[[float], None]):
        """The verdict on claim n once it settled; Busy when it does not within WAIT_S (or our deadline)."""
        pause, waited = POLL_S[0], 0.0
        while True:
            verdict = judge(latest, ms(self.now()), looked_ms, ready)
            if verdict is not _LIVE:
                return verdict
            if waited + pause > WAIT_S or self.deadline.left() - pause < 2 * MIN_CALL_S:   # room left to send
                return Busy(latest)
            waited += pause
            sleep(pause)
            pause = min(POLL_S[1], pause * 2)
            latest = self.read(slot, n)

    def sent(self, slot: Slot, n: int, entry: Entry, now: datetime, status: Optional[str], held: bool,
             request_id: Optional[str]) -> Entry:
        """Record that claim n was sent and accepted; `held`: DataWorks holds it until its parents and time allow."""
        done = msgspec.structs.replace(entry, state="sent", sent_at=ms(now), status=status, request_id=request_id,
                                       held_until=ms(now + HOLD) if held else None)
        self._write(slot.claim(n), done)
        return done

    def ended(self, slot: Slot, n: int, entry: Entry, sent_at: Optional[datetime]) -> None:
        """Claim n ended without an accepted send: `failed` (nothing went out), or `unknown` when a trigger sent at
        `sent_at` got no answer. Either way the next delivery may claim at once (after a look-up for `unknown`)."""
        self._write(slot.claim(n), msgspec.structs.replace(
            entry, state="unknown" if sent_at else "failed", sent_at=ms(sent_at) if sent_at else None))

    def mark_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> None:
        self.store.write(self.ledger.bucket, self._key(_done(api, workspace, node, biz_date, cycle_ms)), b"{}",
                         self.deadline)

    def is_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> bool:
        return self.store.read(self.ledger.bucket, self._key(_done(api, workspace, node, biz_date, cycle_ms)),
                               self.deadline) is not None

    def note_asked(self, rule: str, node: int, biz_date: date, event_id: str) -> None:
        self.store.write(self.ledger.bucket, self._key(asked(rule, node, biz_date)),
                         msgspec.json.encode({"event_id": event_id}), self.deadline)

    def was_asked(self, rule: str, node: int, biz_date: date) -> bool:
        return self.store.read(self.ledger.bucket, self._key(asked(rule, node, biz_date)), self.deadline) is not None

    def notices(self, rule: str, node: int, biz_date: date) -> Dict[str, Notice]:
        """The release's notices by kind; an object that is not one of ours (unreadable, off the schema, a kind
        under another name) is left out."""
        folder = self._key(noticed(rule, node, biz_date, ""))
        found: Dict[str, Notice] = {}
        for key in self.store.keys(self.ledger.bucket, folder, self.deadline):
            kind = key[len(folder):-len(".json")]
            if kind not in NOTICES or not key.endswith(".json"):
                continue
            notice = _notice(self.store.read(self.ledger.bucket, key, self.deadline), kind)
            if notice is not None:
                found[kind] = notice
        return found

    def notice(self, rule: str, node: int, biz_date: date, kind: str) -> Optional[Notice]:
        """The release's notice of `kind`, None when there is none (or it is not one of ours)."""
        return _notice(self.store.read(self.ledger.bucket, self._key(noticed(rule, node, biz_date, kind)),
                                       self.deadline), kind)

    def noticed(self, rule: str) -> Set[Tuple[int, str, str]]:
        """(node, business date as YYYY-MM-DD, kind) of every notice the rule has, from one listing: what the sweep
        reads before it reads any notice of the rule."""
        folder = self._key(f"noticed/{rule}/")
        found = set()
        for key in self.store.keys(self.ledger.bucket, folder, self.deadline):
            node, _, rest = key[len(folder):].partition("/")
            day, _, name = rest.partition("/")
            kind = name[:-len(".json")]
            if node.isascii() and node.isdigit() and name.endswith(".json") and kind in NOTICES:
                found.add((int(node), day, kind))
        return found

    def note(self, rule: str, node: int, biz_date: date, notice: Notice) -> None:
        """Create or overwrite the release's notice of `notice.kind`."""
        self.store.write(self.ledger.bucket, self._key(noticed(rule, node, biz_date, notice.kind)),
                         msgspec.json.encode(notice), self.deadline)

    def note_first(self, rule: str, node: int, biz_date: date, notice: Notice) -> bool:
        """Create the release's notice of `notice.kind` only if it has none: False when another run did first."""
        return self.store.create(self.ledger.bucket, self._key(noticed(rule, node, biz_date, notice.kind)),
                                 msgspec.json.encode(notice), self.deadline)

    def sends(self, api: str, workspace: int, node: int, since_ms: int,
              until_ms: int) -> List[Tuple[Slot, int, Optional[Entry]]]:
        """Every claim of the node's instances scheduled from `since_ms` until `until_ms` (the board's: a day's),
        as (slot, number, entry or None when it is not one of ours), oldest first."""
        folder = self._key(f"claims/{api}/{workspace}/{node}/")
        found = []
        for key in self.store.keys(self.ledger.bucket, folder, self.deadline):
            cycle, _, name = key[len(folder):].partition("/")
            if cycle.isascii() and cycle.isdigit() and since_ms <= int(cycle) < until_ms and _NUMBER.match(name):
                slot = Slot(api, workspace, node, int(cycle))
                found.append((slot, int(name[:-5]), self.read(slot, int(name[:-5]))))
        return sorted(found, key=lambda sent: (sent[0].cycle_ms, sent[1]))

    def latest(self, slot: Slot) -> Tuple[int, Optional[Entry]]:
        """The highest claim number and its entry, None when it is not one of ours (0, None without any claim)."""
        keys = self.store.keys(self.ledger.bucket, self._key(slot.folder), self.deadline)
        numbers = sorted(int(name[:-5]) for name in (k.rsplit("/", 1)[-1] for k in keys) if _NUMBER.match(name))
        if not numbers:
            return 0, None
        return numbers[-1], self.read(slot, numbers[-1])

    def read(self, slot: Slot, n: int) -> Optional[Entry]:
        """Claim n as one of ours, or None (absent, or not understood: see `understood`)."""
        return understood(self.store.read(self.ledger.bucket, self._key(slot.claim(n)), self.deadline),
                          ms(self.now()))

    def _write(self, name: str, entry: Entry) -> None:
        self.store.write(self.ledger.bucket, self._key(name), msgspec.json.encode(entry), self.deadline)

    def _key(self, name: str) -> str:
        return f"{self.ledger.prefix}{name}"


def _notice(body: Optional[bytes], kind: str) -> Optional[Notice]:
    """A notice object's content as one of ours of `kind`, or None."""
    try:
        notice = msgspec.json.decode(body or b"", type=Notice)
    except msgspec.DecodeError:
        return None
    return notice if notice.kind == kind else None


def asked(rule: str, node: int, biz_date: date) -> str:
    return f"asked/{rule}/{node}/{biz_date:%Y-%m-%d}.json"


def noticed(rule: str, node: int, biz_date: date, kind: str) -> str:
    """A notice's object name; `kind` "" names the release's folder of notices."""
    return f"noticed/{rule}/{node}/{biz_date:%Y-%m-%d}/" + (f"{kind}.json" if kind else "")


def _done(api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> str:
    return f"done/{api}/{workspace}/{node}/{biz_date:%Y-%m-%d}/{cycle_ms or 'day'}.json"


class Claims:
    """One decision's claim on an instance, kept across its attempts — the ledger's half of a release: `take`
    before the trigger, `sent` once DataWorks accepted it, `end` whatever else happened. A retry after a trigger
    that got no answer sends again under the same claim. The writes after the claim go through `record` (retried
    within the deadline) and are then left behind: a ledger that cannot record a send never undoes it, and its
    claim reads as a send of unknown fate once its deadline passed."""

    def __init__(self, book: Book, rule: str, event_id: str, sleep: Callable[[float], None],
                 record: Callable[[Callable[[], T]], Optional[T]]):
        self.book, self.rule, self.event_id, self.sleep, self.record = book, rule, event_id, sleep, record
        self.token = uuid.uuid4().hex[:16]
        self._open: Optional[Tuple[Slot, int, Entry]] = None
        self._unanswered: Optional[datetime] = None      # when a trigger of this claim went out and got no answer

    def take(self, slot: Slot, looked_ms: int, ready: Optional[bool]) -> Verdict:
        """Book.claim's verdict; the claim this decision already holds for `slot` without asking the ledger."""
        if self._open is not None and self._open[0] == slot:
            return Claimed(self._open[1], self._open[2])
        verdict = self.book.claim(slot, self.rule, self.event_id, self.token, looked_ms, ready, self.sleep)
        if isinstance(verdict, Claimed):
            self._open = (slot, verdict.n, verdict.entry)
        return verdict

    def unanswered(self, at: datetime) -> None:
        """A trigger of this claim went out at `at` and got no answer: it may have landed."""
        self._unanswered = at

    def sent(self, now: datetime, status: Optional[str], held: bool, request_id: Optional[str]) -> Optional[Entry]:
        """DataWorks accepted this claim's trigger (or a look-up shows it ran after one got no answer): on record,
        or None when the ledger could not record it."""
        if self._open is None:
            return None
        slot, n, entry = self._open
        self._open = None
        return self.record(lambda: self.book.sent(slot, n, entry, now, status, held, request_id))

    def end(self) -> None:
        """No accepted send is on record: the claim is `failed`, or `unknown` after a trigger that got no answer."""
        if self._open is not None:
            slot, n, entry = self._open
            self._open = None
            self.record(lambda: self.book.ended(slot, n, entry, self._unanswered))
