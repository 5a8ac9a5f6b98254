"""A local DataWorks OpenAPI emulator for tests and demos: real signatures, trigger semantics, injected faults;
and stand-ins for OSS and MNS queues."""

from .core import DEFAULT_SEED, Emulator
from .mns import MnsStandIn
from .oss import OssStandIn

__all__ = ["DEFAULT_SEED", "Emulator", "MnsStandIn", "OssStandIn"]
