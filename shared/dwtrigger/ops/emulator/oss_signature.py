"""OSS V4 header signatures, verified by rebuilding what alibabacloud_oss_v2 1.4.1's ``signer/v4.py`` signs.

``Authorization: OSS4-HMAC-SHA256 Credential=<ak>/<yyyymmdd>/<region>/oss/aliyun_v4_request[,AdditionalHeaders=
<a;b>],Signature=<hex>``, with ``x-oss-date`` (yyyymmddThhmmssZ), ``x-oss-content-sha256: UNSIGNED-PAYLOAD`` and,
for an STS key, ``x-oss-security-token``.

- Canonical request: method; ``quote('/' + bucket + '/' + key, safe='/')`` from the DECODED bucket and key (what
  the SDK signs, whatever the path's spelling: ``/b`` and ``/b/`` are one resource); the query's pairs decoded
  (``+`` read as a space, as the Go SDK sends it) and re-encoded ``quote(.., safe='')``, sorted as (name, value),
  a bare name when the value is empty; ``name:value`` lines, sorted by name, for every received ``x-oss-*``
  header, content-type, content-md5 and each AdditionalHeaders name (values trimmed, repeats joined by ","); the
  AdditionalHeaders list as given; the x-oss-content-sha256 value.
- String to sign: ``OSS4-HMAC-SHA256``, x-oss-date, the Credential's scope, hex sha256 of the canonical request.
- Signing key: HMAC-SHA256 chain from ``"aliyun_v4" + secret`` over the scope's date, region, ``oss`` and
  ``aliyun_v4_request``.

Checked in this order, each with OSS's answer: the Authorization's form (400 InvalidArgument); x-oss-date present
(403 AccessDenied), within 15 minutes of REAL time (403 RequestTimeTooSkewed) and on the scope's date (400
InvalidArgument); the scope's product and terminator (400 InvalidArgument) and region against the bucket's (400
InvalidArgument, EC 0002-00000226); the key (403 InvalidAccessKeyId) and an STS key's token (403
InvalidSecurityToken); x-oss-content-sha256 is UNSIGNED-PAYLOAD, the only value OSS takes (400 InvalidArgument, EC
0002-00000214); the signature (403 SignatureDoesNotMatch). Since every x-oss-* header is signed, a token or date
altered in transit fails here too.

Not verified: query-string (presigned URL) and V1 signatures, which the stand-in refuses; whether OSS trims header
values exactly so (the SDK sends none with blanks to trim); a token sent with a non-STS key is ignored, as the
shared Keys registry does (OSS's answer to that is unknown). The SDK client (1.4.1) never sends AdditionalHeaders
(``Config.additional_headers`` does not reach its signer); the check follows signer/v4.py for them all the same.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional, Sequence, Tuple
from urllib.parse import quote

from .errors import ApiError
from .oss_errors import OssError
from .signature import MAX_SKEW_SECONDS, Key, Keys

ALGORITHM = "OSS4-HMAC-SHA256"
PRODUCT = "oss"
TERMINATOR = "aliyun_v4_request"
UNSIGNED = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_SIGNED = ("content-type", "content-md5")


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    date: str
    region: str
    product: str
    terminator: str
    additional_headers: Tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.product}/{self.terminator}"


def parse_authorization(header: Optional[str]) -> Authorization:
    """The Authorization header's parts; a request without one is anonymous, which no seeded bucket allows."""
    if not header:
        raise OssError(403, "AccessDenied", "You have no right to access this resource: the request is anonymous "
                                            "and the stand-in's buckets are private.")
    algorithm, _, rest = header.strip().partition(" ")
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    scope = fields.get("Credential", "").rsplit("/", 4)
    if algorithm != ALGORITHM or len(scope) != 5 or not all(scope) or not fields.get("Signature"):
        raise OssError(400, "InvalidArgument",
                       f"Authorization must be {ALGORITHM} Credential=<ak>/<date>/<region>/oss/{TERMINATOR}"
                       f"[,AdditionalHeaders=..],Signature=..: the stand-in verifies V4 header signatures only.")
    extra = fields.get("AdditionalHeaders")
    return Authorization(*scope, tuple(extra.lower().split(";")) if extra else (), fields["Signature"])


