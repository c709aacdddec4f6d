"""The pipeline with the store: embed -> neighbors -> reduce -> cluster -> label, each stage's
result kept on disk and reused. The page, the CLI and the Python API all call these."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from embedviz import classifier, curation
from embedviz.backends.base import Backend
from embedviz.cluster import CLUSTER_VERSION, Clustering, ClusterParams, Keep, cluster
from embedviz.compiled import threadsafe_parallel
from embedviz.corpus import Corpus
from embedviz.embed import Embeddings, embed, embed_query
from embedviz.errors import InputError
from embedviz.labels import (
    KEYWORDS_VERSION,
    NOISE_LABEL,
    WORD_PATTERN,
    WORDS_VERSION,
    ClusterSummary,
    numbered_names,
    segmenter,
    stop_words_digest,
    summarize,
    word_counts,
)
from embedviz.neighbors import EXACT_GRAPH_MAX, Neighbors, knn_graph, top_k
from embedviz.progress import OnProgress, Progress, ignore
from embedviz.reduce import REDUCE_VERSION, Projection, ReduceParams, auto_note, reduce, resolve
from embedviz.store import Store, artifact_key, digest

log = logging.getLogger(__name__)

GRAPH_K = 30
"""Neighbours kept per row in the shared kNN graph (search, clustering, UMAP)."""
OUTPUT_COLUMNS = ("x", "y", "z", "cluster", "cluster_label", "broad_cluster", "broad_cluster_label")
Level = Literal["fine", "broad"]
LEVELS: tuple[Level, ...] = ("broad", "fine")


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Log how long a stage took (the CLI shows it; bench/scale.py reads it)."""
    started = time.perf_counter()
    yield
    log.info("%s: %.1f s", stage, time.perf_counter() - started)


def embeddings(
    corpus: Corpus, backend: Backend, store: Store | None, on_progress: OnProgress = ignore
) -> Embeddings:
    return embed(corpus.texts, backend, store, hashes=corpus.text_hashes, on_progress=on_progress)


def missing_vectors(corpus: Corpus, backend: Backend, store: Store | None) -> int:
    """How many distinct texts the backend would have to encode (none is encoded here)."""
    backend.fit(corpus.texts)
    unique = list(dict.fromkeys(corpus.text_hashes))
    if store is None or not backend.persist:
        return len(unique)
    return len(unique) - store.count_present(backend.space(), unique)


def graph_width(emb: Embeddings, k: int = GRAPH_K) -> int:
    """The width of the graph neighbor_graph builds for k (never narrower than GRAPH_K)."""
    return min(max(k, GRAPH_K), max(len(emb) - 1, 0))


def graph_identity(emb: Embeddings, width: int) -> str:
    """What a stage reading the first columns of a graph `width` wide depends on: for an exact
    graph nothing more (its first columns are the same at any width); for HNSW the width (the
    search beam grows with it)."""
    return "exact" if len(emb) <= EXACT_GRAPH_MAX else f"hnsw-{width}"


def graph_key(emb: Embeddings, k: int = GRAPH_K) -> str:
    return artifact_key("knn", emb.fingerprint, {"k": graph_width(emb, k)})


def projection_key(emb: Embeddings, params: ReduceParams) -> str:
    """UMAP reads the graph neighbor_graph builds for its n_neighbors: the params decide it."""
    return artifact_key(
        "projection", emb.fingerprint, {"params": resolve(params, len(emb)), "v": REDUCE_VERSION}
    )


def clustering_key(
    emb: Embeddings, params: ClusterParams, width: int = GRAPH_K, version: int = CLUSTER_VERSION
) -> str:
    """The store key of the clustering that cluster() of `version` makes (1: made before
    clusterings carried a version, keyed without it)."""
    identity = {"params": params, "graph": graph_identity(emb, graph_width(emb, width))}
    if version > 1:
        identity["v"] = version
    return artifact_key("clustering", emb.fingerprint, identity)


