"""What the emulator and the OSS stand-in share as servers: a gateway (recorder.py) served over HTTP in a daemon
thread, its lifecycle, address and records."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional, Type, TypeVar

from .recorder import Recorder

S = TypeVar("S", bound="Served")


class Served:
    """A subclass names its `handler`, which finds this object as ``self.server.served``, and `what` it is."""
    handler: Type[BaseHTTPRequestHandler]
    what: str   # for "<what> is not serving"

    def __init__(self, gateway: Recorder, host: str, port: int):
        self.gateway = gateway
        self._address = (host, port)
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    def start(self: S) -> S:
        """Bind and serve in a daemon thread."""
        self._server = self._bind()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.handler.server_version}-{self.endpoint}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests in flight are answered by a closed connection and not recorded."""
        self.gateway.end_epoch()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """host:port: the SDK's endpoint (DataWorks' Config takes it as is, OSS's cfg after ``http://``)."""
        if self._server is None:
            raise RuntimeError(f"{self.what} is not serving")
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def calls(self) -> List[dict]:
        """One dict per request received (rejected ones too), with its arrival on time.monotonic(); never secrets,
        signatures or tokens. The fields are the server's own (its class or module docstring)."""
        return self.gateway.calls

    @property
    def decoy_calls(self) -> List[dict]:
        """Requests an injected redirect led to the decoy host: method, path, header names, and whether any
        credential header came along (faults.py)."""
        return self.gateway.decoy_calls

    @property
    def in_flight(self) -> int:
        """API and decoy requests received and not yet fully answered: a test can wait for one to be under way."""
        return self.gateway.in_flight

    def _bind(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(self._address, self.handler)
        server.daemon_threads = True
        server.served = self
        return server
