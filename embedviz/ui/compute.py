"""Cached compute for the pages: the persistent store below, an in-process memo above it.

Memo keys are recipes (data source, backend choice, params, fingerprints), never arrays or
secrets. Changing a colour or a cluster setting finds the vectors and the map in the memo.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import streamlit as st

from embedviz import analysis, curation, pipeline, samples, scale
from embedviz import classifier as classifier_module
from embedviz.backends import DEFAULT_BACKEND, build_backend
from embedviz.backends.base import Backend
from embedviz.backends.local import DEFAULT_PRECISION
from embedviz.backends.precomputed import vectors_from_column
from embedviz.cluster import ClusterParams
from embedviz.corpus import Corpus, corpus_from_text, load_corpus
from embedviz.embed import Embeddings, embed_query
from embedviz.errors import EmbedvizError, InputError
from embedviz.estimate import (
    clustering_seconds,
    embedding_seconds,
    graph_seconds,
    index_seconds,
    projection_seconds,
    say,
)
from embedviz.filters import Filter, mask
from embedviz.inputs import Inputs
from embedviz.memo import Memo
from embedviz.neighbors import EXACT_GRAPH_MAX, Neighbors, SearchIndex
from embedviz.progress import Progress
from embedviz.reduce import Projection, ReduceParams, resolve
from embedviz.samples import SAMPLES, load_sample
from embedviz.shard_index import ShardIndex, is_built, open_index
from embedviz.shards import EMBED_MANIFEST, is_map_folder, is_output_folder, read_manifest
from embedviz.store import Store
from embedviz.store import digest as store_digest
from embedviz.ui import state
from embedviz.ui.state import BackendChoice, DataSource

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def memo() -> Memo:
    """One memo for every session of this server, bounded by EMBEDVIZ_MEMO_MB."""
    return Memo()


def shared(key, compute: Callable):
    """memo().get_or_compute, saying so on the page when another session is computing it."""
    return memo().get_or_compute(
        key, compute, on_wait=lambda: st.caption("Another session is computing this; waiting for its result…")
    )


def store() -> Store:
    """The server's store; where it cannot be opened (a cache folder that is not writable), the
    page says so and the way out, and stops."""
    try:
        return _open_store()
    except EmbedvizError as e:
        st.error(str(e), icon=":material/database:")
        st.stop()


@st.cache_resource(show_spinner=False)
def _open_store() -> Store:
    return Store()


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Once per server, when its first session starts (Streamlit runs nothing earlier): the
    default model is loaded (its int8 form built first, once per machine), and UMAP's numba
    code compiled or loaded from disk, on background threads. The sample's map needs neither
    (its vectors ship with it, t-SNE draws it); the first upload and query find them ready."""
    from embedviz.reduce import warm_up_in_background
    from embedviz.threads import start_daemon

    def prepare() -> None:
        try:
            build_backend(DEFAULT_BACKEND).prepare()
        except Exception:  # the first encode loads it instead, and says what went wrong
            log.warning("loading the default model in the background failed", exc_info=True)

    start_daemon(prepare, "embedviz-model")
    warm_up_in_background()
    return True


PASTE_FILE = "pasted.txt"
ASK_ABOVE_SECONDS = 30.0
"""Work estimated to take longer starts only when the user asks for it."""


class NeedsConsent(EmbedvizError):
    """Work of minutes is waiting for the user's go-ahead (shown with a button, not an error)."""

    def __init__(self, key, message: str) -> None:
        super().__init__(message)
        self.key = key


def _approved() -> set:
    return st.session_state.setdefault("compute.approved", set())


def approve(key) -> None:
    _approved().add(key)


def revoke(key) -> None:
    _approved().discard(key)


def consent(key, what: str, seconds: float) -> None:
    """Go on if the work is short, or the user asked for it; else ask first (NeedsConsent)."""
    if seconds <= ASK_ABOVE_SECONDS or key in _approved():
        return
    raise NeedsConsent(key, f"{what} takes {say(seconds)} on this machine.")


def inputs() -> Inputs:
    """Uploaded and pasted inputs, on disk beside the store (the folder follows the store's)."""
    return Inputs()


def remember_input(name: str, data: bytes) -> str:
    """Keep an upload on disk; returns the digest a DataSource names it by."""
    return inputs().put(name, data)


def map_folder_source() -> str | None:
    """The map folder the server opened (`streamlit run app.py -- FOLDER`), if it is one."""
    source = state.source()
    return source.path if source.kind == "file" and is_map_folder(source.path) else None


