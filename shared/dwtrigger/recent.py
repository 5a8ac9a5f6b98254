"""What this FC instance saw become of instances lately: released by its own trigger, or found past waiting.

DataWorks counts every call against the edition's quota, and most repeated events (a redelivery, the other files
of a day, a batch naming one instance twice) reach an instance that already left its wait. An instance seen so in
the last `TTL_S` seconds is answered `already_triggered` from memory, with no call. Only certainties are kept: a
trigger DataWorks said `Success: true` to, a look-up that listed the instance past waiting; a failure, a trigger
with no answer or a dry run leaves nothing. The TTL bounds how stale an answer can be (a person rerunning the
instance by hand), and the size how much an FC instance keeps. A trigger DataWorks holds (sent before the
instance's parents or time allowed) is kept until its hold ends, and answers only after a look-up still shows
the instance waiting on them: one waiting for its trigger alone holds none, whatever this memory says.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable, Optional

TTL_S = 600.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Seen:
    """An instance as this FC instance last saw it."""
    cycle_ms: int
    biz_date_ms: int
    what: str                  # "sent" (our trigger, Success true) or the status a look-up listed
    at_ms: int                 # when, epoch ms (wall clock)
    held_until_ms: Optional[int] = None   # our trigger was sent before the parents or time allowed: held until


class Recent:
    """A bounded, expiring map from an instance's identity to what was seen of it. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl_s: float = TTL_S,
                 size: int = MAX_ENTRIES):
        self._clock, self._ttl_s, self._size = clock, ttl_s, size
        self._lock = threading.Lock()
        self._seen: "OrderedDict[Hashable, tuple]" = OrderedDict()   # key -> (expires, Seen)

    def get(self, key: Hashable) -> Optional[Seen]:
        with self._lock:
            found = self._seen.get(key)
            if found is None:
                return None
            if found[0] <= self._clock():
                del self._seen[key]
                return None
            return found[1]

    def put(self, key: Hashable, seen: Seen) -> None:
        """Kept `ttl_s`, or, for a trigger DataWorks holds, until the hold ends: a look-up cannot show a hold, so
        only this memory (or a ledger) keeps a redelivery or the sweep from sending into it again."""
        held_s = (seen.held_until_ms - seen.at_ms) / 1000 if seen.held_until_ms is not None else 0.0
        with self._lock:
            self._seen[key] = (self._clock() + max(self._ttl_s, held_s), seen)
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
