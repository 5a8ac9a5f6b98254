"""Retry verdicts for SDK exceptions the emulator does not produce (its throttling always says Throttling.*).
These are the SDK's own exception classes, built as tea-openapi 0.4.x builds them from an error response."""
import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException

from dwtrigger.dataworks.errors import classify


def api_error(cls, status, code, **extra):
    return cls(status_code=status, code=code, message=f"code: {status}, m request id: r1", request_id="r1",
               data={"Code": code, "Message": "m", "RequestId": "r1"}, **extra)


@pytest.mark.parametrize("exc, retryable", [
    (api_error(ClientException, 429, "TooManyRequests"), True),           # a 429 is throttling whatever its code
    (api_error(ClientException, 429, "Throttling.User"), True),
    (api_error(ThrottlingException, 429, "Throttling.Api", retry_after=1500), True),
    (api_error(ServerException, 503, "ServiceUnavailable"), True),
    (api_error(ClientException, 403, "ResourceNotAuthorized.Api"), False),
    (api_error(ClientException, 400, "InvalidParameter"), False),
    (api_error(ClientException, 404, "InvalidAccessKeyId.NotFound"), False),
])
def test_retry_verdicts(exc, retryable):
    error = classify(exc)
    assert (error.code, error.retryable, error.request_id) == (exc.code, retryable, "r1")


def test_retry_after_is_read_in_milliseconds():
    assert classify(api_error(ThrottlingException, 429, "Throttling.Api", retry_after=1500)).retry_after_s == 1.5


def test_an_exception_classify_does_not_know_is_not_swallowed():
    with pytest.raises(KeyError):
        classify(KeyError("a bug"))
