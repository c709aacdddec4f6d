"""The samples' bundled vectors: what the bundled model computes, and used instead of it."""

from __future__ import annotations

import numpy as np
import pytest

from embedviz import Store, make_backend
from embedviz.backends.local import PRECISIONS
from embedviz.embed import embed
from embedviz.samples import SAMPLES, bundled_vectors, load_sample, seed_store

AGREEMENT = {"fp32": 0.9999, "int8": 0.98}
"""int8 vectors move a little with the batch a text is encoded in and with the CPU."""


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", list(SAMPLES))
def test_bundled_vectors_are_what_the_model_computes(name, precision):
    backend = make_backend("sentence-transformers", precision=precision)
    found = bundled_vectors(name, backend)
    assert found is not None, f"run `python -m embedviz.samples`: {name} has no {precision} vectors"
    hashes, vectors = found
    texts = list(dict.fromkeys(load_sample(name).texts))
    assert len(hashes) == len(texts) == len(vectors)
    cosine = (backend.encode(texts) * vectors).sum(axis=1)
    assert cosine.min() >= AGREEMENT[precision], texts[int(cosine.argmin())]


def test_a_seeded_store_maps_the_sample_without_the_model(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    backend = make_backend("sentence-transformers")
    corpus = load_sample()
    assert seed_store(corpus.name, backend, store) == len(set(corpus.texts))
    assert seed_store(corpus.name, backend, store) == 0

    def refuse(texts):
        raise AssertionError(f"encoded {len(texts)} texts the store holds")

    backend.encode = refuse
    result = embed(corpus.texts, backend, store)
    assert result.vectors.shape == (len(corpus), 384)
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1, atol=1e-5)


def test_other_backends_and_other_corpora_are_not_seeded(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    tfidf = make_backend("tfidf")
    assert seed_store(next(iter(SAMPLES)), tfidf, store) == 0
    assert seed_store("my upload.csv", make_backend("sentence-transformers"), store) == 0
