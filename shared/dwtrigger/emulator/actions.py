"""The DataWorks 2020-05-18 actions the product calls: parameter checks as the gateway makes them, then the world."""

import hashlib
from datetime import datetime
from typing import Callable, Collection, Dict, Mapping, Optional, Tuple

from .errors import ApiError
from .world import World

VERSION = "2020-05-18"
MAX_PAGE_SIZE = 100
ENDLESS_TOTAL = 1_000_000_000
DAY_MS = 86_400_000


def list_instances(world: World, params: Mapping[str, str]) -> dict:
    workspace = _int(params, "ProjectId")
    env = _required(params, "ProjectEnv")
    if env not in ("PROD", "DEV"):
        raise _invalid("ProjectEnv")
    try:
        bizdate = datetime.strptime(_required(params, "Bizdate"), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise _invalid("Bizdate") from None
    if bizdate.time() != datetime.min.time():
        raise _invalid("Bizdate")
    page, size = _int(params, "PageNumber", 1), _int(params, "PageSize", 10)
    if page < 1:
        raise _invalid("PageNumber")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _invalid("PageSize")
    found = world.list_instances(workspace, env, _int(params, "NodeId", None), bizdate.date())
    return {"Success": True, "HttpStatusCode": 200, "Data": {
        "PageNumber": page, "PageSize": size, "TotalCount": len(found),
        "Instances": found[(page - 1) * size:page * size]}}


def lying_list_instances(world: World, params: Mapping[str, str], lies: Collection[str]) -> dict:
    """ListInstances with the lies of faults.py (endless_pages, foreign_instances) told on its honest answer."""
    answer = list_instances(world, params)
    data = answer["Data"]
    if "foreign_instances" in lies and data["TotalCount"]:
        data["TotalCount"] += 2
    if "endless_pages" in lies:
        first = list_instances(world, {**params, "PageNumber": "1"})["Data"]
        data.update(Instances=first["Instances"], TotalCount=ENDLESS_TOTAL)
    if "foreign_instances" in lies and data["PageNumber"] == 1 and data["Instances"]:
        data["Instances"] = [*_foreign(data["Instances"][0], params), *data["Instances"]]
    return answer


def _foreign(real: dict, params: Mapping[str, str]) -> list:
    """Copies of the first real instance: another node's, and the asked node's a business day earlier."""
    other_node = dict(real, NodeId=_int(params, "NodeId", real["NodeId"]) + 1, Status="SUCCESS",
                      InstanceId=_foreign_id(real, "other-node"))
    day_before = dict(real, Bizdate=real["Bizdate"] - DAY_MS, CycTime=real["CycTime"] - DAY_MS,
                      Status="WAIT_TRIGGER", DagType="DAILY", InstanceId=_foreign_id(real, "day-before"))
    return [other_node, day_before]


def _foreign_id(real: dict, kind: str) -> int:
    """Stable, below 2**53 like the world's, and not the real instance's."""
    return int(hashlib.sha256(f"{real['InstanceId']}/{kind}".encode()).hexdigest()[:13], 16)


def run_trigger_node(world: World, params: Mapping[str, str]) -> dict:
    node, cycle, biz, app = (_int(params, name) for name in ("NodeId", "CycleTime", "BizDate", "AppId"))
    world.trigger(app, node, cycle, biz)
    return {"Success": True}


ACTIONS: Dict[Tuple[str, str], Callable[[World, Mapping[str, str]], dict]] = {
    ("ListInstances", VERSION): list_instances,
    ("RunTriggerNode", VERSION): run_trigger_node,
}


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise ApiError(400, "MissingParameter",
                       f'The input parameter "{name}" that is mandatory for processing this request is not supplied.')
    return value


_REQUIRED = object()


def _int(params: Mapping[str, str], name: str, default=_REQUIRED) -> Optional[int]:
    """An integer parameter; without a default it is required."""
    if default is not _REQUIRED and params.get(name) in (None, ""):
        return default
    try:
        return int(_required(params, name))
    except ValueError:
        raise _invalid(name) from None


def _invalid(name: str) -> ApiError:
    return ApiError(400, "InvalidParameter", f'The specified parameter "{name}" is invalid.')
