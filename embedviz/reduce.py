"""The reduce stage: unit vectors (n, d) -> map coordinates (n, 2 or 3), with trustworthiness."""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from embedviz.compiled import load_umap
from embedviz.errors import InputError
from embedviz.neighbors import Neighbors, umap_knn
from embedviz.progress import OnProgress, Progress, ignore

log = logging.getLogger(__name__)

Reducer = Literal["auto", "umap", "tsne", "pca"]
REDUCERS: tuple[Reducer, ...] = ("auto", "umap", "tsne", "pca")
MIN_POINTS = {"umap": 5, "tsne": 5, "pca": 1}
SMALL_DATA = 1000
"""auto: up to this many texts, t-SNE with a perplexity suited to small groups (n / 20, at
least 5: the 90-word sample's groups of five stand apart); UMAP above. t-SNE needs no
compilation, so a small corpus maps within seconds on a new machine."""
"""Below this many texts, UMAP and t-SNE fall back to PCA (with a note)."""
TRUST_SAMPLE = 2000
TRUST_NEIGHBORS = 5


@dataclass(frozen=True)
class ReduceParams:
    method: Reducer = "auto"
    dims: int = 2
    seed: int = 42
    metric: Literal["cosine", "euclidean"] = "cosine"
    n_neighbors: int = 15
    min_dist: float = 0.1
    perplexity: float = 30.0
    learning_rate: float | None = None
    """None: openTSNE's 'auto' (n / 12)."""
    n_iter: int = 500

    def __post_init__(self) -> None:
        if self.method not in REDUCERS:
            raise InputError(f"unknown reducer {self.method!r}; choose one of {', '.join(REDUCERS)}.")
        if self.dims not in (2, 3):
            raise InputError(f"dims must be 2 or 3, not {self.dims}.")
        if self.n_neighbors < 2 or self.perplexity <= 0 or self.n_iter < 1:
            raise InputError("n_neighbors must be at least 2; perplexity and n_iter above 0.")


def resolve(params: ReduceParams, n: int) -> ReduceParams:
    """The concrete reducer and settings `auto` stands for at n texts (others unchanged)."""
    if params.method != "auto":
        return params
    if n <= SMALL_DATA:
        perplexity = float(min(params.perplexity, max(5, round(n / 20))))
        return replace(params, method="tsne", perplexity=perplexity)
    return replace(params, method="umap")


def auto_note(params: ReduceParams, n: int) -> str:
    """What `auto` chose, said to the user."""
    chosen = resolve(params, n)
    detail = f" (perplexity {chosen.perplexity:g})" if chosen.method == "tsne" else ""
    return f"auto: {chosen.method}{detail} for {n:,} texts."


@dataclass(frozen=True, eq=False)
class Projection:
    """coords: float32 (n, dims). notes: what was adjusted (clamped parameters, fallbacks)."""

    coords: np.ndarray
    trustworthiness: float | None
    method: str
    notes: tuple[str, ...] = ()


def reduce(
    vectors: np.ndarray,
    params: ReduceParams = ReduceParams(),
    *,
    neighbors: Neighbors | None = None,
    on_progress: OnProgress = ignore,
) -> Projection:
    """Project unit vectors (n, d) to (n, dims). `neighbors` (exact kNN, self excluded) spares
    UMAP its own neighbour search."""
    n = len(vectors)
    if n == 0:
        raise InputError("nothing to map: there are no texts.")
    notes: list[str] = []
    if params.method == "auto":
        notes.append(auto_note(params, n))
        params = resolve(params, n)
    method = params.method
    if n < MIN_POINTS[method]:
        notes.append(f"{n} text(s) are too few for {method}; shown with PCA instead.")
        method = "pca"
    on_progress(Progress("reduce", 0, 1, method))
    if method == "pca":
        coords = _pca(vectors, params)
    elif method == "tsne":
        coords = _tsne(vectors, params, notes, on_progress)
    else:
        coords = _umap(vectors, params, neighbors, notes)
    coords = np.ascontiguousarray(coords, dtype=np.float32)
    trust = trustworthiness(vectors, coords, params.seed)
    on_progress(Progress("reduce", 1, 1, method))
    for note in notes:
        log.info(note)
    return Projection(coords, trust, method, tuple(notes))


