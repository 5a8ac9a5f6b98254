"""What crosses the wire to a cloud API: every SDK call bounded by the invocation's deadline, never redirected.

The Alibaba Cloud SDKs send through `requests` with per-read timeouts, which a body dripped one byte at a time
never trips, and darabonba's `Session` follows redirects, carrying `x-acs-security-token` to whatever host the
`Location` names. `install()` makes the adapters those SDKs build `GuardedAdapter`s, which, for calls made inside
`budget()` (the product's; other callers get stock behaviour):
- give a call only the time its budget has: the host name's resolution, the connect (TLS handshake included)
  and every read wait at most for what is left, so together they end by the deadline however the answer is
  dripped. urllib3 resolves names with a bare `getaddrinfo`, which no timeout reaches: a hanging resolver would
  hold the call past the deadline, so the name is resolved in a thread of its own that the call waits for only
  as long as it has, then connected to by address (the name stays the connection's: TLS SNI, the certificate,
  the Host header); a name under `.localhost` is loopback (RFC 6761), asked of no resolver;
- send through an HTTP(S) proxy (HTTP_PROXY, HTTPS_PROXY, which the SDKs honour) under the same guard: requests
  builds its proxy managers with urllib3's stock pools, which would bound nothing; the guarded ones bound the
  connect to the proxy, its CONNECT tunnel and every read alike. A SOCKS proxy (PySocks dials and talks to it
  under per-operation timeouts only) is refused, noted on the Budget, never used;
- refuse every 3xx answer before a redirect could be followed;
- refuse an answer larger than MAX_ANSWER_BYTES (DataWorks' are a few kB);
- hand the call from darabonba's Session straight to that adapter (`GuardedSession`): no cookie jar, hooks or
  redirect machinery between them.
What the adapter saw is noted on the call's Budget, so errors are classified as "deadline" or "redirect" without
reading exception text. `install()` also silences the SDKs' wire loggers: with `DEBUG=sdk` in the environment
they would print the Authorization header and the STS token.
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import socket
import sys
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Optional, Tuple
from urllib.parse import urlsplit

import msgspec
from requests import Session
from requests.adapters import HTTPAdapter
from urllib3 import proxy_from_url
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

MAX_ANSWER_BYTES = 8 * 1024 * 1024
_WIRE_LOGGERS = ("darabonba-core", "alibabacloud-tea", "urllib3")   # DEBUG=sdk prints headers through these


class Budget(msgspec.Struct):
    """One SDK call's time, and what the transport saw while it ran."""
    until: float                       # time.monotonic() by which the call must be over
    expired: bool = False              # the transport stopped the call at `until`
    redirect: Optional[str] = None     # "HTTP 302 to <host>": refused, never followed
    oversized: bool = False            # the answer passed MAX_ANSWER_BYTES
    proxy: Optional[str] = None        # "socks5://<host>:<port>": a proxy refused, never used

    def left(self) -> float:
        return self.until - time.monotonic()

    def timeouts(self, asked) -> tuple:
        """The SDK's (connect, read) timeouts cut to the time left; none left ends the call here."""
        left = self.left()
        if left <= 0:
            self.expired = True
            raise DeadlineReached("the call's time ran out before it was sent")
        connect, read = asked if isinstance(asked, tuple) else (asked, asked)
        return tuple(left if t is None else min(t, left) for t in (connect, read))


def stopped(spent: Optional[Budget]) -> Optional[Tuple[str, str, bool]]:
    """(code, message, retryable) of a call the transport itself ended (a redirect, an oversized answer or a SOCKS
    proxy refused, the deadline reached), else None: this decides before whatever the SDK made of it."""
    if spent is None:
        return None
    if spent.redirect:
        return ("Redirected", f"the service answered {spent.redirect}; redirects are never followed (check the "
                "endpoint and DWTRIGGER_PROTOCOL)", False)
    if spent.proxy:
        return ("ProxyRefused", f"the SOCKS proxy {spent.proxy} (the proxy settings name it) cannot be held to "
                "the invocation's deadline; use an HTTP(S) proxy or none (ALL_PROXY, HTTP_PROXY, HTTPS_PROXY)",
                False)
    if spent.oversized:
        return "BadResponse", f"the answer was larger than {MAX_ANSWER_BYTES} bytes", True
    if spent.expired:
        return "DeadlineExceeded", "the call was stopped at the invocation's deadline", True
    return None