def placed_onto(name: str, digest: str):
    """New texts (an upload kept under `digest`) placed on the opened map folder, which does not
    move: a frame of their columns, x, y, clusters and names (or 'far from every cluster')."""
    folder = map_folder_source()
    if folder is None:
        raise InputError("texts can be added only to a map folder opened with the server.")
    choice = state.backend()

    def compute():
        new = load_corpus(inputs().get(digest, name), name=name)
        with progress_bar("Placing", ("onto", folder, digest)) as report:
            return scale.place_onto(new, folder, backend(choice, new), store(), report)

    return shared(("onto", folder, digest, choice), compute)


def added_texts(dims: int) -> tuple[np.ndarray, list[str]] | None:
    """The texts last added to the opened map folder on the Data page, for its own (2-D) map:
    (coords (m, 2), hover texts (m,)), or None."""
    added = state.added()
    if added is None or dims != 2 or map_folder_source() is None:
        return None
    placed = placed_onto(*added)
    column = placed.attrs["text_column"]
    hover = [
        f"added: {t[:120]}<br>{label}"
        for t, label in zip(placed[column], placed["cluster_label"], strict=True)
    ]
    return placed[["x", "y"]].to_numpy(dtype=np.float32), hover


def remember_paste(text: str) -> str:
    return inputs().put(PASTE_FILE, text.encode("utf-8"))


@contextmanager
def progress_bar(label: str, key=None) -> Iterator[Callable[[Progress], None]]:
    """A progress bar, and a Stop button beside it for work the user started (stopping keeps
    every vector already encoded in the store)."""
    if key is not None and key in _approved():
        st.button("Stop", key=f"stop.{_digest(key)}", on_click=revoke, args=(key,))
    slot = st.empty()

    def report(event: Progress) -> None:
        fraction = event.done / event.total if event.total else 1.0
        detail = f" ({event.detail})" if event.detail else ""
        slot.progress(
            min(1.0, fraction), text=f"{label}: {event.stage} {event.done:,} of {event.total:,}{detail}"
        )

    try:
        yield report
    finally:
        slot.empty()


def corpus(source: DataSource | None = None, text_column: str | None = None) -> Corpus:
    source = source or state.source()
    text_column = text_column if text_column is not None else state.text_column()

    def load() -> Corpus:
        if source.kind == "sample":
            return load_sample(source.name, text_column)
        if source.kind == "file" and is_output_folder(source.path):
            return scale.corpus_of_folder(source.path, text_column)
        if source.kind == "file":
            return load_corpus(source.path, text_column=text_column)
        if source.kind == "paste":
            path = inputs().get(source.digest, PASTE_FILE)
            return corpus_from_text(path.read_text("utf-8"), name=source.name)
        path = inputs().get(source.digest, source.name)
        return load_corpus(path, name=source.name, text_column=text_column)

    return shared(("corpus", source, text_column), load)


def backend(choice: BackendChoice, data: Corpus) -> Backend:
    vectors = None
    if choice.name == "precomputed":
        if not choice.vectors:
            raise InputError("pick the column that holds the vectors on the Data page.")
        vectors = vectors_from_column(data.frame, choice.vectors)
    api_key = state.api_key() if choice.name == "openai" else None
    return choice.build(api_key=api_key, vectors=vectors, source=choice.vectors)


def embeddings_key(data: Corpus, choice: BackendChoice | None = None) -> tuple:
    return ("embeddings", data.fingerprint, data.source_digest, choice or state.backend())


def folder_on_disk(data: Corpus | None = None) -> str | None:
    """The folder opened with the server when it holds more texts than the dashboard keeps
    vectors for in memory: pages then use its own map, clusters and on-disk index."""
    source = state.source()
    if source.kind != "file" or not is_output_folder(source.path):
        return None
    return None if scale.vectors_fit(len(data if data is not None else corpus())) else source.path


