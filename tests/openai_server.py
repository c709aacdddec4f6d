"""A small OpenAI-compatible embeddings server on 127.0.0.1, for tests.

It answers POST /v1/embeddings with deterministic planted vectors, checks the bearer key,
counts requests and inputs, and can be told to fail: `faults` is a list of (status, headers)
served first, one per request, and `fail_after` makes every request after the first N fail.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from tests.planted import planted_vector

NATIVE = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class FakeOpenAI:
    def __init__(self, key: str = "test-key") -> None:
        self.key = key
        self.requests: list[dict] = []
        self.headers_seen: list[dict] = []
        self.faults: list[tuple[int, dict]] = []
        self.fail_after: int | None = None
        self.delay = 0.0
        self.slow_requests = 0
        """The first this many requests wait `delay` seconds before answering (time-outs)."""
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server._handle(self, json.loads(body or b"{}"))

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._http.shutdown()
        self._http.server_close()

    @property
    def n_inputs(self) -> int:
        return sum(len(r["input"]) for r in self.requests if isinstance(r.get("input"), list))

    def _handle(self, handler: BaseHTTPRequestHandler, payload: dict) -> None:
        with self._lock:
            self.headers_seen.append({k.lower(): v for k, v in handler.headers.items()})
            self.requests.append(payload)
            number = len(self.requests)
            fault = self.faults.pop(0) if self.faults else None
        if number <= self.slow_requests:
            time.sleep(self.delay)
        if handler.headers.get("Authorization") != f"Bearer {self.key}":
            return _send(
                handler,
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        if fault is None and self.fail_after is not None and number > self.fail_after:
            fault = (500, {})
        if fault is not None:
            status, headers = fault
            return _send(
                handler,
                status,
                {"error": {"message": f"planned fault {status}", "type": "server_error"}},
                headers,
            )
        if "messages" in payload:  # chat completions: name the cluster after its first keyword
            prompt = payload["messages"][-1]["content"]
            keyword = prompt.split("Keywords: ", 1)[1].split(",", 1)[0].split(".", 1)[0]
            reply = {"role": "assistant", "content": f"All about {keyword}"}
            return _send(
                handler,
                200,
                {
                    "id": "c",
                    "object": "chat.completion",
                    "created": 0,
                    "model": payload["model"],
                    "choices": [{"index": 0, "message": reply, "finish_reason": "stop"}],
                },
            )
        inputs = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
        if len(inputs) > 2048:
            return _send(
                handler, 400, {"error": {"message": "too many inputs", "type": "invalid_request_error"}}
            )
        size = payload.get("dimensions") or NATIVE.get(payload["model"], 1536)
        data = []
        for index, text in enumerate(inputs):
            vector = np.resize(planted_vector(text), size)
            vector = vector / np.linalg.norm(vector)
            data.append({"object": "embedding", "index": index, "embedding": vector.round(6).tolist()})
        data.reverse()  # the API does not promise order; clients must sort by index
        tokens = sum(len(t.split()) for t in inputs)
        _send(
            handler,
            200,
            {
                "object": "list",
                "data": data,
                "model": payload["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


def _send(handler: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
    raw = json.dumps(body).encode()
    if handler.wfile.closed:
        return
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    with contextlib.suppress(ConnectionError):  # the client gave up (a time-out test)
        handler.wfile.write(raw)