_current: ContextVar[Optional[Budget]] = ContextVar("dwtrigger_wire_budget", default=None)


@contextmanager
def budget(seconds: float) -> Iterator[Budget]:
    """Run SDK calls in this block within `seconds` (every connect and read of them together)."""
    spent = Budget(time.monotonic() + seconds)
    token = _current.set(spent)
    try:
        yield spent
    finally:
        _current.reset(token)


class DeadlineReached(OSError):
    """Raised inside the SDK's transport (an IOError, which the SDK wraps); the Budget records why."""


class Withheld(OSError):
    """An answer the transport will not hand to the SDK (a redirect, an oversized body)."""


class _BudgetedSocket(io.RawIOBase):
    """The response's byte source: each read waits only for the time the call has left.

    It stands in for the socket's own reader (`stock`), which it keeps open until it is closed itself: that
    reference is what keeps http.client from closing the socket under a response still being read."""

    def __init__(self, sock, spent: Budget, stock):
        self._sock, self._spent, self._stock, self._read = sock, spent, stock, 0
        self._per_read = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stock.close()
        super().close()

    def readinto(self, buffer) -> int:
        left = self._spent.left()
        if left <= 0:
            self._spent.expired = True
            raise TimeoutError("the call's time ran out while its answer was being read")
        self._sock.settimeout(left if self._per_read is None else min(left, self._per_read))
        try:
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            self._spent.expired = self._spent.left() <= 0
            raise
        self._read += count
        if self._read > MAX_ANSWER_BYTES:
            self._spent.oversized = True
            raise Withheld(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        return count


class _Response(http.client.HTTPResponse):
    """http.client's response, reading through the call's Budget when one is set."""

    def __init__(self, sock, *args, **kwargs):
        super().__init__(sock, *args, **kwargs)
        spent = _current.get()
        if spent is not None:
            self.fp = io.BufferedReader(_BudgetedSocket(sock, spent, self.fp))


def _resolve(host: str, port, wait: float) -> Optional[list]:
    """getaddrinfo as urllib3 calls it, in a daemon thread waited for at most `wait` seconds: None when it has
    not answered by then (the thread is left to the resolver's own timeout; nothing waits for it)."""
    done, found = threading.Event(), {}

    def run() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, urllib3_connection.allowed_gai_family(),
                                                    socket.SOCK_STREAM)
        except BaseException as e:      # noqa: BLE001 - handed to the caller's thread
            found["error"] = e
        finally:
            done.set()

    threading.Thread(target=run, name=f"dwtrigger-resolve-{host}"[:60], daemon=True).start()
    if not done.wait(wait):
        return None
    if "error" in found:
        raise found["error"]
    return found["addresses"]


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _localhost(host: str) -> bool:
    """A name under `.localhost`: loopback, as RFC 6761 (6.3) says resolvers should answer it and as the system's
    resolver may not. SLS puts the project in the host name (`<project>.<endpoint>`), so an SLS stand-in at
    `localhost:PORT` is reached as `<project>.localhost:PORT`."""
    return host.lower().rstrip(".").endswith(".localhost")


