"""Deadline and backoff for retries inside one invocation.

FC has no get_remaining_time: the deadline is invocation start + function.timeout, less a margin that
leaves room to log and raise. Backoff is exponential with full jitter, never shorter than a server's
retry-after, and a retry that could not finish before the deadline is not started.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Optional

DEFAULT_TIMEOUT_S = 60.0
MIN_CALL_S = 0.5          # below this a call cannot usefully complete


@dataclass
class Deadline:
    at: float                                  # on `clock`'s scale
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def for_invocation(cls, context, started: float, clock: Callable[[], float] = time.monotonic) -> "Deadline":
        function = getattr(context, "function", None)
        timeout = float(getattr(function, "timeout", None) or DEFAULT_TIMEOUT_S)
        margin = min(3.0, max(0.5, timeout * 0.1))
        return cls(started + timeout - margin, clock)

    def left(self) -> float:
        return self.at - self.clock()


@dataclass
class Backoff:
    base_s: float = 0.2
    cap_s: float = 5.0
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after_s: Optional[float] = None) -> float:
        """Full jitter over base * 2^(attempt-1), capped; at least the server's retry-after."""
        jittered = self.rng() * min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 32))
        return max(jittered, retry_after_s or 0.0)
