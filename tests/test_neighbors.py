from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from embedviz import knn_graph, top_k
from embedviz import neighbors as neighbors_module
from embedviz.backends.base import normalize
from embedviz.neighbors import umap_knn


def random_unit(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    return normalize(np.random.default_rng(seed).normal(size=(n, d)))


def test_knn_graph_matches_brute_force_and_excludes_self():
    vectors = random_unit(300)
    graph = knn_graph(vectors, 10)
    brute = NearestNeighbors(n_neighbors=11, metric="cosine", algorithm="brute").fit(vectors)
    distances, indices = brute.kneighbors(vectors)
    np.testing.assert_array_equal(graph.indices, indices[:, 1:])
    np.testing.assert_allclose(graph.scores, 1 - distances[:, 1:], atol=1e-5)
    assert not (graph.indices == np.arange(300)[:, None]).any()
    assert (np.diff(graph.scores, axis=1) <= 1e-7).all()


def test_query_top_k_matches_brute_force():
    vectors, queries = random_unit(200), random_unit(5, seed=1)
    found = top_k(vectors, queries, 7)
    sims = queries @ vectors.T
    for q in range(5):
        np.testing.assert_array_equal(found.indices[q], np.argsort(-sims[q])[:7])


def test_k_larger_than_n_is_clamped():
    vectors = random_unit(4)
    assert knn_graph(vectors, 10).indices.shape == (4, 3)
    assert top_k(vectors, vectors[:1], 10).indices.shape == (1, 4)
    assert knn_graph(vectors[:1], 5).indices.shape == (1, 0)


def test_duplicates_do_not_hide_self_exclusion():
    vectors = np.repeat(random_unit(2), 3, axis=0)
    graph = knn_graph(vectors, 2)
    for row in range(6):
        assert row not in graph.indices[row]
        assert set(graph.indices[row]) == {r for r in range(6) if r // 3 == row // 3} - {row}


def test_umap_format_puts_self_first_with_zero_distance():
    graph = knn_graph(random_unit(50), 20)
    indices, distances = umap_knn(graph, 15)
    assert indices.shape == distances.shape == (50, 15)
    assert (indices[:, 0] == np.arange(50)).all() and (distances[:, 0] == 0).all()
    assert (np.diff(distances, axis=1) >= -1e-6).all()


def test_large_graph_is_approximate_with_high_recall_and_no_self(monkeypatch):
    monkeypatch.setattr(neighbors_module, "EXACT_GRAPH_MAX", 100)
    centres = random_unit(40, d=32, seed=2)
    rng = np.random.default_rng(3)
    vectors = normalize(np.repeat(centres, 50, axis=0) + 0.3 * rng.normal(size=(2000, 32)))
    graph = knn_graph(vectors, 15)
    assert not graph.exact and graph.indices.shape == (2000, 15)
    assert not (graph.indices == np.arange(2000)[:, None]).any()
    exact = top_k(vectors, vectors, 15, exclude_self=True)
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(graph.indices, exact.indices, strict=True)])
    assert recall > 0.9, recall
    np.testing.assert_allclose(
        graph.scores, np.take_along_axis(vectors @ vectors.T, graph.indices, 1), atol=1e-5
    )


def test_one_query_and_many_queries_agree():
    vectors, queries = random_unit(500), random_unit(40, seed=4)
    many = top_k(vectors, queries, 5)
    for i in (0, 17, 39):
        one = top_k(vectors, queries[i : i + 1], 5)
        np.testing.assert_array_equal(one.indices[0], many.indices[i])


def test_search_index_gives_exact_top_k_over_many_rows():
    from embedviz.neighbors import SEARCH_INDEX_MIN, SearchIndex

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 48))
    vectors = centres[rng.integers(0, 200, SEARCH_INDEX_MIN + 5000)] + 0.6 * rng.normal(
        size=(SEARCH_INDEX_MIN + 5000, 48)
    )
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    queries = vectors[:40] + 0.05 * rng.normal(size=(40, 48)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index = SearchIndex(vectors)
    assert index.index is not None and index.nbytes == vectors.size  # one byte per value
    found, exact = index.search(queries, 10), top_k(vectors, queries, 10)
    assert (found.indices == exact.indices).all()
    np.testing.assert_allclose(found.scores, exact.scores, atol=1e-5)
    small = SearchIndex(vectors[:1000])  # few rows: plain exact search, nothing kept
    assert small.index is None and small.nbytes == 0
    assert (small.search(queries, 5).indices == top_k(vectors[:1000], queries, 5).indices).all()
