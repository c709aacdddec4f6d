"""Cosine nearest neighbours on unit vectors: exact search with faiss, a search index for
repeated queries over many rows, and the kNN graph (exact up to EXACT_GRAPH_MAX rows, HNSW
above, where exact would take minutes)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

EXACT_GRAPH_MAX = 50_000
"""Up to this many rows the kNN graph is exact (about 12 s at 50k on 2 cores)."""
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 64
SEARCH_INDEX_MIN = 50_000
"""From this many rows, repeated queries go through a SearchIndex (an 8-bit copy scanned first):
exact search reads every float vector per query, 150 MB at 100k x 384."""
RERANK = 100
"""Candidates from the 8-bit scan scored exactly on the float vectors."""
FEW_QUERIES = 16
"""Up to this many queries are searched on one thread: a single query is memory-bound, and
more threads only contend with the model's own thread pool (5 ms instead of 23 ms at 100k)."""


@dataclass(frozen=True, eq=False)
class Neighbors:
    """indices, scores: (m, k), best first; scores are cosine similarities."""

    indices: np.ndarray
    scores: np.ndarray
    exact: bool = True

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    def arrays(self) -> dict[str, np.ndarray]:
        """The graph as named arrays, to keep in the store (`from_arrays` reads them back)."""
        return {"indices": self.indices, "scores": self.scores, "exact": np.array(self.exact)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Neighbors:
        return cls(arrays["indices"], arrays["scores"], bool(arrays.get("exact", True)))

    def found(self, q: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Query q's rows and scores without the -1 that pads a search finding fewer than k."""
        keep = self.indices[q] >= 0
        return self.indices[q][keep], self.scores[q][keep]


def _faiss():
    import faiss

    return faiss


@functools.cache
def _max_threads() -> int:
    """faiss's thread count at first use, before any call lowered it."""
    return _faiss().omp_get_max_threads()


def _threads(n_queries: int) -> int:
    return 1 if n_queries <= FEW_QUERIES else _max_threads()


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def top_k(vectors: np.ndarray, queries: np.ndarray, k: int, *, exclude_self: bool = False) -> Neighbors:
    """For each query (m, d), the k most similar rows of `vectors` (n, d), exactly.

    With exclude_self, query i is row i of vectors and never its own neighbour.
    """
    n, m = len(vectors), len(queries)
    k = max(0, min(k, n - 1 if exclude_self else n))
    if k == 0 or m == 0:
        return Neighbors(np.zeros((m, k), np.int64), np.zeros((m, k), np.float32))
    faiss = _faiss()
    faiss.omp_set_num_threads(_threads(m))  # per calling thread (OpenMP), so sessions do not clash
    scores, indices = faiss.knn(
        _f32(queries), _f32(vectors), k + exclude_self, metric=faiss.METRIC_INNER_PRODUCT
    )
    if exclude_self:
        indices, scores = drop_self(indices, scores)
    return Neighbors(indices.astype(np.int64), scores.astype(np.float32))


def knn_graph(vectors: np.ndarray, k: int) -> Neighbors:
    """Each row's k nearest other rows: (n, k). Approximate (HNSW) above EXACT_GRAPH_MAX rows."""
    n = len(vectors)
    if n <= EXACT_GRAPH_MAX:
        return top_k(vectors, vectors, k, exclude_self=True)
    faiss = _faiss()
    faiss.omp_set_num_threads(_threads(n))
    k = min(k, n - 1)
    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(_f32(vectors))
    index.hnsw.efSearch = max(HNSW_EF_SEARCH, k + 1)
    scores, indices = index.search(_f32(vectors), k + 1)
    indices, scores = drop_self(indices, scores)
    missing = indices < 0  # HNSW found fewer than k (rare): repeat the row's best neighbour
    if missing.any():
        rows = np.nonzero(missing)[0]
        indices[missing], scores[missing] = indices[rows, 0], scores[rows, 0]
    return Neighbors(indices.astype(np.int64), scores.astype(np.float32), exact=False)


class SearchIndex:
    """The k most similar rows for repeated queries, as `top_k` gives them, faster over many rows.

    From SEARCH_INDEX_MIN rows, an 8-bit copy of the vectors (a quarter of their memory) is
    scanned first and its best RERANK candidates are scored exactly on the float vectors, so
    scores are exact and the order is `top_k`'s unless 8-bit rounding (about 0.002 of cosine)
    pushes a true neighbour below the hundredth candidate. Fewer rows: `top_k` itself.
    """

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.index = None
        if len(vectors) >= SEARCH_INDEX_MIN:
            faiss = _faiss()
            data = _f32(vectors)
            index = faiss.IndexScalarQuantizer(
                data.shape[1], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            index.train(data)
            index.add(data)
            self.index = index

    @property
    def nbytes(self) -> int:
        """Memory of its own (the float vectors are the caller's)."""
        return 0 if self.index is None else int(self.index.ntotal * self.index.d)

    def search(self, queries: np.ndarray, k: int) -> Neighbors:
        if self.index is None or k > RERANK // 2:
            return top_k(self.vectors, queries, k)
        faiss = _faiss()
        faiss.omp_set_num_threads(_threads(len(queries)))
        k = min(k, len(self.vectors))
        _, candidates = self.index.search(_f32(queries), RERANK)
        candidates = np.where(candidates < 0, candidates.max(axis=1, keepdims=True), candidates)
        scores = np.einsum("md,mrd->mr", _f32(queries), _f32(self.vectors[candidates]))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return Neighbors(
            np.take_along_axis(candidates, order, axis=1).astype(np.int64),
            np.take_along_axis(scores, order, axis=1).astype(np.float32),
        )


def drop_self(
    indices: np.ndarray, scores: np.ndarray, own: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """From (m, k+1) results of rows searched against their own set: each query's own row
    (`own`, (m,); query i is row i by default) removed from its list, or the last entry where
    duplicates pushed it out. (m, k) each."""
    m, width = indices.shape
    drop = indices == (np.arange(m) if own is None else own)[:, None]
    drop[~drop.any(axis=1), -1] = True
    keep = ~drop
    return indices[keep].reshape(m, width - 1), scores[keep].reshape(m, width - 1)


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
