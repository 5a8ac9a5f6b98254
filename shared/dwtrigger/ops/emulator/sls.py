"""A local SLS (Simple Log Service) for the official SDK (alibabacloud-sls20201230): the project, logstore, index,
saved search and alert calls `dwtrigger logs setup` makes, over real HTTP on loopback, with SLS's v1 request
signatures checked (sls_signature.py) and what it is given kept (sls_store.py).

SLS names the project in the Host (``<project>.<endpoint>``): point the SDK at ``localhost:PORT`` (``endpoint``),
and it sends to ``<project>.localhost:PORT``, which dwtrigger's transport resolves to loopback as RFC 6761 says a
``.localhost`` name is (wire.py); a Host without a project label addresses the endpoint itself (CreateProject).

Operations (the 2020-12-30 API's paths and methods; bodies JSON as the SDK sends them):
  POST /                                   CreateProject (no project in the Host; projectName in the body)
  GET  /                                   GetProject
  POST /logstores, GET|PUT /logstores/L    CreateLogStore, GetLogStore, UpdateLogStore
  POST|GET|PUT /logstores/L/index          CreateIndex, GetIndex, UpdateIndex
  POST /savedsearches, GET|PUT /savedsearches/S    CreateSavedSearch, GetSavedSearch, UpdateSavedSearch
  POST /alerts, GET|PUT /alerts/A          CreateAlert, GetAlert, UpdateAlert
  anything else                            400 ParameterInvalid, before authentication
Errors are SLS's JSON ``{"errorCode", "errorMessage"}`` with ``x-log-requestid``. ``deny(*operations)`` makes the
stand-in refuse those operations as RAM does (401 Unauthorized, "denied by sts or ram, action: log:..., resource:
...").

``calls`` holds one dict per request (rejected ones too): operation ("Unknown" when not served), method, project,
path, params (the decoded query), status, code (None for a success), access_key_id, monotonic, and once
authenticated the RAM resource it touches (``resource``: acs:log:REGION:ACCOUNT:project/P[/logstore/L,
/savedsearch/S, /job/A]). Never signatures,
tokens or secrets. HTTP/1.0, one request per connection, daemon threads, no logging.
"""

import ipaddress
import json
import re
import time
import uuid
from typing import Dict, Iterable, Optional, Tuple
from urllib.parse import parse_qsl, unquote

from ..ram import SLS
from .exchange import Reply, Request
from .recorder import Recorder
from .seed import _key
from .served import Served
from .server import _Handler as _EmulatorHandler
from .signature import Keys
from .sls_signature import SlsError, verify
from .sls_store import Projects

CREDENTIAL_HEADERS = frozenset({"authorization", "x-acs-security-token"})
ACCOUNT = "1234567890123456"        # the account in a RAM refusal's resource
KINDS = {"savedsearches": "SavedSearch", "alerts": "Alert"}
VERBS = {"POST": "Create", "GET": "Get", "PUT": "Update"}


