"""The OSS stand-in's /_admin/ routes (loopback only, no auth): objects land and go without a signature, for
`dwtrigger emulator put|rm|ls` and seeds. An object lands exactly as a signed PutObject lands it (the body, its
Content-Type, ETag, CRC-64, Last-Modified from the stand-in's clock); admin requests are not API calls and are
recorded nowhere.

  PUT    /_admin/objects/<bucket>/<key>   the body becomes the object (Content-Type, default
                                          application/octet-stream): 200 {the object}
  DELETE /_admin/objects/<bucket>/<key>   200 {"removed": true} or {"removed": false} (it was not there)
  GET    /_admin/objects?bucket=&prefix=  200 {"buckets": [names], "objects": [{the object}, ...]}: every bucket's,
                                          or one's, in listing order
An object is {"bucket", "key", "size", "etag", "last_modified" (ISO 8601, UTC)}. The key is percent-decoded once,
as the API's. Errors are {"error": sentence}: 400 a bucket name or key OSS refuses, 404 no such bucket or route.
"""

from typing import Dict, List, Optional
from urllib.parse import parse_qsl, unquote

from .exchange import Reply
from .oss_store import OCTET_STREAM, Buckets, StoredObject, check_bucket_name, check_object_key
from .server import json_reply

OBJECTS = "objects"


def answer(buckets: Buckets, method: str, route: str, query: str, headers, body: bytes) -> Reply:
    """The reply to one admin request (the caller holds the gateway's lock and checked the client is local)."""
    name, _, rest = route.partition("/")
    try:
        if name != OBJECTS:
            raise LookupError(f"no admin route {method} /_admin/{route}")
        if method == "GET" and not rest:
            return json_reply(200, _listing(buckets, dict(parse_qsl(query))))
        bucket, _, key = unquote(rest, errors="strict").partition("/")
        check_bucket_name(bucket)
        check_object_key(key)
        if method == "PUT":
            stored = buckets.put(bucket, key, body, headers.get("Content-Type") or OCTET_STREAM)
            return json_reply(200, _described(bucket, key, stored))
        if method == "DELETE":
            return json_reply(200, {"removed": buckets.remove(bucket, key)})
        raise LookupError(f"no admin route {method} /_admin/{route}")
    except KeyError as e:                     # Buckets: a bucket not in the seed
        return json_reply(404, {"error": e.args[0]})
    except LookupError as e:
        return json_reply(404, {"error": str(e)})
    except (ValueError, UnicodeDecodeError) as e:
        return json_reply(400, {"error": str(e)})


def _listing(buckets: Buckets, query: Dict[str, str]) -> dict:
    wanted: Optional[str] = query.get("bucket")
    names = [wanted] if wanted else buckets.names()
    prefix = query.get("prefix", "")
    objects: List[dict] = [_described(name, key, buckets.find(name, key)) for name in names
                           for key in buckets.keys(name) if key.startswith(prefix)]
    return {"buckets": buckets.names(), "objects": objects}


def _described(bucket: str, key: str, stored: StoredObject) -> dict:
    return {"bucket": bucket, "key": key, "size": len(stored.body), "etag": stored.etag,
            "last_modified": stored.modified.isoformat().replace("+00:00", "Z")}
