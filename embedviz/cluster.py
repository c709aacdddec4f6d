"""The cluster stage: unit vectors (n, d) -> fine clusters, and the broad topics above them.

Two levels, because one granularity never fits every corpus: intent-like data has a hundred
tight groups, a news corpus four broad topics. Every fine cluster lies inside exactly one broad
topic. Labels are integers numbered largest first; -1 is noise (hdbscan only).

`auto` has no random step, so every seed gives the same clusters (beyond AUTO_SAMPLE texts it
works on a sample that is the same for every seed, see sample_rows): one Ward tree over a PCA
of the vectors (kNN connectivity), cut at candidate k, each level's cut
refined by KMeans started from the cut's centres (fine clusters inside each broad topic's
texts, so every fine cluster lies in one topic), then by one vote of each text's nearest
neighbours, which moves the borders KMeans drew in the PCA space to where the kNN graph puts
them. Each level's k is the cut of best modularity
on the texts' kNN graph: the share of neighbour links that stay inside a cluster, less what
chance would keep, at a resolution (FINE_RESOLUTION, BROAD_RESOLUTION) that sets how much
denser than chance a group must be to stand alone. Silhouette, the usual score, rewards the
coarsest split and collapses corpora of many broad topics into two or three; modularity's
chance term halves with every doubling of k, so well-separated topics stay apart however many
there are. In a corpus under 1,500 texts each level counts fewer neighbours (FINE_LINKS,
BROAD_LINKS): 15 reach past the topics of a small one.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from embedviz.errors import InputError
from embedviz.neighbors import Neighbors, drop_self, knn_graph, top_k

log = logging.getLogger(__name__)

ClusterMethod = Literal["auto", "kmeans", "hdbscan", "agglomerative"]
CLUSTER_METHODS: tuple[ClusterMethod, ...] = ("auto", "kmeans", "hdbscan", "agglomerative")
CLUSTER_VERSION = 5
"""Part of every stored clustering's key; bumped when what a method computes changes (2: auto's
levels take one vote of the kNN graph after KMeans; 3: auto also gives the broad topic counts
it offers, Clustering.broad_options; 4: broad topics of a corpus under 1,500 texts are scored
on fewer links, BROAD_LINKS; 5: as many broad topics as fine clusters are allowed)."""
AGGLOMERATIVE_MAX_ROWS = 50_000
K_CANDIDATES = (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 25, 30, 35, 40, 50, 60, 70, 80, 100)
K_CANDIDATES += (120, 150, 200, 250, 300)
FINE_RESOLUTION = 5.0
"""Fine clusters: a group stands alone unless its links to the rest exceed a fifth of what
chance gives (intents, sub-topics)."""
BROAD_RESOLUTION = 0.5
"""Broad topics: groups merge unless their links fall under twice what chance gives. There are
at most as many as the fine clusters the tree is cut into: where every fine cluster stands
apart, so does every topic. (At most half as many, as before, merged unrelated categories in
pairs: 12 categories of 15 texts gave 9 topics, ARI 0.71 against 1.00; tests/test_cluster.py.)"""
PIECE_MIN = 5
"""Where a broad topic's border cuts a fine cluster of the tree, a piece of at least this many
texts (a thousandth of a large corpus, down to 2 in a small one) stays a fine cluster of its
own in each topic."""
FINE_LINKS = 50
"""Fine clusters are scored on the links to the 15 nearest neighbours (PROPAGATE_NEIGHBORS),
narrowed to a fiftieth of a corpus under 750 texts (at least 5): links wider than a small
corpus's groups would join them."""
BROAD_LINKS = 100
"""Broad topics are scored on the same links narrowed to a hundredth of a corpus under 1,500
texts (at least BROAD_LINKS_MIN). With 15 links, 60 texts in 6 topics of 10 gave 2 topics (a
text's links reached 5 texts of other topics), and random draws of 60 to 1,000 texts from the
bench sets gave 2-3 topics where their labels have 4-23 (bench/README)."""
BROAD_LINKS_MIN = 8
"""Fewer links than this split the bundled 240-text sample's 6 topics into 10."""
FINE_MIN = 10
"""The fine level has at least this many clusters (or a fifth of the texts, if fewer): the
broad level gives the overview, the fine level the detail."""
FINE_TEXTS_PER_CLUSTER = 10
"""The fine k tried goes up to a tenth of the texts (a fifth, up to 100, for small corpora):
smaller groups are noise more than topics."""
BROAD_MAX = 30
"""Broad topics are few enough to name on a map."""
OPTION_RESOLUTIONS = (1.0, 2.0)
"""Other broad topic counts offered to the user: the best cut at each of these resolutions
(finer views of the same graph). Which level a corpus's labels name is the labeller's choice;
on corpora of many broad topics these are often nearer it (bench/README)."""
SILHOUETTE_SAMPLE = 3000
SPACE_DIMENSIONS = 50
"""auto partitions a PCA of the vectors: the same groups as the full space, several times faster."""
CONNECTIVITY_NEIGHBORS = 10
AUTO_SAMPLE = 25_000
"""auto above this many distinct texts: clusters are found on a sample of this size (sample_rows:
the same for every seed), then every other text joins the cluster most of its graph neighbours
are in. Broad topics of the other
methods are scored on an even sample of this size."""
DISTINCT_CHUNK = 100_000
"""Rows compared at a time when repeated texts are found (bounds a float64 copy to 300 MB)."""
PROPAGATE_NEIGHBORS = 15
"""Neighbours that vote when a text joins a cluster: the first columns of any graph at least
this wide, so a wider graph (the CLI's or the app's) gives the same clusters."""


