"""Load and validate the emulator's seed (YAML or JSON): fail at load time on typos, not mid-test.

Format (optional keys except the ids and deployed)::

    now: "2026-03-12T10:00:00+08:00"   # fixed emulator clock start; omitted: real time
    keys: [{access_key_id, access_key_secret, security_token}]   # security_token makes it an STS key
    roles: ["acs:ram::1234567890:role/dwtrigger-cross"]           # roles AssumeRole grants
    workspaces:
      - id: 10001
        timezone: Asia/Shanghai        # scheduling zone (default Asia/Shanghai)
        api: "2020-05-18"              # or "2024-05-18" (new Data Studio): the API its nodes answer to
        nodes:
          - id: 700001234567           # the NodeId; in a 2024-05-18 workspace the TaskId
            name: orders_trigger
            deployed: 2026-01-01       # first cycle date is deployed + 1
            at: "00:30"                # daily (default "00:00"); or hourly: true; or times: ["00:00", "12:00"]
            frozen: false
            parents_done: true         # false: NOT_RUN until Emulator.finish_parents
            parents: [700001234500]    # nodes it depends on (GetNodeParents, ListUpstreamTasks), see below
            env: PROD                  # or DEV
            instances:                 # DAILY entries override status; other dag_types add instances
              - {bizdate: 2026-03-10, cycle: "00:30", status: SUCCESS, dag_type: DAILY}
    faults: {}                         # initial fault config (see faults.py)

`status` is one of NOT_RUN, WAIT_TIME, WAIT_RESOURCE, RUNNING, CHECKING, CHECKING_CONDITION, FAILURE, SUCCESS,
WAIT_TRIGGER (2024-05-18 answers them in CamelCase). A `parents` entry is a node id of the same workspace, or
``{id, workspace, cross_cycle}``: a node of another workspace on the same API, and/or a dependency on the parent's
previous cycle (its instances of the business date before; a node may depend so on itself). Parents must exist
and form no same-cycle loop. An instance waits (NOT_RUN) while any of its parents' DAILY instances of the date
counted is not SUCCESS, unless Emulator.finish_parents marked them done (world.py).

Times must be quoted: unquoted YAML 1.1 reads 12:00 as the base-60 integer 720, which is accepted and read back.
A TaskId names one task: a node id may appear in only one 2024-05-18 workspace (TriggerSchedulerTaskInstance
names no workspace). 2020-05-18 workspaces may share node ids with each other and with 2024-05-18 ones.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Dict, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .clock import parse_iso
from .signature import Key
from .sts import ROLE_ARN

STATUSES = frozenset({"NOT_RUN", "WAIT_TIME", "WAIT_RESOURCE", "RUNNING", "CHECKING", "CHECKING_CONDITION",
                      "FAILURE", "SUCCESS", "WAIT_TRIGGER"})
DAG_TYPES = frozenset({"DAILY", "MANUAL", "SMOKE_TEST", "SUPPLY_DATA", "BUSINESS_PROCESS_DAG"})
API_2020, API_2024 = "2020-05-18", "2024-05-18"


@dataclass(frozen=True)
class InstanceSpec:
    """A seeded instance entry; cycle None means every scheduled time of that business date."""
    bizdate: date
    cycle: Optional[time]
    dag_type: str
    status: Optional[str]


@dataclass(frozen=True)
class ParentSpec:
    """A node another depends on; cross_cycle: on its instances of the business date before."""
    workspace: int
    node: int
    cross_cycle: bool


@dataclass(frozen=True)
class NodeSpec:
    id: int
    name: str
    deployed: date
    times: Tuple[time, ...]
    frozen: bool
    parents_done: bool
    env: str
    instances: Tuple[InstanceSpec, ...]
    parents: Tuple[ParentSpec, ...] = ()


@dataclass(frozen=True)
class WorkspaceSpec:
    id: int
    zone: ZoneInfo
    api: str
    nodes: Dict[int, NodeSpec]


@dataclass(frozen=True)
class Seed:
    now: Optional[datetime]
    keys: Tuple[Key, ...]
    roles: Tuple[str, ...]
    workspaces: Dict[int, WorkspaceSpec]
    faults: dict


def load_seed(source) -> Seed:
    """A Seed from a dict or from the path of a YAML/JSON file."""
    raw = read_seed(source, ("now", "keys", "roles", "workspaces", "faults"))
    workspaces = [_workspace(w) for w in raw.get("workspaces") or ()]
    _unique_tasks(workspaces)
    _check_parents({w.id: w for w in workspaces})
    return Seed(
        now=parse_iso(raw["now"]) if raw.get("now") else None,
        keys=tuple(_key(k) for k in raw.get("keys") or ()),
        roles=tuple(_role(r) for r in raw.get("roles") or ()),
        workspaces={w.id: w for w in workspaces},
        faults=dict(raw.get("faults") or {}),
    )


def read_seed(source, keys: Tuple[str, ...]) -> dict:
    """A seed's top level (the emulator's or the OSS stand-in's), from a dict or a YAML/JSON file: `keys` only."""
    if not isinstance(source, dict):
        text = Path(source).read_text(encoding="utf-8")
        source = json.loads(text) if str(source).endswith(".json") else yaml.safe_load(text)
    return _fields(source or {}, "seed", optional=keys)


def parse_date(value) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got the datetime {value!r}")
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _fields(raw, where: str, required=(), optional=()) -> dict:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping, got {raw!r}")
    unknown = set(raw) - set(required) - set(optional)
    missing = [k for k in required if k not in raw]
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing keys {missing}")
    return raw


