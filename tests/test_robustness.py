"""The bad-input suite: every messy file in the CLI (exit 2 and one line, or a correct result)
and in the app (a message in the page, the app still running)."""

from __future__ import annotations

import multiprocessing
import re

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from embedviz import Store, embed, make_backend
from embedviz.cli import main
from embedviz.export import csv_bytes, parquet_bytes
from embedviz.figures import hover_texts
from embedviz.ui import compute
from embedviz.ui.state import BackendChoice, DataSource
from tests.robustness_cases import CASES, OVER_SIZE
from tests.test_app import ROOT, chart_points


def run_cli(capsys, tmp_path, name: str, data: bytes, *extra: str) -> tuple[int, str, pd.DataFrame | None]:
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "out.csv"
    code = main(["map", str(path), "--out", str(out), "--backend", "planted", "--quiet", *extra])
    err = capsys.readouterr().err
    return code, err, pd.read_csv(out) if code == 0 else None


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli(capsys, tmp_path, case):
    name, data, expected = CASES[case]
    code, err, frame = run_cli(capsys, tmp_path, name, data)
    if expected[0] == "error":
        assert code == 2
        assert len(err.strip().splitlines()) == 1, err
        assert expected[1] in err and "Traceback" not in err
    else:
        assert code == 0, err
        assert len(frame) == expected[1]
        assert frame[["x", "y"]].notna().all().all() and (frame["cluster"] >= 0).all()
        assert expected[2] in err


@pytest.mark.parametrize("reducer", ["tsne", "umap"])
@pytest.mark.parametrize("case", ["1 row", "2 rows", "5 rows", "all texts identical"])
def test_tiny_inputs_through_each_reducer(capsys, tmp_path, case, reducer):
    name, data, expected = CASES[case]
    code, err, frame = run_cli(capsys, tmp_path, name, data, "--reducer", reducer)
    assert code == 0, err
    assert len(frame) == expected[1] and np.isfinite(frame[["x", "y"]].to_numpy()).all()


def test_cli_file_over_the_size_limit(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDVIZ_MAX_MB", "0.01")
    code, err, _ = run_cli(capsys, tmp_path, *OVER_SIZE[:2])
    assert code == 2 and "size limit" in err and "EMBEDVIZ_MAX_MB" in err


@pytest.mark.parametrize(
    "vectors, message",
    [
        (["[1, 2]", "[1, 2, 3]"] + ["[1, 2]"] * 3, "different lengths"),
        (["[1, nan]"] + ["[1, 2]"] * 4, "NaN or infinite"),
        (["[1, inf]"] + ["[1, 2]"] * 4, "NaN or infinite"),
    ],
    ids=["wrong dimension", "NaN", "inf"],
)
def test_precomputed_vectors_that_cannot_be_used(capsys, tmp_path, vectors, message):
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(5)], "vec": vectors})
    code, err, _ = run_cli(
        capsys,
        tmp_path,
        "v.csv",
        frame.to_csv(index=False).encode(),
        "--backend",
        "precomputed",
        "--vectors",
        "vec",
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.fixture
def clean_caches():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.mark.parametrize("case", sorted(CASES))
def test_app(clean_caches, case):
    name, data, expected = CASES[case]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["data.source"] = DataSource("upload", name, compute.remember_input(name, data))
    at.session_state["data.backend"] = BackendChoice("planted")
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    if expected[0] == "error":
        assert any(expected[1] in e for e in errors), errors
        assert at.sidebar, "the app keeps running: navigation and sidebar still drawn"
    else:
        assert not errors, errors
        assert chart_points(at) == expected[1]


def test_html_in_texts_is_shown_as_text_in_hover():
    frame = pd.DataFrame(
        {"text": ['<script>alert("x")</script> hi', "<b>bold</b>"], "note": ["<i>x</i>", "y"]}
    )
    hover = hover_texts(frame, "text", ["note"])
    assert "<script>" not in hover[0] and "&lt;script&gt;" in hover[0]
    assert "&lt;i&gt;x&lt;/i&gt;" in hover[0]
    assert hover[1].startswith("&lt;b&gt;bold&lt;/b&gt;")


def test_csv_export_defuses_formulas_and_parquet_keeps_nested_columns():
    frame = pd.DataFrame(
        {"text": ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "plain"], "n": [-1, 2, 3, 4, 5]}
    )
    written = pd.read_csv(pd.io.common.BytesIO(csv_bytes(frame)))
    assert written["text"].tolist() == ['\'=HYPERLINK("http://x")', "'+1+1", "'-2", "'@SUM(A1)", "plain"]
    assert written["n"].tolist() == [-1, 2, 3, 4, 5], "numbers stay numbers"
    nested = pd.DataFrame({"text": ["a", "b"], "tags": [["x"], ["y", "z"]], "mixed": [1, "two"]})
    back = pd.read_parquet(pd.io.common.BytesIO(parquet_bytes(nested)))
    assert back["tags"].map(list).tolist() == [["x"], ["y", "z"]]


