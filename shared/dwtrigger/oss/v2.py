"""The OSS adapter on the official SDK (alibabacloud-oss-v2): GetObjectMeta for a literal key; for a key with
wildcards, ListObjectsV2 a directory level at a time (delimiter '/') where its wildcards stay within a segment, or
under its prefix with no delimiter where one crosses '/' (`**`, `**/`).

Credentials are the role's keys, passed explicitly (`StaticCredentialsProvider`): the SDK's environment provider
reads OSS_* variables, not the ALIBABA_CLOUD_* ones FC sets. The SDK's own retries are off (the relay retries within
the deadline) and it sends through wire.GuardedAdapter, so every call is bounded by its budget and never redirected.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import islice
from typing import Callable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import alibabacloud_oss_v2 as oss

from .. import wire
from ..redact import clean, error_code
from ..templates import Template
from . import ObjectStore, OssError, Wanted

CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5, 10       # per connect / per read; the budget bounds the whole call
MAX_KEYS, MAX_PAGES = 1000, 1000                # ListObjectsV2's page limit; the pages a prefix may take
MAX_FIND_CALLS = 1000                           # requests one walk of `find` may make: its fan-out bound
CONCURRENCY = 4                                 # checks at once: each is a request on every matching event
PERMANENT_404 = {"NoSuchBucket"}


class Adapter(ObjectStore):
    def __init__(self, region: str, endpoint: Optional[str], protocol: str, internal: bool, keys) -> None:
        wire.install()
        cfg = oss.config.load_default()
        cfg.region = region
        cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
            keys.access_key_id, keys.access_key_secret, keys.security_token)
        if endpoint:                            # a stand-in (DWTRIGGER_OSS_ENDPOINT): path-style, scheme as asked
            cfg.endpoint, cfg.use_path_style = f"{protocol}://{endpoint}", True
        else:
            cfg.use_internal_endpoint = internal
        cfg.retryer = oss.retry.NopRetryer()
        cfg.http_client = oss.transport.RequestsHttpClient(
            adapter=wire.GuardedAdapter(pool_maxsize=CONCURRENCY), connect_timeout=CONNECT_TIMEOUT_S,
            readwrite_timeout=READ_TIMEOUT_S)
        self._client = oss.Client(cfg)

    def missing(self, wanted: Sequence[Wanted], deadline) -> List[Wanted]:
        if not wanted:
            return []
        if len(wanted) == 1:
            return [] if self._there(wanted[0], deadline) else list(wanted)
        with ThreadPoolExecutor(min(CONCURRENCY, len(wanted)), thread_name_prefix="dwtrigger-oss") as pool:
            futures = [pool.submit(self._there, w, deadline) for w in wanted]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise next((e for e in errors if isinstance(e, OssError) and not e.retryable), errors[0])
        return [w for w, f in zip(wanted, futures) if not f.result()]

    def find(self, bucket: str, key: Template, deadline, limit: int) -> List[str]:
        """Literal: GetObjectMeta. Within segments: `_walk`. Crossing '/' (`**`, `**/`, a date format with '/'):
        every key under `key.prefix`, no delimiter, page by page until `limit` match (at most MAX_PAGES pages)."""
        if limit < 1:
            raise ValueError(f"find: limit must be at least 1, not {limit!r}")
        if key.is_literal:
            return [key.prefix] if self._exists(bucket, key.prefix, deadline) else []
        if key.crosses:
            found = (k for keys, _ in self._pages(bucket, key.prefix, deadline) for k in keys
                     if key.match(k) is not None)
        else:
            found = self._walk(bucket, key, deadline)
        return list(islice(found, limit))

    def keys(self, bucket: str, prefix: str, deadline) -> List[str]:
        return [key for keys, _ in self._pages(bucket, prefix, deadline) for key in keys]

    def read(self, bucket: str, key: str, deadline) -> Optional[bytes]:
        try:
            return self._call(lambda request: self._client.get_object(request).body.content,
                              oss.GetObjectRequest(bucket=bucket, key=key), deadline)
        except OssError as e:
            if e.status == 404 and e.code not in PERMANENT_404:
                return None
            raise

    def create(self, bucket: str, key: str, body: bytes, deadline) -> bool:
        try:
            self._put(bucket, key, body, deadline, forbid_overwrite=True)
        except OssError as e:
            if e.status == 409 and e.code == "FileAlreadyExists":
                return False
            raise
        return True

    def write(self, bucket: str, key: str, body: bytes, deadline, content_type: str = "application/json") -> None:
        self._put(bucket, key, body, deadline, forbid_overwrite=False, content_type=content_type)

    def modified(self, bucket: str, key: str, deadline) -> Optional[datetime]:
        """GetObjectMeta's Last-Modified."""
        meta = self._meta(bucket, key, deadline)
        return None if meta is None else meta.last_modified

    def _put(self, bucket: str, key: str, body: bytes, deadline, forbid_overwrite: bool,
             content_type: str = "application/json") -> None:
        self._call(self._client.put_object, oss.PutObjectRequest(
            bucket=bucket, key=key, body=body, content_type=content_type,
            forbid_overwrite=forbid_overwrite), deadline)

    def _there(self, w: Wanted, deadline) -> bool:
        return bool(self.find(w.bucket, w.key, deadline, 1))

    def _exists(self, bucket: str, key: str, deadline) -> bool:
        return self._meta(bucket, key, deadline) is not None

    def _meta(self, bucket: str, key: str, deadline):
        """GetObjectMeta's answer, or None when there is no such object."""
        try:
            return self._call(self._client.get_object_meta, oss.GetObjectMetaRequest(bucket=bucket, key=key),
                              deadline)
        except OssError as e:
            if e.status == 404 and e.code not in PERMANENT_404:       # NoSuchKey, or a HEAD 404 with no body
                return None
            raise

    def _walk(self, bucket: str, key: Template, deadline) -> Iterator[str]:
        """The keys `key` (whose wildcards stay within a segment) matches, in lexical order, found depth-first a
        segment at a time: literal segments are appended with no call; a segment with a wildcard is listed under
        the directory so far plus its literal start, with delimiter '/' — the last segment's listed keys are
        matched, another's listed directories (CommonPrefixes) that it matches are descended into, in listing
        order. A literal rest after the last wildcard segment is looked at directly (GetObjectMeta). Lazy: the
        caller's `islice` stops the calls. Every request counts toward MAX_FIND_CALLS (OssError FanOutExceeded,
        not retryable: the same bucket takes as many again on a retry, so retrying only burns the deadline)."""
        segments, made = key.segments(), [0]

        def spend() -> None:
            made[0] += 1
            if made[0] > MAX_FIND_CALLS:
                raise OssError("FanOutExceeded", f"finding oss://{bucket}/{key.source} takes more than "
                               f"{MAX_FIND_CALLS} requests (the directories its wildcards match, and their listings' "
                               "pages): give it a longer literal start or fewer wildcard segments", retryable=False)

        stack = [self._level(bucket, key, segments, 0, "", deadline, spend)]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
            elif isinstance(step, str):
                yield step
            else:                                   # a directory to descend into before the rest of this level
                stack.append(self._level(bucket, key, segments, *step, deadline, spend))

    def _level(self, bucket: str, key: Template, segments: Tuple[Template, ...], i: int, directory: str, deadline,
               spend: Callable[[], None]) -> Iterator[Union[str, Tuple[int, str]]]:
        """From segment `i` in `directory` (empty, or ending in '/'): matching keys (str) and, where segment `i` is
        not the last with a wildcard, the directories to descend into ((segment index, directory))."""
        last = len(segments) - 1
        while segments[i].is_literal:
            if i == last:
                spend()
                if self._exists(bucket, directory + segments[i].prefix, deadline):
                    yield directory + segments[i].prefix
                return
            directory += segments[i].prefix + "/"
            i += 1
        segment, prefix = segments[i], directory + segments[i].prefix
        for keys, directories in self._pages(bucket, prefix, deadline, "/", spend):
            if i == last:
                yield from (k for k in keys if key.match(k) is not None)
                continue
            for sub in directories:
                name = sub[len(directory):-1]
                if not sub.startswith(prefix) or not sub.endswith("/") or "/" in name:
                    raise OssError("BadResponse", "ListObjectsV2 answered a common prefix that is not one directory "
                                   "under the prefix asked", retryable=True)
                if segment.match(name) is not None:
                    yield i + 1, sub

    def _pages(self, bucket: str, prefix: str, deadline, delimiter: Optional[str] = None,
               spend: Optional[Callable[[], None]] = None) -> Iterator[Tuple[List[str], List[str]]]:
        """(keys, common prefixes) under `prefix`, a page at a time, until the listing ends or stops advancing;
        `spend` is called before each request (a walk's bound)."""
        token: Optional[str] = None
        seen: Set[str] = set()
        for _ in range(MAX_PAGES):
            if spend is not None:
                spend()
            page = self._call(self._client.list_objects_v2, oss.ListObjectsV2Request(
                bucket=bucket, prefix=prefix, delimiter=delimiter, max_keys=MAX_KEYS, continuation_token=token,
                encoding_type="url"), deadline)
            yield ([item.key or "" for item in page.contents or ()],
                   [item.prefix or "" for item in page.common_prefixes or ()])
            token = page.next_continuation_token
            if not page.is_truncated or not token:
                return
            if token in seen:
                raise OssError("BadResponse", "ListObjectsV2 repeated a continuation token: its paging does not "
                               "advance", retryable=True)
            seen.add(token)
        raise OssError("BadResponse", f"ListObjectsV2 did not end within {MAX_PAGES} pages", retryable=True)

    @staticmethod
    def _call(method, request, deadline):
        left = deadline.left()
        if left <= 0:
            raise OssError("DeadlineExceeded", "no time was left for the call", retryable=True)
        with wire.budget(left) as spent:
            try:
                return method(request)
            except Exception as exc:  # noqa: BLE001 - classified below; what is not the SDK's passes through
                raise _classify(exc, spent) from None


