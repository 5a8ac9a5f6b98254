"""The sweep: the level-triggered safety net under the edge-triggered relay.

Events get lost, arrive before DataWorks generated the instance, or are held by DataWorks and dropped after 24
hours. On a timer, for every rule with `expect:`, each of its last `days` business dates and each node (a
candidate), the sweep works in two passes:

1. Evidence, from OSS and the ledger alone: the ledger knows the instance ran (done), or there is evidence — exactly
   what the relay's gate requires (evidence.py), with the ledger's `asked` record for MNS and timer rules — or
   there is none, which once `expect.by` has passed (local time on the day after the date) is overdue. Worked out
   for every candidate before any DataWorks call, so an outage of DataWorks never silences an overdue.
2. DataWorks: each overdue candidate is looked up and said `overdue` unless it ran (said without DataWorks' word
   when DataWorks cannot tell); each candidate with evidence goes through the relay's own send step (look-up,
   ledger claim, trigger), in an order that rotates from run to run.

Every candidate has its own budget inside the run's deadline, DataWorks calls are paced (DWTRIGGER_SWEEP_QPS) and
never past the deadline, and an endpoint that gave no answer twice in a row is not asked again in the run
(relay.Silence): a dead endpoint costs its own candidates, never the others'. Without a ledger a held trigger leaves no trace, so the sweep sends only to
an instance waiting for its trigger alone (one that holds none). It is frugal with DataWorks' quota: no look-up
for what the ledger knows is done, none for a date with no evidence before it is due. One summary line per run
says what it spent and found. With `notify`, what a run saw (overdue, released, failed) is then told to a person
(notices.py), in the time the decisions left: a channel that fails never fails the run.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator, List, Optional, Tuple

import msgspec

from . import evidence, sources
from .dataworks import describe
from .dataworks.choose import Unresolved
from .events import Event
from .outcomes import ALREADY, DRY_RUN, FAILED, IGNORED, OVERDUE, TRIGGERED, Decision
from .relay import SILENT, Invocation, Relay, Release
from .retry import MIN_CALL_S, GaveUp, RemoteError, with_retries
from .rule import Rule, Target
from .schedule import ONE_DAY, Schedule

# One candidate's budget: at most a quarter of the run's time left, at most these (and at least 2 s).
EVIDENCE_S = 10.0        # its OSS and ledger reads
RELEASE_S = 20.0         # its DataWorks calls (look-up, claim, trigger, record)


@dataclass
class Tally:
    """What one run spent and found (its summary line)."""
    candidates: int = 0           # (rule, node, date) triples of the rules with `expect`
    done: int = 0                 # the ledger knows they ran: nothing asked of DataWorks
    with_evidence: int = 0
    oss_checks: int = 0           # candidates whose evidence was read
    lookups: int = 0              # candidates that called DataWorks (a look-up, then perhaps a trigger)
    released: int = 0
    not_generated: int = 0        # evidence, but no instance yet
    not_ready: int = 0            # evidence, no ledger, and the instance still waits on its parents or time
    overdue: int = 0
    unconfirmed: int = 0          # of the overdue: said without DataWorks' word on the instance
    failed: int = 0
    endpoints_down: int = 0       # endpoints not asked again in this run
    notices_sent: int = 0         # deliveries of a notice a channel took (notices.py)
    notices_failed: int = 0       # deliveries that failed (each tried again on the next run)
    stopped_at_deadline: bool = False


class _Candidate(msgspec.Struct):
    rule: Rule
    target: Target
    schedule: Schedule
    base: Decision                # the decision so far: rule, node, object or channel, business date
    done: bool = False            # the ledger knows the instance ran
    evidence: Optional[str] = None
    missing: str = ""             # what is missing, when there is no evidence
    seen: Optional[str] = None    # for its notices: what this run saw (OVERDUE, RELEASED or FAILED), if any of these
    said: Optional[Decision] = None   # the decision that showed it (None: the ledger's done, a look-up that ran)

    @property
    def due(self) -> datetime:
        """From when no evidence is overdue: `expect.by`, local time, on the day after the business date."""
        return datetime.combine(self.schedule.biz_date + ONE_DAY, self.rule.expect.by, tzinfo=self.rule.timezone)


class Sweep:
    def __init__(self, relay: Relay, rules, pace_s: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self.relay, self.rules, self.pace_s, self.clock = relay, rules, pace_s, clock
        self._last_call = float("-inf")

    def run(self, call: Invocation, now: datetime, tally: Tally, notices=None) -> Iterator[Decision]:
        """The decisions worth a line (failed, overdue, triggered, dry_run), as they are made; then, with `notices`
        (notices.Notices, for rules with `notify`), what the run saw is told to a person, in the time left."""
        read: List[_Candidate] = []
        for candidate in self._candidates(now, tally):
            if call.deadline.left() < MIN_CALL_S:
                tally.stopped_at_deadline = True
                tally.failed += 1
                yield candidate.base.but(outcome=FAILED, error_code="DeadlineExceeded", retryable=True,
                                         reason="the run's deadline came before its evidence was read")
                continue
            failed = self._look(candidate, candidate_share(call, EVIDENCE_S), tally)
            if failed is not None:
                yield failed
            else:
                read.append(candidate)
        for candidate in read:
            if not candidate.done and candidate.evidence is None and now >= candidate.due:
                decision = self._overdue(candidate, call, tally)
                candidate.seen, candidate.said = (OVERDUE, decision) if decision is not None else (RELEASED, None)
                if decision is not None:
                    yield decision
        for candidate in _rotated([c for c in read if c.evidence is not None], now):
            decision = self._release(candidate, call, now, tally)
            if decision is not None:
                yield decision
        tally.endpoints_down = len(call.silence.downed())
        if notices is not None:
            notices.settle([c for c in read if c.seen is not None and c.rule.notify is not None], call, now, tally)

    # ---- pass 1: evidence ----

    def _candidates(self, now: datetime, tally: Tally) -> Iterator[_Candidate]:
        for rule in self.rules.rules:
            if rule.expect is None:
                continue
            today = now.astimezone(rule.timezone).date()
            for back in range(1, rule.expect.days + 1):
                for target in rule.trigger:
                    biz_date = today - back * ONE_DAY
                    cycle = datetime.combine(biz_date + ONE_DAY, target.at, tzinfo=rule.timezone) if target.at else None
                    schedule = Schedule(biz_date, cycle, rule.timezone)
                    tally.candidates += 1
                    yield _Candidate(rule, target, schedule, self._base(rule, target, schedule, now))

    def _look(self, c: _Candidate, call: Invocation, tally: Tally) -> Optional[Decision]:
        """Read the candidate's evidence into it (OSS and ledger reads only, within its own budget); a decision
        only when the reads failed. The ledger's `done` takes it out of the run."""
        tally.oss_checks += 1
        try:
            (c.evidence, c.missing), _ = with_retries(lambda attempt: self._evidence(c, call), call.deadline,
                                                      self.relay.backoff, self.relay.sleep)
        except GaveUp as e:
            tally.failed += 1
            error = e.error or RemoteError("DeadlineExceeded", "no time was left", retryable=True)
            return c.base.but(outcome=FAILED, error_code=error.code, retryable=error.retryable,
                              reason=f"the sweep could not look for evidence: {error.message}")
        except Exception as e:  # noqa: BLE001 - a bug costs this candidate its evidence, never the run
            tally.failed += 1
            return c.base.but(outcome=FAILED, error_code="InternalError", retryable=True,
                              reason=f"the sweep could not read the evidence ({type(e).__name__})")
        if c.evidence is _DONE:
            tally.done += 1
            c.done, c.evidence, c.seen = True, None, RELEASED
        elif c.evidence is not None:
            tally.with_evidence += 1
        return None

    def _evidence(self, c: _Candidate, call: Invocation):
        """(evidence, "") or (None, what is missing); (_DONE, "") when the ledger knows the instance ran."""
        seen = evidence.read(c.rule, c.target, c.schedule, call.book_for(c.rule), lambda: call.store_for(c.rule),
                             call.deadline)
        return (_DONE, "") if seen.done else (seen.text, seen.missing)

    # ---- pass 2: DataWorks ----

    def _overdue(self, c: _Candidate, call: Invocation, tally: Tally) -> Optional[Decision]:
        """`overdue`, unless a look-up shows the instance ran (then the ledger, if any, learns it is done)."""
        said = f"no evidence by {c.due.isoformat()}: {c.missing}"
        refused = ("DryRun", "a dry run asks DataWorks nothing") if self.relay.dry_run else self._ask(c, call, tally)
        unconfirmed = refused[1] if refused else None
        if refused is None:
            tally.lookups += 1
            endpoint = call.endpoint_for(c.rule)
            try:
                instance = self.relay.look(c.rule, c.target, c.schedule, candidate_share(call, RELEASE_S))
                call.silence.heard(endpoint)
                if not instance.waiting:
                    return None
            except Unresolved as e:
                call.silence.heard(endpoint)
                unconfirmed = e.reason
            except GaveUp as e:
                unconfirmed = e.error.message if e.error is not None else "no time was left"
                if e.error is not None and e.error.code in SILENT:
                    call.silence.unheard(endpoint, unconfirmed)
            except Exception as e:  # noqa: BLE001 - a bug must not silence the overdue
                unconfirmed = f"dwtrigger could not ask ({type(e).__name__})"
        tally.overdue += 1
        if unconfirmed is not None:
            tally.unconfirmed += 1
            said += f" (DataWorks could not tell whether it still waits: {unconfirmed})"
        return c.base.but(outcome=OVERDUE, reason=said)

    def _release(self, c: _Candidate, call: Invocation, now: datetime, tally: Tally) -> Optional[Decision]:
        rule, target, schedule = c.rule, c.target, c.schedule
        if self.relay.dry_run:
            calls = describe(rule.api, target.workspace, rule.env, target.node, schedule.biz_date,
                             schedule.biz_date_ms, schedule.cycle_ms, target.lookup)
            return c.base.but(outcome=DRY_RUN, reason=f"dry run, nothing sent; the sweep found {c.evidence}; would "
                              "call " + " then ".join(map(str, calls)))
        refused = self._ask(c, call, tally)
        if refused is not None:
            tally.failed += 1
            return c.base.but(outcome=FAILED, error_code=refused[0], retryable=True,
                              reason=f"the sweep found {c.evidence}, and did not send: {refused[1]}")
        tally.lookups += 1
        event = Event("sweep", "sweep", c.base.event_id, now, bucket=c.base.bucket, key=c.base.key)
        decision = self.relay.send(Release(rule, target, event, {}, c.base), schedule, c.base,
                                   candidate_share(call, RELEASE_S), early=rule.ledger is not None)
        if decision is None:
            tally.not_ready += 1
            return None
        if decision.outcome in (TRIGGERED, ALREADY):
            c.seen, c.said = RELEASED, decision
        if decision.outcome == TRIGGERED:
            tally.released += 1
            return decision.but(reason=f"the sweep found {c.evidence}; {decision.reason}")
        if decision.outcome == FAILED and decision.error_code == "InstanceNotFound":
            tally.not_generated += 1
            return None
        if decision.outcome == FAILED:
            tally.failed += 1
            c.seen, c.said = FAILED, decision
            return decision.but(reason=f"the sweep found {c.evidence}; {decision.reason}")
        return None

    def _ask(self, c: _Candidate, call: Invocation, tally: Tally) -> Optional[Tuple[str, str]]:
        """None: ask DataWorks about the candidate now (after pacing's pause). Else (error code, why not): its
        endpoint stopped answering earlier in the run (relay.Silence), or pacing's next turn comes after the
        deadline (which stops the run's calls: a pause never runs past the deadline)."""
        silent = call.silence.down(call.endpoint_for(c.rule))
        if silent is not None:
            return "EndpointDown", silent
        wait = self._last_call + self.pace_s - self.clock()
        if wait > call.deadline.left() - MIN_CALL_S:
            tally.stopped_at_deadline = True
            return "DeadlineExceeded", (f"the run's deadline comes before DataWorks may be asked again (paced at "
                                        f"{1 / self.pace_s:g} calls a second, DWTRIGGER_SWEEP_QPS)")
        if wait > 0:
            self.relay.sleep(wait)
        self._last_call = self.clock()
        return None

    def _base(self, rule: Rule, target: Target, schedule: Schedule, now: datetime) -> Decision:
        base = Decision(IGNORED, "sweep", f"sweep:{now.astimezone(rule.timezone):%Y-%m-%dT%H:%M}", rule=rule.name,
                        workspace=target.workspace, node=target.node, dry_run=self.relay.dry_run,
                        **sources.get(rule.on).decision_fields(rule, schedule))
        return base.but(biz_date=f"{schedule.biz_date:%Y-%m-%d}", biz_date_ms=schedule.biz_date_ms,
                        cycle_time=schedule.cycle.isoformat() if schedule.cycle else None,
                        cycle_time_ms=schedule.cycle_ms)


_DONE = "the ledger knows it ran"
RELEASED = "released"           # _Candidate.seen: the ledger's done, a look-up showing it ran, a trigger accepted
MIN_SHARE_S = 2.0


def candidate_share(call: Invocation, cap_s: float) -> Invocation:
    """One candidate's budget: a quarter of what the run has left, at most `cap_s`, at least MIN_SHARE_S (never
    past the run's deadline): a candidate whose calls hang cannot spend the others' time. The board's look-ups
    (board/) take theirs the same way."""
    return call.within(max(MIN_SHARE_S, min(cap_s, call.deadline.left() / 4)))


def _rotated(candidates: List[_Candidate], now: datetime) -> List[_Candidate]:
    """The releases from a start that moves with the run's minute, so a run the deadline stops early is not
    followed by one that stops at the same place."""
    if not candidates:
        return candidates
    start = zlib.crc32(f"{int(now.timestamp() // 60)}".encode()) % len(candidates)
    return candidates[start:] + candidates[:start]
