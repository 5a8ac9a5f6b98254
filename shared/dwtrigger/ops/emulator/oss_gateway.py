"""The OSS stand-in's request side, apart from HTTP: route, authenticate, inject faults, answer, record.

Path style only: ``/<bucket>/<key>`` with the key percent-decoded exactly once (the SDK sends
``quote(key)``), ``/<bucket>/`` for the bucket. Order of checks: routing (400 InvalidBucketName,
InvalidObjectName; an operation not served is 400/405 with no authentication and no faults), Authorization syntax,
bucket (404 NoSuchBucket: OSS looks the bucket up before it can check a signature), then the signature
(oss_signature.py). Faults apply only after authentication, so a faulted request
changed nothing; a request's fault is decided once, when it arrives. The request's own checks (max-keys,
x-oss-forbid-overwrite, Content-MD5) come with its answer, after faults.

Resets are airtight: a request of an ended epoch changes and answers nothing and is recorded nowhere
(recorder.py): a write checks its epoch, acts and is recorded in one step under the lock.
"""

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Dict, Optional, Tuple
from urllib.parse import unquote, unquote_plus

from .faults import Faults
from .exchange import Reply, Request
from .gateway import DECOY, REDIRECT_CODE
from .oss_errors import XML, OssError, error_reply
from .oss_signature import parse_authorization, verify_v4
from .oss_store import OCTET_STREAM, Buckets, StoredObject, check_bucket_name, check_object_key
from .recorder import Recorder
from .signature import Keys

OPERATIONS = ("HeadObject", "GetObjectMeta", "ListObjectsV2", "PutObject", "GetObject", "DeleteObject")
# A PUT, GET or DELETE of an object with no query string: with one it is a subresource (?acl, ?tagging, ?append,
# response-* overrides...), which the stand-in does not serve.
OBJECT_METHODS = {"PUT": "PutObject", "GET": "GetObject", "DELETE": "DeleteObject"}
SECRET_PARAMS = frozenset({"x-oss-signature", "x-oss-security-token"})
CREDENTIAL_HEADERS = frozenset({"authorization", "x-oss-security-token"})
# Throttling is 503 TotalQpsLimitExceeded (OSS's answer past the QPS limit, EC 0004-00000302); 5xx is what the
# SDK's retryer retries, 403 it does not.
FAULT_ERRORS = {
    "throttle": (503, "TotalQpsLimitExceeded", "Max total qps limit is exceeded."),
    "error": (500, "InternalError", "We encountered an internal error. Please try again."),
    "forbidden": (403, "AccessDenied", "You have no right to access this object because of bucket acl."),
}


@dataclass(frozen=True)
class Target:
    """What a request asks for: operation ("Unknown" if not served), bucket, decoded key and query pairs."""
    operation: str
    bucket: Optional[str]
    key: Optional[str]
    pairs: Tuple[Tuple[str, str], ...]

    @property
    def params(self) -> Dict[str, str]:
        return dict(self.pairs)


def route(method: str, path: str, query: str) -> Target:
    """The request's target; a bucket name, key or query that cannot be decoded is an OssError."""
    bucket, _, rest = path[1:].partition("/")
    if bucket:
        try:
            check_bucket_name(bucket)
        except ValueError:
            raise OssError(400, "InvalidBucketName", "The specified bucket is not valid.") from None
    try:
        key = unquote(rest, errors="strict") or None
        if key is not None:
            check_object_key(key)
    except (UnicodeDecodeError, ValueError):
        raise OssError(400, "InvalidObjectName", "The specified object is not valid.") from None
    pairs = _pairs(query)
    names = {name for name, _ in pairs}
    if method == "HEAD" and bucket and key:
        operation = "GetObjectMeta" if "objectMeta" in names else "HeadObject"
    elif method in OBJECT_METHODS and bucket and key and not pairs:
        operation = OBJECT_METHODS[method]
    elif method == "GET" and bucket and key is None and ("list-type", "2") in pairs:
        operation = "ListObjectsV2"
    else:
        operation = "Unknown"
    return Target(operation, bucket or None, key, pairs)


def _pairs(query: str) -> Tuple[Tuple[str, str], ...]:
    try:
        return tuple((unquote_plus(k, errors="strict"), unquote_plus(v, errors="strict"))
                     for k, _, v in (pair.partition("=") for pair in query.split("&") if pair))
    except UnicodeDecodeError:
        raise OssError(400, "InvalidArgument", "The query string is not UTF-8.") from None


def _unserved(method: str) -> OssError:
    if method in ("GET", "HEAD"):
        return OssError(400, "InvalidArgument", f"The stand-in serves {', '.join(OPERATIONS)} only (ListObjectsV2 "
                                                f"with list-type=2; PutObject, GetObject, DeleteObject without a "
                                                f"query string).")
    return OssError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")


def _forbid_overwrite(headers) -> str:
    return (headers.get("x-oss-forbid-overwrite") or "false").lower()


def _forbids_overwrite(headers) -> bool:
    """x-oss-forbid-overwrite: true or false (any case), absent is false; another value is OSS's 400."""
    value = _forbid_overwrite(headers)
    if value not in ("true", "false"):
        raise OssError(400, "InvalidArgument", "x-oss-forbid-overwrite must be true or false.", "0017-00000279")
    return value == "true"


