"""The Emulator object: one seeded DataWorks world served over HTTP, plus the knobs tests turn."""

from pathlib import Path
from typing import List, Optional

from .clock import Clock
from .faults import Faults
from .gateway import Gateway
from .seed import load_seed, parse_date
from .served import Served
from .server import _Handler
from .signature import Keys
from .world import World

DEFAULT_SEED = Path(__file__).with_name("demo_seed.yaml")   # the world of `dwtrigger demo`


class Emulator(Served):
    """A local DataWorks OpenAPI (2020-05-18 and 2024-05-18, per workspace) + STS AssumeRole server for the real SDKs.

    Point the SDK at it with ``Config(endpoint=emu.endpoint, protocol='http', credential=...)`` and
    ``alibabacloud_credentials`` with ``sts_endpoint=emu.sts_endpoint`` (``http://host:port``).
    `seed` is a dict or a YAML/JSON file (see seed.py).

    ``calls``: ``params`` holds query and body parameters, ``query`` the names of those that came in the query
    string; ``code`` is the answer's error code (for a 200: injected success_false's ErrorCode, or the NoEffect mark
    of tasks.py, which is never sent); ``monotonic`` is the arrival, to compare with a test's own deadlines.
    """

    handler, what = _Handler, "the emulator"

    def __init__(self, seed=DEFAULT_SEED, port: int = 0, host: str = "127.0.0.1"):
        self._seed = load_seed(seed)
        self.clock = Clock(self._seed.now)
        self._world = World(self._seed.workspaces, self.clock)
        self._faults = Faults(self._seed.faults)
        super().__init__(Gateway(self._world, Keys(self._seed.keys), self._faults, self._seed.roles, self.clock),
                         host, port)

    def serve_forever(self, announce=None) -> None:
        """Bind and serve in the calling thread until interrupted (for a CLI); `announce(self)` once bound (what
        it raises unbinds the port, as an interruption does)."""
        self._server = self._bind()
        try:
            if announce:
                announce(self)
            self._server.serve_forever()
        finally:
            self.gateway.end_epoch()
            self._server.server_close()
            self._server = None

    @property
    def sts_endpoint(self) -> str:
        """The credentials package's `sts_endpoint` that reaches this server: the scheme is required (see sts.py)."""
        return self.url

    def instances(self, workspace: Optional[int] = None, node: Optional[int] = None,
                  triggered: bool = False) -> List[dict]:
        """Every existing instance in 2020-05-18 spelling (InstanceId, NodeId, CycTime, Bizdate, Status, DagType,
        ProjectId, ...), whatever its workspace's API, with Triggers (accepted), Released and Api; `triggered`: only
        those that accepted a trigger (a whole world's states take a while to work out)."""
        return self._world.dump(workspace, node, triggered)

    def set_faults(self, **config) -> None:
        """Replace the fault config (keys in faults.py); no arguments clears it."""
        self._faults.configure(config)
        self.gateway.released.clear()

    def let_go(self) -> None:
        """Requests a scripted "hold" keeps (faults.py) act and are answered now; later ones are not held, until
        the faults are set again or the emulator reset."""
        self.gateway.released.set()

    def finish_parents(self, workspace: int, node: int, bizdate) -> None:
        self._world.finish_parents(int(workspace), int(node), parse_date(bizdate))

    def reset(self) -> None:
        """Back to the seed: clock, triggers, parents, faults; calls and decoy calls cleared. Issued STS keys and
        seen nonces stay, as they would in the cloud. A request still in flight belongs to the ended epoch: it
        changes nothing, is not recorded and is answered by a closed connection (recorder.py)."""
        with self.gateway.lock:
            self.gateway.end_epoch()
            self._world.reset()
            self.clock.reset()
            self._faults.configure(self._seed.faults)
            self.gateway.released.clear()
            self.gateway.clear_calls()
