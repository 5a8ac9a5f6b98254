"""The claim protocol, over any ledger (Book): claim the instance's next send (or learn what stands in the way),
let the caller send, record how it ended — in one place, as Powertools' IdempotencyHandler saves a record in
progress, calls, then saves the result or lets the record go.

    with Claims(book, rule, event_id, sleep, record) as claims:
        verdict = claims.take(slot, looked_ms, ready)     # Claimed: send; Stands / LookAgain / Busy: see ledger
        ... the trigger ...                               # claims.unanswered(at) when it got no answer
        claims.sent(now, status, held, request_id)        # DataWorks accepted it
    # leaving the block (returned, raised, or out of time) records what is left open: failed, or unknown

A crash between two steps leaves a claim "sending" until its claimer's deadline: the next delivery then looks the
instance up again (ledger.judge), so whatever a process leaves behind, the instance is released exactly once.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Callable, Optional, Tuple, TypeVar

import msgspec

from . import GRACE, HOLD, LIVE, Book, Busy, Claimed, Entry, Slot, Verdict, _ms, judge, ms
from ..retry import MIN_CALL_S

T = TypeVar("T")
POLL_S = (0.1, 1.0)                   # waiting on another delivery's claim: the first and the longest pause
WAIT_S = 10.0                         # the longest a decision waits for another's send to settle: the event's others wait too
_RACES = 4                            # claims lost to senders that then failed, before giving way


def claim(book: Book, slot: Slot, rule: str, event_id: str, token: str, looked_ms: int, ready: Optional[bool],
          sleep: Callable[[float], None]) -> Verdict:
    """Claim the instance's next send, or say what stands in the way (see `judge`). A claim another delivery
    holds is waited for (re-read, with pauses) while it is live and our deadline leaves time; a claim made
    with our `token` (an earlier attempt of this decision whose answer was lost) is ours. Raises as the book does."""
    n, latest = 0, None            # a first send has no claim before it: try claim 1 before listing any
    for _ in range(_RACES):
        at = book.now()
        until = ms(at) + int(book.deadline.left() * 1000) + _ms(GRACE)
        entry = Entry(state="sending", rule=rule, event_id=event_id, claimed_at=ms(at), until=until, token=token)
        if book.create_claim(slot, n + 1, entry):
            return Claimed(n + 1, entry)
        n, latest = book.latest(slot)   # sends before ours, or one claimed this very moment
        if latest is not None and token and latest.token == token:
            return Claimed(n, latest)
        verdict = _settled(book, slot, n, latest, looked_ms, ready, sleep)
        if verdict is not None:
            return verdict
    return Busy(latest)


def _settled(book: Book, slot: Slot, n: int, latest: Optional[Entry], looked_ms: int, ready: Optional[bool],
             sleep: Callable[[float], None]):
    """The verdict on claim n once it settled; Busy when it does not within WAIT_S (or our deadline)."""
    pause, waited = POLL_S[0], 0.0
    while True:
        verdict = judge(latest, ms(book.now()), looked_ms, ready)
        if verdict is not LIVE:
            return verdict
        if waited + pause > WAIT_S or book.deadline.left() - pause < 2 * MIN_CALL_S:   # room left to send
            return Busy(latest)
        waited += pause
        sleep(pause)
        pause = min(POLL_S[1], pause * 2)
        latest = book.read(slot, n)


class Claims:
    """One decision's claim on an instance, kept across its attempts (a context manager) — the ledger's half of a
    release: `take` before the trigger, `sent` once DataWorks accepted it; leaving the block records whatever else
    happened (`failed`, or `unknown` after a trigger that got no answer), on a return, an exception or the deadline
    alike. A retry after a trigger that got no answer sends again under the same claim. The writes after the claim
    go through `record` (retried within the deadline) and are then left behind: a ledger that cannot record a send
    never undoes it, and its claim reads as a send of unknown fate once its deadline passed. `book` None (a rule
    without a ledger): nothing is claimed or recorded."""

    def __init__(self, book: Optional[Book], rule: str, event_id: str, sleep: Callable[[float], None],
                 record: Callable[[Callable[[], T]], Optional[T]]):
        self.book, self.rule, self.event_id, self.sleep, self.record = book, rule, event_id, sleep, record
        self.token = uuid.uuid4().hex[:16]
        self._open: Optional[Tuple[Slot, int, Entry]] = None
        self._unanswered: Optional[datetime] = None      # when a trigger of this claim went out and got no answer

    def __enter__(self) -> "Claims":
        return self

    def __exit__(self, *raised) -> None:
        self.end()

    def take(self, slot: Slot, looked_ms: int, ready: Optional[bool]) -> Verdict:
        """`claim`'s verdict; the claim this decision already holds for `slot` without asking the ledger; without a
        ledger Claimed(0, None). Raises as the book does."""
        if self.book is None:
            return Claimed(0, None)
        if self._open is not None and self._open[0] == slot:
            return Claimed(self._open[1], self._open[2])
        verdict = claim(self.book, slot, self.rule, self.event_id, self.token, looked_ms, ready, self.sleep)
        if isinstance(verdict, Claimed):
            self._open = (slot, verdict.n, verdict.entry)
        return verdict

    def unanswered(self, at: datetime) -> None:
        """A trigger of this claim went out at `at` and got no answer: it may have landed."""
        self._unanswered = at

    def sent(self, now: datetime, status: Optional[str], held: bool, request_id: Optional[str]) -> bool:
        """DataWorks accepted this claim's trigger (or a look-up shows it ran after one got no answer), `held`: it
        holds it until the instance's parents and time allow. False only when the ledger could not record it."""
        if self._open is None:
            return self.book is None
        slot, n, entry = self._open
        self._open = None
        done = msgspec.structs.replace(entry, state="sent", sent_at=ms(now), status=status, request_id=request_id,
                                       held_until=ms(now + HOLD) if held else None)
        return self._recorded(slot, n, done)

    def end(self) -> None:
        """No accepted send is on record: the claim is `failed` (nothing went out), or `unknown` after a trigger that
        got no answer. Either way the next delivery may claim at once (after a look-up for `unknown`)."""
        if self._open is not None:
            slot, n, entry = self._open
            self._open = None
            at = self._unanswered
            self._recorded(slot, n, msgspec.structs.replace(entry, state="unknown" if at else "failed",
                                                            sent_at=ms(at) if at else None))

    def _recorded(self, slot: Slot, n: int, entry: Entry) -> bool:
        """Claim n overwritten with `entry` through `record`: False when the ledger could not take it."""
        def write() -> Entry:
            self.book.write_claim(slot, n, entry)
            return entry

        return self.record(write) is not None
