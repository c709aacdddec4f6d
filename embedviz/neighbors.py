"""Exact cosine nearest neighbours on unit vectors, computed in blocks so memory stays bounded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_ELEMENTS = 2**25
"""Similarity entries per block (128 MB of float32)."""


@dataclass(frozen=True, eq=False)
class Neighbors:
    """indices, scores: (m, k), best first; scores are cosine similarities."""

    indices: np.ndarray
    scores: np.ndarray

    @property
    def k(self) -> int:
        return self.indices.shape[1]


def top_k(vectors: np.ndarray, queries: np.ndarray, k: int, *, exclude_self: bool = False) -> Neighbors:
    """For each query (m, d), the k most similar rows of `vectors` (n, d).

    With exclude_self, query i is row i of vectors and never its own neighbour.
    """
    n = len(vectors)
    k = max(0, min(k, n - 1 if exclude_self else n))
    m = len(queries)
    indices = np.zeros((m, k), dtype=np.int64)
    scores = np.zeros((m, k), dtype=np.float32)
    if k == 0:
        return Neighbors(indices, scores)
    block = max(1, BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, m, block):
        stop = min(m, start + block)
        sims = queries[start:stop] @ vectors.T
        if exclude_self:
            rows = np.arange(stop - start)
            sims[rows, rows + start] = -np.inf
        part = (
            np.argpartition(-sims, k - 1, axis=1)[:, :k]
            if k < n
            else np.tile(np.arange(n), (stop - start, 1))
        )
        part_scores = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        scores[start:stop] = np.take_along_axis(part_scores, order, axis=1)
    return Neighbors(indices, scores)


def knn_graph(vectors: np.ndarray, k: int) -> Neighbors:
    """Each row's k nearest other rows: (n, k)."""
    return top_k(vectors, vectors, k, exclude_self=True)


def umap_knn(graph: Neighbors, n_neighbors: int, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """UMAP's `precomputed_knn`: (n, n_neighbors) indices and distances, each row's self first."""
    n = len(graph.indices)
    take = n_neighbors - 1
    indices = np.hstack([np.arange(n)[:, None], graph.indices[:, :take]])
    similarity = np.hstack([np.ones((n, 1), np.float32), graph.scores[:, :take]])
    distance = 1.0 - similarity
    if metric == "euclidean":
        distance = np.sqrt(np.maximum(2.0 * distance, 0.0))
    return indices.astype(np.int64), np.maximum(distance, 0.0).astype(np.float32)
