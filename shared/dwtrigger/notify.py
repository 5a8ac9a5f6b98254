"""The channels a notice reaches a person through: a DingTalk custom robot and a generic webhook, each signed.

A channel's URL and secret are read from the environment variables the rules file names, when a notice is sent
(a missing one fails that delivery, named, not the function). Every value they hold is added to what is scrubbed
from every line (`secrets`): the DingTalk webhook's access token is in its query string.

- DingTalk: POST `{"msgtype": "markdown", "markdown": {"title", "text"}}` to the webhook URL plus `timestamp`
  (epoch ms) and `sign` = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))), as DingTalk documents
  for a robot with "加签" (signing). A 200 whose JSON `errcode` is not 0 is a refusal: 130101 (more than 20
  messages a minute) and -1 (busy) are worth another try, 310000 (signature, keywords or IP allow-list) is not.
- webhook: POST the JSON `Message.body` with `X-Dwtrigger-Timestamp: UNIX_SECONDS` and `X-Dwtrigger-Signature:
  v1=HEX`, HEX = HMAC-SHA256(secret, "v1\\n" + TIMESTAMP + "\\n" + hex(SHA-256(body))) — `on: http`'s scheme.

Over HTTPS (http only to a loopback address, for a local receiver), through wire.py's guarded connections within
the delivery's deadline (name resolution, connect and every read together), never redirected, the answer read up
to MAX_ANSWER bytes. Errors are NoticeErrors, classified once: 5xx, 429, timeouts and failed connections are
retryable; other 4xx, a redirect, a bad or plain-http URL and a missing variable are not. No error text names the
URL (urllib3's would, token included): each says what happened in its own words.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, quote_plus, urlsplit

import msgspec

from . import signing
from .redact import clean
from .retry import MIN_CALL_S, Backoff, Deadline, GaveUp, NoTimeLeft, RemoteError, with_retries
from .rule import Channel, Rule

MAX_ANSWER = 64 * 1024        # a receiver's answer is a few bytes: more is read no further
CONNECT_S, READ_S = 5.0, 10.0
RETRY_AFTER_MAX_S = 30.0
URL_FIELDS = {"dingtalk": "webhook_env", "webhook": "url_env"}
TITLES = {"overdue": "overdue", "released_late": "released late", "stuck": "stuck"}


class NoticeError(RemoteError):
    """A delivery to a channel that failed: `retryable` says whether another attempt may take it."""


@dataclass(frozen=True)
class Message:
    """What a notice says; `body` is the webhook's JSON, in the order PRODUCT.md gives its fields."""
    kind: str
    rule: str
    workspace: int
    node: int
    biz_date: str                 # YYYY-MM-DD
    cycle_time: Optional[str]     # local ISO, the workspace's zone
    reason: str
    sent_at: str                  # local ISO, the workspace's zone

    def body(self) -> bytes:
        return json.dumps({"kind": self.kind, "rule": self.rule, "workspace": self.workspace, "node": self.node,
                           "biz_date": self.biz_date, "cycle_time": self.cycle_time, "reason": self.reason,
                           "sent_at": self.sent_at}, ensure_ascii=False, separators=(",", ":")).encode()

    def markdown(self) -> Dict[str, str]:
        title = f"dwtrigger {TITLES[self.kind]}: {self.rule} node {self.node} {self.biz_date}"
        text = (f"#### {title}\n\n- rule: {self.rule}\n- workspace: {self.workspace}\n- node: {self.node}\n"
                f"- business date: {self.biz_date}\n- scheduled: {self.cycle_time or '-'}\n\n{self.reason}\n\n"
                f"sent at {self.sent_at}")
        return {"title": title, "text": text}


def secrets(rules: Iterable[Rule], environ: Mapping[str, str]) -> Tuple[str, ...]:
    """Every value of the channels' variables that must never be written, and the parts of their URLs that carry
    a token (query values, long path segments, the path and query together)."""
    found = set()
    for rule in rules:
        for channel in rule.notify.channels if rule.notify else ():
            secret, url = environ.get(channel.secret_env), environ.get(channel.url_env)
            found.add(secret or "")
            if url:
                parts = urlsplit(url)
                found |= {url, f"{parts.path}?{parts.query}", parts.query} if parts.query else {url}
                found |= {value for _, value in parse_qsl(parts.query)}
                found |= {segment for segment in parts.path.split("/") if len(segment) >= 16}
    return tuple(sorted(value for value in found if value))


