"""The bookkeeping both gateways (DataWorks, OSS) keep around their requests: epoch, in flight, call records.

Epochs keep resets airtight. A request belongs to the epoch it arrived in; reset and stop end it. A request of an
ended epoch takes no fault decision, changes and answers nothing, is recorded nowhere and is answered by closing
the connection; its injected waits end at once. Each gateway's "epoch current? act, record" runs under ``lock``,
which reset holds too, so a reset comes wholly before or after a request's effect and record.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import FrozenSet, Iterator, List, Optional, Tuple

from .exchange import Reply, Request


class Recorder(ABC):
    """A gateway's epoch, in-flight count and records; the subclass tells the decoy's lie."""

    def __init__(self, credential_headers: FrozenSet[str]):
        self._credential_headers = credential_headers   # lower-case header names a decoy call reports as credentials
        self.lock = threading.RLock()  # held by reset and by every request's "epoch current? act, record"
        self._epoch = threading.Event()
        self._in_flight = 0
        self._calls: List[dict] = []
        self._decoys: List[dict] = []

    @property
    def calls(self) -> List[dict]:
        with self.lock:
            return [dict(c, params=dict(c["params"])) for c in self._calls]

    @property
    def decoy_calls(self) -> List[dict]:
        with self.lock:
            return [dict(d, headers=list(d["headers"])) for d in self._decoys]

    @property
    def in_flight(self) -> int:
        with self.lock:
            return self._in_flight

    def clear_calls(self) -> None:
        with self.lock:
            self._calls.clear()
            self._decoys.clear()

    def end_epoch(self) -> None:
        """Requests that arrived so far will neither act nor be recorded; their injected waits end now."""
        with self.lock:
            self._epoch.set()
            self._epoch = threading.Event()

    @contextmanager
    def arrival(self) -> Iterator[Tuple[threading.Event, float]]:
        """A request's epoch and arrival time; it counts as in flight until the block ends."""
        with self.lock:
            self._in_flight += 1
            epoch = self._epoch
        try:
            yield epoch, time.monotonic()
        finally:
            with self.lock:
                self._in_flight -= 1

    def decoy(self, req: Request) -> Optional[Reply]:
        """The other host a redirect points to: records header names (never values) and tells the gateway's lie."""
        names = sorted({name.lower() for name in req.headers.keys()})
        seen = {"method": req.method, "path": req.path, "headers": names,
                "credentials": bool(self._credential_headers & set(names))}
        with self.lock:
            if req.epoch.is_set():
                return None
            self._decoys.append(seen)
        return self._lie()

    @abstractmethod
    def _lie(self) -> Reply:
        """The decoy's answer: a success, whatever was asked."""

    def _record(self, req: Request, call: dict, reply: Optional[Reply]) -> Optional[Reply]:
        """Record the call and pass its reply on; a request of an ended epoch gets neither (None closes it)."""
        with self.lock:
            if req.epoch.is_set():
                return None
            if reply is not None:
                call.update(status=reply.status, code=reply.code)
            self._calls.append(call)
        return reply