def _classify(exc: Exception, spent) -> Exception:
    seen = wire.stopped(spent)
    if seen is not None:
        return OssError(seen[0], seen[1], retryable=seen[2])
    inner = exc.unwrap() if isinstance(exc, oss.exceptions.OperationError) else exc
    if isinstance(inner, oss.exceptions.ServiceError):
        code = error_code(inner.code) or f"HTTP{inner.status_code}"
        status = inner.status_code if isinstance(inner.status_code, int) else None
        return OssError(code, clean(str(inner.message or f"OSS answered HTTP {status}"), 300),
                        retryable=status is None or status == 429 or status >= 500 or "Throttl" in code,
                        request_id=clean(str(inner.request_id or ""), 64) or None, status=status)
    if isinstance(inner, (oss.exceptions.RequestError, oss.exceptions.ResponseError)):
        text = clean(str(inner))
        return OssError("Timeout" if "timed out" in text.lower() else "ConnectionError", text or "the connection "
                        "failed", retryable=True)
    if isinstance(inner, oss.exceptions.CredentialsBaseError):
        return OssError("CredentialError", "the role's keys were refused by the SDK", retryable=False)
    if isinstance(inner, oss.exceptions.BaseError):
        return OssError("BadResponse", f"OSS's answer could not be read ({type(inner).__name__})", retryable=True)
    return exc
