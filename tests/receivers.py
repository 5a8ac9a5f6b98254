"""Local receivers for the notice channels (tests/test_notify.py, tests/test_notices.py): a DingTalk robot and a
generic webhook on 127.0.0.1 that check each request's signature as the real ones do, keep what they took, and
answer as scripted (a failure, a redirect, a hang) when told to.

- DingTalk: `access_token` must be the robot's; `timestamp` (epoch ms) within an hour of this machine's clock and
  `sign` = base64(HMAC-SHA256(secret, timestamp + "\\n" + secret)), else errcode 310000 (DingTalk's answer to a
  signature that does not match), a wrong token 300001; the body must be a markdown message.
- webhook: `X-Dwtrigger-Timestamp` within 5 minutes and `X-Dwtrigger-Signature: v1=HEX`, checked by docs/sweep.md's
  own `verified` (what it tells a receiver to run), else 401.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Deque, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

# The channels' secrets, as test_secrets' are: none may appear in any line, in any encoding.
DINGTALK_TOKEN = "dt0ken5ecret0123456789abcdef"
DINGTALK_SECRET = "SECd1ngta1k5ecretvalue0123456789abcdef0123456789abcdef0123456789"
WEBHOOK_TOKEN = "hookpathtoken0123456789ABCDEF"
WEBHOOK_SECRET = "w3bh00k-signing-secret-value+/="


def _documented_verifier():
    """docs/sweep.md's receiver check (the Python block that defines `verified`), as a reader would copy it."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "sweep.md").read_text()
    start = text.index("```python\nimport hashlib, hmac, time\n")
    block = text[start + len("```python\n"):text.index("```", start + 3)]
    scope: dict = {}
    exec(compile(block, "docs/sweep.md", "exec"), scope)    # noqa: S102 - the page's own example, run as written
    return scope["verified"]


VERIFIED = _documented_verifier()


class Receiver:
    """One channel's receiver; `taken` holds the bodies it accepted (decoded JSON), `refused` why it refused others,
    `script` the answers to give the next requests instead of the normal one: ("status", code, body),
    ("redirect", code) or ("hang",) — a request that gets no answer until the receiver closes."""

    def __init__(self, kind: str, tls_cert: Optional[Tuple[str, str]] = None):
        self.kind, self.scheme = kind, "https" if tls_cert else "http"
        self.taken: List[dict] = []
        self.refused: List[str] = []
        self.requests = 0
        self.script: Deque[Tuple] = deque()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                receiver._serve(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_cert:                    # (certificate file, key file): https, with that certificate
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls_cert)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        where = f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"
        if self.kind == "dingtalk":
            return f"{where}/robot/send?access_token={DINGTALK_TOKEN}"
        return f"{where}/hooks/{WEBHOOK_TOKEN}"

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self._lock:
            self.requests += 1
            scripted = self.script.popleft() if self.script else None
        if scripted is not None:
            return self._scripted(request, scripted)
        check = self._dingtalk if self.kind == "dingtalk" else self._webhook
        status, answer, why = check(request, body)
        if why is None:
            self.taken.append(json.loads(body))
        else:
            self.refused.append(why)
        _answer(request, status, answer)

    def _scripted(self, request: BaseHTTPRequestHandler, scripted: Tuple) -> None:
        if scripted[0] == "hang":
            self._closing.wait()
            return
        if scripted[0] == "redirect":
            request.send_response(scripted[1])
            request.send_header("Location", "http://127.0.0.1:1/elsewhere")
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        _answer(request, scripted[1], scripted[2])

    @staticmethod
    def _dingtalk(request, body: bytes):
        query = parse_qs(urlsplit(request.path).query)
        if query.get("access_token") != [DINGTALK_TOKEN]:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}, "token"
        timestamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > 3600_000:
            return 200, {"errcode": 310000, "errmsg": "sign not match, more: [timestamp]"}, "timestamp"
        if not hmac.compare_digest(sign, expected):
            return 200, {"errcode": 310000, "errmsg": "sign not match"}, "sign"
        message = json.loads(body)
        if message.get("msgtype") != "markdown" or not {"title", "text"} <= set(message.get("markdown", {})):
            return 200, {"errcode": 40035, "errmsg": "bad message"}, "message"
        return 200, {"errcode": 0, "errmsg": "ok"}, None

    @staticmethod
    def _webhook(request, body: bytes):
        if not VERIFIED(WEBHOOK_SECRET.encode(), request.headers, body):
            return 401, {"error": "signature"}, "signature"
        return 200, {"ok": True}, None


def _answer(request: BaseHTTPRequestHandler, status: int, answer) -> None:
    data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def self_signed(folder: Path) -> Tuple[str, str]:
    """A certificate for 127.0.0.1 that no authority signed, and its key: (certificate file, key file)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def environment(dingtalk: Optional[Receiver], webhook: Optional[Receiver]) -> dict:
    """The function's environment naming the receivers (the variables the test rules name)."""
    env = {}
    if dingtalk is not None:
        env |= {"DT_WEBHOOK": dingtalk.url, "DT_SECRET": DINGTALK_SECRET}
    if webhook is not None:
        env |= {"HOOK_URL": webhook.url, "HOOK_SECRET": WEBHOOK_SECRET}
    return env


def secret_forms() -> List[str]:
    """The channels' secrets in every form a line could carry them in."""
    from dwtrigger.redact import forms
    return [form for secret in (DINGTALK_TOKEN, DINGTALK_SECRET, WEBHOOK_TOKEN, WEBHOOK_SECRET)
            for form in forms(secret)]
