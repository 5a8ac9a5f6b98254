"""tea-openapi imported without the async stack it never runs for us (issue 26: half of a cold start).

`alibabacloud_tea_openapi.client` imports, at its top, alibabacloud-credentials' Client (which imports Tea's core,
and so aiohttp, asyncio and apscheduler), darabonba's core (aiohttp, asyncio), a WebSocket client and cryptography's
RSA signing: ~70% of the SDK's import time, for async methods, a credentials chain, WebSockets and a signature the
product never uses (it passes its own `credential`, see credentials.py, and signs with ACS3-HMAC-SHA256).

While the SDK's modules import, those modules stand in sys.modules as `Deferred` placeholders: the names the SDK
binds at import time become `Later` references (an annotation, a function only called on paths we never take),
and any other use imports the real module on the spot and forwards to it, so nothing behaves differently, it only
loads when (if ever) used. The placeholders leave sys.modules when the import is
done: any later `import asyncio` gets the real module. tests/test_cold_start.py holds what a release imports;
tests/test_sdk.py holds the placeholders.
"""
from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Dict, FrozenSet

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
_lock = threading.Lock()


class Later:
    """A name of a deferred module, looked up (the module imported) when first called."""

    def __init__(self, module: str, name: str):
        self._module, self._name = module, name

    def __call__(self, *args, **kwargs):
        return getattr(importlib.import_module(self._module), self._name)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class Deferred(types.ModuleType):
    """A module not imported yet: any attribute but its import-time names imports it and forwards."""

    def __init__(self, name: str, names: FrozenSet[str]):
        super().__init__(name)
        self._later = names           # emptied when the SDK's import is done
        self._importing = True

    def __getattr__(self, attr: str):
        if attr in self._later:
            return Later(self.__name__, attr)
        if self._importing and attr.startswith("__"):
            # `from m import name` asks the module for `__path__` first: while the SDK imports, a placeholder is a
            # plain module (a submodule import of it fails loudly, never silently), not a reason to load it.
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def load() -> None:
    """Import tea-openapi's client (once) with DEFERRED standing in for the modules it does not need."""
    with _lock:
        if "alibabacloud_tea_openapi.client" in sys.modules:
            return
        placed = {name: Deferred(name, names) for name, names in DEFERRED.items() if name not in sys.modules}
        sys.modules.update(placed)
        try:
            import alibabacloud_tea_openapi.client  # noqa: F401 - the import is the point
        finally:
            for name, module in placed.items():
                module._later, module._importing = frozenset(), False
                if sys.modules.get(name) is module:
                    del sys.modules[name]
