"""What the SLS stand-in keeps: projects, and in each its logstores (each with its index), saved searches and alerts,
as the JSON SLS was given, with the fields SLS adds itself (times, status, defaults) on the way out.

Each operation answers as SLS documents it: the resource's JSON, or an SlsError with SLS's code (ProjectNotExist,
LogStoreNotExist, IndexConfigNotExist, SavedSearchNotExist, JobNotExist for an alert, ...AlreadyExist on a second
create). Not thread-safe by itself: the gateway calls it under its lock.
"""

import copy
import time
from typing import Any, Dict, Optional

from .sls_signature import SlsError

LOGSTORE_DEFAULTS = {"appendMeta": False, "autoSplit": False, "enable_tracking": False, "maxSplitShard": 0,
                     "mode": "standard", "telemetryType": "None", "hot_ttl": 0, "infrequentAccessTTL": 0}


def _now() -> int:
    return int(time.time())


class Projects:
    def __init__(self, region: str):
        self.region = region
        self.projects: Dict[str, dict] = {}

    def project(self, name: Optional[str]) -> dict:
        if not name or name not in self.projects:
            raise SlsError(404, "ProjectNotExist", f"Project {name} does not exist")
        return self.projects[name]

    # ---- projects ----

    def create_project(self, body: dict) -> None:
        name = _required(body, "projectName")
        if name in self.projects:
            raise SlsError(400, "ProjectAlreadyExist", f"Project {name} already exist")
        self.projects[name] = {"meta": {"projectName": name, "description": body.get("description") or "",
                                        "region": self.region, "status": "Normal", "owner": "",
                                        "createTime": str(_now()), "lastModifyTime": str(_now())},
                               "logstores": {}, "indexes": {}, "savedsearches": {}, "alerts": {}}

    def get_project(self, name: str) -> dict:
        return self.project(name)["meta"]

    # ---- logstores ----

    def create_logstore(self, project: str, body: dict) -> None:
        stores = self.project(project)["logstores"]
        name = _required(body, "logstoreName")
        if name in stores:
            raise SlsError(400, "LogStoreAlreadyExist", f"logstore {name} already exists")
        _required(body, "ttl")
        _required(body, "shardCount")
        stores[name] = {**LOGSTORE_DEFAULTS, **body, "createTime": _now(), "lastModifyTime": _now()}

    def logstore(self, project: str, name: str) -> dict:
        stores = self.project(project)["logstores"]
        if name not in stores:
            raise SlsError(404, "LogStoreNotExist", f"logstore {name} does not exist")
        return stores[name]

    def update_logstore(self, project: str, name: str, body: dict) -> None:
        store = self.logstore(project, name)
        store.update({k: v for k, v in body.items() if k not in ("logstoreName", "shardCount")},
                     lastModifyTime=_now())

    # ---- indexes ----

    def create_index(self, project: str, logstore: str, body: dict) -> None:
        self.logstore(project, logstore)
        indexes = self.project(project)["indexes"]
        if logstore in indexes:
            raise SlsError(400, "IndexAlreadyExist", f"log store index {logstore} already exists")
        indexes[logstore] = _index(body)

    def index(self, project: str, logstore: str) -> dict:
        self.logstore(project, logstore)
        index = self.project(project)["indexes"].get(logstore)
        if index is None:
            raise SlsError(404, "IndexConfigNotExist", f"index config doesn't exist for logstore {logstore}")
        return {**index, "index_mode": "v2", "storage": "pg", "lastModifyTime": index["lastModifyTime"]}

    def update_index(self, project: str, logstore: str, body: dict) -> None:
        self.index(project, logstore)
        self.project(project)["indexes"][logstore] = _index(body)

    # ---- saved searches and alerts ----

    def create(self, kind: str, project: str, body: dict) -> None:
        field, code = _KINDS[kind]
        held = self.project(project)[kind]
        name = _required(body, field)
        if name in held:
            raise SlsError(400, f"{code}AlreadyExist", f"{name} already exists")
        if kind == "alerts":
            _required(body, "configuration")
            _required(body, "schedule")
            body = {**body, "status": "ENABLED", "createTime": _now(), "lastModifiedTime": _now()}
        else:
            _required(body, "logstore")
            _required(body, "searchQuery")
        held[name] = body

    def get(self, kind: str, project: str, name: str) -> dict:
        held = self.project(project)[kind]
        if name not in held:
            raise SlsError(404, f"{_KINDS[kind][1]}NotExist", f"{name} does not exist")
        return held[name]

    def update(self, kind: str, project: str, name: str, body: dict) -> None:
        found = self.get(kind, project, name)
        stamp = {"lastModifiedTime": _now()} if kind == "alerts" else {}
        found.update({k: v for k, v in body.items() if k != _KINDS[kind][0]}, **stamp)

    def snapshot(self) -> Dict[str, Any]:
        return copy.deepcopy(self.projects)


_KINDS = {"savedsearches": ("savedsearchName", "SavedSearch"), "alerts": ("name", "Job")}


def _required(body: dict, field: str):
    value = body.get(field)
    if value in (None, ""):
        raise SlsError(400, "ParameterInvalid", f"{field} is required")
    return value


def _index(body: dict) -> dict:
    if not body.get("keys") and not body.get("line"):
        raise SlsError(400, "ParameterInvalid", "an index needs keys or line")
    for name, key in (body.get("keys") or {}).items():
        if key.get("type") not in ("text", "long", "double", "json"):
            raise SlsError(400, "ParameterInvalid", f"key {name}: type {key.get('type')!r} is not supported")
        for leaf, sub in (key.get("json_keys") or {}).items():
            if sub.get("type") not in ("text", "long", "double"):
                raise SlsError(400, "ParameterInvalid", f"json key {name}.{leaf}: type {sub.get('type')!r} is not "
                                                        "supported (leaf nodes only)")
    return {**copy.deepcopy(body), "lastModifyTime": _now()}
