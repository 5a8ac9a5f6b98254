"""Fault injection: the failures a DataWorks client must survive, on demand and deterministically when scripted.

Keys (all optional, off by default):
  qps             requests beyond this many per rolling second of real time → 429 Throttling.User
                  (only requests that were let through count toward the window)
  retry_after_ms  throttled responses carry ``x-acs-retry-after`` with this value. Unit: MILLISECONDS —
                  tea-openapi 0.4.6 turns it into ThrottlingException.retry_after, which darabonba's retry
                  policy uses as the backoff passed to DaraCore.sleep(millisecond)
  error_rate, html_502_rate, drop_rate, success_false_rate, forbidden_rate
                  shares of requests answered 500 InternalError.System, 502 HTML, a closed connection,
                  200 Success:false, 403 ResourceNotAuthorized.Api (one draw per request; the sum must be <= 1)
  latency_ms      delay before answering any request no other fault hit (and the delay of scripted "latency")
  script          fault names for the next requests, one each, in order; they take precedence over qps and
                  rates: throttle, error, html_502, drop, success_false, forbidden, latency, ok
  actions         actions faults apply to; default every DataWorks action (AssumeRole only when listed)
  random_seed     seed of the rate RNG
"""

import random
import threading
import time
from collections import deque
from typing import Optional

RATES = (("error", "error_rate"), ("html_502", "html_502_rate"), ("drop", "drop_rate"),
         ("success_false", "success_false_rate"), ("forbidden", "forbidden_rate"))
NAMES = frozenset({"throttle", "latency", "ok"} | {name for name, _ in RATES})
KEYS = frozenset({"qps", "retry_after_ms", "latency_ms", "script", "actions", "random_seed"} | {k for _, k in RATES})


class Faults:
    """The current fault config and its per-request decision; configure() replaces everything."""

    def __init__(self, config: Optional[dict] = None):
        self._lock = threading.Lock()
        self.configure(config or {})

    def configure(self, config: dict) -> None:
        unknown = set(config) - KEYS
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; known: {sorted(KEYS)}")
        rates = {key: float(config.get(key) or 0) for _, key in RATES}
        if any(r < 0 for r in rates.values()) or sum(rates.values()) > 1:
            raise ValueError("fault rates must be >= 0 and sum to at most 1")
        script = _names(config, "script")
        if set(script) - NAMES:
            raise ValueError(f"unknown script faults {sorted(set(script) - NAMES)}; known: {sorted(NAMES)}")
        latency = int(config.get("latency_ms") or 0)
        if "latency" in script and not latency:
            raise ValueError('scripted "latency" needs latency_ms')
        with self._lock:
            self.latency_ms = latency
            self.retry_after_ms = int(config.get("retry_after_ms") or 0)
            self._qps = int(config.get("qps") or 0)
            self._rates = rates
            self._script = script
            self._actions = None if config.get("actions") is None else set(_names(config, "actions"))
            self._rng = random.Random(config.get("random_seed"))
            self._window: deque = deque()

    def decide(self, action: Optional[str]) -> Optional[str]:
        """The fault for one authenticated request, or None to answer it normally."""
        with self._lock:
            in_scope = action in self._actions if self._actions is not None else action != "AssumeRole"
            if not in_scope:
                return None
            fault = self._script.pop(0) if self._script else self._draw()
            if self._qps and fault != "throttle":
                self._window.append(time.monotonic())
            return None if fault == "ok" else fault

    def _draw(self) -> Optional[str]:
        if self._qps:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 1:
                self._window.popleft()
            if len(self._window) >= self._qps:
                return "throttle"
        draw, bound = self._rng.random(), 0.0
        for name, key in RATES:
            bound += self._rates[key]
            if draw < bound:
                return name
        return "latency" if self.latency_ms else None


def _names(config: dict, key: str) -> list:
    value = config.get(key) or ()
    if isinstance(value, str):
        raise ValueError(f"{key} must be a list of names, not the string {value!r}")
    return [str(name) for name in value]
