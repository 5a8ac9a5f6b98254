"""MNS request signatures, verified by rebuilding what aliyun-mns-sdk 1.3.0 signs (``MNSClient.get_signature``),
as MNS's "Sign requests" page documents it.

``Authorization: MNS <AccessKeyId>:<Signature>``, Signature = base64(HMAC-SHA1(secret, string to sign)), where the
string to sign is ``VERB\\nContent-MD5\\nContent-Type\\nDate\\n`` + CanonicalizedMNSHeaders + CanonicalizedResource:
- the header values as sent (empty when absent; the SDK's Content-MD5 is base64 of the body's hex MD5, which the
  signature covers as it is: the body itself is not checked against it);
- CanonicalizedMNSHeaders: one ``name:value\\n`` per ``x-mns-*`` header, names lower-case, sorted;
- CanonicalizedResource: the request URI exactly as sent, path and query, not decoded.
An STS key's token travels unsigned in ``security-token``.

Checked in this order, each refused with 403 (MNS answers a failed authentication with 403): the Authorization's
form (AccessDenied), Date present and within 15 minutes of REAL time (TimeExpired, "The http request you provided
is expired."), the key (InvalidAccessKeyId) and an STS key's token (InvalidSecurityToken), the signature
(SignatureDoesNotMatch, "The http request you provided is not authorized."). SignatureDoesNotMatch is MNS's
documented answer; the other codes' spelling is the stand-in's where MNS's pages list none.
"""

import base64
import hashlib
import hmac
from email.utils import parsedate_to_datetime
from typing import Optional

from .errors import ApiError
from .signature import MAX_SKEW_SECONDS, Key, Keys, scheme_credential

SCHEME = "MNS"


class MnsError(ApiError):
    """An MNS error answer: status, Code and Message of MNS's XML ``Error``."""


def verify(method: str, uri: str, headers, keys: Keys, now: float) -> Key:
    """The key that signed this request, or MnsError. `uri` is the request target as sent; `headers` is
    case-insensitive (an email.message.Message); `now` is the real time.time()."""
    access_key_id, sent = _authorization(headers.get("Authorization"))
    _check_date(headers.get("Date"), now)
    found = _authenticate(keys, access_key_id, headers.get("security-token"))
    expected = signature(found.access_key_secret, string_to_sign(method, uri, headers))
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise MnsError(403, "SignatureDoesNotMatch", "The http request you provided is not authorized.")
    return found


def string_to_sign(method: str, uri: str, headers) -> str:
    mns = sorted((name.lower(), value) for name, value in headers.items() if name.lower().startswith("x-mns-"))
    canonical = "".join(f"{name}:{value}\n" for name, value in mns)
    return "\n".join((method, headers.get("Content-MD5") or "", headers.get("Content-Type") or "",
                      headers.get("Date") or "", canonical + uri))


def signature(secret: str, to_sign: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def authorization(access_key_id: str, secret: str, method: str, uri: str, headers) -> str:
    """The header a client sends (for tests that sign by hand what the SDK never sends)."""
    return f"{SCHEME} {access_key_id}:{signature(secret, string_to_sign(method, uri, headers))}"


def _authorization(header: Optional[str]):
    found = scheme_credential(header, SCHEME)
    if found is None:
        raise MnsError(403, "AccessDenied", "Authorization must be 'MNS AccessKeyId:Signature'.")
    return found


def _check_date(value: Optional[str], now: float) -> None:
    try:
        sent = parsedate_to_datetime(value or "").timestamp()
    except (TypeError, ValueError):
        sent = None
    if sent is None or abs(now - sent) > MAX_SKEW_SECONDS:
        raise MnsError(403, "TimeExpired", "The http request you provided is expired.")


def _authenticate(keys: Keys, access_key_id: str, token: Optional[str]) -> Key:
    """The shared key registry, its refusals spelled for MNS."""
    try:
        return keys.authenticate(access_key_id, token)
    except ApiError as e:
        if e.code.startswith("InvalidSecurityToken"):
            raise MnsError(403, "InvalidSecurityToken", "The security token you provided is invalid.") from None
        raise MnsError(403, "InvalidAccessKeyId", "The access Id you provided is not exist.") from None