@dataclass(frozen=True)
class ClusterParams:
    method: ClusterMethod = "auto"
    k: int | None = None
    """Number of fine clusters (auto, kmeans, agglomerative); None picks it."""
    broad_k: int | None = None
    """Number of broad topics above them; None picks it. Never more than the fine clusters."""
    k_max: int = 300
    """The largest fine k tried when picking."""
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
        for name in ("k", "broad_k"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(f"the number of clusters must be at least 1, not {value}.")


@dataclass(frozen=True, eq=False)
class Clustering:
    """labels: int (n,) fine clusters; broad: int (n,) broad topics, each fine cluster inside
    exactly one. Both numbered 0.. by decreasing size, -1 for noise."""

    labels: np.ndarray
    broad: np.ndarray
    notes: tuple[str, ...] = ()
    broad_options: tuple[int, ...] = ()
    """auto: the broad topic counts the neighbour graph supports: its pick first, then the other
    best cuts at OPTION_RESOLUTIONS, ascending; empty for the other methods."""

    @property
    def k(self) -> int:
        return int(len(set(self.labels.tolist()) - {-1}))

    @property
    def broad_k(self) -> int:
        return int(len(set(self.broad.tolist()) - {-1}))

    def parents(self) -> dict[int, int]:
        """fine cluster -> the broad topic it lies in (noise maps to -1)."""
        return dict(zip(self.labels.tolist(), self.broad.tolist(), strict=True))


Keep = Callable[[str, Callable[[], dict[str, np.ndarray]]], dict[str, np.ndarray]]
"""Get or make by key: (key, make) -> make()'s named arrays, or those kept under key (the key
starts with what they are: "ward_tree:", "sample_knn:"). auto's Ward tree and its sample's
neighbour graph depend on the texts alone, not on k, so a caller that keeps them (pipeline: in
the store) spares the longest steps (8.5 and 2.3 of 21 s at 100k texts) when only a k changes."""


def cluster(
    vectors: np.ndarray,
    params: ClusterParams = ClusterParams(),
    *,
    neighbors: Neighbors | None = None,
    kept: Keep | None = None,
) -> Clustering:
    """Cluster unit vectors (n, d) at two levels. `neighbors` (a kNN graph of the same rows,
    at least 15 wide) spares a neighbour search; `kept` keeps what auto makes before it picks a
    k (Keep)."""
    n = len(vectors)
    if n < 3:
        return _one_cluster(n, f"{n} text(s): one cluster.")
    notes: list[str] = []
    if params.method == "auto":
        distinct, inverse, copies = _distinct(vectors)
        if len(distinct) < 3:
            return _one_cluster(n, f"{len(distinct)} distinct text(s): one cluster.")
        if len(distinct) < n:
            notes.append(
                f"{n - len(distinct):,} rows repeat another's text: each distinct text is clustered "
                "once, counted as often as it occurs."
            )
            vectors = vectors[distinct]
            if neighbors is not None:
                neighbors = _distinct_graph(vectors, neighbors, distinct, inverse)
        if len(distinct) > AUTO_SAMPLE:
            labels, broad, options = _auto_sampled(vectors, params, neighbors, notes, copies, distinct, kept)
        else:
            labels, broad, options = _auto(vectors, params, neighbors, notes, copies, kept)
        return Clustering(_by_size(labels[inverse]), _by_size(broad[inverse]), tuple(notes), options)
    if params.method == "hdbscan":
        labels = _hdbscan(vectors, params)
        if not params.keep_noise:
            labels = _assign_noise(vectors, labels)
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
    labels = _by_size(labels)
    broad = _by_size(broad_topics(vectors, labels, params, notes, neighbors=neighbors))
    return Clustering(labels, broad, tuple(notes))


def _one_cluster(n: int, note: str) -> Clustering:
    zeros = np.zeros(n, dtype=np.int64)
    return Clustering(zeros, zeros.copy(), (note,))


# auto: one Ward tree, cut and refined


def _distinct(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with a vector of their own, in order (m,); each row's index among them (n,); and how
    many rows share each (m,). Thousands of copies of a text (a survey's "n/a", a bot's tweet)
    are each other's nearest neighbours, so in the kNN graph they formed a group of their own,
    cut off from their topic, and in the Ward tree a dense tangle that made it quadratic (10
    texts 2,200 times each among 25,000: 82 s against 1). Rows are told apart by two random
    projections, checked exactly (np.unique on whole rows took 12 s and 1.5 GB at 1M rows)."""
    _, first, inverse = np.unique(_row_keys(vectors), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    for i in range(0, len(vectors), DISTINCT_CHUNK):
        part = slice(i, i + DISTINCT_CHUNK)
        if not (vectors[part] == vectors[first[inverse[part]]]).all():  # two texts, one key
            _, first, inverse = np.unique(vectors, axis=0, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
            break
    order = np.argsort(first)
    rank = np.empty(len(first), dtype=np.int64)
    rank[order] = np.arange(len(first))
    inverse = rank[inverse]
    return first[order], inverse, np.bincount(inverse, minlength=len(first))


def _distinct_graph(
    vectors: np.ndarray, neighbors: Neighbors, distinct: np.ndarray, inverse: np.ndarray
) -> Neighbors:
    """The kNN graph of every row narrowed to the distinct texts (`vectors`, (m, d), the rows
    `distinct` of it; `inverse` as _distinct gives): each text's neighbours as its row has them,
    numbered among the distinct texts, less the text itself and its copies, first
    PROPAGATE_NEIGHBORS of them. Only a text whose list held too many copies (its own or a
    neighbour's) is searched again, so no second graph of the whole corpus is built. (m, 15)"""
    m = len(distinct)
    width = min(PROPAGATE_NEIGHBORS, m - 1)
    if neighbors.k < width:  # narrower than the graph wanted: nothing to narrow
        return knn_graph(vectors, width)
    indices = np.empty((m, width), dtype=np.int64)
    scores = np.empty((m, width), dtype=np.float32)
    short = []
    for first in range(0, m, DISTINCT_CHUNK):  # bounded temporaries at a million rows
        part = np.arange(first, min(first + DISTINCT_CHUNK, m))
        found = neighbors.indices[distinct[part]]
        ids = inverse[np.maximum(found, 0)]
        drop = (found < 0) | (ids == part[:, None])
        for j in range(1, ids.shape[1]):  # a text met again further down the list
            drop[:, j] |= (ids[:, :j] == ids[:, j : j + 1]).any(axis=1)
        order = np.argsort(drop, axis=1, kind="stable")[:, :width]  # kept entries first, in order
        indices[part] = np.take_along_axis(ids, order, axis=1)
        scores[part] = np.take_along_axis(neighbors.scores[distinct[part]], order, axis=1)
        short.append(part[(~drop).sum(axis=1) < width])
    short = np.concatenate(short)
    if len(short):
        again = top_k(vectors, vectors[short], width + 1)
        indices[short], scores[short] = drop_self(again.indices, again.scores, short)
    return Neighbors(indices, scores, neighbors.exact)


def _row_keys(vectors: np.ndarray) -> np.ndarray:
    """Two random projections of each row (n, 2): equal for equal rows."""
    directions = np.random.default_rng(0).normal(size=(vectors.shape[1], 2))
    chunks = range(0, len(vectors), DISTINCT_CHUNK)
    return np.vstack([vectors[i : i + DISTINCT_CHUNK].astype(np.float64) @ directions for i in chunks])


def _space(vectors: np.ndarray) -> np.ndarray:
    """The vectors' first principal components (n, <= 50), computed exactly (no random step)."""
    n, d = vectors.shape
    width = min(SPACE_DIMENSIONS, d, n)
    if width == d:
        return np.ascontiguousarray(vectors, dtype=np.float64)
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    return np.ascontiguousarray(centred @ eigenvectors[:, ::-1][:, :width])


def _ward_cuts(
    space: np.ndarray, neighbors: Neighbors, ks: list[int], kept: Keep | None = None
) -> dict[int, np.ndarray]:
    """Cut one Ward tree (kNN connectivity) at each k: k -> labels (n,)."""
    n = len(space)
    connectivity = _connectivity(neighbors, n)
    if kept is None:
        children = _ward_tree(space, connectivity)
    else:
        key = "ward_tree:" + _key(WARD_TREE, space, connectivity.indptr, connectivity.indices)
        children = kept(key, lambda: {"children": _ward_tree(space, connectivity)})["children"]
    parent = list(range(2 * n - 1))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cuts, wanted = {}, set(ks)
    for step, (a, b) in enumerate(children):
        clusters = n - step
        if clusters in wanted:
            cuts[clusters] = _roots_to_labels([root(i) for i in range(n)])
        parent[a] = parent[b] = n + step
    if 1 in wanted:
        cuts[1] = np.zeros(n, dtype=np.int64)
    return cuts


WARD_TREE = "ward tree 1"
"""Part of a kept Ward tree's key, with the bytes of the points and links it joins."""
SAMPLE_KNN = "sample knn 1"
"""Part of a kept sample graph's key, with the bytes of the sample's vectors."""


def _ward_tree(space: np.ndarray, connectivity) -> np.ndarray:
    """The merges (n - 1, 2) of a Ward tree over the points (n, d), joining only linked ones."""
    from sklearn.cluster import AgglomerativeClustering

    with warnings.catch_warnings():  # a kNN graph of separate groups is completed on purpose
        warnings.filterwarnings("ignore", message=".*connected components.*")
        tree = AgglomerativeClustering(
            n_clusters=None,
            distance_threshold=0,
            linkage="ward",
            connectivity=connectivity,
            compute_full_tree=True,
        ).fit(space)
    return np.asarray(tree.children_, dtype=np.int64)


def _key(what: str, *arrays: np.ndarray) -> str:
    """A key for what is made from exactly these arrays (bytes, shapes, types)."""
    import hashlib

    h = hashlib.sha256(what.encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()


def _roots_to_labels(roots: list[int]) -> np.ndarray:
    _, labels = np.unique(np.asarray(roots), return_inverse=True)
    return labels.astype(np.int64)


def _refine(space: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """KMeans started from the centres of `labels`: deterministic, and it mends the tree's
    early merges that a later view shows were wrong."""
    from sklearn.cluster import KMeans

    k = int(labels.max()) + 1
    if k <= 1:
        return labels
    w = np.ones(len(space)) if weights is None else weights
    centres = np.vstack([np.average(space[labels == c], axis=0, weights=w[labels == c]) for c in range(k)])
    return KMeans(k, init=centres, n_init=1, max_iter=100).fit_predict(space, sample_weight=w)


def _auto(
    vectors: np.ndarray,
    params: ClusterParams,
    neighbors: Neighbors | None,
    notes: list[str],
    copies: np.ndarray,
    kept: Keep | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(fine, broad) labels (n,) from one Ward tree: each level the cut of best modularity at
    its resolution (or the k asked for), refined; each fine cluster inside one broad topic.
    Last, the broad counts the graph supports (Clustering.broad_options). `copies` (n,): how
    many corpus rows hold each text."""
    n = len(vectors)
    space = _space(vectors)
    graph = neighbors if neighbors is not None else knn_graph(vectors, PROPAGATE_NEIGHBORS)
    links = _links(graph, _link_width(n, BROAD_LINKS, BROAD_LINKS_MIN), copies)
    fine_links = _links(graph, _link_width(n, FINE_LINKS), copies)
    limit = max(2, min(params.k_max, max(n // FINE_TEXTS_PER_CLUSTER, min(n // 5, 100)), n - 1))
    floor = min(FINE_MIN, max(2, n // 5))
    if params.k is not None:
        fine_ks = [min(params.k, n)]
    else:
        fine_ks = [k for k in K_CANDIDATES if floor <= k <= limit] or [min(floor, limit)]
    candidates = [k for k in K_CANDIDATES if k <= min(BROAD_MAX, max(fine_ks))] or [1]  # k = 1 asked
    asked = None if params.broad_k is None else min(params.broad_k, max(fine_ks))
    cuts = _ward_cuts(space, graph, sorted({*fine_ks, *candidates} | ({asked} - {None})), kept)
    k = _best_cut(cuts, fine_ks, fine_links, FINE_RESOLUTION)
    overview = [b for b in candidates if b <= k] or candidates[:1]
    options = _broad_options(cuts, overview, links)
    k_broad = options[0] if asked is None else asked
    broad = _smooth(_refine(space, cuts[k_broad], copies), graph, copies)
    if params.k is not None:  # the fine k asked for, exactly; each cluster joins its main topic
        fine = _smooth(_refine(space, cuts[k], copies), graph, copies)
        broad = _nest(fine, broad)
    else:
        piece_min = min(max(PIECE_MIN, n // 1000), max(2, n // 50))
        fine = _smooth(_within_topics(space, cuts[k], broad, piece_min, copies), graph, copies, within=broad)
    if params.k is None:
        notes.append(
            f"{_count(fine)} fine clusters: the best cut by modularity at resolution {FINE_RESOLUTION:g} "
            f"({k}, of {fine_ks[0]} to {fine_ks[-1]} tried), found inside each broad topic; a text whose "
            "nearest neighbours are mostly in another cluster of its topic joins that one."
        )
    if params.broad_k is None:
        notes.append(
            f"{_count(broad)} broad topics: the best modularity at resolution {BROAD_RESOLUTION:g} "
            f"({overview[0]} to {overview[-1]} tried); a text whose nearest neighbours are mostly in another topic "
            "joins that one."
        )
    return fine, broad, options


def _link_width(n: int, texts_per_link: int, least: int = 5) -> int:
    """How many of each text's nearest neighbours a level's modularity counts in a corpus of n:
    PROPAGATE_NEIGHBORS, or one per texts_per_link texts in a small corpus (at least `least`)."""
    return min(PROPAGATE_NEIGHBORS, max(least, n // texts_per_link))


def _broad_options(cuts: dict[int, np.ndarray], ks: list[int], links) -> tuple[int, ...]:
    """The best k of ks at BROAD_RESOLUTION (first), then at each of OPTION_RESOLUTIONS where it
    is another k below the largest tried (a best cut at the edge of the range is no peak)."""
    chosen = _best_cut(cuts, ks, links, BROAD_RESOLUTION)
    others = [_best_cut(cuts, ks, links, r) for r in OPTION_RESOLUTIONS]
    return (chosen, *sorted({b for b in others if b != chosen and b < ks[-1]}))


def _smooth(
    labels: np.ndarray, graph: Neighbors, copies: np.ndarray, within: np.ndarray | None = None
) -> np.ndarray:
    """One vote on the kNN graph: each text takes the cluster that it and its PROPAGATE_NEIGHBORS
    nearest neighbours weigh most (a text weighs as many rows as hold it; its own cluster wins a
    tie). KMeans draws the borders in the PCA space; the vote moves them to where the neighbour
    graph, the one that chose the cut, puts them (ARI against the labels up on 10 of 11 bench
    sets, bench/README). `within` (n,): only neighbours of the text's own group vote, so fine
    clusters stay inside their topic. A cluster the vote would empty keeps its texts, so the
    count, asked for or chosen, stays. (n,)"""
    from scipy.sparse import csr_matrix

    n, k = len(labels), int(labels.max()) + 1
    indices = graph.indices[:, :PROPAGATE_NEIGHBORS]
    found = np.maximum(indices, 0)
    weights = np.where(indices >= 0, copies[found], 0).astype(np.float64)
    if within is not None:
        weights[within[found] != within[:, None]] = 0.0
    rows = np.repeat(np.arange(n), indices.shape[1] + 1)
    cols = np.hstack([labels[found], labels[:, None]]).ravel()
    votes = np.hstack([weights, copies[:, None] + 1e-6]).ravel()
    voted = np.asarray(csr_matrix((votes, (rows, cols)), shape=(n, k)).argmax(axis=1)).ravel()
    emptied = np.setdiff1d(np.unique(labels), voted)
    keep = np.isin(labels, emptied)
    voted[keep] = labels[keep]
    return voted


def _within_topics(
    space: np.ndarray, cut: np.ndarray, broad: np.ndarray, piece_min: int, copies: np.ndarray
) -> np.ndarray:
    """Fine clusters inside each broad topic: the pieces of the fine cut that fall in the topic
    (at least piece_min texts) refined by KMeans on the topic's texts alone, so the topics keep
    their own borders and every fine cluster lies in one. (n,)"""
    from sklearn.cluster import KMeans

    fine = np.empty(len(space), dtype=np.int64)
    first = 0
    for topic in range(int(broad.max()) + 1):
        rows = np.nonzero(broad == topic)[0]
        counts = np.bincount(cut[rows], weights=copies[rows])
        seeds = np.nonzero(counts >= piece_min)[0]
        if len(seeds) <= 1:
            fine[rows] = first
            first += 1
            continue
        centres = np.vstack([space[rows[cut[rows] == p]].mean(axis=0) for p in seeds])
        kmeans = KMeans(len(seeds), init=centres, n_init=1, max_iter=100)
        fine[rows] = first + kmeans.fit_predict(space[rows], sample_weight=copies[rows])
        first += len(seeds)
    return fine


def _best_cut(cuts: dict[int, np.ndarray], ks: list[int], links, resolution: float) -> int:
    """The k in ks whose cut has the best modularity; ties go to the fewer clusters."""
    if len(ks) == 1:
        return ks[0]
    return max(ks, key=lambda k: (modularity(links, cuts[k], resolution), -k))


def _auto_sampled(
    vectors: np.ndarray,
    params: ClusterParams,
    neighbors: Neighbors | None,
    notes: list[str],
    copies: np.ndarray,
    rows: np.ndarray,
    kept: Keep | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """auto on a sample (sample_rows of the corpus row numbers `rows`, ascending, (n,)), then the
    rest by their neighbours' clusters; each text's broad topic is its fine cluster's."""
    n = len(vectors)
    sample = np.searchsorted(rows, sample_rows(rows, AUTO_SAMPLE))
    part = vectors[sample]
    fine_part, broad_part, options = _auto(
        part, params, _sample_graph(part, kept), notes, copies[sample], kept
    )
    labels = np.full(n, -1, dtype=np.int64)
    labels[sample] = fine_part
    notes.append(
        f"clusters found on a sample of {AUTO_SAMPLE:,} texts (the same for every seed); "
        f"the other {n - AUTO_SAMPLE:,} joined their nearest neighbours' clusters."
    )
    graph = neighbors if neighbors is not None else knn_graph(vectors, PROPAGATE_NEIGHBORS)
    labels = propagate(vectors, labels, graph)
    parent = np.zeros(int(fine_part.max()) + 1, dtype=np.int64)
    parent[fine_part] = broad_part
    return labels, parent[labels], options


def _sample_graph(part: np.ndarray, kept: Keep | None) -> Neighbors:
    """The PROPAGATE_NEIGHBORS-nearest-neighbour graph of a sample's vectors (n, d), kept."""
    if kept is None:
        return knn_graph(part, PROPAGATE_NEIGHBORS)
    key = f"sample_knn:{_key(SAMPLE_KNN, part)}"
    return Neighbors.from_arrays(kept(key, lambda: knn_graph(part, PROPAGATE_NEIGHBORS).arrays()))


# modularity: how much more a partition keeps the kNN links inside its clusters than chance


def _links(neighbors: Neighbors, width: int = PROPAGATE_NEIGHBORS, copies: np.ndarray | None = None):
    """The kNN graph's first `width` columns as symmetric links: (rows, cols, weights) of every
    link in both directions (a mutual pair counts twice). A link weighs as many as the rows that
    share the text it comes from (`copies`, (n,)), 1 each by default (weights None)."""
    n = len(neighbors.indices)
    width = min(neighbors.k, width)
    rows = np.repeat(np.arange(n), width)
    cols = neighbors.indices[:, :width].ravel()
    keep = cols >= 0
    rows, cols = rows[keep], cols[keep]
    weights = None if copies is None else np.tile(copies[rows], 2).astype(np.float64)
    return np.concatenate([rows, cols]), np.concatenate([cols, rows]), weights


def modularity(links, labels: np.ndarray, resolution: float = 1.0) -> float:
    """Newman's modularity with a resolution (Reichardt and Bornholdt): the share of links
    inside clusters less resolution x the share chance would put there. Rows labelled -1 and
    their links are left out."""
    rows, cols, weights = links
    keep = (labels[rows] >= 0) & (labels[cols] >= 0)
    a, b = labels[rows[keep]], labels[cols[keep]]
    w = np.ones(len(a)) if weights is None else weights[keep]
    total = w.sum()
    if total == 0:
        return 0.0
    k = int(labels.max()) + 1
    same = a == b
    inside = np.bincount(a[same], weights=w[same], minlength=k) / total
    degree = np.bincount(a, weights=w, minlength=k) / total
    return float(inside.sum() - resolution * (degree**2).sum())


def _nest(fine: np.ndarray, broad: np.ndarray) -> np.ndarray:
    """Each fine cluster's texts all take the broad topic most of them are in: (n,)."""
    k_fine, k_broad = int(fine.max()) + 1, int(broad.max()) + 1
    counts = np.bincount(fine * k_broad + broad, minlength=k_fine * k_broad).reshape(k_fine, k_broad)
    return counts.argmax(axis=1)[fine]


def _count(labels: np.ndarray) -> int:
    return len(set(labels.tolist()) - {-1})


def propagate(vectors: np.ndarray, labels: np.ndarray, neighbors: Neighbors, rounds: int = 5) -> np.ndarray:
    """Give each unlabelled row (-1) the cluster its labelled graph neighbours weigh most, round
    by round; rows no labelled neighbour reaches take the most similar cluster centre. Only the
    first PROPAGATE_NEIGHBORS columns vote, so graphs of any larger width agree."""
    labels = labels.copy()
    indices = neighbors.indices[:, :PROPAGATE_NEIGHBORS]
    scores = neighbors.scores[:, :PROPAGATE_NEIGHBORS]
    k = int(labels.max()) + 1
    for _ in range(rounds):
        todo = np.nonzero(labels < 0)[0]
        if not len(todo) or k == 0:
            break
        found = labels[indices[todo]]
        weights = np.where(found >= 0, np.maximum(scores[todo], 1e-6), 0.0)
        cells = np.arange(len(todo))[:, None] * k + np.maximum(found, 0)
        votes = np.bincount(cells.ravel(), weights.ravel(), minlength=len(todo) * k).reshape(len(todo), k)
        reached = votes.max(axis=1) > 0
        if not reached.any():
            break
        labels[todo[reached]] = votes[reached].argmax(axis=1)
    if (labels < 0).any() and k:
        labels = _assign_noise(vectors, labels)
    return labels


# the broad level: the fine clusters grouped


def broad_topics(
    vectors: np.ndarray,
    fine: np.ndarray,
    params: ClusterParams,
    notes: list[str] | None = None,
    *,
    neighbors: Neighbors | None = None,
) -> np.ndarray:
    """Group fine clusters (labels (n,), -1 noise) into broad topics: (n,), noise stays -1.

    The groups are weighted KMeans over the fine clusters' centres, started from a Ward tree of
    them (deterministic). Their number is params.broad_k, or the k from 2 to BROAD_MAX whose
    grouping has the best modularity at BROAD_RESOLUTION on the texts' kNN graph (on an even
    sample of AUTO_SAMPLE texts beyond that many).
    """
    notes = notes if notes is not None else []
    clusters = sorted(set(fine.tolist()) - {-1})
    k_fine = len(clusters)
    broad = np.full(len(fine), -1, dtype=np.int64)
    if k_fine <= 2:
        broad[fine >= 0] = 0 if k_fine == 1 else fine[fine >= 0]
        return broad
    members = fine >= 0
    space = _space(vectors[members])
    index = {c: i for i, c in enumerate(clusters)}
    units = np.array([index[c] for c in fine[members]])
    sizes = np.bincount(units, minlength=k_fine).astype(np.float64)
    centres = np.vstack([space[units == i].mean(axis=0) for i in range(k_fine)])
    if params.broad_k is not None:
        k = min(params.broad_k, k_fine)
        partitions = _centre_partitions(centres, sizes, [k])
    else:
        candidates = [k for k in K_CANDIDATES if k <= min(BROAD_MAX, k_fine)]
        partitions = _centre_partitions(centres, sizes, candidates)
        rows = np.nonzero(members)[0]
        if neighbors is not None and len(rows) == len(fine) <= AUTO_SAMPLE:
            scored, graph = np.arange(len(fine)), neighbors
        else:
            scored = rows[_even_sample(len(rows), AUTO_SAMPLE)]
            graph = knn_graph(vectors[scored], PROPAGATE_NEIGHBORS)
        links = _links(graph, _link_width(len(scored), BROAD_LINKS, BROAD_LINKS_MIN))
        position = np.searchsorted(rows, scored)
        k = max(
            candidates,
            key=lambda c: (modularity(links, partitions[c][units[position]], BROAD_RESOLUTION), -c),
        )
        notes.append(
            f"{k} broad topics: the best modularity at resolution {BROAD_RESOLUTION:g} (2 to {candidates[-1]} tried)."
        )
    broad[members] = partitions[k][units]
    return broad


def _centre_partitions(centres: np.ndarray, sizes: np.ndarray, ks: list[int]) -> dict[int, np.ndarray]:
    """Weighted KMeans of the fine centres (m, d) into each k, started from their Ward tree."""
    from scipy.cluster.hierarchy import fcluster, linkage

    m = len(centres)
    tree = linkage(centres, "ward") if m > 1 else None
    out = {}
    for k in ks:
        if k >= m:
            out[k] = np.arange(m)
            continue
        start = fcluster(tree, k, "maxclust") - 1
        out[k] = _refine(centres, _roots_to_labels(start.tolist()), sizes)
    return out


def sample_rows(ids: np.ndarray, size: int) -> np.ndarray:
    """`size` of the row ids `ids`, sorted: those whose hashed id is smallest. No seed, so every
    run takes the same rows, and a smaller sample lies inside a larger one: the rows a map is
    fitted on (`embedviz map DIR --fit-sample N`) are among those the clusters of the whole
    corpus are found on, and the two results differ only by what the extra rows change."""
    ids = np.asarray(ids, dtype=np.int64)
    if size >= len(ids):
        return np.sort(ids)
    keys = _mix(ids.astype(np.uint64))
    return np.sort(ids[np.argpartition(keys, size - 1)[:size]])


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: well-spread 64-bit keys from consecutive integers (n,)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def _even_sample(n: int, size: int) -> np.ndarray:
    """At most `size` rows spread evenly over 0..n-1: a scoring sample with no random step."""
    return np.arange(n) if n <= size else np.linspace(0, n - 1, size).round().astype(np.int64)


def _silhouette(vectors: np.ndarray, labels: np.ndarray, sample: np.ndarray) -> float:
    from sklearn.metrics import silhouette_score

    picked = labels[sample]
    if len(set(picked.tolist())) < 2 or len(set(picked.tolist())) >= len(sample):
        return -1.0
    return float(silhouette_score(vectors[sample], picked, metric="cosine"))


# the other methods


def _kmeans(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(vectors)


def _agglomerative_fitter(vectors: np.ndarray, neighbors: Neighbors | None):
    """Ward with kNN connectivity: one tree, cut at whatever k is asked."""
    if len(vectors) > AGGLOMERATIVE_MAX_ROWS:
        raise InputError(
            f"agglomerative clustering is limited to {AGGLOMERATIVE_MAX_ROWS:,} texts; use kmeans or hdbscan."
        )
    graph = neighbors if neighbors is not None else knn_graph(vectors, CONNECTIVITY_NEIGHBORS)
    cache: dict[int, np.ndarray] = {}

    def fit(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
        if k not in cache:
            cache.update(_ward_cuts(np.asarray(vectors, dtype=np.float64), graph, [k]))
        return cache[k]

    return fit


def _connectivity(neighbors: Neighbors, n: int):
    from scipy.sparse import csr_matrix

    k = min(neighbors.k, CONNECTIVITY_NEIGHBORS)
    rows = np.repeat(np.arange(n), k)
    graph = csr_matrix((np.ones(n * k), (rows, neighbors.indices[:, :k].ravel())), shape=(n, n))
    return graph + graph.T


def _pick_k(vectors: np.ndarray, fit, params: ClusterParams) -> int:
    """The k in 2..min(k_max, n/5) with the best silhouette on a sample."""
    n = len(vectors)
    sample = _sample(n, SILHOUETTE_SAMPLE, params.seed)
    limit = min(params.k_max, max(2, n // 5), n - 1)
    best_k, best_score = 1, -1.0
    for k in (k for k in K_CANDIDATES if k <= limit):
        score = _silhouette(vectors, fit(vectors, k, params.seed), sample)
        if score > best_score:
            best_k, best_score = k, score
    return best_k


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
    mapping = np.full(int(labels.max()) + 2 if len(labels) else 1, -1, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return np.where(labels >= 0, mapping[np.maximum(labels, 0)], -1)
