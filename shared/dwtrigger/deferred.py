"""Importing a third-party package without the modules it imports at its top and never runs for us (cold start).

Inside `deferring(modules)`, each named module not imported yet stands in sys.modules as a `Deferred`
placeholder: the names listed for it (those the package binds at import time: an annotation, a function or class
only called on paths we never take) become `Later` references, and any other use imports the real module on the
spot and forwards to it, so nothing behaves differently, it only loads when (if ever) used. The placeholders leave
sys.modules when the block ends: any later import of one gets the real module. Users: dataworks/sdk.py
(tea-openapi's async stack), outcomes.py (Powertools' metrics, tracer and JMESPath); tests/test_deferred.py.
"""
from __future__ import annotations

import importlib
import sys
import threading
import types
from contextlib import contextmanager
from typing import FrozenSet, Iterator, Mapping

_lock = threading.RLock()


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
        self._later = names           # emptied when the block ends
        self._importing = True

    def __getattr__(self, attr: str):
        if attr in self._later:
            return Later(self.__name__, attr)
        if self._importing and attr.startswith("__"):
            # `from m import name` asks the module for `__path__` first: inside the block a placeholder is a plain
            # module (a submodule import of it fails loudly, never silently), not a reason to load it.
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


@contextmanager
def deferring(modules: Mapping[str, FrozenSet[str]]) -> Iterator[None]:
    """Imports inside the block find `modules` (name -> its import-time names) as placeholders; one block at a
    time (re-entrant), so no other thread's import meets a placeholder left half-way."""
    with _lock:
        placed = {name: Deferred(name, names) for name, names in modules.items() if name not in sys.modules}
        sys.modules.update(placed)
        try:
            yield
        finally:
            for name, module in placed.items():
                module._later, module._importing = frozenset(), False
                if sys.modules.get(name) is module:
                    del sys.modules[name]
