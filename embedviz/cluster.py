"""The cluster stage: unit vectors (n, d) -> an integer label per row (-1 is noise)."""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from embedviz.errors import InputError
from embedviz.neighbors import Neighbors

log = logging.getLogger(__name__)

ClusterMethod = Literal["kmeans", "hdbscan", "agglomerative"]
CLUSTER_METHODS: tuple[ClusterMethod, ...] = ("kmeans", "hdbscan", "agglomerative")
SILHOUETTE_SAMPLE = 3000
AGGLOMERATIVE_MAX_ROWS = 50_000


@dataclass(frozen=True)
class ClusterParams:
    method: ClusterMethod = "kmeans"
    k: int | None = None
    """Number of clusters for kmeans and agglomerative; None picks it by silhouette."""
    k_max: int = 30
    min_cluster_size: int | None = None
    """HDBSCAN; None scales it with n (1% of the texts, at least 5)."""
    seed: int = 42

    def __post_init__(self) -> None:
        if self.method not in CLUSTER_METHODS:
            raise InputError(
                f"unknown clustering {self.method!r}; choose one of {', '.join(CLUSTER_METHODS)}."
            )
        if self.k is not None and self.k < 1:
            raise InputError(f"the number of clusters must be at least 1, not {self.k}.")


@dataclass(frozen=True, eq=False)
class Clustering:
    """labels: int (n,), clusters numbered 0..k-1 by decreasing size, -1 for noise."""

    labels: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def k(self) -> int:
        return int(len(set(self.labels.tolist()) - {-1}))


def cluster(
    vectors: np.ndarray, params: ClusterParams = ClusterParams(), *, neighbors: Neighbors | None = None
) -> Clustering:
    """Cluster unit vectors (n, d). `neighbors` (kNN graph) gives agglomerative its connectivity."""
    n = len(vectors)
    notes: list[str] = []
    if n < 3:
        return Clustering(np.zeros(n, dtype=np.int64), (f"{n} text(s): one cluster.",))
    if params.method == "hdbscan":
        labels = _hdbscan(vectors, params)
    else:
        fit = _kmeans if params.method == "kmeans" else _agglomerative_fitter(vectors, neighbors)
        k = params.k
        if k is None:
            k = _pick_k(vectors, fit, params)
            notes.append(f"k = {k}, picked by silhouette.")
        if k > n:
            notes.append(f"k lowered from {k} to {n}, the number of texts.")
            k = n
        labels = fit(vectors, k, params.seed)
    return Clustering(_by_size(labels), tuple(notes))


def _kmeans(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(vectors)


def _agglomerative_fitter(vectors: np.ndarray, neighbors: Neighbors | None):
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) > AGGLOMERATIVE_MAX_ROWS:
        raise InputError(
            f"agglomerative clustering is limited to {AGGLOMERATIVE_MAX_ROWS:,} texts; use kmeans or hdbscan."
        )
    connectivity = _connectivity(neighbors, len(vectors)) if neighbors is not None else None
    memory = tempfile.mkdtemp(prefix="embedviz-ward-")

    def fit(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
        model = AgglomerativeClustering(
            n_clusters=k, linkage="ward", connectivity=connectivity, memory=memory, compute_full_tree=True
        )
        with warnings.catch_warnings():  # a kNN graph of separate groups is completed on purpose
            warnings.filterwarnings("ignore", message=".*connected components.*")
            return model.fit_predict(vectors)

    return fit


def _connectivity(neighbors: Neighbors, n: int):
    from scipy.sparse import csr_matrix

    k = min(neighbors.k, 10)
    rows = np.repeat(np.arange(n), k)
    graph = csr_matrix((np.ones(n * k), (rows, neighbors.indices[:, :k].ravel())), shape=(n, n))
    return graph + graph.T


def _pick_k(vectors: np.ndarray, fit, params: ClusterParams) -> int:
    """The k in 2..k_max with the best cosine silhouette on a sample."""
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    rng = np.random.default_rng(params.seed)
    sample = rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False)
    candidates = [
        k
        for k in (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 20, 25, 30, 40, 50)
        if k <= min(params.k_max, n - 1)
    ]
    best_k, best_score = 1, -1.0
    for k in candidates:
        labels = fit(vectors, k, params.seed)
        if len(set(labels[sample].tolist())) < 2:
            continue
        score = silhouette_score(vectors[sample], labels[sample], metric="cosine")
        log.debug("k=%d silhouette=%.4f", k, score)
        if score > best_score:
            best_k, best_score = k, score
    return best_k


def _hdbscan(vectors: np.ndarray, params: ClusterParams) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    n = len(vectors)
    size = params.min_cluster_size or max(5, n // 100)
    size = max(2, min(size, n))
    return HDBSCAN(min_cluster_size=size, metric="euclidean", copy=True).fit_predict(vectors)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1 from largest to smallest; noise stays -1."""
    labels = np.asarray(labels, dtype=np.int64)
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping.get(int(v), -1) for v in labels], dtype=np.int64)
