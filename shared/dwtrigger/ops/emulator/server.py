"""HTTP glue: API requests go to the gateway; /_admin/ routes read and steer the emulator (loopback only, no auth).

Admin routes (JSON in and out): GET /_admin/calls, GET /_admin/decoy, GET /_admin/instances?workspace=&node=,
POST /_admin/faults (the set_faults keys), POST /_admin/clock ({"now": iso} and/or {"advance": seconds}),
GET /_admin/clock (both answer {"now": iso, "fixed": whether it moves only when set or advanced}),
POST /_admin/parents ({"workspace", "node", "bizdate"}), POST /_admin/let-go (requests a scripted "hold" keeps act
now), POST /_admin/reset.
/_decoy/... (any method) is the other host an injected redirect points to (faults.py).
HTTP/1.0, one request per connection: a stopped emulator leaves no kept-alive connection answering.
"""

import ipaddress
import json
import socket
from http.server import BaseHTTPRequestHandler
from threading import Event
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

from .exchange import Reply, Request
from .gateway import DECOY

ADMIN = "/_admin/"


def _clock(emu, data: dict) -> dict:
    if "now" in data:
        emu.clock.set(data["now"])
    if "advance" in data:
        emu.clock.advance(float(data["advance"]))
    return {"now": emu.clock.now().isoformat(), "fixed": emu.clock.fixed}


def _optional_int(value):
    return None if value in (None, "") else int(value)


ROUTES = {
    ("GET", "calls"): lambda emu, query, data: emu.calls,
    ("GET", "decoy"): lambda emu, query, data: emu.decoy_calls,
    ("GET", "instances"): lambda emu, query, data: emu.instances(_optional_int(query.get("workspace")),
                                                                  _optional_int(query.get("node"))),
    ("POST", "faults"): lambda emu, query, data: emu.set_faults(**data),
    ("POST", "clock"): lambda emu, query, data: _clock(emu, data),
    ("GET", "clock"): lambda emu, query, data: _clock(emu, {}),
    ("POST", "parents"): lambda emu, query, data: emu.finish_parents(int(data["workspace"]), int(data["node"]),
                                                                      data["bizdate"]),
    ("POST", "let-go"): lambda emu, query, data: emu.let_go(),
    ("POST", "reset"): lambda emu, query, data: emu.reset(),
}


class _Handler(BaseHTTPRequestHandler):
    server_version = "dwtrigger-emulator"

    def _serve(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith(ADMIN):
            self._send(self._admin(url.path[len(ADMIN):], url.query, self._body()))
            return
        self._api(url.path, url.query)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _api(self, path: str, query: str) -> None:
        """To the served gateway, or its decoy, within the epoch the request arrived in."""
        gateway = self.server.served.gateway
        with gateway.arrival() as (epoch, arrived):
            req = Request(self.command, path, query, self.headers, self._body(), self.server.server_address[1],
                          epoch, arrived)
            self._send(gateway.decoy(req) if path.startswith(DECOY) else gateway.handle(req), epoch)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, reply: Optional[Reply], epoch: Optional[Event] = None) -> None:
        if reply is None:  # injected drop or a request of an ended epoch: close without a status line
            self.close_connection = True
            return
        try:
            if reply.drip_ms:
                self._drip(self._render(reply), reply.drip_ms / 1000, epoch)
            else:
                self.wfile.write(self._render(reply))
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first (e.g. injected latency)
            self.close_connection = True

    def _render(self, reply: Reply) -> bytes:
        """The whole response, so a drip can write it byte by byte like any other."""
        headers = {"Server": self.version_string(), "Date": self.date_time_string(),
                   "Content-Type": reply.content_type, "Content-Length": str(len(reply.body)), **reply.headers}
        lines = [f"{self.protocol_version} {reply.status} {self.responses[reply.status][0]}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        return "\r\n".join(lines + ["", ""]).encode("latin-1") + reply.body

    def _drip(self, data: bytes, every: float, epoch: Event) -> None:
        """One byte every `every` seconds, until the epoch ends (reset, stop) or the client leaves."""
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no coalescing: a byte a read
        for i in range(len(data)):
            if epoch.wait(every):
                self.close_connection = True
                return
            self.wfile.write(data[i:i + 1])

    def _admin(self, route: str, query: str, body: bytes) -> Reply:
        if not self._local():
            return json_reply(403, {"error": "admin routes are loopback only"})
        handler = ROUTES.get((self.command, route))
        if handler is None:
            return json_reply(404, {"error": f"no admin route {self.command} {ADMIN}{route}"})
        try:
            data = json.loads(body or b"{}")
            result = handler(self.server.served, dict(parse_qsl(query)), data)
        except (ValueError, KeyError, TypeError) as e:
            return json_reply(400, {"error": f"{type(e).__name__}: {e}"})
        return json_reply(200, {"ok": True} if result is None else result)

    def _local(self) -> bool:
        return ipaddress.ip_address(self.client_address[0]).is_loopback

    def log_message(self, format, *args) -> None:
        """Silent: every API request is recorded in Emulator.calls instead."""


def json_reply(status: int, body) -> Reply:
    return Reply(status, json.dumps(body).encode())
