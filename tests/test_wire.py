"""The transport under every product call (wire.py), through each API's adapter and the real SDK against the
emulator: a call never outlasts its budget however its answer is dripped, never follows a redirect (no request
reaches the other host), never hands on an oversized or off-schema answer, and the SDK's debug output never
prints a credential."""
import os
import subprocess
import sys
import time
from datetime import date

import pytest

from conftest import MIRROR, ROLE_KEY
from dwtrigger import dataworks
from dwtrigger.credentials import RoleKeys, credential_client
from dwtrigger.dataworks import API_2020, DataWorksError
from dwtrigger.retry import Deadline
from dwtrigger.wire import MAX_ANSWER_BYTES, Budget, DeadlineReached

KEYS = RoleKeys(*ROLE_KEY.values())
NODE, DAY, BIZ_MS, CYCLE_MS = 700001234567, date(2026, 3, 10), 1773072000000, 1773160200000


class Orders:
    """The orders node's instance of 2026-03-10 through one API's adapter."""

    def __init__(self, emu, api: str):
        self.port = dataworks.adapter(api, emu.endpoint, "http", credential_client(KEYS))
        self.workspace = 10001 if api == API_2020 else MIRROR[10001]

    def look_up(self, deadline):
        return self.port.list_instances(self.workspace, "PROD", NODE, DAY, BIZ_MS, deadline)

    def trigger(self, deadline):
        return self.port.trigger(self.workspace, "PROD", NODE, CYCLE_MS, BIZ_MS, deadline)


def within(seconds: float) -> Deadline:
    return Deadline(time.monotonic() + seconds)


def refused(call) -> DataWorksError:
    with pytest.raises(DataWorksError) as err:
        call()
    return err.value


def test_a_dripped_answer_is_cut_at_the_budget(emulator, api):
    emulator.set_faults(script=["drip"], drip_ms=50)          # ~300 bytes: 15 s for a client that waits per read
    started = time.monotonic()
    e = refused(lambda: Orders(emulator, api).look_up(within(0.8)))
    elapsed = time.monotonic() - started
    assert (e.code, e.retryable) == ("DeadlineExceeded", True)
    assert elapsed < 3, elapsed                               # the budget ends it, not the drip


def test_no_call_starts_when_the_budget_is_spent(emulator, api):
    e = refused(lambda: Orders(emulator, api).trigger(within(-1)))
    assert e.code == "DeadlineExceeded" and emulator.calls == []


def test_the_sdks_timeouts_are_cut_to_the_time_left():
    spent = Budget(time.monotonic() + 0.3)
    connect, read = spent.timeouts((5, 10))
    assert 0 < connect <= 0.3 and 0 < read <= 0.3 and not spent.expired
    gone = Budget(time.monotonic() - 0.01)
    with pytest.raises(DeadlineReached):
        gone.timeouts((5, 10))
    assert gone.expired


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", ["look-up", "trigger"])
def test_a_redirect_is_refused_and_nothing_reaches_the_other_host(emulator, api, status, call):
    emulator.set_faults(script=["redirect"], redirect_status=status)
    orders = Orders(emulator, api)
    e = refused(lambda: orders.look_up(within(5)) if call == "look-up" else orders.trigger(within(5)))
    assert (e.code, e.retryable) == ("Redirected", False)
    assert f"HTTP {status} to localhost" in e.message
    assert emulator.decoy_calls == []                          # the STS token never left for another host
    assert not any(i["Released"] for i in emulator.instances(node=NODE))


def test_an_oversized_answer_is_refused(emulator, api):
    huge = '{"Success": true, "pad": "' + "x" * MAX_ANSWER_BYTES + '"}'
    emulator.set_faults(script=["malformed"], malformed_body=huge)
    e = refused(lambda: Orders(emulator, api).trigger(within(20)))
    assert (e.code, e.retryable) == ("BadResponse", True) and "larger than" in e.message


DEBUG_PROBE = """
import os, sys, time
from dwtrigger import dataworks
from dwtrigger.credentials import RoleKeys, credential_client
from dwtrigger.retry import Deadline

keys = RoleKeys(os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"], os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"])
port = dataworks.adapter("2020-05-18", sys.argv[1], "http", credential_client(keys))
print(port.trigger(10001, "PROD", 700001234567, 1773160200000, 1773072000000, Deadline(time.monotonic() + 10)))
"""


def test_debug_sdk_in_the_environment_prints_no_credential(emulator):
    """In a process of its own, as on FC: the SDK's loggers write to the real stderr, which pytest does not see."""
    env = {**os.environ, **ROLE_KEY, "DEBUG": "sdk"}       # the SDK would print every header it sends
    probe = subprocess.run([sys.executable, "-c", DEBUG_PROBE, emulator.endpoint], capture_output=True, text=True,
                           env=env, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert [c["status"] for c in emulator.calls] == [200]   # the call was made (and would have been printed)
    printed = probe.stdout + probe.stderr
    assert not any(secret in printed for secret in ROLE_KEY.values()), printed
    assert "ACS3-HMAC-SHA256" not in printed and "x-acs-security-token" not in printed


FIRST_CALLS_AT_ONCE = """
import threading
from darabonba.core import DaraCore
from dwtrigger import wire

start, made, errors = threading.Barrier(16), [], []

def first_call():
    start.wait()
    try:
        wire.install()
        made.append(type(DaraCore.get_adapter("https", None, pool_size=4)).__name__)
    except Exception as e:
        errors.append(repr(e))

threads = [threading.Thread(target=first_call) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sorted(set(made)), errors)
"""


def test_sixteen_first_calls_at_once_install_the_guard_once():
    """FC instance concurrency: the first calls of several threads race to put the guard in place."""
    run = subprocess.run([sys.executable, "-c", FIRST_CALLS_AT_ONCE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['GuardedAdapter'] []"
