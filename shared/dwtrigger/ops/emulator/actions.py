"""The DataWorks 2020-05-18 actions the product calls: parameter checks as the gateway makes them, then the world.

A workspace on the 2024-05-18 API (seed ``api``) is not this API's: ListInstances naming it answers an empty
page, RunTriggerNode naming its node ``Emulator.Instance.NotFound`` (world.py).
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


def run_trigger_node(world: World, params: Mapping[str, str]) -> dict:
    node, cycle, biz, app = (integer(params, name) for name in ("NodeId", "CycleTime", "BizDate", "AppId"))
    world.trigger(app, node, cycle, biz)
    return {"Success": True}


ACTIONS: Dict[Tuple[str, str], Callable[[World, Mapping[str, str]], dict]] = {
    ("ListInstances", VERSION): list_instances,
    ("RunTriggerNode", VERSION): run_trigger_node,
}
LIARS = {("ListInstances", VERSION): liar(list_instances, Spelling(
    "Data", "Instances", "InstanceId", "NodeId", "CycTime", ran={"Status": "SUCCESS"},
    waiting={"Status": "WAIT_TRIGGER", "DagType": "DAILY"}))}
