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
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, TypeVar

import msgspec

from . import sources
from .dataworks import DataWorks, DataWorksError, Instance, describe, local
from .dataworks.choose import Unresolved, choose
from .events import Event, Parsed, Rejected
from .evidence import files
from .ledger import GRACE, HOLD, Book, Busy, Claimed, Entry, Sighting, Slot, Stands, ms, open_book
from .ledger.claims import Claims
from .matching import Index
from .oss import ObjectStore, Wanted
from .outcomes import ALREADY, DRY_RUN, FAILED, IGNORED, REJECTED, TRIGGERED, WAITING_FILES, Decision
from .recent import ABSENT, ABSENT_S, TTL_S, Listings, Recent, Seen
from .retry import Backoff, Deadline, GaveUp, NoTimeLeft, Observer, Reach, RemoteError, with_retries
from .rule import Rule, RuleSet, Target
from .schedule import Schedule, ScheduleError, resolve

T = TypeVar("T")
HOLD_MS = int(HOLD.total_seconds() * 1000)
LOOKS = 3           # look-ups in one attempt: each overtaken by another send of unknown fate, then the attempt fails
RECORD_S = 1.0      # of a release's time with a ledger, kept for recording how its attempts ended
SHARE_S = 2.0       # a decision with others after it may take half the time left, and at least this much of it
SILENT = frozenset({"ConnectionError", "Timeout", "DeadlineExceeded"})   # failures DataWorks gave no answer to
SILENT_AFTER = 2    # decisions in a row on one endpoint that got no answer, before it is not asked again
UNREACHED_AFTER = 3     # the command line's: attempts in a row that could not connect, before it is not asked again


class Silence:
    """The DataWorks endpoints that stopped answering. After SILENT_AFTER decisions in a row whose calls got no
    answer at all (refused, timed out, cut at their time), an endpoint is not asked again until the invocation ends:
    one that hangs would otherwise spend the time of every decision after it, and a batch's or a sweep's decisions
    on other endpoints would never be made. An answer of any kind resets the count.

    The command line keeps one Silence for the whole command, shared by the invocations it makes (one per record or
    date), so the second record does not start over, with `unreached_after`: after that many attempts in a row that
    could not even connect (refused, a name that does not resolve, a connect that timed out: RemoteError.unreachable)
    the endpoint is not asked again either, and the retries of the decision at hand stop there: a person is waiting,
    and the command stops (ops/reach.Watch). A function's invocation has a Silence of its own, without that limit:
    there FC's own retries and the dead-letter queue take an event whose endpoint cannot be reached."""

    def __init__(self, unreached_after: Optional[int] = None) -> None:
        self.unreached_after = unreached_after
        self._unheard: Dict[str, Tuple[int, str]] = {}
        self._unreached: Dict[str, Tuple[int, RemoteError]] = {}

    def down(self, endpoint: str) -> Optional[str]:
        """Why the endpoint is not asked again, in a sentence that names it; None while it is asked."""
        count, why = self._unheard.get(endpoint, (0, ""))
        if count >= SILENT_AFTER:
            until = "in this invocation" if self.unreached_after is None else "by this command"
            return f"DataWorks at {endpoint} gave no answer to {count} decisions in a row ({why}): not asked again {until}"
        error = self.unreached(endpoint)
        if error is not None:
            return (f"DataWorks at {endpoint} could not be reached {self.unreached_after} times in a row "
                    f"({error.message}): not asked again by this command")
        return None

    def unreached(self, endpoint: str) -> Optional[RemoteError]:
        """The last error of an endpoint not asked again because no connection could be made to it, or None."""
        count, error = self._unreached.get(endpoint, (0, None))
        return error if self.unreached_after is not None and count >= self.unreached_after else None

    def attempted(self, endpoint: Optional[str], error: Optional[RemoteError]) -> bool:
        """How an attempt on the endpoint ended (None: it succeeded), as `with_retries` tells a retry.Reach; True
        when the endpoint is not worth another. A DataWorks error says it was reached, unless it says it was not
        (or the deadline cut the call); other errors (the ledger's, OSS's) say nothing of it. `endpoint` None: the
        one each error names, and an answer counts for all (a command that asks one endpoint only, as `doctor`)."""
        if isinstance(error, DataWorksError) and error.unreachable:
            key = endpoint or error.unreachable
            self._unreached[key] = (self._unreached.get(key, (0, error))[0] + 1, error)
            return self.unreached(key) is not None
        if error is None or isinstance(error, DataWorksError) and error.code != "DeadlineExceeded":
            if endpoint is None:
                self._unreached.clear()
            else:
                self._unreached.pop(endpoint, None)
        return endpoint is not None and self.unreached(endpoint) is not None

    def reach(self, endpoint: Optional[str] = None) -> Reach:
        """The retry.Reach of the attempts on `endpoint` (None: see `attempted`)."""
        return lambda error: self.attempted(endpoint, error)

    def why(self) -> Optional[str]:
        """Why an endpoint is not asked again (the first, when several are not), or None."""
        return next(map(self.down, self.downed()), None)

    def heard(self, endpoint: str) -> None:
        self._unheard.pop(endpoint, None)
        self._unreached.pop(endpoint, None)

    def unheard(self, endpoint: str, why: str) -> None:
        self._unheard[endpoint] = (self._unheard.get(endpoint, (0, ""))[0] + 1, why)

    def downed(self) -> List[str]:
        """The endpoints not asked again, now."""
        return [endpoint for endpoint in {**self._unheard, **self._unreached} if self.down(endpoint) is not None]


