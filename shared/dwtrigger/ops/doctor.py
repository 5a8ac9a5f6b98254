"""`dwtrigger doctor`: why a rule's HTTP trigger node did not (or will not) fire, condition by condition. Read-only.

DataWorks runs an HTTP trigger node's instance when it exists (instances are generated T+1), waits for its
trigger, all its parents succeeded, its scheduled time has passed, its resource group has room and the node is
not frozen; a trigger sent before the parents and time allow is held for 24 hours. `gather` asks DataWorks
through the port the relay uses (the look-up, the node's parents and their instances), reads the rule's
`require` files for the date as the relay's gate and the sweep read them (evidence.py) and reads the rule's
ledger; it never triggers or writes anything. `diagnose` turns those facts into checks with no I/O, so every
check is the same for both APIs and testable alone, and `verdict` adds them up: fired (released: it ran, runs or
waits for resources), will fire (nothing blocks it; at most its time has not come), blocked, or not known. The
command prints them (or JSON) and exits 0 when every node fired or will fire, 1 when one is blocked, 2 when the
doctor could not ask (a refusal names the RAM action to grant: ram.py) or was asked wrongly.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar
from zoneinfo import ZoneInfo

import click

from .. import app, evidence, sources
from ..dataworks import (FAILED, NOT_RUN, RUNNING, SUCCEEDED, WAIT_RESOURCE, WAIT_TIME, WAIT_TRIGGER, Instance,
                         Parent, epoch_ms, local)
from ..ledger import Book, Entry, Slot, ms
from ..relay import UNREACHED_AFTER, Invocation, Silence
from ..retry import Backoff, GaveUp, with_retries
from ..rule import Rule, Target
from ..rules import RulesError, load_rules
from ..schedule import ONE_DAY, Schedule
from . import fc, ram
from .reach import Refused, When, clock, reaching, require_keys

T = TypeVar("T")
OK, FAIL, SKIP, ERROR = "✔", "✘", "-", "?"


@dataclass(frozen=True)
class Check:
    """One condition: `ok` None when it could not be judged (`error`: because a call failed). A failed check
    `blocks` the instance unless it only says its time has not come (it fires then, nothing else needed)."""
    key: str                   # stable, for JSON readers: instance, waiting, parents, time, resources, frozen, ...
    name: str
    ok: Optional[bool]
    detail: str
    advice: Optional[str] = None
    error: bool = False
    blocks: bool = True

    def line(self) -> str:
        mark = OK if self.ok else FAIL if self.ok is False else ERROR if self.error else SKIP
        return f"{mark} {self.name}: {self.detail}" + (f" -> {self.advice}" if self.advice else "")


class Unanswered(Exception):
    """A call (DataWorks, OSS or the ledger) failed after its retries: the text says which and why; `advice` what to
    grant when it was refused for want of a permission."""

    def __init__(self, text: str, advice: Optional[str] = None):
        super().__init__(text)
        self.advice = advice


@dataclass(frozen=True)
class Kin:
    """A parent and its cycle instances of the business date that counts (the one before, across cycles)."""
    parent: Parent
    biz_date: date
    instances: Tuple[Instance, ...]


@dataclass(frozen=True)
class Send:
    """What the ledger holds for the instance: its last claim's number and entry (None: none, or unreadable)."""
    where: str
    number: int
    entry: Optional[Entry]


@dataclass(frozen=True)
class Facts:
    """Everything the checks judge, gathered once per node."""
    rule: Rule
    target: Target
    biz_date: date
    cycle_ms: Optional[int]                      # asked for (--cycle, or the target's `at`)
    now: datetime
    own: Tuple[Instance, ...]                    # the node's cycle instances of the business date
    others: int                                  # listed instances of other nodes, dates or kinds
    instance: Optional[Instance]                 # the one the checks are about
    earlier: Optional[Tuple[date, Tuple[Instance, ...]]] = None   # without one: a date that must have one
    earlier_error: Optional[str] = None
    kin: Optional[Tuple[Kin, ...]] = None        # None: not asked (no instance), or `kin_error`
    kin_error: Optional[Unanswered] = None
    send: Optional[Send] = None                  # None: no ledger, not asked, or `send_error`
    send_error: Optional[Unanswered] = None
    files: Optional[Tuple[Optional[str], str]] = None   # evidence.found: (found, "") or (None, what is missing)
    files_error: Optional[Unanswered] = None

    @property
    def zone(self) -> ZoneInfo:
        return self.rule.timezone


