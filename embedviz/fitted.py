"""A map fitted once and reused: the reducer and the clusters learnt on a sample of the corpus
(or all of it), then any number of texts placed with them, without moving the points already
placed. Placing is a pure function of the fitted model and the vectors, so it can run batch by
batch on any worker and give the same answer.
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from embedviz.cluster import ClusterParams, cluster
from embedviz.errors import InputError
from embedviz.labels import (
    FAR_LABEL,
    NOISE_LABEL,
    PHRASE_PARTNERS,
    distinct_keywords,
    keywords_from_counts,
    numbered_names,
    phrase_rows,
    phrases,
    word_counter,
)
from embedviz.neighbors import knn_graph, top_k
from embedviz.reduce import ReduceParams, _umap_init, load_umap, numba_cache_dir, resolve

PLACEABLE = ("umap", "pca")
"""Reducers that can place new points where the fitted map would have (t-SNE cannot)."""
VOTERS = 15
"""Nearest sample texts whose clusters a placed text takes (weighted by similarity)."""
FAR_QUANTILE = 0.01
"""A new text is far from every cluster when its nearest sample text is less similar than
this share of the sample's own texts are to their nearest neighbour."""
FAR_CLUSTER = -2
MAX_WORDS = 50_000
"""Vocabulary of the cluster names (the sample's most frequent words)."""
MODEL_FILE = "model.pkl"
TRANSFORM_ROWS = 10_000
"""Rows UMAP places at a time (bounds the memory of one batch; every engine batches the same way)."""
PLACE_EPOCHS = 200
"""Epochs that place each new text: what a corpus's own fit gives each text from 12,500 texts up
(reduce.umap_epochs). UMAP's transform defaults to 100 (30 above 10k rows). 100k tweets fitted on
20k, the 80k others placed with 100 / 150 / 200 / 300 / 500 epochs: trustworthiness 0.790 /
0.792 / 0.796 / 0.796 / 0.797 (the full fit 0.812), placing 18 / 22 / 26 / 33 / 46 s."""


@dataclass(frozen=True, eq=False)
class Placed:
    coords: np.ndarray
    """(n, dims) float32"""
    fine: np.ndarray
    """(n,) int64: the fine cluster, or FAR_CLUSTER when `mark_far` and the text is far."""
    broad: np.ndarray
    """(n,) int64"""
    nearest: np.ndarray
    """(n,) float32: cosine similarity to the nearest sample text."""


