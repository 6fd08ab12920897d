"""A real OpenAI-protocol HTTP server on 127.0.0.1 for tests: scriptable, with fault injection.

Tests fake OpenAI at the HTTP edge (the SDK, httpx and our retry code all run for real).

    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as fake:                       # or the pytest fixture `fake_openai`
        client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        fake.queue("从前，", "Once upon a time")     # canned outputs, one per request, FIFO
        fake.responder = lambda body: "echo"        # else: a function of the request's JSON body
        fake.latency_s = 0.05                       # sleep before each response
        fake.chunk_delay_s = 0.01                   # sleep between SSE chunks
        fake.chunk_chars = 3                        # stream text in pieces of this many characters
        fake.fail(429, times=2)                     # next 2 matching requests get 429, then success
        fake.fail(429, code="insufficient_quota")   # quota exhausted
        fake.fail(401) / fake.fail(500)             # bad key / server error
        fake.fail(cut_after=3)                      # stream 3 chunks, then drop the connection
        fake.fail(close=True)                       # drop the connection before any response
        fake.fail(500, path="/v1/completions")      # faults can be limited to one path
        fake.api_key = "sk-right"                   # then any other bearer key gets a real 401
        fake.models = ["gpt-4o-mini", ...]          # GET /v1/models; strict_models=True -> 404s
        fake.requests[-1].json                      # log of received requests, for assertions

Endpoints: GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions and /v1/completions
(stream true/false; SSE `data: {...}` chunks then `data: [DONE]`; `usage` in non-stream replies and,
with stream_options.include_usage, in a last chunk; `stop` strings cut the text like a real server).

Adding routes (e.g. files and fine-tuning jobs, in a module of their own):

    def create_job(req: FakeRequest) -> dict | Reply: ...
    fake.route("POST", "/v1/fine_tuning/jobs", create_job)
    fake.route("GET", "/v1/fine_tuning/jobs/{job_id}", lambda req: jobs[req.params["job_id"]])

A handler returns a dict (sent as 200 JSON) or a `Reply(status, json=..., body=..., headers=...,
sse=[...])`. `req.multipart()` parses multipart/form-data uploads into {name: Part}.
Faults and latency apply to added routes too.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_MODELS = [
    "gpt-4o-mini",
    "gpt-4o",
    "babbage-002",
    "davinci-002",
    "ft:gpt-4o-mini-2024-07-18:acme::abc123",
    "ft:babbage-002:acme::def456",
]
_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}


@dataclass
class Part:
    """One field of a multipart upload: `data` bytes, `filename` for files."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class FakeRequest:
    """A received request, as logged in `FakeOpenAI.requests` and passed to route handlers."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        ctype = self.headers.get("content-type", "")
        if not self.body or "json" not in ctype:
            return None
        return json.loads(self.body)

    def multipart(self) -> dict[str, Part]:
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers.get("content-type", "").encode() + b"\r\n\r\n" + self.body
        )
        parts = {}
        for p in msg.iter_parts():
            name = p.get_param("name", header="content-disposition")
            parts[name] = Part(name, p.get_payload(decode=True) or b"", p.get_filename(), p.get_content_type())
        return parts


@dataclass
class Reply:
    """What a route handler may return besides a plain dict."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sse: Iterable[dict | str] | None = None  # events; "[DONE]" is sent after them


@dataclass
class Fault:
    status: int | None = None
    code: str | None = None
    message: str | None = None
    cut_after: int | None = None
    close: bool = False
    path: str | None = None
    times: int = 1


def error_body(status: int, message: str, code: str | None = None, etype: str | None = None) -> dict:
    return {"error": {"message": message, "type": etype or _ERROR_TYPES.get(status, "api_error"),
                      "param": None, "code": code}}


