"""Signed HTTP calls (`on: http`): an upstream outside the cloud POSTs to the http function's FC HTTP trigger.

The call: `{"rule", "bizdate": "YYYY-MM-DD" | "cycle": "YYYY-MM-DD HH:MM" (local, the rule's zone), "request_id"}`
with `X-Dwtrigger-Caller`, `X-Dwtrigger-Timestamp` (UNIX seconds) and `X-Dwtrigger-Signature: v1=HEX` over
(METHOD, PATH, TIMESTAMP) and the body (signing.py; PATH the event's `rawPath`, the body the raw bytes, base64-decoded
when `isBase64Encoded`). The trigger is `authType: anonymous` because `admit` checks every call, in this order, each
refusal one `rejected` decision with its reason and the status the handler answers (`answer`):

  body over 16 KiB, or not bytes FC could hand over         400
  a header missing; a caller no rule lists; a timestamp
  outside +-300 s of the wall clock; a wrong signature      401   (the caller's secret: its `secret_env`, read now)
  the body not exactly that JSON                            400
  no `on: http` rule of that name; the rule lists not the
  caller                                                    403
  the request_id used within 10 min with another body       409

A call that passes is an event like any other: the relay releases the rule's nodes for the date it names (200 with
the decision records; 502 with them when one `failed`, so the caller retries: releases are idempotent).

The request_id memory: per FC instance (`memory`) and, when the rule has a `ledger`, in it
(`requests/<rule>/<sha256(request_id)>.json`, `ledger.Request`), so instances agree. One record holds the body's
SHA-256 and when it was first seen, created only if absent BEFORE the release is decided: a crash after it leaves
a record that only the same body passes (decided again), never a request id without its body; a crash before it
leaves nothing, and nothing was released. A record older than 10 min is overwritten by the next use. A ledger that
cannot be read leaves the instance's memory to judge (the release's own ledger use then fails it, 502).
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import msgspec

from .. import rulefile
from ..events import NOT_JSON, Event, Invalid, Parsed, Rejected, lookup, not_for, shallow_json
from ..rule import Rule
from . import Captures, Source

MAX_BODY = 16 * 1024
SKEW_S = 300                    # a timestamp this far from the wall clock, or nearer, is taken
REUSE = timedelta(minutes=10)   # a request_id names one body for this long
CALLER, TIMESTAMP, SIGNATURE = "X-Dwtrigger-Caller", "X-Dwtrigger-Timestamp", "X-Dwtrigger-Signature"
UNAUTHORIZED, FORBIDDEN, CONFLICT = "Unauthorized", "Forbidden", "Conflict"     # a rejection's `error_code`
STATUS = {UNAUTHORIZED: 401, FORBIDDEN: 403, CONFLICT: 409}                     # any other rejection: 400
_MEMORY_SIZE = 4096             # request ids one instance remembers before it forgets the expired
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_CYCLE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}\Z")


@dataclass(frozen=True)
class Caller:
    name: str
    secret_env: str


@dataclass(frozen=True, kw_only=True)
class HttpRule(Rule):
    on: str = dataclasses.field(default="http", init=False)
    callers: Tuple[Caller, ...]


class CallerSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    secret_env: str


class Http(rulefile.Source, tag="http"):
    callers: Optional[List[CallerSpec]] = None


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """What a caller POSTs."""
    rule: str
    request_id: str
    bizdate: Optional[str] = None
    cycle: Optional[str] = None


_BODY = msgspec.json.Decoder(Body)       # built at import (dataworks/openapi.py says why)


@dataclass(frozen=True)
class Request(Event):
    """An HTTP call as FC hands it over: what `admit` checks (never logged: the signature stays here)."""
    method: str = ""
    path: str = ""
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)   # lower-case names
    raw: bytes = b""


# ---- the event ----

def _parse(doc: object, received_at: datetime) -> List[Parsed]:
    """An FC 3.0 HTTP trigger event (docs/reference.md: its headers' names canonicalised, multi-values joined)."""
    if not isinstance(doc, dict) or _shape(doc) is None:
        raise not_for("http", doc)
    body = doc.get("body") or ""
    if not isinstance(body, str):
        raise Invalid("field 'body' is not a string")
    try:
        raw = base64.b64decode(body, validate=True) if doc.get("isBase64Encoded") is True else body.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        raise Invalid("the body is not valid base64 (isBase64Encoded) or not UTF-8 text") from None
    context_id = lookup(doc, "requestContext.requestId")
    event_id = context_id if isinstance(context_id, str) and context_id else "sha256:" + hashlib.sha256(
        raw).hexdigest()[:32]
    if len(raw) > MAX_BODY:
        return [Rejected("http", f"the body is {len(raw)} bytes, over the {MAX_BODY}-byte limit", event_id)]
    headers = doc.get("headers") if isinstance(doc.get("headers"), dict) else {}
    method = lookup(doc, "requestContext.http.method")
    try:
        text = raw.decode("utf-8")
        document = shallow_json(text, "the body's JSON")
    except (UnicodeDecodeError, Invalid):
        text, document = None, NOT_JSON
    return [Request(source="http", kind="http-request", event_id=event_id, time=received_at, body=text,
                    document=document, method=method if isinstance(method, str) else "",
                    path=doc["rawPath"] if isinstance(doc["rawPath"], str) else "",
                    headers={str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}, raw=raw)]


def _shape(doc: dict) -> Optional[str]:
    return "http-request" if "rawPath" in doc and "requestContext" in doc and "specversion" not in doc else None


# ---- admission ----

class Refused(Exception):
    """A call refused: its reason and `error_code`."""

    def __init__(self, code: Optional[str], reason: str):
        super().__init__(reason)
        self.code = code


def _admit(request: Request, rules: Sequence[HttpRule], environ: Mapping[str, str], call, memory: dict) -> Event:
    """The request as the event it asks for, or Refused (see the module's docstring for the order)."""
    caller, stamp, listing = _who(request, rules)
    now = call.now()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise Refused(UNAUTHORIZED, f"{TIMESTAMP} is not UNIX seconds")
    skew = int(stamp) - now.timestamp()
    if abs(skew) > SKEW_S:
        raise Refused(UNAUTHORIZED, f"{TIMESTAMP} is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} this "
                                    f"function's clock (more than {SKEW_S} s)")
    named = request.document.get("rule") if isinstance(request.document, dict) else None
    envs = [c.secret_env for rule in listing for c in rule.callers if c.name == caller and rule.name == named] or \
        list(dict.fromkeys(c.secret_env for rule in listing for c in rule.callers if c.name == caller))
    secrets = [environ.get(env) for env in envs]
    if not any(secrets):
        raise Refused(UNAUTHORIZED, f"the secret of caller {caller!r} is not set: set {' or '.join(envs)} in the "
                                    "function's environment")
    from .. import signing

    parts = (request.method, request.path, stamp)
    signature = request.headers[SIGNATURE.lower()]
    if not any([signing.valid(signature, secret, parts, request.raw) for secret in secrets if secret]):
        raise Refused(UNAUTHORIZED, f"the signature does not match (caller {caller!r}: sign METHOD, PATH, "
                                    f"{TIMESTAMP} and the body with its secret)")
    rule, body = _what(request, rules, caller)
    _remember(rule, body.request_id, hashlib.sha256(request.raw).hexdigest(), call, memory)
    return dataclasses.replace(request, message_id=body.request_id)


def _who(request: Request, rules: Sequence[HttpRule]) -> Tuple[str, str, List[HttpRule]]:
    """(caller, timestamp, the rules listing the caller) the headers name, or Refused (401)."""
    missing = [name for name in (CALLER, TIMESTAMP, SIGNATURE) if not request.headers.get(name.lower())]
    if missing:
        raise Refused(UNAUTHORIZED, f"missing header {', '.join(missing)}")
    caller, stamp = request.headers[CALLER.lower()], request.headers[TIMESTAMP.lower()]
    listing = [rule for rule in rules if any(c.name == caller for c in rule.callers)]
    if not listing:
        raise Refused(UNAUTHORIZED, f"caller {caller[:64]!r} is listed by no on: http rule")
    return caller, stamp, listing


def _what(request: Request, rules: Sequence[HttpRule], caller: str) -> Tuple[HttpRule, Body]:
    """The rule the body names, which must list `caller`, and the body; or Refused (400, 403)."""
    body = _body(request)
    rule = next((r for r in rules if r.name == body.rule), None)
    if rule is None:
        raise Refused(FORBIDDEN, f"no on: http rule named {body.rule[:64]!r}")
    if not any(c.name == caller for c in rule.callers):
        raise Refused(FORBIDDEN, f"rule {rule.name!r} does not list caller {caller!r} in its `callers`")
    return rule, body


def _vet(request: Request, rules: Sequence[HttpRule]) -> Optional[str]:
    """Why the function would refuse the call, as far as that shows offline (not its time, secret, signature or
    request_id), else None."""
    try:
        caller = _who(request, rules)[0]
        _what(request, rules, caller)
    except Refused as e:
        return str(e)
    return None


def _body(request: Request) -> Body:
    """The body as `Body`, its date checked, or Refused (400). Text that is no JSON object is said so (msgspec's
    position in malformed JSON is where its reader gave up, not where the text went wrong); msgspec says how an
    object differs from `Body`."""
    wanted = 'the body is not {"rule", "bizdate" or "cycle", "request_id"} JSON'
    if not isinstance(request.document, dict):
        raise Refused(None, f"{wanted}: it is not a JSON object")
    try:
        body = _BODY.decode(request.raw)
    except msgspec.DecodeError as e:
        raise Refused(None, f"{wanted}: {e}") from None
    if not body.rule or not body.request_id or len(body.request_id) > 128:
        raise Refused(None, "`rule` and `request_id` must be non-empty (`request_id` at most 128 characters)")
    _dates(body.bizdate, body.cycle)
    return body


def _dates(bizdate: object, cycle: object) -> Captures:
    """The date a call names, as a key's captures would: {"bizdate": date} or {"cycle": local datetime}."""
    if (bizdate is None) == (cycle is None):
        raise Refused(None, "give exactly one of `bizdate` (YYYY-MM-DD) and `cycle` (YYYY-MM-DD HH:MM)")
    try:
        if isinstance(bizdate, str) and _DATE.match(bizdate):
            return {"bizdate": date.fromisoformat(bizdate)}
        if isinstance(cycle, str) and _CYCLE.match(cycle):
            return {"cycle": datetime.strptime(cycle, "%Y-%m-%d %H:%M")}
    except ValueError:
        pass
    raise Refused(None, "`bizdate` must be a date YYYY-MM-DD, `cycle` a local time YYYY-MM-DD HH:MM")


def _remember(rule: HttpRule, request_id: str, digest: str, call, memory: dict) -> None:
    """Record which body `request_id` names, before anything is released; Refused (409) when it named another
    within REUSE."""
    from ..ledger import Request as Record, ms
    from ..retry import RemoteError

    now = ms(call.now())
    window = int(REUSE.total_seconds() * 1000)
    key = (rule.name, request_id)
    standing = memory.get(key)
    if standing is None or now - standing.at >= window:
        standing = Record(digest, now)
    book = call.book_for(rule)
    if book is not None:
        try:
            if not book.create_request(rule.name, request_id, standing):
                there = book.read_request(rule.name, request_id)
                if there is not None and now - there.at < window:
                    standing = there
                else:
                    book.write_request(rule.name, request_id, standing)
        except RemoteError:
            pass                # the instance's memory judges; the release's own ledger use fails it
    if standing.digest != digest:
        raise Refused(CONFLICT, f"request_id {request_id[:128]!r} was used within {REUSE.seconds // 60} min with "
                                "another body: use a new request_id for a new request")
    if len(memory) >= _MEMORY_SIZE:
        for old in [k for k, record in memory.items() if now - record.at >= window]:
            del memory[old]
    memory[key] = standing


def _answer(decisions) -> dict:
    refused = next((d for d in decisions if d.outcome == "rejected"), None)
    if refused is not None:
        return _response(STATUS.get(refused.error_code, 400), {"error": refused.reason})
    failed = any(d.outcome == "failed" for d in decisions)
    return _response(502 if failed else 200, {"outcomes": [d.record() for d in decisions]})


def _response(status: int, body: dict) -> dict:
    """What FC's HTTP trigger answers (docs/reference.md: the four fields of HTTPTriggerResponse)."""
    from ..outcomes import one_line_json

    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "isBase64Encoded": False,
            "body": one_line_json(body)}


