"""The embed stage: texts -> unit vectors, encoding only texts the store has never seen."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embedviz.backends.base import Backend
from embedviz.progress import OnProgress, Progress, ignore
from embedviz.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Embeddings:
    """vectors: float32 (n, d), unit rows in text order. fingerprint names space + texts."""

    vectors: np.ndarray
    space: str
    fingerprint: str
    n_encoded: int
    n_from_store: int

    def __len__(self) -> int:
        return len(self.vectors)


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def embed(
    texts: Sequence[str],
    backend: Backend,
    store: Store | None = None,
    *,
    hashes: Sequence[bytes] | None = None,
    on_progress: OnProgress = ignore,
    fit: bool = True,
) -> Embeddings:
    """Embed a corpus: the backend is fitted on `texts`, then only unseen texts are encoded.

    Each chunk of new vectors is written to the store as soon as it is encoded, so work done
    before a failure is kept and a rerun sends only the rest.
    """
    hashes = list(hashes) if hashes is not None else [text_hash(t) for t in texts]
    if fit:  # False when the backend is already fitted (a server encoding requests)
        backend.fit(texts)
    space = backend.space()
    fingerprint = hashlib.sha256(space.encode() + b"".join(hashes)).hexdigest()[:40]
    unique = dict(zip(hashes, texts, strict=True))
    found = store.get_vectors(space, list(unique)) if store is not None and backend.persist else {}
    missing = sorted((sha for sha in unique if sha not in found), key=lambda sha: len(unique[sha]))
    total, n_cached = len(unique), len(found)
    on_progress(Progress("embed", n_cached, total, f"{n_cached:,} from store"))
    if not backend.persist:
        vectors = backend.encode(list(texts))
        on_progress(Progress("embed", total, total))
        return Embeddings(vectors, space, fingerprint, len(texts), 0)
    if missing and store is not None:
        store.name_space(space, backend.identity())
    for start in range(0, len(missing), backend.chunk_size):
        chunk = missing[start : start + backend.chunk_size]
        vectors = backend.encode([unique[sha] for sha in chunk])
        if store is not None:
            store.put_vectors(space, chunk, vectors)
        found.update(zip(chunk, vectors, strict=True))
        done = n_cached + start + len(chunk)
        on_progress(Progress("embed", done, total, f"{n_cached:,} from store"))
    log.log(
        logging.INFO if fit else logging.DEBUG,
        "embeddings: %s texts (%s unique), %s encoded, %s from store",
        f"{len(hashes):,}",
        f"{total:,}",
        f"{len(missing):,}",
        f"{n_cached:,}",
    )
    vectors = np.vstack([found[sha] for sha in hashes]) if hashes else np.zeros((0, 0), np.float32)
    return Embeddings(vectors, space, fingerprint, len(missing), n_cached)


def embed_query(text: str, backend: Backend, store: Store | None = None) -> np.ndarray:
    """One text in the same space as the corpus (the backend must already be fitted): (d,)."""
    sha = text_hash(text)
    space = backend.space()
    if store is not None and backend.persist:
        hit = store.get_vectors(space, [sha]).get(sha)
        if hit is not None:
            return hit
    vector = backend.encode([text])
    if store is not None and backend.persist:
        store.name_space(space, backend.identity())
        store.put_vectors(space, [sha], vector)
    return vector[0]