def verify_v4(auth: Authorization, method: str, bucket: str, key: Optional[str],
              pairs: Sequence[Tuple[str, str]], headers, keys: Keys, region: str, now: float) -> Key:
    """The key that signed this request, or OssError. `pairs` are the decoded query pairs in order; `headers`
    is case-insensitive (an email.message.Message); `now` is the real time.time()."""
    stamp = _checked_date(headers.get("x-oss-date"), auth.date, now)
    _check_scope(auth, region)
    found = _authenticate(keys, auth.access_key_id, headers.get("x-oss-security-token"))
    if headers.get("x-oss-content-sha256") != UNSIGNED:
        raise OssError(400, "InvalidArgument", f"x-oss-content-sha256 must be {UNSIGNED}.", "0002-00000214")
    canonical = canonical_request(method, bucket, key, pairs, headers, auth.additional_headers)
    to_sign = "\n".join((ALGORITHM, stamp, auth.scope, hashlib.sha256(canonical.encode()).hexdigest()))
    if not hmac.compare_digest(signature(found.access_key_secret, auth, to_sign).encode(), auth.signature.encode()):
        raise OssError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                     "signature you provided. Check your key and signing method.")
    return found


def canonical_request(method: str, bucket: str, key: Optional[str], pairs: Sequence[Tuple[str, str]], headers,
                      additional: Sequence[str]) -> str:
    uri = quote(f"/{bucket}/{key or ''}", safe="/")
    query = "&".join(f"{k}={v}" if v else k
                     for k, v in sorted((quote(k, safe=""), quote(v, safe="")) for k, v in pairs))
    return "\n".join((method, uri, query, _canonical_headers(headers, additional), ";".join(additional),
                      headers.get("x-oss-content-sha256")))


def signature(secret: str, auth: Authorization, to_sign: str) -> str:
    key = ("aliyun_v4" + secret).encode()
    for part in (auth.date, auth.region, auth.product, auth.terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _canonical_headers(headers, additional: Iterable[str]) -> str:
    signed = set(additional)
    values = {}
    for name, value in headers.items():
        name = name.lower()
        if name.startswith("x-oss-") or name in DEFAULT_SIGNED or name in signed:
            values.setdefault(name, []).append(value.strip())
    return "".join(f"{name}:{','.join(values[name])}\n" for name in sorted(values))


def _checked_date(stamp: Optional[str], scope_date: str, now: float) -> str:
    try:
        sent = datetime.strptime(stamp or "", DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise OssError(403, "AccessDenied", "OSS authentication requires a valid x-oss-date.") from None
    if abs(now - sent.timestamp()) > MAX_SKEW_SECONDS:
        raise OssError(403, "RequestTimeTooSkewed",
                       "The difference between the request time and the current time is too large.")
    if stamp[:8] != scope_date:
        raise OssError(400, "InvalidArgument", "Invalid signing date in Authorization header.")
    return stamp


def _check_scope(auth: Authorization, region: str) -> None:
    if (auth.product, auth.terminator) != (PRODUCT, TERMINATOR):
        raise OssError(400, "InvalidArgument", "Invalid signing product in Authorization header.")
    if auth.region != region:
        raise OssError(400, "InvalidArgument", "Invalid signing region in Authorization header.", "0002-00000226")


def _authenticate(keys: Keys, access_key_id: str, token: Optional[str]) -> Key:
    """The shared key registry, its refusals spelled as OSS spells them."""
    try:
        return keys.authenticate(access_key_id, token)
    except ApiError as e:
        if e.code.startswith("InvalidSecurityToken"):
            raise OssError(403, "InvalidSecurityToken", "The security token you provided is invalid.") from None
        raise OssError(403, "InvalidAccessKeyId",
                       "The OSS Access Key Id you provided does not exist in our records.") from None
