"""A small OpenAI-compatible chat-completions server for tests and the benchmark.

It listens on 127.0.0.1 on a free port (no network), answers ``POST /v1/chat/completions``
with what the test programs, and records each request and the most requests it had in
flight at once, so a test can see retries, backoff and concurrency from the outside.

``reply`` is called with the request's JSON (and the number of the request, from 1) and
returns a ``Reply``; by default every request gets ``Reply(content='{"answers": {}}')``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One programmed answer: a status, the assistant's text (or a raw body), headers."""

    content: str = '{"answers": {}}'
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # sent as it is instead of a chat completion


@dataclass
class Seen:
    """A request as the server received it."""

    body: dict[str, Any]
    authorization: str
    at: float


def completion(content: str, model: str = "stub") -> dict:
    """A chat completion as the OpenAI API returns it."""
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class OpenAIStub:
    """Start with ``with OpenAIStub(reply) as stub:``; ``stub.base_url`` is for the client."""

    def __init__(self, reply: Callable[[dict, int], Reply] | None = None, delay: float = 0.0):
        self.reply = reply or (lambda body, number: Reply(delay=delay))
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict, authorization: str) -> Reply:
        with self._lock:
            self.requests.append(Seen(body, authorization, time.monotonic()))
            number = len(self.requests)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self.reply(body, number)
            if reply.delay:
                time.sleep(reply.delay)
            return reply
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet in tests
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                body = json.loads(raw or b"{}")
                reply = stub._answer(body, self.headers.get("Authorization", ""))
                if reply.body is not None:
                    payload = reply.body
                elif reply.status == 200:
                    payload = json.dumps(completion(reply.content, body.get("model", "stub")))
                else:
                    payload = json.dumps({"error": {"message": reply.content, "code": None}})
                self._send(reply.status, payload, reply.headers)

            def _send(self, status: int, payload, headers: dict | None = None) -> None:
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
