"""A tiny HTTP proxy between boto3 and the moto S3 server: it logs every request and injects the
faults S3 and the network produce, the way they would look to botocore.

Three kinds of faults:
- `faults[(method, key)]`: every such request answers that S3 error (XML body, as S3 sends it);
- `script[(method, key)]`: the next such requests, one entry each: a fault kind (`KINDS`), a
  callable run before the request is forwarded (e.g. to replace the object), or None;
- `rates` (`FaultRates`): random faults at set rates, drawn from a seeded generator: 503 SlowDown,
  a connection reset before any answer, a reset in the middle of a response body (the headers and
  part of the body arrive, then a TCP RST), a failed PUT (500 InternalError), a stall (no byte for
  `stall_s`, before the answer or mid-body), a lost answer (S3 did the request, the client sees a
  reset: the case where a write landed although the client saw it fail), and latency on every
  request.

Every request is also recorded as an `Exchange` (method, bucket, key, query, headers, the body
of a multi-object delete, and the answer's status and headers), for tests that check what a client
asked of S3: tests/iam_policy.py turns exchanges into IAM requests. boto3 and delta-rs (the Rust
`object_store` crate) both reach S3 through it when their endpoint is `endpoint_url`.

S3 path-style requests only (what botocore and `object_store` send to an IP endpoint):
`/<bucket>/<key>?<query>`.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# Hop-by-hop headers a proxy does not forward (RFC 9110 §7.6.1).
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    message: str = "injected by the test proxy"


# What a fault does to one request.
KINDS = (
    "slow_down",  # 503 SlowDown
    "reset",  # TCP RST before any answer
    "put_failure",  # 500 InternalError (drawn for PUTs only)
    "stall",  # no byte for `stall_s`, then the answer
    "reset_mid_body",  # the headers and half the body, then a TCP RST
    "stall_mid_body",  # the headers and half the body, `stall_s` without a byte, then the rest
    "lost_answer",  # forwarded to S3, which acts on it; then a TCP RST instead of its answer
)
ScriptStep = str | Callable[[], None] | None


@dataclass
class Exchange:
    """One request as the proxy saw it, and the answer the client got (`status` None: the
    connection was reset before any answer). `body` is kept only for POSTs (a DeleteObjects
    request lists its keys there)."""

    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A request header, whatever its case (botocore and `object_store` spell them apart)."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def response_header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.response_headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True)
class FaultRates:
    """Per-request probabilities (0..1) of each random fault, and a delay before every answer.

    `methods` limits the random faults to those HTTP methods (None: every method); `keys` to
    object keys starting with one of those prefixes (None: every key, bucket requests included).
    """

    slow_down: float = 0.0  # 503 SlowDown, as S3 answers when a prefix is over its request rate
    reset: float = 0.0  # the connection is reset before any answer
    reset_mid_body: float = 0.0  # headers and part of the body are sent, then the connection reset
    put_failure: float = 0.0  # a PUT answers 500 InternalError
    stall: float = 0.0  # nothing for `stall_s`, then the answer
    stall_mid_body: float = 0.0  # headers and part of the body, nothing for `stall_s`, the rest
    lost_answer: float = 0.0  # S3 acts on the request, then the connection is reset
    stall_s: float = 0.0
    latency_s: float = 0.0
    methods: frozenset[str] | None = None
    keys: tuple[str, ...] | None = None
    seed: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its read timed out) closed the connection: expected here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class S3FaultProxy:
    """Forwards to `upstream` (the moto server), recording every request (`exchanges`);
    `faults[(method, key)]` makes every such request answer that S3 error instead, and `rates`
    injects random faults (`injected` counts them by kind)."""

    def __init__(self, upstream: str, rates: FaultRates | None = None) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.exchanges: list[Exchange] = []
        self.faults: dict[tuple[str, str], Fault] = {}
        self.script: dict[tuple[str, str], list[ScriptStep]] = {}
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.rates = rates or FaultRates()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def rates(self) -> FaultRates:
        return self._rates

    @rates.setter
    def rates(self, rates: FaultRates) -> None:
        with self._lock:
            self._rates = rates
            self._random = random.Random(rates.seed)

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

    def recorded(self) -> list[Exchange]:
        """The exchanges so far, in the order the requests arrived."""
        with self._lock:
            return list(self.exchanges)

    def gets(self, key: str) -> int:
        """GetObject requests seen for `key` (faulted ones included)."""
        return sum(1 for e in self.recorded() if e.method == "GET" and e.key == key)

    def requests_for(self, method: str, key: str) -> list[dict[str, str]]:
        """The headers of each `method` request for `key`, in order (Range, If-Match...)."""
        return [e.headers for e in self.recorded() if e.method == method and e.key == key]

    def _draw(self, method: str, key: str) -> ScriptStep:
        """This request's fault: the next scripted step, else a random one (one draw per kind,
        in a fixed order), else None."""
        with self._lock:
            steps = self.script.get((method, key))
            if steps:
                return steps.pop(0)
            rates = self._rates
            if rates.methods is not None and method not in rates.methods:
                return None
            if rates.keys is not None and not key.startswith(rates.keys):
                return None
            for kind, rate in (
                ("slow_down", rates.slow_down),
                ("reset", rates.reset),
                ("put_failure", rates.put_failure if method == "PUT" else 0.0),
                ("stall", rates.stall),
                ("reset_mid_body", rates.reset_mid_body),
                ("stall_mid_body", rates.stall_mid_body),
                ("lost_answer", rates.lost_answer),
            ):
                if rate and self._random.random() < rate:
                    return kind
            return None

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                bucket, _, key = unquote(parts.path.lstrip("/")).partition("/")
                query = parse_qs(parts.query, keep_blank_values=True)
                self.exchange = Exchange(
                    method=self.command,
                    bucket=bucket,
                    key=key,
                    query={name: values[-1] for name, values in query.items()},
                    headers=dict(self.headers.items()),
                    body=body if self.command == "POST" else b"",
                )
                with proxy._lock:
                    proxy.exchanges.append(self.exchange)
                    latency, stall_s = proxy._rates.latency_s, proxy._rates.stall_s
                if latency:
                    time.sleep(latency)
                fault = proxy.faults.get((self.command, key))
                if fault is not None:
                    self._send_error(fault)
                    return
                drawn = proxy._draw(self.command, key)
                if callable(drawn):
                    drawn()
                    drawn = None
                if drawn == "stall":
                    proxy._count(drawn)
                    time.sleep(stall_s)
                if drawn == "slow_down":
                    proxy._count(drawn)
                    self._send_error(Fault(503, "SlowDown", "Please reduce your request rate."))
                    return
                if drawn == "put_failure":
                    proxy._count(drawn)
                    self._send_error(Fault(500, "InternalError", "We encountered an error."))
                    return
                if drawn == "reset":
                    proxy._count(drawn)
                    self._reset()
                    return
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    if drawn == "lost_answer":
                        proxy._count(drawn)
                        self._reset()
                        return
                    self.exchange.status = response.status
                    self.exchange.response_headers = dict(response.getheaders())
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    half = len(payload) // 2
                    if drawn == "reset_mid_body" and half:
                        proxy._count(drawn)
                        self.wfile.write(payload[:half])
                        self.wfile.flush()
                        self._reset()
                        return
                    if drawn == "stall_mid_body" and half:
                        proxy._count(drawn)
                        self.wfile.write(payload[:half])
                        self.wfile.flush()
                        time.sleep(stall_s)
                        with contextlib.suppress(OSError):  # the client gave up meanwhile
                            self.wfile.write(payload[half:])
                        return
                    self.wfile.write(payload)
                finally:
                    upstream.close()

            def _reset(self) -> None:
                """Close with SO_LINGER 0: the peer sees a TCP RST, as from a dropped connection."""
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()

            def finish(self) -> None:
                with contextlib.suppress(OSError):  # the connection was reset on purpose
                    super().finish()

            def _send_error(self, fault: Fault) -> None:
                self.exchange.status = fault.status
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
