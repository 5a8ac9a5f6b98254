"""Client-side pacing: this FC instance's share of a DataWorks quota, learned from throttling.

DataWorks counts every call against the edition's quota (50 QPS on Enterprise), throttled calls too. Answering a
429 with backoff alone keeps knocking: each FC instance retries into the same full second. A `Pacer` instead
sets a rate on the first throttle (half of what this instance sent in the second before it) and spaces its calls by
it, lowering it on each later throttle and raising it slowly while calls pass, so the instances that share a quota
settle just under it. Until a throttle it never waits; once calls have passed at a high rate for long enough it
stops pacing again.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Deque, Dict, Optional

BACK_OFF = 0.5            # a throttle sets the rate to this share of what was sent in the last second
PROBE_PER_S = 0.05        # while calls pass, the rate grows this many calls per second, each second
FLOOR = 0.5               # calls per second: the least a throttle leaves
UNPACED = 200.0           # a rate probed up to this is no limit at all: pacing stops
COOLING_S = 1.0           # throttles this soon after the last cut answer calls sent before it: not cut again


class Pacer:
    """Spaces the calls of one FC instance to one endpoint. Thread-safe: concurrent invocations share it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock, self._lock = clock, threading.Lock()
        self._rate: Optional[float] = None     # calls per second, None while unpaced
        self._set_at = 0.0                     # when the rate was last cut
        self._next = 0.0                       # the earliest start of the next call
        self._recent: Deque[float] = deque()   # start times of the calls of the last second

    def rate(self) -> Optional[float]:
        """Calls per second now (None: unpaced)."""
        with self._lock:
            return self._current(self._clock())

    def delay(self, within: float = float("inf")) -> Optional[float]:
        """Reserve the next call's turn: the seconds to wait before sending it (0 when unpaced), or None, with
        nothing reserved, when the turn comes more than `within` seconds from now (the call will not be made)."""
        with self._lock:
            now = self._clock()
            rate = self._current(now)
            start = now if rate is None else max(now, self._next)
            if start - now > within:
                return None
            if rate is not None:
                self._next = start + 1.0 / rate
            self._recent.append(start)
            while self._recent and self._recent[0] <= start - 1.0:
                self._recent.popleft()
            return start - now

    def throttled(self) -> None:
        """The endpoint refused a call for the quota: send slower."""
        with self._lock:
            now = self._clock()
            if self._rate is not None and now - self._set_at < COOLING_S:
                return
            sent = sum(1 for t in self._recent if t > now - 1.0)
            current = self._current(now)
            cut = max(FLOOR, BACK_OFF * max(sent, 1))
            self._rate, self._set_at = (cut if current is None else max(FLOOR, min(cut, BACK_OFF * current))), now

    def _current(self, now: float) -> Optional[float]:
        if self._rate is None:
            return None
        rate = self._rate + PROBE_PER_S * (now - self._set_at)
        if rate >= UNPACED:
            self._rate = None
            return None
        return rate


class Pacers:
    """One pacer per endpoint for an FC instance (a Runtime): its adapters and key rotations share them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pacers: Dict[str, Pacer] = {}

    def __call__(self, endpoint: str) -> Pacer:
        with self._lock:
            return self._pacers.setdefault(endpoint, Pacer())
