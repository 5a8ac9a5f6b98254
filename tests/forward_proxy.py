"""A forward proxy on loopback for the transport's tests (test_wire.py): what HTTP_PROXY / HTTPS_PROXY would name.

A request in absolute form (`POST http://127.0.0.1:PORT/path HTTP/1.1`, as a client sends plain HTTP through a
proxy) is forwarded to its host as HTTP/1.0 and the whole answer, read to the upstream's end, sent back: at once,
or one byte every `drip_s` seconds when that is set. `CONNECT host:port` (HTTPS through a proxy) is tunnelled both
ways; when `drip_s` is set it is answered instead by a 200 whose headers are dripped, a byte at a time, never
opening a tunnel. `seen` holds (method, target) of every request, in arrival order.

Each connection is served by a thread that `stop()` ends and joins: a drip or a tunnel ends at once when the proxy
stops, so no test leaves a thread behind.
"""
from __future__ import annotations

import select
import socket
import socketserver
import threading
from typing import List, Optional, Tuple
from urllib.parse import urlsplit

CONNECT_DRIP = b"HTTP/1.1 200 Connection established\r\nX-Pad: " + b"p" * 400 + b"\r\n\r\n"   # ~20 s at 50 ms
HOP_BY_HOP = {"connection", "proxy-connection", "proxy-authorization", "keep-alive"}


class _Handler(socketserver.StreamRequestHandler):
    timeout = 10                     # a client or upstream that goes quiet does not hold the thread

    def handle(self) -> None:
        proxy: Proxy = self.server.proxy
        line = self.rfile.readline(65537).decode("latin-1").strip()
        headers = []
        while True:
            header = self.rfile.readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            headers.append(header.decode("latin-1").rstrip("\r\n"))
        try:
            method, target, _ = line.split(" ", 2)
        except ValueError:
            return
        with proxy.lock:
            proxy.seen.append((method, target))
            proxy.lock.notify_all()
        if method == "CONNECT":
            self._tunnel(proxy, target)
        else:
            self._forward(proxy, method, target, headers)

    def _forward(self, proxy: "Proxy", method: str, target: str, headers: List[str]) -> None:
        url = urlsplit(target)
        length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
        body = self.rfile.read(length)
        kept = [h for h in headers if h.split(":", 1)[0].strip().lower() not in HOP_BY_HOP]
        request = "\r\n".join([f"{method} {url.path or '/'}{'?' + url.query if url.query else ''} HTTP/1.0",
                               *kept, "Connection: close", "", ""]).encode("latin-1") + body
        with socket.create_connection((url.hostname, url.port or 80), timeout=10) as upstream:
            upstream.sendall(request)
            answer = b"".join(iter(lambda: upstream.recv(65536), b""))
        self._send(proxy, answer)

    def _tunnel(self, proxy: "Proxy", target: str) -> None:
        if proxy.drip_s:
            self._send(proxy, CONNECT_DRIP)
            return
        host, _, port = target.rpartition(":")
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [self.connection, upstream]
            while not proxy.stopping.is_set():
                ready, _, _ = select.select(ends, [], [], 0.05)
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)

    def _send(self, proxy: "Proxy", data: bytes) -> None:
        try:
            if not proxy.drip_s:
                self.wfile.write(data)
                return
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)     # a byte a read
            for i in range(len(data)):
                if proxy.stopping.wait(proxy.drip_s):
                    return
                self.wfile.write(data[i:i + 1])
        except OSError:                  # the client gave up first: what the drip is for
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False           # server_close() joins every connection's thread
    block_on_close = True


class Proxy:
    def __init__(self, drip_s: float = 0.0):
        self.drip_s = drip_s
        self.seen: List[Tuple[str, str]] = []
        self.lock = threading.Condition()
        self.stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    def saw(self, count: int, within_s: float = 10.0) -> List[Tuple[str, str]]:
        """`seen` once it holds `count` requests (or after `within_s`): each is recorded by its connection's thread,
        which a loaded machine may run only after the client has given up on it."""
        with self.lock:
            self.lock.wait_for(lambda: len(self.seen) >= count, within_s)
            return list(self.seen)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "Proxy":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-forward-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "Proxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