@dataclass(eq=False)
class FittedMap:
    reducer: object
    """A fitted umap.UMAP or sklearn PCA."""
    reduce_params: ReduceParams
    cluster_params: ClusterParams
    sample_vectors: np.ndarray
    """(m, d) float32: the texts the model was fitted on."""
    sample_rows: np.ndarray
    """(m,) int64: their row ids."""
    sample_fine: np.ndarray
    """(m,) int64"""
    parent: np.ndarray
    """(k,) int64: each fine cluster's broad topic."""
    far_below: float
    sample_coords: np.ndarray
    """(m, dims) float32: where the fit put the sample (placing them again would move them)."""
    words: object
    """A fitted CountVectorizer: the vocabulary cluster names are counted in."""
    backend: dict = field(default_factory=dict)
    """The identity of the backend that made the vectors (new texts must use the same)."""
    names: dict[str, dict[int, str]] = field(default_factory=dict)
    """{"fine": {cluster: name}, "broad": {...}}, from words counted over every placed row."""
    keywords: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    sizes: dict[str, dict[int, int]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    broad_options: tuple[int, ...] = ()
    """Clustering.broad_options of the fit (empty in models saved before they were kept)."""
    phrase_texts: tuple[str, ...] = ()
    """Sample texts of each fine cluster (labels.phrase_rows), read for the phrases its names
    join ("red sox"); empty in models saved before names had phrases."""
    phrase_fine: tuple[int, ...] = ()
    """The fine cluster of each of phrase_texts."""

    @property
    def k(self) -> int:
        return len(self.parent)

    def place(self, vectors: np.ndarray, mark_far: bool = False, rows: np.ndarray | None = None) -> Placed:
        """Map coordinates and clusters for unit vectors (n, d) in the fitted space. Rows of the
        corpus the map was fitted on (`rows`, (n,) row ids) keep where the fit put them."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if rows is not None and len(vectors):
            return self._place_rows(vectors, np.asarray(rows, dtype=np.int64), mark_far)
        if len(vectors) == 0:
            dims = self.reduce_params.dims
            empty = np.zeros(0, np.int64)
            return Placed(np.zeros((0, dims), np.float32), empty, empty, np.zeros(0, np.float32))
        if vectors.shape[1] != self.sample_vectors.shape[1]:
            raise InputError(
                f"the vectors have {vectors.shape[1]} dimensions and the map was fitted on "
                f"{self.sample_vectors.shape[1]}; embed with the map's backend."
            )
        found = top_k(
            self.sample_vectors,
            vectors,
            min(max(VOTERS, self.reduce_params.n_neighbors), len(self.sample_vectors)),
        )
        coords = np.vstack(
            [
                self._transform(vectors[start : start + TRANSFORM_ROWS], found, start)
                for start in range(0, len(vectors), TRANSFORM_ROWS)
            ]
        )
        fine, nearest = _vote(found, self.sample_fine, self.k)
        broad = self.parent[fine]
        if mark_far:
            far = nearest < self.far_below
            fine = np.where(far, FAR_CLUSTER, fine)
            broad = np.where(far, FAR_CLUSTER, broad)
        return Placed(coords, fine, broad, nearest)

    def _transform(self, vectors: np.ndarray, found, start: int) -> np.ndarray:
        if self.reduce_params.method != "umap":
            return np.asarray(self.reducer.transform(vectors), dtype=np.float32)
        width = min(self.reduce_params.n_neighbors, found.indices.shape[1])
        stop = start + len(vectors)
        distances = _distances(
            found.indices[start:stop, :width], found.scores[start:stop, :width], len(self.sample_vectors)
        )
        self.reducer.n_epochs = 3 * PLACE_EPOCHS  # transform optimises for n_epochs // 3
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            return np.asarray(self.reducer.transform(distances), dtype=np.float32)

    def place_clusters(self, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Only the fine clusters of corpus rows (n,) with vectors (n, d): no coordinates."""
        at = np.clip(np.searchsorted(self.sample_rows, rows), 0, len(self.sample_rows) - 1)
        fitted = self.sample_rows[at] == rows
        fine = np.where(fitted, self.sample_fine[at], 0)
        if (~fitted).any():
            fine[~fitted] = vote(self.sample_vectors, self.sample_fine, vectors[~fitted], self.k)[0]
        return fine

    def _place_rows(self, vectors: np.ndarray, rows: np.ndarray, mark_far: bool) -> Placed:
        at = np.clip(np.searchsorted(self.sample_rows, rows), 0, len(self.sample_rows) - 1)
        fitted = self.sample_rows[at] == rows
        coords = np.zeros((len(rows), self.sample_coords.shape[1]), np.float32)
        fine = np.zeros(len(rows), np.int64)
        nearest = np.ones(len(rows), np.float32)
        coords[fitted], fine[fitted] = self.sample_coords[at[fitted]], self.sample_fine[at[fitted]]
        if (~fitted).any():
            rest = self.place(vectors[~fitted], mark_far)
            coords[~fitted], fine[~fitted], nearest[~fitted] = rest.coords, rest.fine, rest.nearest
        broad = np.where(fine >= 0, self.parent[np.maximum(fine, 0)], fine)
        return Placed(coords, fine, broad, nearest)

    def count_words(self, texts: Sequence[str], fine: np.ndarray) -> pd.DataFrame:
        """Word counts per fine cluster in these texts: columns cluster, word, count (long form,
        so counts from many batches add up with a group-by)."""
        keep = fine >= 0
        if not keep.any():
            return pd.DataFrame({"cluster": [], "word": [], "count": []}, dtype=np.int64)
        counts = self.words.transform([t for t, k in zip(texts, keep, strict=True) if k]).tocoo()
        frame = pd.DataFrame(
            {"cluster": fine[keep][counts.row], "word": counts.col.astype(np.int64), "count": counts.data}
        )
        return frame.groupby(["cluster", "word"], as_index=False)["count"].sum()

    def name_clusters(self, counts: pd.DataFrame, sizes: np.ndarray) -> None:
        """Names from word counts summed over every placed row (cluster, word, count) and the
        number of rows in each fine cluster (k,)."""
        vocabulary = self.words.get_feature_names_out()
        totals = counts.groupby(["cluster", "word"])["count"].sum().reset_index()
        fine = np.zeros((self.k, len(vocabulary)))
        np.add.at(fine, (totals["cluster"].to_numpy(), totals["word"].to_numpy()), totals["count"].to_numpy())
        n_broad = int(self.parent.max()) + 1 if self.k else 0
        broad = np.zeros((n_broad, len(vocabulary)))
        np.add.at(broad, self.parent, fine)
        broad_sizes = np.bincount(self.parent, weights=sizes, minlength=n_broad).astype(np.int64)
        phrase_fine = np.asarray(self.phrase_fine, dtype=np.int64)
        for level, per_class, level_sizes in (("fine", fine, sizes), ("broad", broad, broad_sizes)):
            words = keywords_from_counts(list(range(len(per_class))), per_class, vocabulary, PHRASE_PARTNERS)
            words = distinct_keywords(
                words,
                lambda members, pc=per_class: keywords_from_counts(members, pc[members], vocabulary, 10),
            )
            level_of = phrase_fine if level == "fine" else self.parent[phrase_fine]
            words = phrases(self.phrase_texts, level_of, words)
            self.keywords[level] = {c: list(w) for c, w in words.items()}
            self.names[level] = numbered_names(
                [
                    (int(c), ", ".join(words[c][:3]) or f"cluster {c}")
                    for c in np.argsort(-level_sizes, kind="stable")
                ]
            )
            self.sizes[level] = {c: int(s) for c, s in enumerate(level_sizes)}

    def label_names(self, labels: np.ndarray, level: str = "fine") -> np.ndarray:
        names = self.names.get(level, {})
        special = {FAR_CLUSTER: FAR_LABEL, -1: NOISE_LABEL}
        return np.array(
            [special.get(int(c)) or names.get(int(c), f"cluster {int(c)}") for c in labels], dtype=object
        )


def vote(
    sample: np.ndarray, labels: np.ndarray, vectors: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's cluster by a similarity-weighted vote of its VOTERS nearest sample texts,
    and its similarity to the nearest one: ((n,) int64, (n,) float32)."""
    return _vote(top_k(sample, vectors, min(VOTERS, len(sample))), labels, k)


def _vote(found, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The vote over the first VOTERS neighbours of a top_k result (indices into the sample)."""
    indices, scores = found.indices[:, :VOTERS], found.scores[:, :VOTERS]
    weights = np.maximum(scores, 0) + 1e-6
    tally = np.zeros((len(indices), k))
    rows = np.repeat(np.arange(len(indices)), indices.shape[1])
    np.add.at(tally, (rows, labels[indices].ravel()), weights.ravel())
    return tally.argmax(axis=1).astype(np.int64), scores[:, 0].astype(np.float32)


def fit(
    vectors: np.ndarray,
    texts: Sequence[str],
    rows: np.ndarray,
    reduce_params: ReduceParams = ReduceParams(method="umap"),
    cluster_params: ClusterParams = ClusterParams(),
    backend: dict | None = None,
) -> FittedMap:
    """Fit the reducer and the clusters on a sample: vectors (m, d), its texts and row ids."""
    if len(vectors) < 20:
        raise InputError(f"{len(vectors)} texts are too few to fit a map on; give at least 20.")
    params = resolve(reduce_params, len(vectors))
    if params.method not in PLACEABLE:
        raise InputError(
            f"{params.method} cannot place texts it was not fitted on; choose {' or '.join(PLACEABLE)}."
        )
    if cluster_params.method == "hdbscan":
        raise InputError(
            "hdbscan's outliers cannot be placed; choose the auto, kmeans or agglomerative clusters."
        )
    order = np.argsort(rows, kind="stable")  # sorted row ids: placing looks them up
    vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
    texts, rows = [texts[i] for i in order], np.asarray(rows, dtype=np.int64)[order]
    graph = knn_graph(vectors, max(VOTERS + 1, params.n_neighbors))
    if params.method == "umap":
        reducer = _fit_umap(graph, params)
        coords = reducer.embedding_
    else:
        from sklearn.decomposition import PCA

        reducer = PCA(n_components=params.dims, random_state=params.seed).fit(vectors)
        coords = reducer.transform(vectors)
    clusters = cluster(vectors, cluster_params, neighbors=graph)
    fine = clusters.labels.astype(np.int64)
    parent = np.zeros(int(fine.max()) + 1, dtype=np.int64)
    parent[fine] = clusters.broad
    words = word_counter(MAX_WORDS)
    try:
        words.fit(texts)
    except ValueError:  # no words at all
        words.fit(["_"])
    nearest_other = graph.scores[:, 0]
    read = np.concatenate([*phrase_rows(fine, sorted(set(fine.tolist()))).values(), np.zeros(0, np.int64)])
    return FittedMap(
        reducer=reducer,
        reduce_params=params,
        cluster_params=cluster_params,
        sample_vectors=vectors,
        sample_rows=rows,
        sample_fine=fine,
        parent=parent,
        far_below=float(np.quantile(nearest_other, FAR_QUANTILE)),
        sample_coords=np.ascontiguousarray(coords, dtype=np.float32),
        words=words,
        backend=backend or {},
        notes=clusters.notes,
        broad_options=clusters.broad_options,
        phrase_texts=tuple(texts[i] for i in read),
        phrase_fine=tuple(int(c) for c in fine[read]),
    )


def _distances(indices: np.ndarray, scores: np.ndarray, n_columns: int):
    """Cosine distances to nearest sample texts as the sparse matrix UMAP's precomputed metric
    takes: rows (n,) by sample texts (n_columns,). A tiny offset keeps an exact duplicate's
    distance from reading as a missing entry."""
    import scipy.sparse

    rows = np.repeat(np.arange(len(indices)), indices.shape[1])
    distances = np.clip(1.0 - scores, 0.0, None) + 1e-6
    return scipy.sparse.csr_matrix(
        (distances.ravel(), (rows, indices.ravel())), shape=(len(indices), n_columns)
    )


def _fit_umap(graph, params: ReduceParams):
    """UMAP on the sample's kNN graph (cosine distances, precomputed), so new texts are placed
    from their nearest sample texts found the same way: no second neighbour index, whose
    compilation cost minutes in every new process."""
    umap = load_umap(numba_cache_dir())
    n = len(graph.indices)
    width = min(params.n_neighbors, graph.indices.shape[1])
    distances = _distances(graph.indices[:, :width], graph.scores[:, :width], n)
    distances = distances.maximum(distances.T).tocsr()  # UMAP wants it symmetric
    reducer = umap.UMAP(
        n_components=params.dims,
        n_neighbors=min(params.n_neighbors, n - 1),
        min_dist=params.min_dist,
        metric="precomputed",
        random_state=params.seed,
        init=_umap_init(n, params.dims),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="umap")
        reducer.fit(distances)
    return reducer


def save(model: FittedMap, folder: Path) -> None:
    """The model in `folder` (pickled: load only folders you wrote or trust)."""
    work = folder / f".{MODEL_FILE}.tmp"
    with open(work, "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    work.replace(folder / MODEL_FILE)


def load(folder: str | Path) -> FittedMap:
    path = Path(folder) / MODEL_FILE
    if not path.exists():
        raise InputError(
            f"{folder}: there is no fitted map here; make one with `embedviz map FOLDER --out {folder}`."
        )
    load_umap(numba_cache_dir())  # UMAP's compiled code from the disk cache before unpickling
    with open(path, "rb") as f:
        return pickle.load(f)


def summary(model: FittedMap) -> dict:
    """What the map manifest records about the model (readable, no arrays)."""
    return {
        "reduce": asdict(model.reduce_params),
        "clusters": asdict(model.cluster_params),
        "fit_rows": len(model.sample_rows),
        "k": model.k,
        "broad_k": int(model.parent.max()) + 1 if model.k else 0,
        "far_below": model.far_below,
        "names": json.loads(json.dumps(model.names)),
        "keywords": json.loads(json.dumps(model.keywords)),
        "sizes": json.loads(json.dumps(model.sizes)),
        "notes": list(model.notes),
        "broad_options": list(model.broad_options),
    }
