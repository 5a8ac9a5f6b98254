"""The 2020-05-18 adapter (legacy DataStudio): ListInstances, then RunTriggerNode with the instance's own
CycTime and Bizdate; GetNodeParents for a node's parents (`StepType` 3: a cross-cycle dependency)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, List, Optional, Union

import msgspec

from . import (API_2020, FAILED, NOT_RUN, RUNNING, SUCCEEDED, UNKNOWN, WAIT_RESOURCE, WAIT_TIME, WAIT_TRIGGER, Call,
               Deadline, Instance, Parent)
from .openapi import ACKNOWLEDGED, Acknowledged, EpochMs, OpenApiAdapter, bad, read_pages

PAGE_SIZE, MAX_PAGES = 100, 100          # ListInstances' own limits
PHASES = {"NOT_RUN": NOT_RUN, "WAIT_TIME": WAIT_TIME, "WAIT_TRIGGER": WAIT_TRIGGER, "WAIT_RESOURCE": WAIT_RESOURCE,
          "RUNNING": RUNNING, "CHECKING": RUNNING, "CHECKING_CONDITION": RUNNING, "FAILURE": FAILED,
          "SUCCESS": SUCCEEDED}
CROSS_CYCLE = "3"                        # GetNodeParents' StepType of a dependency on the previous cycle


class _Instance(msgspec.Struct):
    InstanceId: int
    NodeId: int
    Status: str
    DagType: str
    CycTime: EpochMs
    Bizdate: EpochMs
    TaskType: str = ""
    BeginRunningTime: Optional[EpochMs] = None
    FinishTime: Optional[EpochMs] = None


class _Page(msgspec.Struct):
    TotalCount: Annotated[int, msgspec.Meta(ge=0)]
    Instances: Annotated[List[_Instance], msgspec.Meta(max_length=PAGE_SIZE)] = []
    PageNumber: Optional[int] = None


class _Listing(Acknowledged, kw_only=True):
    Data: Optional[_Page] = None


class _ParentNode(msgspec.Struct):
    NodeId: int
    NodeName: str = ""
    ProjectId: Optional[int] = None
    StepType: Union[str, int, None] = None


class _Family(msgspec.Struct):
    Nodes: List[_ParentNode] = []


class _Parents(Acknowledged, kw_only=True):
    Data: Optional[_Family] = None


def describe(workspace: int, env: str, node: int, biz_date: date, biz_date_ms: int, cycle_ms: Optional[int],
             lookup: bool) -> List[Call]:
    trigger = Call("RunTriggerNode", {"AppId": workspace, "NodeId": node,
                                      "CycleTime": "the instance's CycTime" if lookup else cycle_ms,
                                      "BizDate": "the instance's Bizdate" if lookup else biz_date_ms})
    return [Call("ListInstances", _listing(workspace, env, node, biz_date, 1)), trigger] if lookup else [trigger]


def _listing(workspace: int, env: str, node: int, biz_date: date, page: int) -> dict:
    return {"ProjectId": workspace, "ProjectEnv": env, "NodeId": node, "Bizdate": f"{biz_date:%Y-%m-%d} 00:00:00",
            "PageNumber": page, "PageSize": PAGE_SIZE}


_LISTING, _PARENTS = msgspec.json.Decoder(_Listing), msgspec.json.Decoder(_Parents)   # openapi.ACKNOWLEDGED: why


class Adapter(OpenApiAdapter):
    VERSION = API_2020

    def list_instances(self, workspace: int, env: str, node: int, biz_date: date, biz_date_ms: int,
                       deadline: Deadline) -> List[Instance]:
        def page(number: int):
            data = self._call("ListInstances", _LISTING, deadline,
                              body=_listing(workspace, env, node, biz_date, number)).Data
            if data is None:
                raise bad("ListInstances answered Success without Data")
            return data.PageNumber, data.TotalCount, data.Instances

        return [Instance.of(i.InstanceId, i.NodeId, i.Status, PHASES.get(i.Status, UNKNOWN),
                            frozen=i.TaskType == "PAUSE", cycle=i.DagType == "DAILY", cycle_ms=i.CycTime,
                            biz_date_ms=i.Bizdate, began_ms=i.BeginRunningTime or None,
                            finished_ms=i.FinishTime or None)
                for i in read_pages("ListInstances", page, lambda i: i.InstanceId, MAX_PAGES)]

    def parents(self, workspace: int, env: str, node: int, deadline: Deadline) -> List[Parent]:
        """One call: GetNodeParents has no paging (and names no workspace in the request)."""
        data = self._call("GetNodeParents", _PARENTS, deadline, body={"NodeId": node, "ProjectEnv": env}).Data
        if data is None:
            raise bad("GetNodeParents answered Success without Data")
        return [Parent(p.NodeId, p.ProjectId or workspace, p.NodeName, str(p.StepType) == CROSS_CYCLE)
                for p in data.Nodes]

    def trigger(self, workspace: int, env: str, node: int, cycle_ms: int, biz_date_ms: int,
                deadline: Deadline) -> str:
        body = {"NodeId": node, "CycleTime": cycle_ms, "BizDate": biz_date_ms, "AppId": workspace}
        return self._call("RunTriggerNode", ACKNOWLEDGED, deadline, body=body, write=True).RequestId
