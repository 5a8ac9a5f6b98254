"""A local MNS queue service for the official data-plane SDK (aliyun-mns-sdk): the queue REST/XML API that
`dwtrigger drain` uses, over real HTTP on loopback, with MNS's request signatures checked (mns_signature.py) and
messages kept as the real queue keeps them (mns_queue.py).

Point the SDK at it unmodified::

    account = mns.account.Account(standin.url, access_key_id, access_key_secret, security_token)
    queue = account.get_queue("dwtrigger-dlq")

Built with the keys it accepts (the seed's ``keys`` entries: access_key_id, access_key_secret, security_token) and
its queues' names; ``visibility_timeout`` (seconds, MNS's default 30) is every queue's. Its ``clock`` (clock.py: real
time plus an offset, or fixed at ``now`` when given) decides visibility: ``clock.advance(seconds)`` makes received
messages visible again without sleeping. A long poll waits for a message to become visible, or for its waitseconds
to pass on the clock (on a fixed clock: until the clock is advanced).

Operations (the URI as the SDK sends it; queue names in the path, receipt handles verbatim in the query):
  POST   /queues/Q/messages                           SendMessage: XML Message (MessageBody, DelaySeconds,
                                                      Priority); 201, MessageId and MessageBodyMD5 (upper hex)
  GET    /queues/Q/messages?numOfMessages=N[&waitseconds=W]   BatchReceiveMessage: N 1-16, W 0-30; 200, Messages
  GET    /queues/Q/messages[?waitseconds=W]           ReceiveMessage: 200, one Message
  DELETE /queues/Q/messages?ReceiptHandle=H           DeleteMessage: 204
  DELETE /queues/Q/messages                           BatchDeleteMessage: XML ReceiptHandles (1-16); 204 when all
                                                      were deleted, else 404 with an ``Errors`` list (ErrorCode,
                                                      ErrorMessage, ReceiptHandle of each that was not)
  PUT    /queues/Q/messages?ReceiptHandle=H&VisibilityTimeout=T   ChangeMessageVisibility: 200, ChangeVisibility
                                                      (the new ReceiptHandle and NextVisibleTime)
  anything else                                       400 InvalidArgument, before authentication
and, loopback only, unsigned: POST /_admin/queues/Q/messages, the body lands as one message (`dwtrigger emulator
send`), 200 {"queue", "message_id"}.
Errors are MNS's XML ``Error`` (Code, Message, RequestId, HostId) with ``x-mns-request-id``: 404 MessageNotExist
"Message not exist." (a receive that found nothing), 404 QueueNotExist, 400 ReceiptHandleError, 400
InvalidArgument, 400 MalformedXML, and the authentication refusals of mns_signature.py (403).

``calls`` holds one dict per request (rejected ones too): operation ("Unknown" when not served), method, queue,
params (the query as sent, undecoded), status, code (None for a success), access_key_id, monotonic. Never
signatures, tokens or secrets. HTTP/1.0, one request per connection, daemon threads, no logging.
"""

import time
import uuid
from datetime import datetime
from typing import Dict, Iterable, List, Optional, Tuple
from xml.etree import ElementTree as ET

from . import mns_queue as q
from .clock import Clock
from .exchange import Reply, Request
from .mns_signature import MnsError, verify
from .recorder import Recorder
from .seed import _key
from .served import Served
from .server import ADMIN, json_reply
from .server import _Handler as _EmulatorHandler
from .signature import Keys

OPERATIONS = ("SendMessage", "BatchReceiveMessage", "ReceiveMessage", "DeleteMessage", "BatchDeleteMessage",
              "ChangeMessageVisibility")
RECEIVES = ("BatchReceiveMessage", "ReceiveMessage")
CREDENTIAL_HEADERS = frozenset({"authorization", "security-token"})
POLL_SECONDS = 0.02             # how often a waiting long poll looks again
VERSION = "2015-06-06"


def route(method: str, path: str, query: str) -> Tuple[str, Optional[str], Dict[str, str]]:
    """(operation, queue, query parameters as sent); the operation is "Unknown" for what is not served."""
    params = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
    parts = path.split("/")
    if len(parts) != 4 or parts[1] != "queues" or not parts[2] or parts[3] != "messages":
        return "Unknown", None, params
    names = set(params)
    if method == "POST" and not names:
        operation = "SendMessage"
    elif method == "GET" and "peekonly" not in names and names <= {"numOfMessages", "waitseconds"}:
        operation = "BatchReceiveMessage" if "numOfMessages" in names else "ReceiveMessage"
    elif method == "DELETE":
        operation = "DeleteMessage" if names == {"ReceiptHandle"} else "BatchDeleteMessage" if not names else "Unknown"
    elif method == "PUT" and names == {"ReceiptHandle", "VisibilityTimeout"}:
        operation = "ChangeMessageVisibility"
    else:
        operation = "Unknown"
    return operation, parts[2], params