# ---- gathering (the only part that calls out) ----------------------------------------------------------------

def gather(rule: Rule, target: Target, biz_date: date, cycle_ms: Optional[int], now: datetime,
           call: Invocation) -> Facts:
    """The node's facts: its look-up (raises Unanswered when even that fails), then what the checks need."""
    zone, port, look_up = rule.timezone, lambda: call.port_for(rule), (ram.dataworks(rule.api, "look-up"),)
    listed = _ask(call, "the look-up", lambda: port().list_instances(
        target.workspace, rule.env, target.node, biz_date, _midnight(biz_date, zone), call.deadline), look_up)
    own = cycles(listed, target.node, biz_date, zone)
    facts = Facts(rule, target, biz_date, cycle_ms, now, own, len(listed) - len(own), pick(own, cycle_ms))
    if not own and biz_date + ONE_DAY <= now.astimezone(zone).date():
        probe = probe_date(biz_date, now.astimezone(zone).date())
        try:
            found = _ask(call, f"the look-up of {probe}", lambda: port().list_instances(
                target.workspace, rule.env, target.node, probe, _midnight(probe, zone), call.deadline), look_up)
            facts = replace(facts, earlier=(probe, cycles(found, target.node, probe, zone)))
        except Unanswered as e:
            facts = replace(facts, earlier_error=str(e))
    if facts.instance is not None:
        try:
            facts = replace(facts, kin=tuple(_kin(rule, target, biz_date, call)))
        except Unanswered as e:
            facts = replace(facts, kin_error=e)
    slot_ms = facts.instance.cycle_ms if facts.instance is not None else cycle_ms
    if getattr(rule, "require", ()):
        facts = replace(facts, **_files(rule, biz_date, slot_ms, call))
    if rule.ledger and slot_ms is not None:
        slot = Slot(rule.api, target.workspace, target.node, slot_ms)
        try:
            facts = replace(facts, send=_ask(call, "the ledger", lambda: _send(call.book_for(rule), slot),
                                             ("oss:ListObjects", "oss:GetObject"), (rule.ledger.bucket,)))
        except Unanswered as e:
            facts = replace(facts, send_error=e)
    return facts


def _files(rule: Rule, biz_date: date, cycle_ms: Optional[int], call: Invocation) -> dict:
    """The rule's `require` for the business date, as the sweep reads it (evidence.found): an OSS rule's key's
    objects of the date, each with the entries its own captures fill; a timer rule's entries. Not looked for when
    an OSS rule's key names no date (nothing ties an object to this one)."""
    if not sources.get(rule.on).files_dated(rule):
        return {"files": None}
    schedule = Schedule(biz_date, None if cycle_ms is None else local(cycle_ms, rule.timezone), rule.timezone)
    named = [b for b in (*getattr(rule, "buckets", ()), getattr(rule, "bucket", None),
                         *(entry.bucket for entry in rule.require)) if b]
    try:
        return {"files": _ask(call, "the required files", lambda: evidence.found(
            call.store_for(rule), rule, schedule, call.deadline), ("oss:ListObjects", "oss:GetObject"),
            tuple(dict.fromkeys(named)))}
    except Unanswered as e:
        return {"files_error": e}


def _kin(rule: Rule, target: Target, biz_date: date, call: Invocation) -> List[Kin]:
    """Each parent's cycle instances, looked up in its own workspace (read in the rule's time zone: a rule names
    no other; workspaces of one region share theirs unless one was switched)."""
    parents = _ask(call, "the node's parents", lambda: call.port_for(rule).parents(
        target.workspace, rule.env, target.node, call.deadline), (ram.dataworks(rule.api, "parents"),))
    kin = []
    for parent in parents:
        day = biz_date - ONE_DAY if parent.cross_cycle else biz_date
        listed = _ask(call, f"the instances of parent {parent.node}", lambda: call.port_for(rule).list_instances(
            parent.workspace, rule.env, parent.node, day, _midnight(day, rule.timezone), call.deadline),
            (ram.dataworks(rule.api, "look-up"),))
        kin.append(Kin(parent, day, cycles(listed, parent.node, day, rule.timezone)))
    return kin


def _send(book: Book, slot: Slot) -> Send:
    """What the ledger holds for the instance (raises as the book does)."""
    number, entry = book.latest(slot)
    return Send(book.where(slot, number), number, entry)


