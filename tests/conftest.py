"""Shared test fixtures: sample events from events/, the emulator on loopback, and a runtime wired to both.

Nothing is patched: the runtime calls the real SDK, which signs real requests to the emulator on 127.0.0.1.
"""
from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from dwtrigger import app, fc
from dwtrigger.emulator import Emulator
from dwtrigger.outcomes import DecisionLog
from dwtrigger.retry import Backoff
from dwtrigger.rules import load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
WORLD = Path(__file__).with_name("world.yaml")
ROLE_KEY = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.fn-role-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "fn-role-secret",
            "ALIBABA_CLOUD_SECURITY_TOKEN": "fn-role-token-0123456789"}


def sample(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def orders_rules(target: str, extra: str = "") -> str:
    """A rules file with one rule taking the orders sample (events/oss/native-put-orders.json) to `target`."""
    return f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai}}
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={{bizdate:%Y-%m-%d}}/_SUCCESS"
    {extra}
    trigger: [{target}]
"""


def queue_rules(contacts_node: int = 700001235200) -> str:
    """Two rules on the etl-events queue: `crm` takes the first message of events/mns/queue-eventbridge-list.json,
    `contacts` the second (releasing `contacts_node`)."""
    return f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai}}
rules:
  - {{name: crm, on: mns, queue: etl-events, message: {{source: [crm-daily]}},
     trigger: [{{workspace: 10001, node: 700001235100}}]}}
  - {{name: contacts, on: mns, queue: etl-events, message: {{source: [crm-contacts]}},
     trigger: [{{workspace: 10001, node: {contacts_node}}}]}}
"""


class Harness:
    """A Runtime wired to the emulator, with its log lines captured."""

    def __init__(self, emu: Emulator, rules_text: Optional[str], env: Dict[str, str], dry_run: Optional[bool]):
        self.emu, self.stream = emu, io.StringIO()
        self.env = {"DWTRIGGER_ENDPOINT": emu.endpoint, "DWTRIGGER_PROTOCOL": "http", **ROLE_KEY, **env}
        rules = parse_rules(rules_text) if rules_text else load_rules(str(ROOT / "rules.yaml"))
        # Powertools reuses the handler of a service name it has seen: a fresh name per harness isolates logs.
        log = DecisionLog(service=f"dwtrigger-test-{uuid.uuid4().hex[:8]}", stream=self.stream)
        self.runtime = app.Runtime(rules, environ=self.env, log=log, dry_run=dry_run,
                                   backoff=Backoff(base_s=0.01, cap_s=0.05), wall_clock=emu.clock.now)

    def invoke(self, source: str, raw: bytes, context=None) -> List[dict]:
        """The decisions of one invocation, whether it returned or raised TriggerFailed."""
        try:
            return self.runtime.invoke(source, raw, context or fc.context_for(source))["outcomes"]
        except app.TriggerFailed as e:
            return [d.record() for d in e.decisions]

    def lines(self) -> List[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def calls(self, action: Optional[str] = None) -> List[dict]:
        return [c for c in self.emu.calls if action is None or c["action"] == action]


@pytest.fixture
def emulator():
    with Emulator(WORLD) as emu:
        yield emu


@pytest.fixture
def harness(emulator):
    def make(rules_text: Optional[str] = None, env: Optional[Dict[str, str]] = None,
             dry_run: Optional[bool] = None) -> Harness:
        return Harness(emulator, rules_text, env or {}, dry_run)
    return make
