"""How a command reaches DataWorks and OSS: the cloud, an endpoint of the operator's choosing, or a local
`dwtrigger emulator` — the last by one option (`--emulator URL` or DWTRIGGER_EMULATOR) that every command calling
out shares (`reaching`). Keys are checked before anything is sent (`require_keys`), and failed attempts are shown as
they happen with their likely cause (`Watch`), so a wrong endpoint is never a minute of silence, and an endpoint
that cannot be reached stops the command with one message instead of costing every record its retries. `When` is
the time a command runs as (--now), read the same way by every command.
"""
from __future__ import annotations

import errno
import functools
import json
import os
import socket
import ssl
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional
from urllib.parse import urlsplit

import click
import yaml

from ..credentials import ENV_ID, ENV_SECRET, ENV_TOKEN, MissingCredentials, read_keys
from ..relay import UNREACHED_AFTER, Silence
from ..retry import RemoteError
from ..settings import ENDPOINT, OSS_ENDPOINT, PROTOCOL, STS_ENDPOINT

# The commands' own variables (the functions' are settings.py's, which the commands read through `Settings`).
EMULATOR_ENV = "DWTRIGGER_EMULATOR"
MNS_ENV = "DWTRIGGER_MNS_ENDPOINT"
SLS_ENV = "DWTRIGGER_SLS_ENDPOINT"
EMULATOR_URL = "http://127.0.0.1:8765"      # where `dwtrigger emulator` serves unless told --port


class When(click.ParamType):
    """An ISO 8601 time with a UTC offset (Z for UTC): the workspace zone decides dates, never this machine's."""
    name = "TIME"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time: write e.g. 2026-03-12T09:00:00+08:00 (Z for UTC)",
                      param, ctx)
        if moment.tzinfo is None:
            self.fail(f"{value!r} needs a UTC offset, e.g. 2026-03-12T09:00:00+08:00 (Z for UTC)", param, ctx)
        return moment


class Refused(click.ClickException):
    """Something the operator can fix before anything is sent: one sentence, exit 2."""
    exit_code = 2


def oss_port(port: int) -> int:
    """Where `dwtrigger emulator` serves its OSS stand-in: the port after its DataWorks port."""
    return port + 1


def mns_port(port: int) -> int:
    """Where `dwtrigger emulator` serves its MNS stand-in: two ports after its DataWorks port."""
    return port + 2


def reaching(command: Callable) -> Callable:
    """--emulator, --endpoint and --protocol for a command that calls DataWorks (or OSS); the command gets
    `environ`: the process environment with them applied (see `environment`)."""
    @click.option("--emulator", envvar=EMULATOR_ENV, metavar="URL", show_envvar=True,
                  help="A local `dwtrigger emulator` (the URL it printed): sets the endpoint, http, its OSS "
                       "stand-in, and the demo seed's key unless ALIBABA_CLOUD_ACCESS_KEY_ID is set.")
    @click.option("--endpoint", metavar="HOST[:PORT]", help="DataWorks endpoint (overrides the rules).")
    @click.option("--protocol", type=click.Choice(["https", "http"]), help="http only for a local server.")
    @functools.wraps(command)
    def with_environ(*args, emulator, endpoint, protocol, **kwargs):
        return command(*args, environ=environment(os.environ, emulator, endpoint, protocol), **kwargs)
    return with_environ