def _ask(call: Invocation, what: str, ask: Callable[[], T], actions: Sequence[str] = (),
         buckets: Sequence[str] = ()) -> T:
    """One read, retried as the relay retries (transient failures, within the deadline), unless DataWorks could not
    be reached (relay.Silence: then it is not asked again). A refusal for want of a permission names the RAM
    `actions` behind the read (on `buckets`, for OSS) and the policy that grants them."""
    down = call.silence.why()
    if down is not None:
        raise Unanswered(f"{what}: {down}")
    try:
        return with_retries(lambda attempt: ask(), call.deadline, Backoff(), reach=call.silence.reach())[0]
    except GaveUp as e:
        if e.error is None:
            raise Unanswered(f"{what}: no time was left") from None
        advice = ram.grant(actions, buckets) if ram.denied(e.error) and actions else None
        raise Unanswered(f"{what} failed: {e.error}", advice) from None


def _midnight(day: date, zone: ZoneInfo) -> int:
    return epoch_ms(datetime(day.year, day.month, day.day, tzinfo=zone))


# ---- the checks (pure) ---------------------------------------------------------------------------------------

def cycles(listed: Sequence[Instance], node: int, biz_date: date, zone: ZoneInfo) -> Tuple[Instance, ...]:
    """The node's recurring instances of the business date, by scheduled time (a listing may hold others)."""
    return tuple(sorted((i for i in listed if i.node == node and i.cycle
                         and local(i.biz_date_ms, zone).date() == biz_date), key=lambda i: i.cycle_ms))


def pick(own: Sequence[Instance], cycle_ms: Optional[int]) -> Optional[Instance]:
    """The instance scheduled at `cycle_ms`; without one, the only one, or the only one still waiting."""
    if cycle_ms is not None:
        return next((i for i in own if i.cycle_ms == cycle_ms), None)
    waiting = [i for i in own if i.waiting]
    return own[0] if len(own) == 1 else waiting[0] if len(waiting) == 1 else None


def probe_date(biz_date: date, today: date) -> date:
    """A business date the node must have an instance for if it exists at all: the latest one that ran by today,
    or the one before `biz_date`."""
    return today - ONE_DAY if biz_date < today - ONE_DAY else biz_date - ONE_DAY


def diagnose(f: Facts) -> List[Check]:
    """Every check of one node, in the order DataWorks' conditions are documented."""
    checks = [instance_check(f)]
    i = f.instance
    if i is None:
        checks += [Check(key, name, None, "not checked: no instance") for key, name in _NEEDS_INSTANCE]
    else:
        checks += [waiting_check(i, f), parents_check(f), time_check(i, f), resources_check(i), frozen_check(i)]
    if getattr(f.rule, "require", ()):
        checks.append(files_check(f))
    if f.rule.ledger is not None:
        checks += ledger_checks(f)
    return checks


_NEEDS_INSTANCE = (("waiting", "waiting for its trigger"), ("parents", "parents succeeded"),
                   ("time", "scheduled time passed"), ("resources", "not waiting on resources"),
                   ("frozen", "node not frozen"))


def instance_check(f: Facts) -> Check:
    name, day = "instance exists", f"{f.biz_date:%Y-%m-%d}"
    if f.instance is not None:
        return Check("instance", name, True, f"{f.instance.instance_id} (cycle {at(f.instance.cycle_ms, f.zone)})")
    if f.own and f.cycle_ms is not None:
        return Check("instance", name, False, f"none of business date {day} is scheduled at "
                     f"{at(f.cycle_ms, f.zone)}; scheduled: {_times(f.own, f.zone)}",
                     "name one of those with --cycle (and check the rule's `at`)")
    if f.own:
        waiting = sum(i.waiting for i in f.own)
        return Check("instance", name, False, f"{len(f.own)} instances of business date {day}, {waiting or 'none'} "
                     f"waiting: {_times(f.own, f.zone)}", "name one with --cycle 'YYYY-MM-DD HH:MM'")
    run_day = f.biz_date + ONE_DAY
    if run_day > f.now.astimezone(f.zone).date():
        return Check("instance", name, False, f"not generated yet: business date {day} runs on {run_day} and "
                     "DataWorks generates a day's instances the day before it (T+1)",
                     f"ask again from the evening of {day}; nothing can trigger it before then")
    other = f" ({f.others} listed instance(s) of other nodes, dates or kinds ignored: backfill, test and manual " \
            f"runs cannot be triggered; is {f.zone.key} the workspace's time zone?)" if f.others else ""
    if f.earlier is None:
        return Check("instance", name, False, f"none for business date {day}{other}; could not tell why: "
                     f"{f.earlier_error}", _wrong_ids(f))
    probe, found = f.earlier
    if found:
        return Check("instance", name, False, f"none for business date {day}{other}, though the node has one for "
                     f"{probe:%Y-%m-%d} ({found[0].instance_id}): it looks like a date before the node's first "
                     "instance or outside its schedule",
                     "instances start the day after a node is deployed; check the node's schedule in Operation "
                     "Center")
    return Check("instance", name, False, f"none for business date {day} nor for {probe:%Y-%m-%d}{other}: it looks "
                 "like a wrong node or workspace id", _wrong_ids(f))


