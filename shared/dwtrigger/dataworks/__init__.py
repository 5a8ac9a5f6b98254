"""The DataWorks port: which instances a node has for a business date, and release one — whatever API it speaks;
for `dwtrigger doctor`, also which nodes a node depends on.

Workspaces on the legacy DataStudio speak 2020-05-18 (ListInstances, RunTriggerNode), those on the new Data Studio
2024-05-18 (ListTaskInstances, TriggerSchedulerTaskInstance). One adapter per version maps its answers into
`Instance`'s normalised facts, so the relay never sees an API's spellings. `adapter()` picks the adapter for a
rule's `api` and imports its module only when first asked; a deployment that uses one API never loads the other.
"""
from __future__ import annotations

import functools
import importlib
from abc import ABC, abstractmethod
from datetime import date, datetime
from typing import List, Mapping, Optional, Sequence

from zoneinfo import ZoneInfo

import msgspec

from ..pacing import Pacing
from ..retry import Deadline, RemoteError

API_2020, API_2024 = "2020-05-18", "2024-05-18"
APIS = (API_2020, API_2024)

# An instance's phase, in our own words: each adapter maps its API's statuses (WAIT_RESOURCE, WaitResource, ...)
# into these, so no caller reads one API's spellings.
NOT_RUN, WAIT_TIME, WAIT_TRIGGER = "not_run", "wait_time", "wait_trigger"    # not started: a trigger is taken
WAIT_RESOURCE, RUNNING = "wait_resource", "running"        # started: queued for its resource group, or running
FAILED, SUCCEEDED, UNKNOWN = "failed", "succeeded", "unknown"
WAITING = frozenset({NOT_RUN, WAIT_TIME, WAIT_TRIGGER})


# DataWorks' times (an instance's business date and scheduled time) are epoch ms of wall-clock times in the
# workspace's zone (schedule.py): these two convert, for every module that reads or writes them.
def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def local(ms: int, zone: ZoneInfo) -> datetime:
    """DataWorks' epoch ms -> wall-clock time in the workspace zone."""
    return datetime.fromtimestamp(ms / 1000, zone)


class Instance(msgspec.Struct, frozen=True):
    """One instance as DataWorks listed it, in facts every API maps into."""
    instance_id: int
    node: int                  # NodeId (2020-05-18) or TaskId (2024-05-18)
    status: str                # the API's own word, for people: WAIT_TRIGGER, WaitTrigger, SUCCESS, ...
    waiting: bool              # not started yet: a trigger releases it (now, or once its parents and time allow)
    ready: bool                # waiting for its trigger only: a trigger releases it now (else DataWorks holds it)
    frozen: bool               # the node is frozen (paused): a trigger would not run it
    cycle: bool                # the recurring instance the scheduler made, not a backfill, test or manual run
    cycle_ms: int              # its scheduled time, epoch ms
    biz_date_ms: int           # its business date's midnight in the workspace zone, epoch ms
    phase: str = UNKNOWN       # NOT_RUN ... SUCCEEDED above: what its status means, whatever the API's word
    began_ms: Optional[int] = None      # when it started running (the board's timeline), if DataWorks says
    finished_ms: Optional[int] = None   # when it finished, if DataWorks says

    @classmethod
    def of(cls, instance_id: int, node: int, status: str, phase: str, **facts) -> "Instance":
        """An instance whose `waiting` and `ready` follow from its phase."""
        return cls(instance_id, node, status, waiting=phase in WAITING, ready=phase == WAIT_TRIGGER, phase=phase,
                   **facts)


class Parent(msgspec.Struct, frozen=True):
    """A node another depends on. `workspace` is its own (a parent may be in another workspace); `cross_cycle`: the
    dependency is on its previous cycle, so its instance of the business date before counts."""
    node: int                  # NodeId (2020-05-18) or TaskId (2024-05-18)
    workspace: int
    name: str
    cross_cycle: bool


