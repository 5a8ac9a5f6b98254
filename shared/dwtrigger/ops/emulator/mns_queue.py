"""The MNS stand-in's queues: messages with visibility timeouts, receipt handles and dequeue counts, on a clock a
test can move (clock.py), and the XML MNS answers with.

As the real queue keeps them (MNS's ReceiveMessage, DeleteMessage and ChangeMessageVisibility pages): a received
message is Inactive, invisible to other receives, until NextVisibleTime = receipt + the queue's VisibilityTimeout;
each receive gives it a new ReceiptHandle and adds one to DequeueCount. A handle works only while it is the
message's latest and before NextVisibleTime; a stale one (an earlier receipt, a message visible again, deleted or
never received) is 400 ReceiptHandleError, "The receipt handle you provide is not valid.". Visible messages go out
by priority (1 first, default 8), then in the order they were sent. Times are epoch milliseconds on the clock.
"""

import base64
import hashlib
import itertools
import uuid
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional
from xml.etree import ElementTree as ET

from .clock import Clock
from .mns_signature import MnsError

NAMESPACE = "http://mns.aliyuncs.com/doc/v1/"
XML = "text/xml;charset=utf-8"
DEFAULT_PRIORITY = 8
MAX_BATCH = 16                  # BatchReceiveMessage's numOfMessages and BatchDeleteMessage's handles: 1 to 16
MAX_WAIT_SECONDS = 30           # waitseconds: 0 to 30
STALE = "The receipt handle you provide is not valid."


@dataclass
class StoredMessage:
    message_id: str
    body: str
    priority: int
    enqueued_ms: int
    sequence: int
    visible_ms: int
    dequeue_count: int = 0
    first_dequeue_ms: int = 0
    handle: Optional[str] = None

    @property
    def body_md5(self) -> str:
        return hashlib.md5(self.body.encode("utf-8")).hexdigest().upper()


class Queues:
    """The named queues' messages; the caller holds the gateway's lock around every call."""

    def __init__(self, names: Iterable[str], visibility_timeout: int, clock: Clock):
        self.names = tuple(names)
        self.visibility_timeout = visibility_timeout
        self.clock = clock
        self._messages: Dict[str, List[StoredMessage]] = {}
        self._sequence = itertools.count()
        self.reset()

    def reset(self) -> None:
        self._messages = {name: [] for name in self.names}

    def check(self, queue: str) -> None:
        if queue not in self._messages:
            raise MnsError(404, "QueueNotExist", "The queue name you provided is not exist.")

    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def send(self, queue: str, body: str, delay_seconds: int = 0, priority: int = DEFAULT_PRIORITY) -> StoredMessage:
        self.check(queue)
        now = self.now_ms()
        sequence = next(self._sequence)
        # An id of MNS's shape that follows from the clock and the order sent: a session on a fixed clock repeats
        message = StoredMessage(f"{now:016X}-1-{sequence + 1:011X}", body, priority, now, sequence,
                                now + delay_seconds * 1000)
        self._messages[queue].append(message)
        return message

    def receive(self, queue: str, count: int) -> List[StoredMessage]:
        """Up to `count` visible messages, each now Inactive with a new handle; [] when none is visible."""
        now = self.now_ms()
        visible = sorted((m for m in self._messages[queue] if m.visible_ms <= now),
                         key=lambda m: (m.priority, m.sequence))[:count]
        for m in visible:
            m.dequeue_count += 1
            m.first_dequeue_ms = m.first_dequeue_ms or now
            m.visible_ms = now + self.visibility_timeout * 1000
            m.handle = f"{m.dequeue_count}-" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()
        return visible

    def delete(self, queue: str, handle: str) -> None:
        message = self._held(queue, handle)
        self._messages[queue].remove(message)

    def change_visibility(self, queue: str, handle: str, seconds: int) -> StoredMessage:
        message = self._held(queue, handle)
        message.visible_ms = self.now_ms() + seconds * 1000
        message.handle = f"{message.dequeue_count}-" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()
        return message

    def messages(self, queue: str) -> List[StoredMessage]:
        self.check(queue)
        return list(self._messages[queue])

    def _held(self, queue: str, handle: str) -> StoredMessage:
        """The message this handle holds now: its latest receipt, before NextVisibleTime."""
        now = self.now_ms()
        for m in self._messages[queue]:
            if m.handle == handle and m.visible_ms > now:
                return m
        raise MnsError(400, "ReceiptHandleError", STALE)


# ---- the XML MNS speaks ----

def document(root: ET.Element) -> bytes:
    root.set("xmlns", NAMESPACE)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def child(parent: ET.Element, tag: str, text) -> None:
    ET.SubElement(parent, tag).text = str(text)


def received(message: StoredMessage, parent: Optional[ET.Element] = None) -> ET.Element:
    """A received message as ReceiveMessage (the root) or BatchReceiveMessage (each child of Messages) gives it."""
    element = ET.Element("Message") if parent is None else ET.SubElement(parent, "Message")
    for tag, text in (("MessageId", message.message_id), ("ReceiptHandle", message.handle),
                      ("MessageBodyMD5", message.body_md5), ("MessageBody", message.body),
                      ("EnqueueTime", message.enqueued_ms), ("NextVisibleTime", message.visible_ms),
                      ("FirstDequeueTime", message.first_dequeue_ms), ("DequeueCount", message.dequeue_count),
                      ("Priority", message.priority)):
        child(element, tag, text)
    return element


def error_document(e: MnsError, request_id: str, host: str) -> bytes:
    root = ET.Element("Error")
    for tag, text in (("Code", e.code), ("Message", e.message), ("RequestId", request_id), ("HostId", host)):
        child(root, tag, text)
    return document(root)


def parse(body: bytes, root_tag: str) -> ET.Element:
    """A request's XML body with its namespace dropped; MalformedXML when it is not `root_tag`'s document."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise MnsError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    if root.tag != root_tag:
        raise MnsError(400, "MalformedXML", f"The XML you provided is not a {root_tag} document.")
    return root