def trustworthiness(vectors: np.ndarray, coords: np.ndarray, seed: int = 0) -> float | None:
    """scikit-learn's trustworthiness (cosine in the input space), on a sample of at most 2,000."""
    from sklearn.manifold import trustworthiness as score

    n = len(vectors)
    if n > TRUST_SAMPLE:
        pick = np.random.default_rng(seed).choice(n, TRUST_SAMPLE, replace=False)
        vectors, coords = vectors[pick], coords[pick]
        n = TRUST_SAMPLE
    k = min(TRUST_NEIGHBORS, (n - 1) // 2)
    if k < 1:
        return None
    return float(score(vectors, coords, n_neighbors=k, metric="cosine"))


def _pca(vectors: np.ndarray, params: ReduceParams) -> np.ndarray:
    n, d = vectors.shape
    out = np.zeros((n, params.dims), dtype=np.float32)
    width = min(params.dims, n - 1, d)
    if width >= 1:
        from sklearn.decomposition import PCA

        out[:, :width] = PCA(n_components=width, random_state=params.seed).fit_transform(vectors)
    return out


def _tsne(vectors: np.ndarray, params: ReduceParams, notes: list[str], on_progress: OnProgress) -> np.ndarray:
    from openTSNE import TSNE

    n = len(vectors)
    perplexity = params.perplexity
    limit = (n - 1) / 3
    if perplexity >= limit:
        perplexity = max(1.0, limit - 0.5)
        notes.append(f"perplexity lowered from {params.perplexity:g} to {perplexity:g} for {n} texts.")
    total = 250 + params.n_iter
    calls = [0]

    def report(iteration, error, embedding) -> bool:
        calls[0] += 1
        on_progress(Progress("reduce", min(total, calls[0] * 50), total, "t-SNE"))
        return False

    tsne = TSNE(
        n_components=params.dims,
        perplexity=perplexity,
        learning_rate=params.learning_rate or "auto",
        n_iter=params.n_iter,
        metric=params.metric,
        random_state=params.seed,
        negative_gradient_method="auto" if params.dims <= 2 else "bh",
        n_jobs=-1,
        callbacks=report,
        callbacks_every_iters=50,
        neighbors="exact" if n < 1000 else "auto",
    )
    return np.asarray(tsne.fit(vectors))


REDUCE_VERSION = 2
"""Part of every stored projection's key; bumped when what a reducer computes changes (2: UMAP's
epochs bounded by UMAP_EPOCH_WORK)."""
UMAP_EPOCH_WORK = 2_500_000
"""UMAP runs about this many point-epochs, between 500 epochs (up to 5,000 texts) and 200 (from
12,500). umap-learn itself jumps from 500 to 200 at 10,000 points, so its map of 10,000 texts
took 2.5 times as long as one of 10,001. On 10,000 real texts 250 epochs gave the same
trustworthiness as 500 (0.939 both, two seeds) in half the time (bench/README.md)."""


def umap_epochs(n: int) -> int:
    return int(min(500, max(200, UMAP_EPOCH_WORK // max(n, 1))))


SPECTRAL_INIT_MAX = 50_000
"""Above this many texts UMAP starts from PCA: the spectral start costs 8 s at 100k."""


def _umap_init(n: int, dims: int) -> str:
    if n <= 3 * dims + 10:
        return "random"
    return "spectral" if n <= SPECTRAL_INIT_MAX else "pca"


def _umap(
    vectors: np.ndarray, params: ReduceParams, neighbors: Neighbors | None, notes: list[str]
) -> np.ndarray:
    return fit_umap(vectors, params, neighbors, notes).embedding_


def fit_umap(
    vectors: np.ndarray,
    params: ReduceParams,
    neighbors: Neighbors | None = None,
    notes: list[str] | None = None,
):
    """A fitted umap.UMAP of unit vectors (n, d); its `embedding_` is the map. With `neighbors`
    it skips its own neighbour search, and can then not `transform` new points."""
    _wait_for_warm_up()
    umap = load_umap(numba_cache_dir())
    notes = notes if notes is not None else []
    n = len(vectors)
    n_neighbors = params.n_neighbors
    if n_neighbors >= n:
        n_neighbors = n - 1
        notes.append(f"n_neighbors lowered from {params.n_neighbors} to {n_neighbors} for {n} texts.")
    knn = None
    if neighbors is not None and neighbors.k >= n_neighbors - 1:
        knn = umap_knn(neighbors, n_neighbors, params.metric)
    reducer = umap.UMAP(
        n_components=params.dims,
        n_neighbors=n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.seed,
        init=_umap_init(n, params.dims),
        n_epochs=umap_epochs(n),
        precomputed_knn=knn or (None, None, None),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs.*overridden.*")
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="umap")
        reducer.fit(vectors)
    return reducer


# UMAP's compiled code: loaded from (or built into) a folder beside the store, off the user's path

_warm = threading.Event()
_not_warming = threading.Event()
"""Cleared while a background warm-up runs: a UMAP asked for meanwhile waits for it instead of
compiling the same code a second time beside it."""
_not_warming.set()
_warm_thread: threading.Thread | None = None
_warm_thread_lock = threading.Lock()
WARM_UP_THREAD = "embedviz-umap-warm-up"
WARM_UP_WAIT_SECONDS = 300.0


def numba_cache_dir() -> Path:
    from embedviz.store import default_store_path

    return default_store_path().parent / "numba"


def _ready_marker() -> Path:
    """Written once a warm-up has filled the cache for these versions of umap-learn and numba."""
    from importlib.metadata import version

    return numba_cache_dir() / f"ready-umap-{version('umap-learn')}-numba-{version('numba')}"


def warm_up() -> None:
    """Compile (or load from the disk cache) what a UMAP with precomputed neighbours runs."""
    if _warm.is_set():
        return
    started = time.perf_counter()
    from embedviz.neighbors import knn_graph

    vectors = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # numba compiles per argument type, not per size: any later UMAP needs nothing more
    reduce(vectors, ReduceParams(method="umap"), neighbors=knn_graph(vectors, 15))
    _warm.set()
    marker = _ready_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    log.info("UMAP code ready in %.1f s", time.perf_counter() - started)


def _compile_in_child() -> None:
    """Fill the disk cache from a child process. numba compiles in Python, holding this
    process's lock on the interpreter: on a thread here it slowed the encoder beside it by
    half; a child has its own, so only the core it uses is shared."""
    import os
    import subprocess
    import sys

    started = time.perf_counter()
    code = f"from embedviz.reduce import warm_up_as_child; warm_up_as_child({os.getpid()})"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WARM_UP_WAIT_SECONDS
    )
    if done.returncode:
        log.warning("compiling UMAP's code in a child process failed: %s", done.stderr[-2000:])
    else:
        log.info("UMAP code compiled in a child process in %.1f s", time.perf_counter() - started)


def warm_up_as_child(parent: int) -> None:
    """warm_up in the child _compile_in_child starts, which ends with the server or CLI that
    started it (an orphaned compiler would hold a core for seconds): Linux is asked to end it
    when its parent ends, and it stops at once if the parent ended before it could ask.

    Asked here, after the child's own start, not in a preexec_fn: that runs between fork and
    exec, in a copy of a process with threads, where an import (ctypes) can wait forever on a
    lock another thread held at the fork. One such child, started as its parent was ending,
    hung with no parent (a test saw it once in a full run)."""
    import contextlib
    import ctypes
    import os
    import signal

    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere it finishes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        return
    warm_up()


def warm_up_in_background() -> threading.Thread:
    """warm_up on a daemon thread; errors are logged, never raised. On a machine whose cache is
    empty a child process compiles first, then this process loads what it wrote. scikit-learn
    is imported first, on the caller's thread: UMAP imports it, and a second thread importing it
    at the same moment (the clusters, a page) can find it half-initialised."""
    global _warm_thread
    import sklearn.base  # noqa: F401

    from embedviz.threads import start_daemon

    def run() -> None:
        try:
            # a child only where neither this process nor the disk holds the code yet
            if not _warm.is_set() and not _ready_marker().exists():
                _compile_in_child()
            warm_up()
        except Exception:  # a failed warm-up only means the first map compiles
            log.warning("UMAP warm-up failed", exc_info=True)
        finally:
            _not_warming.set()

    with _warm_thread_lock:  # one at a time: a second caller gets the running one
        if _warm_thread is None or not _warm_thread.is_alive():
            _not_warming.clear()
            _warm_thread = start_daemon(run, WARM_UP_THREAD)
        return _warm_thread


def _wait_for_warm_up() -> None:
    """A UMAP asked for while the warm-up runs waits for it (its code is then loaded, not
    compiled twice at once)."""
    if threading.current_thread().name != WARM_UP_THREAD:
        _not_warming.wait(WARM_UP_WAIT_SECONDS)