# ---- the rule ----

def _build(spec: Http, problem) -> dict:
    from ..rules import _env_name

    callers: List[Caller] = []
    for n, caller in enumerate(spec.callers or ()):
        where = f"callers[{n}]"
        if not caller.name or len(caller.name) > 64 or not caller.name.isprintable():
            problem(f"{where}.name", "must be 1 to 64 printable characters (what the caller sends as "
                                     f"{CALLER})")
        elif any(c.name == caller.name for c in callers):
            problem(f"{where}.name", f"caller {caller.name!r} is listed twice")
        if _env_name(f"{where}.secret_env", caller.secret_env, "the caller's signing secret",
                     "DWTRIGGER_CALLER_SECRET", problem):
            callers.append(Caller(caller.name, caller.secret_env))
    if not spec.callers:
        problem("callers", "required: the callers that may call it, each `{name, secret_env}`")
    return dict(callers=tuple(callers))


def _wiring(rules, s: dict, found: Sequence, where) -> list:
    """An HTTP trigger on the http function when a rule is `on: http`, none otherwise; POST, anonymous or function;
    each caller's `secret_env` among the function's environment variables (else every call of it is refused)."""
    http = rules.for_source("http")
    if http and not found:
        return [(None, f"{where(rules, http[0].name)}: no HTTP trigger on the http function: add one "
                       "(triggerType: http, methods: [POST]), or remove the rule")]
    problems = []
    for t in found:
        if not http:
            problems.append((t, f"{t} feeds no rule in rules.yaml (no rule is `on: http`): remove it, or add a rule"))
            continue
        if "POST" not in (t.config.get("methods") or ()):
            problems.append((t, f"{t} does not take POST (its `methods`): callers POST; add POST"))
        elif t.config.get("authType") not in ("anonymous", "function"):
            problems.append((t, f"{t} has authType {t.config.get('authType')!r}: use anonymous (every call is "
                                "signed and checked) or function (callers that hold RAM keys sign for FC's gateway)"))
        props = ((s.get("resources") or {}).get(t.resource) or {}).get("props") or {}
        environment = props.get("environmentVariables") or {}
        problems += [(t, f"{where(rules, rule.name)}: caller {c.name!r}'s secret_env {c.secret_env} is not among "
                         f"the environmentVariables of resource {t.resource} in s.yaml: add `{c.secret_env}: "
                         f"${{env({c.secret_env})}}` (the secret from the shell that runs `s deploy`)")
                     for rule in http for c in rule.callers if c.secret_env not in environment]
    return problems


