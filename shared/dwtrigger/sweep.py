"""The sweep: the level-triggered safety net under the edge-triggered relay.

Events get lost, arrive before DataWorks generated the instance, or are held by DataWorks and dropped after 24
hours. On a timer, for every rule with `expect:` and each of its last `days` business dates and nodes, the sweep
looks at the evidence — an OSS rule's files for that date exist (its key and `require` entries, filled with the
date as the files name it, i.e. less the rule's `bizdate_offset`; a `{name}` the date cannot fill read as any one
segment); an MNS or timer rule's ledger says an event asked for the release — and at the instance's state,
through the relay's own send step (look-up, ledger claim, trigger):
- evidence and the instance waiting: released (`triggered`, the reason says the sweep found it);
- evidence and no instance yet: nothing now, the next run tries again;
- no evidence once `expect.by` has passed (local time on the day after the date): one `overdue` line;
- the instance ran: done, and with a ledger never looked up again.
It is frugal with DataWorks' quota: no look-up without evidence, none for what the ledger knows is done, calls
paced, and it stops at the deadline. One summary line per run says what it spent and found.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable, Iterator, Optional

from .dataworks import describe
from .events import Event
from .oss import Wanted
from .outcomes import DRY_RUN, FAILED, IGNORED, OVERDUE, TRIGGERED, Decision
from .relay import Invocation, Relay, Release
from .retry import MIN_CALL_S, GaveUp, RemoteError, with_retries
from .rules import OssRule, Required, Rule, RuleSet, Target
from .schedule import ONE_DAY, Schedule, written


@dataclass
class Tally:
    """What one run spent and found (its summary line)."""
    candidates: int = 0           # (rule, node, date) pairs looked at
    done: int = 0                 # the ledger knows they ran: nothing asked of DataWorks
    with_evidence: int = 0
    oss_checks: int = 0
    lookups: int = 0              # DataWorks look-ups (and triggers) made
    released: int = 0
    not_generated: int = 0        # evidence, but no instance yet
    overdue: int = 0
    failed: int = 0
    stopped_at_deadline: bool = False


class Sweep:
    def __init__(self, relay: Relay, rules: RuleSet, pace_s: float = 0.2,
                 clock: Callable[[], float] = time.monotonic):
        self.relay, self.rules, self.pace_s, self.clock = relay, rules, pace_s, clock
        self._last_call = float("-inf")

    def run(self, call: Invocation, now: datetime, tally: Tally) -> Iterator[Decision]:
        """The decisions worth a line (triggered, overdue, failed), as they are made."""
        for rule in self.rules.rules:
            if rule.expect is None:
                continue
            today = now.astimezone(rule.timezone).date()
            for back in range(1, rule.expect.days + 1):
                for target in rule.trigger:
                    if call.deadline.left() < MIN_CALL_S:
                        tally.stopped_at_deadline = True
                        return
                    tally.candidates += 1
                    decision = self._one(rule, target, today - back * ONE_DAY, call, now, tally)
                    if decision is not None:
                        yield decision

    def _one(self, rule: Rule, target: Target, biz_date: date, call: Invocation, now: datetime,
             tally: Tally) -> Optional[Decision]:
        zone = rule.timezone
        cycle = datetime.combine(biz_date + ONE_DAY, target.at, tzinfo=zone) if target.at else None
        schedule = Schedule(biz_date, cycle, zone)
        base = self._base(rule, target, schedule, now)
        try:
            (done, evidence, missing), _ = with_retries(
                lambda attempt: self._look(rule, target, schedule, call, tally), call.deadline, self.relay.backoff,
                self.relay.sleep)
        except GaveUp as e:
            tally.failed += 1
            error = e.error or RemoteError("DeadlineExceeded", "no time was left", retryable=True)
            return base.but(outcome=FAILED, error_code=error.code, retryable=error.retryable,
                            reason=f"the sweep could not look for evidence: {error.message}")
        if done:
            tally.done += 1
            return None
        if evidence is None:
            due = datetime.combine(biz_date + ONE_DAY, rule.expect.by, tzinfo=zone)
            if now < due:
                return None
            tally.overdue += 1
            return base.but(outcome=OVERDUE, reason=f"no evidence by {due.isoformat()}: {missing}")
        tally.with_evidence += 1
        if self.relay.dry_run:
            calls = describe(rule.api, target.workspace, rule.env, target.node, biz_date, schedule.biz_date_ms,
                             schedule.cycle_ms, target.lookup)
            return base.but(outcome=DRY_RUN, reason=f"dry run, nothing sent; the sweep found {evidence}; would call "
                            + " then ".join(map(str, calls)))
        self._pace()
        tally.lookups += 1
        event = Event("sweep", "sweep", base.event_id, now, bucket=base.bucket, key=base.key)
        decision = self.relay.send(Release(rule, target, event, {}, base), schedule, base, call)
        if decision.outcome == TRIGGERED:
            tally.released += 1
            return decision.but(reason=f"the sweep found {evidence}; {decision.reason}")
        if decision.outcome == FAILED and decision.error_code == "InstanceNotFound":
            tally.not_generated += 1
            return None
        if decision.outcome == FAILED:
            tally.failed += 1
            return decision
        return None

    def _look(self, rule: Rule, target: Target, schedule: Schedule, call: Invocation, tally: Tally):
        """(the ledger knows it ran, evidence or None, what is missing) — OSS and ledger reads only."""
        book = call.book_for(rule)
        if book is not None and book.is_done(rule.api, target.workspace, target.node, schedule.biz_date,
                                             schedule.cycle_ms):
            return True, None, None
        return (False,) + self._evidence(rule, target, schedule, call, tally)

    def _evidence(self, rule: Rule, target: Target, schedule: Schedule, call: Invocation,
                  tally: Tally):
        """(what shows an event asked for this release, None) or (None, what is missing)."""
        if not isinstance(rule, OssRule):
            tally.oss_checks += 1
            asked = call.book_for(rule).was_asked(rule.name, target.node, schedule.biz_date)
            return (f"{rule.ledger}asked/{rule.name}/{target.node}/{schedule.biz_date:%Y-%m-%d}.json", None) \
                if asked else (None, "no event asked for this release (the ledger has no record of one)")
        values = written(rule, schedule)              # the date as the files name it (bizdate_offset)
        gaps = []
        for bucket in rule.buckets:
            files = (Required(None, rule.key),) + rule.require
            wanted = [Wanted(f.bucket or bucket, f.key.partial(values, loose=True)) for f in files]
            tally.oss_checks += len(wanted)
            missing = call.store_for(rule).missing(wanted, call.deadline)
            if not missing:
                return ", ".join(map(str, wanted)), None
            gaps.append("missing " + ", ".join(map(str, missing)))
        return None, "; ".join(gaps)

    def _base(self, rule: Rule, target: Target, schedule: Schedule, now: datetime) -> Decision:
        key = rule.key.partial(written(rule, schedule), loose=True).source if isinstance(rule, OssRule) else None
        base = Decision(IGNORED, "sweep", f"sweep:{now.astimezone(rule.timezone):%Y-%m-%dT%H:%M}", rule=rule.name,
                        workspace=target.workspace, node=target.node, dry_run=self.relay.dry_run,
                        bucket=rule.buckets[0] if isinstance(rule, OssRule) else getattr(rule, "bucket", None),
                        key=key, topic=getattr(rule, "topic", None), queue=getattr(rule, "queue", None),
                        timer=getattr(rule, "timer", None))
        return base.but(biz_date=f"{schedule.biz_date:%Y-%m-%d}", biz_date_ms=schedule.biz_date_ms,
                        cycle_time=schedule.cycle.isoformat() if schedule.cycle else None,
                        cycle_time_ms=schedule.cycle_ms)

    def _pace(self) -> None:
        """DataWorks counts every call against the edition's quota: at most one candidate per `pace_s`."""
        wait = self._last_call + self.pace_s - self.clock()
        if wait > 0:
            self.relay.sleep(wait)
        self._last_call = self.clock()
