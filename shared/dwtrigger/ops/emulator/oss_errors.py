"""OSS's error answers: an XML ``Error`` body, which OSS repeats base64-encoded in ``x-oss-err`` for HEAD.

A HEAD answer has no body, so alibabacloud_oss_v2 (``_client._to_service_error``) reads the error from
``x-oss-err`` when the body is empty; without it a HEAD error would reach the SDK as ``BadErrorResponse``.
"""

import base64
from typing import Optional
from xml.etree import ElementTree as ET

from .errors import ApiError
from .exchange import Reply

XML = "application/xml"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# OSS's error numbers (EC) where a public OSS source pins them; the SDK reads them into ServiceError.ec.
EC = {"NoSuchKey": "0026-00000001", "NoSuchBucket": "0015-00000101", "TotalQpsLimitExceeded": "0004-00000302"}


class OssError(ApiError):
    """An OSS error answer; `ec` defaults to the code's known EC, else none is sent."""

    def __init__(self, status: int, code: str, message: str, ec: Optional[str] = None):
        super().__init__(status, code, message)
        self.ec = ec or EC.get(code)


def xml_document(root: ET.Element) -> bytes:
    """The element as OSS writes a document: double-quoted declaration, UTF-8."""
    return DECLARATION + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def child(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def error_reply(e: OssError, request_id: str, host: str, head: bool) -> Reply:
    """The error as OSS sends it: XML body (in ``x-oss-err`` for HEAD), ``x-oss-request-id``, ``x-oss-ec``."""
    root = ET.Element("Error")
    for tag, text in (("Code", e.code), ("Message", e.message), ("RequestId", request_id), ("HostId", host),
                      ("EC", e.ec)):
        if text:
            child(root, tag, text)
    body = xml_document(root)
    headers = {"x-oss-request-id": request_id, **({"x-oss-ec": e.ec} if e.ec else {})}
    if head:
        headers["x-oss-err"] = base64.b64encode(body).decode()
        body = b""
    return Reply(e.status, body, code=e.code, content_type=XML, headers=headers)
