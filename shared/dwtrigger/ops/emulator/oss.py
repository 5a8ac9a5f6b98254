"""A local OSS stand-in for the official SDK (alibabacloud_oss_v2): do these objects exist, and what do they hold?
Over real HTTP, with real V4 signatures, on loopback.

Point the SDK at it unmodified::

    cfg = oss.config.load_default()
    cfg.region = "cn-shanghai"                      # the bucket's region: it is part of the signature's scope
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(ak, sk, token)
    cfg.endpoint = f"http://{standin.endpoint}"     # an IP endpoint: the SDK goes path-style by itself
    cfg.use_path_style = True

Seed (a dict, or a YAML/JSON file)::

    keys: [{access_key_id, access_key_secret, security_token}]   # as the DataWorks seed; a token makes an STS key
    buckets:
      - {name: etl-landing, region: cn-shanghai, objects: ["exports/orders/dt=2026-03-11/_SUCCESS"]}  # empty ones
    faults: {}                                                    # initial fault config (below)

Objects can also land and go without a signature through loopback-only admin routes (oss_admin.py).

Objects hold bytes, a content type, an ETag (the MD5 of the bytes: ``"<UPPER HEX>"``, as OSS's for a simple
upload), x-oss-hash-crc64ecma (which the SDK checks uploads against) and Last-Modified (oss_store.py).

Operations (path style: ``/<bucket>/<key>``, the key percent-decoded once, 1-1023 bytes of UTF-8 not starting with
"/" or "\\", else 400 InvalidObjectName):
  HEAD /b/k              HeadObject: 200, Content-Length (the object's size, no body), Content-Type, ETag,
                         Last-Modified, x-oss-hash-crc64ecma, x-oss-request-id; 404 NoSuchKey when absent
  HEAD /b/k?objectMeta   GetObjectMeta (the SDK's is_object_exist): the same
  GET /b/?list-type=2    ListObjectsV2: prefix, delimiter, max-keys (1-1000, default 100), continuation-token,
                         start-after, encoding-type=url; the XML ListBucketResult with each object's Size and ETag
  PUT /b/k               PutObject: stores the body (Content-Length or chunked) and Content-Type (default
                         application/octet-stream); 200, no body, ETag, x-oss-hash-crc64ecma, Content-MD5.
                         ``x-oss-forbid-overwrite: true`` with the key present: 409 FileAlreadyExists "The object you
                         specified already exists and can not be overwritten.", and nothing changes; the check and
                         the store are one step under the lock, so of concurrent creates exactly one wins. A value
                         other than true/false (any case): 400 InvalidArgument (EC 0017-00000279). A Content-MD5
                         that is not the body's: 400 InvalidDigest.
  GET /b/k               GetObject: 200, the bytes, Content-Type, Content-Length, ETag, Last-Modified,
                         x-oss-hash-crc64ecma; 404 NoSuchKey with the XML body. Range is not served: the header is
                         ignored and the whole object sent with 200.
  DELETE /b/k            DeleteObject: 204, the key absent or not (as OSS)
  anything else          400 InvalidArgument (GET, HEAD) or 405 MethodNotAllowed, before authentication: other
                         methods, and PUT, GET, DELETE of an object with any query string (?acl, ?tagging, ?append,
                         response-* overrides...)

Errors are OSS's XML ``Error`` (Code, Message, RequestId, HostId, EC where known) with ``x-oss-request-id`` and
``Content-Type: application/xml``; for HEAD, which has no body, in ``x-oss-err`` (base64) and ``x-oss-ec``, which
the SDK reads: ``is_object_exist`` returns False on NoSuchKey, ``head_object`` raises OperationError whose
``unwrap()`` is a ServiceError with ``.code`` and ``.status_code``:
  404 NoSuchKey (EC 0026-00000001), 404 NoSuchBucket (EC 0015-00000101), 403 AccessDenied (anonymous, or x-oss-date
  missing), 403 SignatureDoesNotMatch, 403 InvalidAccessKeyId, 403 InvalidSecurityToken (an STS key's token
  missing or wrong), 403 RequestTimeTooSkewed (x-oss-date over 15 minutes from real time), 400 InvalidArgument (a
  malformed Authorization, a scope on another date, product or region — the region's EC 0002-00000226 —,
  x-oss-content-sha256 other than UNSIGNED-PAYLOAD, bad max-keys, encoding-type or continuation token),
  400 InvalidBucketName, 400 InvalidObjectName, 409 FileAlreadyExists (no EC: OSS documents two for it,
  0026-00000002 and 0026-00000201, and which one PutObject sends is not pinned).
What the signature check covers, and what it does not: oss_signature.py. A body is never signed (UNSIGNED-PAYLOAD);
its Content-Type and Content-MD5 headers, and x-oss-forbid-overwrite, are.

Faults (set_faults, the seed's ``faults``): the DataWorks emulator's keys (faults.py) that make sense for OSS,
decided after authentication, per request, scripted or by rate:
  throttle   503 TotalQpsLimitExceeded "Max total qps limit is exceeded." (EC 0004-00000302): OSS's answer past
             its QPS limit; a 5xx, which the SDK's retryer retries. ``qps`` throttles beyond that many per second.
  error      500 InternalError, retried by the SDK
  forbidden  403 AccessDenied (bucket ACL), not retried
  drop       the connection closes without an answer (the SDK raises RequestError, and retries it)
  latency    the answer waits ``latency_ms`` (also the default for unfaulted requests when set)
  redirect   ``redirect_status`` (default 302) with ``Location: http://localhost:PORT/_decoy/<path>`` and an XML
             error Emulator.Injected.Redirect. The decoy answers any method 200 with no body — the lie that an
             absent object exists (empty), a write landed, or a listing is empty — and records header names only
             (decoy_calls): does a client follow (the SDK does only with ``enabled_redirect``), and carry
             credentials (authorization, x-oss-security-token) to another host?
  drip       the normal answer, written one byte every ``drip_ms``: each read is in time
  ok         no fault (a script entry)
plus ``script``, ``*_rate`` for those, ``actions`` (the six operations above; default all) and ``random_seed``.
A faulted request changes nothing: a faulted PutObject stores nothing, a faulted DeleteObject deletes nothing.
Not for OSS, refused: html_502, success_false, malformed, retry_after_ms and the lies.

``calls`` holds one dict per request (rejected ones too): operation (or "Unknown"), method, bucket, key, params
(the decoded query, without x-oss-signature or x-oss-security-token; for PutObject also ``forbid_overwrite``,
True when x-oss-forbid-overwrite is "true" in any case), status, code (the error code, None for a success),
fault, access_key_id, monotonic (time.monotonic() at arrival). Never signatures, tokens, secrets or bodies.

Resets are airtight (recorder.py): a request from before ``reset()`` or ``stop()`` is never recorded, changes and
answers nothing and is answered by a closed connection; injected waits (latency, drip) end at once. HTTP/1.0, one
request per connection, daemon threads, no logging.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple

from . import faults as fault_config
from . import oss_admin
from .faults import Faults
from .oss_gateway import OPERATIONS, OssGateway
from .oss_store import DEFAULT_REGION, Buckets, BucketSpec, check_bucket_name, check_object_key
from .seed import _fields, _key, read_seed
from .served import Served
from .server import ADMIN, json_reply
from .server import _Handler as _EmulatorHandler
from .signature import Key, Keys

UNSUPPORTED_FAULT_KEYS = frozenset({"retry_after_ms", "malformed_body", "html_502_rate", "success_false_rate",
                                    "malformed_rate", *fault_config.LIES})
UNSUPPORTED_FAULTS = frozenset({"html_502", "success_false", "malformed"})


@dataclass(frozen=True)
class OssSeed:
    keys: Tuple[Key, ...]
    buckets: Dict[str, BucketSpec]
    faults: dict


def load_oss_seed(source) -> OssSeed:
    """An OssSeed from a dict or from the path of a YAML/JSON file; typos fail here, not mid-test."""
    raw = read_seed(source, ("keys", "buckets", "faults"))
    buckets = [_bucket(b) for b in raw.get("buckets") or ()]
    names = [b.name for b in buckets]
    if len(set(names)) != len(names):
        raise ValueError(f"buckets: a name appears twice in {names}")
    faults = dict(raw.get("faults") or {})
    Faults(check_faults(faults))
    return OssSeed(tuple(_key(k) for k in raw.get("keys") or ()), {b.name: b for b in buckets}, faults)


def check_faults(config: dict) -> dict:
    """The config, if every key, script name and action in it makes sense for OSS (Faults checks the rest)."""
    keys = set(config) & UNSUPPORTED_FAULT_KEYS
    names = set(fault_config._names(config, "script")) & UNSUPPORTED_FAULTS
    actions = set(fault_config._names(config, "actions")) - set(OPERATIONS)
    if keys or names or actions:
        raise ValueError(f"not OSS faults: keys {sorted(keys)}, script names {sorted(names)}, actions "
                         f"{sorted(actions)} (operations: {', '.join(OPERATIONS)})")
    return config


def _bucket(raw) -> BucketSpec:
    raw = _fields(raw, "buckets[]", required=("name",), optional=("region", "objects"))
    name = check_bucket_name(str(raw["name"]))
    region = str(raw.get("region") or DEFAULT_REGION)
    objects = raw.get("objects") or ()
    if isinstance(objects, str):
        raise ValueError(f"bucket {name}: objects must be a list of keys, not the string {objects!r}")
    return BucketSpec(name, region, tuple(check_object_key(k) for k in objects))


class _Handler(_EmulatorHandler):
    """The emulator's HTTP glue (one request per connection, drip, silent), routed to the OSS gateway."""
    server_version = "dwtrigger-oss-standin"

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith(ADMIN):
            self._send(self._oss_admin(path[len(ADMIN):], query))
            return
        self._api(path, query)

    def _oss_admin(self, route: str, query: str):
        body = self._body()
        if not self._local():
            return json_reply(403, {"error": "admin routes are loopback only"})
        gateway = self.server.served.gateway
        with gateway.lock:
            return oss_admin.answer(gateway.buckets, self.command, route, query, self.headers, body)

    def _body(self) -> bytes:
        """The body by Content-Length, or chunked as a PutObject of a stream of unknown length comes."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return super()._body()
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():   # trailers
            pass
        return b"".join(chunks)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve


class OssStandIn(Served):
    """The seeded buckets served over HTTP on loopback, plus the knobs tests turn. See the module docstring."""

    handler, what = _Handler, "the OSS stand-in"

    def __init__(self, seed, port: int = 0, host: str = "127.0.0.1",
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        """`clock` stamps Last-Modified: `dwtrigger emulator` passes the DataWorks emulator's."""
        self._seed = load_oss_seed(seed)
        self._faults = Faults(self._seed.faults)
        self._buckets = Buckets(self._seed.buckets, clock)
        super().__init__(OssGateway(self._buckets, Keys(self._seed.keys), self._faults), host, port)

    def put(self, bucket: str, key: str, body: bytes = b"") -> None:
        """An object lands (application/octet-stream), Last-Modified now; an existing one is overwritten."""
        with self.gateway.lock:
            self._buckets.put(bucket, key, body)

    def remove(self, bucket: str, key: str) -> bool:
        """Whether the object was there."""
        with self.gateway.lock:
            return self._buckets.remove(bucket, key)

    def buckets(self) -> List[str]:
        """The seed's bucket names, sorted."""
        return self._buckets.names()

    def objects(self, bucket: str) -> List[str]:
        """The bucket's keys in listing order."""
        with self.gateway.lock:
            return self._buckets.keys(bucket)

    def body(self, bucket: str, key: str) -> Optional[bytes]:
        """The object's bytes, None when absent: for assertions, without a request on the record."""
        with self.gateway.lock:
            stored = self._buckets.find(bucket, key)
            return None if stored is None else stored.body

    def content_type(self, bucket: str, key: str) -> Optional[str]:
        """The Content-Type the object was put with, None when absent: for assertions, as `body`."""
        with self.gateway.lock:
            stored = self._buckets.find(bucket, key)
            return None if stored is None else stored.content_type

    def set_faults(self, **config) -> None:
        """Replace the fault config (module docstring); no arguments clears it."""
        self._faults.configure(check_faults(config))

    def reset(self) -> None:
        """Back to the seed: objects, faults; calls and decoy calls cleared; a new epoch."""
        with self.gateway.lock:
            self.gateway.end_epoch()
            self._buckets.reset()
            self._faults.configure(self._seed.faults)
            self.gateway.clear_calls()
