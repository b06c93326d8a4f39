"""A tiny HTTP proxy between boto3 and the moto S3 server: it logs every request and answers
chosen requests with an S3 error of our choosing, the way S3 itself would (XML error body).

S3 path-style requests only (what botocore sends to an IP endpoint): `/<bucket>/<key>`.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

# Hop-by-hop headers a proxy does not forward (RFC 9110 §7.6.1).
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    message: str = "injected by the test proxy"


class S3FaultProxy:
    """Forwards to `upstream` (the moto server), logging `(method, bucket, key)` per request;
    `faults[(method, key)]` makes every such request answer that S3 error instead."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.requests: list[tuple[str, str, str]] = []
        self.faults: dict[tuple[str, str], Fault] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def gets(self, key: str) -> int:
        """GetObject requests seen for `key` (faulted ones included)."""
        with self._lock:
            return sum(1 for method, _, k in self.requests if method == "GET" and k == key)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                bucket, _, key = unquote(path.lstrip("/")).partition("/")
                with proxy._lock:
                    proxy.requests.append((self.command, bucket, key))
                fault = proxy.faults.get((self.command, key))
                if fault is not None:
                    self._send_error(fault)
                    return
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            def _send_error(self, fault: Fault) -> None:
                xml = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message>"
                    "<RequestId>TEST</RequestId></Error>"
                ).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(xml)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(xml)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay  # noqa: N815

        return Handler
