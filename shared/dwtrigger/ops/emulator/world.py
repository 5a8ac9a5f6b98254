"""Workspaces, nodes and their instances, with the HTTP trigger node's release rules.

Instances are derived from the seed and the emulator clock on every read (nothing is materialised):
a node has DAILY instances for cycle dates from deployed + 1 up to today + 1 in the workspace's zone
(T+1 generation); business date = cycle date - 1. CycTime and Bizdate are epoch ms of wall-clock times in
the workspace's zone; scheduled times that do not exist on a DST spring-forward day are skipped, ambiguous
ones take their first occurrence. An instance's period (2024-05-18 PeriodNumber) is the 1-based position of its
scheduled time among those its day has (so a skipped time is no period). Instance ids hash workspace, node,
scheduled time and dag type: stable across runs, and two workspaces with the same node ids share nothing.

Status (override from the seed first): released → SUCCESS; frozen → NOT_RUN; parents not done → NOT_RUN;
before CycTime → WAIT_TIME; else WAIT_TRIGGER. A trigger accepted before the instance can run is held: it
releases the instance once parents are done and CycTime has passed, if that happens within 24 hours of the
trigger; otherwise it expires and the instance waits for a new trigger. Parents are done when finish_parents
marked them (then since that moment), or, for a node seeded `parents_done` (the default), when every DAILY instance
of its declared parents for the date (the date before, for a cross-cycle parent) is SUCCESS — counted as done
all along, so a hold's 24 hours run from the scheduled time there, not from the parents' success.

Each workspace speaks one API generation (seed ``api``) and only its calls see its nodes, as a workspace on the
other Data Studio would: a listing on the other API finds nothing there, a trigger naming its node is not found.
RunTriggerNode has no environment parameter: it finds PROD and DEV nodes alike. TriggerSchedulerTaskInstance
names no workspace: its TaskId is looked up among the 2024-05-18 workspaces' nodes of its environment.

Refusals use codes of the emulator's own (no public source names DataWorks' real ones), all HTTP 400:
``Emulator.Instance.NotFound`` (no DAILY instance matches NodeId+CycleTime+BizDate+AppId, or TaskId+TriggerTime),
``Emulator.Instance.Frozen`` and, for RunTriggerNode, ``Emulator.Instance.AlreadyRun`` (the instance ran, runs
or was released; the 2024-05-18 trigger answers that case as having no effect: see tasks.py).
"""

import hashlib
import threading
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, time, timedelta, timezone
from typing import Dict, Iterator, List, Optional, Tuple

from .clock import Clock
from .errors import ApiError
from .seed import API_2020, API_2024, NodeSpec, WorkspaceSpec

HOLD = timedelta(hours=24)
DAY = timedelta(days=1)
TRIGGERABLE = frozenset({"NOT_RUN", "WAIT_TIME", "WAIT_TRIGGER"})
_ALWAYS = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Instance:
    workspace: WorkspaceSpec
    node: NodeSpec
    bizdate: date
    cycle: datetime
    period: int
    dag_type: str
    status: Optional[str]

    @cached_property
    def id(self) -> int:
        """Computed once: every read of a listing or dump asks for it several times."""
        return stable_id(f"{self.workspace.id}/{self.node.id}/{self.cycle:%Y-%m-%dT%H:%M%z}/{self.dag_type}")

    @property
    def cyc_ms(self) -> int:
        return int(self.cycle.timestamp()) * 1000

    @property
    def biz_ms(self) -> int:
        return int(datetime.combine(self.bizdate, time(0), tzinfo=self.workspace.zone).timestamp()) * 1000