def trust_key(emb: Embeddings, coords: np.ndarray, width: int = GRAPH_K) -> str:
    from embedviz.analysis import TRUST_NEIGHBORS

    coords = np.ascontiguousarray(coords, dtype=np.float32)
    params = {
        "coords": hashlib.sha256(coords.tobytes()).hexdigest()[:32],
        "k": TRUST_NEIGHBORS,
        "graph": graph_identity(emb, graph_width(emb, width)),
    }
    return artifact_key("trust", emb.fingerprint, params)


def neighbor_graph(emb: Embeddings, store: Store | None, k: int = GRAPH_K) -> Neighbors:
    """The kNN graph of an embedding set (approximate above EXACT_GRAPH_MAX rows), computed once
    and stored."""
    k = graph_width(emb, k)

    def make() -> dict[str, np.ndarray]:
        with timed("neighbour graph" + ("" if len(emb) <= EXACT_GRAPH_MAX else " (approximate, HNSW)")):
            return knn_graph(emb.vectors, k).arrays()

    return Neighbors.from_arrays(stored(store, graph_key(emb, k), "knn", make))


def projection(
    emb: Embeddings,
    params: ReduceParams,
    store: Store | None,
    on_progress: OnProgress = ignore,
    graph: Neighbors | None = None,
) -> Projection:
    said = (auto_note(params, len(emb)),) if params.method == "auto" else ()
    key = projection_key(emb, params)
    params = resolve(params, len(emb))
    hit = store.get_artifact(key) if store else None
    if hit is not None:
        meta = json.loads(str(hit["meta"]))
        on_progress(Progress("reduce", 1, 1, "from store"))
        return Projection(hit["coords"], meta["trustworthiness"], meta["method"], said + tuple(meta["notes"]))
    if params.method == "umap" and (graph is None or graph.k < params.n_neighbors):
        graph = neighbor_graph(emb, store, params.n_neighbors)
    with timed("projection"):
        result = reduce(emb.vectors, params, neighbors=graph, on_progress=on_progress)
    if store:
        meta = {"trustworthiness": result.trustworthiness, "method": result.method, "notes": result.notes}
        store.put_artifact(key, "projection", {"coords": result.coords, "meta": np.array(json.dumps(meta))})
    return Projection(result.coords, result.trustworthiness, result.method, said + result.notes)


def map_trust(emb: Embeddings, coords: np.ndarray, store: Store | None, graph: Neighbors | None = None):
    """Per text, the share of its 10 nearest neighbours in the embedding space that are also
    among its 10 nearest on the map `coords` (n, 2 or 3): (n,) float32, stored."""
    from embedviz.analysis import map_trust as trust_of

    coords = np.ascontiguousarray(coords, dtype=np.float32)
    key = trust_key(emb, coords, graph.k if graph is not None else GRAPH_K)

    def make() -> dict[str, np.ndarray]:
        with timed("map trust"):
            return {"trust": trust_of(graph if graph is not None else neighbor_graph(emb, store), coords)}

    return stored(store, key, "trust", make)["trust"]


