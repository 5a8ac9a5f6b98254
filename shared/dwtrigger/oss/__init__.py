"""The OSS port: are these objects there? — what a rule's `require` asks before its trigger is sent (and when did
they land, for the board).

The relay speaks only this interface; the adapter (`v2.py`) implements it with the official SDK
(alibabacloud-oss-v2), imported only when a rule that requires objects first checks them, so a deployment without
`require` never loads it.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from datetime import datetime
from typing import List, Optional, Sequence

import msgspec

from ..retry import Deadline, RemoteError
from ..templates import Template


class OssError(RemoteError):
    """A failed OSS call: `retryable` for 5xx, throttling, timeouts and dropped connections; not for 403,
    NoSuchBucket, redirects or other 4xx."""


class Wanted(msgspec.Struct, frozen=True):
    """An object a rule requires: `key` is filled from the event, literal (that exact object) or with wildcards
    left (at least one object that `key` matches: `ObjectStore.find` with limit 1)."""
    bucket: str
    key: Template

    def __str__(self) -> str:
        return f"oss://{self.bucket}/{self.key.source}"


class ObjectStore(ABC):
    """Every method runs its calls within the deadline and raises OssError as `missing` says; a retryable one may
    be retried by the caller."""

    @abstractmethod
    def missing(self, wanted: Sequence[Wanted], deadline: Deadline) -> List[Wanted]:
        """The `wanted` objects that are not there, in `wanted`'s order: each is `find(bucket, key, deadline, 1)`
        (a literal key looked at directly, one with wildcards listed until a key matches). The checks run
        concurrently (a few at a time), each within the deadline. Raises OssError (the first that is not
        retryable, else the first retryable one): an unknown bucket or a refusal is not a missing object."""

    @abstractmethod
    def find(self, bucket: str, key: Template, deadline: Deadline, limit: int) -> List[str]:
        """The first `limit` (at least 1) keys in `bucket` that `key` matches, in lexical order (OSS's listing
        order, UTF-8 bytes): fewer only when there are no more. `key` is any template, filled (`partial`) or not;
        read a found key's captures with `key.match`. A literal key is looked at directly ([key] or []); one whose
        wildcards stay within a segment is walked a directory level at a time, listing only where a segment has a
        wildcard and descending only into the directories that segment matches; one with `**` (or a date whose
        format writes '/') is listed under `key.prefix` whole. Raises OssError as `missing` does, never a shorter
        answer: a call the deadline stopped is DeadlineExceeded (retryable), and a search that would take more
        requests than the adapter allows one (a fan-out bound: the directories a wildcard matches, pages of their
        listings) is refused, not retryable, naming the bound. A limit below 1 is a ValueError."""

    @abstractmethod
    def keys(self, bucket: str, prefix: str, deadline: Deadline) -> List[str]:
        """Every key under `prefix`, in OSS's (lexical) order, every page read."""

    @abstractmethod
    def read(self, bucket: str, key: str, deadline: Deadline) -> Optional[bytes]:
        """The object's content, or None when there is none (NoSuchKey)."""

    @abstractmethod
    def create(self, bucket: str, key: str, body: bytes, deadline: Deadline) -> bool:
        """Create the object only if it is absent (atomic: of two creators exactly one wins); False when it was
        there already."""

    @abstractmethod
    def write(self, bucket: str, key: str, body: bytes, deadline: Deadline,
              content_type: str = "application/json") -> None:
        """Create or overwrite the object (the ledger's JSON; the board's page is text/html)."""

    @abstractmethod
    def modified(self, bucket: str, key: str, deadline: Deadline) -> Optional[datetime]:
        """When the object last landed (its Last-Modified, UTC), or None when there is none: the board's "file
        landed" marks."""


def store(region: str, endpoint: str | None, protocol: str, internal: bool, keys) -> ObjectStore:
    """The adapter for a bucket region: `endpoint` (host[:port], path-style) overrides the regional one;
    `internal` picks OSS's internal endpoint (FC in the bucket's region); `keys` are the role's RoleKeys."""
    return importlib.import_module(".v2", __name__).Adapter(region, endpoint, protocol, internal, keys)


def load() -> None:
    """Import the SDK now (FC's initializer: before the first event waits for it)."""
    importlib.import_module(".v2", __name__)
