"""Which one instance an event names, from whatever a look-up listed — in the port's normalised facts, so one
rule serves every API.

Only instances of the node and business date asked for count (an answer may list others), and of those only the
recurring cycle instance (never a backfill, test or manual run). A known scheduled time picks among several; without
one, a single waiting instance is taken, several are ambiguous, never a guess.
"""
from __future__ import annotations

from datetime import date
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from . import Instance, local


class Unresolved(Exception):
    """The look-up answered, but not with one instance we may trigger: `code`, `reason`, `retryable`."""

    def __init__(self, code: str, reason: str, retryable: bool):
        super().__init__(reason)
        self.code, self.reason, self.retryable = code, reason, retryable


def choose(instances: Sequence[Instance], node: int, biz_date: date, zone: ZoneInfo,
           cycle_ms: Optional[int] = None) -> Instance:
    """The cycle instance of `node` for `biz_date` (scheduled at `cycle_ms`, when known), or Unresolved."""
    day, dates = f"{biz_date:%Y-%m-%d}", {}        # a listing's instances share a few dates: each converted once

    def dated(ms: int) -> date:
        found = dates.get(ms)
        if found is None:
            found = dates[ms] = local(ms, zone).date()
        return found

    own = [i for i in instances if i.node == node and dated(i.biz_date_ms) == biz_date]
    cycles = [i for i in own if i.cycle]
    if not cycles:
        foreign = len(instances) - len(own)
        raise Unresolved("InstanceNotFound", f"DataWorks has no cycle instance for business date {day} "
                         "(instances are generated the day before; a node deployed today runs from tomorrow; a "
                         "workspace on the other Data Studio generation than the rule's `api` lists none)"
                         + (f"; {foreign} listed instance(s) of other nodes or business dates were ignored (is "
                            f"{zone.key} the workspace's time zone?)" if foreign else ""), True)
    if cycle_ms is not None:
        cycles = [i for i in cycles if i.cycle_ms == cycle_ms]
        if not cycles:
            raise Unresolved("InstanceNotFound", f"no instance of business date {day} is scheduled at "
                             f"{local(cycle_ms, zone).isoformat()}; scheduled: {_times(own, zone)}", True)
    elif len(cycles) > 1:
        waiting = [i for i in cycles if i.waiting]
        if len(waiting) > 1:
            raise Unresolved("Ambiguous", f"{len(waiting)} instances of business date {day} are waiting "
                             f"({_times(waiting, zone)}); name the cycle with `at` or a {{cycle}} capture", False)
        cycles = waiting or sorted(cycles, key=lambda i: i.cycle_ms)
    instance = cycles[0]
    if instance.frozen:
        raise Unresolved("NodeFrozen", f"the node is frozen (instance {instance.instance_id}); unfreeze it and "
                         "replay the event", False)
    return instance


def _times(instances: Sequence[Instance], zone: ZoneInfo) -> str:
    return ", ".join(f"{local(i.cycle_ms, zone):%H:%M}" for i in sorted(instances, key=lambda i: i.cycle_ms)) \
        or "none"
