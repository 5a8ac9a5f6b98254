"""The transport under every product call (wire.py), through each API's adapter and the real SDK against the
emulator: a call never outlasts its budget however its answer is dripped, never follows a redirect (no request
reaches the other host), never hands on an oversized or off-schema answer, and the SDK's debug output never
prints a credential. The budget holds for a host name whose resolver never answers, and through a proxy
(forward_proxy.py) as it does for a direct call."""
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from typing import Optional

import pytest
import urllib3
from urllib3.exceptions import ConnectTimeoutError

from conftest import BOTH_APIS, MIRROR, ROLE_KEY
from dwtrigger import dataworks, oss, wire
from dwtrigger.credentials import RoleKeys, credential_client
from dwtrigger.dataworks import API_2020, DataWorksError
from dwtrigger.oss import OssError
from dwtrigger.retry import Deadline
from dwtrigger.wire import MAX_ANSWER_BYTES, Budget, DeadlineReached
from forward_proxy import Proxy

pytestmark = BOTH_APIS      # each API's adapter and SDK on the transport

KEYS = RoleKeys(*ROLE_KEY.values())
NODE, DAY, BIZ_MS, CYCLE_MS = 700001234567, date(2026, 3, 10), 1773072000000, 1773160200000


class Orders:
    """The orders node's instance of 2026-03-10 through one API's adapter."""

    def __init__(self, emu, api: str, endpoint: Optional[str] = None, protocol: str = "http"):
        self.port = dataworks.adapter(api, endpoint or emu.endpoint, protocol, credential_client(KEYS))
        self.workspace = 10001 if api == API_2020 else MIRROR[10001]

    def look_up(self, deadline):
        return self.port.list_instances(self.workspace, "PROD", NODE, DAY, BIZ_MS, deadline)

    def trigger(self, deadline):
        return self.port.trigger(self.workspace, "PROD", NODE, CYCLE_MS, BIZ_MS, deadline)


# The budget of the calls these tests cut (a drip, a resolver or a peer that never ends would take 15 s and more):
# room for the SDK's own first-call work (its session, a TLS context) on a loaded machine, which it counts too; and
# the longest such a call may take, the budget and the time to raise.
CUT, LATE = 2.0, 4.0


def within(seconds: float) -> Deadline:
    return Deadline(time.monotonic() + seconds)


def refused(call) -> DataWorksError:
    with pytest.raises(DataWorksError) as err:
        call()
    return err.value


