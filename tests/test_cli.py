from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from embedviz.cli import main
from tests.conftest import shared_dataset
from tests.planted import three_levels


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_map_writes_input_columns_then_map_columns(capsys, tmp_path, planted_csv, suffix):
    out = tmp_path / f"map{suffix}"
    code, _, err = run(
        capsys, "map", str(planted_csv), "--out", str(out), "--backend", "planted", "--reducer", "pca"
    )
    assert code == 0, err
    frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert frame.columns.tolist() == [
        "text",
        "label",
        "score",
        "x",
        "y",
        "cluster",
        "cluster_label",
        "broad_cluster",
        "broad_cluster_label",
    ]
    assert len(frame) == 150
    assert adjusted_rand_score(frame["label"], frame["broad_cluster"]) > 0.9
    assert frame.groupby("cluster")["broad_cluster"].nunique().max() == 1, "fine inside broad"
    assert frame["cluster_label"].str.len().min() > 0
    assert frame["broad_cluster_label"].str.len().min() > 0
    assert "150 encoded, 0 from store" in err


def test_second_map_encodes_nothing_and_says_so(capsys, tmp_path, planted_csv):
    args = [
        "map",
        str(planted_csv),
        "--backend",
        "planted",
        "--reducer",
        "umap",
        "--dims",
        "3",
        "--clusters",
        "5",
    ]
    code, _, err = run(capsys, *args, "--out", str(tmp_path / "a.parquet"))
    assert code == 0, err
    code, _, err = run(capsys, *args, "--out", str(tmp_path / "b.parquet"))
    assert code == 0 and "0 encoded, 150 from store" in err
    a, b = pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet")
    assert {"x", "y", "z"} <= set(b.columns)
    assert a.equals(b)


def test_search_prints_json_lines(capsys, planted_csv):
    code, out, _ = run(
        capsys,
        "search",
        str(planted_csv),
        "--backend",
        "planted",
        "--query",
        "rocket orbit planet",
        "-k",
        "5",
    )
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert all(set(h) == {"rank", "row", "score", "text"} for h in hits)
    source = pd.read_csv(planted_csv)
    assert all(source["label"][h["row"]] == "space" for h in hits)
    assert all(source["text"][h["row"]] == h["text"] for h in hits)
    assert hits[0]["score"] >= hits[-1]["score"]


def test_precomputed_vectors_from_npy(capsys, tmp_path, planted_csv):
    npy = tmp_path / "v.npy"
    np.save(npy, np.random.default_rng(0).normal(size=(150, 8)))
    out = tmp_path / "m.csv"
    code, _, err = run(
        capsys,
        "map",
        str(planted_csv),
        "--out",
        str(out),
        "--backend",
        "precomputed",
        "--vectors",
        str(npy),
        "--reducer",
        "pca",
    )
    assert code == 0, err
    np.save(npy, np.zeros((149, 8)))
    code, _, err = run(
        capsys, "map", str(planted_csv), "--out", str(out), "--backend", "precomputed", "--vectors", str(npy)
    )
    assert code == 2 and "149 vectors for 150 input rows" in err


def test_map_logs_the_other_topic_counts_and_takes_one(capsys, tmp_path):
    vectors, _, topics = three_levels()  # 16 planted topics; the overview merges some
    data = tmp_path / "levels.csv"
    pd.DataFrame({"text": [f"text {i}" for i in range(len(vectors))]}).to_csv(data, index=False)
    npy = tmp_path / "levels.npy"
    np.save(npy, vectors)
    out = tmp_path / "m.csv"
    argv = ["map", str(data), "--out", str(out), "--backend", "precomputed", "--vectors", str(npy)]
    code, _, err = run(capsys, *argv, "--reducer", "pca")
    assert code == 0, err
    assert "also supports" in err and "16" in err and "--broad-clusters N" in err
    code, _, err = run(capsys, *argv, "--reducer", "pca", "--broad-clusters", "16")
    assert code == 0, err
    assert adjusted_rand_score(topics, pd.read_csv(out)["broad_cluster"]) > 0.95