def _endpoint(rule: Rule) -> str:
    return rule.endpoint or f"dataworks.{rule.region}.aliyuncs.com"


class Invocation(msgspec.Struct, frozen=True):
    """What one invocation lends the relay: its deadline, the time, and DataWorks, OSS and the ledger for a rule
    (with this invocation's keys), and what it learned of DataWorks' endpoints. Nothing of it outlives it."""
    deadline: Deadline
    port_for: Callable[[Rule], DataWorks]
    store_for: Callable[[Rule], ObjectStore]
    now: Callable[[], datetime]
    endpoint_for: Callable[[Rule], str] = _endpoint            # where a rule's DataWorks calls go
    silence: Silence = msgspec.field(default_factory=Silence)  # shared by every budget cut from this invocation
    pending: Tuple["Release", ...] = ()                        # the event's releases still to decide after this one

    def book_for(self, rule: Rule) -> Optional[Book]:
        """The rule's ledger within this deadline; None when it keeps none."""
        return None if rule.ledger is None else open_book(rule.ledger, self.deadline, self.now,
                                                          lambda: self.store_for(rule))

    def within(self, seconds: float) -> "Invocation":
        """This invocation with at most `seconds` left: one piece of work's own budget inside the whole."""
        clock = self.deadline.clock
        return msgspec.structs.replace(self, deadline=Deadline(min(self.deadline.at, clock() + seconds), clock))

    def share(self) -> "Invocation":
        """The budget of one decision among others still to come: half the time left (or SHARE_S of it), so one
        whose calls hang cannot spend theirs."""
        left = self.deadline.left()
        return self.within(max(left / 2, min(left, SHARE_S)))


class Release(msgspec.Struct, frozen=True):
    """What an event asks of one node of a rule (the plan step's output)."""
    rule: Rule
    target: Target
    event: Event
    captures: Mapping[str, Any]
    base: Decision                          # the decision so far: the event's fields, rule and node


class _Sent(msgspec.Struct):
    """What the send step's attempts learned, across retries."""
    attempts: int = 0
    landed: bool = False                    # a trigger got no answer: it may have been accepted
    refused: Optional[DataWorksError] = None   # a trigger DataWorks refused outright


