"""The API side of the emulator, apart from HTTP: authenticate, inject faults, run the action, record the call.

A request whose query carries ``Action`` is RPC v1 (STS AssumeRole, signed in the query); anything else is a
DataWorks ACS3 request (action and version in ``x-acs-action``/``x-acs-version``, parameters in query and
form body). Faults apply only after authentication succeeded, so a faulted request changed no state.
"""

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import Message
from typing import Dict, List, Optional, Sequence
from urllib.parse import parse_qsl

from . import actions, sts
from .clock import Clock
from .errors import ApiError
from .faults import Faults
from .signature import Keys, Nonces, parse_authorization, verify_acs3, verify_rpc_v1
from .world import World

JSON = "application/json;charset=utf-8"
SECRET_PARAMS = frozenset({"Signature", "SecurityToken", "AccessKeySecret"})
HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
FAULT_ERRORS = {
    "throttle": (429, "Throttling.User", "Request was denied due to user flow control."),
    "error": (500, "InternalError.System", "An internal error occurred; please try again later."),
    "forbidden": (403, "ResourceNotAuthorized.Api", "You are not authorized to call this API."),
}
SUCCESS_FALSE_CODE = "Emulator.Injected.SuccessFalse"  # the emulator's own: DataWorks' real codes are unpublished


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes
    code: Optional[str] = None
    content_type: str = JSON
    headers: Dict[str, str] = field(default_factory=dict)


class Gateway:
    def __init__(self, world: World, keys: Keys, faults: Faults, roles: Sequence[str], clock: Clock):
        self.world, self.keys, self.faults, self.roles, self.clock = world, keys, faults, roles, clock
        self.nonces = Nonces()
        self._lock = threading.Lock()
        self._calls: List[dict] = []

    @property
    def calls(self) -> List[dict]:
        with self._lock:
            return [dict(c, params=dict(c["params"])) for c in self._calls]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def handle(self, req: Request) -> Optional[Reply]:
        """The reply to one API request, or None to close the connection without answering."""
        request_id = str(uuid.uuid4()).upper()
        query = dict(parse_qsl(req.query, keep_blank_values=True))
        rpc_v1 = "Action" in query
        host = "sts.aliyuncs.com" if rpc_v1 else "dataworks.aliyuncs.com"
        params = query if rpc_v1 else {**query, **dict(parse_qsl(req.body.decode("utf-8", "replace"),
                                                                  keep_blank_values=True))}
        call = {"action": query.get("Action") if rpc_v1 else req.headers.get("x-acs-action"),
                "version": query.get("Version") if rpc_v1 else req.headers.get("x-acs-version"),
                "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS},
                "status": None, "code": None, "access_key_id": query.get("AccessKeyId") if rpc_v1 else None,
                "role_arn": None, "fault": None, "time": self.clock.now().isoformat()}
        try:
            if rpc_v1 and call["action"] != "AssumeRole":
                raise ApiError(400, "InvalidAction.NotFound",
                               "Query-signed (RPC v1) requests are served for AssumeRole only; DataWorks actions "
                               "need ACS3-HMAC-SHA256, tea-openapi's default (not signature_algorithm='v2').")
            if rpc_v1:
                key = verify_rpc_v1(req.method, query, self.keys, self.nonces)
            else:
                auth = parse_authorization(req.headers.get("Authorization"))
                call["access_key_id"] = auth.credential
                key = verify_acs3(auth, req.method, req.path, req.query, req.headers, req.body,
                                  self.keys, self.nonces)
            call["role_arn"] = key.role_arn
            call["fault"] = self.faults.decide(call["action"])
            if call["fault"] == "latency":
                time.sleep(self.faults.latency_ms / 1000)
            elif call["fault"]:
                return self._record(call, self._fault(call["fault"], request_id, host))
            reply = Reply(200, _json({"RequestId": request_id, **self._run(call, params)}))
        except ApiError as e:
            reply = _error(e, request_id, host)
        return self._record(call, reply)

    def _run(self, call: dict, params: Dict[str, str]) -> dict:
        if (call["action"], call["version"]) == ("AssumeRole", sts.VERSION):
            return sts.assume_role(params, self.keys, self.roles)
        handler = actions.ACTIONS.get((call["action"], call["version"]))
        if handler is None:
            raise ApiError(400, "InvalidAction.NotFound",
                           "Specified api is not found, please check your url and method.")
        return handler(self.world, params)

    def _fault(self, fault: str, request_id: str, host: str) -> Optional[Reply]:
        if fault == "drop":
            return None
        if fault == "html_502":
            return Reply(502, HTML_502, content_type="text/html")
        if fault == "success_false":
            return Reply(200, _json({"RequestId": request_id, "Success": False, "ErrorCode": SUCCESS_FALSE_CODE,
                                     "ErrorMessage": "Injected by the emulator."}), code=SUCCESS_FALSE_CODE)
        reply = _error(ApiError(*FAULT_ERRORS[fault]), request_id, host)
        if fault == "throttle" and self.faults.retry_after_ms:
            reply.headers["x-acs-retry-after"] = str(self.faults.retry_after_ms)
        return reply

    def _record(self, call: dict, reply: Optional[Reply]) -> Optional[Reply]:
        if reply is not None:
            call.update(status=reply.status, code=reply.code)
        with self._lock:
            self._calls.append(call)
        return reply


def _json(body: dict) -> bytes:
    return json.dumps(body).encode()


def _error(e: ApiError, request_id: str, host: str) -> Reply:
    body = {"RequestId": request_id, "HostId": host, "Code": e.code, "Message": e.message, "Recommend": ""}
    return Reply(e.status, _json(body), code=e.code)