class _Dialing(HTTPConnection):
    """A connection whose name resolution and connect, inside a budget, wait only for the time it has left."""

    response_class = _Response

    def _new_conn(self) -> socket.socket:
        spent = _current.get()
        if spent is None:
            return super()._new_conn()
        host = self._dns_host.strip("[]")
        asked = self.timeout if isinstance(self.timeout, (int, float)) else None     # the SDK's, cut by send()
        try:
            host.encode("idna")
        except UnicodeError:
            raise LocationParseError(f"'{host}', label empty or too long") from None
        try:
            if _literal(host) or _localhost(host):      # answered without asking a resolver
                addresses = socket.getaddrinfo("localhost" if _localhost(host) else host, self.port,
                                               urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM)
            else:
                wait, cut = self._wait(spent, asked, "before its host name was resolved")
                addresses = _resolve(host, self.port, wait)
                if addresses is None:
                    spent.expired = cut or spent.left() <= 0
                    raise ConnectTimeoutError(self, f"Resolving {self.host} timed out. (waited {wait:.3g} s)")
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        sock = self._dial(addresses, spent, asked)
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock

    def _wait(self, spent: Budget, asked: Optional[float], when: str) -> Tuple[float, bool]:
        """How long the next step may take: the connect timeout, cut to the time left (and whether it was cut)."""
        left = spent.left()
        if left <= 0:
            spent.expired = True
            raise ConnectTimeoutError(self, f"Connection to {self.host} ran out of time {when}.")
        return (left, True) if asked is None or left <= asked else (asked, False)

    def _dial(self, addresses: list, spent: Budget, asked: Optional[float]) -> socket.socket:
        """urllib3's create_connection on addresses already resolved, each attempt within the time left; the
        socket is handed on with that time as its timeout, so a TLS handshake after it ends by the deadline."""
        err: Optional[OSError] = None
        for family, kind, proto, _, address in addresses:
            wait, cut = self._wait(spent, asked, "while connecting")
            sock = socket.socket(family, kind, proto)
            try:
                urllib3_connection._set_socket_options(sock, self.socket_options)
                sock.settimeout(wait)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(address)
                sock.settimeout(self._wait(spent, asked, "once connected")[0])
                return sock
            except socket.timeout as e:
                sock.close()
                spent.expired = cut or spent.left() <= 0
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={wait:.3g})") from e
            except ConnectTimeoutError:
                sock.close()
                raise
            except OSError as e:
                sock.close()
                err = e
        if err is None:
            err = OSError("getaddrinfo returns an empty list")
        raise NewConnectionError(self, f"Failed to establish a new connection: {err}") from err


class GuardedConnection(_Dialing, HTTPConnection):
    pass


class GuardedTLSConnection(_Dialing, HTTPSConnection):
    pass


class GuardedPool(HTTPConnectionPool):
    ConnectionCls = GuardedConnection


class GuardedTLSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedTLSConnection


_GUARDED_POOLS = {"http": GuardedPool, "https": GuardedTLSPool}


class GuardedAdapter(HTTPAdapter):
    """A `requests` adapter that bounds each call by its Budget (through a proxy too), refuses redirects and
    oversized answers."""

    def __init__(self, ssl_context=None, **kwargs):
        self._ssl_context = ssl_context            # darabonba's TLS settings (CA bundle, minimum version)
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _GUARDED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        """requests' proxy manager for `proxy`, with the guarded pools (and darabonba's TLS settings) in it before
        any thread can find it; a SOCKS proxy is refused inside a budget."""
        spent = _current.get()
        if spent is not None and proxy.lower().startswith("socks"):
            where = urlsplit(proxy)         # named without its userinfo (a password may be in it)
            spent.proxy = f"{where.scheme}://{where.hostname or '?'}{f':{where.port}' if where.port else ''}"[:100]
            raise Withheld(f"the SOCKS proxy {spent.proxy} cannot be held to the call's deadline")
        manager = self.proxy_manager.get(proxy)
        if manager is None and proxy.lower().startswith("socks"):
            return super().proxy_manager_for(proxy, **proxy_kwargs)     # outside a budget: stock behaviour
        if manager is None:
            if self._ssl_context is not None:
                proxy_kwargs.setdefault("ssl_context", self._ssl_context)
            manager = proxy_from_url(proxy, proxy_headers=self.proxy_headers(proxy), num_pools=self._pool_connections,
                                     maxsize=self._pool_maxsize, block=self._pool_block, **proxy_kwargs)
            manager.pool_classes_by_scheme = _GUARDED_POOLS
            manager = self.proxy_manager.setdefault(proxy, manager)
        return manager

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        spent = _current.get()
        if spent is None:               # not one of ours (e.g. a test driving the SDK directly): stock behaviour
            return super().send(request, stream, timeout, verify, cert, proxies)
        response = super().send(request, stream, spent.timeouts(timeout), verify, cert, proxies)
        if 300 <= response.status_code < 400:
            response.close()
            host = (urlsplit(response.headers.get("location") or "").hostname or "nowhere")[:100]
            spent.redirect = f"HTTP {response.status_code} to {host}"
            raise Withheld(f"{spent.redirect}: redirects are never followed")
        return response


