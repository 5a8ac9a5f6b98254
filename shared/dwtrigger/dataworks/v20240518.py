"""The 2024-05-18 adapter (new Data Studio): ListTaskInstances, then TriggerSchedulerTaskInstance with the
instance's own scheduled time.

Statuses are CamelCase here, `Bizdate` is epoch ms in the request too, the listing answer carries no `Success`
(its schema has none; the trigger's does), and `EnvType` travels in the query. Only `TriggerType: Scheduler`,
`WorkflowInstanceType: Normal` instances are the recurring ones; a paused task (`TriggerRecurrence: Pause`) is
frozen. DataWorks documents that a repeated trigger "has no effect", without saying how it answers: the look-up
before every trigger is what tells `already_triggered`. A task's parents come from ListUpstreamTasks (a GET, its
parameters in the query; `UpstreamTasks`, or the deprecated `Tasks` an older answer may carry instead). One listing
may name several tasks (`TaskIds`, `list_many`): the releases one event asks of a workspace for one business date
share it.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Annotated, List, Optional, Sequence, Union

import msgspec

from . import (API_2024, FAILED, NOT_RUN, RUNNING, SUCCEEDED, UNKNOWN, WAIT_RESOURCE, WAIT_TIME, WAIT_TRIGGER, Call,
               Deadline, Instance, Parent)
from .openapi import ACKNOWLEDGED, Answer, EpochMs, OpenApiAdapter, bad, read_pages

PAGE_SIZE, MAX_PAGES = 500, 100          # ListTaskInstances' page limit; as many pages as 2020-05-18 allows
UPSTREAM_PAGE_SIZE = 100                 # ListUpstreamTasks documents no limit (default 10)
PHASES = {"NotRun": NOT_RUN, "WaitTime": WAIT_TIME, "WaitTrigger": WAIT_TRIGGER, "WaitResource": WAIT_RESOURCE,
          "Running": RUNNING, "Checking": RUNNING, "CheckingCondition": RUNNING, "Failure": FAILED,
          "Success": SUCCEEDED}
CROSS_CYCLE = "CrossCycle"               # the DependencyType (StepType in the deprecated Tasks) of a previous-cycle one
ENV = {"PROD": "Prod", "DEV": "Dev"}


class _TaskInstance(msgspec.Struct):
    Id: int
    TaskId: int
    Status: str
    Bizdate: EpochMs
    TriggerTime: EpochMs
    TriggerType: str = ""
    TriggerRecurrence: str = ""
    WorkflowInstanceType: str = ""
    StartedTime: Optional[EpochMs] = None
    FinishedTime: Optional[EpochMs] = None


class _Page(msgspec.Struct):
    TotalCount: Annotated[int, msgspec.Meta(ge=0)]
    TaskInstances: Annotated[List[_TaskInstance], msgspec.Meta(max_length=PAGE_SIZE)] = []
    PageNumber: Optional[int] = None


class _Listing(Answer, kw_only=True):
    PagingInfo: Optional[_Page] = None


class _Task(msgspec.Struct):
    Id: int
    Name: str = ""
    ProjectId: Optional[int] = None
    StepType: str = ""                   # only in the deprecated Tasks list


class _Upstream(msgspec.Struct):
    Task: _Task
    DependencyType: str = ""


class _UpstreamPage(msgspec.Struct):
    TotalCount: Annotated[int, msgspec.Meta(ge=0)]
    UpstreamTasks: Optional[Annotated[List[_Upstream], msgspec.Meta(max_length=UPSTREAM_PAGE_SIZE)]] = None
    Tasks: Annotated[List[_Task], msgspec.Meta(max_length=UPSTREAM_PAGE_SIZE)] = []
    PageNumber: Optional[int] = None

    def upstream(self) -> List[_Upstream]:
        if self.UpstreamTasks is not None:
            return self.UpstreamTasks
        return [_Upstream(task, task.StepType) for task in self.Tasks]


class _Upstreams(Answer, kw_only=True):
    PagingInfo: Optional[_UpstreamPage] = None


def describe(workspace: int, env: str, node: int, biz_date: date, biz_date_ms: int, cycle_ms: Optional[int],
             lookup: bool) -> List[Call]:
    trigger = Call("TriggerSchedulerTaskInstance", {
        "EnvType": ENV[env], "TaskId": node, "TriggerTime": "the instance's TriggerTime" if lookup else cycle_ms})
    return [Call("ListTaskInstances", _listing(workspace, env, node, biz_date_ms, 1)), trigger] if lookup else [trigger]


def _listing(workspace: int, env: str, node: Union[int, Sequence[int]], biz_date_ms: int, page: int) -> dict:
    """Only the recurring instances are asked for (and checked again: `choose` trusts no filter). Several tasks go
    in `TaskIds`, a JSON array as the product SDK writes a list."""
    tasks = {"TaskId": node} if isinstance(node, int) else {"TaskIds": json.dumps(list(node), separators=(",", ":"))}
    return {"ProjectId": workspace, "ProjectEnv": ENV[env], **tasks, "Bizdate": biz_date_ms,
            "TriggerType": "Scheduler", "WorkflowInstanceType": "Normal", "PageNumber": page, "PageSize": PAGE_SIZE}


_LISTING, _UPSTREAMS = msgspec.json.Decoder(_Listing), msgspec.json.Decoder(_Upstreams)   # openapi.ACKNOWLEDGED: why


class Adapter(OpenApiAdapter):
    VERSION = API_2024
    # ListTaskInstances takes a list of tasks (TaskIds), its maximum undocumented: twenty hourly tasks' day (480
    # instances) still fits in one page of 500.
    nodes_per_listing = 20

    def list_instances(self, workspace: int, env: str, node: int, biz_date: date, biz_date_ms: int,
                       deadline: Deadline) -> List[Instance]:
        return self._listed(workspace, env, node, biz_date_ms, deadline)

    def list_many(self, workspace: int, env: str, nodes: Sequence[int], biz_date: date, biz_date_ms: int,
                  deadline: Deadline) -> List[Instance]:
        if not 1 <= len(nodes) <= self.nodes_per_listing:
            raise ValueError(f"one listing names 1 to {self.nodes_per_listing} tasks, not {len(nodes)}")
        return self._listed(workspace, env, nodes[0] if len(nodes) == 1 else nodes, biz_date_ms, deadline)

    def _listed(self, workspace: int, env: str, node: Union[int, Sequence[int]], biz_date_ms: int,
                deadline: Deadline) -> List[Instance]:
        def page(number: int):
            data = self._call("ListTaskInstances", _LISTING, deadline,
                              body=_listing(workspace, env, node, biz_date_ms, number)).PagingInfo
            if data is None:
                raise bad("ListTaskInstances answered without PagingInfo")
            return data.PageNumber, data.TotalCount, data.TaskInstances

        return [Instance.of(i.Id, i.TaskId, i.Status, PHASES.get(i.Status, UNKNOWN),
                            frozen=i.TriggerRecurrence == "Pause",
                            cycle=i.TriggerType == "Scheduler" and i.WorkflowInstanceType == "Normal",
                            cycle_ms=i.TriggerTime, biz_date_ms=i.Bizdate, began_ms=i.StartedTime or None,
                            finished_ms=i.FinishedTime or None)
                for i in read_pages("ListTaskInstances", page, lambda i: i.Id, MAX_PAGES)]

    def parents(self, workspace: int, env: str, node: int, deadline: Deadline) -> List[Parent]:
        def page(number: int):
            data = self._call("ListUpstreamTasks", _UPSTREAMS, deadline, method="GET", query={
                "Id": node, "ProjectEnv": ENV[env], "PageNumber": number, "PageSize": UPSTREAM_PAGE_SIZE}).PagingInfo
            if data is None:
                raise bad("ListUpstreamTasks answered without PagingInfo")
            return data.PageNumber, data.TotalCount, data.upstream()

        return [Parent(u.Task.Id, u.Task.ProjectId or workspace, u.Task.Name, u.DependencyType == CROSS_CYCLE)
                for u in read_pages("ListUpstreamTasks", page, lambda u: f"{u.Task.Id} ({u.DependencyType})",
                                    MAX_PAGES, what="upstream task")]

    def trigger(self, workspace: int, env: str, node: int, cycle_ms: int, biz_date_ms: int,
                deadline: Deadline) -> str:
        return self._call("TriggerSchedulerTaskInstance", ACKNOWLEDGED, deadline, query={"EnvType": ENV[env]},
                          body={"TaskId": node, "TriggerTime": cycle_ms}, write=True).RequestId
