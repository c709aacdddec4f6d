"""UMAP's numba code, compiled once per machine instead of once per process.

umap-learn and pynndescent decorate their functions with `numba.njit` without `cache=True`, so
every new process recompiles them (about 7 s before the first map with precomputed neighbours,
35 s without; NUMBA_CACHE_DIR alone does not help). `load_umap` imports them with caching
switched on, into a folder beside the store, so only the first process on a machine compiles;
`warm_up` runs a tiny UMAP to load or build that cache off the user's path (the app calls it
when its first session starts, the CLI while it encodes). The functions also release the GIL,
so the map's UMAP and the clusters' UMAP can run on two threads at once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_lock = threading.Lock()
_warm = threading.Event()


def numba_cache_dir() -> Path:
    from embedviz.store import default_store_path

    return default_store_path().parent / "numba"


def load_umap():
    """The umap module, its numba functions cached on disk."""
    with _lock:
        if "umap" in sys.modules:
            return sys.modules["umap"]
        os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
        import numba

        if not numba.config.CACHE_DIR:  # numba was imported before the variable was set
            numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

        plain_njit, plain_jit = numba.njit, numba.jit

        def cached(decorator):
            def decorate(*args, **options):
                options.setdefault("cache", True)
                options.setdefault("nogil", True)  # two UMAPs (map, clusters) can run at once
                return decorator(*args, **options)

            return decorate

        numba.njit, numba.jit = cached(plain_njit), cached(plain_jit)
        try:
            with warnings.catch_warnings():  # closures that cannot be cached say so; they still run
                warnings.simplefilter("ignore", numba.NumbaWarning)
                import pynndescent  # noqa: F401
                import umap
        finally:
            numba.njit, numba.jit = plain_njit, plain_jit
        return umap


def threadsafe_parallel() -> bool:
    """Whether numba's parallel code may run on two threads at once: its tbb or omp layer
    loads (the workqueue layer it falls back to aborts on concurrent use)."""
    import importlib

    with _lock:  # never import numba's parts while another thread imports umap (a partial module)
        for layer in ("tbbpool", "omppool"):
            try:
                importlib.import_module(f"numba.np.ufunc.{layer}")
                return True
            except ImportError:
                continue
    return False


def warm_up() -> None:
    """Compile (or load from the disk cache) what a UMAP with precomputed neighbours runs."""
    if _warm.is_set():
        return
    started = time.perf_counter()
    from embedviz.neighbors import knn_graph
    from embedviz.reduce import ReduceParams, reduce

    vectors = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # numba compiles per argument type, not per size: the clusters' 5-D UMAP needs nothing more
    reduce(vectors, ReduceParams(method="umap"), neighbors=knn_graph(vectors, 15))
    _warm.set()
    log.info("UMAP code ready in %.1f s", time.perf_counter() - started)


def warm_up_in_background() -> threading.Thread:
    """warm_up on a daemon thread; errors are logged, never raised."""

    def run() -> None:
        try:
            warm_up()
        except Exception:  # a failed warm-up only means the first map compiles
            log.warning("UMAP warm-up failed", exc_info=True)

    thread = threading.Thread(target=run, name="embedviz-umap-warm-up", daemon=True)
    thread.start()
    return thread
