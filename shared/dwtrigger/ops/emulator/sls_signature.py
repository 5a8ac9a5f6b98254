"""SLS request signatures (v1), verified by rebuilding what alibabacloud-gateway-sls 0.4.2 signs
(``Client.get_signature``), as SLS's "Request signatures" page documents it.

``Authorization: LOG <AccessKeyId>:<Signature>``, Signature = base64(HMAC-SHA256(secret, string to sign)) (the SDK
says so in ``x-log-signaturemethod: hmac-sha256``), where the string to sign is
``VERB\\nContent-MD5\\nContent-Type\\nDate\\n`` + CanonicalizedLOGHeaders + CanonicalizedResource:
- Content-MD5 the upper-case hex MD5 of the body (empty without one), which must match the body sent;
- CanonicalizedLOGHeaders: one ``name:value\\n`` per ``x-log-*`` and ``x-acs-*`` header, names lower-case, sorted;
- CanonicalizedResource: the path, then ``?`` and the query parameters sorted by name as ``name=value`` (decoded)
  joined by ``&``.
An STS key's token travels (and is signed) in ``x-acs-security-token``.

Checked in this order, with SLS's common error codes: the Authorization's form (400 ParameterInvalid), Date present
and RFC 822 (400 InvalidRequestTime) and within 15 minutes of REAL time (400 RequestTimeExpired), the key (401
Unauthorized) and an STS key's token (401 Unauthorized), Content-MD5 against the body (400 InvalidContentMd5: the
stand-in's spelling), the signature (401 SignatureNotMatch).
"""

import base64
import hashlib
import hmac
from email.utils import parsedate_to_datetime
from typing import Dict, Optional

from .errors import ApiError
from .signature import MAX_SKEW_SECONDS, Key, Keys, scheme_credential

SCHEME = "LOG"
SIGNED_PREFIXES = ("x-log-", "x-acs-")


class SlsError(ApiError):
    """An SLS error answer: status, errorCode and errorMessage of SLS's JSON error body."""


def verify(method: str, path: str, params: Dict[str, str], headers, body: bytes, keys: Keys, now: float) -> Key:
    """The key that signed this request, or SlsError. `params` is the decoded query; `headers` case-insensitive
    (an email.message.Message); `now` the real time.time()."""
    access_key_id, sent = _authorization(headers.get("Authorization"))
    _check_date(headers.get("Date"), now)
    found = _authenticate(keys, access_key_id, headers.get("x-acs-security-token"))
    md5 = headers.get("Content-MD5") or ""
    if body and md5 != hashlib.md5(body).hexdigest().upper():
        raise SlsError(400, "InvalidContentMd5", "Content-MD5 does not match the request body.")
    expected = signature(found.access_key_secret, string_to_sign(method, path, params, headers))
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise SlsError(401, "SignatureNotMatch", "Signature not matched.")
    return found


def string_to_sign(method: str, path: str, params: Dict[str, str], headers) -> str:
    signed = sorted((name.lower(), value) for name, value in headers.items()
                    if name.lower().startswith(SIGNED_PREFIXES))
    canonical = "".join(f"{name}:{value}\n" for name, value in signed)
    resource = path + ("?" + "&".join(f"{k}={params[k]}" for k in sorted(params)) if params else "")
    return "\n".join((method, headers.get("Content-MD5") or "", headers.get("Content-Type") or "",
                      headers.get("Date") or "", canonical + resource))


def signature(secret: str, to_sign: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()).decode()


def _authorization(header: Optional[str]):
    found = scheme_credential(header, SCHEME)
    if found is None:
        raise SlsError(400, "ParameterInvalid", "Http extend authorization : authorization pair is invalid.")
    return found


def _check_date(value: Optional[str], now: float) -> None:
    try:
        sent = parsedate_to_datetime(value or "").timestamp()
    except (TypeError, ValueError):
        raise SlsError(400, "InvalidRequestTime", "Request time not follow RFC822 spec.") from None
    if abs(now - sent) > MAX_SKEW_SECONDS:
        raise SlsError(400, "RequestTimeExpired", "Request time has been expired while server time is "
                                                  "more than 15 minutes away.")


def _authenticate(keys: Keys, access_key_id: str, token: Optional[str]) -> Key:
    """The shared key registry, its refusals spelled for SLS."""
    try:
        return keys.authenticate(access_key_id, token)
    except ApiError as e:
        if e.code.startswith("InvalidSecurityToken"):
            raise SlsError(401, "Unauthorized", "The security token you provided is invalid.") from None
        raise SlsError(401, "Unauthorized", "The AccessKeyId is unauthorized.") from None