def deliver(channel: Channel, message: Message, environ: Mapping[str, str], deadline: Deadline, backoff: Backoff,
            sleep: Callable[[float], None], epoch: Callable[[], float] = time.time
            ) -> Tuple[Optional[RemoteError], int]:
    """(None, attempts) once the channel took the message, else (the last error, attempts), retried within the
    deadline while the error says it may be. `epoch`: the wall clock the signature's timestamp is read from."""
    try:
        url, secret = settings(channel, environ)
    except NoticeError as e:
        return e, 0
    send = _SENDERS[channel.name]
    try:
        return None, with_retries(lambda attempt: send(url, secret, message, deadline, epoch), deadline, backoff,
                                  sleep)[1]
    except GaveUp as e:
        return e.error or NoticeError("DeadlineExceeded", "no time was left to send it", retryable=True), e.attempts


def settings(channel: Channel, environ: Mapping[str, str]) -> Tuple[str, str]:
    """The channel's URL and secret from the environment, the URL checked (https, or http to a loopback address)."""
    field = URL_FIELDS[channel.name]
    for name, what in ((channel.url_env, field), (channel.secret_env, "secret_env")):
        if not environ.get(name):
            raise NoticeError("MissingSetting", f"the environment variable {name} (notify.{channel.name}.{what}) is "
                                                "not set in the function's environment", retryable=False)
    url = environ[channel.url_env]
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme.lower() not in ("https", "http") or not host:
        raise NoticeError("BadUrl", f"{channel.url_env} does not hold an https:// URL", retryable=False)
    if parts.scheme.lower() == "http" and not _loopback(host):
        raise NoticeError("InsecureUrl", f"{channel.url_env} holds an http:// URL to another machine: notices go "
                                         "over https (http only to a loopback address)", retryable=False)
    return url, environ[channel.secret_env]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


# ---- the two channels -------------------------------------------------------------------------------------------

class _DingTalkAnswer(msgspec.Struct):
    errcode: int
    errmsg: str = ""


_DINGTALK_ANSWER = msgspec.json.Decoder(_DingTalkAnswer)      # built at import (dataworks/openapi.py says why)


