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
    code = "from embedviz.reduce import warm_up_in_background as w; w().join()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    cached = {p.name.split(".")[0] for p in (tmp_path / "numba").rglob("*.nbi")}
    for function in ("layouts", "umap_"):  # the layout loop and the fuzzy simplicial set
        assert any(name.startswith(function) for name in cached), sorted(cached)
    assert any(p.suffix == ".nbc" for p in (tmp_path / "numba").rglob("*.nbc"))


def test_the_compiled_code_loader_depends_on_nothing_of_embedvizs():
    import ast

    import embedviz.compiled as compiled

    tree = ast.parse(Path(compiled.__file__).read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m and m.startswith("embedviz")]
