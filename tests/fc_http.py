"""FC's HTTP trigger on 127.0.0.1, for callers written as the docs show them (tests/test_docs.py): each request is
handed to the http function as FC 3.0's HTTP trigger event (docs/reference.md: headers by name, the body as text, or
base64 when it is not UTF-8) and answered with the status, headers and body the function returns."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl, urlsplit


class HttpTrigger:
    """`invoke(event bytes) -> the function's answer (dict)` served at `url` until `close()`."""

    def __init__(self, invoke: Callable[[bytes], dict]):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body, encoded = raw.decode("utf-8"), False
                except UnicodeDecodeError:
                    body, encoded = base64.b64encode(raw).decode(), True
                where = urlsplit(self.path)
                event = {"version": "v1", "rawPath": where.path, "body": body, "isBase64Encoded": encoded,
                         "headers": dict(self.headers.items()), "queryParameters": dict(parse_qsl(where.query)),
                         "requestContext": {"http": {"method": "POST", "path": where.path, "protocol": "HTTP/1.1",
                                                     "sourceIp": self.client_address[0]}}}
                answer = invoke(json.dumps(event).encode())
                said = (base64.b64decode(answer["body"]) if answer.get("isBase64Encoded")
                        else answer["body"].encode("utf-8"))
                self.send_response(answer["statusCode"])
                for name, value in answer.get("headers", {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(said)))
                self.end_headers()
                self.wfile.write(said)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