def project_of(host: str) -> Optional[str]:
    """The project a Host names (its first label), None for the bare endpoint."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or not host.startswith("[") else host
    try:
        ipaddress.ip_address(name.strip("[]"))
        return None
    except ValueError:
        pass
    label, dot, rest = name.partition(".")
    return label if dot and rest else None


def route(method: str, path: str, project: Optional[str]) -> Tuple[str, Tuple[str, ...]]:
    """(operation, its path arguments); "Unknown" for what is not served."""
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    verb = VERBS.get(method)
    if verb is None:
        return "Unknown", ()
    if not parts:
        if (project is None) == (verb == "Create") and verb != "Update":
            return f"{verb}Project", ()
    elif parts[0] == "logstores":
        if len(parts) == 1 and verb == "Create" or len(parts) == 2 and verb != "Create":
            return f"{verb}LogStore", tuple(parts[1:])
        if len(parts) == 3 and parts[2] == "index":
            return f"{verb}Index", (parts[1],)
    elif parts[0] in KINDS:
        if len(parts) == 1 and verb == "Create" or len(parts) == 2 and verb != "Create":
            return f"{verb}{KINDS[parts[0]]}", tuple(parts[1:])
    return "Unknown", ()


class SlsGateway(Recorder):
    """Route, authenticate, answer and record one request; the store changes only under ``lock``."""

    def __init__(self, projects: Projects, keys: Keys):
        super().__init__(CREDENTIAL_HEADERS)
        self.projects, self.keys = projects, keys
        self.denied: set = set()

    def handle(self, req: Request) -> Optional[Reply]:
        request_id = uuid.uuid4().hex[:24].upper()
        project = project_of(req.headers.get("Host") or "")
        operation, args = route(req.method, req.path, project)
        params = dict(parse_qsl(req.query, keep_blank_values=True))
        call = {"operation": operation, "method": req.method, "project": project, "path": req.path,
                "params": params, "status": None, "code": None, "access_key_id": None, "monotonic": req.arrived,
                "resource": None}
        try:
            if operation == "Unknown":
                raise SlsError(400, "ParameterInvalid", f"{req.method} {req.path} is not served by the stand-in")
            call["access_key_id"] = (req.headers.get("Authorization") or "").partition(" ")[2].partition(":")[0]
            verify(req.method, req.path, params, req.headers, req.body, self.keys, time.time())
            body = _json(req.body) if req.method != "GET" else {}
            call["resource"] = self._resource(operation, project, args, body)
            with self.lock:
                if req.epoch.is_set():
                    return None
                if operation in self.denied:
                    raise SlsError(401, "Unauthorized", f"denied by sts or ram, action: {SLS[operation]}, resource: "
                                                        f"{call['resource']}")
                answer = self._served(operation, project, args, body)
                return self._record(req, call, _reply(200, answer, request_id))
        except SlsError as e:
            error = {"errorCode": e.code, "errorMessage": e.message}
            return self._record(req, call, _reply(e.status, error, request_id, e.code))

    def _served(self, operation: str, project: Optional[str], args: tuple, body: dict) -> Optional[dict]:
        verb, kind = re.fullmatch(r"(Get|Create|Update)(\w+)", operation).groups()
        store, name = self.projects, args[0] if args else None
        if kind == "Project":
            return store.get_project(project) if verb == "Get" else store.create_project(body)
        if kind == "LogStore":
            return {"Create": lambda: store.create_logstore(project, body), "Get": lambda: store.logstore(project, name),
                    "Update": lambda: store.update_logstore(project, name, body)}[verb]()
        if kind == "Index":
            return {"Create": lambda: store.create_index(project, name, body), "Get": lambda: store.index(project, name),
                    "Update": lambda: store.update_index(project, name, body)}[verb]()
        held = "savedsearches" if kind == "SavedSearch" else "alerts"
        return {"Create": lambda: store.create(held, project, body), "Get": lambda: store.get(held, project, name),
                "Update": lambda: store.update(held, project, name, body)}[verb]()

    def _resource(self, operation: str, project: Optional[str], args: tuple, body: dict) -> str:
        base = f"acs:log:{self.projects.region}:{ACCOUNT}:project/{project or body.get('projectName')}"
        name = args[0] if args else body.get("logstoreName") or body.get("savedsearchName") or body.get("name")
        where = {"LogStore": "logstore", "Index": "logstore", "SavedSearch": "savedsearch", "Alert": "job"}
        kind = next((k for k in where if operation.endswith(k)), None)
        return base if kind is None else f"{base}/{where[kind]}/{name}"

    def _lie(self) -> Reply:
        return _reply(200, None, "decoy")


def _json(body: bytes) -> dict:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise SlsError(400, "PostBodyInvalid", "The request body is not valid JSON object.")
    return parsed


def _reply(status: int, body, request_id: str, code: Optional[str] = None) -> Reply:
    data = b"" if body is None else json.dumps(body).encode()
    return Reply(status, data, code=code, headers={"x-log-requestid": request_id})


class _Handler(_EmulatorHandler):
    """The emulator's HTTP glue (one request per connection, silent), routed to the SLS gateway."""
    server_version = "dwtrigger-sls-standin"

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        self._api(path, query)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class SlsStandIn(Served):
    """SLS served over HTTP on loopback. `keys`: the seed's key entries (dicts); `region`: the one it serves."""

    handler, what = _Handler, "the SLS stand-in"

    def __init__(self, keys: Iterable[dict], region: str = "cn-shanghai", port: int = 0, host: str = "127.0.0.1"):
        self._projects = Projects(region)
        super().__init__(SlsGateway(self._projects, Keys(_key(k) for k in keys)), host, port)

    @property
    def endpoint(self) -> str:
        """localhost:PORT: the SDK's endpoint, under which `<project>.localhost` reaches this server too."""
        return "localhost:" + super().endpoint.rsplit(":", 1)[1]

    def projects(self) -> Dict[str, dict]:
        """Everything held, per project: meta, logstores, indexes (by logstore), savedsearches, alerts."""
        with self.gateway.lock:
            return self._projects.snapshot()

    def change(self, project: str, edit) -> None:
        """Change what a project holds by hand (`edit` takes its dict), as a person in the console would."""
        with self.gateway.lock:
            edit(self._projects.project(project))

    def deny(self, *operations: str) -> None:
        """Refuse these operations as RAM refuses an identity without their action; none: allow everything."""
        with self.gateway.lock:
            self.gateway.denied = set(operations)

    def reset(self) -> None:
        """Nothing held, nothing denied, calls cleared, a new epoch."""
        with self.gateway.lock:
            self.gateway.end_epoch()
            self._projects.projects.clear()
            self.gateway.denied = set()
            self.gateway.clear_calls()
