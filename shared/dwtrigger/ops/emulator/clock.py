"""The emulator's clock: instance states follow it, so tests can move time without sleeping."""

import threading
from datetime import datetime, timedelta, timezone
from typing import Optional


def parse_iso(value) -> datetime:
    """An aware datetime from a datetime or an ISO string; accepts a trailing 'Z', which 3.10's fromisoformat rejects."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return dt


class Clock:
    """Fixed (moves only through set/advance) when started with a time, else real time plus an offset."""

    def __init__(self, start: Optional[datetime] = None):
        self._lock = threading.Lock()
        self._start = start
        self.reset()

    def reset(self) -> None:
        """Back to the start time (or to real time)."""
        with self._lock:
            self._fixed = self._start
            self._offset = timedelta(0)

    @property
    def fixed(self) -> bool:
        """Whether it moves only through set/advance (started with a time), rather than running with real time."""
        return self._start is not None

    def now(self) -> datetime:
        with self._lock:
            if self._fixed is not None:
                return self._fixed
            return datetime.now(timezone.utc) + self._offset

    def set(self, when) -> None:
        when = parse_iso(when)
        with self._lock:
            if self._fixed is not None:
                self._fixed = when
            else:
                self._offset = when - datetime.now(timezone.utc)

    def advance(self, seconds: float) -> None:
        step = timedelta(seconds=seconds)
        with self._lock:
            if self._fixed is not None:
                self._fixed += step
            else:
                self._offset += step