@dataclass(frozen=True, eq=False)
class LabelledClustering:
    """Clusters at two levels with their summaries (keywords, representatives, sizes)."""

    clustering: Clustering
    summaries: tuple[ClusterSummary, ...]
    """Fine clusters, largest first, then noise."""
    broad_summaries: tuple[ClusterSummary, ...] = ()
    """Broad topics, largest first, then noise."""
    key: str = ""
    """What identifies this clustering (its store key): names made for it are kept under it."""
    user_names: dict[str, dict[int, str]] = field(default_factory=dict)
    """Names the user gave ({"fine": {cluster: name}, "broad": {...}}): before any other."""
    edited: int = 0
    """How many of the user's edits are kept: applied, unless a note says they were set aside."""
    version: int = CLUSTER_VERSION
    """The version of cluster() that made the automatic clusters under the edits."""

    @property
    def labels(self) -> np.ndarray:
        return self.clustering.labels

    @property
    def broad(self) -> np.ndarray:
        return self.clustering.broad

    def level(self, level: Level) -> tuple[np.ndarray, tuple[ClusterSummary, ...]]:
        """The labels (n,) and summaries of one level."""
        if level == "broad":
            return self.broad, self.broad_summaries
        return self.labels, self.summaries

    def names(self, level: Level = "fine", custom: dict[int, str] | None = None) -> dict[int, str]:
        """cluster -> its short name (keywords, or a custom name where given); -1 -> noise."""
        _, summaries = self.level(level)
        own = self.user_names.get(level, {})
        given = {c: own.get(c) or (custom or {}).get(c) for c in (s.cluster for s in summaries)}
        keyword_names = numbered_names([(s.cluster, s.label) for s in summaries if not given[s.cluster]])
        return {s.cluster: given[s.cluster] or keyword_names[s.cluster] for s in summaries}

    def label_names(self, level: Level = "fine", custom: dict[int, str] | None = None) -> np.ndarray:
        """The name of each row's cluster: (n,) str."""
        labels, _ = self.level(level)
        names = self.names(level, custom)
        return np.array([names.get(int(c), NOISE_LABEL) for c in labels], dtype=object)


def _summaries_from(meta: list[dict]) -> tuple[ClusterSummary, ...]:
    return tuple(
        ClusterSummary(s["cluster"], s["size"], tuple(s["keywords"]), tuple(s["representatives"]))
        for s in meta
    )


def clustering(
    corpus: Corpus,
    emb: Embeddings,
    params: ClusterParams,
    store: Store | None,
    graph: Neighbors | None = None,
    width: int = GRAPH_K,
    on_progress: OnProgress = ignore,
) -> LabelledClustering:
    """Clusters at both levels with their summaries, stored. `graph` (or, when it is read from
    the store instead, the `width` it would have) is part of the key. Progress is reported by
    step: the neighbours, the clusters, each level's keywords."""
    width = graph.k if graph is not None else graph_width(emb, width)
    key = clustering_key(emb, params, width)
    hit = _stored_clustering(store, key, CLUSTER_VERSION)
    if hit is not None and hit.summaries:
        return hit

    def step(done: int, detail: str = "") -> None:
        on_progress(Progress("step", done, 4, detail))

    with timed("clusters"):
        if hit is not None:  # the same clusters, named by an earlier embedviz: named again
            result = hit.clustering
        else:
            step(0, "nearest neighbours")
            if params.method in ("auto", "agglomerative") and graph is None:
                graph = neighbor_graph(emb, store, width)
            step(1, "clusters at both levels")
            result = cluster(emb.vectors, params, neighbors=graph, kept=kept_steps(store))
        step(2, "keywords of the fine clusters")
        counts = counted_words(corpus, store)
        summaries = tuple(summarize(corpus.texts, emb.vectors, result.labels, counts))
        step(3, "keywords of the broad topics")
        broad = tuple(summarize(corpus.texts, emb.vectors, result.broad, counts))
        step(4)
    if store:
        meta = {
            "notes": result.notes,
            "broad_options": result.broad_options,
            "summaries": [asdict(s) for s in summaries],
            "broad": [asdict(s) for s in broad],
            "names": names_version(),
        }
        arrays = {"labels": result.labels, "broad": result.broad, "meta": np.array(json.dumps(meta))}
        store.put_artifact(key, "clustering", arrays)
    return LabelledClustering(result, summaries, broad, key)