def embeddings(data: Corpus, choice: BackendChoice | None = None) -> Embeddings:
    choice = choice or state.backend()
    folder = folder_on_disk(data)
    if folder is not None:
        dimension = int(read_manifest(scale.embedded_folder(folder), EMBED_MANIFEST)["dimension"])
        raise InputError(scale.beyond_memory_message(len(data), dimension))
    key = embeddings_key(data, choice)
    if data.name in SAMPLES:  # a sample's vectors ship with it: no model needed for its map
        shared(("seed", key), lambda: samples.seed_store(data.name, backend(choice, data), store()))
    source = state.source()
    seeded = ("seed", source.path)
    if source.kind == "file" and is_output_folder(source.path) and memo().peek(seeded) is None:
        with st.spinner("Reading the folder's vectors into the store, once…"):  # `embedviz embed` made them
            shared(seeded, lambda: scale.seed_store(source.path, store()))
    if memo().peek(key) is None:
        # counted once per server (a count over a million texts takes seconds); a stopped run's
        # progress only makes the estimate high
        missing = shared(
            ("missing", key), lambda: pipeline.missing_vectors(data, backend(choice, data), store())
        )
        what = f"Embedding {missing:,} texts with {choice.name}"
        precision = choice.precision or DEFAULT_PRECISION
        consent(key, what, embedding_seconds(choice.name, missing, data.mean_chars, precision))

    def compute() -> Embeddings:
        model = backend(choice, data)
        note = st.empty()
        if hasattr(model, "loaded") and not model.loaded():
            note.caption(f"Loading the embedding model ({choice.name}), once per server…")
        model.on_build = lambda message: note.caption(f"{message[0].upper()}{message[1:]}…")
        with progress_bar("Embedding", key) as report:
            result = pipeline.embeddings(data, model, store(), report)
        note.empty()
        return result

    return shared(key, compute)


def _graph_made(emb: Embeddings) -> bool:
    """Whether the kNN graph is at hand: in this server's memo or in the store."""
    return memo().peek(("graph", emb.fingerprint)) is not None or store().has_artifact(
        pipeline.graph_key(emb)
    )


def graph(emb: Embeddings) -> Neighbors:
    key = ("graph", emb.fingerprint)
    if not _graph_made(emb):
        consent(
            key,
            f"Finding the nearest neighbours of {len(emb):,} texts",
            graph_seconds(len(emb), EXACT_GRAPH_MAX),
        )

    def compute() -> Neighbors:
        with st.spinner(f"Finding the nearest neighbours of {len(emb):,} texts, once…"):
            return pipeline.neighbor_graph(emb, store())

    return shared(key, compute)


def graph_if_made(emb: Embeddings) -> Neighbors | None:
    """The kNN graph when it is already made (this server or the store), else None: for what is
    shown beside a page, never worth asking the user to wait for."""
    return graph(emb) if _graph_made(emb) else None


def projection(emb: Embeddings, params: ReduceParams | None = None) -> Projection:
    params = params or state.reduce_params()
    key = ("projection", emb.fingerprint, params)
    if memo().peek(key) is None and not store().has_artifact(pipeline.projection_key(emb, params)):
        method = resolve(params, len(emb)).method
        seconds = projection_seconds(method, len(emb))
        if method == "umap" and not store().has_artifact(pipeline.graph_key(emb, params.n_neighbors)):
            seconds += graph_seconds(len(emb), EXACT_GRAPH_MAX)
        consent(key, f"Mapping {len(emb):,} texts with {method}", seconds)

    def compute() -> Projection:
        with progress_bar("Mapping", key) as report:
            return pipeline.projection(emb, params, store(), report)

    return shared(key, compute)


def clusters(
    data: Corpus, emb: Embeddings, params: ClusterParams | None = None
) -> pipeline.LabelledClustering:
    """The clusters as the user has them: the automatic ones with their stored edits applied."""
    params = params or state.cluster_params()
    base = automatic_clusters(data, emb, params)
    log = curation.edits(store(), emb.fingerprint, params)  # another session's edits show on a rerun
    if not log:
        return base
    return shared(
        ("curated", base.key, store_digest(log)), lambda: pipeline.curated(data, emb, params, base, store())
    )


def automatic_clusters(data: Corpus, emb: Embeddings, params: ClusterParams) -> pipeline.LabelledClustering:
    """The clusters cluster() finds, before the user's edits; asked for first when long."""
    key = ("clusters", emb.fingerprint, params)
    if memo().peek(key) is None and not store().has_artifact(pipeline.clustering_key(emb, params)):
        seconds = clustering_seconds(params.method, len(emb))
        if params.method in ("auto", "agglomerative") and not store().has_artifact(pipeline.graph_key(emb)):
            seconds += graph_seconds(len(emb), EXACT_GRAPH_MAX)
        consent(key, f"Clustering {len(emb):,} texts", seconds)

    def compute():
        with progress_bar(f"Clustering {len(emb):,} texts", key) as report:
            return pipeline.clustering(data, emb, params, store(), on_progress=report)

    return shared(key, compute)