class Relay:
    def __init__(self, rules: RuleSet, *, dry_run: bool = False, backoff: Optional[Backoff] = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 observe: Optional[Observer] = None):
        self.rules, self.dry_run = rules, dry_run
        self.index = Index(rules.rules)
        self.recent = Recent()                    # what this FC instance saw released lately
        self.listings = Listings()                # what its look-ups listed a moment ago, shared
        self.backoff, self.sleep, self.clock = backoff or Backoff(), sleep, clock
        self.observe = observe                    # failed attempts, as they happen (the command line's)

    def decide(self, parsed: Iterable[Parsed], call: Invocation) -> Iterator[Decision]:
        """A decision for each record, as it is made. Once the deadline has passed, the record at hand and those
        after it (unread: `parsed` may be lazy) get one `failed` decision together, so a batch of any size ends
        in time and FC's retry runs it again."""
        items = iter(parsed)
        item = next(items, None)
        while item is not None:
            if call.deadline.left() <= 0:
                yield _unread(item)
                return
            following = next(items, None)
            if isinstance(item, Rejected):
                yield Decision(REJECTED, item.source, item.event_id, reason=item.reason, error_code=item.code)
            else:
                yield from self._event(item, call, following is not None)
            item = following

    def release(self, rule: Rule, captures, event: Event, call: Invocation,
                node: Optional[int] = None) -> Iterator[Decision]:
        """A release by hand: the rule's nodes (or `node` only) for `captures`, as if an event asked."""
        base = Decision(IGNORED, event.source, event.event_id, dry_run=self.dry_run)
        releases = [r for r in _releases(rule, captures, event, base) if node is None or r.target.node == node]
        for n, release in enumerate(releases, 1):
            yield self._decision(release, msgspec.structs.replace(call, pending=tuple(releases[n:])))

    # ---- plan ----

    def _event(self, event: Event, call: Invocation, more: bool) -> Iterator[Decision]:
        """The event's decisions; `more`: other records of the delivery follow (each decision then takes its
        share of the time, not all of it)."""
        base = Decision(IGNORED, event.source, event.event_id, bucket=event.bucket, key=event.key, topic=event.topic,
                        queue=event.queue, message_id=event.message_id, timer=event.timer, dry_run=self.dry_run)
        try:
            releases = self.plan(event, base)
            why = "" if releases else self.index.unmatched(event, self.rules)      # naming the disabled that would
        except Exception as e:  # noqa: BLE001 - a bug in matching must not cost the batch its other events
            yield _internal(base, e)
            return
        if not releases:
            yield base.but(reason=why)
        for n, release in enumerate(releases, 1):
            budget = call.share() if more or n < len(releases) else call
            yield self._decision(release, msgspec.structs.replace(budget, pending=tuple(releases[n:])))

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
        self._note_asked(release, schedule, call)
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

    def send(self, release: Release, schedule: Schedule, planned: Decision, call: Invocation,
             early: bool = True) -> Optional[Decision]:
        """Release the instance: look it up (unless told not to), claim it in the ledger, trigger it, record what
        DataWorks said — each attempt whole, retried on transient failures until the deadline. Every attempt starts
        with a fresh look-up, so a trigger that landed before a timeout is not sent twice. Only DataWorks' `Success:
        true`, or a look-up showing the instance past waiting, is a release: a send whose fate is unknown ends
        `failed`, retryably. `early=False` (the sweep without a ledger): an instance still waiting on its parents
        or time may hold a trigger nothing remembers, so nothing is sent to it and None is returned."""
        rule, target, sent = release.rule, release.target, _Sent()
        key = (rule.api, target.workspace, rule.env, target.node, schedule.biz_date_ms, schedule.cycle_ms)
        seen = _young(self.recent.get(key), call)
        if seen is not None and seen.held_until_ms is None:
            return _remembered(planned, seen, schedule)
        endpoint = call.endpoint_for(rule)
        silent = call.silence.down(endpoint)
        if silent is not None:
            return planned.but(outcome=FAILED, error_code="EndpointDown", retryable=True, reason=silent)
        book = call.book_for(rule)
        known = None if book is None or seen is not None else self._ledger_seen(rule, key, schedule, call)
        if known is not None:
            return _remembered(planned, known, schedule)
        claims = Claims(book, rule.name, planned.event_id, self.sleep, lambda write: self._recorded(write, call))
        # With a ledger, the attempts leave time for it to record how they ended: a claim left "sending" costs the
        # next delivery a wait.
        attempts = call if book is None else call.within(call.deadline.left() - min(RECORD_S, call.deadline.left() / 4))

        def attempt(number: int) -> Optional[Decision]:
            sent.attempts = number
            port = call.port_for(rule)
            for look in range(LOOKS):             # claim: a fresh look-up, then the claim or what stands in its way
                looked = call.now()               # a send recorded after this moment cannot show in the look-up
                # A listing of a moment ago answers as this look-up would, unless a trigger of ours may have landed
                # since (no answer came), a send of unknown fate overtook the last look-up (LookAgain), or this is a
                # retry without a ledger: nothing then holds the instance for us through the backoff, and another
                # delivery may release it meanwhile (with a ledger, our claim does).
                fresh = sent.landed or look > 0 or (number > 1 and book is None)
                instance = self._look_up(port, rule, target, schedule, attempts, fresh) if target.lookup else None
                found = planned if instance is None else _with_times(planned, instance.biz_date_ms, instance.cycle_ms,
                                                                     schedule)
                if instance is not None and not instance.waiting:
                    self._past_waiting(instance, key, schedule, book, sent.landed, call)
                    claims.sent(call.now(), instance.status, False, None)   # our unanswered trigger, if any
                    return _ran(found, instance, sent.landed, number)
                ready = None if instance is None else instance.ready
                if seen is not None and seen.held_until_ms > ms(call.now()) and not ready:
                    return _remembered(found, seen, schedule)
                if not early and book is None and instance is not None and not ready:
                    return None
                verdict = claims.take(Slot(rule.api, target.workspace, target.node, found.cycle_time_ms), ms(looked),
                                      ready)
                if isinstance(verdict, Claimed):
                    break
                if isinstance(verdict, Stands):
                    return _holding(found, verdict.entry, schedule, number)
                if isinstance(verdict, Busy):
                    raise _InFlight(verdict.entry)
                # LookAgain: a send of unknown fate may have landed since this look-up began
            else:                                 # every look-up was overtaken by another send of unknown fate
                raise _InFlight(None)
            why = f"instance {instance.instance_id} was {instance.status}" if instance is not None \
                else "lookup: false, computed times sent"
            at = call.now()                       # send
            try:
                request_id = port.trigger(target.workspace, rule.env, target.node, found.cycle_time_ms,
                                          found.biz_date_ms, attempts.deadline)
            except DataWorksError as e:
                if e.status is None:              # no answer: it may have landed
                    sent.landed = True
                    self.listings.touch(key[:5], found.cycle_time_ms)
                    claims.unanswered(at)
                sent.refused = None if e.retryable else e
                raise
            self.listings.touch(key[:5], found.cycle_time_ms)
            return self._accepted(found.but(outcome=TRIGGERED, dataworks_request_id=request_id, attempts=number,
                                            reason=why), instance, key, schedule, claims, book, call)     # confirm

        with claims:    # leaving it records what the attempts left open (failed, or unknown), however they ended
            try:
                decision = with_retries(attempt, attempts.deadline, self.backoff, self.sleep, self.observe,
                                        call.silence.reach(endpoint))[0]
                call.silence.heard(endpoint)
                return decision
            except Unresolved as e:
                call.silence.heard(endpoint)
                if e.code == "InstanceNotFound":
                    self._absent(key, schedule, book, call)
                return planned.but(outcome=FAILED, error_code=e.code, reason=e.reason, retryable=e.retryable,
                                   attempts=sent.attempts)
            except _InFlight as e:
                return _in_flight(planned, e.entry, schedule, sent.attempts)
            except GaveUp as e:
                if isinstance(e.error, DataWorksError):
                    if e.error.code in SILENT:
                        call.silence.unheard(endpoint, e.error.message)
                    else:
                        call.silence.heard(endpoint)
                if sent.refused is not None and not target.lookup:
                    return self._after_refusal(planned, release, schedule, call, sent, e.attempts)
                return _gave_up(planned, e, sent.landed)

    def _accepted(self, decision: Decision, instance: Optional[Instance], key: tuple, schedule: Schedule,
                  claims: Claims, book: Optional[Book], call: Invocation) -> Decision:
        """DataWorks said `Success: true`: remembered here, recorded in the ledger. Held when the instance was still
        waiting on its parents or time (a status unknown without a look-up counts); else DataWorks released it
        now, and the ledger marks it done, so no delivery anywhere looks it up again."""
        now = call.now()
        held = instance is None or not instance.ready
        held_until = ms(now) + HOLD_MS if held else None
        seen = Seen(decision.cycle_time_ms, decision.biz_date_ms, "sent", ms(now), held_until)
        self.recent.put(key, seen)
        decision = decision.but(held_until=local(held_until, schedule.zone).isoformat() if held else None)
        if not claims.sent(now, instance.status if instance else None, held, decision.dataworks_request_id):
            return decision.but(reason=f"{decision.reason}; the ledger could not record the send")
        if book is not None and not held:
            self._note_seen(book, key, schedule, seen, call)
        return decision

    def _past_waiting(self, instance: Instance, key: tuple, schedule: Schedule, book: Optional[Book],
                      landed: bool, call: Invocation) -> None:
        """The look-up shows the instance past waiting: remembered here, and marked done in the ledger."""
        seen = Seen(instance.cycle_ms, instance.biz_date_ms, "sent" if landed else instance.status, ms(call.now()))
        self.recent.put(key, seen)
        if book is not None:
            api, workspace, _, node = key[:4]
            self._recorded(lambda: book.mark_done(api, workspace, node, schedule.biz_date, schedule.cycle_ms), call)
            self._note_seen(book, key, schedule, seen, call)

    def _absent(self, key: tuple, schedule: Schedule, book: Optional[Book], call: Invocation) -> None:
        """The look-up listed no instance for the date: its retries fail as it did, for ABSENT_S, with no call."""
        seen = Seen(schedule.cycle_ms or 0, schedule.biz_date_ms, ABSENT, ms(call.now()))
        self.recent.put(key, seen)
        if book is not None:
            self._note_seen(book, key, schedule, seen, call)

    def _note_seen(self, book: Book, key: tuple, schedule: Schedule, seen: Seen, call: Invocation) -> None:
        """What this decision saw become of the instance, for the deliveries of every other FC instance."""
        api, workspace, _, node = key[:4]
        sighting = Sighting(seen.cycle_ms, seen.biz_date_ms, seen.what, seen.at_ms)
        self._recorded(lambda: book.note_seen(api, workspace, node, schedule.biz_date, schedule.cycle_ms, sighting),
                       call)

    def _ledger_seen(self, rule: Rule, key: tuple, schedule: Schedule, call: Invocation) -> Optional[Seen]:
        """What another delivery saw become of the instance in the last TTL_S seconds (the ledger's `seen`), as this
        FC instance's memory would say it: answered with no DataWorks call, and remembered here too. An older
        sighting (a rerun by hand may have followed), or a ledger that cannot say within this decision's share of
        the time, leaves the decision to the look-up."""
        api, workspace, _, node = key[:4]
        share, now = call.share(), ms(call.now())
        sighting = self._recorded(lambda: share.book_for(rule).seen(api, workspace, node, schedule.biz_date,
                                                                     schedule.cycle_ms), share)
        if sighting is None or not now - TTL_S * 1000 < sighting.at_ms <= now + GRACE.total_seconds() * 1000:
            return None
        seen = Seen(sighting.cycle_ms, sighting.biz_date_ms, sighting.what, sighting.at_ms, ledger=True)
        self.recent.put(key, seen)
        return _young(seen, call)

    def look(self, rule: Rule, target: Target, schedule: Schedule, call: Invocation) -> Instance:
        """The instance as DataWorks lists it now (retried within the deadline; raises GaveUp, Unresolved), for the
        sweep's overdue check. One past waiting is remembered, here and in the ledger, as a release's look-up is."""
        port = call.port_for(rule)
        instance = with_retries(lambda attempt: self._look_up(port, rule, target, schedule, call, True), call.deadline,
                                self.backoff, self.sleep, self.observe, call.silence.reach(call.endpoint_for(rule)))[0]
        if not instance.waiting:
            key = (rule.api, target.workspace, rule.env, target.node, schedule.biz_date_ms, schedule.cycle_ms)
            self._past_waiting(instance, key, schedule, call.book_for(rule), False, call)
        return instance

    def _recorded(self, write: Callable[[], T], call: Invocation) -> Optional[T]:
        """A ledger write after the fact, retried within the deadline; its failure leaves the ledger behind,
        never the release (None)."""
        try:
            return with_retries(lambda attempt: write(), call.deadline, self.backoff, self.sleep)[0]
        except GaveUp:
            return None

    def _note_asked(self, release: Release, schedule: Schedule, call: Invocation) -> None:
        """An MNS or timer event asked for this release: the sweep's evidence for the date (best effort: the event
        itself goes on, and FC's retry notes it again)."""
        rule = release.rule
        if rule.expect is not None and sources.get(rule.on).asks:
            book = call.book_for(rule)
            self._recorded(lambda: book.note_asked(rule.name, release.target.node, schedule.biz_date,
                                                   release.base.event_id), call)

    def _look_up(self, port: DataWorks, rule: Rule, target: Target, schedule: Schedule, call: Invocation,
                 fresh: bool) -> Instance:
        """The instance, from the node's listing for the business date: one taken a moment ago (recent.Listings)
        unless `fresh`. A new listing's other cycle instances already past waiting (an hourly node's earlier hours)
        are remembered as the chosen one is, so their own events need no look-up."""
        key = (rule.api, target.workspace, rule.env, target.node, schedule.biz_date_ms)
        now = ms(call.now())
        listed = None if fresh else self.listings.get(key, now, schedule.cycle_ms)
        if listed is None:
            also = () if fresh else self._siblings(port, rule, target, schedule, call, now)
            if not also:
                listed = port.list_instances(target.workspace, rule.env, target.node, schedule.biz_date,
                                             schedule.biz_date_ms, call.deadline)
                self._listed(key, now, listed, schedule.cycle_ms)
            else:           # one listing for this node and the event's other nodes: each keeps its own instances
                every = port.list_many(target.workspace, rule.env, (target.node,) + also, schedule.biz_date,
                                       schedule.biz_date_ms, call.deadline)
                for node in also:
                    self._listed(key[:3] + (node,) + key[4:], now, [i for i in every if i.node == node], None)
                listed = [i for i in every if i.node == target.node]
                self._listed(key, now, listed, schedule.cycle_ms)
        return choose(listed, target.node, schedule.biz_date, schedule.zone, schedule.cycle_ms)

    def _listed(self, key: tuple, now: int, listed: List[Instance], asked_ms: Optional[int]) -> None:
        """A new listing of a node's business date, shared for FRESH_S (recent.Listings). Its cycle instances
        already past waiting (an hourly node's earlier hours) are remembered as a release's own instance is, so
        their events need no look-up; but the one scheduled at `asked_ms`, which the release at hand decides."""
        self.listings.put(key, now, listed)
        node, biz_ms = key[3], key[4]
        for other in listed:
            if other.node == node and other.cycle and not other.waiting and not other.frozen \
                    and other.cycle_ms != asked_ms and other.biz_date_ms == biz_ms:
                self.recent.put(key + (other.cycle_ms,), Seen(other.cycle_ms, other.biz_date_ms, other.status, now))

    def _siblings(self, port: DataWorks, rule: Rule, target: Target, schedule: Schedule, call: Invocation,
                  now: int) -> Tuple[int, ...]:
        """The nodes of the event's releases still to decide that one listing with this one's can serve, where a
        listing names several (2024-05-18): those looked up through the same endpoint and role, of the same
        workspace, environment and business date, none of them listed a moment ago."""
        if port.nodes_per_listing < 2 or not call.pending:
            return ()
        mine = (rule.api, target.workspace, rule.env, call.endpoint_for(rule), rule.role_arn)
        found: List[int] = []
        for other in call.pending:
            node = other.target.node
            if not other.target.lookup or node == target.node or node in found or (
                    other.rule.api, other.target.workspace, other.rule.env, call.endpoint_for(other.rule),
                    other.rule.role_arn) != mine:
                continue
            try:
                when = resolve(other.rule, other.target, other.captures, other.event)
            except ScheduleError:
                continue
            if when.biz_date_ms == schedule.biz_date_ms and self.listings.get(
                    (rule.api, target.workspace, rule.env, node, when.biz_date_ms), now) is None:
                found.append(node)
                if len(found) + 1 == port.nodes_per_listing:
                    break
        return tuple(found)

    def _after_refusal(self, planned: Decision, release: Release, schedule: Schedule, call: Invocation,
                       sent: _Sent, attempts: int) -> Decision:
        """`lookup: false` and DataWorks refused the trigger: one look-up tells a redelivery (the instance ran)
        from a real failure, so a redelivered event does not fail forever."""
        try:
            instance = self._look_up(call.port_for(release.rule), release.rule, release.target, schedule, call, True)
        except (Unresolved, DataWorksError, NoTimeLeft):
            instance = None
        if instance is None or instance.waiting:
            return _failed(planned, sent.refused, attempts)
        return _ran(_with_times(planned, instance.biz_date_ms, instance.cycle_ms, schedule), instance, sent.landed,
                    attempts)


