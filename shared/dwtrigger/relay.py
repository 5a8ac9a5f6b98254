"""The pipeline: parsed events -> matching (rule, node) pairs -> instance -> trigger -> one decision each.

This is the only module that knows the order of the steps. The outside world (DataWorks, the clock, sleeping)
comes in through the constructor, so tests run it against the emulator without patching.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

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
    """What one invocation lends the relay: its deadline, DataWorks for a rule (with this invocation's keys),
    and a scrubber for error text. Nothing of it outlives the invocation."""
    deadline: Deadline
    port_for: Callable[[Rule], DataWorks]
    scrub: Callable[[str], str] = str


class Relay:
    def __init__(self, rules: RuleSet, *, dry_run: bool = False, backoff: Optional[Backoff] = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.rules, self.dry_run = rules, dry_run
        self.backoff, self.sleep, self.clock = backoff or Backoff(), sleep, clock

    def decide(self, parsed: Sequence[Parsed], call: Invocation) -> List[Decision]:
        decisions: List[Decision] = []
        for item in parsed:
            if isinstance(item, Rejected):
                decisions.append(Decision(REJECTED, item.source, item.event_id, reason=item.reason))
            else:
                decisions.extend(self._event(item, call))
        return decisions

    def _event(self, event: Event, call: Invocation) -> List[Decision]:
        base = Decision(IGNORED, event.source, event.event_id, bucket=event.bucket, key=event.key, topic=event.topic,
                        queue=event.queue, message_id=event.message_id, timer=event.timer, dry_run=self.dry_run)
        hits = [(rule, captures) for rule in self.rules.for_source(event.source)
                for captures in [match(rule, event)[0]] if captures is not None]
        if not hits:
            return [base.but(reason="no rule matched")]
        return [d for rule, captures in hits for d in self.release(rule, captures, event, call, base=base)]

    def release(self, rule: Rule, captures, event: Event, call: Invocation, node: Optional[int] = None,
                base: Optional[Decision] = None) -> List[Decision]:
        """One decision per node of a rule that took the event (or `node` only, for a release by hand)."""
        base = base or Decision(IGNORED, event.source, event.event_id, dry_run=self.dry_run)
        return [self._decide(base.but(rule=rule.name, workspace=t.workspace, node=t.node), rule, t, captures,
                             event, call)
                for t in rule.trigger if node is None or t.node == node]

    def _decide(self, base: Decision, rule: Rule, target: Target, captures, event: Event,
                call: Invocation) -> Decision:
        started = self.clock()
        try:
            schedule = resolve(rule, target, captures, event)
        except ScheduleError as e:
            return base.but(outcome=REJECTED, reason=str(e))
        planned = _with_times(base, schedule.biz_date_ms, schedule.cycle_ms, schedule)
        if self.dry_run:
            decision = planned.but(outcome=DRY_RUN, reason="dry run: nothing sent" + (
                "" if not target.lookup else "; the instance would be looked up first"))
        else:
            decision = self._release(planned, rule, target, schedule, call)
        return decision.but(duration_ms=int((self.clock() - started) * 1000))

    def _release(self, planned: Decision, rule: Rule, target: Target, schedule: Schedule,
                 call: Invocation) -> Decision:
        """Look up (unless told not to) and trigger, retrying transient failures until the deadline.
        Every retry starts with a fresh look-up, so a trigger that landed before a timeout is not sent twice; only
        a trigger that got no answer may have landed (a refusal did not: a release by another event is not ours)."""
        attempts, sending, landed = 0, False, False
        while True:
            attempts += 1
            try:
                port = call.port_for(rule)
                if target.lookup:
                    instance = choose(port.list_instances(target.workspace, rule.env, target.node,
                                                          schedule.biz_date, call.deadline.left()), schedule)
                    found = _with_times(planned, instance.biz_date_ms, instance.cycle_ms, schedule)
                    if instance.status not in WAITING:
                        if landed:
                            return found.but(outcome=TRIGGERED, attempts=attempts,
                                             reason=f"an earlier attempt's trigger landed (now {instance.status})")
                        return found.but(outcome=ALREADY, attempts=attempts,
                                         reason=f"instance {instance.instance_id} is {instance.status}")
                    why = f"instance {instance.instance_id} was {instance.status}"
                else:
                    found, why = planned, "lookup: false, computed times sent"
                sending = True
                request_id = port.trigger(target.workspace, target.node, found.cycle_time_ms, found.biz_date_ms,
                                          call.deadline.left())
                return found.but(outcome=TRIGGERED, dataworks_request_id=request_id, attempts=attempts, reason=why)
            except Unresolved as e:
                return planned.but(outcome=FAILED, error_code=e.code, reason=e.reason, retryable=e.retryable,
                                   attempts=attempts)
            except DataWorksError as e:
                landed, sending = landed or (sending and e.status is None), False
                wait = self.backoff.delay(attempts, e.retry_after_s) if e.retryable else 0.0
                if not e.retryable or call.deadline.left() - wait < MIN_CALL_S:
                    gave_up = " (retries stopped at the deadline)" if e.retryable else ""
                    return planned.but(outcome=FAILED, error_code=e.code, retryable=e.retryable, attempts=attempts,
                                       dataworks_request_id=e.request_id,
                                       reason=call.scrub(f"{e.message}{gave_up}"))
                self.sleep(wait)


def choose(instances: Sequence[Instance], schedule: Schedule) -> Instance:
    """The one cycle instance the event names — or an Unresolved saying why there is not exactly one."""
    day = f"{schedule.biz_date:%Y-%m-%d}"
    daily = [i for i in instances if i.dag_type == CYCLE_DAG_TYPE]
    if not daily:
        raise Unresolved("InstanceNotFound", f"DataWorks has no cycle instance for business date {day} "
                         "(instances are generated the day before; a node deployed today runs from tomorrow)", True)
    if schedule.cycle_ms is not None:
        daily = [i for i in daily if i.cycle_ms == schedule.cycle_ms]
        if not daily:
            raise Unresolved("InstanceNotFound", f"no instance of business date {day} is scheduled at "
                             f"{schedule.cycle.isoformat()}; scheduled: {_times(instances, schedule)}", True)
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


def _times(instances: Sequence[Instance], schedule: Schedule) -> str:
    return ", ".join(f"{local(i.cycle_ms, schedule.zone):%H:%M}" for i in instances) or "none"


def _with_times(d: Decision, biz_ms: int, cycle_ms: Optional[int], schedule: Schedule) -> Decision:
    return d.but(biz_date=f"{local(biz_ms, schedule.zone):%Y-%m-%d}", biz_date_ms=biz_ms,
                 cycle_time=local(cycle_ms, schedule.zone).isoformat() if cycle_ms is not None else None,
                 cycle_time_ms=cycle_ms)
