"""The API side of the emulator, apart from HTTP: authenticate, inject faults, run the action, record the call.

A request whose query carries ``Action`` is RPC v1 (STS AssumeRole, signed in the query); anything else is a
DataWorks ACS3 request (action and version in ``x-acs-action``/``x-acs-version``, parameters in query and
form body, read alike; the call record names those that came in the query). DataWorks speaks two versions:
2020-05-18 (actions.py) and 2024-05-18 (tasks.py); an action of one asked under the other's version is
``InvalidAction.NotFound``. Faults apply only after authentication succeeded, so a faulted request changed no
state.

Resets are airtight: a request of an ended epoch runs no action and is recorded nowhere (recorder.py).
"""

import json
import threading
import uuid
from typing import Dict, Optional, Sequence
from urllib.parse import parse_qsl

from . import actions, sts, tasks
from .clock import Clock
from .errors import ApiError, NoEffect
from .exchange import Reply, Request
from .faults import Faults
from .recorder import Recorder
from .signature import Keys, Nonces, parse_authorization, verify_acs3, verify_rpc_v1
from .world import World

SECRET_PARAMS = frozenset({"Signature", "SecurityToken", "AccessKeySecret"})
CREDENTIAL_HEADERS = frozenset({"authorization", "x-acs-security-token", "x-acs-accesskey-id"})
DECOY = "/_decoy/"
HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
FAULT_ERRORS = {
    "throttle": (429, "Throttling.User", "Request was denied due to user flow control."),
    "error": (500, "InternalError.System", "An internal error occurred; please try again later."),
    "forbidden": (403, "ResourceNotAuthorized.Api", "You are not authorized to call this API."),
}
# The emulator's own codes: DataWorks' real ones are unpublished.
SUCCESS_FALSE_CODE = "Emulator.Injected.SuccessFalse"
REDIRECT_CODE = "Emulator.Injected.Redirect"
ACTIONS = {**actions.ACTIONS, **tasks.ACTIONS}
LIARS = {**actions.LIARS, **tasks.LIARS}   # the listings faults.py's lies are told on
HOLD_POLL_S = 0.02                         # how often a held request looks whether its epoch ended


class Gateway(Recorder):
    def __init__(self, world: World, keys: Keys, faults: Faults, roles: Sequence[str], clock: Clock):
        super().__init__(CREDENTIAL_HEADERS)
        self.world, self.keys, self.faults, self.roles, self.clock = world, keys, faults, roles, clock
        self.nonces = Nonces()
        self.released = threading.Event()      # let_go(): requests a scripted "hold" keeps act now and from now on

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
                "query": sorted(k for k in query if k not in SECRET_PARAMS),
                "status": None, "code": None, "access_key_id": query.get("AccessKeyId") if rpc_v1 else None,
                "role_arn": None, "fault": None, "time": self.clock.now().isoformat(), "monotonic": req.arrived}
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
        except ApiError as e:
            return self._record(req, call, _error(e, request_id, host))
        call["role_arn"] = key.role_arn
        with self.lock:
            if req.epoch.is_set():
                return None
            call["fault"] = self.faults.decide(call["action"])
        if call["fault"] == "latency" and req.epoch.wait(self.faults.latency_ms / 1000):
            return None
        if call["fault"] == "hold" and self._held(req):
            return None
        if call["fault"] in (None, "latency", "hold", "drip"):
            return self._act(req, call, params, request_id, host)
        return self._record(req, call, self._fault(call["fault"], request_id, host, req.port))

    def _held(self, req: Request) -> bool:
        """A scripted "hold": wait for let_go(); True when the epoch ended first (the request is dropped)."""
        while not self.released.wait(HOLD_POLL_S):
            if req.epoch.is_set():
                return True
        return req.epoch.is_set()

    def _lie(self) -> Reply:
        return Reply(200, _json({"RequestId": "decoy", "Success": True}))

    def _act(self, req: Request, call: dict, params: Dict[str, str], request_id: str, host: str) -> Optional[Reply]:
        """Run the action and record it in one step under the lock, so a reset comes wholly before or after."""
        with self.lock:
            if req.epoch.is_set():
                return None
            try:
                reply = Reply(200, _json({"RequestId": request_id, **self._run(call, params)}))
            except NoEffect as e:
                reply = Reply(200, _json({"RequestId": request_id, **e.body}), code=e.code)
            except ApiError as e:
                reply = _error(e, request_id, host)
            if call["fault"] == "drip":
                reply.drip_ms = self.faults.drip_ms
            return self._record(req, call, reply)

    def _run(self, call: dict, params: Dict[str, str]) -> dict:
        action = (call["action"], call["version"])
        if action == ("AssumeRole", sts.VERSION):
            return sts.assume_role(params, self.keys, self.roles)
        if action in LIARS and self.faults.lies:
            return LIARS[action](self.world, params, self.faults.lies)
        handler = ACTIONS.get(action)
        if handler is None:
            raise ApiError(400, "InvalidAction.NotFound",
                           "Specified api is not found, please check your url and method.")
        return handler(self.world, params)

    def _fault(self, fault: str, request_id: str, host: str, port: int) -> Optional[Reply]:
        if fault == "drop":
            return None
        if fault == "html_502":
            return Reply(502, HTML_502, content_type="text/html")
        if fault == "success_false":
            return Reply(200, _json({"RequestId": request_id, "Success": False, "ErrorCode": SUCCESS_FALSE_CODE,
                                     "ErrorMessage": "Injected by the emulator."}), code=SUCCESS_FALSE_CODE)
        if fault == "malformed":
            return Reply(200, self.faults.malformed_body.encode())
        if fault == "redirect":
            location = f"http://localhost:{port}{DECOY}"
            return Reply(self.faults.redirect_status, _json({"RequestId": request_id, "Code": REDIRECT_CODE,
                                                             "Message": f"Moved to {location}"}),
                         code=REDIRECT_CODE, headers={"Location": location})
        reply = _error(ApiError(*FAULT_ERRORS[fault]), request_id, host)
        if fault == "throttle" and self.faults.retry_after_ms:
            reply.headers["x-acs-retry-after"] = str(self.faults.retry_after_ms)
        return reply


def _json(body: dict) -> bytes:
    return json.dumps(body).encode()


def _error(e: ApiError, request_id: str, host: str) -> Reply:
    body = {"RequestId": request_id, "HostId": host, "Code": e.code, "Message": e.message, "Recommend": ""}
    return Reply(e.status, _json(body), code=e.code)