def environment(base: Mapping[str, str], emulator: Optional[str], endpoint: Optional[str] = None,
                protocol: Optional[str] = None) -> Dict[str, str]:
    """`base` with the endpoint and protocol asked for, or everything that points at an emulator."""
    environ = dict(base)
    if emulator and (endpoint or protocol):
        if _from_command_line("emulator"):
            raise Refused("--emulator names the endpoint and protocol: give it or --endpoint/--protocol, not both")
        raise Refused(f"{EMULATOR_ENV} is set and names the endpoint and protocol: unset it to use "
                      "--endpoint/--protocol")
    if not emulator:
        environ.update({k: v for k, v in ((ENDPOINT, endpoint), (PROTOCOL, protocol)) if v})
        return environ
    host, port = _host_port(emulator)
    environ.update({ENDPOINT: f"{host}:{port}", PROTOCOL: "http", STS_ENDPOINT: f"http://{host}:{port}",
                    OSS_ENDPOINT: f"{host}:{oss_port(port)}", MNS_ENV: f"{host}:{mns_port(port)}",
                    EMULATOR_ENV: f"http://{host}:{port}"})
    if not environ.get(ENV_ID):
        key = demo_key()
        environ.update({ENV_ID: key["access_key_id"], ENV_SECRET: key["access_key_secret"],
                        ENV_TOKEN: key.get("security_token") or ""})
    return environ


def demo_key() -> Dict[str, str]:
    """The demo seed's first key: the development key of an emulator started without --seed."""
    from .emulator import DEFAULT_SEED

    return yaml.safe_load(DEFAULT_SEED.read_text())["keys"][0]


def clock(environ: Mapping[str, str]) -> Callable[[], datetime]:
    """The clock a command runs by: this machine's, or when it reaches an emulator the emulator's, whose world may
    be in another month. Read once, then run as the emulator's runs: still when fixed (the demo seed's is), else on
    with real time. One reading keeps a command's decisions, ledger stamps, sweep and judgement on one time line,
    at the cost of one request; a clock moved by hand during a command counts from the next command."""
    url = environ.get(EMULATOR_ENV)
    if not url:
        return lambda: datetime.now(timezone.utc)
    told = ask_emulator(url, "GET", "/_admin/clock")
    now = datetime.fromisoformat(told["now"])
    if told["fixed"]:
        return lambda: now
    offset = now - datetime.now(timezone.utc)
    return lambda: datetime.now(timezone.utc) + offset


