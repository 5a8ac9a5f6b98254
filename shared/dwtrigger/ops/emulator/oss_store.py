"""The stand-in's buckets: objects with their bytes, content type, ETag, CRC-64 and Last-Modified, listed as OSS
pages them.

An object's ETag is OSS's for a simple upload: the MD5 of its bytes, upper-case hex in double quotes; its
``x-oss-hash-crc64ecma`` is CRC-64/XZ (ECMA-182, reflected, all-ones init and final XOR), in decimal, which the
SDK checks an upload against. Seeded objects are empty, ``application/octet-stream``.

ListObjectsV2 walks the keys in UTF-8 byte order (code-point order, the same for valid text) after ``start-after``,
or after the item a ``continuation-token`` names (it overrides start-after, as in OSS). With a delimiter, keys whose
rest after the prefix holds it roll up into one CommonPrefix each, which counts once toward ``max-keys`` (1 to 1000,
default 100). The token is the last item returned, base64url: opaque to clients, as OSS's is. With
``encoding-type=url`` every key, prefix, delimiter, start-after and token in the answer is percent-encoded (UTF-8,
"/" kept), which the SDK decodes; without it they are XML text, so keys holding characters XML 1.0 cannot carry
(control characters) need url encoding, as in OSS.

Callers hold the gateway's lock: state changes and answers are atomic with respect to reset.
"""

import base64
import binascii
import hashlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import quote
from xml.etree import ElementTree as ET

from .oss_errors import OssError, child, xml_document

DEFAULT_REGION = "cn-shanghai"
DEFAULT_MAX_KEYS, MAX_KEYS = 100, 1000
OCTET_STREAM = "application/octet-stream"
CRC64_POLY = 0xC96C5795D7870F42   # ECMA-182, bit-reversed
CRC64_MASK = (1 << 64) - 1
BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
Item = Tuple[bool, str]   # (is a CommonPrefix, key or prefix)


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    content_type: str
    modified: datetime
    etag: str
    crc64: str

    @classmethod
    def of(cls, body: bytes, content_type: str, modified: datetime) -> "StoredObject":
        return cls(body, content_type, modified, f'"{hashlib.md5(body).hexdigest().upper()}"', str(crc64(body)))


@dataclass(frozen=True)
class BucketSpec:
    name: str
    region: str
    objects: Tuple[str, ...]


def check_bucket_name(name: str) -> str:
    """OSS's rule (and the SDK's): 3-63 of a-z, 0-9 and "-", not starting or ending with "-"."""
    if not 3 <= len(name) <= 63 or not set(name) <= BUCKET_CHARS or name[0] == "-" or name[-1] == "-":
        raise ValueError(f"bucket name {name!r} is not 3-63 of a-z, 0-9, '-' (not first or last)")
    return name


def check_object_key(key) -> str:
    """OSS's rule: UTF-8, 1-1023 bytes, not starting with "/" or "\\"."""
    try:
        size = len(key.encode("utf-8"))
    except (AttributeError, UnicodeEncodeError):
        size = 0
    if not 1 <= size <= 1023 or key[0] in "/\\":
        raise ValueError(f"object key {key!r} is not 1-1023 UTF-8 bytes not starting with '/' or '\\'")
    return key


