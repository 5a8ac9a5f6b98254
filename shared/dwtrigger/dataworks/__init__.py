"""The DataWorks port: find a node's cycle instances for a business date, and release one.

The relay speaks only this interface; one adapter per API version implements it with the real SDK, so the
relay's decisions can be tested against the local emulator over the wire.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import List, Optional, Protocol

WAITING = frozenset({"WAIT_TRIGGER", "NOT_RUN", "WAIT_TIME"})
FROZEN_TASK_TYPE = "PAUSE"
CYCLE_DAG_TYPE = "DAILY"


@dataclass(frozen=True)
class Instance:
    instance_id: int
    node: int
    status: str
    dag_type: str
    task_type: str
    cycle_ms: int
    biz_date_ms: int


class DataWorksError(Exception):
    """A failed DataWorks call, classified once so the retry loop never inspects SDK exceptions.

    `status` is the HTTP status when DataWorks answered (None when no answer came: the call may have landed)."""

    def __init__(self, code: str, message: str, *, retryable: bool, request_id: Optional[str] = None,
                 status: Optional[int] = None, retry_after_s: Optional[float] = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable = code, message, retryable
        self.request_id, self.status, self.retry_after_s = request_id, status, retry_after_s


class Deadline(Protocol):
    def left(self) -> float:
        """Seconds until the invocation's deadline."""


class DataWorks(Protocol):
    def list_instances(self, workspace: int, env: str, node: int, biz_date: date,
                       deadline: Deadline) -> List[Instance]:
        """Every instance DataWorks lists for the node and business date, all pages read (at most the API's own
        page limit), each call within the deadline. Raises DataWorksError (off-schema answers are BadResponse;
        the deadline stopping a call is DeadlineExceeded; both retryable)."""

    def trigger(self, workspace: int, node: int, cycle_ms: int, biz_date_ms: int, deadline: Deadline) -> str:
        """Release the instance; returns DataWorks' RequestId. Anything but an answer with `"Success": true`
        raises DataWorksError."""
