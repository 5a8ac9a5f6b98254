"""The transport under every product call (wire.py), through the 2020-05-18 adapter and the real SDK against the
emulator: a call never outlasts its budget however its answer is dripped, never follows a redirect (no request
reaches the other host), never hands on an oversized or off-schema answer, and the SDK's debug output never
prints a credential."""
import os
import subprocess
import sys
import time
from datetime import date

import pytest

from conftest import ROLE_KEY
from dwtrigger.credentials import RoleKeys, credential_client
from dwtrigger.dataworks import DataWorksError
from dwtrigger.dataworks.v20200518 import DataWorks20200518
from dwtrigger.retry import Deadline
from dwtrigger.wire import MAX_ANSWER_BYTES, Budget, DeadlineReached

KEYS = RoleKeys(*ROLE_KEY.values())
ORDERS = (10001, "PROD", 700001234567, date(2026, 3, 10))


def adapter(emu) -> DataWorks20200518:
    return DataWorks20200518(emu.endpoint, "http", credential_client(KEYS))


def within(seconds: float) -> Deadline:
    return Deadline(time.monotonic() + seconds)


def refused(call) -> DataWorksError:
    with pytest.raises(DataWorksError) as err:
        call()
    return err.value


def test_a_dripped_answer_is_cut_at_the_budget(emulator):
    emulator.set_faults(script=["drip"], drip_ms=50)          # ~300 bytes: 15 s for a client that waits per read
    started = time.monotonic()
    e = refused(lambda: adapter(emulator).list_instances(*ORDERS, within(0.8)))
    elapsed = time.monotonic() - started
    assert (e.code, e.retryable) == ("DeadlineExceeded", True)
    assert elapsed < 3, elapsed                               # the budget ends it, not the drip


def test_no_call_starts_when_the_budget_is_spent(emulator):
    e = refused(lambda: adapter(emulator).trigger(10001, 700001234567, 1773160200000, 1773072000000, within(-1)))
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
def test_a_redirect_is_refused_and_nothing_reaches_the_other_host(emulator, status, call):
    emulator.set_faults(script=["redirect"], redirect_status=status)
    port = adapter(emulator)
    e = refused(lambda: port.list_instances(*ORDERS, within(5)) if call == "look-up"
                else port.trigger(10001, 700001234567, 1773160200000, 1773072000000, within(5)))
    assert (e.code, e.retryable) == ("Redirected", False)
    assert f"HTTP {status} to localhost" in e.message
    assert emulator.decoy_calls == []                          # the STS token never left for another host
    assert not any(i["Released"] for i in emulator.instances(node=700001234567))


def test_an_oversized_answer_is_refused(emulator):
    huge = '{"Success": true, "pad": "' + "x" * MAX_ANSWER_BYTES + '"}'
    emulator.set_faults(script=["malformed"], malformed_body=huge)
    e = refused(lambda: adapter(emulator).trigger(10001, 700001234567, 1773160200000, 1773072000000, within(20)))
    assert (e.code, e.retryable) == ("BadResponse", True) and "larger than" in e.message


DEBUG_PROBE = """
import os, sys, time
from dwtrigger.credentials import RoleKeys, credential_client
from dwtrigger.dataworks.v20200518 import DataWorks20200518
from dwtrigger.retry import Deadline

keys = RoleKeys(os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"], os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"])
port = DataWorks20200518(sys.argv[1], "http", credential_client(keys))
print(port.trigger(10001, 700001234567, 1773160200000, 1773072000000, Deadline(time.monotonic() + 10)))
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
