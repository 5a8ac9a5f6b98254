"""Checks the reliability suites (faults, hostile input, load) make after every invocation and every run.

`invoke` drains the harness's log stream each time, so each call sees only its own lines and a long run stays
linear; every drained line is also searched for credentials, tokens and signatures (`h.secrets` when the harness
names its own: generated input can hold the fixed strings of test_secrets, which Hypothesis mines from the code).
"""
from __future__ import annotations

import json
import time
from typing import List, Tuple

from dwtrigger import app
from dwtrigger.ops import fc
from dwtrigger.outcomes import FAILED, OUTCOMES
from conftest import REPEATS, ROLE_KEY

# What no line, record or error may hold: the role's keys, the keys test_secrets rotates to or signs wrongly with,
# and the signature's own markers.
SECRETS = list(ROLE_KEY.values()) + ["rotated-secret", "rotated-token-9876543210", "STS.rotated-key",
                                     "wrong-secret", "Signature=", "ACS3-HMAC-SHA256", "x-acs-security-token"]


def invoke(h, source: str, raw: bytes, timeout: float = 60) -> Tuple[List[dict], bool]:
    """One invocation through the runtime's one way in: its decision records, and whether the handler raises
    (exactly when a decision failed). Every decision must have logged its one line, and no secret may be in the
    records, the lines or the message FC gets with the raise."""
    decisions = h.runtime.run(source, raw, fc.context_for(source, timeout=timeout))
    records = [d.record() for d in decisions]
    raised = any(r["outcome"] == FAILED for r in records)
    if raised:
        assert_no_secrets(str(app.TriggerFailed(decisions)), getattr(h, "secrets", SECRETS))
    lines = drain(h)
    assert records, "an invocation must decide something"
    assert [line["outcome"] for line in lines] == [r["outcome"] for r in records]
    assert {r["outcome"] for r in records} <= set(OUTCOMES)
    assert_no_secrets(repr(records), getattr(h, "secrets", SECRETS))
    return records, raised


def drain(h) -> List[dict]:
    """The log lines written since the last drain, after checking them for secrets."""
    text = h.stream.getvalue()
    h.stream.seek(0)
    h.stream.truncate()
    assert_no_secrets(text, getattr(h, "secrets", SECRETS))
    return [json.loads(line) for line in text.split("\n") if line.strip()]     # not splitlines: U+2028 is no break


def assert_no_secrets(text: str, secrets=SECRETS) -> None:
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"{leaked} leaked in: {text[:2000]}"


def duplicate_releases(emu) -> int:
    """Triggers the emulator accepted beyond the first per instance, plus those that came after a release (refused
    on 2020-05-18, answered with no effect on 2024-05-18)."""
    extra = sum(i["Triggers"] - 1 for i in emu.instances(triggered=True))
    return extra + sum(c["code"] in REPEATS for c in emu.calls)


def wait_for_calls(h, count: int) -> None:
    """Until the emulator has answered `count` requests (it records each once answered), at most 30 s: a pause
    that ends when what it waits for happened, not after a time it is hoped to take."""
    give_up = time.monotonic() + 30
    while len(h.calls()) < count and time.monotonic() < give_up:
        time.sleep(0.02)
