"""Every stored or memoised result is keyed by everything it depends on: change each input in
turn and the key changes; change nothing that matters and it stays."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from embedviz import ClusterParams, ReduceParams, make_backend
from embedviz.embed import Embeddings
from embedviz.neighbors import EXACT_GRAPH_MAX
from embedviz.pipeline import clustering_key, graph_key, projection_key, trust_key

VARIANTS_REDUCE = {
    "method": "pca",
    "dims": 3,
    "seed": 7,
    "metric": "euclidean",
    "n_neighbors": 30,
    "min_dist": 0.5,
    "perplexity": 12.0,
    "learning_rate": 50.0,
    "n_iter": 750,
}
VARIANTS_CLUSTER = {
    "method": "kmeans",
    "k": 12,
    "broad_k": 4,
    "k_max": 100,
    "min_cluster_size": 20,
    "keep_noise": False,
    "seed": 7,
}


def embeddings(n: int = 2000, fingerprint: str = "f" * 40) -> Embeddings:
    return Embeddings(np.zeros((n, 2), np.float32), "space", fingerprint, 0, n)


def test_the_variants_cover_every_field():
    assert set(VARIANTS_REDUCE) == {f.name for f in dataclasses.fields(ReduceParams)}
    assert set(VARIANTS_CLUSTER) == {f.name for f in dataclasses.fields(ClusterParams)}


@pytest.mark.parametrize("field", VARIANTS_REDUCE)
def test_projection_key_changes_with_each_setting(field):
    emb, base = embeddings(), ReduceParams(method="umap")
    changed = dataclasses.replace(base, **{field: VARIANTS_REDUCE[field]})
    assert projection_key(emb, changed) != projection_key(emb, base)
    assert projection_key(embeddings(fingerprint="g" * 40), base) != projection_key(emb, base)


def test_auto_reducer_shares_the_key_of_what_it_stands_for():
    small = embeddings(90)
    assert projection_key(small, ReduceParams()) == projection_key(
        small, ReduceParams(method="tsne", perplexity=5.0)
    )
    big = embeddings(5000)
    assert projection_key(big, ReduceParams()) == projection_key(big, ReduceParams(method="umap"))


@pytest.mark.parametrize("field", VARIANTS_CLUSTER)
def test_clustering_key_changes_with_each_setting(field):
    emb, base = embeddings(), ClusterParams()
    changed = dataclasses.replace(base, **{field: VARIANTS_CLUSTER[field]})
    assert clustering_key(emb, changed) != clustering_key(emb, base)
    assert clustering_key(embeddings(fingerprint="g" * 40), base) != clustering_key(emb, base)


def test_clustering_and_trust_keys_follow_the_graph_they_read():
    exact = embeddings(EXACT_GRAPH_MAX)  # exact graph: its first columns are the same at any width
    assert clustering_key(exact, ClusterParams(), 30) == clustering_key(exact, ClusterParams(), 60)
    coords = np.zeros((EXACT_GRAPH_MAX, 2), np.float32)
    assert trust_key(exact, coords, 30) == trust_key(exact, coords, 60)
    approximate = embeddings(EXACT_GRAPH_MAX + 1)  # HNSW: a wider graph searched a wider beam
    assert clustering_key(approximate, ClusterParams(), 30) != clustering_key(
        approximate, ClusterParams(), 60
    )
    coords = np.zeros((EXACT_GRAPH_MAX + 1, 2), np.float32)
    assert trust_key(approximate, coords, 30) != trust_key(approximate, coords, 60)


def test_trust_key_changes_with_the_map_and_the_vectors():
    emb = embeddings(100)
    coords = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    moved = coords.copy()
    moved[0, 0] += 1e-3
    assert trust_key(emb, coords) != trust_key(emb, moved)
    assert trust_key(embeddings(100, "g" * 40), coords) != trust_key(emb, coords)


def test_graph_key_changes_with_width_and_vectors():
    emb = embeddings()
    assert graph_key(emb, 30) != graph_key(emb, 45)
    assert graph_key(emb, 10) == graph_key(emb, 30), "never narrower than the shared graph"
    assert graph_key(embeddings(fingerprint="g" * 40)) != graph_key(emb)


@pytest.mark.parametrize(
    "options",
    [{"dimensions": 64}, {"max_features": 5000}],
    ids=["dimensions", "vocabulary"],
)
def test_vector_space_changes_with_each_backend_option(options):
    import inspect

    from embedviz.backends.tfidf import TfidfBackend

    accepted = inspect.signature(TfidfBackend).parameters
    options = {k: v for k, v in options.items() if k in accepted}
    if not options:
        pytest.skip("the tfidf backend has no such option")
    texts = ["rocket orbit", "bake oven", "goal match"] * 5
    base, changed = make_backend("tfidf"), make_backend("tfidf", **options)
    base.fit(texts)
    changed.fit(texts)
    assert base.space() != changed.space()


def test_vector_space_changes_with_the_corpus_a_fitted_backend_learns_from():
    a, b = make_backend("tfidf"), make_backend("tfidf")
    a.fit(["rocket orbit", "bake oven"] * 5)
    b.fit(["rocket orbit", "bake cake"] * 5)
    assert a.space() != b.space()


def test_page_memo_keys_hold_the_backend_choice_and_the_clustering_named():
    from embedviz.ui.state import BackendChoice

    base = BackendChoice()
    for field, value in {
        "name": "tfidf",
        "model": "m",
        "dimensions": 64,
        "base_url": "http://x",
        "batch_size": 8,
        "vectors": "v",
    }.items():
        assert dataclasses.replace(base, **{field: value}) != base
    assert "api_key" not in {f.name for f in dataclasses.fields(BackendChoice)}, "no secret in a key"
