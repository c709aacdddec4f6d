"""Cached compute for the pages: the persistent store below, an in-process memo above it.

Memo keys are recipes (data source, backend choice, params, fingerprints), never arrays or
secrets. Changing a colour or a cluster setting finds the vectors and the map in the memo.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import streamlit as st

from embedviz import analysis, pipeline
from embedviz.backends import build_backend
from embedviz.backends.base import Backend
from embedviz.backends.precomputed import vectors_from_column
from embedviz.cluster import ClusterParams
from embedviz.corpus import Corpus, corpus_from_text, load_corpus
from embedviz.embed import Embeddings
from embedviz.errors import EmbedvizError, InputError
from embedviz.neighbors import Neighbors, top_k
from embedviz.progress import Progress
from embedviz.reduce import Projection, ReduceParams
from embedviz.samples import load_sample
from embedviz.store import Store
from embedviz.ui import state
from embedviz.ui.state import BackendChoice, DataSource

log = logging.getLogger(__name__)


class Memo:
    """A small thread-safe LRU shared by all sessions of this server."""

    def __init__(self, size: int = 48) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key):
        """The value under key if one was computed, else None (nothing is computed)."""
        with self._lock:
            return self._items.get(key)

    def get_or_compute(self, key, compute: Callable):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


@st.cache_resource(show_spinner=False)
def memo() -> Memo:
    return Memo()


@st.cache_resource(show_spinner=False)
def store() -> Store:
    return Store()


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Once per server, when its first session starts (Streamlit runs nothing earlier): UMAP's
    numba code is compiled, or loaded from disk, on a background thread."""
    from embedviz.compiled import warm_up_in_background

    warm_up_in_background()
    return True


@st.cache_resource(show_spinner=False)
def inputs() -> dict[str, tuple[str, bytes]]:
    """Uploaded and pasted inputs by digest (name, bytes), kept for the server's life."""
    return {}


def remember_input(name: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    inputs()[digest] = (name, data)
    return digest


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[Progress], None]]:
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
        if source.kind == "file":
            return load_corpus(source.path, text_column=text_column)
        if source.digest not in inputs():
            raise InputError("this upload is no longer in memory; upload the file again on the Data page.")
        name, data = inputs()[source.digest]
        if source.kind == "paste":
            return corpus_from_text(data.decode("utf-8"), name=name)
        return load_corpus(data, name=name, text_column=text_column)

    return memo().get_or_compute(("corpus", source, text_column), load)


def backend(choice: BackendChoice, data: Corpus) -> Backend:
    vectors = None
    if choice.name == "precomputed":
        if not choice.vectors:
            raise InputError("pick the column that holds the vectors on the Data page.")
        vectors = vectors_from_column(data.frame, choice.vectors)
    return build_backend(
        choice.name,
        model=choice.model,
        dimensions=choice.dimensions,
        base_url=choice.base_url,
        batch_size=choice.batch_size,
        api_key=state.api_key() if choice.name == "openai" else None,
        vectors=vectors,
        source=choice.vectors,
    )


def embeddings(data: Corpus, choice: BackendChoice | None = None) -> Embeddings:
    choice = choice or state.backend()

    def compute() -> Embeddings:
        with progress_bar("Embedding") as report:
            return pipeline.embeddings(data, backend(choice, data), store(), report)

    return memo().get_or_compute(("embeddings", data.fingerprint, data.source_digest, choice), compute)


def graph(emb: Embeddings) -> Neighbors:
    return memo().get_or_compute(("graph", emb.fingerprint), lambda: pipeline.neighbor_graph(emb, store()))


def projection(emb: Embeddings, params: ReduceParams | None = None) -> Projection:
    params = params or state.reduce_params()

    def compute() -> Projection:
        with progress_bar("Mapping") as report:
            return pipeline.projection(emb, params, store(), report)

    return memo().get_or_compute(("projection", emb.fingerprint, params), compute)


def clusters(
    data: Corpus, emb: Embeddings, params: ClusterParams | None = None
) -> pipeline.LabelledClustering:
    params = params or state.cluster_params()

    def compute():
        with st.spinner("Clustering…"):
            return pipeline.clustering(data, emb, params, store())

    return memo().get_or_compute(("clusters", emb.fingerprint, params), compute)


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
    names = memo().get_or_compute(("names", labelled.key, recipe), compute)
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
    return memo().get_or_compute(key, lambda: pipeline.map_trust(emb, coords, store(), graph(emb)))


def outliers(emb: Embeddings) -> np.ndarray:
    return memo().get_or_compute(("outliers", emb.fingerprint), lambda: analysis.outlier_scores(graph(emb)))


@dataclass(frozen=True, eq=False)
class Current:
    """What the pages draw from: the corpus, its vectors, and (when asked) map and clusters."""

    corpus: Corpus
    embeddings: Embeddings


def current() -> Current:
    data = corpus()
    return Current(data, embeddings(data))


def query_neighbors(cur: Current, text: str, k: int) -> tuple[np.ndarray, Neighbors]:
    """The query's vector (d,) and its k nearest texts, in the corpus's space."""
    vector = query_vectors(cur, (text,))[0]
    return vector, top_k(cur.embeddings.vectors, vector[None, :], k)


def query_vectors(cur: Current, texts: tuple[str, ...]) -> np.ndarray:
    """Queries or candidate labels embedded like the corpus: (m, d)."""
    choice = state.backend()

    def compute() -> np.ndarray:
        return pipeline.embed_queries(cur.corpus, backend(choice, cur.corpus), store(), list(texts))

    return memo().get_or_compute(("queries", cur.embeddings.fingerprint, choice, texts), compute)


@contextmanager
def shown_errors() -> Iterator[None]:
    """Errors become a message in the page with what to do next; the app keeps running."""
    try:
        yield
    except EmbedvizError as e:
        st.error(f"{e}", icon="⚠️")
        st.stop()
    except Exception as e:  # a bug: say so plainly, keep the traceback in the server log
        if type(e).__module__.startswith("streamlit"):
            raise
        log.exception("unexpected error")
        st.error(
            f"Something went wrong ({type(e).__name__}). Try other settings or reload the page.", icon="🛑"
        )
        st.stop()
