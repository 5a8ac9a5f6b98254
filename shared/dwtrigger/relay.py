"""The pipeline, in three steps per (rule, node): plan -> gate -> send, one decision each.

- plan: which releases an event asks for (every node of every rule that takes it), and which instance each names
  (business date, scheduled time);
- gate: a rule's `require` — are the other objects there? — through the OSS port: go, or `waiting_for_files`;
- send: look the instance up and trigger it through the DataWorks port (either API).
Remote calls go through `retry.with_retries`, which retries what says it is retryable within the deadline.

This is the only module that knows the order of the steps. The outside world (DataWorks, OSS, the clock,
sleeping) comes in through the constructor and the Invocation, so tests run it against the local stand-ins
without patching. Decisions are yielded as they are made, so each is on record before the next call starts;
nothing here raises for an event: whatever goes wrong becomes that decision's `failed` (or `rejected`) outcome.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, List, Mapping, Optional, Sequence

from .dataworks import DataWorks, DataWorksError, Instance, describe
from .dataworks.choose import Unresolved, choose
from .events import Event, Parsed, Rejected
from .ledger import HOLD, Book, Claimant, Entry, Slot, ms, quietly
from .matching import Index
from .oss import ObjectStore, Wanted
from .outcomes import ALREADY, DRY_RUN, FAILED, IGNORED, REJECTED, TRIGGERED, WAITING_FILES, Decision
from .recent import Recent, Seen
from .retry import Backoff, Deadline, GaveUp, NoTimeLeft, Observer, RemoteError, with_retries
from .rules import OssRule, Required, Rule, RuleSet, Target, TimerRule
from .schedule import Schedule, ScheduleError, local, resolve, written

HOLD_MS = int(HOLD.total_seconds() * 1000)


@dataclass(frozen=True)
class Invocation:
    """What one invocation lends the relay: its deadline, the time, and DataWorks, OSS and the ledger for a rule
    (with this invocation's keys). Nothing of it outlives the invocation."""
    deadline: Deadline
    port_for: Callable[[Rule], DataWorks]
    store_for: Callable[[Rule], ObjectStore]
    book_for: Callable[[Rule], Optional[Book]]       # None: the rule keeps no ledger
    now: Callable[[], datetime]


@dataclass(frozen=True)
class Release:
    """What an event asks of one node of a rule (the plan step's output)."""
    rule: Rule
    target: Target
    event: Event
    captures: Mapping[str, Any]
    base: Decision                          # the decision so far: the event's fields, rule and node


@dataclass
class _Sent:
    """What the send step's attempts learned, across retries."""
    attempts: int = 0
    landed: bool = False                    # a trigger got no answer: it may have been accepted
    refused: Optional[DataWorksError] = field(default=None)   # a trigger DataWorks refused outright


class Relay:
    def __init__(self, rules: RuleSet, *, dry_run: bool = False, backoff: Optional[Backoff] = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 observe: Optional[Observer] = None):
        self.rules, self.dry_run = rules, dry_run
        self.index = Index(rules.rules)
        self.recent = Recent()                    # what this FC instance saw released lately
        self.backoff, self.sleep, self.clock = backoff or Backoff(), sleep, clock
        self.observe = observe                    # failed attempts, as they happen (the command line's)

    def decide(self, parsed: Sequence[Parsed], call: Invocation) -> Iterator[Decision]:
        for item in parsed:
            if isinstance(item, Rejected):
                yield Decision(REJECTED, item.source, item.event_id, reason=item.reason)
            else:
                yield from self._event(item, call)

    def release(self, rule: Rule, captures, event: Event, call: Invocation,
                node: Optional[int] = None) -> Iterator[Decision]:
        """A release by hand: the rule's nodes (or `node` only) for `captures`, as if an event asked."""
        base = Decision(IGNORED, event.source, event.event_id, dry_run=self.dry_run)
        for release in _releases(rule, captures, event, base):
            if node is None or release.target.node == node:
                yield self._decision(release, call)

    # ---- plan ----

    def _event(self, event: Event, call: Invocation) -> Iterator[Decision]:
        base = Decision(IGNORED, event.source, event.event_id, bucket=event.bucket, key=event.key, topic=event.topic,
                        queue=event.queue, message_id=event.message_id, timer=event.timer, dry_run=self.dry_run)
        try:
            releases = self.plan(event, base)
        except Exception as e:  # noqa: BLE001 - a bug in matching must not cost the batch its other events
            yield _internal(base, e)
            return
        if not releases:
            yield base.but(reason="no rule matched")
        for release in releases:
            yield self._decision(release, call)

    def plan(self, event: Event, base: Decision) -> List[Release]:
        """Every release the event asks for: one per node of each rule that takes it."""
        return [release for rule, captures in self.index.takers(event)
                for release in _releases(rule, captures, event, base)]

    def _decision(self, release: Release, call: Invocation) -> Decision:
        started = self.clock()
        try:
            decision = self._make(release, call)
        except Exception as e:  # noqa: BLE001 - on record and retried by FC, never a lost traceback
            decision = _internal(release.base, e)
        return decision.but(duration_ms=int((self.clock() - started) * 1000))

    def _make(self, release: Release, call: Invocation) -> Decision:
        try:
            schedule = resolve(release.rule, release.target, release.captures, release.event)
        except ScheduleError as e:
            return release.base.but(outcome=REJECTED, reason=str(e))
        planned = _with_times(release.base, schedule.biz_date_ms, schedule.cycle_ms, schedule)
        wanted = required(release.rule, release.captures, release.event, schedule)
        if self.dry_run:
            return planned.but(outcome=DRY_RUN, reason=_dry_run(release, schedule, wanted))
        _note_asked(release, schedule, call)
        return self.gate(wanted, release, planned, call) or self.send(release, schedule, planned, call)

    # ---- gate ----

    def gate(self, wanted: List[Wanted], release: Release, planned: Decision,
             call: Invocation) -> Optional[Decision]:
        """None when every required object is there (or none is required); else the decision that stops here."""
        if not wanted:
            return None
        try:
            missing, attempts = with_retries(lambda attempt: call.store_for(release.rule).missing(
                wanted, call.deadline), call.deadline, self.backoff, self.sleep, self.observe)
        except GaveUp as e:
            return _gave_up(planned, e)
        if not missing:
            return None
        return planned.but(outcome=WAITING_FILES, attempts=attempts, reason=(
            f"waiting for {len(missing)} of {len(wanted)} required objects: " + ", ".join(map(str, missing))))

    # ---- send ----

    def send(self, release: Release, schedule: Schedule, planned: Decision, call: Invocation) -> Decision:
        """Look up (unless told not to) and trigger, retrying transient failures until the deadline. Every retry
        starts with a fresh look-up, so a trigger that landed before a timeout is not sent twice; only a trigger
        that got no answer may have landed (a refusal did not: a release by another event is not ours)."""
        rule, target, sent = release.rule, release.target, _Sent()
        slot = (rule.api, target.workspace, rule.env, target.node, schedule.biz_date_ms, schedule.cycle_ms)
        seen = self.recent.get(slot)
        if seen is not None and (seen.held_until_ms is None or seen.held_until_ms > ms(call.now())):
            return _remembered(planned, seen, schedule)
        book = call.book_for(rule)
        claimant = Claimant(book, rule.name, planned.event_id) if book is not None else None

        def attempt(number: int) -> Decision:
            sent.attempts = number
            port = call.port_for(rule)
            instance, looked = None, call.now()
            if target.lookup:
                instance = self._look_up(port, release, schedule, call)
                found = _with_times(planned, instance.biz_date_ms, instance.cycle_ms, schedule)
                if not instance.waiting:
                    self.recent.put(slot, Seen(instance.cycle_ms, instance.biz_date_ms,
                                               "sent" if sent.landed else instance.status, ms(call.now())))
                    if book is not None:
                        quietly(book.mark_done, rule.api, target.workspace, target.node, schedule.biz_date,
                                 schedule.cycle_ms)
                        claimant.sent(call.now(), instance.status, False, None)
                    return _ran(found, instance, sent.landed, number)
                why = f"instance {instance.instance_id} was {instance.status}"
            else:
                found, why = planned, "lookup: false, computed times sent"
            if claimant is not None:
                ours, holding = claimant.take(Slot(rule.api, target.workspace, target.node, found.cycle_time_ms),
                                              call.now(), looked)
                if not ours:
                    return _holding(found, holding, schedule, number)
            try:
                request_id = port.trigger(target.workspace, rule.env, target.node, found.cycle_time_ms,
                                          found.biz_date_ms, call.deadline)
            except DataWorksError as e:
                sent.landed = sent.landed or e.status is None
                sent.refused = None if e.retryable else e
                if claimant is not None and not sent.landed:
                    claimant.give_up()                  # not sent: the next attempt or delivery may claim
                raise
            decision = found.but(outcome=TRIGGERED, dataworks_request_id=request_id, attempts=number, reason=why)
            now_ms = ms(call.now())
            held = instance is None or not instance.ready      # a status unknown without a look-up counts
            self.recent.put(slot, Seen(found.cycle_time_ms, found.biz_date_ms, "sent", now_ms,
                                       now_ms + HOLD_MS if held else None))
            if claimant is None:
                return decision
            # Held: DataWorks keeps it until the parents and time allow.
            recorded = claimant.sent(call.now(), instance.status if instance else None, held, request_id)
            if recorded is None:
                return decision.but(reason=f"{why}; the ledger could not record the send")
            return decision.but(held_until=local(recorded.held_until, schedule.zone).isoformat()
                                if recorded.held_until else None)

        try:
            return with_retries(attempt, call.deadline, self.backoff, self.sleep, self.observe)[0]
        except Unresolved as e:
            return planned.but(outcome=FAILED, error_code=e.code, reason=e.reason, retryable=e.retryable,
                               attempts=sent.attempts)
        except GaveUp as e:
            if sent.refused is not None and not target.lookup:
                return self._after_refusal(planned, release, schedule, call, sent, e.attempts)
            return _gave_up(planned, e, sent.landed)
        finally:
            if claimant is not None:
                claimant.give_up()                      # whatever our attempts left unrecorded

    def _look_up(self, port: DataWorks, release: Release, schedule: Schedule, call: Invocation) -> Instance:
        target = release.target
        listed = port.list_instances(target.workspace, release.rule.env, target.node, schedule.biz_date,
                                     schedule.biz_date_ms, call.deadline)
        return choose(listed, target.node, schedule.biz_date, schedule.zone, schedule.cycle_ms)

    def _after_refusal(self, planned: Decision, release: Release, schedule: Schedule, call: Invocation,
                       sent: _Sent, attempts: int) -> Decision:
        """`lookup: false` and DataWorks refused the trigger: one look-up tells a redelivery (the instance ran)
        from a real failure, so a redelivered event does not fail forever."""
        try:
            instance = self._look_up(call.port_for(release.rule), release, schedule, call)
        except (Unresolved, DataWorksError, NoTimeLeft):
            instance = None
        if instance is None or instance.waiting:
            return _failed(planned, sent.refused, attempts)
        return _ran(_with_times(planned, instance.biz_date_ms, instance.cycle_ms, schedule), instance, sent.landed,
                    attempts)


def _releases(rule: Rule, captures: Mapping[str, Any], event: Event, base: Decision) -> List[Release]:
    return [Release(rule, target, event, captures, base.but(rule=rule.name, workspace=target.workspace,
                                                            node=target.node))
            for target in rule.trigger]


def required(rule: Rule, captures: Mapping[str, Any], event: Event, schedule: Schedule) -> List[Wanted]:
    """The objects a rule requires for a release: its files (an OSS rule's key and `require` entries; a timer
    rule's entries) filled from the captures and the business date (and scheduled time), in the event's bucket (a
    timer rule's `bucket`) unless an entry names another — less the one whose landing this event reports."""
    if not isinstance(rule, (OssRule, TimerRule)) or not rule.require:
        return []
    values = {**captures, **written(rule, schedule)}     # the dates as the files name them (bizdate_offset)
    home = event.bucket if isinstance(rule, OssRule) else rule.bucket
    files = ((Required(None, rule.key),) if isinstance(rule, OssRule) else ()) + rule.require
    wanted = [Wanted(entry.bucket or home, entry.key.partial(values)) for entry in files]
    return [w for w in wanted if not (w.bucket == event.bucket and w.key.match(event.key or "") is not None)]


def _dry_run(release: Release, schedule: Schedule, wanted: List[Wanted]) -> str:
    target, rule = release.target, release.rule
    calls = describe(rule.api, target.workspace, rule.env, target.node, schedule.biz_date, schedule.biz_date_ms,
                     schedule.cycle_ms, target.lookup)
    checks = f"would check {', '.join(map(str, wanted))}, then " if wanted else "would "
    return f"dry run, nothing sent; {checks}call " + " then ".join(str(c) for c in calls)


def _note_asked(release: Release, schedule: Schedule, call: Invocation) -> None:
    """An MNS or timer event asked for this release: the sweep's evidence for the date (best effort: the event
    itself goes on, and FC's retry notes it again)."""
    rule = release.rule
    if rule.expect is None or isinstance(rule, OssRule):
        return
    quietly(call.book_for(rule).note_asked, rule.name, release.target.node, schedule.biz_date,
             release.base.event_id)


def _holding(found: Decision, entry: Optional[Entry], schedule: Schedule, attempts: int) -> Decision:
    """The ledger shows a send that still stands: nothing is sent again."""
    def at(ms: int) -> str:
        return local(ms, schedule.zone).isoformat()

    if entry is not None and entry.state == "sent" and entry.held_until is not None:
        return found.but(outcome=ALREADY, attempts=attempts, held_until=at(entry.held_until),
                         reason=f"held since {at(entry.sent_at)}: DataWorks holds the trigger until the instance's "
                                f"parents and time allow, or until {at(entry.held_until)}")
    if entry is not None and entry.state == "sent":
        return found.but(outcome=ALREADY, attempts=attempts,
                         reason=f"another delivery sent its trigger at {at(entry.sent_at)}")
    since = f" at {at(entry.claimed_at)}" if entry is not None else ""
    return found.but(outcome=ALREADY, attempts=attempts,
                     reason=f"another delivery claimed this instance{since} and is sending its trigger")


def _remembered(planned: Decision, seen: Seen, schedule: Schedule) -> Decision:
    """This FC instance saw the instance released or past waiting lately (recent.py): nothing is called."""
    def at(ms_: int) -> str:
        return local(ms_, schedule.zone).isoformat()

    found = _with_times(planned, seen.biz_date_ms, seen.cycle_ms, schedule).but(outcome=ALREADY)
    if seen.held_until_ms is not None:
        return found.but(held_until=at(seen.held_until_ms), reason=(
            f"held since {at(seen.at_ms)}: this FC instance sent its trigger then, and DataWorks holds it until the "
            f"instance's parents and time allow, or until {at(seen.held_until_ms)}"))
    if seen.what == "sent":
        return found.but(reason=f"this FC instance released it at {at(seen.at_ms)} (not looked up again)")
    return found.but(reason=f"this FC instance saw it {seen.what} at {at(seen.at_ms)} (not looked up again)")


def _ran(found: Decision, instance: Instance, landed: bool, attempts: int) -> Decision:
    """The decision for an instance that is no longer waiting: ours if an earlier attempt's trigger landed."""
    if landed:
        return found.but(outcome=TRIGGERED, attempts=attempts,
                         reason=f"an earlier attempt's trigger landed (now {instance.status})")
    return found.but(outcome=ALREADY, attempts=attempts, reason=f"instance {instance.instance_id} is {instance.status}")


def _gave_up(planned: Decision, e: GaveUp, landed: bool = False) -> Decision:
    if e.error is None:
        return planned.but(outcome=FAILED, error_code="DeadlineExceeded", retryable=True, attempts=e.attempts,
                           reason="the invocation's deadline came before this decision could call out; FC's retry "
                                  "runs the event again")
    return _failed(planned, e.error, e.attempts, gave_up=e.deadline, landed=landed)


def _failed(planned: Decision, e: RemoteError, attempts: int, gave_up: bool = False, landed: bool = False) -> Decision:
    """A failed decision; `landed`: a trigger was sent and no answer came, so it may have been accepted (the
    look-up of FC's retry tells, and then says already_triggered)."""
    dataworks = isinstance(e, DataWorksError)
    return planned.but(outcome=FAILED, error_code=e.code, retryable=e.retryable, attempts=attempts,
                       dataworks_request_id=e.request_id if dataworks else None,
                       reason=("" if dataworks else "OSS: ") + e.message
                       + (f" (OSS request {e.request_id})" if e.request_id and not dataworks else "")
                       + (" (retries stopped at the deadline)" if gave_up else "")
                       + ("; a trigger was sent and got no answer: it may have landed" if landed else ""))


def _internal(d: Decision, e: Exception) -> Decision:
    return d.but(outcome=FAILED, error_code="InternalError", retryable=True,
                 reason=f"dwtrigger could not decide ({type(e).__name__}); FC's retry runs the event again")


def _with_times(d: Decision, biz_ms: int, cycle_ms: Optional[int], schedule: Schedule) -> Decision:
    return d.but(biz_date=f"{local(biz_ms, schedule.zone):%Y-%m-%d}", biz_date_ms=biz_ms,
                 cycle_time=local(cycle_ms, schedule.zone).isoformat() if cycle_ms is not None else None,
                 cycle_time_ms=cycle_ms)
