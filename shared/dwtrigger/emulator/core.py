"""The Emulator object: one seeded DataWorks world served over HTTP, plus the knobs tests turn."""

import threading
from pathlib import Path
from typing import List, Optional

from .clock import Clock
from .faults import Faults
from .gateway import Gateway
from .seed import load_seed, parse_date
from .server import make_server
from .signature import Keys
from .world import World

DEFAULT_SEED = Path(__file__).with_name("demo_seed.yaml")   # the world of `dwtrigger demo`


class Emulator:
    """A local DataWorks OpenAPI (2020-05-18 and 2024-05-18, per workspace) + STS AssumeRole server for the real SDKs.

    Point the SDK at it with ``Config(endpoint=emu.endpoint, protocol='http', credential=...)`` and
    ``alibabacloud_credentials`` with ``sts_endpoint=emu.sts_endpoint`` (``http://host:port``).
    `seed` is a dict or a YAML/JSON file (see seed.py).
    """

    def __init__(self, seed=DEFAULT_SEED, port: int = 0, host: str = "127.0.0.1"):
        self._seed = load_seed(seed)
        self._address = (host, port)
        self.clock = Clock(self._seed.now)
        self._world = World(self._seed.workspaces, self.clock)
        self._faults = Faults(self._seed.faults)
        self.gateway = Gateway(self._world, Keys(self._seed.keys), self._faults, self._seed.roles, self.clock)
        self._server = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "Emulator":
        """Bind and serve in a daemon thread."""
        self._server = make_server(self, *self._address)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"dwtrigger-emulator-{self.endpoint}", daemon=True)
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

    def serve_forever(self, announce=None) -> None:
        """Bind and serve in the calling thread until interrupted (for a CLI); `announce(self)` once bound."""
        self._server = make_server(self, *self._address)
        if announce:
            announce(self)
        try:
            self._server.serve_forever()
        finally:
            self.gateway.end_epoch()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """host:port, the SDK Config's `endpoint`."""
        if self._server is None:
            raise RuntimeError("the emulator is not serving")
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def sts_endpoint(self) -> str:
        """The credentials package's `sts_endpoint` that reaches this server: the scheme is required (see sts.py)."""
        return self.url

    @property
    def calls(self) -> List[dict]:
        """One dict per API request received (rejected ones too); never secrets, signatures or tokens.
        ``params`` holds query and body parameters, ``query`` the names of those that came in the query string;
        ``code`` is the answer's error code (for a 200: injected success_false's ErrorCode, or the NoEffect mark
        of tasks.py, which is never sent); ``monotonic`` is the process's time.monotonic() at its arrival,
        to compare with a test's own deadlines."""
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

    def instances(self, workspace: Optional[int] = None, node: Optional[int] = None) -> List[dict]:
        """Every existing instance in 2020-05-18 spelling (InstanceId, NodeId, CycTime, Bizdate, Status, DagType,
        ProjectId, ...), whatever its workspace's API, with Triggers (accepted), Released and Api."""
        return self._world.dump(workspace, node)

    def set_faults(self, **config) -> None:
        """Replace the fault config (keys in faults.py); no arguments clears it."""
        self._faults.configure(config)

    def finish_parents(self, workspace: int, node: int, bizdate) -> None:
        self._world.finish_parents(int(workspace), int(node), parse_date(bizdate))

    def reset(self) -> None:
        """Back to the seed: clock, triggers, parents, faults; calls and decoy calls cleared. Issued STS keys and
        seen nonces stay, as they would in the cloud. A request still in flight belongs to the ended epoch: it
        changes nothing, is not recorded and is answered by a closed connection (gateway.py)."""
        with self.gateway.lock:
            self.gateway.end_epoch()
            self._world.reset()
            self.clock.reset()
            self._faults.configure(self._seed.faults)
            self.gateway.clear_calls()
