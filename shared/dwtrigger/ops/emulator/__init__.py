"""A local DataWorks OpenAPI emulator for tests and demos: real signatures, trigger semantics, injected faults;
and stand-ins for OSS, MNS queues and SLS."""

from .core import DEFAULT_SEED, Emulator
from .mns import MnsStandIn
from .oss import OssStandIn
from .sls import SlsStandIn

__all__ = ["DEFAULT_SEED", "Emulator", "MnsStandIn", "OssStandIn", "SlsStandIn"]
