"""The v1 request signature dwtrigger speaks both ways: notify.py signs the webhooks it sends, sources/http.py checks
the calls it takes (and `dwtrigger sign` makes them).

HEX = HMAC-SHA256(secret, "v1\\n" + each signed part + "\\n" + hex(SHA-256(body))), sent as `v1=HEX`: the webhook
signs (TIMESTAMP), an `on: http` call (METHOD, PATH, TIMESTAMP). Checked in constant time (`hmac.compare_digest`).
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Sequence

PREFIX = "v1="


def sign(secret: str, parts: Sequence[str], body: bytes) -> str:
    """The `X-Dwtrigger-Signature` value over `parts` and `body`."""
    signed = "\n".join(("v1", *parts, hashlib.sha256(body).hexdigest())).encode("utf-8", "surrogatepass")
    return PREFIX + hmac.new(secret.encode("utf-8", "surrogatepass"), signed, hashlib.sha256).hexdigest()


def valid(given: str, secret: str, parts: Sequence[str], body: bytes) -> bool:
    """Whether `given` is the signature `sign` makes, compared in constant time (as bytes: any text compares)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), sign(secret, parts, body).encode())