def _wrong_ids(f: Facts) -> str:
    other = "2024-05-18" if f.rule.api == "2020-05-18" else "2020-05-18"
    return (f"check node {f.target.node} and workspace {f.target.workspace} in rule '{f.rule.name}', its env "
            f"({f.rule.env}) and its api ({f.rule.api}; a workspace on the other Data Studio generation needs "
            f"\"{other}\"); a node deployed today or yesterday has no instance yet")


_AFTER_RELEASE = {WAIT_RESOURCE: "released, it waits for resources", RUNNING: "released, it runs now",
                  SUCCEEDED: "it already ran", FAILED: "it already ran, and failed"}
FIRED = (WAIT_RESOURCE, RUNNING, SUCCEEDED)      # released, and not failed: the trigger did its work


def waiting_check(i: Instance, f: Facts) -> Check:
    name = "waiting for its trigger"
    if i.phase in FIRED:
        return Check("waiting", name, None, f"{i.status}: {_AFTER_RELEASE[i.phase]}", _after_release_advice(i))
    if i.ready:
        return Check("waiting", name, True, f"{i.status}: a trigger releases it now")
    if i.frozen and i.waiting:
        return Check("waiting", name, False, f"{i.status}: the node is frozen, so it does not run",
                     "unfreeze it first (below)")
    if i.phase in (NOT_RUN, WAIT_TIME):
        why, until = ("its time", "then") if i.phase == WAIT_TIME else ("its parents (or its time)", "they allow")
        return Check("waiting", name, False, f"{i.status}: it waits for {why} first",
                     f"a trigger sent now is held by DataWorks until {until} (24 hours at most)",
                     blocks=i.cycle_ms <= ms(f.now))
    return Check("waiting", name, False, f"{i.status}: {_AFTER_RELEASE.get(i.phase, 'not waiting for a trigger')}",
                 _after_release_advice(i))


def _after_release_advice(i: Instance) -> Optional[str]:
    if i.phase == FAILED:
        return "rerun it in Operation Center; a rerun trigger node needs a new trigger"
    if i.phase == SUCCEEDED:
        return "nothing to send; to run it again, rerun it in Operation Center, then send a new trigger"
    return "nothing to send" if i.phase in _AFTER_RELEASE else None


def parents_check(f: Facts) -> Check:
    name = "parents succeeded"
    if f.kin is None:
        return _unchecked("parents", name, f.kin_error)
    if not f.kin:
        return Check("parents", name, True, "the node has no parents")
    problems, advice = [], []
    for kin in f.kin:
        who = f"node {kin.parent.node}" + (f" ({kin.parent.name})" if kin.parent.name else "") + \
            (f", previous cycle {kin.biz_date}" if kin.parent.cross_cycle else "")
        behind = [i for i in kin.instances if i.phase != SUCCEEDED]
        if behind:
            more = f" (and {len(behind) - 1} more of its {len(kin.instances)})" if len(behind) > 1 else ""
            problems.append(f"{who} instance {behind[0].instance_id} is {behind[0].status}{more}")
            advice.append(_parent_advice(behind[0]))
    if problems:
        return Check("parents", name, False, "; ".join(problems), "; ".join(dict.fromkeys(advice)))
    names = ", ".join(str(k.parent.node) for k in f.kin)
    empty = [str(k.parent.node) for k in f.kin if not k.instances]
    return Check("parents", name, True, f"{len(f.kin)} of {len(f.kin)} succeeded ({names})"
                 + (f"; no instance to wait for: {', '.join(empty)}" if empty else ""))