class FakeOpenAI:
    """The server. Start with `start()` or `with`; `base_url` ends in /v1."""

    def __init__(self) -> None:
        self.outputs: deque[str] = deque()
        self.responder: Callable[[dict], str] | None = None
        self.latency_s = 0.0
        self.chunk_delay_s = 0.0
        self.chunk_chars = 3
        self.api_key: str | None = None
        self.models = list(DEFAULT_MODELS)
        self.strict_models = False
        self.requests: list[FakeRequest] = []
        self.faults: list[Fault] = []
        self._routes: list[tuple[str, re.Pattern, Callable]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.route("GET", "/v1/models", self._list_models)
        self.route("GET", "/v1/models/{model}", self._get_model)
        self.route("POST", "/v1/chat/completions", self._chat)
        self.route("POST", "/v1/completions", self._completion)

    # -- scripting ---------------------------------------------------------------------------
    def queue(self, *texts: str) -> None:
        self.outputs.extend(texts)

    def fail(self, status: int | None = None, *, times: int = 1, code: str | None = None,
             message: str | None = None, cut_after: int | None = None, close: bool = False,
             path: str | None = None) -> None:
        self.faults.append(Fault(status, code, message, cut_after, close, path, times))

    def route(self, method: str, path: str, handler: Callable[[FakeRequest], dict | Reply]) -> None:
        """Register `handler` for `path`; `{name}` segments land in `req.params`. Later wins."""
        pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        self._routes.insert(0, (method.upper(), pattern, handler))

    def requests_to(self, path: str) -> list[FakeRequest]:
        return [r for r in self.requests if r.path == path]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- internals ---------------------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.path is None or f.path == path:
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

    def _next_text(self, body: dict) -> str:
        with self._lock:
            if self.outputs:
                return self.outputs.popleft()
        if self.responder:
            return self.responder(body)
        return "从前，有一位英雄来到了今天。Once upon a time, a hero came to today."

    def _list_models(self, req: FakeRequest) -> dict:
        return {"object": "list", "data": [_model(m) for m in self.models]}

    def _get_model(self, req: FakeRequest) -> dict | Reply:
        m = req.params["model"]
        return _model(m) if m in self.models else Reply(404, error_body(404, f"The model '{m}' does not exist",
                                                                         "model_not_found"))

    def _chat(self, req: FakeRequest) -> dict | Reply:
        return self._generate(req, chat=True)

    def _completion(self, req: FakeRequest) -> dict | Reply:
        return self._generate(req, chat=False)

    def _generate(self, req: FakeRequest, chat: bool) -> dict | Reply:
        body = req.json or {}
        model = body.get("model", "")
        if self.strict_models and model not in self.models:
            msg = f"The model `{model}` does not exist or you do not have access to it."
            return Reply(404, error_body(404, msg, "model_not_found"))
        text = _apply_stop(self._next_text(body), body.get("stop"))
        prompt = json.dumps(body.get("messages")) if chat else str(body.get("prompt", ""))
        usage = {"prompt_tokens": max(1, len(prompt) // 4), "completion_tokens": max(1, len(text) // 2)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        rid, created = ("chatcmpl-" if chat else "cmpl-") + f"fake{len(self.requests)}", int(time.time())
        head = {"id": rid, "created": created, "model": model,
                "object": "chat.completion" if chat else "text_completion"}
        if not body.get("stream"):
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                       "logprobs": None} if chat else
                      {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None})
            return {**head, "choices": [choice], "usage": usage}
        head["object"] = "chat.completion.chunk" if chat else "text_completion"
        pieces = [text[i:i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]

        def events():
            if chat:
                yield {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                            "finish_reason": None}]}
            for p in pieces:
                delta = {"delta": {"content": p}} if chat else {"text": p, "logprobs": None}
                yield {**head, "choices": [{"index": 0, **delta, "finish_reason": None}]}
            last = {"delta": {}} if chat else {"text": "", "logprobs": None}
            yield {**head, "choices": [{"index": 0, **last, "finish_reason": "stop"}]}
            if (body.get("stream_options") or {}).get("include_usage"):
                yield {**head, "choices": [], "usage": usage}

        return Reply(sse=events())


def _model(mid: str) -> dict:
    owner = mid.split(":")[2] if mid.startswith("ft:") and mid.count(":") >= 2 else "openai"
    return {"id": mid, "object": "model", "created": 1700000000, "owned_by": owner or "user"}


def _apply_stop(text: str, stop: str | list[str] | None) -> str:
    for s in [stop] if isinstance(stop, str) else stop or []:
        if s and s in text:
            text = text[: text.index(s)]
    return text


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up (cancel, cuts) are normal
            super().handle_error(request, client_address)


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def _handle(self) -> None:
            url = urlsplit(self.path)
            size = int(self.headers.get("content-length") or 0)
            req = FakeRequest(self.command, url.path, parse_qs(url.query),
                              {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(size))
            with fake._lock:
                fake.requests.append(req)
            if fake.latency_s:
                time.sleep(fake.latency_s)
            fault = fake._take_fault(url.path)
            if fault and fault.close:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault and fault.status:
                msg = fault.message or {401: "Incorrect API key provided.", 404: "Not found.",
                                        429: "Rate limit reached."}.get(fault.status, "The server had an error.")
                if fault.code == "insufficient_quota":
                    msg = fault.message or "You exceeded your current quota, please check your plan and billing."
                return self._send(Reply(fault.status, error_body(fault.status, msg, fault.code,
                                                                 "insufficient_quota" if fault.code ==
                                                                 "insufficient_quota" else None)))
            auth = req.headers.get("authorization", "")
            if fake.api_key is not None and auth != f"Bearer {fake.api_key}":
                return self._send(Reply(401, error_body(401, "Incorrect API key provided.", "invalid_api_key")))
            for method, pattern, handler in fake._routes:
                m = pattern.match(url.path)
                if m and method == self.command:
                    req.params = m.groupdict()
                    out = handler(req)
                    return self._send(out if isinstance(out, Reply) else Reply(json=out),
                                      cut_after=fault.cut_after if fault else None)
            self._send(Reply(404, error_body(404, f"Unknown path {url.path}")))

        def _send(self, reply: Reply, cut_after: int | None = None) -> None:
            if reply.sse is not None:
                return self._send_sse(reply, cut_after)
            data = reply.body if reply.body is not None else json.dumps(reply.json, ensure_ascii=False).encode()
            self.send_response(reply.status)
            headers = {"content-type": "application/json", **reply.headers, "content-length": str(len(data))}
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _send_sse(self, reply: Reply, cut_after: int | None) -> None:
            self.send_response(reply.status)
            for k, v in {"content-type": "text/event-stream", **reply.headers,
                         "transfer-encoding": "chunked", "cache-control": "no-cache"}.items():
                self.send_header(k, v)
            self.end_headers()
            sent = 0
            for event in [*reply.sse, "[DONE]"]:
                if cut_after is not None and sent >= cut_after:
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)  # no terminating chunk: the client sees a cut stream
                    return
                data = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
                payload = f"data: {data}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
                self.wfile.flush()
                sent += 1
                if fake.chunk_delay_s:
                    time.sleep(fake.chunk_delay_s)
            self.wfile.write(b"0\r\n\r\n")

    return Handler
