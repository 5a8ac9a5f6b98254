"""Decision records and the one JSON log line each (Powertools Logger, FC request id attached).

Every line carries the same fields, null where they do not apply, so SLS queries never miss a column. Decision
lines are the audit trail: they are written as each decision is made, no log level filters them
(POWERTOOLS_LOG_LEVEL cannot hide or break them), and each is one line of valid JSON whatever the input held:
lone surrogates and the characters some readers take for line breaks (U+2028, U+2029, C1 controls) are escaped.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import IO, Any, Dict, Optional

from .redact import Scrubber

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

TRIGGERED, ALREADY, WAITING_FILES = "triggered", "already_triggered", "waiting_for_files"
IGNORED, REJECTED, DRY_RUN, FAILED, OVERDUE = "ignored", "rejected", "dry_run", "failed", "overdue"
OUTCOMES = (TRIGGERED, ALREADY, WAITING_FILES, OVERDUE, IGNORED, REJECTED, DRY_RUN, FAILED)
_LEVEL = {FAILED: "error", REJECTED: "warning", OVERDUE: "warning"}


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
    held_until: Optional[str] = None        # local ISO: DataWorks holds the trigger until then (24 h after it)
    dry_run: bool = False

    def record(self) -> Dict[str, Any]:
        return asdict(self)

    def but(self, **changes: Any) -> "Decision":
        return replace(self, **changes)

    def scrubbed(self, scrub: Scrubber) -> "Decision":
        """This decision with every secret (and credential-shaped text) removed from every text field."""
        texts = {name: value for name in DECISION_FIELDS if isinstance(value := getattr(self, name), str)}
        if not scrub.finds("\n".join(texts.values())):
            return self
        return replace(self, **{name: scrub(value) for name, value in texts.items()})


DECISION_FIELDS = frozenset(f.name for f in fields(Decision))
_UNSAFE = re.compile("[\u0080-\u009f\u2028\u2029\ud800-\udfff]")


def one_line_json(value: Any) -> str:
    """Compact JSON, one line for every line-based reader, encodable as UTF-8 whatever the strings held."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _SameFieldsFormatter(LambdaPowertoolsFormatter):
    """Powertools drops keys whose value is None; decision fields stay, as null, so every line has them all."""

    def __init__(self, **kwargs):
        super().__init__(json_serializer=one_line_json, **kwargs)

    @staticmethod
    def _strip_none_records(records: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in records.items() if v is not None or k in DECISION_FIELDS}


class DecisionLog:
    """Writes decisions through a Powertools Logger; request id and function name ride on every line."""

    def __init__(self, service: Optional[str] = None, stream: Optional[IO[str]] = None):
        # An explicit level wins over POWERTOOLS_LOG_LEVEL: no setting filters (or breaks) a decision line.
        self.logger = Logger(service=service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "dwtrigger",
                             level=logging.INFO, stream=stream, logger_formatter=_SameFieldsFormatter())

    def bind(self, context) -> None:
        """Per thread, so concurrent invocations in one instance never stamp each other's request id."""
        function = getattr(context, "function", None)
        self.logger.thread_safe_append_keys(request_id=getattr(context, "request_id", None),
                                function_name=getattr(function, "name", None) or os.environ.get("FC_FUNCTION_NAME"))

    def note(self, message: str, fields: Dict[str, Any]) -> None:
        """A line that is not a decision (the sweep's summary): its fields under the message's name."""
        self.logger.info(message, extra={message: fields})

    def write(self, d: Decision) -> None:
        where = d.key or d.topic or d.queue or d.timer or ""
        message = f"{d.outcome}: {d.rule or '-'} {where} -> {d.node or '-'}"
        getattr(self.logger, _LEVEL.get(d.outcome, "info"))(message, extra=d.record())