def test_an_error_names_where_no_connection_could_be_made(emulator):
    """RemoteError.unreachable: refused, a name that does not resolve, a connect that timed out (a listening port
    whose queue is full never answers the handshake); not a connection that was made and got no answer."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        where = "127.0.0.1:%d" % closed.getsockname()[1]
        e = refused(lambda: Orders(emulator, API_2020, where).look_up(within(5)))
    assert (e.code, e.unreachable) == ("ConnectionError", where)
    e = refused(lambda: Orders(emulator, API_2020, "dataworks.no-such-region.invalid").look_up(within(5)))
    assert (e.code, e.unreachable) == ("ConnectionError", "dataworks.no-such-region.invalid:80")
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        host, port = full.getsockname()
        with socket.create_connection((host, port)), wire.budget(5):        # the queue's one place, taken
            pool = wire.GuardedPool(host, port, timeout=urllib3.Timeout(connect=0.2), retries=False)
            with pytest.raises(ConnectTimeoutError) as timed_out:
                pool.request("GET", "/")
    assert wire.unreachable(timed_out.value) == f"{host}:{port}"
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)                                 # the connection is made, and no answer comes
        e = refused(lambda: Orders(emulator, API_2020, "127.0.0.1:%d" % mute.getsockname()[1]).look_up(within(CUT)))
    assert (e.code, e.unreachable) == ("DeadlineExceeded", None)


def test_a_dripped_answer_is_cut_at_the_budget(emulator, api):
    emulator.set_faults(script=["drip"], drip_ms=50)          # ~300 bytes: 15 s for a client that waits per read
    started = time.monotonic()
    e = refused(lambda: Orders(emulator, api).look_up(within(CUT)))
    elapsed = time.monotonic() - started
    assert (e.code, e.retryable) == ("DeadlineExceeded", True)
    assert elapsed < LATE, elapsed                            # the budget ends it, not the drip


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


NEVER_RESOLVED = "dataworks.invalid.test"         # a name whose resolver never answers (while a test runs)


@pytest.fixture
def resolver(monkeypatch):
    """socket.getaddrinfo that hangs for NEVER_RESOLVED until the test ends (then fails, as a resolver giving up
    would) and answers any other name; yields the (name, thread) of each lookup. Every thread it held is released
    and joined at the end."""
    release, asked, held = threading.Event(), [], []
    stock = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        asked.append((host, threading.current_thread()))
        if host == NEVER_RESOLVED:
            held.append(threading.current_thread())
            release.wait(20)                                # far past any budget here: only the test's end
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return stock(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield asked
    release.set()
    others = [thread for thread in held if thread is not threading.current_thread()]
    for thread in others:
        thread.join(5)
    assert not any(thread.is_alive() for thread in others)


def endpoint(server, host: str) -> str:
    return f"{host}:{server.endpoint.rsplit(':', 1)[1]}"


def test_a_resolver_that_never_answers_is_cut_at_the_budget(emulator, api, resolver):
    orders = Orders(emulator, api, endpoint(emulator, NEVER_RESOLVED))
    started = time.monotonic()
    e = refused(lambda: orders.look_up(within(CUT)))
    elapsed = time.monotonic() - started
    assert (e.code, e.retryable) == ("DeadlineExceeded", True)
    assert elapsed < LATE, elapsed                            # not the resolver's own give-up (20 s here)
    assert [host for host, _ in resolver] == [NEVER_RESOLVED] and emulator.calls == []


def test_a_host_name_is_resolved_within_the_budget_and_kept_for_the_call(emulator, api, resolver):
    """localhost resolves (off the caller's thread, so its wait can be cut) and the call goes to its address with
    the name kept: the signed Host header still matches what the emulator verifies."""
    Orders(emulator, api, endpoint(emulator, "localhost")).look_up(within(10))
    assert [c["status"] for c in emulator.calls] == [200]
    assert [host for host, _ in resolver] == ["localhost"]
    assert all(thread is not threading.current_thread() for _, thread in resolver)


def test_a_name_under_localhost_is_loopback_asked_of_no_resolver_and_kept_for_the_call(emulator, api, resolver):
    """RFC 6761: `<anything>.localhost` is the loopback address (SLS puts its project in the host name: the SLS
    stand-in is reached so); the name is kept, so the signed Host header is the one the emulator verifies."""
    Orders(emulator, api, endpoint(emulator, "dwtrigger-logs.localhost")).look_up(within(10))
    assert [c["status"] for c in emulator.calls] == [200]
    assert [host for host, _ in resolver] == ["localhost"]          # not the name itself, not on another thread
    assert all(thread is threading.current_thread() for _, thread in resolver)


def test_an_oss_call_to_a_name_that_never_resolves_is_cut_at_the_budget(oss_standin, resolver):
    store = oss.store("cn-shanghai", endpoint(oss_standin, NEVER_RESOLVED), "http", False, KEYS)
    started = time.monotonic()
    with pytest.raises(OssError) as err:
        store.read("etl-landing", "absent.json", within(CUT))
    assert (err.value.code, err.value.retryable) == ("DeadlineExceeded", True)
    assert time.monotonic() - started < LATE and oss_standin.calls == []


PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                   "no_proxy")


@pytest.fixture
def proxy(monkeypatch):
    """A forward proxy that HTTP_PROXY and HTTPS_PROXY name; nothing exempts loopback from it (no NO_PROXY)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with Proxy() as running:
        monkeypatch.setenv("HTTP_PROXY", running.url)
        monkeypatch.setenv("HTTPS_PROXY", running.url)
        yield running


def test_a_call_through_a_proxy_goes_through_it(emulator, api, proxy):
    Orders(emulator, api).trigger(within(10))
    assert [c["status"] for c in emulator.calls] == [200]
    assert [(method, target.split("?")[0]) for method, target in proxy.seen] == [("POST", f"{emulator.url}/")]


def recorded(server, count: int) -> int:
    """How many calls `server` recorded, once it has `count` or after 10 s: a proxy forwards on its own thread,
    which a loaded machine may run after the client has given up."""
    give_up = time.monotonic() + 10
    while len(server.calls) < count and time.monotonic() < give_up:
        time.sleep(0.01)
    return len(server.calls)


def test_a_proxy_that_drips_its_answer_is_cut_at_the_budget(emulator, api, proxy):
    proxy.drip_s = 0.05                                       # ~20 s to pass the answer on a byte at a time
    started = time.monotonic()
    e = refused(lambda: Orders(emulator, api).look_up(within(CUT)))
    elapsed = time.monotonic() - started
    assert (e.code, e.retryable) == ("DeadlineExceeded", True)
    assert elapsed < LATE, elapsed
    assert len(proxy.saw(1)) == 1 and recorded(emulator, 1) == 1   # it was the proxy's drip that the budget cut


def test_a_proxy_tunnel_that_drips_its_connect_answer_is_cut_at_the_budget(emulator, api, proxy):
    """HTTPS through the proxy: the CONNECT answer's reads count against the budget too. The tunnel never opens,
    so the endpoint's name is never resolved nor reached."""
    proxy.drip_s = 0.05
    orders = Orders(emulator, api, "dataworks.tunnelled.test", protocol="https")
    started = time.monotonic()
    e = refused(lambda: orders.look_up(within(CUT)))
    assert (e.code, e.retryable) == ("DeadlineExceeded", True)
    assert time.monotonic() - started < LATE
    assert proxy.saw(1) == [("CONNECT", "dataworks.tunnelled.test:443")]


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_through_a_proxy_is_refused(emulator, api, proxy, status):
    emulator.set_faults(script=["redirect"], redirect_status=status)
    e = refused(lambda: Orders(emulator, api).trigger(within(5)))
    assert (e.code, e.retryable) == ("Redirected", False)
    assert len(proxy.seen) == 1 and emulator.decoy_calls == []


def test_a_socks_proxy_is_refused_and_never_dialled(emulator, monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "socks5h://user:secret@127.0.0.1:9")       # nothing listens on port 9
    e = refused(lambda: Orders(emulator, API_2020).trigger(within(5)))
    assert (e.code, e.retryable) == ("ProxyRefused", False)
    assert "socks5h://127.0.0.1:9" in e.message and "secret" not in e.message
    assert emulator.calls == []


def test_an_oss_call_through_a_proxy_goes_through_it_and_its_drip_is_cut(oss_standin, proxy):
    store = oss.store("cn-shanghai", oss_standin.endpoint, "http", False, KEYS)
    assert store.read("etl-landing", "absent.json", within(10)) is None
    assert proxy.seen == [("GET", f"{oss_standin.url}/etl-landing/absent.json")]
    proxy.drip_s = 0.05
    started = time.monotonic()
    with pytest.raises(OssError) as err:
        store.read("etl-landing", "absent.json", within(CUT))
    assert (err.value.code, err.value.retryable) == ("DeadlineExceeded", True)
    assert time.monotonic() - started < LATE and len(proxy.saw(2)) == 2


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


def test_a_streamed_call_inside_a_budget_is_handed_back_unread(emulator):
    """darabonba's sync server-sent-events path asks its session for a stream: the guarded session leaves the body
    to the caller (read within the budget as it comes), as requests' own session does; any other call is read."""
    import requests
    from darabonba.core import DaraCore

    wire.install()
    session = DaraCore._get_session(session_key=f"test-stream-{emulator.endpoint}", protocol="http", pool_size=2)
    assert isinstance(session, wire.GuardedSession)
    request = requests.Request("GET", f"{emulator.url}/_decoy/stream").prepare()
    with wire.budget(5):
        streamed = session.send(request, stream=True, timeout=(5, 5))
        read = session.send(request, timeout=(5, 5))
    assert (streamed._content_consumed, read._content_consumed) == (False, True)
    assert streamed.json() == read.json() == {"RequestId": "decoy", "Success": True}
