"""The DataWorks 2024-05-18 actions (new Data Studio) over the same world: ListTaskInstances, GetTaskInstance,
TriggerSchedulerTaskInstance. In a 2024-05-18 workspace (seed ``api``) a node is a task, its id the TaskId.

ListTaskInstances (POST, form body): ProjectId and Bizdate (epoch ms) required; Bizdate matches the instances
whose business-date midnight in the workspace's zone is exactly that ms (any other number matches none).
ProjectEnv Prod | Dev (default Prod; a node's seed env PROD | DEV). Optional filters: TaskId; TaskIds, a JSON
array of task ids as the SDK sends a list (`[1,2]`: the instances of any of them; anything else InvalidParameter);
Status, one of
NotRun, Running, Failure, Success, WaitTime, WaitResource only (WaitTrigger and anything else: InvalidParameter,
as DataWorks documents); TriggerType Scheduler | Manual; WorkflowInstanceType (the values below, or
TriggerWorkflow, which matches nothing). PageNumber (default 1), PageSize (default 10, at most 500). Always
sorted by Id descending, the API's default SortBy (SortBy and other parameters are ignored): never time order.
Answer ``{"RequestId", "PagingInfo": {"PageNumber", "PageSize", "TotalCount", "TaskInstances"}}``, no Success.

A task instance: Id, TaskId, TaskName, TaskType TRIGGER, Status (the world's, in CamelCase: WAIT_TRIGGER →
WaitTrigger, ...), Bizdate, TriggerTime (the scheduled time, 2020's CycTime), PeriodNumber (world.py),
ProjectId, ProjectEnv, TriggerType (Scheduler for DAILY instances, else Manual), TriggerRecurrence (Pause for a
frozen node, else Normal), WorkflowInstanceType (DAILY Normal, SUPPLY_DATA SupplementData, SMOKE_TEST SmokeTest,
MANUAL Manual, BUSINESS_PROCESS_DAG ManualWorkflow), WorkflowId and WorkflowInstanceId (stable hashes), RunNumber 1.

GetTaskInstance (GET, Id in the query) answers ``{"RequestId", "TaskInstance": ...}``, the SDK's response key;
an unknown Id is 400 ``Emulator.Instance.NotFound``.

TriggerSchedulerTaskInstance (POST): EnvType in the query (Prod | Dev, default Prod), TaskId and TriggerTime
(epoch ms) in the form body, no workspace. It takes RunTriggerNode's path through the world (world.py) for the
task's DAILY instance scheduled exactly at TriggerTime: released now or held; 400 ``Emulator.Instance.NotFound``
or ``Emulator.Instance.Frozen``. DataWorks says "each instance can be triggered only once; triggering it again
has no effect" without saying how the repeat answers. The emulator's choice: a trigger for an instance that
already ran, runs or was released answers 200 ``{"RequestId", "Success": true}`` and changes nothing, so the
caller cannot tell a repeat from a release (only a look-up can); Emulator.calls marks it with the code
``Emulator.Instance.NoEffect`` (recorded, never sent), to count as RunTriggerNode's AlreadyRun refusals are.
Parameters are read from query and body alike, as for every action; Emulator.calls records which came in the
query, so a test can check where EnvType went.

ListUpstreamTasks (GET, parameters in the query): Id (the TaskId) required; ProjectEnv Prod | Dev (default Prod);
PageNumber, PageSize (default 10, at most 100: DataWorks documents no limit). Answers ``{"RequestId", "PagingInfo":
{"PageNumber", "PageSize", "TotalCount", "UpstreamTasks": [{"DependencyType": Normal | CrossCycle, "Task": ...}],
"Tasks": [...]}}`` in seed order, ``Tasks`` being the deprecated list DataWorks still documents (the same tasks,
with StepType). A task: Id, Name, ProjectId, EnvType, Type TRIGGER, InstanceMode T+1, Trigger {Type Scheduler,
Recurrence Pause for a frozen node, else Normal}. A TaskId no 2024-05-18 workspace has in that environment is 400
``Emulator.Node.NotFound``.

Workspaces on the 2020-05-18 API are not this API's: ListTaskInstances naming one answers an empty page, a TaskId
found only there is not found, GetTaskInstance does not find their instances.
"""

import json
from datetime import datetime
from typing import Callable, Dict, Mapping, Optional, Tuple

from .errors import ApiError, NoEffect
from .lies import Spelling, liar
from .params import choice, integer, invalid, paging
from .seed import API_2024, NodeSpec, WorkspaceSpec
from .world import Instance, World, local_date, ran_ms, stable_id

VERSION = API_2024
MAX_PAGE_SIZE = 500
MAX_UPSTREAM_PAGE_SIZE = 100
NO_EFFECT_CODE = "Emulator.Instance.NoEffect"
ENVS = {"Prod": "PROD", "Dev": "DEV"}
STATUSES = {"NOT_RUN": "NotRun", "WAIT_TIME": "WaitTime", "WAIT_RESOURCE": "WaitResource", "RUNNING": "Running",
            "CHECKING": "Checking", "CHECKING_CONDITION": "CheckingCondition", "FAILURE": "Failure",
            "SUCCESS": "Success", "WAIT_TRIGGER": "WaitTrigger"}
WORKFLOW_TYPES = {"DAILY": "Normal", "SUPPLY_DATA": "SupplementData", "SMOKE_TEST": "SmokeTest", "MANUAL": "Manual",
                  "BUSINESS_PROCESS_DAG": "ManualWorkflow"}
