"""The cluster stage: unit vectors (n, d) -> an integer label per row (-1 is noise)."""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from embedviz.errors import InputError
from embedviz.neighbors import Neighbors, knn_graph

log = logging.getLogger(__name__)

ClusterMethod = Literal["auto", "kmeans", "hdbscan", "agglomerative"]
CLUSTER_METHODS: tuple[ClusterMethod, ...] = ("auto", "kmeans", "hdbscan", "agglomerative")
SILHOUETTE_SAMPLE = 3000
AGGLOMERATIVE_MAX_ROWS = 50_000
K_CANDIDATES = (
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    12,
    14,
    16,
    18,
    20,
    25,
    30,
    35,
    40,
    50,
    60,
    70,
    80,
    100,
    120,
    150,
    200,
)
AUTO_DIMENSIONS = 5
"""auto: clusters are found in a 5-D UMAP of the kNN graph, where groups separate far more
clearly than in the raw space (silhouette then picks k close to the true number)."""
AUTO_MIN_ROWS = 50
AUTO_SAMPLE = 25_000
"""auto above this many texts: clusters are found on a random sample of this size, then every
other text joins the cluster most of its graph neighbours are in (a 5-D UMAP of 100k texts
would take a minute; of the sample, 15 s)."""


@dataclass(frozen=True)
class ClusterParams:
    method: ClusterMethod = "auto"
    k: int | None = None
    """Number of clusters (auto, kmeans, agglomerative); None picks it by silhouette."""
    k_max: int = 200
    """The largest k tried when picking (never more than a fifth of the texts)."""
    min_cluster_size: int | None = None
    """HDBSCAN; None scales it with n (1% of the texts, at least 5)."""
    keep_noise: bool = True
    """HDBSCAN: leave outliers as noise (-1); False gives each its nearest cluster."""
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
        if not params.keep_noise:
            labels = _assign_noise(vectors, labels)
    elif params.method == "auto" and n > AUTO_SAMPLE:
        labels = _auto_sampled(vectors, params, neighbors, notes)
    elif params.method == "auto" and n >= AUTO_MIN_ROWS:
        labels = _auto(vectors, params, neighbors, notes)
    else:
        fit = _agglomerative_fitter(vectors, neighbors) if params.method == "agglomerative" else _kmeans
        k = params.k
        if k is None:
            k = _pick_k(vectors, fit, params)
            notes.append(f"k = {k}, picked by silhouette.")
        if k > n:
            notes.append(f"k lowered from {k} to {n}, the number of texts.")
            k = n
        labels = fit(vectors, k, params.seed)
    return Clustering(_by_size(labels), tuple(notes))


def _auto(vectors: np.ndarray, params: ClusterParams, neighbors: Neighbors | None, notes: list[str]):
    low = _low_dimensional(vectors, neighbors, params.seed)
    k = params.k
    if k is None:
        k = _pick_k(low, _kmeans, params, metric="euclidean")
        notes.append(f"k = {k}, picked by silhouette in a {AUTO_DIMENSIONS}-D UMAP of the texts.")
    return _kmeans(low, min(k, len(vectors)), params.seed)


def _auto_sampled(vectors: np.ndarray, params: ClusterParams, neighbors: Neighbors | None, notes: list[str]):
    """auto on a random sample, then the rest by their neighbours' clusters."""
    n = len(vectors)
    sample = np.sort(np.random.default_rng(params.seed).choice(n, AUTO_SAMPLE, replace=False))
    part = vectors[sample]
    labels = np.full(n, -1, dtype=np.int64)
    labels[sample] = _auto(part, params, knn_graph(part, 15), notes)
    notes.append(
        f"clusters found on a random sample of {AUTO_SAMPLE:,} texts; "
        f"the other {n - AUTO_SAMPLE:,} joined their nearest neighbours' clusters."
    )
    return propagate(vectors, labels, neighbors if neighbors is not None else knn_graph(vectors, 15))


def propagate(vectors: np.ndarray, labels: np.ndarray, neighbors: Neighbors, rounds: int = 5) -> np.ndarray:
    """Give each unlabelled row (-1) the cluster its labelled graph neighbours weigh most, round
    by round; rows no labelled neighbour reaches take the most similar cluster centre."""
    labels = labels.copy()
    k = int(labels.max()) + 1
    for _ in range(rounds):
        todo = np.nonzero(labels < 0)[0]
        if not len(todo) or k == 0:
            break
        found = labels[neighbors.indices[todo]]
        weights = np.where(found >= 0, np.maximum(neighbors.scores[todo], 1e-6), 0.0)
        cells = np.arange(len(todo))[:, None] * k + np.maximum(found, 0)
        votes = np.bincount(cells.ravel(), weights.ravel(), minlength=len(todo) * k).reshape(len(todo), k)
        reached = votes.max(axis=1) > 0
        if not reached.any():
            break
        labels[todo[reached]] = votes[reached].argmax(axis=1)
    if (labels < 0).any() and k:
        labels = _assign_noise(vectors, labels)
    return labels


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


def _pick_k(vectors: np.ndarray, fit, params: ClusterParams, metric: str = "cosine") -> int:
    """The k in 2..min(k_max, n/5) with the best silhouette on a sample."""
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    rng = np.random.default_rng(params.seed)
    sample = rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False)
    limit = min(params.k_max, max(2, n // 5), n - 1)
    best_k, best_score = 1, -1.0
    for k in (k for k in K_CANDIDATES if k <= limit):
        labels = fit(vectors, k, params.seed)
        if len(set(labels[sample].tolist())) < 2:
            continue
        score = silhouette_score(vectors[sample], labels[sample], metric=metric)
        log.debug("k=%d silhouette=%.4f", k, score)
        if score > best_score:
            best_k, best_score = k, score
    return best_k


def _low_dimensional(vectors: np.ndarray, neighbors: Neighbors | None, seed: int) -> np.ndarray:
    """A 5-D UMAP for clustering (min_dist 0 packs groups tight), reusing the kNN graph."""
    from embedviz.compiled import load_umap
    from embedviz.neighbors import umap_knn

    umap = load_umap()
    n_neighbors = min(15, len(vectors) - 1)
    knn = (
        umap_knn(neighbors, n_neighbors) if neighbors is not None and neighbors.k >= n_neighbors - 1 else None
    )
    reducer = umap.UMAP(
        n_components=AUTO_DIMENSIONS,
        n_neighbors=n_neighbors,
        min_dist=0.0,
        metric="cosine",
        random_state=seed,
        precomputed_knn=knn or (None, None, None),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        return reducer.fit_transform(vectors)


def _assign_noise(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Give each noise row (-1) the cluster whose centre it is most similar to."""
    clusters = sorted(set(labels.tolist()) - {-1})
    noise = labels < 0
    if not clusters or not noise.any():
        return labels
    centres = np.vstack([vectors[labels == c].mean(axis=0) for c in clusters])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    out = labels.copy()
    out[noise] = np.array(clusters)[(vectors[noise] @ centres.T).argmax(axis=1)]
    return out


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
