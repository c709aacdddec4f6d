"""Bundled samples, written for the project, and their vectors from the bundled model.

A new machine's first map must not wait for the model: each sample's vectors, in every
precision of the bundled model, ship beside it (`<sample>.vectors.npz`, made by
`python -m embedviz.samples`) and are put into the store before the sample is embedded. A test
checks they still match what the model computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedviz.backends.base import Backend
from embedviz.corpus import Corpus, load_corpus
from embedviz.embed import text_hash
from embedviz.store import Store

FOLDER = Path(__file__).parent
SAMPLES = {
    "90 words in 18 groups": "words90.csv",
    "240 short texts on 6 topics": "topics.csv",
}
"""Display name -> file; each file's texts are in its `text` column."""
DEFAULT_SAMPLE = next(iter(SAMPLES))


def load_sample(name: str = DEFAULT_SAMPLE, text_column: str | None = None) -> Corpus:
    return load_corpus(FOLDER / SAMPLES[name], name=name, text_column=text_column or "text")


def vectors_file(name: str) -> Path:
    return FOLDER / SAMPLES[name].replace(".csv", ".vectors.npz")


def bundled_vectors(name: str, backend: Backend) -> tuple[list[bytes], np.ndarray] | None:
    """The sample's text hashes and vectors in the backend's space, if they ship; else None."""
    path = vectors_file(name)
    if not path.exists():
        return None
    with np.load(path) as bundle:
        space = backend.space()
        if space not in bundle.files:
            return None
        return [bytes(row) for row in bundle["sha256"]], bundle[space]


def seed_store(name: str, backend: Backend, store: Store) -> int:
    """Put the sample's bundled vectors for this backend into the store where it lacks them;
    returns how many rows were added."""
    if name not in SAMPLES or not backend.persist:
        return 0
    found = bundled_vectors(name, backend)
    if found is None:
        return 0
    hashes, vectors = found
    present = store.get_vectors(backend.space(), hashes)
    new = [i for i, sha in enumerate(hashes) if sha not in present]
    if new:
        store.name_space(backend.space(), backend.identity())
        store.put_vectors(backend.space(), [hashes[i] for i in new], vectors[new])
    return len(new)


def write_bundled_vectors(backends: list[Backend]) -> list[Path]:
    """Encode every sample with each backend and write `<sample>.vectors.npz`."""
    written = []
    for name in SAMPLES:
        corpus = load_sample(name)
        unique = list(dict.fromkeys(corpus.texts))
        hashes = [text_hash(t) for t in unique]
        arrays = {"sha256": np.frombuffer(b"".join(hashes), np.uint8).reshape(len(hashes), -1)}
        for backend in backends:
            arrays[backend.space()] = backend.encode(unique).astype(np.float32)
        np.savez_compressed(vectors_file(name), **arrays)
        written.append(vectors_file(name))
    return written
