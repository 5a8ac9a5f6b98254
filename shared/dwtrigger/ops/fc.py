"""A local stand-in for FC's handler `context`, for the demo, replay and tests (FC itself passes the real one).

Shaped like python3.10's context (which still has `credentials`); pass credentials=None for python3.12's.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Credentials:
    access_key_id: str = field(repr=False)
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class Function:
    name: str
    handler: str = "index.handler"
    memory: int = 512
    timeout: int = 60


@dataclass(frozen=True)
class Context:
    function: Function
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    credentials: Optional[Credentials] = None
    region: str = "cn-shanghai"
    account_id: str = "1234567890"


def context_for(source: str, timeout: int = 60, credentials: Optional[Credentials] = None) -> Context:
    return Context(Function(name=f"dwtrigger-{source}", timeout=timeout), credentials=credentials)