def counted_words(corpus: Corpus, store: Store | None):
    """labels.word_counts of the corpus's texts, kept in the store: each new k and each view
    with the user's edits names its clusters from them (counting 100,000 tweets takes 1 s)."""
    how = {
        "words": WORDS_VERSION,
        "segmenter": segmenter(),
        "pattern": WORD_PATTERN,
        "stop words": stop_words_digest(),
        "format": 2,
    }
    key = artifact_key("word_counts", corpus.fingerprint, how)

    def make() -> dict[str, np.ndarray]:
        counted = word_counts(corpus.texts)
        if counted is None:
            return {"none": np.array(True)}
        matrix, words = counted
        # the words as one text: an array of them took 4 bytes a character of the longest (18 MB at 100k)
        joined = np.frombuffer("\n".join(words).encode("utf-8", "surrogatepass"), dtype=np.uint8)
        counts = {"data": matrix.data.astype(np.int32), "indices": matrix.indices, "indptr": matrix.indptr}
        return {**counts, "shape": np.array(matrix.shape), "words": joined}

    arrays = stored(store, key, "word_counts", make)
    if "none" in arrays:  # the texts hold no word
        return None
    from scipy.sparse import csr_matrix

    matrix = csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
    words = arrays["words"].tobytes().decode("utf-8", "surrogatepass").split("\n")
    return matrix, np.array(words, dtype=object)


def kept_steps(store: Store | None) -> Keep | None:
    """What auto makes before it picks a k (its Ward tree, its sample's neighbour graph), kept in
    the store under a key of exactly what each was made from: a new k (a topic-count button,
    the CLI's --broad-clusters) starts from them."""
    if store is None:
        return None
    return lambda key, make: stored(store, key, key.partition(":")[0], make)


def stored(store: Store | None, key: str, kind: str, make: Callable[[], dict[str, np.ndarray]]):
    """The named arrays kept in the store under `key`, or make()'s, then kept there as a `kind`:
    every stage's read, compute and write."""
    hit = store.get_artifact(key) if store else None
    if hit is not None:
        return hit
    arrays = make()
    if store:
        store.put_artifact(key, kind, arrays)
    return arrays


@functools.cache
def names_version() -> list:
    """How a stored clustering's summaries were named: words read, keywords scored, and the
    function words left out (a word added to them names clusters again)."""
    return [WORDS_VERSION, segmenter(), KEYWORDS_VERSION, stop_words_digest()]


def _stored_clustering(store: Store | None, key: str, version: int) -> LabelledClustering | None:
    hit = store.get_artifact(key) if store else None
    if hit is None:
        return None
    meta = json.loads(str(hit["meta"]))
    result = Clustering(
        hit["labels"], hit["broad"], tuple(meta["notes"]), tuple(meta.get("broad_options", ()))
    )
    if meta.get("names") != names_version():  # named another way (an earlier embedviz): name again
        return LabelledClustering(result, (), (), key, version=version)
    summaries, broad = _summaries_from(meta["summaries"]), _summaries_from(meta["broad"])
    return LabelledClustering(result, summaries, broad, key, version=version)


def _noted(base: LabelledClustering, note: str) -> LabelledClustering:
    notes = (*base.clustering.notes, note)
    return replace(base, clustering=replace(base.clustering, notes=notes))


def edit_base(
    emb: Embeddings,
    params: ClusterParams,
    base: LabelledClustering,
    store: Store | None,
    log: list[dict],
    width: int = GRAPH_K,
) -> LabelledClustering | None:
    """The automatic clusters the edits in `log` were made on: `base` (this cluster()'s), the
    stored clusters of the earlier version they were made on, or None when those are gone.
    Where the earlier version's clusters are this one's (a version that changed something else),
    `base` under the edits' version: they apply as they are, and later edits join them."""
    version = curation.edits_version(log)
    if version == base.version:
        return base
    earlier = _stored_clustering(store, clustering_key(emb, params, width, version), version)
    if earlier is not None and _same_clusters(earlier.clustering, base.clustering):
        return replace(base, version=version)
    return earlier


def _same_clusters(a: Clustering, b: Clustering) -> bool:
    return np.array_equal(a.labels, b.labels) and np.array_equal(a.broad, b.broad)


