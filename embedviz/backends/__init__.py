"""Embedding backends, picked by name from a registry."""

from __future__ import annotations

from collections.abc import Callable

from embedviz.backends.base import Backend, normalize
from embedviz.errors import BackendError


def _sentence_transformers(**options) -> Backend:
    from embedviz.backends.local import SentenceTransformerBackend

    return SentenceTransformerBackend(**options)


def _openai(**options) -> Backend:
    from embedviz.backends.openai import OpenAIBackend

    return OpenAIBackend(**options)


def _tfidf(**options) -> Backend:
    from embedviz.backends.tfidf import TfidfBackend

    return TfidfBackend(**options)


def _precomputed(**options) -> Backend:
    from embedviz.backends.precomputed import PrecomputedBackend

    return PrecomputedBackend(**options)


BACKENDS: dict[str, Callable[..., Backend]] = {
    "sentence-transformers": _sentence_transformers,
    "openai": _openai,
    "tfidf": _tfidf,
    "precomputed": _precomputed,
}
DEFAULT_BACKEND = "sentence-transformers"


def make_backend(name: str, **options) -> Backend:
    """Build the backend registered as `name`; options go to its constructor."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise BackendError(
            f"unknown backend {name!r}; choose one of {', '.join(sorted(BACKENDS))}."
        ) from None
    try:
        return factory(**options)
    except TypeError as e:
        raise BackendError(f"backend {name!r}: {e}") from None


def build_backend(
    name: str,
    *,
    model: str | None = None,
    dimensions: int | None = None,
    base_url: str | None = None,
    batch_size: int = 32,
    api_key: str | None = None,
    vectors=None,
    source: str | None = None,
) -> Backend:
    """A backend from the settings the CLI and the page share, each passed where it applies:
    model and batch size (sentence-transformers), model, dimensions, base URL and key (openai),
    dimensions (tfidf), vectors (precomputed), model (any other registered backend)."""
    if name == "sentence-transformers":
        options = {"model": model, "batch_size": batch_size}
    elif name == "openai":
        options = {"model": model, "dimensions": dimensions, "base_url": base_url, "api_key": api_key}
    elif name == "tfidf":
        options = {"dimensions": dimensions} if dimensions else {}
    elif name == "precomputed":
        options = {"vectors": vectors, "source": source or "vectors"}
    else:
        options = {"model": model} if model else {}
    return make_backend(name, **options)


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Add a backend (a plug-in, or a test's tiny deterministic one)."""
    BACKENDS[name] = factory


__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "Backend",
    "build_backend",
    "make_backend",
    "normalize",
    "register_backend",
]
