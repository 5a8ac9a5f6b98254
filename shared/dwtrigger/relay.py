"""The pipeline: parsed events -> matching (rule, node) pairs -> instance -> trigger -> one decision each.

This is the only module that knows the order of the steps. The outside world (DataWorks, the clock, sleeping)
comes in through the constructor and the Invocation, so tests run it against the emulator without patching.
Decisions are yielded as they are made, so each is on record before the next call starts; nothing here raises
for an event: whatever goes wrong becomes that decision's `failed` (or `rejected`) outcome.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

from .dataworks import DataWorks, DataWorksError, Instance, describe
from .dataworks.choose import Unresolved, choose
from .events import Event, Parsed, Rejected
from .matching import match
from .outcomes import ALREADY, DRY_RUN, FAILED, IGNORED, REJECTED, TRIGGERED, Decision
from .retry import MIN_CALL_S, Backoff, Deadline
from .rules import Rule, RuleSet, Target
from .schedule import Schedule, ScheduleError, local, resolve


@dataclass(frozen=True)
class Invocation:
    """What one invocation lends the relay: its deadline, and DataWorks for a rule (with this invocation's keys).
    Nothing of it outlives the invocation."""
    deadline: Deadline
    port_for: Callable[[Rule], DataWorks]


class Relay:
    def __init__(self, rules: RuleSet, *, dry_run: bool = False, backoff: Optional[Backoff] = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.rules, self.dry_run = rules, dry_run
        self.backoff, self.sleep, self.clock = backoff or Backoff(), sleep, clock

    def decide(self, parsed: Sequence[Parsed], call: Invocation) -> Iterator[Decision]:
        for item in parsed:
            if isinstance(item, Rejected):
                yield Decision(REJECTED, item.source, item.event_id, reason=item.reason)
            else:
                yield from self._event(item, call)

    def _event(self, event: Event, call: Invocation) -> Iterator[Decision]:
        base = Decision(IGNORED, event.source, event.event_id, bucket=event.bucket, key=event.key, topic=event.topic,
                        queue=event.queue, message_id=event.message_id, timer=event.timer, dry_run=self.dry_run)
        try:
            hits = [(rule, captures) for rule in self.rules.for_source(event.source)
                    for captures in [match(rule, event)[0]] if captures is not None]
        except Exception as e:  # noqa: BLE001 - a bug in matching must not cost the batch its other events
            yield _internal(base, e)
            return
        if not hits:
            yield base.but(reason="no rule matched")
        for rule, captures in hits:
            yield from self.release(rule, captures, event, call, base=base)

    def release(self, rule: Rule, captures, event: Event, call: Invocation, node: Optional[int] = None,
                base: Optional[Decision] = None) -> Iterator[Decision]:
        """One decision per node of a rule that took the event (or `node` only, for a release by hand)."""
        base = base or Decision(IGNORED, event.source, event.event_id, dry_run=self.dry_run)
        for target in rule.trigger:
            if node is None or target.node == node:
                planned = base.but(rule=rule.name, workspace=target.workspace, node=target.node)
                started = self.clock()
                try:
                    decision = self._decide(planned, rule, target, captures, event, call)
                except Exception as e:  # noqa: BLE001 - on record and retried by FC, never a lost traceback
                    decision = _internal(planned, e)
                yield decision.but(duration_ms=int((self.clock() - started) * 1000))

    def _decide(self, base: Decision, rule: Rule, target: Target, captures, event: Event,
                call: Invocation) -> Decision:
        try:
            schedule = resolve(rule, target, captures, event)
        except ScheduleError as e:
            return base.but(outcome=REJECTED, reason=str(e))
        planned = _with_times(base, schedule.biz_date_ms, schedule.cycle_ms, schedule)
        if self.dry_run:
            calls = describe(rule.api, target.workspace, rule.env, target.node, schedule.biz_date,
                             schedule.biz_date_ms, schedule.cycle_ms, target.lookup)
            return planned.but(outcome=DRY_RUN, reason="dry run, nothing sent; would call "
                               + " then ".join(str(c) for c in calls))
        return self._release(planned, rule, target, schedule, call)

    def _release(self, planned: Decision, rule: Rule, target: Target, schedule: Schedule,
                 call: Invocation) -> Decision:
        """Look up (unless told not to) and trigger, retrying transient failures until the deadline.
        Every retry starts with a fresh look-up, so a trigger that landed before a timeout is not sent twice; only
        a trigger that got no answer may have landed (a refusal did not: a release by another event is not ours)."""
        attempts, landed, last = 0, False, None
        while True:
            if call.deadline.left() < MIN_CALL_S:
                if last is not None:
                    return _failed(planned, last, attempts, gave_up=True, landed=landed)
                return planned.but(outcome=FAILED, error_code="DeadlineExceeded", retryable=True, attempts=attempts,
                                   reason="the invocation's deadline came before this decision could call DataWorks"
                                          "; FC's retry runs the event again")
            attempts += 1
            sending = False
            try:
                port = call.port_for(rule)
                if target.lookup:
                    instance = self._look_up(port, rule, target, schedule, call)
                    found = _with_times(planned, instance.biz_date_ms, instance.cycle_ms, schedule)
                    if not instance.waiting:
                        return _ran(found, instance, landed, attempts)
                    why = f"instance {instance.instance_id} was {instance.status}"
                else:
                    found, why = planned, "lookup: false, computed times sent"
                sending = True
                request_id = port.trigger(target.workspace, rule.env, target.node, found.cycle_time_ms,
                                          found.biz_date_ms, call.deadline)
                return found.but(outcome=TRIGGERED, dataworks_request_id=request_id, attempts=attempts, reason=why)
            except Unresolved as e:
                return planned.but(outcome=FAILED, error_code=e.code, reason=e.reason, retryable=e.retryable,
                                   attempts=attempts)
            except DataWorksError as e:
                if sending and not target.lookup and not e.retryable:
                    return self._after_refusal(planned, rule, target, schedule, call, e, landed, attempts)
                if not e.retryable:
                    return _failed(planned, e, attempts)
                last, landed = e, landed or (sending and e.status is None)
                wait = self.backoff.delay(attempts, e.retry_after_s)
                if call.deadline.left() - wait < MIN_CALL_S:
                    return _failed(planned, e, attempts, gave_up=True, landed=landed)
                self.sleep(wait)

    def _look_up(self, port: DataWorks, rule: Rule, target: Target, schedule: Schedule, call: Invocation) -> Instance:
        listed = port.list_instances(target.workspace, rule.env, target.node, schedule.biz_date,
                                     schedule.biz_date_ms, call.deadline)
        return choose(listed, target.node, schedule.biz_date, schedule.zone, schedule.cycle_ms)

    def _after_refusal(self, planned: Decision, rule: Rule, target: Target, schedule: Schedule, call: Invocation,
                       refusal: DataWorksError, landed: bool, attempts: int) -> Decision:
        """`lookup: false` and DataWorks refused the trigger: one look-up tells a redelivery (the instance ran)
        from a real failure, so a redelivered event does not fail forever."""
        try:
            instance = self._look_up(call.port_for(rule), rule, target, schedule, call)
        except (Unresolved, DataWorksError):
            return _failed(planned, refusal, attempts)
        if instance.waiting:
            return _failed(planned, refusal, attempts)
        return _ran(_with_times(planned, instance.biz_date_ms, instance.cycle_ms, schedule), instance, landed,
                    attempts)


def _ran(found: Decision, instance: Instance, landed: bool, attempts: int) -> Decision:
    """The decision for an instance that is no longer waiting: ours if an earlier attempt's trigger landed."""
    if landed:
        return found.but(outcome=TRIGGERED, attempts=attempts,
                         reason=f"an earlier attempt's trigger landed (now {instance.status})")
    return found.but(outcome=ALREADY, attempts=attempts, reason=f"instance {instance.instance_id} is {instance.status}")


def _failed(planned: Decision, e: DataWorksError, attempts: int, gave_up: bool = False,
            landed: bool = False) -> Decision:
    """A failed decision; `landed`: a trigger was sent and no answer came, so it may have been accepted (the
    look-up of FC's retry tells, and then says already_triggered)."""
    return planned.but(outcome=FAILED, error_code=e.code, retryable=e.retryable, attempts=attempts,
                       dataworks_request_id=e.request_id,
                       reason=e.message + (" (retries stopped at the deadline)" if gave_up else "")
                       + ("; a trigger was sent and got no answer: it may have landed" if landed else ""))


def _internal(d: Decision, e: Exception) -> Decision:
    return d.but(outcome=FAILED, error_code="InternalError", retryable=True,
                 reason=f"dwtrigger could not decide ({type(e).__name__}); FC's retry runs the event again")


def _with_times(d: Decision, biz_ms: int, cycle_ms: Optional[int], schedule: Schedule) -> Decision:
    return d.but(biz_date=f"{local(biz_ms, schedule.zone):%Y-%m-%d}", biz_date_ms=biz_ms,
                 cycle_time=local(cycle_ms, schedule.zone).isoformat() if cycle_ms is not None else None,
                 cycle_time_ms=cycle_ms)