class World:
    """The mutable part (accepted triggers, finished parents) over the seed's immutable workspaces."""

    def __init__(self, workspaces: Dict[int, WorkspaceSpec], clock: Clock):
        self.workspaces = workspaces
        self.clock = clock
        self._lock = threading.RLock()
        self._triggers: Dict[int, List[datetime]] = {}
        self._triggered: Dict[int, Instance] = {}          # the instances in _triggers, for a quick dump of them
        self._parents: Dict[Tuple[int, int, date], datetime] = {}
        self._succeeded: Dict[Tuple[int, int, date], bool] = {}    # _done's answers at `_succeeded_at`
        self._succeeded_at: Optional[datetime] = None

    def reset(self) -> None:
        with self._lock:
            self._triggers.clear()
            self._triggered.clear()
            self._parents.clear()
            self._succeeded.clear()

    def workspace(self, workspace_id: int) -> WorkspaceSpec:
        try:
            return self.workspaces[workspace_id]
        except KeyError:
            raise ApiError(400, "InvalidParameter", f"Workspace {workspace_id} does not exist.") from None

    def list_instances(self, workspace_id: int, api: str, env: str, node_id: Optional[int],
                       bizdate: Optional[date]) -> List[Tuple[Instance, str, Optional[datetime]]]:
        """A workspace's instances of one business date with their statuses and when they ran (released: the
        emulator's instances run in no time), by CycTime; none on the other API."""
        ws = self.workspace(workspace_id)
        if ws.api != api:
            return []
        with self._lock:
            now = self.clock.now()
            found = [(i, *self._state(i, now)) for n in ws.nodes.values()
                     if n.env == env and node_id in (None, n.id) for i in self._of_day(ws, n, bizdate, now)]
        return sorted(found, key=lambda f: (f[0].cyc_ms, f[0].id))

    def find(self, api: str, instance_id: int) -> Optional[Tuple[Instance, str, Optional[datetime]]]:
        """The existing instance with this id in a workspace on `api`, with its status and when it ran."""
        with self._lock:
            now = self.clock.now()
            inst = next((i for ws in self.workspaces.values() if ws.api == api
                         for i in self._existing(now, ws.id) if i.id == instance_id), None)
            return None if inst is None else (inst, *self._state(inst, now))

    def trigger(self, workspace_id: int, node_id: int, cycle_ms: int, biz_ms: int) -> None:
        """RunTriggerNode: accept (release now or hold) or raise the refusal."""
        ws = self.workspace(workspace_id)
        node = ws.nodes.get(node_id) if ws.api == API_2020 else None
        bizdate = local_date(biz_ms, ws.zone)
        with self._lock:
            now = self.clock.now()
            matches = [i for i in (self._of_day(ws, node, bizdate, now) if node else ())
                       if i.dag_type == "DAILY" and (i.cyc_ms, i.biz_ms) == (cycle_ms, biz_ms)]
            if not matches:
                raise ApiError(400, "Emulator.Instance.NotFound",
                               f"No DAILY instance of node {node_id} in workspace {workspace_id} "
                               f"has CycleTime {cycle_ms} and BizDate {biz_ms}.")
            if not self._accept(matches[0], now):
                status = self._state(matches[0], now)[0]
                raise ApiError(400, "Emulator.Instance.AlreadyRun", f"Instance {matches[0].id} is {status}.")

    def trigger_task(self, env: str, task_id: int, trigger_ms: int) -> bool:
        """TriggerSchedulerTaskInstance: accept (release now or hold) the task's DAILY instance scheduled at
        trigger_ms, or raise the refusal; False, changing nothing, when it already ran, runs or was released."""
        found = [(ws, ws.nodes[task_id]) for ws in self.workspaces.values()
                 if ws.api == API_2024 and task_id in ws.nodes and ws.nodes[task_id].env == env]
        with self._lock:
            now = self.clock.now()
            matches = [i for ws, node in found for i in self._of_day(ws, node, _bizdate_of(trigger_ms, ws), now)
                       if i.dag_type == "DAILY" and i.cyc_ms == trigger_ms]
            if not matches:
                raise ApiError(400, "Emulator.Instance.NotFound",
                               f"No DAILY instance of task {task_id} ({env}) has TriggerTime {trigger_ms}.")
            return self._accept(matches[0], now)

    def parents(self, api: str, env: str, node_id: int) -> List[Tuple[WorkspaceSpec, NodeSpec, bool]]:
        """GetNodeParents / ListUpstreamTasks: (workspace, node, cross_cycle) of each parent of the node with this id
        in the `env` of the workspaces on `api`. The request names no workspace: a 2020-05-18 node id several
        workspaces share answers each one's parents."""
        found = [ws.nodes[node_id] for ws in self.workspaces.values()
                 if ws.api == api and node_id in ws.nodes and ws.nodes[node_id].env == env]
        if not found:
            raise ApiError(400, "Emulator.Node.NotFound", f"No node {node_id} ({env}) is on this API.")
        return [(self.workspaces[p.workspace], self.workspaces[p.workspace].nodes[p.node], p.cross_cycle)
                for node in found for p in node.parents]

    def finish_parents(self, workspace_id: int, node_id: int, bizdate: date) -> None:
        """Mark the parents of a node's instances of one business date done, now."""
        if node_id not in getattr(self.workspaces.get(workspace_id), "nodes", ()):
            raise ValueError(f"workspace {workspace_id} has no node {node_id}")
        with self._lock:
            self._parents[(workspace_id, node_id, bizdate)] = self.clock.now()
            self._succeeded.clear()

    def dump(self, workspace_id: Optional[int] = None, node_id: Optional[int] = None,
             triggered: bool = False) -> List[dict]:
        """Every existing instance in 2020-05-18 spelling, with the emulator's own Triggers count, Released flag
        and the workspace's Api; `triggered`: only those that accepted a trigger."""
        with self._lock:
            now = self.clock.now()
            return [dict(view(i, status, ran), Triggers=len(self._triggers.get(i.id, ())), Released=ran is not None,
                         Api=i.workspace.api)
                    for i in (self._triggered.values() if triggered else self._existing(now, workspace_id, node_id))
                    if workspace_id in (None, i.workspace.id) and node_id in (None, i.node.id)
                    for status, ran in [self._state(i, now)]]

    def _existing(self, now: datetime, workspace_id: Optional[int] = None,
                  node_id: Optional[int] = None) -> Iterator[Instance]:
        """Every instance that exists at `now`, of one workspace or node if given."""
        return (i for ws in self.workspaces.values() if workspace_id in (None, ws.id)
                for node in ws.nodes.values() if node_id in (None, node.id)
                for day in _bizdates(ws, node, now) for i in self._of_day(ws, node, day, now))

    def _of_day(self, ws: WorkspaceSpec, node: NodeSpec, bizdate: Optional[date],
                now: datetime) -> Iterator[Instance]:
        """A node's instances of one business date: the generated DAILY ones (if they exist yet) and seeded extras."""
        if bizdate is None:
            return
        slots = [(t, cycle) for t in node.times for cycle in [_cycle(ws, bizdate, t)] if cycle is not None]
        if node.deployed <= bizdate <= _today(ws, now):
            for period, (t, cycle) in enumerate(slots, 1):
                overrides = [s.status for s in node.instances if s.dag_type == "DAILY" and s.bizdate == bizdate
                             and s.cycle in (None, t) and s.status]
                yield Instance(ws, node, bizdate, cycle, period, "DAILY", (overrides or [None])[-1])
        for spec in node.instances:
            if spec.dag_type != "DAILY" and spec.bizdate == bizdate:
                for period, (t, cycle) in enumerate(slots, 1):
                    if spec.cycle in (None, t):
                        yield Instance(ws, node, bizdate, cycle, period, spec.dag_type, spec.status)

    def _accept(self, inst: Instance, now: datetime) -> bool:
        """Take a trigger for the instance (it releases now or is held); False if it already ran, runs or was
        released; raise if its node is frozen."""
        if inst.node.frozen:
            raise ApiError(400, "Emulator.Instance.Frozen", f"Node {inst.node.id} is frozen.")
        if self._state(inst, now)[0] not in TRIGGERABLE:
            return False
        self._triggers.setdefault(inst.id, []).append(now)
        self._triggered[inst.id] = inst
        self._succeeded.clear()
        return True

    def _state(self, inst: Instance, now: datetime) -> Tuple[str, Optional[datetime]]:
        """(Status, when it was released: None while it is not) of an instance at `now`."""
        parents = self._parents_done(inst, now)
        released_at = None
        if parents is not None:
            ready = max(parents, inst.cycle)
            held = [max(t, ready) for t in self._triggers.get(inst.id, ()) if max(t, ready) - t <= HOLD]
            released_at = min(held, default=None)
        if released_at is not None and now < released_at:
            released_at = None
        if inst.status:
            return inst.status, released_at
        if released_at is not None:
            return "SUCCESS", released_at
        if inst.node.frozen or parents is None or now < parents:
            return "NOT_RUN", None
        return ("WAIT_TIME" if now < inst.cycle else "WAIT_TRIGGER"), None


    def _parents_done(self, inst: Instance, now: datetime) -> Optional[datetime]:
        """Since when the instance's parents are done, or None (see the module's docstring)."""
        marked = self._parents.get((inst.workspace.id, inst.node.id, inst.bizdate))
        if not inst.node.parents_done:
            return marked
        for p in inst.node.parents:
            if not self._done(self.workspaces[p.workspace], p.node, inst.bizdate - DAY if p.cross_cycle
                              else inst.bizdate, now):
                return marked
        return _ALWAYS

    def _done(self, ws: WorkspaceSpec, node_id: int, bizdate: date, now: datetime) -> bool:
        """Whether every DAILY instance of the node's business date is SUCCESS at `now` (none is: done). Kept until
        the world or `now` changes; a node with cross-cycle parents is judged oldest day first, so a chain of
        days never recurses deeper than one day."""
        if self._succeeded_at != now:
            self._succeeded.clear()
            self._succeeded_at = now
        node = ws.nodes[node_id]
        days = [bizdate]
        if any(p.cross_cycle for p in node.parents):
            days = [node.deployed + timedelta(days=n) for n in range((bizdate - node.deployed).days + 1)] or days
        for day in days:
            if (ws.id, node_id, day) not in self._succeeded:
                self._succeeded[(ws.id, node_id, day)] = all(
                    self._state(i, now)[0] == "SUCCESS" for i in self._of_day(ws, node, day, now)
                    if i.dag_type == "DAILY")
        return self._succeeded[(ws.id, node_id, bizdate)]