class _InFlight(Exception):
    """Another delivery's send stands unresolved between the instance and ours (ledger.Busy)."""

    def __init__(self, entry: Optional[Entry]):
        super().__init__("another send is in flight")
        self.entry = entry


def _releases(rule: Rule, captures: Mapping[str, Any], event: Event, base: Decision) -> List[Release]:
    return [Release(rule, target, event, captures, base.but(rule=rule.name, workspace=target.workspace,
                                                            node=target.node))
            for target in rule.trigger]


def required(rule: Rule, captures: Mapping[str, Any], event: Event, schedule: Schedule) -> List[Wanted]:
    """What the gate checks before a release: the rule's evidence (evidence.files, from the event's captures)
    less the object whose landing this event reports."""
    if not getattr(rule, "require", ()):
        return []
    return [w for w in files(rule, captures, schedule, event.bucket)
            if not (w.bucket == event.bucket and w.key.match(event.key or "") is not None)]


def _dry_run(release: Release, schedule: Schedule, wanted: List[Wanted]) -> str:
    target, rule = release.target, release.rule
    calls = describe(rule.api, target.workspace, rule.env, target.node, schedule.biz_date, schedule.biz_date_ms,
                     schedule.cycle_ms, target.lookup)
    checks = f"would check {', '.join(map(str, wanted))}, then " if wanted else "would "
    return f"dry run, nothing sent; {checks}call " + " then ".join(str(c) for c in calls)