def curated(
    corpus: Corpus,
    emb: Embeddings,
    params: ClusterParams,
    base: LabelledClustering,
    store: Store | None,
    width: int = GRAPH_K,
) -> LabelledClustering:
    """The clusters with the user's stored edits applied (renamed, merged, split, moved), their
    summaries counted again; `base` itself when there are none. Edits name clusters by number,
    so they apply to the clusters they were made on: where a newer cluster() finds other
    clusters, the stored ones of the edits' version are shown, or, gone from the store, the
    edits are kept but not applied (a rename must not land on another cluster)."""
    log = curation.edits(store, emb.fingerprint, params) if store else []
    if not log:
        return base
    made_on = edit_base(emb, params, base, store, log, width)
    if made_on is None:
        return _noted(
            replace(base, edited=len(log)),
            f"{len(log)} cluster edit(s) were made on the clusters of an earlier embedviz, which the "
            "store no longer holds: they are kept, not applied. Undo them to edit these clusters.",
        )
    if made_on.clustering is not base.clustering:
        made_on = _noted(
            made_on,
            f"Your {len(log)} cluster edit(s) were made on the clusters of an earlier embedviz, so "
            "those are shown; undo them all to see the clusters embedviz finds now.",
        )
    base = made_on
    labels, broad, names = curation.apply_edits(base.labels, base.broad, emb.vectors, log)
    result = replace(base.clustering, labels=labels, broad=broad)
    counts = counted_words(corpus, store)
    return LabelledClustering(
        result,
        tuple(summarize(corpus.texts, emb.vectors, labels, counts)),
        tuple(summarize(corpus.texts, emb.vectors, broad, counts)),
        f"{base.key}:edits:{digest(log)}",
        names,
        len(log),
        base.version,
    )


@dataclass(frozen=True, eq=False)
class MapResult:
    frame: pd.DataFrame
    """Every input column, then x, y (z), cluster, cluster_label, broad_cluster,
    broad_cluster_label, and tags when the texts have any."""
    embeddings: Embeddings
    projection: Projection
    clusters: LabelledClustering
    notes: tuple[str, ...] = field(default=())


def build_map(
    corpus: Corpus,
    backend: Backend,
    store: Store | None,
    reduce_params: ReduceParams = ReduceParams(),
    cluster_params: ClusterParams = ClusterParams(),
    on_progress: OnProgress = ignore,
) -> MapResult:
    with timed("embeddings"):
        emb = embeddings(corpus, backend, store, on_progress)

    reduce_params = resolve(reduce_params, len(emb))

    def missing(key: str) -> bool:
        return store is None or not store.has_artifact(key)

    # one graph for both stages below, computed (or read) once, and only if one needs it; the
    # clusters read its first columns, so they are keyed by what those depend on
    width = graph_width(emb, reduce_params.n_neighbors if reduce_params.method == "umap" else GRAPH_K)
    graph = None
    if (reduce_params.method == "umap" and missing(projection_key(emb, reduce_params))) or (
        cluster_params.method in ("auto", "agglomerative")
        and missing(clustering_key(emb, cluster_params, width))
    ):
        graph = neighbor_graph(emb, store, width)

    def project() -> Projection:
        return projection(emb, reduce_params, store, on_progress, graph)

    def group() -> LabelledClustering:
        on_progress(Progress("cluster", 0, 1))
        base = clustering(corpus, emb, cluster_params, store, graph, width)
        result = curated(corpus, emb, cluster_params, base, store, width)
        on_progress(Progress("cluster", 1, 1))
        return result

    if threadsafe_parallel():  # both are mostly single-threaded numba or BLAS: one core each
        # scikit-learn imported here first: two threads importing it at once can each find the
        # other's half-initialised module (ImportError: cannot import name 'clone')
        import sklearn.cluster  # noqa: F401
        import sklearn.decomposition  # noqa: F401
        import sklearn.metrics  # noqa: F401

        with ThreadPoolExecutor(2, thread_name_prefix="embedviz-stage") as pool:
            later = pool.submit(group)
            proj = project()
            clusters = later.result()
    else:
        proj, clusters = project(), group()
    frame = map_frame(corpus, proj, clusters)
    tags = curation.row_tags(corpus, store) if store is not None else []
    if any(tags):  # the user's tags, where there are any
        frame["tags"] = [", ".join(t) for t in tags]
    return MapResult(frame, emb, proj, clusters, proj.notes + clusters.clustering.notes)