def view(inst: Instance, status: str, ran: Optional[datetime] = None) -> dict:
    """An instance as 2020-05-18 ListInstances shows it; one that ran (at `ran`) with its BeginRunningTime and
    FinishTime."""
    return {
        "InstanceId": inst.id, "NodeId": inst.node.id, "NodeName": inst.node.name, "DagType": inst.dag_type,
        "Status": status, "CycTime": inst.cyc_ms, "Bizdate": inst.biz_ms,
        "TaskType": "PAUSE" if inst.node.frozen else "NORMAL", "ProjectId": inst.workspace.id,
        **({} if ran is None else {"BeginRunningTime": ran_ms(ran), "FinishTime": ran_ms(ran)}),
    }


def ran_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def stable_id(key: str) -> int:
    """Deterministic, stable across runs and resets, and below 2**53 so JSON readers keep it exact."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:13], 16)


def local_date(ms: int, zone) -> Optional[date]:
    """The date an epoch-ms instant falls on in `zone`; None for a number no date has, or none with a day on
    either side (no instance's business or cycle date)."""
    try:
        day = datetime.fromtimestamp(ms / 1000, zone).date()
    except (OverflowError, OSError, ValueError):
        return None
    return day if date.min < day < date.max else None


def _bizdate_of(cycle_ms: int, ws: WorkspaceSpec) -> Optional[date]:
    """The business date of an instance scheduled at cycle_ms: the day before its scheduled date."""
    day = local_date(cycle_ms, ws.zone)
    return day and day - DAY


def _today(ws: WorkspaceSpec, now: datetime) -> date:
    """The last business date with instances: today in the workspace's zone (its cycle date is tomorrow)."""
    return now.astimezone(ws.zone).date()


def _bizdates(ws: WorkspaceSpec, node: NodeSpec, now: datetime) -> List[date]:
    days = {node.deployed + timedelta(days=n) for n in range((_today(ws, now) - node.deployed).days + 1)}
    return sorted(days | {s.bizdate for s in node.instances if s.dag_type != "DAILY"})


def _cycle(ws: WorkspaceSpec, bizdate: date, at: time) -> Optional[datetime]:
    """The scheduled time on the cycle date (bizdate + 1) in the workspace's zone; None if DST skips it."""
    local = datetime.combine(bizdate + DAY, at, tzinfo=ws.zone)
    exists = local.astimezone(timezone.utc).astimezone(ws.zone).replace(tzinfo=None) == local.replace(tzinfo=None)
    return local if exists else None