def _key(raw) -> Key:
    raw = _fields(raw, "keys[]", required=("access_key_id", "access_key_secret"), optional=("security_token",))
    return Key(str(raw["access_key_id"]), str(raw["access_key_secret"]), raw.get("security_token") or None)


def _role(raw) -> str:
    if not ROLE_ARN.fullmatch(str(raw)):
        raise ValueError(f"roles: {raw!r} is not acs:ram::<account>:role/<name>")
    return str(raw)


def _workspace(raw) -> WorkspaceSpec:
    raw = _fields(raw, "workspaces[]", required=("id",), optional=("timezone", "api", "nodes"))
    nodes = [_node(n, int(raw["id"])) for n in raw.get("nodes") or ()]
    try:
        zone = ZoneInfo(raw.get("timezone") or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"workspace {raw['id']}: unknown timezone {raw.get('timezone')!r}") from None
    api = str(raw.get("api", API_2020))
    if api not in (API_2020, API_2024):
        raise ValueError(f"workspace {raw['id']}: api must be {API_2020!r} or {API_2024!r}, not {api!r}")
    return WorkspaceSpec(int(raw["id"]), zone, api, {n.id: n for n in nodes})


def _unique_tasks(workspaces) -> None:
    seen: Dict[int, int] = {}
    for ws in workspaces:
        for task in ws.nodes if ws.api == API_2024 else ():
            if seen.setdefault(task, ws.id) != ws.id:
                raise ValueError(f"task {task} is in the 2024-05-18 workspaces {seen[task]} and {ws.id}: "
                                 f"a TaskId names one task")


def _check_parents(workspaces: Dict[int, WorkspaceSpec]) -> None:
    """Every parent exists on its child's API, and no node is its own same-cycle ancestor."""
    for ws in workspaces.values():
        for node in ws.nodes.values():
            for p in node.parents:
                parent_ws = workspaces.get(p.workspace)
                if parent_ws is None or p.node not in parent_ws.nodes or parent_ws.api != ws.api:
                    raise ValueError(f"workspace {ws.id} node {node.id}: parent {p.node} is not a node of a "
                                     f"{ws.api} workspace {p.workspace}")
    done: set = set()

    def visit(key: Tuple[int, int], path: Tuple[Tuple[int, int], ...]) -> None:
        if key in path:
            raise ValueError(f"parents form a same-cycle loop: {' -> '.join(str(n) for _, n in path + (key,))}")
        if key not in done:
            for p in workspaces[key[0]].nodes[key[1]].parents:
                if not p.cross_cycle:
                    visit((p.workspace, p.node), path + (key,))
            done.add(key)

    for ws in workspaces.values():
        for node in ws.nodes:
            visit((ws.id, node), ())


def _parent(raw, workspace: int, where: str) -> ParentSpec:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return ParentSpec(workspace, raw, False)
    raw = _fields(raw, f"{where} parents[]", required=("id",), optional=("workspace", "cross_cycle"))
    return ParentSpec(int(raw.get("workspace", workspace)), int(raw["id"]), bool(raw.get("cross_cycle", False)))


def _node(raw, workspace: int) -> NodeSpec:
    where = f"workspace {workspace}"
    raw = _fields(raw, f"{where} nodes[]", required=("id", "deployed"),
                  optional=("name", "at", "hourly", "times", "frozen", "parents_done", "parents", "env",
                            "instances"))
    where = f"{where} node {raw['id']}"
    if sum(k in raw for k in ("at", "hourly", "times")) > 1:
        raise ValueError(f"{where}: give only one of at, hourly, times")
    if raw.get("hourly"):
        times = tuple(time(h) for h in range(24))
    else:
        times = tuple(sorted({_time(t) for t in raw.get("times") or [raw.get("at", "00:00")]}))
    env = str(raw.get("env", "PROD"))
    if env not in ("PROD", "DEV"):
        raise ValueError(f"{where}: env must be PROD or DEV")
    deployed = parse_date(raw["deployed"])
    instances = tuple(_instance(i, where, times) for i in raw.get("instances") or ())
    if any(i.dag_type == "DAILY" and i.bizdate < deployed for i in instances):
        raise ValueError(f"{where}: DAILY instances start at the deployment date {deployed}")
    return NodeSpec(int(raw["id"]), str(raw.get("name", f"node_{raw['id']}")), deployed, times,
                    bool(raw.get("frozen", False)), bool(raw.get("parents_done", True)), env, instances,
                    tuple(_parent(p, workspace, where) for p in raw.get("parents") or ()))


def _instance(raw, where: str, times) -> InstanceSpec:
    raw = _fields(raw, f"{where} instances[]", required=("bizdate",), optional=("cycle", "status", "dag_type"))
    cycle = _time(raw["cycle"]) if "cycle" in raw else None
    if cycle is not None and cycle not in times:
        raise ValueError(f"{where}: cycle {cycle:%H:%M} is not a scheduled time of the node")
    status, dag_type = raw.get("status"), str(raw.get("dag_type", "DAILY"))
    if status is not None and status not in STATUSES:
        raise ValueError(f"{where}: unknown status {status!r}")
    if dag_type not in DAG_TYPES:
        raise ValueError(f"{where}: unknown dag_type {dag_type!r}")
    return InstanceSpec(parse_date(raw["bizdate"]), cycle, dag_type, status)


def _time(value) -> time:
    if isinstance(value, int):  # PyYAML's base-60 reading of an unquoted HH:MM
        return time(value // 60, value % 60)
    return time.fromisoformat(str(value))