def map_frame(corpus: Corpus, proj: Projection, clusters: LabelledClustering | None) -> pd.DataFrame:
    frame = corpus.frame.rename(columns={c: f"{c}_input" for c in OUTPUT_COLUMNS if c in corpus.frame})
    for axis, name in enumerate("xyz"[: proj.coords.shape[1]]):
        frame[name] = proj.coords[:, axis]
    if clusters is not None:
        frame["cluster"] = clusters.labels.astype(np.int64)
        frame["cluster_label"] = clusters.label_names("fine").astype(str)
        frame["broad_cluster"] = clusters.broad.astype(np.int64)
        frame["broad_cluster_label"] = clusters.label_names("broad").astype(str)
    return frame


def has_file_coordinates(corpus: Corpus) -> bool:
    """Whether the file brings its own map: numeric `x` and `y` columns without gaps."""
    frame = corpus.frame
    return all(
        c in frame and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().all() for c in "xy"
    )


def file_projection(corpus: Corpus, dims: int = 2) -> Projection:
    """The file's own x, y (and z) columns as the map: no vectors needed, so a million rows
    map at once."""
    if not has_file_coordinates(corpus):
        raise InputError("the file has no numeric x and y columns to map; pick a reducer instead.")
    axes = list("xyz"[:dims])
    if dims == 3 and not ("z" in corpus.frame and pd.api.types.is_numeric_dtype(corpus.frame["z"])):
        raise InputError("the file has x and y but no numeric z column; choose 2 dimensions.")
    coords = corpus.frame[axes].to_numpy(dtype=np.float32)
    return Projection(np.ascontiguousarray(coords), None, "file")


FILE_CLUSTERS = {"fine": ("cluster", "cluster_label"), "broad": ("broad_cluster", "broad_cluster_label")}
"""The columns an `embedviz map` output keeps its clusters in: (number, name) per level."""
FILE_REPRESENTATIVES = 3


def has_file_clusters(corpus: Corpus) -> bool:
    frame = corpus.frame
    return all(
        number in frame and name in frame and pd.api.types.is_integer_dtype(frame[number])
        for number, name in FILE_CLUSTERS.values()
    )


def file_clustering(corpus: Corpus) -> LabelledClustering:
    """The clusters a file brings at both levels (an `embedviz map` output, whose vectors need
    not be in memory): numbers and names from its columns, sizes counted, representatives the
    members most similar to the map's fitted texts (`similarity`) where the file says, else
    the first. Negative numbers (noise, far from every cluster) are noise."""
    if not has_file_clusters(corpus):
        fields = ", ".join(c for pair in FILE_CLUSTERS.values() for c in pair)
        raise InputError(f"the file has no clusters of its own ({fields}); cluster its vectors instead.")
    frame = corpus.frame
    order = np.arange(len(frame))
    if "similarity" in frame and pd.api.types.is_numeric_dtype(frame["similarity"]):
        order = np.argsort(-frame["similarity"].fillna(-np.inf).to_numpy(), kind="stable")
    levels = {}
    for level, (number, name) in FILE_CLUSTERS.items():
        labels = np.maximum(frame[number].to_numpy(dtype=np.int64), -1)
        sizes = pd.Series(labels).value_counts()
        names = frame[name].astype(str).groupby(labels).first()
        first = pd.Series(order, index=labels[order]).groupby(level=0).head(FILE_REPRESENTATIVES)
        members = first.groupby(level=0).agg(tuple)
        summaries = tuple(
            ClusterSummary(
                int(c),
                int(size),
                tuple(w.strip() for w in names[c].split(",")) if c >= 0 else (),
                tuple(int(r) for r in members[c]),
            )
            for c, size in sorted(sizes.items(), key=lambda item: (item[0] < 0, -item[1], item[0]))
        )
        levels[level] = labels, summaries
    fine, broad = levels["fine"], levels["broad"]
    key = f"file:{corpus.fingerprint}"
    return LabelledClustering(Clustering(fine[0], broad[0]), fine[1], broad[1], key)


