"""The OpenAI embeddings API, or any server that speaks its wire format (`base_url`).

Requests hold at most 2,048 inputs and a bounded token count. 429 (honouring Retry-After),
5xx and time-outs are retried with exponential backoff by the official client, at most
`max_retries` times; a rejected key is reported at once. The key is used, never kept: it is
not part of the identity, the store, a log line or an error message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence

import numpy as np

from embedviz.backends.base import Backend, normalize
from embedviz.errors import BackendError

log = logging.getLogger(__name__)

MODELS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_MODEL = "text-embedding-3-small"
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_INPUT = 8191
MAX_TOKENS_PER_REQUEST = 250_000
"""Below the API's 300k tokens per request, to leave room for the estimate's error."""
BYTES_PER_TOKEN = 3
"""Token counts are estimated without a tokenizer: at most one token per 3 UTF-8 bytes holds
for English (about 4.5 bytes a token) and CJK (3 bytes a character), so truncation is safe."""


def estimate_tokens(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass")) // BYTES_PER_TOKEN + 1


def truncate(text: str) -> tuple[str, bool]:
    """The text cut to the per-input token limit (by the estimate), and whether it was cut."""
    if estimate_tokens(text) <= MAX_TOKENS_PER_INPUT:
        return text, False
    limit = (MAX_TOKENS_PER_INPUT - 1) * BYTES_PER_TOKEN
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore"), True


def batches(texts: Sequence[str]) -> Iterator[list[str]]:
    """Consecutive runs of texts within the inputs and token limits of one request."""
    batch: list[str] = []
    tokens = 0
    for text in texts:
        cost = estimate_tokens(text)
        if batch and (len(batch) >= MAX_INPUTS_PER_REQUEST or tokens + cost > MAX_TOKENS_PER_REQUEST):
            yield batch
            batch, tokens = [], 0
        batch.append(text)
        tokens += cost
    if batch:
        yield batch


class OpenAIBackend(Backend):
    name = "openai"
    chunk_size = MAX_INPUTS_PER_REQUEST

    def __init__(
        self,
        model: str | None = None,
        dimensions: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        client=None,
        max_retries: int = 4,
        timeout: float = 60.0,
    ):
        self.model = model or DEFAULT_MODEL
        native = MODELS.get(self.model)
        if dimensions is not None:
            if self.model == "text-embedding-ada-002":
                raise BackendError("text-embedding-ada-002 has a fixed size; leave dimensions unset.")
            if dimensions < 1 or (native and dimensions > native):
                raise BackendError(
                    f"dimensions must be between 1 and {native or 'the model size'} for {self.model}."
                )
        self.dimensions = dimensions
        self.truncated = 0
        self._client = client or _make_client(api_key, base_url, max_retries, timeout)
        self._secret = api_key or os.environ.get("OPENAI_API_KEY") or ""

    @property
    def dimension(self) -> int | None:
        return self.dimensions or MODELS.get(self.model)

    def identity(self) -> dict:
        return {"backend": self.name, "model": self.model, "dimension": self.dimension}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        prepared = []
        for text in texts:
            cut, was_cut = truncate(text)
            prepared.append(cut)
            self.truncated += was_cut
        rows: list[np.ndarray] = []
        for batch in batches(prepared):
            rows.extend(self._request(batch))
        return normalize(np.vstack(rows)) if rows else np.zeros((0, self.dimension or 0), np.float32)

    def _request(self, batch: list[str]) -> list[np.ndarray]:
        import openai

        options = {"dimensions": self.dimensions} if self.dimensions else {}
        try:
            response = self._client.embeddings.create(
                model=self.model, input=batch, encoding_format="float", **options
            )
        except openai.AuthenticationError:
            raise BackendError(
                "the embeddings server rejected the API key (401); check OPENAI_API_KEY or the key field."
            ) from None
        except openai.PermissionDeniedError:
            raise BackendError("the API key may not use this model (403).") from None
        except openai.APITimeoutError:
            raise BackendError("the embeddings server timed out after retries; try again later.") from None
        except openai.APIConnectionError:
            raise BackendError(
                "could not reach the embeddings server; check the base URL and network."
            ) from None
        except openai.APIStatusError as e:
            message = self._scrub(str(e.message))[:300]
            raise BackendError(f"the embeddings server answered {e.status_code}: {message}") from None
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise BackendError(f"the server returned {len(data)} vectors for {len(batch)} texts.")
        return [np.asarray(item.embedding, dtype=np.float32) for item in data]

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _make_client(api_key: str | None, base_url: str | None, max_retries: int, timeout: float):
    try:
        import openai
    except ImportError:
        raise BackendError("pip install openai to use this backend") from None
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        if not base_url:
            raise BackendError(
                "no OpenAI API key: set OPENAI_API_KEY or enter a key (it is kept only in memory)."
            )
        key = "unused"  # OpenAI-compatible local servers often need none
    return openai.OpenAI(api_key=key, base_url=base_url, max_retries=max_retries, timeout=timeout)