def _number(params: Dict[str, str], name: str, low: int, high: int, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise MnsError(400, "InvalidArgument", f"The value of {name} should between {low} and {high}.")
    return int(value)


class MnsGateway(Recorder):
    """Route, authenticate, answer and record one request; the queues change only under ``lock``."""

    def __init__(self, queues: q.Queues, keys: Keys):
        super().__init__(CREDENTIAL_HEADERS)
        self.queues, self.keys = queues, keys

    def handle(self, req: Request) -> Optional[Reply]:
        """The reply to one MNS request, or None to close the connection without answering."""
        request_id = uuid.uuid4().hex[:24].upper()
        operation, queue, params = route(req.method, req.path, req.query)
        call = {"operation": operation, "method": req.method, "queue": queue, "params": params, "status": None,
                "code": None, "access_key_id": None, "monotonic": req.arrived}
        host = f"http://{req.headers.get('Host') or ''}"
        try:
            if operation == "Unknown":
                raise MnsError(400, "InvalidArgument", f"The stand-in serves {', '.join(OPERATIONS)} only.")
            call["access_key_id"] = (req.headers.get("Authorization") or "").partition(" ")[2].partition(":")[0]
            verify(req.method, req.path + (f"?{req.query}" if req.query else ""), req.headers, self.keys, time.time())
            with self.lock:
                self.queues.check(queue)
            if operation in RECEIVES:
                return self._receive(req, call, queue, params, request_id, host)
            with self.lock:
                if req.epoch.is_set():
                    return None
                return self._record(req, call, self._served(operation, queue, params, req.body, request_id))
        except MnsError as e:
            return self._record(req, call, _error(e, request_id, host))

    def _lie(self) -> Reply:
        return Reply(204, b"", content_type=q.XML)

    def _receive(self, req: Request, call: dict, queue: str, params: Dict[str, str], request_id: str,
                 host: str) -> Optional[Reply]:
        """Take what is visible, or wait for it until waitseconds pass on the clock (a long poll)."""
        batch = call["operation"] == "BatchReceiveMessage"
        count = _number(params, "numOfMessages", 1, q.MAX_BATCH, 1)
        wait = _number(params, "waitseconds", 0, q.MAX_WAIT_SECONDS, 0)
        with self.lock:
            deadline = self.queues.now_ms() + wait * 1000
        while True:
            with self.lock:
                if req.epoch.is_set():
                    return None
                got = self.queues.receive(queue, count)
                if got or self.queues.now_ms() >= deadline:
                    return self._record(req, call, _messages(got, batch, request_id) if got else _error(
                        MnsError(404, "MessageNotExist", "Message not exist."), request_id, host))
            if req.epoch.wait(POLL_SECONDS):
                return None

    def _served(self, operation: str, queue: str, params: Dict[str, str], body: bytes, request_id: str) -> Reply:
        headers = _headers(request_id)
        if operation == "SendMessage":
            sent = _sent(body)
            message = self.queues.send(queue, sent["MessageBody"], int(sent.get("DelaySeconds") or 0),
                                       int(sent.get("Priority") or q.DEFAULT_PRIORITY))
            root = ET.Element("Message")
            q.child(root, "MessageId", message.message_id)
            q.child(root, "MessageBodyMD5", message.body_md5)
            return Reply(201, q.document(root), content_type=q.XML, headers=headers)
        if operation == "DeleteMessage":
            self.queues.delete(queue, params["ReceiptHandle"])
            return Reply(204, b"", content_type=q.XML, headers=headers)
        if operation == "BatchDeleteMessage":
            return self._batch_delete(queue, body, headers)
        seconds = _number(params, "VisibilityTimeout", 1, 43200, 0)
        message = self.queues.change_visibility(queue, params["ReceiptHandle"], seconds)
        root = ET.Element("ChangeVisibility")
        q.child(root, "ReceiptHandle", message.handle)
        q.child(root, "NextVisibleTime", message.visible_ms)
        return Reply(200, q.document(root), content_type=q.XML, headers=headers)

    def _batch_delete(self, queue: str, body: bytes, headers: Dict[str, str]) -> Reply:
        handles = [element.text or "" for element in q.parse(body, "ReceiptHandles") if element.tag == "ReceiptHandle"]
        if not 1 <= len(handles) <= q.MAX_BATCH:
            raise MnsError(400, "InvalidArgument", f"The count of ReceiptHandle should between 1 and {q.MAX_BATCH}.")
        errors = ET.Element("Errors")
        for handle in handles:
            try:
                self.queues.delete(queue, handle)
            except MnsError as e:
                failed = ET.SubElement(errors, "Error")
                for tag, text in (("ErrorCode", e.code), ("ErrorMessage", e.message), ("ReceiptHandle", handle)):
                    q.child(failed, tag, text)
        if len(errors):
            return Reply(404, q.document(errors), code=errors[0][0].text, content_type=q.XML, headers=headers)
        return Reply(204, b"", content_type=q.XML, headers=headers)


def _sent(body: bytes) -> Dict[str, str]:
    fields = {element.tag: element.text or "" for element in q.parse(body, "Message")}
    if not fields.get("MessageBody"):
        raise MnsError(400, "InvalidArgument", "MessageBody is required and cannot be empty.")
    return fields


def _headers(request_id: str) -> Dict[str, str]:
    return {"x-mns-request-id": request_id, "x-mns-version": VERSION}


def _messages(got: List[q.StoredMessage], batch: bool, request_id: str) -> Reply:
    if batch:
        root = ET.Element("Messages")
        for message in got:
            q.received(message, root)
    else:
        root = q.received(got[0])
    return Reply(200, q.document(root), content_type=q.XML, headers=_headers(request_id))


def _error(e: MnsError, request_id: str, host: str) -> Reply:
    return Reply(e.status, q.error_document(e, request_id, host), code=e.code, content_type=q.XML,
                 headers=_headers(request_id))


class _Handler(_EmulatorHandler):
    """The emulator's HTTP glue (one request per connection, silent), routed to the MNS gateway."""
    server_version = "dwtrigger-mns-standin"

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith(ADMIN):
            self._send(self._mns_admin(path[len(ADMIN):]))
            return
        self._api(path, query)

    def _mns_admin(self, route: str) -> Reply:
        """POST /_admin/queues/Q/messages: the body lands as one message (as SendMessage lands it), without a
        signature, for `dwtrigger emulator send`; 200 {"queue", "message_id"}. Loopback only."""
        body = self._body()
        if not self._local():
            return json_reply(403, {"error": "admin routes are loopback only"})
        parts = route.split("/")
        if self.command != "POST" or len(parts) != 3 or parts[0] != "queues" or parts[2] != "messages":
            return json_reply(404, {"error": f"no admin route {self.command} {ADMIN}{route}"})
        try:
            text = body.decode("utf-8")
            if not text:
                raise ValueError("a message needs a body")
            return json_reply(200, {"queue": parts[1], "message_id": self.server.served.send(parts[1], text)})
        except MnsError as e:
            return json_reply(404, {"error": f"no queue {parts[1]!r}: {e.message}"})
        except ValueError as e:
            return json_reply(400, {"error": str(e)})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class MnsStandIn(Served):
    """Queues served over HTTP on loopback. `keys`: the seed's key entries (dicts); `queues`: their names."""

    handler, what = _Handler, "the MNS stand-in"

    def __init__(self, keys: Iterable[dict], queues: Iterable[str], port: int = 0, host: str = "127.0.0.1",
                 visibility_timeout: int = 30, now: Optional[datetime] = None, clock: Optional[Clock] = None):
        self.clock = clock or Clock(now)      # `dwtrigger emulator` shares the DataWorks emulator's
        self._queues = q.Queues(queues, visibility_timeout, self.clock)
        super().__init__(MnsGateway(self._queues, Keys(_key(k) for k in keys)), host, port)

    def queues(self) -> List[str]:
        """Its queues' names."""
        return list(self._queues.names)

    def send(self, queue: str, body: str) -> str:
        """A message lands as SendMessage would land it (for seeding; tests send through the SDK); its id."""
        with self.gateway.lock:
            return self._queues.send(queue, body).message_id

    def messages(self, queue: str) -> List[dict]:
        """Every message the queue holds, for assertions: message_id, body, dequeue_count, visible."""
        with self.gateway.lock:
            now = self._queues.now_ms()
            return [{"message_id": m.message_id, "body": m.body, "dequeue_count": m.dequeue_count,
                     "visible": m.visible_ms <= now} for m in self._queues.messages(queue)]

    def reset(self) -> None:
        """Empty queues, the clock back to its start, calls cleared, a new epoch."""
        with self.gateway.lock:
            self.gateway.end_epoch()
            self._queues.reset()
            self.clock.reset()
            self.gateway.clear_calls()
