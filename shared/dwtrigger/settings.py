"""The deployment's settings: every DWTRIGGER_* variable the functions read, read once and checked at start.

One frozen, typed value built from the environment when the Runtime is (`Settings.read`), so a value the functions
cannot use fails the instance before any event is taken, as a broken rules file does, and no other module reads
these variables. The operator's commands read the same variables through the same value.

Two kinds of variable stay out, on purpose:
- the role's keys (ALIBABA_CLOUD_*, credentials.py): FC rotates them, so they are read on every invocation;
- the notice channels' URLs and secrets (notify.py): the rules file names them (`notify.*.url_env`), so which
  variables there are is known only from the rules, and a secret is read only when a notice is sent.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

RULES, FUNCTION_CODE = "DWTRIGGER_RULES", "FC_FUNC_CODE_PATH"
DRY_RUN, MNS_TOPIC, SWEEP_QPS_ENV = "DWTRIGGER_DRY_RUN", "DWTRIGGER_MNS_TOPIC", "DWTRIGGER_SWEEP_QPS"
DATAWORKS_QPS_ENV = "DWTRIGGER_DATAWORKS_QPS"
ENDPOINT, PROTOCOL, STS_ENDPOINT = "DWTRIGGER_ENDPOINT", "DWTRIGGER_PROTOCOL", "DWTRIGGER_STS_ENDPOINT"
OSS_ENDPOINT, OSS_INTERNAL = "DWTRIGGER_OSS_ENDPOINT", "DWTRIGGER_OSS_INTERNAL"
TRUE = ("1", "true", "yes", "on")
SWEEP_QPS = (0.1, 50.0)     # DataWorks calls a second the sweep may make: Enterprise's read quota at most
DATAWORKS_QPS = (0.1, 10_000.0)   # a quota's reads or writes a second (Basic 5 in all, Enterprise 50/20)


class SettingsError(ValueError):
    """An environment variable the functions read holds a value they cannot use: refused at start, named."""


@dataclass(frozen=True)
class Settings:
    rules_path: str                 # DWTRIGGER_RULES, else rules.yaml in the function's code (FC_FUNC_CODE_PATH)
    dry_run: bool = False           # DWTRIGGER_DRY_RUN: decide and log, send nothing
    endpoint: Optional[str] = None  # DWTRIGGER_ENDPOINT: DataWorks' endpoint for every rule
    protocol: str = "https"         # DWTRIGGER_PROTOCOL: http only for a local server
    sts_endpoint: Optional[str] = None      # DWTRIGGER_STS_ENDPOINT: where a rule's role_arn is assumed
    oss_endpoint: Optional[str] = None      # DWTRIGGER_OSS_ENDPOINT: a local OSS stand-in
    oss_internal: bool = False      # DWTRIGGER_OSS_INTERNAL: OSS over the region's internal endpoint
    mns_topic: Optional[str] = None         # DWTRIGGER_MNS_TOPIC: the topic an MNS function's messages come from
    sweep_qps: float = 5.0          # DWTRIGGER_SWEEP_QPS: the sweep's DataWorks calls a second
    dataworks_qps: Tuple[float, float] = (50.0, 20.0)   # DWTRIGGER_DATAWORKS_QPS: the quota's reads, writes a second

    @classmethod
    def read(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """The settings `environ` holds (an empty value counts as unset); SettingsError names a value refused."""
        return cls(rules_path=environ.get(RULES) or os.path.join(environ.get(FUNCTION_CODE) or os.getcwd(),
                                                                 "rules.yaml"),
                   dry_run=_flag(environ, DRY_RUN),
                   endpoint=environ.get(ENDPOINT) or None,
                   protocol=(environ.get(PROTOCOL) or "https").lower(),
                   sts_endpoint=environ.get(STS_ENDPOINT) or None,
                   oss_endpoint=environ.get(OSS_ENDPOINT) or None,
                   oss_internal=_flag(environ, OSS_INTERNAL),
                   mns_topic=environ.get(MNS_TOPIC) or None,
                   sweep_qps=_sweep_qps(environ.get(SWEEP_QPS_ENV) or "5"),
                   dataworks_qps=_dataworks_qps(environ.get(DATAWORKS_QPS_ENV) or "50/20"))


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").lower() in TRUE


def _sweep_qps(raw: str) -> float:
    """The sweep's DataWorks calls per second, of the quota every function shares (default 5)."""
    try:
        qps = float(raw)
    except ValueError:
        qps = float("nan")
    if not SWEEP_QPS[0] <= qps <= SWEEP_QPS[1]:
        raise SettingsError(f"{SWEEP_QPS_ENV}={raw[:40]!r}: the sweep's DataWorks calls per second, a number from "
                            f"{SWEEP_QPS[0]:g} to {SWEEP_QPS[1]:g}")
    return qps


def _dataworks_qps(raw: str) -> Tuple[float, float]:
    """The edition's OpenAPI quota, `READ/WRITE` calls a second (default 50/20, Enterprise): every function's share."""
    read, slash, write = raw.partition("/")
    try:
        qps = (float(read), float(write)) if slash else None
    except ValueError:
        qps = None
    if qps is None or not all(DATAWORKS_QPS[0] <= q <= DATAWORKS_QPS[1] for q in qps):
        raise SettingsError(f"{DATAWORKS_QPS_ENV}={raw[:40]!r}: the DataWorks quota as READ/WRITE calls a second "
                            f"(Enterprise 50/20), each a number from {DATAWORKS_QPS[0]:g} to {DATAWORKS_QPS[1]:g}")
    return qps
