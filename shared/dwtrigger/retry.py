"""Retries inside one invocation: the deadline, the backoff, and the loop every remote call goes through.

FC has no get_remaining_time: the deadline is invocation start + function.timeout, less a margin that
leaves room to log and raise. Backoff is exponential with full jitter, never shorter than a server's
retry-after, and a retry that could not finish before the deadline is not started. `with_retries` retries
whatever raises a RemoteError that says it is retryable (DataWorks or OSS alike), and nothing else; a `Reach`
(the command line's view of an endpoint, relay.Silence) may stop it early: retrying an endpoint this machine
cannot connect to only keeps a person waiting.
"""
from __future__ import annotations

import random
import time
from typing import Callable, Optional, Tuple, TypeVar

import msgspec

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 60.0
MIN_CALL_S = 0.5          # below this a call cannot usefully complete


class Deadline(msgspec.Struct):
    at: float                                  # on `clock`'s scale
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def for_invocation(cls, context, started: float, clock: Callable[[], float] = time.monotonic) -> "Deadline":
        function = getattr(context, "function", None)
        timeout = float(getattr(function, "timeout", None) or DEFAULT_TIMEOUT_S)
        margin = min(3.0, max(0.5, timeout * 0.1))
        return cls(started + timeout - margin, clock)

    def left(self) -> float:
        """Seconds until the invocation's deadline."""
        return self.at - self.clock()


class RemoteError(Exception):
    """A failed call to a cloud service, classified once: `retryable` is the verdict. `status` is the HTTP
    status when the service answered; None when no answer came (a write may have landed). `unreachable`: the
    `host:port` no connection could be opened to (refused, a name that does not resolve, a connect that timed
    out), None when one was (whatever became of it) or nothing says."""

    def __init__(self, code: str, message: str, *, retryable: bool, request_id: Optional[str] = None,
                 status: Optional[int] = None, retry_after_s: Optional[float] = None,
                 unreachable: Optional[str] = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable = code, message, retryable
        self.request_id, self.status, self.retry_after_s = request_id, status, retry_after_s
        self.unreachable = unreachable


class GaveUp(Exception):
    """`with_retries` stopped: `error` is the last RemoteError (None if the deadline left no time to try),
    `attempts` how many were made, `deadline` whether the deadline (not the error) ended it, `unreached` whether
    the Reach did (its endpoint could not be reached too often in a row)."""

    def __init__(self, error: Optional[RemoteError], attempts: int, deadline: bool, unreached: bool = False):
        super().__init__(str(error) if error else "no time left")
        self.error, self.attempts, self.deadline, self.unreached = error, attempts, deadline, unreached


class NoTimeLeft(Exception):
    """Raised by a step that cannot start its call before the deadline (its turn under client-side pacing comes
    later): `with_retries` ends as the deadline would, with the last real error. The attempt counts only when it
    had already `called` out (a later page of a listing)."""

    def __init__(self, message: str, called: bool = False):
        super().__init__(message)
        self.called = called


class Backoff(msgspec.Struct):
    base_s: float = 0.2
    cap_s: float = 5.0
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after_s: Optional[float] = None) -> float:
        """Full jitter over base * 2^(attempt-1), capped; at least the server's retry-after."""
        jittered = self.rng() * min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 32))
        return max(jittered, retry_after_s or 0.0)


# Told of each failed attempt: (attempt, the error, seconds until the next one, or None when none follows).
Observer = Callable[[int, RemoteError, Optional[float]], None]


# Told how each attempt ended (None: it succeeded); True when its endpoint is not worth another attempt.
Reach = Callable[[Optional[RemoteError]], bool]


def with_retries(step: Callable[[int], T], deadline: Deadline, backoff: Backoff,
                 sleep: Callable[[float], None] = time.sleep, observe: Optional[Observer] = None,
                 reach: Optional[Reach] = None) -> Tuple[T, int]:
    """(step(attempt)'s result, attempts made). A retryable RemoteError is retried after the backoff while a
    call could still finish before the deadline, and `reach` (told of every attempt) does not say stop; any
    other exception passes through. Raises GaveUp. `observe` (the command line's, so a person sees retries as
    they happen) is called only when an attempt fails."""
    attempt, last = 0, None
    while True:
        if deadline.left() < MIN_CALL_S:
            raise GaveUp(last, attempt, deadline=True)
        attempt += 1
        try:
            result = step(attempt)
        except NoTimeLeft as e:
            raise GaveUp(last, attempt if e.called else attempt - 1, deadline=True) from None
        except RemoteError as e:
            unreached = reach is not None and reach(e)
            wait = backoff.delay(attempt, e.retry_after_s) if e.retryable and not unreached else None
            if wait is not None and deadline.left() - wait < MIN_CALL_S:
                wait = None
            if observe is not None:
                observe(attempt, e, wait)
            if wait is None:
                raise GaveUp(e, attempt, deadline=e.retryable and not unreached, unreached=unreached) from None
            last = e
            sleep(wait)
        else:
            if reach is not None:
                reach(None)
            return result, attempt
