"""The function's role credentials, read on every invocation, and the SDK clients built from them.

FC rotates the role's STS credentials; python3.10 hands them over in `context.credentials`, python3.12 only in
the environment. alibabacloud-credentials reads the environment once at import time and tea-openapi 0.4.x has
no implicit chain, so we read them ourselves per invocation and pass an explicit credential client. SDK clients
are cached by everything that shapes them (keys, API, endpoint, protocol, role, STS endpoint) and dropped when
the keys rotate; concurrent invocations in one instance each get a client built from their own keys.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Tuple, TypeVar

from .redact import PATTERNS_ONLY, Scrubber

T = TypeVar("T")
ENV_ID, ENV_SECRET, ENV_TOKEN = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                                 "ALIBABA_CLOUD_SECURITY_TOKEN")


@dataclass(frozen=True)
class RoleKeys:
    access_key_id: str = field(repr=False)
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)

    def secrets(self) -> Tuple[str, ...]:
        """Every value that must never be written anywhere (used to scrub error text)."""
        return tuple(v for v in (self.access_key_id, self.access_key_secret, self.security_token) if v)


class MissingCredentials(RuntimeError):
    pass


def read_keys(context, environ: Mapping[str, str] = os.environ) -> RoleKeys:
    creds = getattr(context, "credentials", None)
    if creds is not None and getattr(creds, "access_key_id", None):
        return RoleKeys(creds.access_key_id, creds.access_key_secret, getattr(creds, "security_token", None) or None)
    if environ.get(ENV_ID) and environ.get(ENV_SECRET):
        return RoleKeys(environ[ENV_ID], environ[ENV_SECRET], environ.get(ENV_TOKEN) or None)
    raise MissingCredentials("no credentials: give the function a role (FC sets ALIBABA_CLOUD_ACCESS_KEY_ID, "
                             "ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN)")


class InvocationKeys:
    """One invocation's keys, read on first use (an event no rule takes needs none), and the scrubber that
    removes them, the deployment's other secrets (`also`: the notice channels' URLs and secrets) and anything
    credential-shaped from text."""

    def __init__(self, context, environ: Mapping[str, str], also: Tuple[str, ...] = ()):
        self._context, self._environ, self._keys, self._also = context, environ, None, also
        self.scrub: Scrubber = Scrubber(also) if also else PATTERNS_ONLY

    def get(self) -> RoleKeys:
        if self._keys is None:
            self._keys = read_keys(self._context, self._environ)
            self.scrub = Scrubber(self._keys.secrets() + self._also)
        return self._keys


def credential_client(keys: RoleKeys, role_arn: Optional[str] = None, sts_endpoint: Optional[str] = None,
                      session_name: str = "dwtrigger"):
    """An alibabacloud-credentials client: the role's STS keys, or an assumed role on top of them."""
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    # The package logs refresh failures with tracebacks on its own handler; the decision line reports them.
    logging.getLogger("credentials").setLevel(logging.CRITICAL)

    kind = "sts" if keys.security_token else "access_key"
    if role_arn:
        return Client(Config(type="ram_role_arn", access_key_id=keys.access_key_id,
                             access_key_secret=keys.access_key_secret, security_token=keys.security_token,
                             role_arn=role_arn, role_session_name=session_name, sts_endpoint=sts_endpoint))
    return Client(Config(type=kind, access_key_id=keys.access_key_id, access_key_secret=keys.access_key_secret,
                         security_token=keys.security_token))


class ClientCache:
    """SDK clients reused across invocations, keyed by the keys and everything else that shapes them (`shape`).
    A client for new keys drops those of older keys; an invocation still holding one keeps using it safely (it
    holds its own reference). One lock: concurrent invocations never see another's half-built entry."""

    def __init__(self):
        self._lock = threading.Lock()
        self._clients: Dict[Tuple, object] = {}

    def get(self, keys: RoleKeys, shape: Tuple, build: Callable[[], T]) -> T:
        slot = (keys,) + shape
        with self._lock:
            if slot not in self._clients:
                self._clients = {k: v for k, v in self._clients.items() if k[0] == keys}
                self._clients[slot] = build()
            return self._clients[slot]