def _parent_advice(i: Instance) -> str:
    if i.frozen:
        return "unfreeze that parent in Operation Center"
    if i.phase == FAILED:
        return "fix and rerun the failed parent in Operation Center"
    if i.phase == WAIT_TRIGGER:
        return "that parent is an HTTP trigger node too: it needs its own trigger"
    return "wait for it (a trigger sent meanwhile is held for 24 hours)"


def time_check(i: Instance, f: Facts) -> Check:
    left = timedelta(milliseconds=i.cycle_ms - ms(f.now))
    if left <= timedelta(0):
        return Check("time", "scheduled time passed", True, at(i.cycle_ms, f.zone))
    return Check("time", "scheduled time passed", False, f"{at(i.cycle_ms, f.zone)}, {_span(left)} from now",
                 "DataWorks runs it no earlier; a trigger sent before is held (24 hours)", blocks=False)


def resources_check(i: Instance) -> Check:
    if i.phase == WAIT_RESOURCE:
        return Check("resources", "not waiting on resources", False, f"{i.status}: released, queued for its "
                     "resource group", "the group is full: wait, or give it capacity (or another group) in "
                     "Operation Center")
    return Check("resources", "not waiting on resources", True, i.status)


def frozen_check(i: Instance) -> Check:
    if i.frozen:
        return Check("frozen", "node not frozen", False, f"the node is frozen (paused): instance {i.instance_id}",
                     "unfreeze (resume) it in Operation Center, then send the trigger again")
    return Check("frozen", "node not frozen", True, "not frozen")


def files_check(f: Facts) -> Check:
    """The rule's `require` for the date, read as the relay's gate and the sweep read it (evidence.found)."""
    name = "required files there"
    if f.files_error is not None:
        return _unchecked("files", name, f.files_error)
    if f.files is None:
        return Check("files", name, None, "not checked: the rule's key names no {bizdate} or {cycle}, so no object "
                     "is tied to a business date; the relay checks `require` for each event")
    found, missing = f.files
    day = f"business date {f.biz_date}" + (f", cycle {at(f.instance.cycle_ms, f.zone)}" if f.instance else "")
    if found is not None:
        return Check("files", name, True, f"{day}: {found}")
    send = f"dwtrigger trigger --rule {f.rule.name} --bizdate {f.biz_date}"
    how = sources.get(f.rule.on).released_by
    return Check("files", name, False, f"{day}: {missing}",
                 f"land them: {how} (once all are there, the sweep does for a rule with `expect:`, or {send})")


def _unchecked(key: str, name: str, e: Unanswered, why: str = "could not check") -> Check:
    return Check(key, name, None, f"{why}: {e}", e.advice, error=True)


