"""The RAM actions behind dwtrigger's calls, so a refused call names what to grant, and where deploy/ram/ grants it.

DataWorks authorizes per operation under the RAM code `dataworks`: an API's action is `dataworks:<API name>`
(its 2024-05-18 RAM page lists them so; some 2020-05-18 pages list only `dataworks:*`, and the pages of
ListUpstreamTasks and GetTaskInstance disclose none: docs/deploy.md's RAM notes). OSS names its own actions: a listing
(ListObjectsV2) is `oss:ListObjects`, a read or a look (GetObject, HeadObject, GetObjectMeta) `oss:GetObject`.
tests/test_ram.py runs doctor and the sweep against the emulator and the OSS stand-in and holds the policy files
to every call they saw.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

from ..dataworks import API_2020, API_2024
from ..retry import RemoteError

# What each step of the port calls, per API.
DATAWORKS = {API_2020: {"look-up": "ListInstances", "parents": "GetNodeParents", "trigger": "RunTriggerNode"},
             API_2024: {"look-up": "ListTaskInstances", "parents": "ListUpstreamTasks",
                        "trigger": "TriggerSchedulerTaskInstance"}}
OSS = {"ListObjectsV2": "oss:ListObjects", "GetObject": "oss:GetObject", "HeadObject": "oss:GetObject",
       "GetObjectMeta": "oss:GetObject", "PutObject": "oss:PutObject"}
# The deploy/ram/ file that grants each DataWorks action to a person: operator.json the reads of doctor and status
# (the look-up, the parents), dataworks.json the trigger (and the look-up: it is the function's role's policy).
GRANTED_BY = {**{f"dataworks:{DATAWORKS[api][step]}": "deploy/ram/operator.json"
                 for api in DATAWORKS for step in ("look-up", "parents")},
              **{f"dataworks:{DATAWORKS[api]['trigger']}": "deploy/ram/dataworks.json" for api in DATAWORKS}}
OSS_READS = "deploy/ram/oss-require.json"
# `dwtrigger logs setup`'s SLS calls and their RAM actions (SLS's RAM code `log`): an alert is a job to RAM.
SLS = {**{op: f"log:{op}" for op in ("GetProject", "CreateProject", "GetLogStore", "CreateLogStore", "UpdateLogStore",
                                     "GetIndex", "CreateIndex", "UpdateIndex", "GetSavedSearch", "CreateSavedSearch",
                                     "UpdateSavedSearch")},
       "GetAlert": "log:GetJob", "CreateAlert": "log:CreateJob", "UpdateAlert": "log:UpdateJob"}
SLS_SETUP = "deploy/ram/sls-setup.json"

_DENIED = re.compile(r"NotAuthorized|Forbidden|AccessDenied|NoPermission", re.IGNORECASE)


def dataworks(api: str, step: str) -> str:
    """The RAM action of one step ("look-up", "parents", "trigger") on `api`."""
    return f"dataworks:{DATAWORKS[api][step]}"


def action(call: dict) -> str:
    """The RAM action a call the emulator, the OSS or the SLS stand-in recorded needs."""
    if "action" in call:
        return f"dataworks:{call['action']}"
    return SLS[call["operation"]] if "resource" in call else OSS[call["operation"]]


def denied(error: Optional[RemoteError]) -> bool:
    """A refusal for want of a permission (not a wrong key or signature, which are other 403s)."""
    return error is not None and bool(_DENIED.search(error.code))


def grant(actions: Iterable[str], buckets: Sequence[str] = ()) -> str:
    """What to do about a refusal: the actions to grant (on `buckets`, for OSS), and the policy file that does."""
    names = sorted(set(actions))
    files = ", ".join(sorted({GRANTED_BY.get(a, OSS_READS) for a in names}))
    if not buckets:
        return f"grant {' and '.join(names)} to the identity of these keys ({files})"
    each = ", ".join(f"BUCKET={b}" for b in buckets)
    return (f"grant {' and '.join(names)} on bucket {', '.join(buckets)} to the identity of these keys ({files} "
            f"with {each}{', one policy each' if len(buckets) > 1 else ''})")
