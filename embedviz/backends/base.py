"""The backend interface: anything with a name, an identity and `encode`."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from embedviz.errors import BackendError

BatchDone = Callable[[int], None]
"""Called with the number of texts just encoded."""


class Backend(ABC):
    """An embedding backend.

    `encode(texts)` returns float32 rows (n, d) in input order, L2-normalised.
    `identity()` names the vector space for the store: it must change whenever the vectors
    would, and must never hold a secret (no API key, no URL).
    """

    name: str = ""
    model: str | None = None
    persist: bool = True
    """Whether vectors go to the persistent store (False when they come from the user)."""
    chunk_size: int = 1024
    """How many texts the embed stage hands to `encode` at a time (and stores in one write)."""
    on_build: Callable[[str], None] | None = None
    """Told what one-off step runs before the first texts are encoded (building the int8 model,
    fitting TF-IDF): a page shows it while its progress bar stands at 0."""

    @property
    def dimension(self) -> int | None:
        """The vector size, when known before encoding."""
        return None

    def identity(self) -> dict:
        return {"backend": self.name, "model": self.model, "dimension": self.dimension}

    def space(self) -> str:
        """A short key for the vector space: a digest of `identity()`."""
        return space_of(self.identity())

    def fit(self, texts: Sequence[str]) -> None:  # noqa: B027 - a hook most backends skip
        """Corpus-fitted backends learn from the corpus here; others ignore it."""

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) texts -> float32 (n, d), rows in input order, L2-normalised."""
        raise NotImplementedError


def space_of(identity: dict) -> str:
    """The store's key for the vectors of a backend with this identity."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def normalize(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit length (zero rows stay zero); rejects NaN and inf."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise BackendError(f"expected a 2-D array of vectors, got shape {vectors.shape}.")
    if not np.isfinite(vectors).all():
        bad = int((~np.isfinite(vectors)).any(axis=1).sum())
        raise BackendError(f"{bad} vector(s) contain NaN or infinite values.")
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)  # float32 overflows past 1e19
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