def _holding(found: Decision, entry: Entry, schedule: Schedule, attempts: int) -> Decision:
    """The ledger shows a trigger DataWorks accepted that still stands (ledger.Stands): nothing is sent again."""
    def at(ms_: int) -> str:
        return local(ms_, schedule.zone).isoformat()

    if entry.held_until is not None:
        return found.but(outcome=ALREADY, attempts=attempts, held_until=at(entry.held_until),
                         reason=f"held since {at(entry.sent_at)}: DataWorks holds the trigger until the instance's "
                                f"parents and time allow, or until {at(entry.held_until)}")
    return found.but(outcome=ALREADY, attempts=attempts,
                     reason=f"another delivery sent its trigger at {at(entry.sent_at)}")


def _in_flight(planned: Decision, entry: Optional[Entry], schedule: Schedule, attempts: int) -> Decision:
    """Another delivery's send (ledger.Busy) did not settle within this invocation: nothing is known of it, so
    nothing is said done; FC's retry decides again (by then it settled, or its claimer's deadline passed)."""
    since = f" at {local(entry.claimed_at, schedule.zone).isoformat()}" if entry is not None else ""
    return planned.but(outcome=FAILED, error_code="SendInFlight", retryable=True, attempts=attempts,
                       reason=f"another delivery claimed this instance{since} and is sending its trigger; its outcome "
                              "was not known before this invocation's deadline, so FC's retry decides again")


