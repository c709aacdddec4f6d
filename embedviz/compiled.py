"""UMAP's numba code, compiled once per machine instead of once per process.

umap-learn and pynndescent decorate their functions with `numba.njit` without `cache=True`, so
every new process recompiles them (about 7 s before the first map with precomputed neighbours,
35 s without; NUMBA_CACHE_DIR alone does not help). `load_umap` imports them with caching
switched on, into a folder beside the store, so only the first process on a machine compiles;
`reduce.warm_up` runs a tiny UMAP to load or build that cache off the user's path (the app calls
it when its first session starts, the CLI while it encodes). The functions also release the
GIL, so a UMAP can run beside other work. This module depends on nothing else of embedviz's.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

_lock = threading.Lock()


def load_umap(cache_dir: Path):
    """The umap module, its numba functions cached on disk in `cache_dir` (the first call in a
    process decides it)."""
    with _lock:
        if "umap" in sys.modules:
            return sys.modules["umap"]
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir))
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
