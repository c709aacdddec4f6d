"""Embedding backends, picked by name from a registry."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields

from embedviz.backends.base import Backend, normalize
from embedviz.errors import BackendError


def _lazy(module: str, cls: str) -> Callable[..., Backend]:
    """A factory that imports its class on first use (optional dependencies stay optional);
    `target()` gives the class, so options can be checked against its signature."""

    def target():
        import importlib

        return getattr(importlib.import_module(module), cls)

    def factory(**options) -> Backend:
        return target()(**options)

    factory.target = target
    return factory


BACKENDS: dict[str, Callable[..., Backend]] = {
    "sentence-transformers": _lazy("embedviz.backends.local", "SentenceTransformerBackend"),
    "openai": _lazy("embedviz.backends.openai", "OpenAIBackend"),
    "tfidf": _lazy("embedviz.backends.tfidf", "TfidfBackend"),
    "precomputed": _lazy("embedviz.backends.precomputed", "PrecomputedBackend"),
}
DEFAULT_BACKEND = "sentence-transformers"


def make_backend(name: str, **options) -> Backend:
    """Build the backend registered as `name`; options go to its constructor.

    Options are checked against the constructor's signature before the call: a wrong option
    is the caller's error (BackendError); anything the constructor raises is its own."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise BackendError(
            f"unknown backend {name!r}; choose one of {', '.join(sorted(BACKENDS))}."
        ) from None
    target = factory.target() if hasattr(factory, "target") else factory
    try:
        inspect.signature(target).bind(**options)
    except TypeError as e:
        raise BackendError(f"backend {name!r} does not take these options: {e}.") from None
    return factory(**options)


def build_backend(
    name: str,
    *,
    model: str | None = None,
    dimensions: int | None = None,
    base_url: str | None = None,
    batch_size: int = 32,
    precision: str | None = None,
    api_key: str | None = None,
    vectors=None,
    source: str | None = None,
) -> Backend:
    """A backend from the settings the CLI and the page share, each passed where it applies:
    model, batch size and precision (sentence-transformers), model, dimensions, base URL and key (openai),
    dimensions (tfidf), vectors (precomputed), model (any other registered backend)."""
    if name == "sentence-transformers":
        options = {"model": model, "batch_size": batch_size, "precision": precision}
    elif name == "openai":
        options = {"model": model, "dimensions": dimensions, "base_url": base_url, "api_key": api_key}
    elif name == "tfidf":
        options = {"dimensions": dimensions} if dimensions else {}
    elif name == "precomputed":
        options = {"vectors": vectors, "source": source or "vectors"}
    else:
        options = {"model": model} if model else {}
    return make_backend(name, **options)


@dataclass(frozen=True)
class BackendSettings:
    """What defines a backend's vectors, the same from the CLI, the page and a Ray worker; never
    a secret (an API key is handed to build, and read nowhere else)."""

    name: str = DEFAULT_BACKEND
    model: str | None = None
    dimensions: int | None = None
    base_url: str | None = None
    batch_size: int = 32
    precision: str | None = None
    """sentence-transformers: int8 or fp32; None is the default precision."""

    def build(self, *, api_key: str | None = None, vectors=None, source: str | None = None) -> Backend:
        """build_backend with these settings; the key, and a precomputed backend's vectors (n, d)
        and their source's name, are passed here."""
        settings = {f.name: getattr(self, f.name) for f in fields(BackendSettings)}
        return build_backend(**settings, api_key=api_key, vectors=vectors, source=source)


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