def ledger_checks(f: Facts) -> List[Check]:
    sent, hold = ("ledger_sent", "trigger sent (ledger)"), ("ledger_hold", "hold not expired (ledger)")
    if f.send_error is not None:
        return [_unchecked(*sent, f.send_error, "could not read"),
                Check(*hold, None, "not checked: the ledger could not be read")]
    if f.send is None:
        return [Check(*key, None, "not checked: no instance or --cycle names its entry") for key in (sent, hold)]
    entry, where = f.send.entry, f.send.where
    if f.send.number == 0:
        ran = f.instance is not None and not f.instance.waiting
        return [Check(*sent, False, f"none on record ({where})",
                      "it ran without a send of dwtrigger's (by hand, or before the ledger)" if ran else
                      "no event asked for it: did the event arrive and match (`dwtrigger explain`)? "
                      f"Or send it: dwtrigger trigger --rule {f.rule.name} --bizdate {f.biz_date}"),
                Check(*hold, None, "not checked: no send on record")]
    if entry is None:
        return [Check(*sent, False, f"claim {f.send.number} cannot be read ({where})",
                      "it is not the ledger's: remove it"), Check(*hold, None, "not checked: no send on record")]
    if entry.state != "sent":
        detail = f"claim {f.send.number} is {entry.state} since {at(entry.claimed_at, f.zone)} ({where})"
        again = "the next delivery (or the sweep) looks it up and sends if it still waits, or `dwtrigger trigger`"
        if entry.state == "sending" and ms(f.now) < entry.live_until:
            check = Check(*sent, True, f"{detail}: a delivery is sending it (its deadline passes "
                                       f"{at(entry.live_until, f.zone)})")
        elif entry.state == "failed":
            check = Check(*sent, False, detail, f"its send did not happen: {again}")
        else:
            check = Check(*sent, False, f"{detail}: " + (
                "its sender stopped before it could say whether it sent" if entry.state == "sending" else
                f"a trigger went out {at(entry.sent_at, f.zone)} and got no answer"),
                f"whether DataWorks took it is not known: {again}")
        return [check, Check(*hold, None, "not checked: no send on record")]
    request = f", request {entry.request_id}" if entry.request_id else ""
    done = Check(*sent, True, f"claim {f.send.number} sent {at(entry.sent_at, f.zone)} while "
                 f"{entry.status or 'not looked up'}{request}")
    if entry.held_until is None:
        return [done, Check(*hold, True, "not held: it was waiting for its trigger when sent")]
    until = at(entry.held_until, f.zone)
    if ms(f.now) < entry.held_until and f.instance is not None and f.instance.ready:
        return [done, Check(*hold, False, f"on record until {until}, yet the instance waits for its trigger alone: "
                            "no trigger is held (it was rerun, or DataWorks dropped it)",
                            f"send it: dwtrigger trigger --rule {f.rule.name} --bizdate {f.biz_date} (a held claim "
                            "does not stop it)")]
    if ms(f.now) < entry.held_until:
        return [done, Check(*hold, True, f"DataWorks holds it until {until}: it fires once its parents and time "
                            "allow")]
    if f.instance is not None and not f.instance.waiting:
        return [done, Check(*hold, True, f"the hold ended {until}; the instance ran")]
    return [done, Check(*hold, False, f"expired {until}: DataWorks dropped the trigger",
                        "send it again: the sweep does for a rule with `expect:`, or dwtrigger trigger --rule "
                        f"{f.rule.name} --bizdate {f.biz_date}")]


def at(epoch_ms_: int, zone: ZoneInfo) -> str:
    moment = local(epoch_ms_, zone)
    return f"{moment:%Y-%m-%d %H:%M} {moment.isoformat()[-6:]}"


def _times(instances: Sequence[Instance], zone: ZoneInfo) -> str:
    return ", ".join(f"{local(i.cycle_ms, zone):%H:%M} {i.status}" for i in instances)