def _young(seen: Optional[Seen], call: Invocation) -> Optional[Seen]:
    """What was seen, unless it is an absence older than ABSENT_S by the invocation's clock (the instance may have
    been generated since)."""
    if seen is not None and seen.what == ABSENT and not 0 <= ms(call.now()) - seen.at_ms < ABSENT_S * 1000:
        return None
    return seen


def _remembered(planned: Decision, seen: Seen, schedule: Schedule) -> Decision:
    """This FC instance saw the instance released or past waiting lately, or not generated yet (recent.py):
    nothing is called."""
    def at(ms_: int) -> str:
        return local(ms_, schedule.zone).isoformat()

    if seen.what == ABSENT:
        return planned.but(outcome=FAILED, error_code="InstanceNotFound", retryable=True, reason=(
            f"{'the ledger says a' if seen.ledger else 'a'} look-up at {at(seen.at_ms)} listed no cycle instance for "
            f"business date {schedule.biz_date} (instances are generated the day before; not looked up again "
            f"within {ABSENT_S:.0f} s): FC's retry decides again"))

    found = _with_times(planned, seen.biz_date_ms, seen.cycle_ms, schedule).but(outcome=ALREADY)
    if seen.held_until_ms is not None:
        return found.but(held_until=at(seen.held_until_ms), reason=(
            f"held since {at(seen.at_ms)}: this FC instance sent its trigger then, and DataWorks holds it until the "
            f"instance's parents and time allow, or until {at(seen.held_until_ms)}"))
    if seen.ledger:
        how = "a delivery released it" if seen.what == "sent" else f"a look-up saw it {seen.what}"
        return found.but(reason=f"the ledger says {how} at {at(seen.at_ms)} (not looked up again)")
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
    return _failed(planned, e.error, e.attempts, gave_up=e.deadline, landed=landed, unreached=e.unreached)


