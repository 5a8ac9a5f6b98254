"""The function's role credentials, read on every invocation, and the SDK clients built from them.

FC rotates the role's STS credentials; python3.10 hands them over in `context.credentials`, python3.12 only in
the environment. alibabacloud-credentials reads the environment once at import time and tea-openapi 0.4.x has
no implicit chain, so we read them ourselves per invocation and pass an explicit credential client. SDK clients
are cached by everything that shapes them (keys, API, endpoint, protocol, role, STS endpoint) and dropped when
the keys rotate; concurrent invocations in one instance each get a client built from their own keys.
"""
from __future__ import annotations

import functools
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
        self.scrub: Scrubber = scrubber(also) if also else PATTERNS_ONLY

    def get(self) -> RoleKeys:
        if self._keys is None:
            self._keys = read_keys(self._context, self._environ)
            self.scrub = scrubber(self._keys.secrets() + self._also)
        return self._keys


@functools.lru_cache(maxsize=8)
def scrubber(secrets: Tuple[str, ...]) -> Scrubber:
    """One Scrubber per set of secrets, shared by the invocations that hold them: building one (every encoded form
    of every key, one regex) cost more than the rest of a warm decision's own work; the keys rotate hourly."""
    return Scrubber(secrets)


class StaticCredential:
    """The role's keys as tea-openapi asks for them (`get_credential()`), the same model alibabacloud-credentials'
    static providers give (type and provider name included: the same wire), without importing that library's
    client, whose import pulls Tea's core, aiohttp, asyncio and apscheduler for nothing a static key needs."""

    def __init__(self, keys: RoleKeys):
        from alibabacloud_credentials.models import CredentialModel     # a plain model: no async stack

        sts = bool(keys.security_token)
        self._model = CredentialModel(access_key_id=keys.access_key_id, access_key_secret=keys.access_key_secret,
                                      security_token=keys.security_token, type="sts" if sts else "access_key",
                                      provider_name="static_sts" if sts else "static_ak")

    def get_credential(self):
        return self._model


def credential_client(keys: RoleKeys, role_arn: Optional[str] = None, sts_endpoint: Optional[str] = None,
                      session_name: str = "dwtrigger"):
    """What signs a rule's calls: the role's STS keys (StaticCredential), or an assumed role on top of them (an
    alibabacloud-credentials client, which refreshes it)."""
    if not role_arn:
        return StaticCredential(keys)
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    from .wire import guard_tea

    guard_tea()
    # The package logs refresh failures with tracebacks on its own handler; the decision line reports them.
    logging.getLogger("credentials").setLevel(logging.CRITICAL)
    return Client(Config(type="ram_role_arn", access_key_id=keys.access_key_id,
                         access_key_secret=keys.access_key_secret, security_token=keys.security_token,
                         role_arn=role_arn, role_session_name=session_name, sts_endpoint=sts_endpoint))


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
