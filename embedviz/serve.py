"""An OpenAI-compatible embeddings server over any embedviz backend (FastAPI).

POST /v1/embeddings takes `input` (a string or a list of strings), `model`, `dimensions` and
`encoding_format` (float or base64) as OpenAI's API does, answers in its shape (with `usage`)
and reports errors in its error shape. Concurrent requests are batched together; vectors come
from the store when a text was seen before. With `api_key`, a bearer token is required.
"""

from __future__ import annotations

import base64
import hmac
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, Queue

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from embedviz.backends.base import Backend
from embedviz.embed import embed
from embedviz.errors import EmbedvizError
from embedviz.store import Store

log = logging.getLogger(__name__)

MAX_INPUTS = 2048
MAX_INPUT_CHARS = 100_000
MAX_BODY_BYTES = 16 * 2**20
BATCH_WAIT_SECONDS = 0.005
BATCH_TEXTS = 256


@dataclass
class _Job:
    texts: list[str]
    done: Future = field(default_factory=Future)


class Batcher:
    """One worker thread encodes the texts of all requests waiting at that moment together."""

    def __init__(self, backend: Backend, store: Store | None) -> None:
        self.backend, self.store = backend, store
        self._queue: Queue[_Job] = Queue()
        self._thread = threading.Thread(target=self._run, name="embedviz-batcher", daemon=True)
        self._thread.start()

    def encode(self, texts: list[str]) -> np.ndarray:
        job = _Job(texts)
        self._queue.put(job)
        return job.done.result()

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            deadline = time.monotonic() + BATCH_WAIT_SECONDS
            while sum(len(j.texts) for j in jobs) < BATCH_TEXTS:
                try:
                    jobs.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except Empty:
                    break
            texts = [t for j in jobs for t in j.texts]
            try:
                vectors = embed(texts, self.backend, self.store, fit=False).vectors
            except Exception as e:  # every waiting request gets the error
                for job in jobs:
                    job.done.set_exception(e)
                continue
            start = 0
            for job in jobs:
                job.done.set_result(vectors[start : start + len(job.texts)])
                start += len(job.texts)


class EmbeddingRequest(BaseModel):
    input: str | list[str] | list[int] | list[list[int]]
    model: str
    dimensions: int | None = None
    encoding_format: str = "float"
    user: str | None = None


def count_tokens(backend: Backend, texts: list[str]) -> int:
    """Tokens as the model's own tokenizer counts them, else an estimate (4 bytes a token)."""
    tokenizer = getattr(backend, "tokenizer", None)
    if callable(tokenizer):
        tok = tokenizer()
        if tok is not None:
            return int(sum(len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]))
    return sum(max(1, len(t.encode("utf-8")) // 4) for t in texts)


def create_app(
    backend: Backend, store: Store | None = None, *, api_key: str | None = None, model_id: str | None = None
):
    """The FastAPI app. `model_id` is the name clients send as `model` (default: the backend's)."""
    served = model_id or backend.model or backend.name
    batcher = Batcher(backend, store)
    app = FastAPI(title="embedviz embeddings", version="1")

    def error(
        status: int, message: str, kind: str = "invalid_request_error", code: str | None = None, param=None
    ):
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        return JSONResponse(body, status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path.startswith("/v1/"):
            if api_key:
                given = request.headers.get("authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                    return error(401, "Incorrect or missing API key.", code="invalid_api_key")
            length = request.headers.get("content-length")
            if length and int(length) > MAX_BODY_BYTES:
                return error(
                    413, f"The request body is over {MAX_BODY_BYTES // 2**20} MB.", code="request_too_large"
                )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error(
            400, f"Invalid request: {first.get('msg', 'malformed body')} ({where or 'body'}).", param=where
        )

    @app.get("/health")
    def health():
        return {"status": "ok", "model": served, "dimension": backend.dimension}

    @app.get("/v1/models")
    def models():
        return {
            "object": "list",
            "data": [{"id": served, "object": "model", "created": 0, "owned_by": "embedviz"}],
        }

    @app.post("/v1/embeddings")
    def embeddings(body: EmbeddingRequest):
        if body.model != served:
            return error(
                404,
                f"The model {body.model!r} does not exist here; this server has {served!r}.",
                code="model_not_found",
                param="model",
            )
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts or not all(isinstance(t, str) for t in texts):
            return error(
                400,
                "input must be a non-empty string or list of strings (token arrays are not supported).",
                param="input",
            )
        if len(texts) > MAX_INPUTS:
            return error(
                400, f"input holds {len(texts)} items; at most {MAX_INPUTS} per request.", param="input"
            )
        if any(not t for t in texts):
            return error(400, "input cannot contain an empty string.", param="input")
        if any(len(t) > MAX_INPUT_CHARS for t in texts):
            return error(400, f"an input is over {MAX_INPUT_CHARS:,} characters.", param="input")
        if body.encoding_format not in ("float", "base64"):
            return error(400, "encoding_format must be 'float' or 'base64'.", param="encoding_format")
        width = backend.dimension
        if body.dimensions is not None and not (1 <= body.dimensions <= (width or body.dimensions)):
            return error(400, f"dimensions must be between 1 and {width}.", param="dimensions")
        try:
            vectors = batcher.encode(texts)
        except EmbedvizError as e:
            return error(500, str(e), kind="server_error")
        if body.dimensions:
            vectors = vectors[:, : body.dimensions]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        tokens = count_tokens(backend, texts)
        return {
            "object": "list",
            "data": data,
            "model": served,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    return app


def _encode(vector: np.ndarray, encoding_format: str):
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.astype(float).tolist()


def serve(backend: Backend, store: Store | None, host: str, port: int, api_key: str | None) -> None:
    import uvicorn

    uvicorn.run(create_app(backend, store, api_key=api_key), host=host, port=port, log_level="info")
