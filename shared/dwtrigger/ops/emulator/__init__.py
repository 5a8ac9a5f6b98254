"""A local DataWorks OpenAPI emulator for tests and demos: real signatures, trigger semantics, injected faults."""

from .core import DEFAULT_SEED, Emulator
from .oss import OssStandIn

__all__ = ["DEFAULT_SEED", "Emulator", "OssStandIn"]