def ask_emulator(url: str, method: str, path: str, data: Optional[bytes] = None,
                 part: Optional[Callable[[int], int]] = None, headers: Optional[Dict[str, str]] = None) -> Any:
    """The JSON answer of an admin route of the emulator at `url` (of its OSS or MNS stand-in with `part` oss_port or
    mns_port): one sentence, exit 2, when nothing answers there or the route refuses."""
    import urllib.error
    import urllib.request      # only when an emulator is reached: the command line starts without it

    host, port = _host_port(url)
    where = f"http://{host}:{part(port) if part else port}"
    request = urllib.request.Request(where + path, data=data, method=method, headers=headers or {})
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))     # loopback: never through a proxy
    try:
        with direct.open(request, timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as e:
        with e:
            said = e.read().decode("utf-8", "replace")
        try:
            said = json.loads(said)["error"]
        except (ValueError, KeyError, TypeError):
            said = f"HTTP {e.code}"
        raise Refused(f"the emulator at {url} refused: {said}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Refused(f"no emulator answers at {url} ({getattr(e, 'reason', e)}): start one with `dwtrigger "
                      f"emulator`, or name the one running with --emulator URL or {EMULATOR_ENV}") from None


def _host_port(url: str) -> tuple:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname or port is None or parts.path.strip("/"):
        raise Refused(f"--emulator {url!r}: give the URL `dwtrigger emulator` printed, e.g. http://127.0.0.1:8765")
    return parts.hostname, port


def _from_command_line(name: str) -> bool:
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def require_keys(environ: Mapping[str, str]) -> None:
    """Refuse before anything is sent when this machine has no keys, saying what fits a laptop."""
    try:
        read_keys(None, environ)
    except MissingCredentials:
        raise Refused(f"no credentials: set {ENV_ID} and {ENV_SECRET} (and {ENV_TOKEN} for STS keys) to an "
                      "identity that deploy/ram/dataworks.json allows, or reach a local emulator with --emulator "
                      f"URL (or {EMULATOR_ENV}), as `dwtrigger emulator` prints") from None


class Watch:
    """The command line's retry observer (retry.with_retries) and its view of DataWorks' endpoints: each failed
    attempt on stderr as it happens, the likely cause of a transport failure the first time it is seen, and one
    relay.Silence for the whole command, which every invocation it makes shares: once an endpoint is known down
    (no connection could be made UNREACHED_AFTER times in a row, or it gave no answer to decisions in a row) it is
    not asked again, and a command that works through records or dates stops (`stopped`) rather than spend
    minutes of retries on each. `label` names what is being decided."""

    def __init__(self, environ: Mapping[str, str]):
        self.label = ""
        self.causes: List[str] = []
        self._emulator = bool(environ.get(EMULATOR_ENV))
        self.silence = Silence(UNREACHED_AFTER)

    def __call__(self, attempt: int, error: RemoteError, retry_in: Optional[float]) -> None:
        if retry_in is not None:
            click.echo(f"{self.label}: attempt {attempt} failed ({error.code}); retrying in {retry_in:.2f} s",
                       err=True)
        elif error.unreachable and any(self.silence.unreached(e) is error for e in self.silence.downed()):
            click.echo(f"{self.label}: attempt {attempt} failed ({error.code}); not retried: no connection could be "
                       f"made {UNREACHED_AFTER} times in a row", err=True)
        elif error.retryable:
            click.echo(f"{self.label}: attempt {attempt} failed ({error.code}); no time left to retry "
                       "(--timeout)", err=True)
        cause = likely_cause(error, self._emulator)
        if cause and cause not in self.causes:
            self.causes.append(cause)
            click.echo(f"  likely: {cause}", err=True)

    def stopped(self) -> Optional[str]:
        """Why DataWorks is no longer asked, naming the endpoint; None while every endpoint is."""
        return self.silence.why()

    def recap(self, left: str = "") -> None:
        """After the decisions and the summary they may have scrolled away: why DataWorks was no longer asked, if
        so (with `left`, what that left undone), then the likely causes again."""
        stopped = self.stopped()
        if stopped:
            click.echo(f"stopped: {stopped}" + (f"; {left}" if left else ""), err=True)
        for cause in self.causes:
            click.echo(f"likely: {cause}", err=True)


def likely_cause(error: RemoteError, emulator: bool = False) -> Optional[str]:
    """What an operator should check, from the exceptions under a failed call (None when nothing is known)."""
    if emulator and error.code.startswith("InvalidAccessKeyId"):
        return (f"the emulator knows only its seed's keys: unset {ENV_ID} to use the demo seed's key, or set one "
                "of the seed's keys")
    from ..wire import chain as causes, peer         # urllib3: only when a call failed

    chain = list(causes(error))
    where = next(filter(None, map(peer, chain)), "the endpoint")
    for e in chain:
        if isinstance(e, ssl.SSLError) and getattr(e, "reason", None) == "WRONG_VERSION_NUMBER":
            return (f"{where} speaks plain http, not https: reach a local emulator with --emulator "
                    f"http://{where if where != 'the endpoint' else 'HOST:PORT'} (or add --protocol http)")
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return (f"nothing accepts connections at {where}: is the endpoint right (--endpoint, --emulator, "
                    "DWTRIGGER_ENDPOINT, the rule's endpoint or region), and is the emulator running "
                    "(`dwtrigger emulator`)?")
        if isinstance(e, socket.gaierror):
            return (f"the host name of {where} does not resolve: check --endpoint, DWTRIGGER_ENDPOINT, or the "
                    "rule's endpoint and region")
    if error.unreachable:           # the connect timed out, or failed otherwise
        return (f"no connection could be made to {where}: is the endpoint right (--endpoint, --emulator, "
                "DWTRIGGER_ENDPOINT, the rule's endpoint or region), and does this machine reach it (a firewall, a "
                "proxy, a VPC endpoint from outside its VPC)?")
    return None
