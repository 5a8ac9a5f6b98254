"""Request authentication as the Alibaba Cloud gateway does it, so signing bugs fail here and not in the cloud.

Two schemes, each recomputed exactly as the pinned SDKs build them:

- ACS3-HMAC-SHA256 (DataWorks calls; ``alibabacloud_tea_openapi.utils.Utils.get_authorization``): canonical
  request = method, path, sorted query (values ``quote(v, safe='~')``), ``name:value`` lines for the
  SignedHeaders, the signed header list, and the hex sha256 of the body, which must also equal
  ``x-acs-content-sha256``.
- RPC v1 HMAC-SHA1 (STS AssumeRole; ``alibabacloud_credentials.utils.parameter_helper``): string to sign
  ``GET&%2F&quote_plus(sorted k=v joined by &)`` with keys and values ``quote_plus``-ed, key = secret + '&'.

Timestamps are checked against the REAL clock (the SDKs stamp real time), 15 minutes either way.
"""

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Optional, Tuple
from urllib.parse import parse_qsl, quote, quote_plus

from .errors import ApiError

MAX_SKEW_SECONDS = 15 * 60
ACS3 = "ACS3-HMAC-SHA256"


@dataclass(frozen=True)
class Key:
    """An accepted credential; STS keys carry a token, assumed-role keys also their role and real expiry."""
    access_key_id: str
    access_key_secret: str
    security_token: Optional[str] = None
    role_arn: Optional[str] = None
    expires: Optional[float] = None


@dataclass(frozen=True)
class Authorization:
    credential: str
    signed_headers: str
    signature: str


def scheme_credential(header: Optional[str], scheme: str) -> Optional[Tuple[str, str]]:
    """(AccessKeyId, Signature) of an Authorization `<scheme> <AccessKeyId>:<Signature>` (MNS's, SLS's), None when it
    is not one."""
    found, _, credential = (header or "").strip().partition(" ")
    access_key_id, colon, sent = credential.partition(":")
    return (access_key_id, sent) if found == scheme and access_key_id and colon and sent else None


class Keys:
    """Thread-safe registry of accepted credentials: the seed's plus those AssumeRole issued."""

    def __init__(self, keys=()):
        self._lock = threading.Lock()
        self._keys: Dict[str, Key] = {k.access_key_id: k for k in keys}

    def add(self, key: Key) -> None:
        with self._lock:
            self._keys[key.access_key_id] = key

    def authenticate(self, access_key_id: str, token: Optional[str]) -> Key:
        """The key for an id, checking an STS key's token and expiry; the signature is the caller's job."""
        with self._lock:
            key = self._keys.get(access_key_id)
        if key is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if key.security_token is not None:
            if not _same(token or "", key.security_token):
                raise ApiError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                               "Specified SecurityToken mismatch with the AccessKey.")
            if key.expires is not None and time.time() > key.expires:
                raise ApiError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
        return key


class Nonces:
    """Signature nonces seen within the timestamp window: a replayed request is refused."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: Dict[str, float] = {}

    def check(self, nonce: Optional[str]) -> None:
        if not nonce:
            raise ApiError(400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
        now = time.time()
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if now - t <= 2 * MAX_SKEW_SECONDS}
            if nonce in self._seen:
                raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._seen[nonce] = now


def parse_authorization(header: Optional[str]) -> Authorization:
    """`ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..` split into its parts."""
    algorithm, _, rest = (header or "").strip().partition(" ")
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    if algorithm != ACS3 or not all(fields.get(k) for k in ("Credential", "SignedHeaders", "Signature")):
        raise ApiError(400, "IncompleteSignature",
                       f"The Authorization header is missing or not {ACS3} Credential=,SignedHeaders=,Signature=.")
    return Authorization(fields["Credential"], fields["SignedHeaders"], fields["Signature"])


def verify_acs3(auth: Authorization, method: str, path: str, query: str, headers, body: bytes,
                keys: Keys, nonces: Nonces) -> Key:
    """Authenticate an ACS3-HMAC-SHA256 request; `headers` is an email.message.Message (case-insensitive)."""
    key = keys.authenticate(auth.credential, headers.get("x-acs-security-token"))
    _check_timestamp(headers.get("x-acs-date"))
    payload = hashlib.sha256(body).hexdigest()
    if not _same(payload, headers.get("x-acs-content-sha256") or ""):
        raise ApiError(400, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the request body.")
    signed = auth.signed_headers.split(";")
    unsigned = [h for h in {k.lower() for k in headers.keys()}
                if (h.startswith("x-acs-") or h in ("host", "content-type")) and h not in signed]
    if unsigned:
        raise ApiError(400, "SignatureDoesNotMatch", f"Headers {sorted(unsigned)} must be signed.")
    canonical_query = "&".join(f"{k}={quote(v, safe='~')}"
                               for k, v in sorted(dict(parse_qsl(query, keep_blank_values=True)).items()))
    canonical_headers = "".join(
        f"{h}:{','.join(sorted(v.strip() for v in headers.get_all(h, [])))}\n" for h in signed)
    canonical = f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{auth.signed_headers}\n{payload}"
    to_sign = f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(key.access_key_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    _check_signature(expected, auth.signature)
    nonces.check(headers.get("x-acs-signature-nonce"))
    return key


def verify_rpc_v1(method: str, params: Dict[str, str], keys: Keys, nonces: Nonces) -> Key:
    """Authenticate an RPC v1 (HMAC-SHA1, query-signed) request; `params` are its decoded query parameters."""
    signature = params.get("Signature")
    if not signature or params.get("SignatureMethod") != "HMAC-SHA1":
        raise ApiError(400, "IncompleteSignature", "The request needs Signature and SignatureMethod=HMAC-SHA1.")
    key = keys.authenticate(params.get("AccessKeyId", ""), params.get("SecurityToken"))
    _check_timestamp(params.get("Timestamp"))
    canonical = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(params.items()) if k != "Signature")
    to_sign = f"{method}&{quote_plus('/')}&{quote_plus(canonical)}"
    digest = hmac.new(f"{key.access_key_secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    _check_signature(base64.b64encode(digest).decode(), signature)
    nonces.check(params.get("SignatureNonce"))
    return key


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that also takes the non-ASCII text a header may carry."""
    return hmac.compare_digest(a.encode(), b.encode())


def _check_signature(expected: str, given: str) -> None:
    if not _same(expected, given):
        raise ApiError(400, "SignatureDoesNotMatch",
                       "Specified signature does not match our calculation.")


def _check_timestamp(stamp: Optional[str]) -> None:
    try:
        sent = datetime.strptime(stamp or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ApiError(400, "InvalidTimeStamp.Format",
                       "Specified time stamp or date value is not well formatted.") from None
    if abs(time.time() - sent.timestamp()) > MAX_SKEW_SECONDS:
        raise ApiError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
