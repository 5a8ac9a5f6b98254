"""Workspaces, nodes and their instances, with the HTTP trigger node's release rules.

Instances are derived from the seed and the emulator clock on every read (nothing is materialised):
a node has DAILY instances for cycle dates from deployed + 1 up to today + 1 in the workspace's zone
(T+1 generation); business date = cycle date - 1. CycTime and Bizdate are epoch ms of wall-clock times in
the workspace's zone; scheduled times that do not exist on a DST spring-forward day are skipped, ambiguous
ones take their first occurrence.

Status (override from the seed first): released → SUCCESS; frozen → NOT_RUN; parents not done → NOT_RUN;
before CycTime → WAIT_TIME; else WAIT_TRIGGER. A trigger accepted before the instance can run is held: it
releases the instance once parents are done and CycTime has passed, if that happens within 24 hours of the
trigger; otherwise it expires and the instance waits for a new trigger.

RunTriggerNode has no environment parameter: it finds PROD and DEV nodes alike.

Refusals use codes of the emulator's own (no public source names DataWorks' real ones), all HTTP 400:
``Emulator.Instance.NotFound`` (no DAILY instance matches NodeId+CycleTime+BizDate+AppId),
``Emulator.Instance.Frozen`` and ``Emulator.Instance.AlreadyRun`` (the instance ran, runs or was released).
"""

import hashlib
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Dict, Iterator, List, Optional, Tuple

from .clock import Clock
from .errors import ApiError
from .seed import NodeSpec, WorkspaceSpec