def _span(left: timedelta) -> str:
    minutes = -(-int(left.total_seconds()) // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


# ---- the command ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """What the checks add up to for one node: `word` fired, will fire (nothing blocks it), blocked, or not known
    (a call failed), and why in a few words."""
    word: str
    why: str

    @property
    def status(self) -> int:
        """The exit status it calls for: 0 fired or will fire, 1 blocked, 2 not known."""
        return {FIRES: 0, WILL_FIRE: 0, BLOCKED: 1}.get(self.word, 2)


FIRES, WILL_FIRE, BLOCKED, NOT_KNOWN = "fired", "will fire", "blocked", "not known"


def verdict(f: Facts, checks: Sequence[Check]) -> Verdict:
    """Fired when DataWorks released the instance (whatever else failed since: it ran, runs or queues); else not
    known when a check could not be asked, blocked when a check that blocks failed, and will fire otherwise (at
    most its time has not come)."""
    i = f.instance
    if i is not None and i.phase in FIRED:
        return Verdict(FIRES, f"{i.status}: {_AFTER_RELEASE[i.phase]}")
    unknown = [c.name for c in checks if c.error]
    if unknown:
        return Verdict(NOT_KNOWN, f"could not check: {', '.join(unknown)}")
    blocking = [c.name for c in checks if c.ok is False and c.blocks]
    if blocking or i is None:
        return Verdict(BLOCKED, f"failed: {', '.join(blocking)} (what to do: above)")
    if not i.ready:
        return Verdict(WILL_FIRE, f"nothing blocks it; it waits for its time, {at(i.cycle_ms, f.zone)}")
    return Verdict(WILL_FIRE, "nothing blocks it; it waits for its trigger alone, which releases it now")


def report(f: Facts, checks: List[Check], judged: Verdict) -> dict:
    """One node's part of the JSON."""
    i = f.instance
    found = None if i is None else {"id": i.instance_id, "status": i.status, "cycle_ms": i.cycle_ms,
                                    "cycle_time": local(i.cycle_ms, f.zone).isoformat()}
    return {"node": f.target.node, "workspace": f.target.workspace, "env": f.rule.env, "api": f.rule.api,
            "timezone": f.zone.key, "instance": found, "ok": _ok(judged.status), "verdict": judged.word,
            "why": judged.why, "checks": [asdict(c) for c in checks]}


def _ok(status: int) -> Optional[bool]:
    return None if status == 2 else status == 0


def _unanswered(rule: Rule, target: Target, biz_date: date, now: datetime, e: Unanswered,
                scrub) -> Tuple[Facts, List[Check]]:
    """A node whose look-up failed: nothing else can be judged."""
    facts = Facts(rule, target, biz_date, None, now, (), 0, None)
    return facts, [Check("instance", "instance exists", None, f"could not check: {scrub(str(e))}", e.advice,
                         error=True)]


@click.command("doctor")
@click.option("--rule", "rule_name", required=True, help="The rule whose nodes to examine.")
@click.option("--bizdate", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The business date.")
@click.option("--cycle", type=click.DateTime(["%Y-%m-%d %H:%M"]),
              help="The instance's scheduled time (local, on the day after the business date).")
@click.option("--node", type=int, help="Only this node of the rule.")
@click.option("--rules", "rules_path", default="rules.yaml", show_default=True, envvar="DWTRIGGER_RULES",
              show_envvar=True, help="The rules file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--now", type=When(), help="Judge as if it were this time (ISO 8601 with a UTC offset).  [default: now]")
@click.option("--timeout", default=60, show_default=True, help="The time budget for all calls (s).")
@reaching
def doctor(rule_name, bizdate, cycle, node, rules_path, as_json, now, timeout, environ):
    """Read-only: for each node of a rule, the conditions DataWorks needs to run its HTTP trigger instance of a
    business date (and the rule's `require` files), each passed or failed with what to do, then a verdict. Exit 0
    when every instance fired or will fire, 1 when something blocks one, 2 when it could not check (a call failed
    or was refused) or was asked wrongly."""
    when = now or clock(environ)()              # an emulator's world runs on its own clock
    try:
        rules = load_rules(rules_path)
        rule = rules.named(rule_name)
    except (RulesError, LookupError) as e:
        raise Refused(str(e)) from None
    targets = [t for t in rule.trigger if node is None or t.node == node]
    if not targets:
        raise Refused(f"rule '{rule.name}' triggers no node {node} (its nodes: "
                f"{', '.join(str(t.node) for t in rule.trigger)})")
    biz_date = bizdate.date()
    if cycle is not None and cycle.date() != biz_date + ONE_DAY:
        raise Refused(f"--cycle {cycle:%Y-%m-%d %H:%M} is not on the run day of business date {biz_date} "
                f"({biz_date + ONE_DAY})")
    require_keys(environ)
    runtime = app.Runtime(rules, environ=environ, wall_clock=lambda: when, silence=Silence(UNREACHED_AFTER))
    call, keys = runtime.invocation(fc.context_for("doctor", timeout=timeout), time.monotonic())
    results = []
    for target in targets:
        at_ = cycle or (datetime.combine(biz_date + ONE_DAY, target.at) if target.at else None)
        cycle_ms = epoch_ms(at_.replace(tzinfo=rule.timezone)) if at_ else None
        try:
            facts = gather(rule, target, biz_date, cycle_ms, when, call)
            facts_checks = facts, [_scrubbed(c, keys.scrub) for c in diagnose(facts)]
        except Unanswered as e:
            facts_checks = _unanswered(rule, target, biz_date, when, e, keys.scrub)
        results.append((*facts_checks, verdict(*facts_checks)))
    status = max(judged.status for _, _, judged in results)
    if as_json:
        click.echo(json.dumps({"rule": rule.name, "biz_date": f"{biz_date}", "now": when.isoformat(),
                               "ok": _ok(status), "nodes": [report(*r) for r in results]},
                              indent=2, ensure_ascii=False))
    else:
        for f, checks, judged in results:
            click.echo(f"{rule.name}: node {f.target.node} in workspace {f.target.workspace} ({rule.env}, API "
                       f"{rule.api}, {f.zone.key}), business date {biz_date}")
            for check in checks:
                click.echo(f"  {check.line()}")
            click.echo(f"  => {judged.word}: {judged.why}")
    sys.exit(status)


def _scrubbed(check: Check, scrub) -> Check:
    return replace(check, detail=scrub(check.detail), advice=check.advice and scrub(check.advice))
