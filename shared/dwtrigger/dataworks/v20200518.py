"""The 2020-05-18 adapter: ListInstances and RunTriggerNode through tea-openapi's generic `call_api`.

The generic call signs and sends exactly what the product SDK's methods would (the same Params) without importing
its 14 MB of models, and hands back the answer's bytes. They are decoded here against typed schemas: an answer
off its schema is BadResponse (retryable), never a traceback, and a trigger counts only when DataWorks answered
`"Success": true`. Every call runs in a wire.budget of the time the deadline leaves; paging stops at the API's own
limit, and at the first page that repeats an instance.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, List, Optional, Type, TypeVar

import msgspec
from alibabacloud_tea_openapi.client import Client
from alibabacloud_tea_openapi.utils_models import Config, OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from .. import wire
from . import DataWorksError, Deadline, Instance
from .errors import classify, clean, error_code

VERSION = "2020-05-18"
PAGE_SIZE, MAX_PAGES = 100, 100          # ListInstances' own limits
CONNECT_TIMEOUT_MS, READ_TIMEOUT_MS = 5000, 10000    # per connect / per read; the budget bounds the whole call
EpochMs = Annotated[int, msgspec.Meta(ge=0, le=253_370_764_800_000)]     # 1970 to 9999-01-01

wire.install()


class _Answer(msgspec.Struct):
    """What every answer carries; `Success` must be there, and true."""
    Success: bool
    RequestId: str = ""
    ErrorCode: Optional[str] = None
    ErrorMessage: Optional[str] = None


class _Instance(msgspec.Struct):
    InstanceId: int
    NodeId: int
    Status: str
    DagType: str
    CycTime: EpochMs
    Bizdate: EpochMs
    TaskType: str = ""


class _Page(msgspec.Struct):
    TotalCount: Annotated[int, msgspec.Meta(ge=0)]
    Instances: Annotated[List[_Instance], msgspec.Meta(max_length=PAGE_SIZE)] = []
    PageNumber: Optional[int] = None


class _Listing(_Answer):
    Data: Optional[_Page] = None


Answer = TypeVar("Answer", bound=_Answer)


class DataWorks20200518:
    def __init__(self, endpoint: str, protocol: str, credential) -> None:
        # Endpoint always explicit: the SDK's region->endpoint mapping is wrong for some regions and VPC.
        self._client = Client(Config(endpoint=endpoint, protocol=protocol, credential=credential))

    def list_instances(self, workspace: int, env: str, node: int, biz_date: date,
                       deadline: Deadline) -> List[Instance]:
        found: List[Instance] = []
        seen = set()
        for page in range(1, MAX_PAGES + 1):
            data = self._call("ListInstances", {
                "ProjectId": workspace, "ProjectEnv": env, "NodeId": node, "Bizdate": f"{biz_date:%Y-%m-%d} 00:00:00",
                "PageNumber": page, "PageSize": PAGE_SIZE}, _Listing, deadline).Data
            if data is None or data.PageNumber not in (None, page):
                raise _bad(f"ListInstances asked for page {page} answered "
                           + ("no Data" if data is None else f"page {data.PageNumber}"))
            for item in data.Instances:
                if item.InstanceId in seen:
                    raise _bad(f"ListInstances listed instance {item.InstanceId} twice: its paging does not advance")
                seen.add(item.InstanceId)
                found.append(Instance(item.InstanceId, item.NodeId, item.Status, item.DagType, item.TaskType,
                                      item.CycTime, item.Bizdate))
            if not data.Instances or len(found) >= data.TotalCount:
                return found
        raise _bad(f"ListInstances paging did not end within {MAX_PAGES} pages (TotalCount {data.TotalCount})")

    def trigger(self, workspace: int, node: int, cycle_ms: int, biz_date_ms: int, deadline: Deadline) -> str:
        answer = self._call("RunTriggerNode", {"NodeId": node, "CycleTime": cycle_ms, "BizDate": biz_date_ms,
                                               "AppId": workspace}, _Answer, deadline)
        return answer.RequestId

    def _call(self, action: str, body: dict, schema: Type[Answer], deadline: Deadline) -> Answer:
        """One signed call within the time the deadline leaves; its answer decoded, `Success: true` checked."""
        left = deadline.left()
        if left <= 0:
            raise DataWorksError("DeadlineExceeded", "no time was left for the call", retryable=True)
        params = Params(action=action, version=VERSION, protocol="HTTPS", pathname="/", method="POST",
                        auth_type="AK", style="RPC", req_body_type="formData", body_type="byte")
        with wire.budget(left) as spent:
            try:
                raw = self._client.call_api(params, OpenApiRequest(body=body), RuntimeOptions(
                    connect_timeout=CONNECT_TIMEOUT_MS, read_timeout=READ_TIMEOUT_MS))
            except Exception as exc:  # noqa: BLE001 - classify() re-raises what is not the SDK's
                raise classify(exc, spent) from None
        if raw.get("statusCode") != 200:
            raise _bad(f"{action} answered HTTP {raw.get('statusCode')}")
        try:
            answer = msgspec.json.decode(raw.get("body") or b"", type=schema)
        except msgspec.DecodeError as e:
            raise _bad(f"{action} answered off its schema: {clean(str(e))}") from None
        if answer.Success is not True:
            raise DataWorksError(error_code(answer.ErrorCode) or "SuccessFalse",
                                 clean(answer.ErrorMessage or "DataWorks answered Success: false", 300),
                                 retryable=True, request_id=clean(answer.RequestId, 64) or None, status=200)
        answer.RequestId = clean(answer.RequestId, 64)
        return answer


def _bad(message: str) -> DataWorksError:
    return DataWorksError("BadResponse", message, retryable=True)