class GuardedSession(Session):
    """darabonba's Session. A call inside a budget goes straight to its adapter, the same request to the same
    adapter, without what `requests.Session.send` wraps around it for nothing here: the redirect machinery (the
    adapter refuses every 3xx before it could be followed), response hooks (darabonba sets none) and the cookie
    jar (filled from every answer, never read: darabonba prepares its requests without the session's cookies)."""

    def send(self, request, **kwargs):
        if _current.get() is None:      # not one of ours: stock behaviour
            return super().send(request, **kwargs)
        kwargs.pop("allow_redirects", None)
        kwargs.setdefault("stream", False)
        response = self.get_adapter(url=request.url).send(request, **kwargs)
        if not kwargs["stream"]:
            response.content            # the body read now, within the budget  # noqa: B018
        return response


_installed = False
_installing = threading.Lock()


def install() -> None:
    """Make the SDKs send through guarded adapters and keep their wire loggers quiet. Idempotent, and safe when
    several threads (FC instance concurrency, the bench) make their first call at once."""
    global _installed
    with _installing:
        if not _installed:
            _install()
            _installed = True


def _install() -> None:
    from darabonba import core
    from darabonba.core import DaraCore

    stock = DaraCore.get_adapter

    def dara_adapter(prefix, tls_min_version=None, pool_size=None):
        made = stock(prefix, tls_min_version, pool_size=pool_size)      # for its TLS context
        return GuardedAdapter(ssl_context=made.ssl_context, pool_maxsize=pool_size or 40)

    DaraCore.get_adapter = staticmethod(dara_adapter)
    core.Session = GuardedSession       # what DaraCore._get_session builds
    DaraCore._sessions.clear()          # sessions cache their adapters: none may predate the guard
    for name in _WIRE_LOGGERS:
        logging.getLogger(name).disabled = True
    if "Tea.core" in sys.modules:
        guard_tea()


def guard_tea() -> None:
    """Tea's transport (alibabacloud-credentials' STS AssumeRole) under the same guard. Tea's core imports aiohttp:
    it is imported, and guarded here, only where a rule assumes a role (credentials.py)."""
    from Tea.core import TeaCore

    if not isinstance(TeaCore.https_adapter, GuardedAdapter):
        TeaCore.http_adapter = GuardedAdapter(pool_connections=10, pool_maxsize=40)
        TeaCore.https_adapter = GuardedAdapter(pool_connections=10, pool_maxsize=40)


def chain(error: BaseException) -> Iterator[BaseException]:
    """The exception and everything under it: causes, contexts, arguments, urllib3's `reason` and the SDKs'
    wrapped `inner_exception`."""
    seen, todo = set(), [error]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__, getattr(e, "inner_exception", None), *getattr(e, "args", ()),
                             getattr(e, "reason", None)) if isinstance(x, BaseException)]


def unreachable(error: BaseException) -> Optional[str]:
    """`host:port` (or "the endpoint") a failed call could not open a connection to — refused, a name that does
    not resolve, no answer to the connect in its time (urllib3's ConnectTimeoutError and its kind, which this
    module raises too) — from the exceptions under it; None when a connection was made or nothing says."""
    found = list(chain(error))
    if not any(isinstance(e, ConnectTimeoutError) for e in found):
        return None
    return next(filter(None, map(peer, found)), "the endpoint")


def peer(e: BaseException) -> Optional[str]:
    """`host:port` of the connection (urllib3's NewConnectionError, or its first argument: a ConnectTimeoutError's)
    or pool (MaxRetryError) an error names."""
    holder = e.conn if hasattr(e, "conn") else getattr(e, "pool", None)     # NewConnectionError.pool is deprecated
    if holder is None and isinstance(e, ConnectTimeoutError) and e.args:
        holder = e.args[0]
    return f"{holder.host}:{holder.port}" if getattr(holder, "host", None) else None
