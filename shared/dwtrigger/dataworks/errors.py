"""SDK exceptions -> DataWorksError with a retry verdict.

Throttling is recognised by its *code* (`Throttling.*`): tea-openapi 0.4.x raises ThrottlingException only
when the response carries x-acs-retry-after, otherwise a 429 is a plain ClientException. Transport failures,
timeouts and non-JSON bodies (an HTML 502) arrive as UnretryableException with code None.
"""
from __future__ import annotations

import json
import re

from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.exceptions import UnretryableException

from . import DataWorksError

_STS_RESULT = re.compile(r"http_code: (\d+), result: (.*)", re.S)


def classify(exc: BaseException) -> DataWorksError:
    if isinstance(exc, DataWorksError):
        return exc
    if isinstance(exc, AlibabaCloudException):
        return _api_error(exc)
    inner = exc.inner_exception if isinstance(exc, UnretryableException) else exc
    if isinstance(inner, CredentialException):       # the SDK wraps credential failures too
        return _credential_error(inner)
    if not isinstance(exc, UnretryableException):
        raise exc
    text = str(inner)
    if isinstance(inner, ValueError) or "as json format" in text:   # e.g. an HTML 502 from a proxy
        return DataWorksError("BadResponse", "DataWorks answered with a body that is not JSON", retryable=True)
    code = "Timeout" if "timed out" in text.lower() else "ConnectionError"
    return DataWorksError(code, f"{type(inner).__name__}: {text[:200]}", retryable=True)


def _credential_error(exc: CredentialException) -> DataWorksError:
    """AssumeRole's refusal, by STS's status and code. STS error bodies hold a code and a message, no keys."""
    found = _STS_RESULT.search(str(exc))
    try:
        body = json.loads(found.group(2)) if found else {}
    except ValueError:
        body = {}
    if not found or not isinstance(body, dict):
        return DataWorksError("CredentialError", "could not obtain credentials", retryable=True)
    status, code = int(found.group(1)), str(body.get("Code") or f"HTTP{found.group(1)}")
    return DataWorksError(f"AssumeRole.{code}", f"AssumeRole failed: {str(body.get('Message') or '')[:200]}",
                          retryable=status >= 500 or status == 429 or code.startswith("Throttling"), status=status)


def _api_error(exc: AlibabaCloudException) -> DataWorksError:
    status = exc.status_code
    data = exc.data if isinstance(exc.data, dict) else {}
    code = exc.code if exc.code and exc.code != "None" else f"HTTP{status}"
    message = str(data.get("Message") or data.get("message") or "")[:300]
    retry_after_ms = getattr(exc, "retry_after", None)
    return DataWorksError(
        code, message or f"HTTP {status}",
        retryable=code.startswith("Throttling") or status == 429 or (status or 0) >= 500,
        request_id=exc.request_id if exc.request_id not in (None, "None") else None,
        status=status,
        retry_after_s=retry_after_ms / 1000 if retry_after_ms else None,
    )
