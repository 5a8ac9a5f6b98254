"""Whatever a DataWorks call raised -> one DataWorksError with a retry verdict; nothing else leaves an adapter.

What the transport saw decides first (wire.Budget: the deadline stopped the call, a redirect or an oversized answer
was refused). Then API errors by *code* and HTTP status (`Throttling.*`, 429 and 5xx are transient; tea-openapi
0.4.x raises ThrottlingException only when the answer carries x-acs-retry-after). Transport failures arrive as
UnretryableException wrapping the SDK's RetryError; anything else the SDK raised on an answer (a body that is not
JSON, an error body of the wrong shape) is BadResponse. An exception that is not the SDK's is re-raised: a bug is
not an answer. Text from the server or the transport is cut, stripped of
URLs (a failed AssumeRole quotes its signed URL, token included) and kept to printable characters.
"""
from __future__ import annotations

import json
import math
import re
from typing import Optional

from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.exceptions import RetryError, UnretryableException
from Tea.exceptions import RetryError as TeaRetryError

from ..redact import clean, error_code
from ..wire import Budget, chain, peer, stopped, unreachable
from . import DataWorksError

_STS_RESULT = re.compile(r"http_code: (\d+), result: (.*)", re.S)
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}\Z")


def classify(exc: BaseException, spent: Optional[Budget] = None) -> DataWorksError:
    if isinstance(exc, DataWorksError):
        return exc
    seen = stopped(spent)
    if seen is not None:
        return DataWorksError(seen[0], seen[1], retryable=seen[2])
    if isinstance(exc, AlibabaCloudException):
        return _api_error(exc)
    inner = exc.inner_exception if isinstance(exc, UnretryableException) else exc
    if isinstance(inner, CredentialException):       # the SDK wraps credential failures too
        return _credential_error(inner)
    if isinstance(inner, (RetryError, TeaRetryError)):     # the transport failed (the SDKs wrap every IOError)
        text = clean(_transport_failure(inner) or str(inner))
        code = "Timeout" if "timed out" in text.lower() else "ConnectionError"
        return DataWorksError(code, text or "the connection failed", retryable=True, unreachable=unreachable(inner))
    if not isinstance(exc, UnretryableException):
        raise exc          # not the SDK's: a bug of ours, which the relay reports as an InternalError decision
    return DataWorksError("BadResponse", f"DataWorks' answer could not be read ({type(inner).__name__})",
                          retryable=True)


def _transport_failure(exc: BaseException) -> Optional[str]:
    """`host:port: reason` from the socket error under the SDK's RetryError and urllib3's wrappers (whose own text
    repeats the pool's repr), or None when there is none."""
    where, reason = None, None
    for e in chain(exc):
        where = where or peer(e)
        if isinstance(e, OSError) and (e.strerror or getattr(e, "reason", None)):
            reason = e.strerror or e.reason
    return f"{where or 'the endpoint'}: {reason}" if reason else None


def _credential_error(exc: CredentialException) -> DataWorksError:
    """AssumeRole's refusal, by STS's status and code. STS error bodies hold a code and a message, no keys."""
    found = _STS_RESULT.search(str(exc))
    try:
        body = json.loads(found.group(2)) if found else {}
    except ValueError:
        body = {}
    if not found or not isinstance(body, dict):
        return DataWorksError("CredentialError", "could not obtain credentials", retryable=True)
    status = int(found.group(1))
    code = error_code(body.get("Code")) or f"HTTP{status}"
    return DataWorksError(f"AssumeRole.{code}", f"AssumeRole failed: {clean(str(body.get('Message') or ''))}",
                          retryable=status >= 500 or status == 429 or code.startswith("Throttling"), status=status)


def _api_error(exc: AlibabaCloudException) -> DataWorksError:
    status = exc.status_code if isinstance(exc.status_code, int) else None
    data = exc.data if isinstance(exc.data, dict) else {}
    code = error_code(exc.code) or f"HTTP{status}"
    message = clean(str(data.get("Message") or data.get("message") or ""), 300)
    return DataWorksError(
        code, message or f"HTTP {status}",
        retryable=code.startswith("Throttling") or status == 429 or (status or 0) >= 500,
        request_id=exc.request_id if _REQUEST_ID.match(str(exc.request_id)) and exc.request_id != "None" else None,
        status=status, retry_after_s=_seconds(getattr(exc, "retry_after", None)))


def _seconds(retry_after_ms) -> Optional[float]:
    """x-acs-retry-after, when it is a sane number of milliseconds."""
    try:
        seconds = float(retry_after_ms) / 1000
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None
