"""How the board asks DataWorks about an instance: `Live` (the command line's) or `Learned` (the sweep's own
look-ups, for the page it publishes). Either answers the instance, None when DataWorks has none of the date yet,
or raises NotAsked saying why it cannot say."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import msgspec

from ..dataworks import DataWorks, Instance
from ..dataworks.choose import Unresolved, choose
from ..relay import SILENT, Invocation
from ..retry import MIN_CALL_S, Backoff, GaveUp, Observer, with_retries
from ..rule import Rule, Target
from ..schedule import Schedule
from ..sweep import RELEASE_S, candidate_share


class NotAsked(Exception):
    """DataWorks was not (or could not be) asked about the instance; the text says why."""


Look = Callable[[Rule, Target, Schedule], Optional[Instance]]     # the instance, None: not generated; NotAsked


@dataclass
class Live:
    """The command line's look-ups: paced (at most `qps` a second, DWTRIGGER_SWEEP_QPS), retried within the
    deadline, each told to relay.Silence, and none on an endpoint it knows down or past the deadline."""
    call: Invocation
    qps: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    observe: Optional[Observer] = None
    made: int = 0
    _last: float = float("-inf")

    def __call__(self, rule: Rule, target: Target, schedule: Schedule) -> Optional[Instance]:
        call, endpoint = self.call, self.call.endpoint_for(rule)
        down = call.silence.down(endpoint)
        if down is not None:
            raise NotAsked(down)
        wait = self._last + 1 / self.qps - self.clock()
        if wait > call.deadline.left() - MIN_CALL_S:
            raise NotAsked("the deadline (--timeout) came before DataWorks could be asked")
        if wait > 0:
            self.sleep(wait)
        self._last, port = self.clock(), call.port_for(rule)
        self.made += 1
        mine = candidate_share(call, RELEASE_S)          # a look-up's budget, as the sweep gives one
        try:
            listed = with_retries(lambda attempt: _listed(port, rule, target, schedule, mine), mine.deadline,
                                  Backoff(), self.sleep, self.observe, call.silence.reach(endpoint))[0]
        except GaveUp as e:
            said = e.error.message if e.error is not None else "no time was left"
            if e.error is not None and e.error.code in SILENT:
                call.silence.unheard(endpoint, said)
            raise NotAsked(f"DataWorks did not answer: {said}") from None
        call.silence.heard(endpoint)
        return _chosen(listed, target, schedule)


class Learned:
    """The sweep's look-ups, kept as they were listed (`watch` wraps a run's DataWorks ports): the page built after
    the run judges by them and asks DataWorks nothing more."""

    def __init__(self) -> None:
        self.listings: Dict[Tuple, List[Instance]] = {}

    def watch(self, call: Invocation) -> Invocation:
        return msgspec.structs.replace(call, port_for=lambda rule: _Recording(call.port_for(rule), self.listings))

    def __call__(self, rule: Rule, target: Target, schedule: Schedule) -> Optional[Instance]:
        listed = self.listings.get((target.workspace, rule.env, target.node, schedule.biz_date))
        if listed is None:
            raise NotAsked("not looked up by this sweep run")
        return _chosen(listed, target, schedule)


class _Recording(DataWorks):
    """A port that keeps each listing it passes on (the sweep's look-ups, for its page)."""

    def __init__(self, port: DataWorks, listings: Dict[Tuple, List[Instance]]):
        self.port, self.listings = port, listings

    def list_instances(self, workspace, env, node, biz_date, biz_date_ms, deadline):
        listed = self.port.list_instances(workspace, env, node, biz_date, biz_date_ms, deadline)
        self.listings[(workspace, env, node, biz_date)] = listed
        return listed

    def parents(self, workspace, env, node, deadline):
        return self.port.parents(workspace, env, node, deadline)

    def trigger(self, workspace, env, node, cycle_ms, biz_date_ms, deadline):
        return self.port.trigger(workspace, env, node, cycle_ms, biz_date_ms, deadline)


def _listed(port: DataWorks, rule: Rule, target: Target, schedule: Schedule, call: Invocation) -> List[Instance]:
    return port.list_instances(target.workspace, rule.env, target.node, schedule.biz_date, schedule.biz_date_ms,
                               call.deadline)


def _chosen(listed: List[Instance], target: Target, schedule: Schedule) -> Optional[Instance]:
    try:
        return choose(listed, target.node, schedule.biz_date, schedule.zone, schedule.cycle_ms)
    except Unresolved as e:
        if e.code == "InstanceNotFound":
            return None
        raise NotAsked(e.reason) from None