BAD_INPUTS = {
    "missing file": (["map", "{tmp}/nope.csv", "--out", "{tmp}/o.csv"], "no such file"),
    "empty file": (["map", "{tmp}/empty.csv", "--out", "{tmp}/o.csv"], "empty"),
    "binary": (["map", "{tmp}/binary.csv", "--out", "{tmp}/o.csv"], "binary"),
    "bad suffix": (["map", "{tmp}/good.csv", "--out", "{tmp}/o.xlsx"], "must end in .csv or .parquet"),
    "bad column": (
        ["search", "{tmp}/good.csv", "--query", "x", "--text-column", "body"],
        "no column named 'body'",
    ),
    "bad backend": (
        ["map", "{tmp}/good.csv", "--out", "{tmp}/o.csv", "--backend", "magic"],
        "invalid choice",
    ),
    "bad clusters": (
        ["map", "{tmp}/good.csv", "--out", "{tmp}/o.csv", "--clusters", "many"],
        "'auto' or a number",
    ),
    "no vectors": (
        ["map", "{tmp}/good.csv", "--out", "{tmp}/o.csv", "--backend", "precomputed"],
        "--vectors",
    ),
    "two inputs": (
        ["map", "{tmp}/good.csv", "{tmp}/o.csv", "--out", "{tmp}/x.csv"],
        "(see embedviz map --help)",
    ),
    "no command": (["--quiet"], "(see embedviz --help)"),
    "empty query": (["search", "{tmp}/good.csv", "--query", " ", "--backend", "tfidf"], "query is empty"),
    "unknown model": (
        ["search", "{tmp}/good.csv", "--query", "x", "--model", "nobody/nothing"],
        "not on this machine",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(tmp_path, case):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "good.csv").write_text("text\nhello there\nrockets in orbit\nbaking bread\n")
    argv, message = BAD_INPUTS[case]
    argv = [a.format(tmp=tmp_path) for a in argv]
    proc = subprocess.run(
        [sys.executable, "-m", "embedviz", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.shared
@pytest.mark.model
def test_search_banking77_finds_card_payment_rows(capsys):
    path = shared_dataset("banking77")
    code, out, _ = run(capsys, "search", str(path), "--query", "my card was declined", "-k", "10")
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    labels = pd.read_csv(path)["label"]
    found = [labels[h["row"]] for h in hits]
    assert sum("card" in label or "declined" in label for label in found) >= 8, found


def test_map_writes_the_labelled_figure_as_png_svg_or_html(capsys, tmp_path, planted_csv):
    base = ["map", str(planted_csv), "--out", str(tmp_path / "m.parquet"), "--backend", "planted"]
    for suffix, start in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".html", b"<!doctype html")):
        figure = tmp_path / f"map{suffix}"
        code, _, err = run(capsys, *base, "--figure", str(figure))
        assert code == 0, err
        assert figure.read_bytes().startswith(start)
    names = pd.read_parquet(tmp_path / "m.parquet")["broad_cluster_label"].unique()
    svg = (tmp_path / "map.svg").read_text()
    assert all(name in svg for name in names), "the broad topics are named in the image"
    code, _, err = run(capsys, *base, "--figure", str(tmp_path / "map.gif"))
    assert code == 2 and err.count("\n") == 1 and "must end in" in err
    code, _, err = run(capsys, *base, "--dims", "3", "--figure", str(tmp_path / "map3.png"))
    assert code == 2 and err.count("\n") == 1 and "2-D" in err


def test_store_command_lists_the_store_and_drops_what_can_be_made_again(capsys, tmp_path, planted_csv):
    cache = str(tmp_path / "cache")
    code, _, err = run(capsys, "store", "--cache-dir", cache)
    assert code == 2 and "no store at" in err
    mapped = ("map", str(planted_csv), "--out", str(tmp_path / "m.parquet"), "--backend", "planted")
    assert run(capsys, *mapped, "--reducer", "pca", "--cache-dir", cache, "--quiet")[0] == 0
    code, out, _ = run(capsys, "store", "--cache-dir", cache)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{cache}/store.sqlite: ")
    assert any(line.startswith("vectors ") and "backend planted, model planted-v1" in line for line in lines)
    computed = [line for line in lines if line.startswith("computed ")]
    assert {line.split()[1] for line in computed} >= {"projection", "clustering", "knn"}

    code, _, err = run(capsys, "store", "--cache-dir", cache, "--older-than", "1")
    assert code == 2 and "add --drop-computed" in err
    code, out, _ = run(capsys, "store", "--cache-dir", cache, "--drop-computed", "--older-than", "1")
    assert code == 0 and out.startswith("dropped 0 computed results")
    code, out, _ = run(capsys, "store", "--cache-dir", cache, "--drop-computed")
    assert code == 0 and out.startswith(f"dropped {sum(int(line.split()[2]) for line in computed)} computed")
    assert not [line for line in out.splitlines() if line.startswith("computed ")]
    code, out, err = run(
        capsys, *mapped, "--reducer", "pca", "--cache-dir", cache
    )  # the texts are not encoded again
    assert code == 0 and "0 encoded" in err
