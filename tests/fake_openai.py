"""A fake OpenAI-compatible chat-completions server over real HTTP on 127.0.0.1.

It validates each request the way the real API does (auth, model, message and content-part
shapes, `image_url` data URLs that decode to images, a strict `json_schema` response format,
unknown arguments), answers with scripted content and realistic `usage` (text tokens from a
tokenizer-like count, image tokens from the decoded image size by the model's tile rule), and
injects faults on demand: latency, 429 with Retry-After, 500, timeouts, dropped connections,
malformed bodies, malformed or off-schema content and refusals.

Error bodies deliberately quote the API key and the page text, so tests can prove none of it
reaches our logs, metadata or messages.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

DEFAULT_KEY = "sk-fake-7c1d0e5a9b2f4c68a3e1d0f9b8c7a6e5"
# Image token rule per model family (base, tile), as the real API bills them.
IMAGE_RULES = {"gpt-4o-mini": (2833, 5667), "gpt-4o": (85, 170)}
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")

_TOP_LEVEL = {
    "model",
    "messages",
    "response_format",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "seed",
    "stream",
    "user",
    "stop",
}
_STRICT_UNSUPPORTED = {
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "default",
}
_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_DATA_URL = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,(.+)$", re.S)
_TOKEN = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]")


def count_tokens(text: str) -> int:
    """A tokenizer-like count: words (long ones count twice), 3-digit number chunks, symbols."""
    return sum(2 if len(m) > 8 else 1 for m in _TOKEN.findall(text))


def image_tokens(model: str, width: int, height: int, detail: str) -> int:
    base, tile = next(
        (
            rule
            for name, rule in sorted(IMAGE_RULES.items(), key=lambda kv: -len(kv[0]))
            if model.startswith(name)
        ),
        (85, 170),
    )
    if detail == "low":
        return base
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        w, h = w * 2048 / max(w, h), h * 2048 / max(w, h)
    if min(w, h) > 768:
        w, h = w * 768 / min(w, h), h * 768 / min(w, h)
    return base + tile * math.ceil(w / 512) * math.ceil(h / 512)


@dataclass
class Fault:
    """What to do instead of answering normally, for the next request that takes it."""

    kind: str  # 429, 500, timeout, disconnect, malformed_body, malformed_content, refusal,
    # off_schema, length
    retry_after: str | None = None  # Retry-After header value for 429/500
    delay_s: float = 0.0  # for timeout: how long to stall before answering


@dataclass
class Call:
    """One request as the server saw it (after validation)."""

    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float
    texts: list[str] = field(default_factory=list)  # text parts of user messages
    system: list[str] = field(default_factory=list)
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    status: int = 200
    usage: dict[str, Any] | None = None
    fault: str | None = None

    @property
    def user_text(self) -> str:
        return "\n".join(self.texts)


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, param: str | None = None
    ):
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def _check_strict_schema(node: Any, path: str = "schema") -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_strict_schema(item, f"{path}[{i}]")
        return
    if not isinstance(node, dict):
        return
    bad = _STRICT_UNSUPPORTED.intersection(node)
    if bad:
        raise ApiError(400, f"Invalid schema: {path} uses unsupported keyword {sorted(bad)[0]}")
    if node.get("type") == "object":
        if node.get("additionalProperties") is not False:
            raise ApiError(400, f"Invalid schema: {path} must set additionalProperties to false")
        props = node.get("properties", {})
        if sorted(node.get("required", [])) != sorted(props):
            raise ApiError(400, f"Invalid schema: {path} must require every property")
        for name, sub in props.items():
            _check_strict_schema(sub, f"{path}.{name}")
        return
    for key, value in node.items():
        if key in ("items", "anyOf", "$defs", "definitions"):
            _check_strict_schema(value, f"{path}.{key}")


class FakeOpenAI:
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        models: tuple[str, ...] = MODELS,
        latency_s: float = 0.0,
        answer: Callable[[Call], Any] | dict[str, Any] | None = None,
        cached_tokens: int = 0,
        port: int = 0,  # 0: any free port; a fixed one to come back where an outage was
    ) -> None:
        self.port = port
        self.api_key = api_key
        self.models = models
        self.latency_s = latency_s
        self.answer = answer if answer is not None else {"classification": "other", "entities": []}
        self.cached_tokens = cached_tokens
        self.calls: list[Call] = []
        self.rejections: list[str] = []  # validation failures (400s) the client caused
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.request_queue_size = 128
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def add_faults(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    # --- request handling --------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        call = Call(body={}, headers=dict(handler.headers.items()), received_at=time.monotonic())
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            fault = self._faults.popleft() if self._faults else None
            self.calls.append(call)
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            try:
                self._validate(handler, raw, call)
            except ApiError as exc:
                call.status = exc.status
                if exc.status == 400:
                    self.rejections.append(str(exc))
                self._send_error(handler, exc.status, str(exc), exc.code, exc.param)
                return
            self._respond(handler, call, fault)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer
        finally:
            with self._lock:
                self._in_flight -= 1

    def _validate(self, handler: BaseHTTPRequestHandler, raw: bytes, call: Call) -> None:
        if handler.path.rstrip("/") != "/v1/chat/completions":
            raise ApiError(404, f"Invalid URL (POST {handler.path})")
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            given = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
            raise ApiError(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
        if "application/json" not in (handler.headers.get("Content-Type") or ""):
            raise ApiError(400, "Content-Type must be application/json")
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The body of your request must be a JSON object.")
        call.body = body
        unknown = set(body) - _TOP_LEVEL
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {sorted(unknown)[0]}")
        model = body.get("model")
        if model not in self.models:
            raise ApiError(404, f"The model `{model}` does not exist", "model_not_found")
        if body.get("stream"):
            raise ApiError(400, "this fake does not stream")
        for key in ("max_tokens", "max_completion_tokens"):
            if key in body and (not isinstance(body[key], int) or body[key] < 1):
                raise ApiError(400, f"Invalid '{key}': expected a positive integer.", param=key)
        temperature = body.get("temperature", 1)
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            raise ApiError(400, "Invalid 'temperature'", param="temperature")
        self._validate_messages(body.get("messages"), call, model)
        self._validate_format(body.get("response_format"), call)

    def _validate_messages(self, messages: Any, call: Call, model: str) -> None:
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "'messages' must be a non-empty array", param="messages")
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("system", "developer", "user", "assistant"):
                raise ApiError(400, f"Invalid 'messages[{i}].role'", param=f"messages[{i}]")
            content = message.get("content")
            if isinstance(content, str):
                (call.system if role in ("system", "developer") else call.texts).append(content)
                continue
            if not isinstance(content, list) or not content:
                raise ApiError(400, f"Invalid 'messages[{i}].content'", param=f"messages[{i}]")
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                where = f"messages[{i}].content[{j}]"
                if kind == "text" and isinstance(part.get("text"), str):
                    (call.system if role in ("system", "developer") else call.texts).append(
                        part["text"]
                    )
                elif kind == "image_url" and role == "user":
                    self._validate_image(part.get("image_url"), call, where)
                else:
                    raise ApiError(400, f"Invalid content part at '{where}'", param=where)

    def _validate_image(self, image_url: Any, call: Call, where: str) -> None:
        if not isinstance(image_url, dict) or not isinstance(image_url.get("url"), str):
            raise ApiError(400, f"Invalid '{where}.image_url'", param=where)
        detail = image_url.get("detail", "auto")
        if detail not in ("low", "high", "auto"):
            raise ApiError(400, f"Invalid '{where}.image_url.detail'", param=where)
        match = _DATA_URL.match(image_url["url"])
        if not match:
            raise ApiError(
                400, "Invalid image URL: expected a base64 data URL", "invalid_image_url"
            )
        try:
            data = base64.b64decode(match.group(2), validate=True)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                size = image.size
        except (binascii.Error, OSError, ValueError):
            raise ApiError(400, "You uploaded an unsupported image.", "invalid_image") from None
        if len(data) > 20 * 1024 * 1024:
            raise ApiError(400, "Image too large (20 MB limit)", "image_too_large")
        call.image_sizes.append(size)
        call.details.append(detail)

    def _validate_format(self, fmt: Any, call: Call) -> None:
        if fmt is None:
            return
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "text":
            return
        if kind == "json_object":
            if "json" not in json.dumps(call.body.get("messages")).lower():
                raise ApiError(400, "'messages' must contain the word 'json' for json_object")
            return
        if kind != "json_schema":
            raise ApiError(400, "Invalid 'response_format.type'", param="response_format")
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not _SCHEMA_NAME.match(str(spec.get("name", ""))):
            raise ApiError(400, "Invalid 'response_format.json_schema.name'")
        schema = spec.get("schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ApiError(400, "Invalid schema: the root must be an object")
        if spec.get("strict"):
            _check_strict_schema(schema)

    # --- answers -----------------------------------------------------------------------------

    def _usage(self, call: Call, content: str | None) -> dict[str, Any]:
        model = call.body["model"]
        messages = call.body["messages"]
        prompt = 3 + 3 * len(messages)
        prompt += sum(count_tokens(t) for t in call.system + call.texts)
        prompt += sum(
            image_tokens(model, w, h, d)
            for (w, h), d in zip(call.image_sizes, call.details, strict=True)
        )
        fmt = call.body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            prompt += count_tokens(json.dumps(fmt["json_schema"]["schema"]))
        completion = count_tokens(content or "") + 1
        cached = min(self.cached_tokens, prompt)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def _content(self, call: Call) -> str:
        answer = self.answer(call) if callable(self.answer) else self.answer
        return answer if isinstance(answer, str) else json.dumps(answer)

    def _respond(self, handler: BaseHTTPRequestHandler, call: Call, fault: Fault | None) -> None:
        call.fault = fault.kind if fault else None
        kind = fault.kind if fault else None
        leak = f"key={self.api_key} prompt={call.user_text[:200]}"  # what a careless log would show
        if kind in ("429", "500"):
            status = int(kind)
            call.status = status
            headers = {"retry-after": fault.retry_after} if fault and fault.retry_after else {}
            self._send_error(handler, status, f"fault {kind}: {leak}", "fault", None, headers)
            return
        if kind == "disconnect":
            handler.close_connection = True
            handler.connection.close()
            return
        if kind == "timeout":
            time.sleep(fault.delay_s if fault else 5.0)
        if kind == "malformed_body":
            self._send(handler, 200, b'{"id": "chatcmpl-broken", "choices": [{"message": {"con')
            return
        refusal = None
        finish = "stop"
        if kind == "malformed_content":
            content: str | None = '{"classification": "invoice", "entities": [{"type": "PER'
        elif kind == "refusal":
            content, refusal = None, "I'm sorry, I can't help with that."
        elif kind == "off_schema":
            content = json.dumps({"classification": "other", "entities": [], "notes": leak})
        elif kind == "length":
            content, finish = '{"classification": "other", "entities": [', "length"
        else:
            content = self._content(call)
        usage = self._usage(call, content or refusal)
        call.usage = usage
        body = {
            "id": f"chatcmpl-fake{len(self.calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": usage,
        }
        self._send(handler, 200, json.dumps(body).encode())

    def _send_error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        message: str,
        code: str | None,
        param: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        self._send(handler, status, json.dumps({"error": error}).encode(), headers)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
        handler.wfile.flush()


def _serve(conn: Any, kwargs: dict[str, Any]) -> None:
    with FakeOpenAI(**kwargs) as fake:
        conn.send(fake.base_url)
        conn.recv()  # until told to stop
        conn.send(
            {
                "calls": len(fake.calls),
                "max_in_flight": fake.max_in_flight,
                "rejections": fake.rejections,
            }
        )


class FakeOpenAIProcess:
    """The fake in a child process, as a real endpoint would be: its CPU work (decoding images,
    counting tokens) does not compete with the pipeline for this process's GIL. Benchmarks use it.
    `stats` (calls, max_in_flight, rejections) is filled in on exit."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.api_key = kwargs.get("api_key", DEFAULT_KEY)
        self.base_url = ""
        self.stats: dict[str, Any] = {}

    def __enter__(self) -> FakeOpenAIProcess:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.kwargs), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the fake OpenAI server did not start within 60 s")
        self.base_url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        if self._conn.poll(30):
            self.stats = self._conn.recv()
        self._process.join(timeout=30)
