"""The 2020-05-18 adapter: ListInstances + RunTriggerNode through the real SDK."""
from __future__ import annotations

from datetime import date
from typing import List

from alibabacloud_dataworks_public20200518 import models
from alibabacloud_dataworks_public20200518.client import Client
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from . import DataWorksError, Instance
from .errors import classify

PAGE_SIZE = 100      # the API's maximum
CONNECT_TIMEOUT_MS, READ_TIMEOUT_MS = 5000, 10000   # the SDK's defaults; never more than the time left


class DataWorks20200518:
    def __init__(self, endpoint: str, protocol: str, credential) -> None:
        # Endpoint always explicit: the SDK's region->endpoint mapping is wrong for some regions and VPC.
        self._client = Client(Config(endpoint=endpoint, protocol=protocol, credential=credential))

    def list_instances(self, workspace: int, env: str, node: int, biz_date: date,
                       timeout_s: float) -> List[Instance]:
        out: List[Instance] = []
        page = 1
        while True:
            request = models.ListInstancesRequest(
                project_id=workspace, project_env=env, node_id=node,
                bizdate=f"{biz_date:%Y-%m-%d} 00:00:00", page_number=page, page_size=PAGE_SIZE)
            body = self._call(self._client.list_instances_with_options, request, timeout_s)
            data = body.get("Data") or {}
            items = data.get("Instances") or []
            try:
                out.extend(_instance(item) for item in items)
            except (TypeError, ValueError, AttributeError):
                raise DataWorksError("BadResponse", "ListInstances answered with malformed instances",
                                     retryable=True) from None
            if not items or len(out) >= int(data.get("TotalCount") or 0):
                return out
            page += 1

    def trigger(self, workspace: int, node: int, cycle_ms: int, biz_date_ms: int, timeout_s: float) -> str:
        request = models.RunTriggerNodeRequest(node_id=node, cycle_time=cycle_ms, biz_date=biz_date_ms,
                                               app_id=workspace)
        body = self._call(self._client.run_trigger_node_with_options, request, timeout_s)
        return str(body.get("RequestId") or "")

    @staticmethod
    def _call(method, request, timeout_s: float) -> dict:
        """One SDK call with timeouts cut to the time left; a 200 with Success false is an error too."""
        budget_ms = max(int(timeout_s * 1000), 1)
        runtime = RuntimeOptions(connect_timeout=min(budget_ms, CONNECT_TIMEOUT_MS),
                                 read_timeout=min(budget_ms, READ_TIMEOUT_MS))
        try:
            body = method(request, runtime).body.to_map()
        except Exception as exc:  # noqa: BLE001 - classify() re-raises what it does not know
            raise classify(exc) from None
        if body.get("Success") is False or str(body.get("Success")).lower() == "false":
            raise DataWorksError(str(body.get("ErrorCode") or "SuccessFalse"),
                                 str(body.get("ErrorMessage") or "DataWorks answered Success: false")[:300],
                                 retryable=True, request_id=body.get("RequestId"), status=200)
        return body


def _instance(item: dict) -> Instance:
    return Instance(instance_id=int(item.get("InstanceId") or 0), node=int(item.get("NodeId") or 0),
                    status=str(item.get("Status") or ""), dag_type=str(item.get("DagType") or ""),
                    task_type=str(item.get("TaskType") or ""), cycle_ms=int(item.get("CycTime") or 0),
                    biz_date_ms=int(item.get("Bizdate") or 0))
