"""What a gateway takes and gives, apart from HTTP: one request as the server read it, one reply for it to write.

Both gateways (DataWorks, OSS), the MNS and SLS stand-ins and the bookkeeping they share (recorder.py) speak these,
so they live below all of them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email.message import Message
from typing import Dict, Optional

JSON = "application/json;charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes
    port: int                    # the emulator's, for the decoy's address
    epoch: threading.Event       # set when the epoch the request arrived in ended
    arrived: float               # time.monotonic() at arrival


@dataclass
class Reply:
    status: int
    body: bytes
    code: Optional[str] = None
    content_type: str = JSON
    headers: Dict[str, str] = field(default_factory=dict)
    drip_ms: int = 0             # write it one byte every drip_ms (injected "drip")