HOLD = timedelta(hours=24)
TRIGGERABLE = frozenset({"NOT_RUN", "WAIT_TIME", "WAIT_TRIGGER"})
_ALWAYS = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Instance:
    workspace: WorkspaceSpec
    node: NodeSpec
    bizdate: date
    cycle: datetime
    dag_type: str
    status: Optional[str]

    @property
    def id(self) -> int:
        """Deterministic, stable across runs and resets, and below 2**53 so JSON readers keep it exact."""
        key = f"{self.node.id}/{self.cycle:%Y-%m-%dT%H:%M%z}/{self.dag_type}"
        return int(hashlib.sha256(key.encode()).hexdigest()[:13], 16)

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
        self._parents: Dict[Tuple[int, date], datetime] = {}

    def reset(self) -> None:
        with self._lock:
            self._triggers.clear()
            self._parents.clear()

    def workspace(self, workspace_id: int) -> WorkspaceSpec:
        try:
            return self.workspaces[workspace_id]
        except KeyError:
            raise ApiError(400, "InvalidParameter", f"Workspace {workspace_id} does not exist.") from None

    def list_instances(self, workspace_id: int, env: str, node_id: Optional[int], bizdate: date) -> List[dict]:
        """ListInstances' view: the workspace's instances of one business date, sorted by CycTime."""
        ws = self.workspace(workspace_id)
        with self._lock:
            now = self.clock.now()
            found = [self._view(i, now) for n in ws.nodes.values()
                     if n.env == env and node_id in (None, n.id) for i in self._of_day(ws, n, bizdate, now)]
        return sorted(found, key=lambda v: (v["CycTime"], v["InstanceId"]))

    def trigger(self, workspace_id: int, node_id: int, cycle_ms: int, biz_ms: int) -> None:
        """RunTriggerNode: accept (release now or hold) or raise the refusal."""
        ws = self.workspace(workspace_id)
        node = ws.nodes.get(node_id)
        try:
            bizdate = datetime.fromtimestamp(biz_ms / 1000, ws.zone).date()
        except (OverflowError, OSError, ValueError):  # a number no date has
            bizdate = None
        with self._lock:
            now = self.clock.now()
            matches = [i for i in (self._of_day(ws, node, bizdate, now) if node and bizdate else ())
                       if i.dag_type == "DAILY" and (i.cyc_ms, i.biz_ms) == (cycle_ms, biz_ms)]
            if not matches:
                raise ApiError(400, "Emulator.Instance.NotFound",
                               f"No DAILY instance of node {node_id} in workspace {workspace_id} "
                               f"has CycleTime {cycle_ms} and BizDate {biz_ms}.")
            inst = matches[0]
            if node.frozen:
                raise ApiError(400, "Emulator.Instance.Frozen", f"Node {node_id} is frozen.")
            status, _ = self._state(inst, now)
            if status not in TRIGGERABLE:
                raise ApiError(400, "Emulator.Instance.AlreadyRun", f"Instance {inst.id} is {status}.")
            self._triggers.setdefault(inst.id, []).append(now)

    def finish_parents(self, workspace_id: int, node_id: int, bizdate: date) -> None:
        """Mark the parents of a node's instances of one business date done, now."""
        if node_id not in getattr(self.workspaces.get(workspace_id), "nodes", ()):
            raise ValueError(f"workspace {workspace_id} has no node {node_id}")
        with self._lock:
            self._parents[(node_id, bizdate)] = self.clock.now()

    def dump(self, workspace_id: Optional[int] = None, node_id: Optional[int] = None) -> List[dict]:
        """Every existing instance, with the emulator's own Triggers count and Released flag."""
        with self._lock:
            now = self.clock.now()
            return [dict(self._view(i, now), Triggers=len(self._triggers.get(i.id, ())),
                         Released=self._state(i, now)[1])
                    for ws in self.workspaces.values() if workspace_id in (None, ws.id)
                    for node in ws.nodes.values() if node_id in (None, node.id)
                    for day in _bizdates(ws, node, now) for i in self._of_day(ws, node, day, now)]

    def _of_day(self, ws: WorkspaceSpec, node: NodeSpec, bizdate: date, now: datetime) -> Iterator[Instance]:
        """A node's instances of one business date: the generated DAILY ones (if they exist yet) and seeded extras."""
        if node.deployed <= bizdate <= _today(ws, now):
            for t in node.times:
                cycle = _cycle(ws, bizdate, t)
                if cycle is not None:
                    overrides = [s.status for s in node.instances if s.dag_type == "DAILY" and s.bizdate == bizdate
                                 and s.cycle in (None, t) and s.status]
                    yield Instance(ws, node, bizdate, cycle, "DAILY", (overrides or [None])[-1])
        for spec in node.instances:
            if spec.dag_type != "DAILY" and spec.bizdate == bizdate:
                for t in (spec.cycle,) if spec.cycle else node.times:
                    cycle = _cycle(ws, bizdate, t)
                    if cycle is not None:
                        yield Instance(ws, node, bizdate, cycle, spec.dag_type, spec.status)

    def _state(self, inst: Instance, now: datetime) -> Tuple[str, bool]:
        """(Status, released) of an instance at `now`."""
        parents = _ALWAYS if inst.node.parents_done else self._parents.get((inst.node.id, inst.bizdate))
        released_at = None
        if parents is not None:
            ready = max(parents, inst.cycle)
            held = [max(t, ready) for t in self._triggers.get(inst.id, ()) if max(t, ready) - t <= HOLD]
            released_at = min(held, default=None)
        released = released_at is not None and now >= released_at
        if inst.status:
            return inst.status, released
        if released:
            return "SUCCESS", True
        if inst.node.frozen or parents is None or now < parents:
            return "NOT_RUN", False
        return ("WAIT_TIME" if now < inst.cycle else "WAIT_TRIGGER"), False

    def _view(self, inst: Instance, now: datetime) -> dict:
        return {
            "InstanceId": inst.id, "NodeId": inst.node.id, "NodeName": inst.node.name, "DagType": inst.dag_type,
            "Status": self._state(inst, now)[0], "CycTime": inst.cyc_ms, "Bizdate": inst.biz_ms,
            "TaskType": "PAUSE" if inst.node.frozen else "NORMAL", "ProjectId": inst.workspace.id,
        }


def _today(ws: WorkspaceSpec, now: datetime) -> date:
    """The last business date with instances: today in the workspace's zone (its cycle date is tomorrow)."""
    return now.astimezone(ws.zone).date()


def _bizdates(ws: WorkspaceSpec, node: NodeSpec, now: datetime) -> List[date]:
    days = {node.deployed + timedelta(days=n) for n in range((_today(ws, now) - node.deployed).days + 1)}
    return sorted(days | {s.bizdate for s in node.instances if s.dag_type != "DAILY"})


def _cycle(ws: WorkspaceSpec, bizdate: date, at: time) -> Optional[datetime]:
    """The scheduled time on the cycle date (bizdate + 1) in the workspace's zone; None if DST skips it."""
    local = datetime.combine(bizdate + timedelta(days=1), at, tzinfo=ws.zone)
    exists = local.astimezone(timezone.utc).astimezone(ws.zone).replace(tzinfo=None) == local.replace(tzinfo=None)
    return local if exists else None
