"""Fault injection: the failures a DataWorks client must survive, on demand and deterministically when scripted.

Keys (all optional, off by default):
  qps             requests beyond this many per rolling second of real time → 429 Throttling.User
                  (only requests that were let through count toward the window)
  read_qps, write_qps  the same, for reads and writes apart, as DataWorks' quota is split (Enterprise: 50 and 20):
                  writes are the triggers (RunTriggerNode, TriggerSchedulerTaskInstance), reads every other
                  action; each kind has a window of its own, beside `qps` if that is set too
  retry_after_ms  throttled responses carry ``x-acs-retry-after`` with this value. Unit: MILLISECONDS —
                  tea-openapi 0.4.6 turns it into ThrottlingException.retry_after, which darabonba's retry
                  policy uses as the backoff passed to DaraCore.sleep(millisecond)
  error_rate, html_502_rate, drop_rate, success_false_rate, forbidden_rate, redirect_rate, drip_rate,
  malformed_rate  shares of requests answered 500 InternalError.System, 502 HTML, a closed connection,
                  200 Success:false, 403 ResourceNotAuthorized.Api, a redirect, a drip, a malformed body
                  (one draw per request; the sum must be <= 1)
  latency_ms      delay before answering any request no other fault hit (and the delay of scripted "latency")
  redirect_status the status of "redirect" (301, 302, 303, 307 or 308; default 302), with a JSON body (Code
                  Emulator.Injected.Redirect) and ``Location: http://localhost:PORT/_decoy/``: the emulator's own
                  port, but to an HTTP client another host. The decoy answers any method 200
                  ``{"RequestId": "decoy", "Success": true}`` and records header NAMES only (Emulator.decoy_calls):
                  does a client follow, and carry credentials (authorization, x-acs-security-token,
                  x-acs-accesskey-id) to another host?
  drip_ms         "drip" (needs it): the normal answer (the action runs), status line to last body byte
                  written one byte every drip_ms — each read is in time, so only a whole-call deadline ends it
  malformed_body  "malformed" (needs it): 200 JSON with exactly this string as body, e.g. 'null', '[1]',
                  '{"Success": "maybe"}'; the action does not run
  script          fault names for the next requests, one each, in order; they take precedence over qps and
                  rates: throttle, error, html_502, drop, success_false, forbidden, redirect, drip, malformed,
                  latency, hold, ok. "hold": the request waits, unanswered, until Emulator.let_go() (a test's
                  moment, not a time it hopes things take), then acts and answers as usual
  actions         actions faults apply to; default every DataWorks action of both versions (ListInstances,
                  RunTriggerNode, GetNodeParents, ListTaskInstances, GetTaskInstance,
                  TriggerSchedulerTaskInstance, ListUpstreamTasks; AssumeRole only when listed)
  random_seed     seed of the rate RNG

Lies (true/false) alter otherwise-normal ListInstances and ListTaskInstances answers, whatever `actions` says;
they take no script entry and no rate draw:
  endless_pages     every page holds page 1's instances (PageNumber echoes the request) and TotalCount is
                    1,000,000,000: a client paging "until it has TotalCount" never stops
  foreign_instances page 1 of a non-empty answer starts with two extra instances: the first instance's copy
                    for node NodeId + 1 (the asked node, else the first instance's), SUCCESS; and its copy a
                    business day earlier (Bizdate and CycTime - 86,400,000 ms), DAILY, WAIT_TRIGGER. Both
                    have InstanceIds of their own; every page's TotalCount counts them (+2, unless endless_pages).
                    In 2024-05-18 spelling: TaskId + 1 and Success; Bizdate and TriggerTime - 86,400,000 ms,
                    WaitTrigger, WorkflowInstanceType Normal, TriggerType Scheduler; Ids of their own.

An injected wait (latency, hold, drip) ends at once when the emulator resets or stops: see gateway.py on epochs.
"""

import random
import threading
import time
from collections import deque
from typing import Optional

RATES = (("error", "error_rate"), ("html_502", "html_502_rate"), ("drop", "drop_rate"),
         ("success_false", "success_false_rate"), ("forbidden", "forbidden_rate"), ("redirect", "redirect_rate"),
         ("drip", "drip_rate"), ("malformed", "malformed_rate"))
NAMES = frozenset({"throttle", "latency", "hold", "ok"} | {name for name, _ in RATES})
LIES = ("endless_pages", "foreign_instances")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
WRITES = frozenset({"RunTriggerNode", "TriggerSchedulerTaskInstance"})     # the rest of the actions read
KEYS = frozenset({"qps", "read_qps", "write_qps", "retry_after_ms", "latency_ms", "redirect_status", "drip_ms", "malformed_body", "script",
                  "actions", "random_seed", *LIES} | {k for _, k in RATES})


class Faults:
    """The current fault config and its per-request decision; configure() replaces everything."""

    def __init__(self, config: Optional[dict] = None):
        self._lock = threading.Lock()
        self.clock = time.monotonic         # what the rolling second is read on (tests step it to hold qps to a count)
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
        drip = int(config.get("drip_ms") or 0)
        if ("drip" in script or rates["drip_rate"]) and drip <= 0:
            raise ValueError('"drip" needs drip_ms > 0')
        malformed = config.get("malformed_body")
        if ("malformed" in script or rates["malformed_rate"]) and not isinstance(malformed, str):
            raise ValueError('"malformed" needs malformed_body, a string')
        redirect = int(config.get("redirect_status") or 302)
        if redirect not in REDIRECTS:
            raise ValueError(f"redirect_status must be one of {sorted(REDIRECTS)}")
        lies = {key: config.get(key, False) for key in LIES}
        if any(not isinstance(value, bool) for value in lies.values()):
            raise ValueError(f"{' and '.join(LIES)} must be true or false")
        with self._lock:
            self.latency_ms = latency
            self.retry_after_ms = int(config.get("retry_after_ms") or 0)
            self.redirect_status, self.drip_ms, self.malformed_body = redirect, drip, malformed
            self.lies = {key for key, on in lies.items() if on}
            self._qps = int(config.get("qps") or 0)
            self._kind_qps = {"read": int(config.get("read_qps") or 0), "write": int(config.get("write_qps") or 0)}
            self._kind_window = {"read": deque(), "write": deque()}
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
            kind = "write" if action in WRITES else "read"
            fault = self._script.pop(0) if self._script else self._draw(kind)
            if fault != "throttle":
                for quota, window in ((self._qps, self._window), (self._kind_qps[kind], self._kind_window[kind])):
                    if quota:
                        window.append(self.clock())
            return None if fault == "ok" else fault

    def _draw(self, kind: str) -> Optional[str]:
        now = self.clock()
        for quota, window in ((self._qps, self._window), (self._kind_qps[kind], self._kind_window[kind])):
            while quota and window and now - window[0] >= 1:
                window.popleft()
            if quota and len(window) >= quota:
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
