"""Decision records and the one JSON log line each (Powertools Logger, FC request id attached).

Every line carries the same fields, null where they do not apply, so SLS queries never miss a column.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import IO, Any, Dict, Iterable, Optional

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

TRIGGERED, ALREADY, WAITING_FILES = "triggered", "already_triggered", "waiting_for_files"
IGNORED, REJECTED, DRY_RUN, FAILED = "ignored", "rejected", "dry_run", "failed"
OUTCOMES = (TRIGGERED, ALREADY, WAITING_FILES, IGNORED, REJECTED, DRY_RUN, FAILED)
_LEVEL = {FAILED: "error", REJECTED: "warning"}


@dataclass(frozen=True)
class Decision:
    outcome: str
    source: str
    event_id: Optional[str]
    rule: Optional[str] = None
    bucket: Optional[str] = None
    key: Optional[str] = None
    topic: Optional[str] = None
    queue: Optional[str] = None
    message_id: Optional[str] = None
    timer: Optional[str] = None
    workspace: Optional[int] = None
    node: Optional[int] = None
    biz_date: Optional[str] = None          # YYYY-MM-DD
    cycle_time: Optional[str] = None        # local ISO in the workspace zone
    biz_date_ms: Optional[int] = None
    cycle_time_ms: Optional[int] = None
    dataworks_request_id: Optional[str] = None
    error_code: Optional[str] = None
    reason: Optional[str] = None
    retryable: Optional[bool] = None
    attempts: int = 0
    duration_ms: int = 0
    dry_run: bool = False

    def record(self) -> Dict[str, Any]:
        return asdict(self)

    def but(self, **changes: Any) -> "Decision":
        return replace(self, **changes)


DECISION_FIELDS = frozenset(f.name for f in fields(Decision))


class _SameFieldsFormatter(LambdaPowertoolsFormatter):
    """Powertools drops keys whose value is None; decision fields stay, as null, so every line has them all."""

    @staticmethod
    def _strip_none_records(records: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in records.items() if v is not None or k in DECISION_FIELDS}


class DecisionLog:
    """Writes decisions through a Powertools Logger; request id and function name ride on every line."""

    def __init__(self, service: Optional[str] = None, stream: Optional[IO[str]] = None):
        self.logger = Logger(service=service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "dwtrigger",
                             level=os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO", stream=stream,
                             logger_formatter=_SameFieldsFormatter())

    def bind(self, context) -> None:
        """Per thread, so concurrent invocations in one instance never stamp each other's request id."""
        function = getattr(context, "function", None)
        self.logger.thread_safe_append_keys(request_id=getattr(context, "request_id", None),
                                function_name=getattr(function, "name", None) or os.environ.get("FC_FUNCTION_NAME"))

    def write(self, decisions: Iterable[Decision]) -> None:
        for d in decisions:
            where = d.key or d.topic or d.queue or d.timer or ""
            message = f"{d.outcome}: {d.rule or '-'} {where} -> {d.node or '-'}"
            getattr(self.logger, _LEVEL.get(d.outcome, "info"))(message, extra=d.record())