def edit_clusters(data: Corpus, emb: Embeddings, edit: dict, params: ClusterParams | None = None) -> None:
    """Check an edit against the clusters as they stand and keep it in the store: the edit
    and the log before it are applied to the automatic clusters the log was made on."""
    params = params or state.cluster_params()
    log = curation.edits(store(), emb.fingerprint, params)
    base = automatic_clusters(data, emb, params)
    made_on = pipeline.edit_base(emb, params, base, store(), log)
    if made_on is None:
        raise InputError(
            f"the {len(log)} earlier cluster edit(s) were made on clusters the store no longer holds; "
            "undo them before editing these."
        )
    curation.add_edit(
        store(), emb.fingerprint, params, edit, made_on.labels, made_on.broad, emb.vectors, made_on.version
    )


def undo_cluster_edit(emb: Embeddings, params: ClusterParams | None = None) -> None:
    curation.undo(store(), emb.fingerprint, params or state.cluster_params())


def row_tags(data: Corpus) -> list[tuple[str, ...]]:
    """Each row's tags, read from the store on every run (other sessions' tags included)."""
    return curation.row_tags(data, store(), tags_dataset(data))


def tag(data: Corpus, rows, name: str) -> str:
    return curation.tag(data, store(), [int(r) for r in rows], name)


def rename_tag(data: Corpus, old: str, new: str) -> str:
    return curation.rename_tag(data, store(), old, new)


def untag(data: Corpus, name: str) -> None:
    curation.untag(data, store(), name)


def tags_dataset(data: Corpus) -> str:
    return shared(("tags dataset", data.fingerprint), lambda: curation.tags_dataset(data))


def classifier(
    data: Corpus, emb: Embeddings, labels: tuple, choice: BackendChoice
) -> tuple[classifier_module.Classifier, classifier_module.Predictions]:
    """A classifier trained on the rows whose label is set, and its predictions for every row;
    remembered by the vectors and the labels."""
    backend_ = backend(choice, data)

    def compute():
        with st.spinner("Training the classifier…"):
            model = classifier_module.train(emb.vectors, list(labels), backend_.identity(), emb.space)
            return model, classifier_module.predict(model, emb.vectors, emb.space)

    return shared(("classifier", emb.fingerprint, store_digest(labels)), compute)


def cluster_names(
    data: Corpus,
    labelled: pipeline.LabelledClustering,
    api_key: str | None,
    base_url: str | None,
    model: str,
) -> dict[str, dict[int, str]]:
    """Names from a chat model for both levels ({"fine": {...}, "broad": {...}}), remembered
    by the clustering they name and the chat recipe (never by key)."""
    from embedviz.naming import chat_client, name_clusters

    def compute() -> dict[str, dict[int, str]]:
        client = chat_client(api_key, base_url)
        with st.spinner("Asking the chat model for cluster names…"):
            return {
                level: name_clusters(labelled.level(level)[1], data.texts, client, model)
                for level in ("broad", "fine")
            }

    recipe = (base_url, model)
    names = shared(("names", labelled.key, recipe), compute)
    st.session_state["clusters.named_with"] = recipe
    return names


def custom_names(labelled: pipeline.LabelledClustering | None) -> dict[str, dict[int, str]] | None:
    """The chat-model names this session made for this clustering, if any (never asks)."""
    recipe = st.session_state.get("clusters.named_with")
    if labelled is None or recipe is None:
        return None
    return memo().peek(("names", labelled.key, recipe))


def trust(emb: Embeddings, proj: Projection) -> np.ndarray:
    """The map's per-text trust (share of true neighbours kept), stored like every stage."""
    coords = np.ascontiguousarray(proj.coords, dtype=np.float32)
    key = ("trust", emb.fingerprint, hashlib.sha256(coords.tobytes()).hexdigest())
    return shared(key, lambda: pipeline.map_trust(emb, coords, store(), graph(emb)))


def filter_mask(data: Corpus, flt: Filter) -> np.ndarray:
    """The rows the map's filter keeps (n,), once per filter: a text or date filter over a
    million rows takes 0.1-0.2 s, on every rerun (a selection, a colour) otherwise."""
    key = ("filter", data.fingerprint, data.source_digest, flt)  # the texts' fingerprint leaves out metadata
    return shared(key, lambda: mask(data.frame, data.text_column, flt))