class Buckets:
    """Objects per bucket; seeded objects keep the Last-Modified of the stand-in's creation across resets. `clock`
    stamps Last-Modified (the DataWorks emulator's, in the sandbox, so its world and its files agree on the time)."""

    def __init__(self, specs: Dict[str, BucketSpec], clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._specs = specs
        self._clock = clock
        self._seeded = StoredObject.of(b"", OCTET_STREAM, self.now())
        self.reset()

    def now(self) -> datetime:
        """Last-Modified for an object landing now: OSS's, to the second."""
        return self._clock().astimezone(timezone.utc).replace(microsecond=0)

    def names(self) -> List[str]:
        return sorted(self._specs)

    def reset(self) -> None:
        self._objects = {name: dict.fromkeys(spec.objects, self._seeded) for name, spec in self._specs.items()}

    def region(self, bucket: str) -> str:
        spec = self._specs.get(bucket)
        if spec is None:
            raise OssError(404, "NoSuchBucket", "The specified bucket does not exist.")
        return spec.region

    def put(self, bucket: str, key: str, body: bytes, content_type: str = OCTET_STREAM,
            forbid_overwrite: bool = False) -> StoredObject:
        """Store the object as PutObject does, Last-Modified now; with `forbid_overwrite` an existing key is OSS's
        409 instead (check and store are one step: callers hold the lock)."""
        objects = self._bucket(bucket)
        if forbid_overwrite and key in objects:
            raise OssError(409, "FileAlreadyExists", "The object you specified already exists and can not be "
                                                     "overwritten.")
        stored = objects[check_object_key(key)] = StoredObject.of(body, content_type, self.now())
        return stored

    def remove(self, bucket: str, key: str) -> bool:
        """Whether the object was there."""
        return self._bucket(bucket).pop(key, None) is not None

    def keys(self, bucket: str) -> List[str]:
        return sorted(self._bucket(bucket))

    def find(self, bucket: str, key: str) -> Optional[StoredObject]:
        return self._bucket(bucket).get(key)

    def get(self, bucket: str, key: str) -> StoredObject:
        """The object, or OSS's 404 NoSuchKey."""
        stored = self.find(bucket, key)
        if stored is None:
            raise OssError(404, "NoSuchKey", "The specified key does not exist.")
        return stored

    def list_v2(self, bucket: str, params: Dict[str, str]) -> bytes:
        """The ListBucketResult document for a ListObjectsV2 request's decoded query parameters."""
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        token = params.get("continuation-token") or None
        marker = _marker(token) if token else params.get("start-after", "")
        max_keys = _max_keys(params.get("max-keys"))
        encode = _encoder(params.get("encoding-type"))
        items, truncated = _page(self.keys(bucket), prefix, delimiter, marker, token is not None, max_keys)
        root = ET.Element("ListBucketResult")
        child(root, "Name", bucket)
        child(root, "Prefix", encode(prefix))
        for tag, name in (("StartAfter", "start-after"), ("ContinuationToken", "continuation-token")):
            if params.get(name):
                child(root, tag, encode(params[name]))
        child(root, "MaxKeys", str(max_keys))
        if delimiter:
            child(root, "Delimiter", encode(delimiter))
        if encode is not str:
            child(root, "EncodingType", "url")
        child(root, "IsTruncated", str(truncated).lower())
        if truncated:
            child(root, "NextContinuationToken", encode(_token(items[-1][1])))
        child(root, "KeyCount", str(len(items)))
        for _, key in (item for item in items if not item[0]):
            self._contents(root, bucket, key, encode)
        for _, common in (item for item in items if item[0]):
            child(ET.SubElement(root, "CommonPrefixes"), "Prefix", encode(common))
        return xml_document(root)

    def _contents(self, root: ET.Element, bucket: str, key: str, encode: Callable[[str], str]) -> None:
        contents = ET.SubElement(root, "Contents")
        stored = self._objects[bucket][key]
        modified = stored.modified.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for tag, text in (("Key", encode(key)), ("LastModified", modified), ("ETag", stored.etag),
                          ("Type", "Normal"), ("Size", str(len(stored.body))), ("StorageClass", "Standard")):
            child(contents, tag, text)

    def _bucket(self, bucket: str) -> Dict[str, StoredObject]:
        objects = self._objects.get(bucket)
        if objects is None:
            raise KeyError(f"no bucket {bucket!r} in the seed")
        return objects


def _page(keys: List[str], prefix: str, delimiter: str, marker: str, resumed: bool,
          limit: int) -> Tuple[List[Item], bool]:
    """Up to `limit` items after `marker`, and whether more follow. Resuming after a CommonPrefix skips its keys."""
    items: List[Item] = []
    for key in keys[max(bisect_right(keys, marker), bisect_left(keys, prefix)):]:
        if not key.startswith(prefix):
            break
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        item = (True, key[:cut + len(delimiter)]) if cut >= 0 else (False, key)
        if item[0] and (items and items[-1] == item or resumed and item[1] == marker):
            continue
        if len(items) == limit:
            return items, True
        items.append(item)
    return items, False


def _max_keys(value: Optional[str]) -> int:
    if value is None:
        return DEFAULT_MAX_KEYS
    if not value.isdigit() or not 1 <= int(value) <= MAX_KEYS:
        raise OssError(400, "InvalidArgument", f"max-keys must be an integer from 1 to {MAX_KEYS}.")
    return int(value)


def _encoder(encoding_type: Optional[str]) -> Callable[[str], str]:
    if encoding_type == "url":
        return lambda text: quote(text, safe="/")
    if encoding_type:
        raise OssError(400, "InvalidArgument", "encoding-type must be url.")
    return str


def _token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _marker(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise OssError(400, "InvalidArgument", "The continuation token provided is incorrect.") from None


def crc64(data: bytes) -> int:
    """CRC-64/XZ, OSS's x-oss-hash-crc64ecma (its check value for b"123456789" is 0x995DC9BBDF1939FA)."""
    crc = CRC64_MASK
    for byte in data:
        crc = _CRC64_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ CRC64_MASK


def _crc64_entry(index: int) -> int:
    for _ in range(8):
        index = (index >> 1) ^ (CRC64_POLY if index & 1 else 0)
    return index


_CRC64_TABLE = tuple(_crc64_entry(i) for i in range(256))