@dataclass(frozen=True)
class Hit:
    rank: int
    row: int
    """0-based row of the input file."""
    score: float
    text: str
    position: int = -1
    """Its place among the corpus's kept texts (what `similar` takes)."""


def search(
    corpus: Corpus,
    backend: Backend,
    store: Store | None,
    query: str,
    k: int = 10,
    on_progress: OnProgress = ignore,
) -> list[Hit]:
    """The k texts most similar to `query`, embedded by the same backend."""
    emb = embeddings(corpus, backend, store, on_progress)
    found = top_k(emb.vectors, embed_queries(corpus, backend, store, [query]), k)
    return hits(corpus, found.indices[0], found.scores[0])


def embed_queries(corpus: Corpus, backend: Backend, store: Store | None, texts: list[str]) -> np.ndarray:
    """Queries (or candidate labels) in the corpus's space: (m, d). A corpus-fitted backend is
    fitted on the corpus first."""
    if any(not t.strip() for t in texts):
        raise InputError("the query is empty; type some text to search for.")
    backend.fit(corpus.texts)
    return np.vstack([embed_query(t, backend, store) for t in texts])


def similar(corpus: Corpus, emb: Embeddings, row: int, k: int = 10) -> list[Hit]:
    """More like this: the k nearest other texts to corpus position `row`."""
    if not 0 <= row < len(emb):
        raise InputError(f"row {row} is out of range (0 to {len(emb) - 1}).")
    found = top_k(emb.vectors, emb.vectors[row : row + 1], k + 1)  # exact, even where the graph is not
    keep = found.indices[0] != row
    return hits(corpus, found.indices[0][keep][:k], found.scores[0][keep][:k])


def hits(corpus: Corpus, indices: np.ndarray, scores: np.ndarray) -> list[Hit]:
    texts = corpus.texts
    return [
        Hit(rank, int(corpus.rows[i]), float(s), texts[i], int(i))
        for rank, (i, s) in enumerate(zip(indices, scores, strict=True), start=1)
    ]


# classify from examples


FIXED_SPACE_BACKENDS = ("tfidf", "precomputed")


def train_classifier(
    corpus: Corpus,
    backend: Backend,
    store: Store | None,
    labels: list,
    on_progress: OnProgress = ignore,
) -> classifier.Classifier:
    """A classifier from the texts whose label (one per kept row, None or blank for none) is
    set, on the backend's vectors of the whole corpus (the store spares re-encoding)."""
    if backend.name in FIXED_SPACE_BACKENDS:
        raise InputError(
            f"a classifier must embed new texts the way it was trained, and the {backend.name} "
            "backend's vectors belong to one file; train with a model backend (sentence-transformers or openai)."
        )
    if len(labels) != len(corpus):
        raise InputError(f"{len(labels):,} labels for {len(corpus):,} texts; give one per text.")
    emb = embeddings(corpus, backend, store, on_progress)
    return classifier.train(emb.vectors, labels, backend.identity(), backend.space())


def classify(
    corpus: Corpus,
    backend: Backend,
    store: Store | None,
    model: classifier.Classifier,
    on_progress: OnProgress = ignore,
) -> classifier.Predictions:
    """Every text's predicted class and its confidence, refused before any encoding when the
    backend is not the one the classifier was trained on."""
    classifier.check_space(model, backend.space())
    emb = embeddings(corpus, backend, store, on_progress)
    return classifier.predict(model, emb.vectors, backend.space())
