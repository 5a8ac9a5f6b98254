"""The DataWorks 2020-05-18 actions the product calls: parameter checks as the gateway makes them, then the world.

A workspace on the 2024-05-18 API (seed ``api``) is not this API's: ListInstances naming it answers an empty
page, RunTriggerNode naming its node ``Emulator.Instance.NotFound`` (world.py).

GetNodeParents (POST, form body): NodeId and ProjectEnv (PROD | DEV) required, no workspace (as the SDK sends it).
Answers ``Data.Nodes``, one per seeded parent: NodeId, NodeName, ProjectId (the parent's workspace), SchedulerType
(PAUSE for a frozen node, else NORMAL), StepType ("0" same cycle, "3" cross-cycle), ProgramType, Repeatability.
A node id no workspace on this API has in that environment is 400 ``Emulator.Node.NotFound``.
"""

from datetime import datetime
from typing import Callable, Dict, Mapping, Tuple

from .lies import Spelling, liar
from .params import integer, invalid, paging, required
from .seed import API_2020
from .world import World, view

VERSION = API_2020
MAX_PAGE_SIZE = 100


def list_instances(world: World, params: Mapping[str, str]) -> dict:
    workspace = integer(params, "ProjectId")
    env = required(params, "ProjectEnv")
    if env not in ("PROD", "DEV"):
        raise invalid("ProjectEnv")
    try:
        bizdate = datetime.strptime(required(params, "Bizdate"), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise invalid("Bizdate") from None
    if bizdate.time() != datetime.min.time():
        raise invalid("Bizdate")
    page, size = paging(params, MAX_PAGE_SIZE)
    found = [view(*f) for f in world.list_instances(workspace, VERSION, env, integer(params, "NodeId", None),
                                                    bizdate.date())]
    return {"Success": True, "HttpStatusCode": 200, "Data": {
        "PageNumber": page, "PageSize": size, "TotalCount": len(found),
        "Instances": found[(page - 1) * size:page * size]}}


def get_node_parents(world: World, params: Mapping[str, str]) -> dict:
    node, env = integer(params, "NodeId"), required(params, "ProjectEnv")
    if env not in ("PROD", "DEV"):
        raise invalid("ProjectEnv")
    nodes = [{"NodeId": parent.id, "NodeName": parent.name, "ProjectId": ws.id,
              "SchedulerType": "PAUSE" if parent.frozen else "NORMAL", "StepType": "3" if cross_cycle else "0",
              "ProgramType": "VIRTUAL", "Repeatability": True}
             for ws, parent, cross_cycle in world.parents(VERSION, env, node)]
    return {"Success": True, "HttpStatusCode": 200, "Data": {"Nodes": nodes}}


def run_trigger_node(world: World, params: Mapping[str, str]) -> dict:
    node, cycle, biz, app = (integer(params, name) for name in ("NodeId", "CycleTime", "BizDate", "AppId"))
    world.trigger(app, node, cycle, biz)
    return {"Success": True}


ACTIONS: Dict[Tuple[str, str], Callable[[World, Mapping[str, str]], dict]] = {
    ("ListInstances", VERSION): list_instances,
    ("RunTriggerNode", VERSION): run_trigger_node,
    ("GetNodeParents", VERSION): get_node_parents,
}
LIARS = {("ListInstances", VERSION): liar(list_instances, Spelling(
    "Data", "Instances", "InstanceId", "NodeId", "CycTime", ran={"Status": "SUCCESS"},
    waiting={"Status": "WAIT_TRIGGER", "DagType": "DAILY"}))}
