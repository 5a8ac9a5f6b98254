"""Client-side pacing: this FC instance's share of a DataWorks quota, learned from throttling.

DataWorks' quota is per account and region, split into reads and writes (Enterprise: 50 read and 20 write calls a
second; DWTRIGGER_DATAWORKS_QPS), and every call counts, throttled ones too. Answering a 429 with backoff alone
keeps knocking: each FC instance retries into the same full second. A `Pacer` spaces one kind of call (reads:
look-ups; writes: triggers) by a rate it learns, never above the quota (its `ceiling`), so the FC instances that
share a quota settle just under it without knowing how many they are:
- calls are spaced by a whole number of calls a second (the rate rounded down, 2% wider): a quota counts calls
  per second (the emulator: in any rolling second), and an FC instance spaced at 2.5 a second has 3 calls in some
  seconds, so eight of them sharing 20 would overflow it whenever their phases line up; at whole rates no second
  holds more than the sum;
- it starts at an eighth of the ceiling and doubles each second until a throttle: a lone FC instance has the
  whole quota within three seconds, and eight that start together overshoot it once, briefly: the first throttle
  while it is still doubling, below the ceiling, takes it back at least to the rate of the second before (or the
  one it started the phase at), which passed, in one step rather than the several cuts below would take, each
  second of them throttled;
- a throttle cuts the rate, once a second (the throttles of one burst are one signal), by half the share of this
  FC instance's calls throttled in the second before, 5% at least, and from two a second up by a whole call a
  second at least (to a random point in the half below the next whole number, so FC instances cut together do not
  climb back in step);
- while calls pass it climbs back slowly (a small share of the ceiling each second): the climb past a whole
  number is the probe for more, one FC instance at a time, so a fleet spends little of the quota on throttled
  calls (bench/reliability.py --burst: under 1%);
- ten minutes without a throttle and it doubles each second again (the others are gone, or were never there;
  sooner, one FC instance of a busy fleet that went a while unthrottled would overshoot and cut the others).
"""
from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from typing import Callable, Deque, Dict, Optional, Tuple

START = 0.125             # the first rate, as a share of the ceiling
GENTLE = 0.95             # a throttle cuts the rate to at most this share of itself
CLIMB = 0.001             # while calls pass, the rate grows by this share of the ceiling each second
RESTART_S = 600.0         # this long without a throttle, the rate doubles each second again
FLOOR = 0.5               # calls per second: the least a throttle leaves
MARGIN = 0.02             # calls spaced this much wider than the whole rate: a few ms of jitter stay in the second
COOLING_S = 1.0           # throttles this soon after the last cut answer calls sent before it: not cut again


class Pacer:
    """Spaces one kind of call of one FC instance to one endpoint, at most `ceiling` a second. Thread-safe:
    concurrent invocations share it."""

    def __init__(self, ceiling: float, clock: Callable[[], float] = time.monotonic,
                 rng: Callable[[], float] = random.random):
        self.ceiling, self._clock, self._rng, self._lock = ceiling, clock, rng, threading.Lock()
        self._rate = START * ceiling           # calls per second when last set
        self._set_at = clock()                 # when: a cut, or the start of a doubling phase
        self._doubling = True                  # growing twofold each second, else climbing
        self._cut_at: Optional[float] = None   # when a throttle last cut it
        self._next = 0.0                       # the earliest start of the next call
        self._sent: Deque[float] = deque()     # start times of the calls of the last second
        self._refused: Deque[float] = deque()  # times of the throttles of the last second

    def rate(self) -> float:
        """Calls per second now."""
        with self._lock:
            return self._current(self._clock())

    def delay(self, within: float = float("inf")) -> Optional[float]:
        """Reserve the next call's turn: the seconds to wait before sending it, or None, with nothing reserved,
        when the turn comes more than `within` seconds from now (the call will not be made)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            if start - now > within:
                return None
            self._next = start + 1.0 / _whole(self._current(now))
            _within_a_second(self._sent, start).append(start)
            return start - now

    def throttled(self) -> None:
        """The endpoint refused a call for the quota: send slower."""
        with self._lock:
            now = self._clock()
            _within_a_second(self._refused, now).append(now)
            if self._cut_at is not None and now - self._cut_at < COOLING_S:
                return
            refused = len(self._refused) / max(len(_within_a_second(self._sent, now)), len(self._refused))
            current = self._current(now)
            whole = math.floor(current) - 0.5 - 0.5 * self._rng() if current >= 2 else current
            cut = min(GENTLE * current, (1.0 - refused / 2) * current, whole)
            if self._doubling and current < self.ceiling:    # back to the rate a second before (or the phase's first)
                cut = min(cut, max(self._rate, current / 2))
            self._rate = max(FLOOR, cut)
            self._set_at, self._cut_at, self._doubling = now, now, False

    def _current(self, now: float) -> float:
        since = now - self._set_at
        if not self._doubling and since >= RESTART_S:
            self._rate, self._set_at, self._doubling, since = self._climbed(since), now, True, 0.0
        return min(self.ceiling, self._rate * 2.0 ** min(since, 32.0)) if self._doubling else self._climbed(since)

    def _climbed(self, since: float) -> float:
        return min(self.ceiling, self._rate + CLIMB * self.ceiling * since)


def _whole(rate: float) -> float:
    """The rate calls are spaced by: a whole number of calls a second (less MARGIN) once there is one."""
    return math.floor(rate) / (1 + MARGIN) if rate >= 1 else rate


def _within_a_second(times: Deque[float], now: float) -> Deque[float]:
    """`times` less those a second or more before `now`."""
    while times and times[0] <= now - 1.0:
        times.popleft()
    return times


class Pacing:
    """The two budgets of one endpoint's quota: `read` paces look-ups, `write` triggers."""

    def __init__(self, read: Pacer, write: Pacer) -> None:
        self.read, self.write = read, write


class Pacers:
    """One Pacing per endpoint for an FC instance (a Runtime), from the quota's (read, write) calls a second
    (DWTRIGGER_DATAWORKS_QPS): its adapters and key rotations share them."""

    def __init__(self, qps: Tuple[float, float], clock: Callable[[], float] = time.monotonic) -> None:
        self._lock, self._qps, self._clock = threading.Lock(), qps, clock
        self._pacing: Dict[str, Pacing] = {}

    def __call__(self, endpoint: str) -> Pacing:
        with self._lock:
            if endpoint not in self._pacing:
                self._pacing[endpoint] = Pacing(*(Pacer(ceiling, self._clock) for ceiling in self._qps))
            return self._pacing[endpoint]
