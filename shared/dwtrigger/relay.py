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

from .dataworks import CYCLE_DAG_TYPE, FROZEN_TASK_TYPE, WAITING, DataWorks, DataWorksError, Instance
from .events import Event, Parsed, Rejected
from .matching import match
from .outcomes import ALREADY, DRY_RUN, FAILED, IGNORED, REJECTED, TRIGGERED, Decision
from .retry import MIN_CALL_S, Backoff, Deadline
from .rules import Rule, RuleSet, Target
from .schedule import Schedule, ScheduleError, local, resolve


class Unresolved(Exception):
    """The look-up answered, but not with one instance we may trigger."""

    def __init__(self, code: str, reason: str, retryable: bool):
        super().__init__(reason)
        self.code, self.reason, self.retryable = code, reason, retryable


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
            return planned.but(outcome=DRY_RUN, reason="dry run: nothing sent" + (
                "" if not target.lookup else "; the instance would be looked up first"))
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
                    if instance.status not in WAITING:
                        return _ran(found, instance, landed, attempts)
                    why = f"instance {instance.instance_id} was {instance.status}"
                else:
                    found, why = planned, "lookup: false, computed times sent"
                sending = True
                request_id = port.trigger(target.workspace, target.node, found.cycle_time_ms, found.biz_date_ms,
                                          call.deadline)
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
        return choose(port.list_instances(target.workspace, rule.env, target.node, schedule.biz_date, call.deadline),
                      schedule, target.node)

    def _after_refusal(self, planned: Decision, rule: Rule, target: Target, schedule: Schedule, call: Invocation,
                       refusal: DataWorksError, landed: bool, attempts: int) -> Decision:
        """`lookup: false` and DataWorks refused the trigger: one look-up tells a redelivery (the instance ran)
        from a real failure, so a redelivered event does not fail forever."""
        try:
            instance = self._look_up(call.port_for(rule), rule, target, schedule, call)
        except (Unresolved, DataWorksError):
            return _failed(planned, refusal, attempts)
        if instance.status in WAITING:
            return _failed(planned, refusal, attempts)
        return _ran(_with_times(planned, instance.biz_date_ms, instance.cycle_ms, schedule), instance, landed,
                    attempts)


def choose(instances: Sequence[Instance], schedule: Schedule, node: int) -> Instance:
    """The one cycle instance of `node` the event names — or an Unresolved saying why there is not exactly one.
    Only instances of the node and business date asked for count, whatever else the answer lists."""
    day = f"{schedule.biz_date:%Y-%m-%d}"
    own = [i for i in instances if i.node == node and local(i.biz_date_ms, schedule.zone).date() == schedule.biz_date]
    daily = [i for i in own if i.dag_type == CYCLE_DAG_TYPE]
    if not daily:
        foreign = len(instances) - len(own)
        raise Unresolved("InstanceNotFound", f"DataWorks has no cycle instance for business date {day} "
                         "(instances are generated the day before; a node deployed today runs from tomorrow)"
                         + (f"; {foreign} listed instance(s) of other nodes or business dates were ignored (is "
                            f"{schedule.zone.key} the workspace's time zone?)" if foreign else ""), True)
    if schedule.cycle_ms is not None:
        daily = [i for i in daily if i.cycle_ms == schedule.cycle_ms]
        if not daily:
            raise Unresolved("InstanceNotFound", f"no instance of business date {day} is scheduled at "
                             f"{schedule.cycle.isoformat()}; scheduled: {_times(own, schedule)}", True)
    elif len(daily) > 1:
        waiting = [i for i in daily if i.status in WAITING]
        if len(waiting) > 1:
            raise Unresolved("Ambiguous", f"{len(waiting)} instances of business date {day} are waiting "
                             f"({_times(waiting, schedule)}); name the cycle with `at` or a {{cycle}} capture", False)
        daily = waiting or daily
    instance = daily[0]
    if instance.task_type == FROZEN_TASK_TYPE:
        raise Unresolved("NodeFrozen", f"the node is frozen (instance {instance.instance_id}); unfreeze it and "
                         "replay the event", False)
    return instance


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


def _times(instances: Sequence[Instance], schedule: Schedule) -> str:
    return ", ".join(f"{local(i.cycle_ms, schedule.zone):%H:%M}" for i in instances) or "none"


def _with_times(d: Decision, biz_ms: int, cycle_ms: Optional[int], schedule: Schedule) -> Decision:
    return d.but(biz_date=f"{local(biz_ms, schedule.zone):%Y-%m-%d}", biz_date_ms=biz_ms,
                 cycle_time=local(cycle_ms, schedule.zone).isoformat() if cycle_ms is not None else None,
                 cycle_time_ms=cycle_ms)
