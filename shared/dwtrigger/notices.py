"""The sweep's notices: what a person is told about a release, remembered in the ledger, sent to the rule's channels.

After the sweep's two passes have made their decisions (notices never take the candidates' time), for each
release of a rule with `notify` that the run saw overdue, released or failed:

- `overdue`, once per rule, node and business date, when the sweep said `overdue`;
- `released_late`, once, when a release that has an overdue notice is seen released (by anyone: the ledger knows
  it ran, a look-up shows it ran, or the sweep's own trigger was accepted);
- `stuck`, when a release with evidence failed after its retries in STUCK_AFTER sweep runs in a row, counted in the
  notice's `failures` (a notice that names no channel until then); a release that succeeds resets the count.

Frugal with OSS: one listing of `noticed/<rule>/` per rule with something to say in the run, and a notice read only
for the release it is about (an overdue one, a released one that has notices, a failed one). Sending keeps the
ledger's order: a new notice is created only if absent (of two runs, one sends), then sent to each channel that
has not taken it, then recorded (`delivered`, `attempts`, `last_error`, and `sent_at` once every channel took it).
A notice the ledger could not record is not sent: it would be sent again on every run. One that a channel did not
take is tried again on the next run, on that channel only, while what it says still holds (an overdue release
still overdue, a stuck one still failing).

Each delivery has its own share of the time left (retried within it: notify.deliver) and is one log line: kind,
rule, node, business date, channel, delivered or the error, attempts. A failing channel never fails the sweep.
A dry run reads, sends nothing and writes nothing: its lines say what would be sent.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

import msgspec

from . import notify
from .dataworks import local
from .ledger import Book, Notice, ms
from .outcomes import FAILED, OVERDUE, TRIGGERED
from .relay import Invocation, Relay
from .retry import MIN_CALL_S, GaveUp, RemoteError, with_retries

STUCK_AFTER = 3        # sweep runs in a row whose release with evidence failed, before `stuck` is said
NOTICE_S = 20.0        # one release's notices (ledger and channels), or one rule's listing: at most a quarter of
                       # the run's time left, at most this


@dataclass
class Notices:
    """Settles one sweep run's notices."""
    relay: Relay
    environ: Mapping[str, str]
    note: Callable[[Dict[str, Any]], None]          # writes one log line
    scrub: Callable[[str], str]                     # every text it writes or sends goes through it
    epoch: Callable[[], float] = time.time          # the wall clock signatures are stamped with

    def settle(self, seen: List[Any], call: Invocation, now: datetime, tally) -> None:
        """The notices the candidates `seen` (sweep._Candidate: rule, target, schedule, base, seen, said) call for."""
        rules: Dict[str, List[Any]] = {}
        for c in seen:
            rules.setdefault(c.rule.name, []).append(c)
        for group in rules.values():
            if call.deadline.left() < MIN_CALL_S:
                self._line(group[0], whole_rule=True, error=_NO_TIME, code="DeadlineExceeded")
                continue
            try:
                book = call.book_for(group[0].rule)
                index: Dict[Tuple[int, str], Set[str]] = {}
                for node, day, kind in self._ledger(lambda: book.noticed(group[0].rule.name), _share(call)):
                    index.setdefault((node, day), set()).add(kind)
            except Exception as e:  # noqa: BLE001 - the rule's notices wait for the next run, never the sweep
                self._line(group[0], whole_rule=True, **_failure("the ledger's notices could not be listed", e))
                continue
            for c in group:
                try:
                    _Release(self, c, book, _share(call), now, tally, index).settle()
                except Exception as e:  # noqa: BLE001 - a bug costs this notice, never the sweep
                    self._line(c, **_failure("the ledger could not be read or written", e))

    def _ledger(self, step: Callable[[], Any], call: Invocation) -> Any:
        """A ledger call, retried within the deadline; raises the last RemoteError."""
        try:
            return with_retries(lambda attempt: step(), call.deadline, self.relay.backoff, self.relay.sleep)[0]
        except GaveUp as e:
            raise e.error or RemoteError("DeadlineExceeded", "no time was left", retryable=True) from None

    def _line(self, c, kind: Optional[str] = None, channel: Optional[str] = None, *, whole_rule: bool = False,
              delivered: bool = False, attempts: int = 0, error: Optional[str] = None, code: Optional[str] = None,
              would: bool = False) -> None:
        """One line: a delivery (or what a dry run would send), or why notices could not be settled (`whole_rule`:
        none of the rule's, in this run)."""
        base = c.base if not whole_rule else c.base.but(workspace=None, node=None, biz_date=None, cycle_time=None)
        self.note({"kind": kind, "rule": base.rule, "workspace": base.workspace, "node": base.node,
                   "biz_date": base.biz_date, "cycle_time": base.cycle_time, "channel": channel,
                   "delivered": delivered, "attempts": attempts, "error_code": code,
                   "error": self.scrub(error) if error else None, "dry_run": self.relay.dry_run, "would_send": would})


def _share(call: Invocation) -> Invocation:
    """One piece of notice work's budget: a quarter of the run's time left, at most NOTICE_S (never past the
    deadline): a ledger or channel that hangs costs its own notice, not the others'."""
    return call.within(max(MIN_CALL_S, min(NOTICE_S, call.deadline.left() / 4)))


def _failure(what: str, e: Exception) -> Dict[str, str]:
    if isinstance(e, RemoteError):
        return {"error": f"{what}: {e.message}", "code": e.code}
    return {"error": f"dwtrigger could not settle its notices ({type(e).__name__})", "code": "InternalError"}


