"""What this FC instance saw become of instances lately: released by its own trigger, or found past waiting.

DataWorks counts every call against the edition's quota, and most repeated events (a redelivery, the other files
of a day, a batch naming one instance twice) reach an instance that already left its wait. An instance seen so in
the last `TTL_S` seconds is answered `already_triggered` from memory, with no call. Only certainties are kept: a
trigger DataWorks said `Success: true` to, a look-up that listed the instance past waiting; a failure, a trigger
with no answer or a dry run leaves nothing. A look-up that listed no instance for the date at all (DataWorks
generates them the day before) answers the event's retries, wherever they land, for ABSENT_S only: they fail as
that look-up did, retryably, without asking again. The TTL bounds how stale an answer can be (a person rerunning the
instance by hand), and the size how much an FC instance keeps. A trigger DataWorks holds (sent before the
instance's parents or time allowed) is kept until its hold ends, and answers only after a look-up still shows
the instance waiting on them: one waiting for its trigger alone holds none, whatever this memory says.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable, List, Optional, Set, Tuple

import msgspec

TTL_S = 600.0
MAX_ENTRIES = 20_000
FRESH_S = 1.0          # a listing this young decides a release as a look-up of its own would (Listings)
ABSENT_S = 30.0        # a look-up that found no instance for the date answers the retries this long
ABSENT = "absent"      # Seen.what of such a look-up
MAX_LISTINGS = 1_000


class Seen(msgspec.Struct, frozen=True):
    """An instance as this FC instance last saw it."""
    cycle_ms: int
    biz_date_ms: int
    what: str                  # "sent" (our trigger, Success true), the status a look-up listed, or ABSENT
    at_ms: int                 # when, epoch ms (wall clock)
    held_until_ms: Optional[int] = None   # our trigger was sent before the parents or time allowed: held until
    ledger: bool = False       # known from the ledger's `done` record (another FC instance saw it), not here


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
        keep_s = min(self._ttl_s, ABSENT_S) if seen.what == ABSENT else max(self._ttl_s, held_s)
        with self._lock:
            self._seen[key] = (self._clock() + keep_s, seen)
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)


class Listings:
    """The instances a look-up listed for a node and business date, shared for FRESH_S seconds by every release
    that asks for the same listing: the other records of a batch, the other hours of an hourly node's day, the
    next attempt of a release whose trigger DataWorks answered with an error. One listing answers them all, as
    fresh as the look-up each would have made: the wait between a look-up and its trigger (a claim, the pacer's
    turn) is as long. What a listing says of an instance this FC instance has since sent a trigger to is not
    used (`touch`): its status is no longer what was listed. Stable facts (an instance's id and times) outlive
    the window in `Recent` only through the instances seen past waiting. Thread-safe."""

    def __init__(self, fresh_s: float = FRESH_S, size: int = MAX_LISTINGS):
        self._fresh_ms, self._size = fresh_s * 1000, size
        self._lock = threading.Lock()
        self._listed: "OrderedDict[Hashable, Tuple[int, list, Set[int]]]" = OrderedDict()

    def get(self, key: Hashable, now_ms: int, cycle_ms: Optional[int] = None) -> Optional[list]:
        """The listing taken under `key` less than FRESH_S before `now_ms` (the invocation's wall clock, so its
        tests' time is theirs), unless the instance scheduled at `cycle_ms` (None: any) was sent a trigger since.
        None: look it up."""
        with self._lock:
            found = self._listed.get(key)
            if found is None or not 0 <= now_ms - found[0] < self._fresh_ms or (
                    found[2] and cycle_ms is None or cycle_ms in found[2]):
                return None
            return found[1]

    def put(self, key: Hashable, now_ms: int, listing: List) -> None:
        with self._lock:
            self._listed[key] = (now_ms, listing, set())
            self._listed.move_to_end(key)
            while len(self._listed) > self._size:
                self._listed.popitem(last=False)

    def touch(self, key: Hashable, cycle_ms: Optional[int]) -> None:
        """A trigger went to the instance scheduled at `cycle_ms` (None: one whose time was not known: every
        instance of the listing): the listing no longer speaks for it."""
        with self._lock:
            if cycle_ms is None:
                self._listed.pop(key, None)
            elif key in self._listed:
                self._listed[key][2].add(cycle_ms)