DINGTALK_RETRY = frozenset({-1, 130101})       # busy; more than 20 messages a minute
_DINGTALK_HINTS = {310000: " (the robot's security settings refused it: check its signing secret, keywords or IP "
                           "allow-list)",
                   300001: " (the webhook's access token is not valid: check the webhook URL)"}


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's `sign` query value for `timestamp` (epoch ms, as text), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def _dingtalk(url: str, secret: str, message: Message, deadline: Deadline, epoch: Callable[[], float]) -> None:
    timestamp = str(int(epoch() * 1000))
    signed = f"{url}{'&' if urlsplit(url).query else '?'}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    body = json.dumps({"msgtype": "markdown", "markdown": message.markdown()}, ensure_ascii=False).encode()
    answer = _post(signed, body, {"Content-Type": "application/json;charset=utf-8"}, deadline)
    try:
        said = _DINGTALK_ANSWER.decode(answer)
    except msgspec.DecodeError:
        raise NoticeError("BadResponse", "DingTalk's answer is not its JSON {errcode, errmsg}",
                          retryable=True) from None
    if said.errcode != 0:
        raise NoticeError(f"DingTalk.{said.errcode}", f"DingTalk refused the message: errcode {said.errcode} "
                          f"({clean(said.errmsg, 100)}){_DINGTALK_HINTS.get(said.errcode, '')}",
                          retryable=said.errcode in DINGTALK_RETRY)


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Dwtrigger-Signature` value: v1=HEX, HEX = HMAC-SHA256(secret, "v1\\n" + TIMESTAMP + "\\n" +
    hex(SHA-256(body)))."""
    return signing.sign(secret, (timestamp,), body)


def _webhook(url: str, secret: str, message: Message, deadline: Deadline, epoch: Callable[[], float]) -> None:
    timestamp, body = str(int(epoch())), message.body()
    _post(url, body, {"Content-Type": "application/json", "X-Dwtrigger-Timestamp": timestamp,
                      "X-Dwtrigger-Signature": webhook_signature(secret, timestamp, body)}, deadline)


_SENDERS = {"dingtalk": _dingtalk, "webhook": _webhook}


# ---- the wire ---------------------------------------------------------------------------------------------------

def _post(url: str, body: bytes, headers: Dict[str, str], deadline: Deadline) -> bytes:
    """The answer's body (at most MAX_ANSWER bytes) to a POST that got a 2xx; raises NoticeError."""
    import urllib3
    from urllib3 import exceptions

    from . import wire

    left = deadline.left()
    if left < MIN_CALL_S:      # the deadline's, not the channel's: the notice ends with the channel's last error
        raise NoTimeLeft("no time was left to send it")
    parts = urlsplit(url)
    secure = parts.scheme.lower() == "https"
    extra = {"ca_certs": _ca_bundle()} if secure else {}
    pool = (wire.GuardedTLSPool if secure else wire.GuardedPool)(
        parts.hostname, parts.port, maxsize=1, retries=False,
        timeout=urllib3.Timeout(connect=min(CONNECT_S, left), read=min(READ_S, left)), **extra)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with wire.budget(left) as spent:
            try:
                response = pool.urlopen("POST", target, body=body, headers={"User-Agent": "dwtrigger", **headers},
                                        redirect=False, retries=False, preload_content=False, assert_same_host=False)
                try:
                    status, answer = response.status, response.read(MAX_ANSWER)
                    retry_after = response.headers.get("Retry-After")
                finally:
                    response.release_conn()
            except (exceptions.HTTPError, OSError) as e:
                raise _transport(e, spent, exceptions) from None
    finally:
        pool.close()
    if 200 <= status < 300:
        return answer
    if 300 <= status < 400:
        raise NoticeError("Redirected", f"the channel answered HTTP {status}; redirects are never followed (check "
                                        "the URL)", retryable=False, status=status)
    said = clean(answer.decode("utf-8", "replace"), 100)
    message = f"the channel answered HTTP {status}" + (f": {said}" if said else "")
    if status == 429 or status >= 500:
        raise NoticeError("Throttled" if status == 429 else "ServerError", message, retryable=True, status=status,
                          retry_after_s=_seconds(retry_after))
    raise NoticeError("Refused", message, retryable=False, status=status)


def _transport(e: BaseException, spent, exceptions) -> NoticeError:
    """The failure of a call that got no answer, in words of our own (urllib3's text names the URL)."""
    from . import wire

    if spent.expired:
        return NoticeError("DeadlineExceeded", "the call was stopped at its deadline", retryable=True)
    found = list(wire.chain(e))
    if any(isinstance(x, exceptions.SSLError) for x in found):
        return NoticeError("TlsError", "the TLS handshake failed (the certificate could not be verified)",
                           retryable=False)
    if any(isinstance(x, exceptions.LocationParseError) for x in found):
        return NoticeError("BadUrl", "the URL's host could not be read", retryable=False)
    if any(isinstance(x, exceptions.NameResolutionError) for x in found):
        return NoticeError("ConnectionError", "the host name did not resolve", retryable=True)
    if any(isinstance(x, exceptions.NewConnectionError) for x in found):      # one of urllib3's connect timeouts
        return NoticeError("ConnectionError", "the connection was refused", retryable=True)
    if any(isinstance(x, (exceptions.ConnectTimeoutError, exceptions.ReadTimeoutError, TimeoutError))
           for x in found):
        return NoticeError("Timeout", "no answer in time", retryable=True)
    return NoticeError("ConnectionError", f"the connection failed ({type(e).__name__})", retryable=True)


def _seconds(value: Optional[str]) -> Optional[float]:
    """A Retry-After in seconds (capped), None when it is not a number."""
    try:
        return min(RETRY_AFTER_MAX_S, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def _ca_bundle() -> Optional[str]:
    try:
        import certifi
    except ImportError:          # the system's store, as urllib3 would
        return None
    return certifi.where()