def _how(said) -> str:
    """How a release came about, for its `released_late` notice (`said`: the decision that showed it, if any)."""
    if said is None:
        return "the ledger or a DataWorks look-up shows it ran"
    if said.outcome == TRIGGERED:
        return "the sweep's trigger was accepted" + (f" (DataWorks holds it until {said.held_until}: its parents or "
                                                     "time are not done yet)" if said.held_until else "")
    return said.reason or said.outcome


_NO_TIME = "the run's deadline came before its notices were settled; the next run settles them"


class _Release:
    """One release's notices in one run, within their own budget (`call`)."""

    def __init__(self, notices: Notices, c, book: Book, call: Invocation, now: datetime, tally,
                 index: Dict[Tuple[int, str], Set[str]]):
        self.n, self.c, self.book, self.call, self.now, self.tally = notices, c, book, call, now, tally
        self.rule, self.node, self.day = c.rule, c.target.node, c.schedule.biz_date
        self.kinds = index.get((self.node, c.base.biz_date), set())     # the notices it has (Book.noticed)

    def settle(self) -> None:
        c = self.c
        if c.seen == OVERDUE:
            self._owe("overdue", c.said.reason)
        elif c.seen == FAILED:
            self._failed()
        else:
            if "overdue" in self.kinds:
                self._owe("released_late", f"released after it was overdue: {_how(c.said)}")
            if "stuck" in self.kinds:
                self._recovered()

    def _owe(self, kind: str, reason: str) -> None:
        """Say `kind` once: create it when new, then send it where it was not taken yet."""
        notice = self._read(kind) if kind in self.kinds else None
        if notice is not None and not notice.owed:
            return
        if notice is None:
            notice = Notice(kind, ms(self.now), self.n.scrub(reason), channels=self._channels())
            if self.n.relay.dry_run:
                return self._would(notice)
            if not self.n._ledger(lambda: self.book.note_first(self.rule.name, self.node, self.day, notice),
                                  self.call):
                return                             # another run noted it first: that run sends it
        elif self.n.relay.dry_run:
            return self._would(notice)
        self._send(notice)

    def _failed(self) -> None:
        """A release with evidence failed again: count it; `stuck` is owed from STUCK_AFTER runs in a row on."""
        said = self.c.said
        stuck = self._read("stuck") if "stuck" in self.kinds else None
        if stuck is not None and stuck.done:
            return
        failures = (stuck.failures if stuck else 0) + 1
        why = self.n.scrub(f"its release with evidence failed in {failures} sweep runs in a row, the last: "
                           f"{said.error_code}: {said.reason}")
        if stuck is None:
            stuck = Notice("stuck", ms(self.now), why, failures=failures)
        stuck = msgspec.structs.replace(stuck, failures=failures, reason=stuck.reason if stuck.owed else why)
        if failures >= STUCK_AFTER and not stuck.channels:
            stuck = msgspec.structs.replace(stuck, noted_at=ms(self.now), channels=self._channels())
        if self.n.relay.dry_run:
            return self._would(stuck) if stuck.owed else None
        self._write(stuck)
        if stuck.owed:
            self._send(stuck)

    def _recovered(self) -> None:
        """The release succeeded: a `stuck` count not yet owed starts over."""
        stuck = self._read("stuck")
        if stuck is not None and not stuck.channels and stuck.failures and not self.n.relay.dry_run:
            self._write(msgspec.structs.replace(stuck, failures=0))

    def _send(self, notice: Notice) -> None:
        """Deliver to each channel that has not taken it, each in its own share of the time, then record."""
        message = notify.Message(notice.kind, self.rule.name, self.c.target.workspace, self.node,
                                 self.c.base.biz_date, self.c.base.cycle_time, notice.reason,
                                 local(ms(self.call.now()), self.rule.timezone).isoformat())
        delivered, errors = list(notice.delivered), []
        owed = [channel for channel in self.rule.notify.channels if channel.name in notice.channels]
        todo = [channel for channel in owed if channel.name not in delivered]
        for n, channel in enumerate(todo):
            left = self.call.deadline.left()          # an equal part for each channel to come, and one to record
            share = self.call.within(max(MIN_CALL_S, left / (len(todo) - n + 1)))
            error, attempts = notify.deliver(channel, message, self.n.environ, share.deadline, self.n.relay.backoff,
                                             self.n.relay.sleep, self.n.epoch)
            if error is None:
                delivered.append(channel.name)
                self.tally.notices_sent += 1
            else:
                errors.append(f"{channel.name}: {error.code}: {error.message}")
                self.tally.notices_failed += 1
            self.n._line(self.c, notice.kind, channel.name, delivered=error is None, attempts=attempts,
                         error=error.message if error else None, code=error.code if error else None)
        done = all(channel.name in delivered for channel in owed)      # a channel the rules dropped is owed nothing
        self._write(msgspec.structs.replace(notice, delivered=delivered, attempts=notice.attempts + 1,
                                            last_error=self.n.scrub("; ".join(errors))[:500],
                                            sent_at=ms(self.call.now()) if done else None))

    def _would(self, notice: Notice) -> None:
        for name in notice.channels:
            if name not in notice.delivered:
                self.n._line(self.c, notice.kind, name, would=True)

    def _channels(self) -> List[str]:
        return [channel.name for channel in self.rule.notify.channels]

    def _read(self, kind: str) -> Optional[Notice]:
        return self.n._ledger(lambda: self.book.notice(self.rule.name, self.node, self.day, kind), self.call)

    def _write(self, notice: Notice) -> None:
        self.n._ledger(lambda: self.book.note(self.rule.name, self.node, self.day, notice), self.call)