def outliers(emb: Embeddings) -> np.ndarray:
    return shared(("outliers", emb.fingerprint), lambda: analysis.outlier_scores(graph(emb)))


@dataclass(frozen=True, eq=False)
class Current:
    """What the pages draw from: the corpus, its vectors, and (when asked) map and clusters."""

    corpus: Corpus
    embeddings: Embeddings | None
    choice: BackendChoice
    """The backend that made `embeddings`: queries are embedded by the same one."""


def current() -> Current:
    data, choice = corpus(), state.backend()
    return Current(data, embeddings(data, choice), choice)


def folder_index(folder: str) -> ShardIndex:
    """The on-disk search index of a folder's vectors, built once (asked for first when long)."""
    embedded = scale.embedded_folder(folder)
    key = ("folder index", str(embedded))
    if memo().peek(key) is None and not is_built(embedded):
        rows = int(read_manifest(embedded, EMBED_MANIFEST)["rows"])
        consent(
            key,
            f"Building the search index of {rows:,} vectors (once, kept in the folder)",
            index_seconds(rows),
        )

    def compute() -> ShardIndex:
        with st.spinner("Opening the folder's search index…"):
            return open_index(embedded)

    return shared(key, compute)


def folder_query(data: Corpus, folder: str, text: str, k: int) -> Neighbors:
    """A typed query's k nearest texts of a folder whose vectors stay on disk (corpus rows)."""
    if not text.strip():
        raise InputError("the query is empty; type some text to search for.")
    choice = state.backend()
    made = scale.folder_manifest(folder)["backend"]

    def compute() -> np.ndarray:
        model = backend(choice, data)
        scale.check_backend(made, model)
        return embed_query(text, model, store())

    vector = shared(("folder query", folder, choice, text), compute)
    return scale.search_folder(folder_index(folder), data, vector[None, :], k)


def folder_similar(data: Corpus, folder: str, row: int, k: int) -> Neighbors:
    """More like corpus row `row` of a folder whose vectors stay on disk."""
    index = folder_index(folder)
    return scale.search_folder(index, data, scale.folder_vector(index, data, row)[None, :], k, without=row)


def file_clusters(data: Corpus) -> pipeline.LabelledClustering:
    """The clusters a file or folder brings in its own columns."""
    return shared(("file clusters", data.fingerprint), lambda: pipeline.file_clustering(data))


def query_neighbors(cur: Current, text: str, k: int) -> tuple[np.ndarray, Neighbors]:
    """The query's vector (d,) and its k nearest texts, in the corpus's space."""
    vector = query_vectors(cur, (text,))[0]
    return vector, search_index(cur.embeddings).search(vector[None, :], k)


def search_index(emb: Embeddings) -> SearchIndex:
    """The corpus's index for typed queries (an 8-bit copy beyond 50k texts), built once."""
    return shared(("search index", emb.fingerprint), lambda: SearchIndex(emb.vectors))


def query_vectors(cur: Current, texts: tuple[str, ...]) -> np.ndarray:
    """Queries or candidate labels embedded like the corpus, by the backend that made the
    corpus's vectors: (m, d)."""
    choice = cur.choice

    def compute() -> np.ndarray:
        return pipeline.embed_queries(cur.corpus, backend(choice, cur.corpus), store(), list(texts))

    return shared(("queries", cur.embeddings.fingerprint, choice, texts), compute)


def _digest(key) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()[:16]


@contextmanager
def shown_errors() -> Iterator[None]:
    """Errors become a message in the page with what to do next; the app keeps running."""
    try:
        yield
    except NeedsConsent as e:
        st.info(
            f"{e} It starts when you ask; vectors already encoded are kept if you stop it.",
            icon=":material/hourglass_top:",
        )
        st.button("Start", type="primary", key=f"start.{_digest(e.key)}", on_click=approve, args=(e.key,))
        st.stop()
    except EmbedvizError as e:
        st.error(f"{e}", icon=":material/warning:")
        st.stop()
    except Exception as e:  # a bug: say so plainly, keep the traceback in the server log
        if type(e).__module__.startswith("streamlit"):
            raise
        log.exception("unexpected error")
        st.error(
            f"Something went wrong ({type(e).__name__}). Try other settings or reload the page.",
            icon=":material/error:",
        )
        st.stop()