def _content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def _check_content_md5(headers, body: bytes) -> None:
    """A Content-MD5 sent must be the body's: the signature covers the header, not the (unsigned) body."""
    sent = headers.get("Content-MD5")
    if sent is not None and sent.strip() != _content_md5(body):
        raise OssError(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")


def _object_headers(stored: StoredObject, request_id: str) -> Dict[str, str]:
    return {"x-oss-request-id": request_id, "ETag": stored.etag,
            "Last-Modified": format_datetime(stored.modified, usegmt=True), "x-oss-object-type": "Normal",
            "x-oss-storage-class": "Standard", "x-oss-hash-crc64ecma": stored.crc64}


class OssGateway(Recorder):
    def __init__(self, buckets: Buckets, keys: Keys, faults: Faults):
        super().__init__(CREDENTIAL_HEADERS)
        self.buckets, self.keys, self.faults = buckets, keys, faults

    def handle(self, req: Request) -> Optional[Reply]:
        """The reply to one OSS request, or None to close the connection without answering."""
        request_id = uuid.uuid4().hex[:24].upper()
        host = req.headers.get("Host") or ""
        call = {"operation": "Unknown", "method": req.method, "bucket": None, "key": None, "params": {},
                "status": None, "code": None, "fault": None, "access_key_id": None, "monotonic": req.arrived}
        try:
            target = route(req.method, req.path, req.query)
            call.update(operation=target.operation, bucket=target.bucket, key=target.key,
                        params={k: v for k, v in target.params.items() if k not in SECRET_PARAMS})
            if target.operation == "PutObject":
                call["params"]["forbid_overwrite"] = _forbid_overwrite(req.headers) == "true"
            if target.operation == "Unknown":
                raise _unserved(req.method)
            auth = parse_authorization(req.headers.get("Authorization"))
            call["access_key_id"] = auth.access_key_id
            region = self.buckets.region(target.bucket)   # the seed's buckets: fixed, no lock needed
            verify_v4(auth, req.method, target.bucket, target.key, target.pairs, req.headers, self.keys, region,
                      time.time())
        except OssError as e:
            return self._record(req, call, error_reply(e, request_id, host, req.method == "HEAD"))
        with self.lock:
            if req.epoch.is_set():
                return None
            call["fault"] = self.faults.decide(target.operation)
        if call["fault"] == "latency" and req.epoch.wait(self.faults.latency_ms / 1000):
            return None
        if call["fault"] in (None, "latency", "drip"):
            return self._answer(req, call, target, request_id, host)
        return self._record(req, call, self._fault(call["fault"], req, request_id, host))

    def _lie(self) -> Reply:
        """200 with no body: an absent object exists (and is empty), a write landed, or the listing is empty."""
        return Reply(200, b"", content_type=XML, headers={"x-oss-request-id": "decoy"})

    def _answer(self, req: Request, call: dict, target: Target, request_id: str, host: str) -> Optional[Reply]:
        """Check the epoch, act on the buckets and record it in one step under the lock, so a reset comes wholly
        before or after."""
        with self.lock:
            if req.epoch.is_set():
                return None
            try:
                reply = self._served(req, target, request_id)
            except OssError as e:
                reply = error_reply(e, request_id, host, req.method == "HEAD")
            if call["fault"] == "drip":
                reply.drip_ms = self.faults.drip_ms
            return self._record(req, call, reply)

    def _served(self, req: Request, target: Target, request_id: str) -> Reply:
        operation, bucket, key = target.operation, target.bucket, target.key
        if operation == "ListObjectsV2":
            return Reply(200, self.buckets.list_v2(bucket, target.params), content_type=XML,
                         headers={"x-oss-request-id": request_id})
        if operation == "PutObject":
            return self._put(req, bucket, key, request_id)
        if operation == "DeleteObject":
            self.buckets.remove(bucket, key)
            return Reply(204, b"", content_type=XML, headers={"x-oss-request-id": request_id})
        stored = self.buckets.get(bucket, key)
        headers = _object_headers(stored, request_id)
        if operation == "GetObject":
            return Reply(200, stored.body, content_type=stored.content_type, headers=headers)
        # HEAD: the object's length, no body
        return Reply(200, b"", content_type=stored.content_type,
                     headers={**headers, "Content-Length": str(len(stored.body))})

    def _put(self, req: Request, bucket: str, key: str, request_id: str) -> Reply:
        forbid = _forbids_overwrite(req.headers)
        _check_content_md5(req.headers, req.body)
        stored = self.buckets.put(bucket, key, req.body, req.headers.get("Content-Type") or OCTET_STREAM, forbid)
        return Reply(200, b"", content_type=XML,
                     headers={"x-oss-request-id": request_id, "ETag": stored.etag,
                              "x-oss-hash-crc64ecma": stored.crc64, "Content-MD5": _content_md5(req.body)})

    def _fault(self, fault: str, req: Request, request_id: str, host: str) -> Optional[Reply]:
        if fault == "drop":
            return None
        head = req.method == "HEAD"
        if fault != "redirect":
            return error_reply(OssError(*FAULT_ERRORS[fault]), request_id, host, head)
        location = f"http://localhost:{req.port}{DECOY}{req.path[1:]}" + (f"?{req.query}" if req.query else "")
        reply = error_reply(OssError(self.faults.redirect_status, REDIRECT_CODE, f"Moved to {location}"),
                            request_id, host, head)
        reply.headers["Location"] = location
        return reply