class Call(msgspec.Struct, frozen=True):
    """A call an adapter makes, as `explain` and dry runs show it: the action and its wire parameters."""
    action: str
    params: Mapping[str, object]

    def __str__(self) -> str:
        return f"{self.action}(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"


class DataWorksError(RemoteError):
    """A failed DataWorks call, classified once so no retry loop inspects SDK exceptions. `retryable`:
    throttling, 5xx, timeouts, the deadline, answers off their schema; not other 4xx or redirects."""


class DataWorks(ABC):
    """What the relay asks of DataWorks. `env` is PROD or DEV; `node` a NodeId or TaskId, as the API names it."""

    nodes_per_listing = 1      # how many nodes one listing may name (list_many): 1 where a listing names one node

    @abstractmethod
    def list_instances(self, workspace: int, env: str, node: int, biz_date: date, biz_date_ms: int,
                       deadline: Deadline) -> List[Instance]:
        """Every instance DataWorks lists for the node and business date, every page read (at most the API's own
        page limit), each call within the deadline; the listing as given, foreign entries included (`choose`
        keeps only what was asked for). Raises DataWorksError: an answer off its schema is BadResponse, a call
        the deadline stopped DeadlineExceeded (both retryable)."""

    def list_many(self, workspace: int, env: str, nodes: Sequence[int], biz_date: date, biz_date_ms: int,
                  deadline: Deadline) -> List[Instance]:
        """Every instance DataWorks lists for any of `nodes` (1 to `nodes_per_listing` of them) on the business date,
        in one listing, read as `list_instances` reads one node's; raises as it does. An API whose listing names
        one node has no other way than its own listing per node, which its callers make themselves."""
        if len(nodes) != 1:
            raise ValueError(f"one listing names one node on this API, not {len(nodes)}")
        return self.list_instances(workspace, env, nodes[0], biz_date, biz_date_ms, deadline)

    @abstractmethod
    def parents(self, workspace: int, env: str, node: int, deadline: Deadline) -> List[Parent]:
        """The nodes `node` depends on (its scheduling parents), every page read, each call within the deadline;
        a parent whose answer names no workspace is taken to be in `workspace`. Raises DataWorksError as
        `list_instances` does."""

    @abstractmethod
    def trigger(self, workspace: int, env: str, node: int, cycle_ms: int, biz_date_ms: int,
                deadline: Deadline) -> str:
        """Release the node's instance scheduled at `cycle_ms` (business date `biz_date_ms`); returns DataWorks'
        RequestId. Only an answer saying `"Success": true` returns; anything else raises DataWorksError."""


def describe(api: str, workspace: int, env: str, node: int, biz_date: date, biz_date_ms: int,
             cycle_ms: Optional[int], lookup: bool) -> List[Call]:
    """The calls a release makes (a look-up unless told not to, then the trigger); without an SDK."""
    return _module(api).describe(workspace, env, node, biz_date, biz_date_ms, cycle_ms, lookup)


def adapter(api: str, endpoint: str, protocol: str, credential, pacing: Optional[Pacing] = None) -> DataWorks:
    """The adapter for `api` on `endpoint`, signing with `credential` (an alibabacloud-credentials client),
    spacing its reads and writes by `pacing` (see pacing.py) when given."""
    return _module(api).Adapter(endpoint, protocol, credential, pacing)


def load(api: str) -> None:
    """Import what `api`'s adapter needs now (FC's initializer: before the first event waits for it)."""
    _module(api).Adapter.load()


@functools.lru_cache(maxsize=None)
def _module(api: str):
    """The adapter module of `api`, imported on first use (cached: the import machinery costs ~10 µs a call)."""
    if api not in APIS:
        raise ValueError(f"unknown DataWorks API {api!r}: expected one of {', '.join(APIS)}")
    return importlib.import_module(f".v{api.replace('-', '')}", __name__)
