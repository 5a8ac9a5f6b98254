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
from typing import IO, Any, Dict, Optional

import msgspec

from .deferred import deferring
from .redact import Scrubber

# Powertools' package imports its metrics, its tracer and (for the logger's correlation-id paths) JMESPath; only
# the Logger writes here: those load if ever used, not at every cold start (deferred.py).
with deferring({"aws_lambda_powertools.metrics": frozenset({"Metrics", "single_metric"}),
                "aws_lambda_powertools.tracing": frozenset({"Tracer"}),
                "aws_lambda_powertools.utilities.jmespath_utils": frozenset()}):
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter

TRIGGERED, ALREADY, WAITING_FILES = "triggered", "already_triggered", "waiting_for_files"
IGNORED, REJECTED, DRY_RUN, FAILED, OVERDUE = "ignored", "rejected", "dry_run", "failed", "overdue"
OUTCOMES = (TRIGGERED, ALREADY, WAITING_FILES, OVERDUE, IGNORED, REJECTED, DRY_RUN, FAILED)
_LEVEL = {FAILED: "error", REJECTED: "warning", OVERDUE: "warning"}
_DECISION = "dwtrigger_decision"      # the log record attribute a decision rides on


class Decision(msgspec.Struct, frozen=True):
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
        return msgspec.structs.asdict(self)

    def but(self, **changes: Any) -> "Decision":
        return msgspec.structs.replace(self, **changes)

    def scrubbed(self, scrub: Scrubber) -> "Decision":
        """This decision with every secret (and credential-shaped text) removed from every text field."""
        texts = {name: value for name in DECISION_FIELDS if isinstance(value := getattr(self, name), str)}
        if not scrub.finds("\n".join(texts.values())):
            return self
        return msgspec.structs.replace(self, **{name: scrub(value) for name, value in texts.items()})


DECISION_FIELDS = frozenset(Decision.__struct_fields__)
_ENCODE = msgspec.json.Encoder(enc_hook=str).encode     # json.dumps' JSON, several times faster
_UNSAFE = re.compile("[\u0080-\u009f\u2028\u2029\ud800-\udfff]")


def one_line_json(value: Any) -> str:
    """Compact JSON, one line for every line-based reader, encodable as UTF-8 whatever the strings held."""
    try:
        text = _ENCODE(value).decode()
    except UnicodeEncodeError:                                 # a lone surrogate: json escapes it
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _UNSAFE.search(text) else text


class _SameFieldsFormatter(LambdaPowertoolsFormatter):
    """Powertools drops keys whose value is None; decision fields stay, as null, so every line has them all.

    A decision line takes a lean path to the very line Powertools' own format() builds (test_outcomes holds the
    two equal): without its copy of every record attribute, its JSON probe of the message and its scan of the
    extras, which cost more than the rest of a decision."""

    def __init__(self, **kwargs):
        super().__init__(json_serializer=one_line_json, **kwargs)

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003 - logging's name
        decision = record.__dict__.get(_DECISION)
        return super().format(record) if decision is None else self.serialize(self.decision_line(record, decision))

    def decision_line(self, record: logging.LogRecord, decision: Dict[str, Any]) -> Dict[str, Any]:
        record.asctime = self.formatTime(record)
        line: Dict[str, Any] = {}
        for keys in (self.log_format, self.thread_safe_get_current_keys()):
            for key, value in keys.items():
                line[key] = value % record.__dict__ if value and key in RESERVED_LOG_ATTRS else value
        line.update(decision)
        line["message"] = record.msg
        line["xray_trace_id"] = self._get_latest_trace_id()
        return self._strip_none_records(line)

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
        getattr(self.logger, _LEVEL.get(d.outcome, "info"))(message, extra={_DECISION: d.record()})
