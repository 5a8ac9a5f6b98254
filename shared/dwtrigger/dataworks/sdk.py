"""tea-openapi imported without the async stack it never runs for us (issue 26: half of a cold start).

`alibabacloud_tea_openapi.client` imports, at its top, alibabacloud-credentials' Client (which imports Tea's core,
and so aiohttp, asyncio and apscheduler), darabonba's core (aiohttp, asyncio), a WebSocket client and cryptography's
RSA signing: ~70% of the SDK's import time, for async methods, a credentials chain, WebSockets and a signature the
product never uses (it passes its own `credential`, see credentials.py, and signs with ACS3-HMAC-SHA256).

While the SDK's modules import, those modules stand in as placeholders (deferred.py) that load the real module on
first real use. tests/test_cold_start.py holds what a release imports; tests/test_sdk.py what the SDK leaves out.
"""
from __future__ import annotations

import sys
from typing import Dict, FrozenSet

from ..deferred import deferring

# What the SDK's modules import and, at import time, use of it (anything else loads the real module).
DEFERRED: Dict[str, FrozenSet[str]] = {
    "aiohttp": frozenset({"ClientResponse", "ClientSession"}),   # darabonba's annotations (response.py, stream.py)
    "asyncio": frozenset(),
    "alibabacloud_credentials.client": frozenset({"Client"}),    # built only from keys in Config: we pass none
    # WebSocket APIs (tea-openapi's websocket client, websocket-client) and RSA signing (cryptography): unused
    # by the ACS3-HMAC-SHA256 signature of every call we make.
    "alibabacloud_tea_openapi.websocket_utils": frozenset(),
    "darabonba.websocket": frozenset({
        "get_web_socket_enable_reconnect", "get_web_socket_handshake_timeout", "get_web_socket_max_reconnect_times",
        "get_web_socket_ping_interval", "get_web_socket_pong_timeout", "get_web_socket_reconnect_interval",
        "get_web_socket_write_timeout", "new_websocket_client_and_connect"}),
    "cryptography.hazmat.primitives.hashes": frozenset(),
    "cryptography.hazmat.primitives.asymmetric.padding": frozenset(),
    "cryptography.hazmat.primitives.serialization": frozenset({"load_pem_private_key"}),
}


def load() -> None:
    """Import tea-openapi's client (once) with DEFERRED standing in for the modules it does not need."""
    if "alibabacloud_tea_openapi.client" not in sys.modules:
        with deferring(DEFERRED):
            import alibabacloud_tea_openapi.client  # noqa: F401 - the import is the point