class HttpSource(Source):
    name, rule, schema = "http", HttpRule, Http
    shapes = {"http-request": "an FC HTTP trigger request"}
    expected = 'an FC HTTP trigger request ({"rawPath", "headers", "body", "requestContext"})'
    document, asks = "request body", True
    released_by = "a signed call releases it only if they are there when it comes"

    def shape(self, doc: dict) -> Optional[str]:
        return _shape(doc)

    def parse(self, doc: object, text: str, received_at: datetime, stream_topic: Optional[str]) -> Iterable[Parsed]:
        return _parse(doc, received_at)

    def admit(self, parsed: Iterable[Parsed], rules, environ: Mapping[str, str], call, memory: dict
              ) -> Iterator[Parsed]:
        http = rules.for_source("http")
        for item in parsed:
            if not isinstance(item, Request):
                yield item
                continue
            try:
                yield _admit(item, http, environ, call, memory)
            except Refused as e:
                yield Rejected("http", str(e), item.event_id, e.code)

    def answer(self, decisions) -> Optional[dict]:
        return _answer(decisions)

    def vet(self, event: Event, rules) -> Optional[str]:
        return _vet(event, rules.for_source("http")) if isinstance(event, Request) else None

    def caller(self, rule: HttpRule, secret_env: str) -> str:
        """The name of the rule's caller whose secret is in `secret_env` (`dwtrigger sign`), or LookupError."""
        found = next((c.name for c in rule.callers if c.secret_env == secret_env), None)
        if found is None:
            listed = ", ".join(f"{c.name} ({c.secret_env})" for c in rule.callers)
            raise LookupError(f"rule {rule.name!r} lists no caller whose secret_env is {secret_env}: its callers: "
                              f"{listed}")
        return found

    def signed_headers(self, caller: str, secret: str, path: str, stamp: str, body: bytes) -> Dict[str, str]:
        """The headers of a call POSTed to `path` at UNIX second `stamp`, signed as `admit` checks them (what
        `dwtrigger sign` prints)."""
        from .. import signing

        return {CALLER: caller, TIMESTAMP: stamp, SIGNATURE: signing.sign(secret, ("POST", path, stamp), body)}

    def secrets(self, rules, environ: Mapping[str, str]) -> Tuple[str, ...]:
        return tuple(sorted({environ.get(c.secret_env) or "" for r in rules.for_source("http")
                             for c in r.callers} - {""}))

    def build(self, spec: Http, problem) -> Optional[dict]:
        return _build(spec, problem)

    def check(self, rule: HttpRule, event: Event) -> Tuple[Optional[Captures], Any]:
        """A call names its rule, and the date (`bizdate` or `cycle`) in its body (explain's calls are not admitted:
        it shows what a signed one would do)."""
        doc = event.document if isinstance(event.document, dict) else {}
        if doc.get("rule") != rule.name:
            return None, ("the call names rule {!r}, not {!r}", (doc.get("rule"), rule.name))
        try:
            return _dates(doc.get("bizdate"), doc.get("cycle")), "matched"
        except Refused as e:
            return None, ("{}", (str(e),))

    def lookup(self, rules: Sequence[HttpRule], rank: Callable[[Rule], int]) -> Callable[[Event], List[Rule]]:
        """By the rule the call names."""
        named = {rule.name: [rule] for rule in rules}
        return lambda event: named.get(event.document.get("rule"), []) if isinstance(event.document, dict) else []

    def summary(self, rule: HttpRule) -> str:
        return "http " + ", ".join(c.name for c in rule.callers)

    def listed(self, rule: HttpRule) -> Dict[str, Any]:
        return {"callers": [{"name": c.name, "secret_env": c.secret_env} for c in rule.callers]}

    trigger_kinds = ("http",)

    def feeds(self, t, rule: HttpRule, s: dict) -> bool:
        """Its function's HTTP trigger brings every http rule its calls."""
        return True

    def wiring(self, rules, s: dict, found: Dict[str, list], where) -> list:
        return _wiring(rules, s, found["http"], where)

    def channels(self, rule: HttpRule) -> List[Tuple[str, str, bool]]:
        return [("rule", rule.name, False)]


SOURCE = HttpSource()