FILTERS = {"Status": frozenset({"NotRun", "Running", "Failure", "Success", "WaitTime", "WaitResource"}),
           "TriggerType": frozenset({"Scheduler", "Manual"}),
           "WorkflowInstanceType": frozenset(WORKFLOW_TYPES.values()) | {"TriggerWorkflow"}}


def list_task_instances(world: World, params: Mapping[str, str]) -> dict:
    project, bizdate = integer(params, "ProjectId"), integer(params, "Bizdate")
    env = ENVS[choice(params, "ProjectEnv", ENVS, "Prod")]
    task, tasks = integer(params, "TaskId", None), _task_ids(params)
    wanted = {name: choice(params, name, allowed) for name, allowed in FILTERS.items()}
    page, size = paging(params, MAX_PAGE_SIZE)
    day = local_date(bizdate, world.workspace(project).zone)
    found = [task_view(*f) for f in world.list_instances(project, VERSION, env, task, day)
             if f[0].biz_ms == bizdate and (tasks is None or f[0].node.id in tasks)]
    found = sorted((t for t in found if all(v in (None, t[k]) for k, v in wanted.items())),
                   key=lambda t: t["Id"], reverse=True)
    return {"PagingInfo": {"PageNumber": page, "PageSize": size, "TotalCount": len(found),
                           "TaskInstances": found[(page - 1) * size:page * size]}}


def _task_ids(params: Mapping[str, str]) -> Optional[frozenset]:
    """TaskIds: a JSON array of integers, or None when absent."""
    raw = params.get("TaskIds")
    if raw in (None, ""):
        return None
    try:
        ids = json.loads(raw)
    except ValueError:
        raise invalid("TaskIds") from None
    if not isinstance(ids, list) or not all(type(i) is int for i in ids):
        raise invalid("TaskIds")
    return frozenset(ids)


def get_task_instance(world: World, params: Mapping[str, str]) -> dict:
    instance_id = integer(params, "Id")
    found = world.find(VERSION, instance_id)
    if found is None:
        raise ApiError(400, "Emulator.Instance.NotFound", f"No task instance has Id {instance_id}.")
    return {"TaskInstance": task_view(*found)}


def trigger_scheduler_task_instance(world: World, params: Mapping[str, str]) -> dict:
    env = ENVS[choice(params, "EnvType", ENVS, "Prod")]
    task, at = integer(params, "TaskId"), integer(params, "TriggerTime")
    if not world.trigger_task(env, task, at):
        raise NoEffect({"Success": True}, NO_EFFECT_CODE)
    return {"Success": True}


def list_upstream_tasks(world: World, params: Mapping[str, str]) -> dict:
    task, env = integer(params, "Id"), ENVS[choice(params, "ProjectEnv", ENVS, "Prod")]
    page, size = paging(params, MAX_UPSTREAM_PAGE_SIZE)
    found = [(_task(ws, parent), "CrossCycle" if cross_cycle else "Normal")
             for ws, parent, cross_cycle in world.parents(VERSION, env, task)]
    shown = found[(page - 1) * size:page * size]
    return {"PagingInfo": {"PageNumber": page, "PageSize": size, "TotalCount": len(found),
                           "UpstreamTasks": [{"DependencyType": kind, "Task": view} for view, kind in shown],
                           "Tasks": [dict(view, StepType=kind, ProjectEnv=view["EnvType"]) for view, kind in shown]}}


def _task(ws: WorkspaceSpec, node: NodeSpec) -> dict:
    """A task as ListUpstreamTasks shows it."""
    return {"Id": node.id, "Name": node.name, "ProjectId": ws.id, "EnvType": node.env.title(), "Type": "TRIGGER",
            "InstanceMode": "T+1", "Trigger": {"Type": "Scheduler", "Recurrence": "Pause" if node.frozen else "Normal"}}


def task_view(inst: Instance, status: str, ran: Optional[datetime] = None) -> dict:
    """An instance as ListTaskInstances and GetTaskInstance show it; one that ran (at `ran`) with its StartedTime
    and FinishedTime."""
    return {
        "Id": inst.id, "TaskId": inst.node.id, "TaskName": inst.node.name, "TaskType": "TRIGGER",
        "Status": STATUSES[status], "Bizdate": inst.biz_ms, "TriggerTime": inst.cyc_ms,
        "PeriodNumber": inst.period, "ProjectId": inst.workspace.id, "ProjectEnv": inst.node.env.title(),
        "TriggerType": "Scheduler" if inst.dag_type == "DAILY" else "Manual",
        "TriggerRecurrence": "Pause" if inst.node.frozen else "Normal",
        "WorkflowInstanceType": WORKFLOW_TYPES[inst.dag_type],
        "WorkflowId": stable_id(f"{inst.workspace.id}/{inst.node.id}/workflow"),
        "WorkflowInstanceId": stable_id(f"{inst.id}/workflow-instance"), "RunNumber": 1,
        **({} if ran is None else {"StartedTime": ran_ms(ran), "FinishedTime": ran_ms(ran)}),
    }


ACTIONS: Dict[Tuple[str, str], Callable[[World, Mapping[str, str]], dict]] = {
    ("ListTaskInstances", VERSION): list_task_instances,
    ("GetTaskInstance", VERSION): get_task_instance,
    ("TriggerSchedulerTaskInstance", VERSION): trigger_scheduler_task_instance,
    ("ListUpstreamTasks", VERSION): list_upstream_tasks,
}
LIARS = {("ListTaskInstances", VERSION): liar(list_task_instances, Spelling(
    "PagingInfo", "TaskInstances", "Id", "TaskId", "TriggerTime", ran={"Status": "Success"},
    waiting={"Status": "WaitTrigger", "WorkflowInstanceType": "Normal", "TriggerType": "Scheduler"}))}