def _failed(planned: Decision, e: RemoteError, attempts: int, gave_up: bool = False, landed: bool = False,
            unreached: bool = False) -> Decision:
    """A failed decision; `landed`: a trigger was sent and no answer came, so it may have been accepted (the
    look-up of FC's retry tells, and then says already_triggered)."""
    dataworks = isinstance(e, DataWorksError)
    return planned.but(outcome=FAILED, error_code=e.code, retryable=e.retryable, attempts=attempts,
                       dataworks_request_id=e.request_id if dataworks else None,
                       reason=("" if dataworks else "OSS: ") + e.message
                       + (f" (OSS request {e.request_id})" if e.request_id and not dataworks else "")
                       + (" (retries stopped at the deadline)" if gave_up else "")
                       + (" (retries stopped: the endpoint could not be reached)" if unreached else "")
                       + ("; a trigger was sent and got no answer: it may have landed" if landed else ""))


def _unread(item: Parsed) -> Decision:
    base = Decision(FAILED, item.source, item.event_id, error_code="DeadlineExceeded", retryable=True,
                    reason="the invocation's deadline came before this record and the ones after it in the event were "
                           "decided; FC's retry runs the event again")
    return base if isinstance(item, Rejected) else base.but(bucket=item.bucket, key=item.key, topic=item.topic,
                                                           queue=item.queue, message_id=item.message_id,
                                                           timer=item.timer)


def _internal(d: Decision, e: Exception) -> Decision:
    return d.but(outcome=FAILED, error_code="InternalError", retryable=True,
                 reason=f"dwtrigger could not decide ({type(e).__name__}); FC's retry runs the event again")


def _with_times(d: Decision, biz_ms: int, cycle_ms: Optional[int], schedule: Schedule) -> Decision:
    return d.but(biz_date=f"{local(biz_ms, schedule.zone):%Y-%m-%d}", biz_date_ms=biz_ms,
                 cycle_time=local(cycle_ms, schedule.zone).isoformat() if cycle_ms is not None else None,
                 cycle_time_ms=cycle_ms)