def _writer(path: str, start: int) -> None:
    from tests.conftest import register_backend  # the planted backend in this process too
    from tests.planted import PlantedBackend

    register_backend("planted", PlantedBackend)
    texts = [f"rocket orbit number {i}" for i in range(start, start + 600)]
    embed(texts, make_backend("planted"), Store(path))


def test_four_processes_writing_overlapping_texts(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, start)) for start in (0, 200, 400, 600)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert all(w.exitcode == 0 for w in workers)
    store = Store(path)
    backend = make_backend("planted")
    texts = [f"rocket orbit number {i}" for i in range(1200)]
    assert store.count_vectors(backend.space()) == 1200, "no duplicates, none missing"
    result = embed(texts, backend, store)
    assert result.n_encoded == 0
    np.testing.assert_allclose(result.vectors, make_backend("planted").encode(texts), atol=1e-6)


def test_a_key_never_reaches_store_logs_exports_or_urls(tmp_path, capsys, monkeypatch, clean_caches):
    from tests.openai_server import FakeOpenAI

    secret = "sk-test-SECRET-4242"
    source = tmp_path / "texts.csv"
    source.write_text("text\n" + "\n".join(f"rocket orbit {i}" for i in range(30)) + "\n")
    out = tmp_path / "map.parquet"
    with FakeOpenAI(key=secret) as server:
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        code = main(
            [
                "map",
                str(source),
                "--out",
                str(out),
                "--backend",
                "openai",
                "--base-url",
                server.url,
                "--reducer",
                "pca",
            ]
        )
        err = capsys.readouterr().err
        assert code == 0, err
        monkeypatch.delenv("OPENAI_API_KEY")
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        data = source.read_bytes()
        at.session_state["data.source"] = DataSource(
            "upload", "texts.csv", compute.remember_input("texts.csv", data)
        )
        at.session_state["data.backend"] = BackendChoice("openai", base_url=server.url)
        at.session_state["data.openai_key"] = secret
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert chart_points(at) == 30
        exported = [b.proto.url for b in at.get("download_button")]
    stored = b"".join(p.read_bytes() for p in (tmp_path / "cache").glob("store.sqlite*"))
    assert stored, "the store was written"
    assert secret.encode() not in stored
    assert secret not in err and secret not in out.read_bytes().decode("latin-1")
    assert all(secret not in str(v) for v in at.query_params.values())
    assert all(secret not in url for url in exported)
    for key in ("data.source", "data.backend", "map.reduce", "map.color", "clusters.params", "search.query"):
        assert secret not in repr(at.session_state[key])
    assert re.search(r"\bsk-", repr(compute.memo()._items.keys())) is None


def test_app_file_over_the_size_limit(clean_caches, monkeypatch):
    monkeypatch.setenv("EMBEDVIZ_MAX_MB", "0.01")
    name, data, _ = OVER_SIZE
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["data.source"] = DataSource("upload", name, compute.remember_input(name, data))
    at.session_state["data.backend"] = BackendChoice("planted")
    at.run()
    assert not at.exception
    assert any("size limit" in e.value and "EMBEDVIZ_MAX_MB" in e.value for e in at.error)
