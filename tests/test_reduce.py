from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedviz import InputError, ReduceParams, make_backend, reduce
from embedviz.neighbors import knn_graph
from tests.planted import planted_frame


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    texts = planted_frame(per_topic=30)["text"].tolist()
    return make_backend("planted").encode(texts)


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
@pytest.mark.parametrize("dims", [2, 3])
def test_maps_are_trustworthy_on_planted_data(vectors, method, dims):
    result = reduce(vectors, ReduceParams(method=method, dims=dims), neighbors=knn_graph(vectors, 30))
    assert result.coords.shape == (len(vectors), dims)
    assert result.coords.dtype == np.float32 and np.isfinite(result.coords).all()
    assert result.method == method and not result.notes
    assert result.trustworthiness >= 0.8


def test_umap_with_and_without_the_shared_graph_agree_in_quality(vectors):
    with_graph = reduce(vectors, ReduceParams(), neighbors=knn_graph(vectors, 30))
    without = reduce(vectors, ReduceParams())
    assert abs(with_graph.trustworthiness - without.trustworthiness) < 0.05


def test_same_seed_same_map(vectors):
    a = reduce(vectors, ReduceParams(method="tsne", seed=7))
    b = reduce(vectors, ReduceParams(method="tsne", seed=7))
    np.testing.assert_allclose(a.coords, b.coords, atol=1e-4)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("method", ["tsne", "umap", "pca"])
def test_small_inputs_give_a_map_and_say_what_changed(vectors, n, method):
    small = vectors[::17][:n]
    result = reduce(small, ReduceParams(method=method))
    assert result.coords.shape == (n, 2) and np.isfinite(result.coords).all()
    if method != "pca" and n < 5:
        assert result.method == "pca" and "too few" in result.notes[0]
    if method == "tsne" and n >= 5:
        assert "perplexity lowered" in result.notes[0]
    if method == "umap" and n >= 5:
        assert "n_neighbors lowered" in result.notes[0]


def test_identical_texts_still_map(vectors):
    same = np.repeat(vectors[:1], 12, axis=0)
    for method in ("pca", "tsne", "umap"):
        result = reduce(same, ReduceParams(method=method))
        assert result.coords.shape == (12, 2) and np.isfinite(result.coords).all()


def test_bad_params_are_input_errors():
    with pytest.raises(InputError, match="unknown reducer 'mds'"):
        ReduceParams(method="mds")
    with pytest.raises(InputError, match="dims must be 2 or 3"):
        ReduceParams(dims=4)
    with pytest.raises(InputError, match="no texts"):
        reduce(np.zeros((0, 4), np.float32))


def test_umap_code_is_compiled_once_per_machine_into_the_cache_folder(tmp_path):
    """A new process writes UMAP's compiled functions beside the store; the next one loads them
    (umap-learn itself asks numba to cache almost nothing)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["EMBEDVIZ_CACHE_DIR"] = str(tmp_path)
    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from embedviz.reduce import warm_up_in_background as w; w().join()"
    )
    first = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, timeout=300, capture_output=True
    )
    assert "compiled in a child process" in first.stderr.decode(), "compiled beside, not in, this process"
    cached = {p.name.split(".")[0] for p in (tmp_path / "numba").rglob("*.nbi")}
    for function in ("layouts", "umap_"):  # the layout loop and the fuzzy simplicial set
        assert any(name.startswith(function) for name in cached), sorted(cached)
    assert any(p.suffix == ".nbc" for p in (tmp_path / "numba").rglob("*.nbc"))
    again = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, timeout=300, capture_output=True
    )
    log = again.stderr.decode()
    assert "UMAP code ready" in log and "child process" not in log, "the next process loads the cache"


def test_the_compiled_code_loader_depends_on_nothing_of_embedvizs():
    import ast

    import embedviz.compiled as compiled

    tree = ast.parse(Path(compiled.__file__).read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m and m.startswith("embedviz")]


def test_umap_epochs_fall_smoothly_with_size():
    """umap-learn runs 500 epochs up to 10,000 points and 200 above: a map of 10,000 texts took
    2.5 times as long as one of 10,001. Ours bound the work instead."""
    from embedviz.reduce import umap_epochs

    sizes = [100, 5_000, 7_500, 9_999, 10_000, 10_001, 12_500, 100_000]
    epochs = [umap_epochs(n) for n in sizes]
    assert epochs[0] == epochs[1] == 500 and epochs[-2] == epochs[-1] == 200
    assert epochs == sorted(epochs, reverse=True)
    assert umap_epochs(10_000) / umap_epochs(10_001) < 1.01


def test_the_compiling_child_ends_with_the_process_that_started_it(tmp_path):
    """A server stopped while UMAP's code compiles leaves no compiler holding a core."""
    import os
    import subprocess
    import sys
    import time

    def children() -> list[str]:  # processes whose environment names this test's store
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if str(tmp_path).encode() in Path(f"/proc/{pid}/environ").read_bytes():
                    found.append(pid)
            except OSError:
                continue
        return found

    # a cold numba cache (not the one an earlier UMAP in this process named), so the child
    # compiles for longer (about 17 s) than the parent lives, however slowly the parent starts it
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["EMBEDVIZ_CACHE_DIR"] = str(tmp_path)
    code = "from embedviz.reduce import warm_up_in_background as w; w(); import time; time.sleep(6)"
    parent = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 30
    while len(children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(children()) >= 2, "the warm-up compiles in a child process"
    parent.wait(timeout=60)
    deadline = time.monotonic() + 10
    while children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children() == []


def test_a_process_that_holds_the_code_starts_no_second_compiler(tmp_path):
    """The app warms up once per server and each test's store is new: once this process has
    UMAP's code, a warm-up with another store's empty cache compiles nothing in a child."""
    import os
    import subprocess
    import sys

    code = (
        "import logging, os; logging.basicConfig(level=logging.INFO)\n"
        "from embedviz.reduce import warm_up_in_background as w\n"
        "w().join()\n"
        f"os.environ['EMBEDVIZ_CACHE_DIR'] = {str(tmp_path / 'other')!r}\n"
        "w().join()"
    )
    env = dict(os.environ, EMBEDVIZ_CACHE_DIR=str(tmp_path / "first"))
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300, capture_output=True)
    assert done.stderr.decode().count("compiled in a child process") == 1
