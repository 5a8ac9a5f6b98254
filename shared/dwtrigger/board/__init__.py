"""The day's board: for each rule, node and business date, what shows the release is due (evidence.py, as the gate
and the sweep read it), what the ledger holds (sends, holds, notices), what DataWorks says, and the verdict.

`build` gathers and judges; `dwtrigger status` (ops/status.py) prints it, `page.render` draws it, and the sweep
publishes the page when `defaults.status_page` is set (`publish`). Which rows: the rules in play with `expect` (the
sweep's candidates: it checks them, so the board shows them) or a `ledger` (it holds their sends and holds), each
node, for the last `expect.days` business dates (1 without `expect`) as of now in the rule's zone, or the dates
asked for; a rule named alone is shown whatever it keeps.

DataWorks is asked through a `Look` — the command line's `Live` (paced at DWTRIGGER_SWEEP_QPS, retried within the
deadline, and not asked again once relay.Silence knows its endpoint down) or the sweep's `Learned` (what the run's
own look-ups listed: the published page costs no DataWorks call) — and frugally: a release the ledger knows is done
is not looked up unless its run times are wanted (the page's timeline), nor a date without evidence before it is
due. Every time is in the rule's (the workspace's) zone. The JSON schema (`Board`, version SCHEMA) is stable:
fields are added, never renamed or dropped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import msgspec

from .. import evidence, sources
from ..dataworks import FAILED, RUNNING, SUCCEEDED, WAIT_RESOURCE, Instance, local
from ..evidence import Evidence
from ..ledger import Entry, Notice, ms
from ..outcomes import FAILED as FAILED_OUTCOME, OVERDUE, TRIGGERED, Decision
from ..relay import Invocation
from ..retry import Backoff, GaveUp, with_retries
from ..rule import Rule, RuleSet, Target
from ..schedule import ONE_DAY, Schedule
from ..sweep import EVIDENCE_S, candidate_share
from .look import Learned, Live, Look, NotAsked

__all__ = ["SCHEMA", "VERDICTS", "Board", "Row", "File", "Send", "Noticed", "Run", "Look", "Learned", "Live",
           "NotAsked", "build", "dates", "encode", "judge", "shown", "status"]

SCHEMA = 1
RELEASED, FAILED_, OVERDUE_ = "released", "failed", "overdue"
WAITING_FILES, WAITING_TIME, WAITING_TRIGGER = "waiting_for_files", "waiting_for_time_or_parents", "waiting_for_trigger"
NOT_GENERATED, NOT_KNOWN = "not_generated", "not_known"
VERDICTS = (RELEASED, WAITING_TRIGGER, WAITING_TIME, WAITING_FILES, NOT_GENERATED, OVERDUE_, FAILED_, NOT_KNOWN)
RAN = frozenset({WAIT_RESOURCE, RUNNING, SUCCEEDED})      # released by DataWorks: queued, running or done


# ---- the schema (`dwtrigger status --json`; the page draws the same) ------------------------------------------

class File(msgspec.Struct):
    object: str                       # oss://bucket/key (a `require` entry with wildcards: as written)
    landed_at: Optional[str] = None   # its Last-Modified (the page's timeline only)


class Send(msgspec.Struct):
    claim: int                        # the claim's number for the instance
    state: str                        # sending, sent, failed, unknown (ledger.Entry); "unreadable": not ours
    cycle_time: str
    claimed_at: Optional[str] = None
    sent_at: Optional[str] = None
    held_until: Optional[str] = None  # DataWorks holds the trigger until then (its parents or time did not allow)
    status: Optional[str] = None      # the instance's status when it was sent


class Noticed(msgspec.Struct):
    kind: str                         # overdue, released_late, stuck
    noted_at: str
    sent_at: Optional[str] = None     # every channel took it
    delivered: List[str] = []
    channels: List[str] = []
    reason: str = ""


class Run(msgspec.Struct):
    instance: int
    status: str                       # DataWorks' own word
    cycle_time: str
    began_at: Optional[str] = None
    finished_at: Optional[str] = None


class Row(msgspec.Struct):
    rule: str
    node: int
    workspace: int
    biz_date: str                     # YYYY-MM-DD
    timezone: str                     # the rule's (the workspace's): every time of the row is in it
    verdict: str                      # one of VERDICTS
    why: str
    at: Optional[str] = None          # released: when (the run's start, else the trigger's acceptance)
    due: Optional[str] = None         # expect.by on the day after the business date
    cycle_time: Optional[str] = None  # the target's `at`, when it names one
    evidence: Optional[str] = None    # what shows the release is due (None: nothing yet, see `missing`)
    missing: str = ""
    files: List[File] = []
    asked: Optional[str] = None       # the ledger's record that an event asked (MNS, timer)
    done: bool = False                # the ledger knows the instance ran
    sends: List[Send] = []
    notices: List[Noticed] = []
    dataworks: str = ""               # how DataWorks was asked: "asked", or why not / why it did not answer
    instance: Optional[Run] = None


class Board(msgspec.Struct):
    schema: int
    now: str                          # UTC
    rows: List[Row]
    stopped: Optional[str] = None     # why DataWorks was no longer asked, if it was not


def status(board: Board) -> int:
    """The exit status the board calls for, as `doctor`'s verdicts do: 0 nothing is wrong, 1 a release is overdue or
    failed, 2 something could not be checked — a row is not known, or DataWorks stopped answering, so what the
    ledger says went unconfirmed (that wins: the board is not whole)."""
    if board.stopped or any(r.verdict == NOT_KNOWN for r in board.rows):
        return 2
    return 1 if any(r.verdict in (OVERDUE_, FAILED_) for r in board.rows) else 0


# ---- gathering ----------------------------------------------------------------------------------------------

def shown(rules: RuleSet, name: Optional[str] = None) -> List[Rule]:
    """The rules on the board: `name` alone (LookupError if none is), else those with `expect` or a `ledger`."""
    if name is not None:
        return [rules.named(name)]
    return [r for r in rules.rules if r.expect is not None or r.ledger is not None]


def dates(rule: Rule, now: datetime, asked: Optional[date] = None) -> List[date]:
    """The business dates the sweep checks (the last `expect.days` as of now in the rule's zone; 1 without
    `expect`), newest first; or the one asked for."""
    if asked is not None:
        return [asked]
    today = now.astimezone(rule.timezone).date()
    return [today - back * ONE_DAY for back in range(1, (rule.expect.days if rule.expect else 1) + 1)]


def build(rules: Sequence[Rule], now: datetime, call: Invocation, look: Look, *, asked: Optional[date] = None,
          times: bool = False, decided: Sequence[Decision] = (), stopped: Callable[[], Optional[str]] = lambda: None,
          scrub: Callable[[str], str] = lambda text: text) -> Board:
    """The board of `rules` as of `now`. `times`: read what the timeline draws too (each file's Last-Modified, and
    a done release's run). `decided`: the decisions of the sweep run the board follows, which beat what was read
    before they were made. `scrub` cleans every text that came from outside of secrets (the invocation's keys)."""
    said = {(d.rule, d.node, d.biz_date): d for d in decided if d.outcome in (TRIGGERED, FAILED_OUTCOME, OVERDUE)}
    rows = []
    for rule in rules:
        for day in dates(rule, now, asked):
            for target in rule.trigger:
                row = _row(rule, target, day, now, call, look, times, said.get((rule.name, target.node, f"{day}")))
                rows.append(_scrubbed(row, scrub))
    return Board(SCHEMA, now.astimezone(timezone.utc).isoformat(), rows, stopped())


def _scrubbed(row: Row, scrub: Callable[[str], str]) -> Row:
    """The row's texts from outside (reasons, keys, answers) without a secret of the invocation's keys."""
    return msgspec.structs.replace(row, why=scrub(row.why), missing=scrub(row.missing),
                                   evidence=row.evidence and scrub(row.evidence), dataworks=scrub(row.dataworks))


@dataclass
class _Facts:
    rule: Rule
    target: Target
    schedule: Schedule
    now: datetime
    due: Optional[datetime]
    seen: Optional[Evidence] = None
    unread: Optional[str] = None            # why the evidence could not be read
    done: bool = False
    sends: List[Tuple[int, int, Optional[Entry]]] = field(default_factory=list)
    notices: Dict[str, Notice] = field(default_factory=dict)
    instance: Optional[Instance] = None
    looked: bool = False                    # DataWorks answered (instance None: not generated)
    dataworks: str = ""


def _row(rule: Rule, target: Target, day: date, now: datetime, call: Invocation, look: Look, times: bool,
         said: Optional[Decision]) -> Row:
    zone = rule.timezone
    cycle = datetime.combine(day + ONE_DAY, target.at, tzinfo=zone) if target.at else None
    schedule = Schedule(day, cycle, zone)
    due = datetime.combine(day + ONE_DAY, rule.expect.by, tzinfo=zone) if rule.expect else None
    f = _Facts(rule, target, schedule, now, due)
    _read_ledger_and_files(f, call)
    ahead = bool(f.sends) or (f.seen is not None and f.seen.text is not None) or (due is not None and now >= due)
    if f.done and not times:
        f.dataworks = "not asked: the ledger knows it ran"
    elif not (ahead or f.done):
        f.dataworks = "not asked: nothing shows the release is due yet"
    else:
        try:
            f.instance, f.looked, f.dataworks = look(rule, target, schedule), True, "asked"
        except NotAsked as e:
            f.dataworks = f"not known: {e}"
        except Exception as e:  # noqa: BLE001 - a bug costs this row DataWorks' word, never the board
            f.dataworks = f"not known: dwtrigger could not ask ({type(e).__name__})"
    verdict, why, at = judge(f, said)
    return Row(rule.name, target.node, target.workspace, f"{day}", zone.key, verdict, why, at=at,
               due=due and due.isoformat(), cycle_time=cycle and cycle.isoformat(),
               evidence=f.seen.text if f.seen else None,
               missing=f.unread or (f.seen.missing if f.seen else ""),
               files=_files(f, call, times), asked=f.seen.asked if f.seen else None, done=f.done,
               sends=[_send(n, s, e, zone) for s, n, e in f.sends], notices=_notices(f.notices, zone),
               dataworks=f.dataworks, instance=_run(f.instance, zone) if f.instance else None)


def _read_ledger_and_files(f: _Facts, call: Invocation) -> None:
    """The evidence (an OSS rule's files even when done: the timeline draws them), the ledger's sends of the
    day and notices, within the row's own budget (the sweep's for its evidence: a store that hangs costs each row
    its share, never the whole board); a read that fails is said, never raised."""
    rule, target, schedule = f.rule, f.target, f.schedule
    call = candidate_share(call, EVIDENCE_S)
    book = call.book_for(rule)

    def read() -> None:
        if not sources.get(rule.on).asks:
            f.seen = evidence.read(rule, target, schedule, None, lambda: call.store_for(rule), call.deadline)
        elif book is None:
            f.seen = Evidence(missing="the rule keeps no ledger: its evidence is the ledger's record of an event")
        else:
            f.seen = evidence.read(rule, target, schedule, book, lambda: call.store_for(rule), call.deadline)
        f.done = bool(f.seen.done or book is not None and book.is_done(
            rule.api, target.workspace, target.node, schedule.biz_date, schedule.cycle_ms))
        if book is not None:
            start = ms(datetime.combine(schedule.biz_date + ONE_DAY, datetime.min.time(), tzinfo=schedule.zone))
            end = ms(datetime.combine(schedule.biz_date + 2 * ONE_DAY, datetime.min.time(), tzinfo=schedule.zone))
            f.sends = [(s.cycle_ms, n, e) for s, n, e in book.sends(rule.api, target.workspace, target.node, start, end)
                       if schedule.cycle_ms in (None, s.cycle_ms)]
            f.notices = book.notices(rule.name, target.node, schedule.biz_date)

    try:
        with_retries(lambda attempt: read(), call.deadline, Backoff(), time.sleep)
    except GaveUp as e:
        f.unread = "could not read the evidence or the ledger: " + (e.error.message if e.error else "no time left")
    except Exception as e:  # noqa: BLE001 - one row's bug is that row's "not known", never the board's end
        f.unread = f"could not read the evidence or the ledger ({type(e).__name__})"


def judge(f: _Facts, said: Optional[Decision]) -> Tuple[str, str, Optional[str]]:
    """(verdict, why, released at) from the facts; `said`: the sweep run's own decision on the release, the latest
    word there is."""
    zone, i = f.schedule.zone, f.instance
    sent = [e for _, _, e in f.sends if e is not None and e.state == "sent"]
    last = sent[-1] if sent else None
    sent_at = _at(last.sent_at, zone) if last else None
    said_sent = _said(last.sent_at, zone) if last else None
    if said is not None and said.outcome == TRIGGERED and said.held_until:
        return WAITING_TIME, (f"this sweep run sent the trigger; DataWorks holds it until "
                              f"{datetime.fromisoformat(said.held_until):%Y-%m-%d %H:%M}: it runs once its time and "
                              "parents allow"), None
    if said is not None and said.outcome == TRIGGERED:
        return RELEASED, f"released by this sweep run: {said.reason or ''}".rstrip(": "), sent_at or f.now.astimezone(
            zone).isoformat()
    if said is not None:
        return (OVERDUE_ if said.outcome == OVERDUE else FAILED_), said.reason or said.outcome, None
    if f.unread is not None:
        return NOT_KNOWN, f.unread, None
    if i is not None and i.phase == FAILED:
        return FAILED_, f"DataWorks ran it and it failed ({i.status}): rerun it in Operation Center", None
    if i is not None and i.phase in RAN:
        began = _at(i.began_ms, zone) if i.began_ms else sent_at
        return RELEASED, f"DataWorks released it ({i.status})", began
    if f.done:
        return RELEASED, "the ledger knows it ran", sent_at
    if last is not None:
        held = last.held_until is not None and ms(f.now) < last.held_until
        if i is not None and i.ready:
            return WAITING_TRIGGER, (f"a trigger was sent {said_sent}, yet the instance waits for its trigger "
                                     f"({i.status}): the next sweep sends it again"), None
        if held or (i is not None and i.waiting):
            until = f" until {_said(last.held_until, zone)}" if held else ""
            return WAITING_TIME, f"DataWorks holds the trigger sent {said_sent}{until}: it runs once its time and " \
                                 "parents allow", None
        if i is None and not f.looked:
            return RELEASED, f"DataWorks accepted the trigger sent {said_sent} ({f.dataworks})", sent_at
    if f.seen is None or f.seen.text is None:
        missing = f.seen.missing if f.seen else ""
        if f.due is not None and f.now >= f.due:
            return OVERDUE_, f"no evidence by {f.due:%Y-%m-%d %H:%M}: {missing}", None
        return WAITING_FILES, missing, None
    if not f.looked:
        return NOT_KNOWN, f"the evidence is there; DataWorks' state is {f.dataworks}", None
    if i is None:
        return NOT_GENERATED, "the evidence is there; DataWorks has no instance of the date yet (generated T+1)", None
    if i.ready:
        return WAITING_TRIGGER, f"the evidence is there and the instance waits for its trigger ({i.status}): the " \
                                "next sweep (or event) releases it", None
    return WAITING_TIME, f"the evidence is there; the instance waits for its time or parents ({i.status})", None


# ---- the row's parts, in the rule's zone ---------------------------------------------------------------------

def _at(epoch: Optional[int], zone) -> Optional[str]:
    return None if epoch is None else local(epoch, zone).isoformat()


def _said(epoch: int, zone) -> str:
    """A time in a sentence: the row's zone is said once, by the board."""
    return f"{local(epoch, zone):%Y-%m-%d %H:%M}"


def _files(f: _Facts, call: Invocation, times: bool) -> List[File]:
    """The evidence's objects; with `times`, when each landed (a wildcard entry: the first key it matches), each
    best effort (a read that fails leaves the time out)."""
    if f.seen is None:
        return []
    files, call = [], candidate_share(call, EVIDENCE_S)
    for wanted in f.seen.objects:
        landed = None
        if times:
            try:
                store = call.store_for(f.rule)
                key = wanted.key.prefix if wanted.key.is_literal else next(
                    iter(store.find(wanted.bucket, wanted.key, call.deadline, 1)), None)
                moment = key and store.modified(wanted.bucket, key, call.deadline)
                landed = moment.astimezone(f.schedule.zone).isoformat() if moment else None
            except Exception:  # noqa: BLE001 - a time the timeline lacks, never a board that fails
                landed = None
        files.append(File(str(wanted), landed))
    return files


def _send(n: int, cycle_ms: int, e: Optional[Entry], zone) -> Send:
    if e is None:
        return Send(n, "unreadable", _at(cycle_ms, zone))
    return Send(n, e.state, _at(cycle_ms, zone), _at(e.claimed_at, zone), _at(e.sent_at, zone),
                _at(e.held_until, zone), e.status)


def _notices(notices: Mapping[str, Notice], zone) -> List[Noticed]:
    return [Noticed(kind, _at(n.noted_at, zone), _at(n.sent_at, zone), list(n.delivered), list(n.channels),
                    n.reason) for kind, n in sorted(notices.items())]


def _run(i: Instance, zone) -> Run:
    return Run(i.instance_id, i.status, _at(i.cycle_ms, zone), _at(i.began_ms, zone), _at(i.finished_ms, zone))


def encode(board: Board) -> bytes:
    return msgspec.json.encode(board)
