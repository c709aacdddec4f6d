"""embed to Parquet parts, map a folder from a sample, place new texts onto a map: locally with
the planted backend, and on a local Ray with the real model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from embedviz import fitted, shards
from embedviz.cli import main
from embedviz.cluster import sample_rows
from embedviz.errors import InputError
from embedviz.scale import BackendSpec, embed_folder, fit_sample, map_folder, place_onto
from embedviz.store import Store
from tests.conftest import shared_dataset
from tests.planted import TOPICS, PlantedBackend, planted_frame, three_levels, topic_of

PLANTED = BackendSpec("planted")


@pytest.fixture
def two_files(tmp_path) -> Path:
    """A folder of a CSV (with one empty text) and a JSONL file: 300 + 1 + 100 input rows."""
    folder = tmp_path / "input"
    folder.mkdir()
    frame = planted_frame(per_topic=80, seed=1)
    first = pd.concat(
        [frame.iloc[:150], pd.DataFrame({"text": [""], "label": ["none"]}), frame.iloc[150:300]]
    )
    first.to_csv(folder / "a.csv", index=False)
    frame.iloc[300:].to_json(folder / "b.jsonl", orient="records", lines=True)
    return folder


def test_embed_writes_every_row_once_with_stable_ids(two_files, tmp_path):
    out = tmp_path / "embedded"
    report = embed_folder(two_files, out, PLANTED, store=Store(tmp_path / "s.sqlite"))
    assert report.rows == 400
    ids, vectors = shards.read_vectors(out)
    assert ids.tolist() == [i for i in range(401) if i != 150]  # the empty text's id is skipped
    frame = shards.read_columns(out)
    assert frame["row_id"].tolist() == ids.tolist()
    np.testing.assert_allclose(vectors, PlantedBackend().encode(frame["text"].tolist()), atol=1e-6)
    manifest = json.loads((out / shards.EMBED_MANIFEST).read_text())
    assert manifest["rows"] == 400 and manifest["input_rows"] == 401 and manifest["text_column"] == "text"
    assert manifest["backend"]["backend"] == "planted"

    embed_folder(two_files, out, PLANTED)  # an earlier output is replaced
    assert shards.read_vectors(out)[0].tolist() == ids.tolist()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        embed_folder(two_files, foreign, PLANTED)


def test_completeness_check_catches_a_duplicated_part(two_files, tmp_path):
    out = tmp_path / "embedded"
    embed_folder(two_files, out, PLANTED)
    part = shards.parts(out)[0]
    (out / "copy.parquet").write_bytes(part.read_bytes())
    with pytest.raises(InputError, match="written twice"):
        shards.check_complete(out, shards.read_columns(out)["row_id"].unique())


@pytest.fixture
def planted_map(two_files, tmp_path) -> tuple[Path, Path]:
    embedded, mapped = tmp_path / "embedded", tmp_path / "mapped"
    embed_folder(two_files, embedded, PLANTED)
    map_folder(embedded, mapped, sample=200)
    return embedded, mapped


def test_map_from_a_sample_places_every_row_and_names_clusters_from_all(planted_map):
    embedded, mapped = planted_map
    frame = shards.read_columns(mapped)
    assert frame["row_id"].tolist() == shards.read_vectors(embedded)[0].tolist()
    assert {"x", "y", "cluster", "cluster_label", "broad_cluster", "broad_cluster_label"} <= set(frame)
    topics = frame["text"].map(topic_of)
    assert adjusted_rand_score(topics, frame["broad_cluster"]) > 0.9
    for _, rows in frame.groupby("cluster"):  # each fine cluster is one topic, named by its words
        topic = rows["text"].map(topic_of).mode()[0]
        words = set(" ".join(rows["cluster_label"].iloc[:1]).replace(",", " ").split())
        assert words & set(TOPICS[topic])
    model = fitted.load(mapped)
    assert len(model.sample_rows) == 200
    assert sum(model.sizes["fine"].values()) == 400  # names counted over every row, not the sample


def test_a_fitted_map_keeps_the_topic_counts_the_graph_supports():
    from embedviz import ClusterParams, ReduceParams

    vectors, _, _ = three_levels()  # 16 planted topics; the overview merges some
    rows = np.arange(len(vectors))
    model = fitted.fit(
        vectors, [f"text {i}" for i in rows], rows, ReduceParams(method="pca"), ClusterParams()
    )
    assert model.broad_options[0] == int(model.parent.max()) + 1 < 16 and 16 in model.broad_options
    assert fitted.summary(model)["broad_options"] == list(model.broad_options)


def test_onto_places_new_texts_without_moving_the_map(planted_map, tmp_path):
    _, mapped = planted_map
    before = {p.name: p.read_bytes() for p in sorted(mapped.iterdir()) if p.is_file()}
    old = shards.read_columns(mapped)
    new = planted_frame(per_topic=6, seed=7)
    new.loc[len(new)] = {"text": "zzz qqq", "label": "none", "score": 0.0}  # no topic: noise only
    new_csv = tmp_path / "new.csv"
    new.to_csv(new_csv, index=False)
    out = tmp_path / "placed.csv"
    assert main(["map", str(new_csv), "--onto", str(mapped), "--out", str(out), "--quiet"]) == 0
    placed = pd.read_csv(out)
    assert {p.name: p.read_bytes() for p in sorted(mapped.iterdir()) if p.is_file()} == before
    majority = (
        old.assign(topic=old["text"].map(topic_of)).groupby("cluster")["topic"].agg(lambda t: t.mode()[0])
    )
    real = placed.iloc[:-1]
    assert (real["cluster"].map(majority) == real["text"].map(topic_of)).mean() >= 0.95
    assert placed.iloc[-1]["cluster"] == fitted.FAR_CLUSTER
    assert placed.iloc[-1]["cluster_label"] == fitted.FAR_LABEL


def test_onto_refuses_another_backends_vectors(planted_map, tmp_path):
    from embedviz.backends.tfidf import TfidfBackend
    from embedviz.corpus import load_corpus

    _, mapped = planted_map
    path = tmp_path / "new.csv"
    planted_frame(per_topic=2).to_csv(path, index=False)
    with pytest.raises(InputError, match="another backend"):
        place_onto(load_corpus(path), mapped, TfidfBackend(), None)


def test_cli_embed_and_map_a_folder(two_files, tmp_path, capsys):
    embedded, mapped = tmp_path / "e", tmp_path / "m"
    assert main(["embed", str(two_files), "--out", str(embedded), "--backend", "planted", "--quiet"]) == 0
    assert main(["map", str(embedded), "--out", str(mapped), "--fit-sample", "100", "--quiet"]) == 0
    assert len(shards.read_columns(mapped)) == 400
    assert json.loads((mapped / shards.MAP_MANIFEST).read_text())["model"]["fit_rows"] == 100
    row_ids = np.sort(shards.read_columns(embedded)[shards.ROW_ID].to_numpy())
    # the fit rows: the same every run, and among those the in-memory pipeline clusters on
    assert set(fit_sample(embedded, 100)) <= set(sample_rows(row_ids, 150))
    capsys.readouterr()
    assert main(["embed", str(two_files), "--out", str(tmp_path / "t"), "--backend", "tfidf"]) == 2
    assert "cannot be made shard by shard" in capsys.readouterr().err
    assert main(["map", str(embedded), "--out", str(tmp_path / "x"), "--reducer", "tsne"]) == 2
    assert "cannot place texts" in capsys.readouterr().err
    assert (
        main(["map", str(two_files / "a.csv"), "--out", str(tmp_path / "folder"), "--backend", "planted"])
        == 2
    )
    assert "must end in .csv or .parquet" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "missing"), "--out", str(tmp_path / "y")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_onto_keeps_neighbours_labels_on_snips(tmp_path):
    """1,000 held-out snips texts placed on a map of the rest: their nearest map neighbours share
    their intent at least 0.9 times as often as the map's own texts' do."""
    from embedviz.analysis import map_label_agreement

    data = pd.read_csv(shared_dataset("snips"))
    data = data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    new, old = data.iloc[:1000], data.iloc[1000:]
    old.to_csv(tmp_path / "old.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    spec = BackendSpec("sentence-transformers")
    embed_folder(tmp_path / "old.csv", tmp_path / "e", spec)
    map_folder(tmp_path / "e", tmp_path / "m")
    before = shards.read_columns(tmp_path / "m")
    assert (
        main(
            [
                "map",
                str(tmp_path / "new.csv"),
                "--onto",
                str(tmp_path / "m"),
                "--out",
                str(tmp_path / "n.parquet"),
                "--quiet",
            ]
        )
        == 0
    )
    after = shards.read_columns(tmp_path / "m")
    pd.testing.assert_frame_equal(before, after)
    placed = pd.read_parquet(tmp_path / "n.parquet")
    old_rate, new_rate = map_label_agreement(before, placed)
    assert new_rate >= 0.9 * old_rate, (old_rate, new_rate)


# On a local Ray, with the real model (Ray workers do not see this process's planted backend)

FP32 = BackendSpec("sentence-transformers", precision="fp32")


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is an extra: pip install -r requirements-scale.txt")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def test_ray_vectors_equal_the_local_ones_on_20k_tweets(local_ray, tmp_path):
    tweets = pd.read_csv(shared_dataset("tweeteval_emoji"), nrows=20_000)
    tweets.to_csv(tmp_path / "tweets.csv", index=False)
    embed_folder(tmp_path / "tweets.csv", tmp_path / "local", FP32, store=None)
    embed_folder(tmp_path / "tweets.csv", tmp_path / "ray", FP32, engine="ray", quiet=True)
    local_ids, local = shards.read_vectors(tmp_path / "local")
    ray_ids, on_ray = shards.read_vectors(tmp_path / "ray")
    assert ray_ids.tolist() == list(range(20_000))  # every row once (none of these is empty)
    assert local_ids.tolist() == ray_ids.tolist()
    assert (local * on_ray).sum(axis=1).min() >= 0.9999


def _texts(n: int) -> list[str]:
    from embedviz.samples import load_sample

    base = load_sample().texts
    return [f"{base[i % len(base)]} (note {i})" for i in range(n)]


def _encoder_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", r"MapBatches\(_Encoder\)"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_ray_output_is_complete_when_a_worker_is_killed(local_ray, tmp_path):
    pd.DataFrame({"text": _texts(3000)}).to_csv(tmp_path / "texts.csv", index=False)
    out, failure = tmp_path / "out", []

    def run() -> None:
        try:
            embed_folder(tmp_path / "texts.csv", out, FP32, engine="ray", quiet=True)
        except Exception as e:  # noqa: BLE001 - reported below
            failure.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    killed, deadline = None, time.monotonic() + 300
    while worker.is_alive() and killed is None and time.monotonic() < deadline:
        if _encoder_pids():
            time.sleep(5)  # the model loaded, batches under way
            for pid in _encoder_pids() if worker.is_alive() else []:
                try:  # the pool may have let an idle actor go since the list was read
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                killed = True
                break
        time.sleep(0.2)
    worker.join()
    assert killed, "the run ended before a worker could be killed"
    assert not failure, failure
    ids, _ = shards.read_vectors(out)
    assert ids.tolist() == list(range(3000))


def test_ray_map_equals_the_local_map(local_ray, tmp_path):
    pd.DataFrame({"text": _texts(1500)}).to_csv(tmp_path / "texts.csv", index=False)
    embed_folder(tmp_path / "texts.csv", tmp_path / "e", FP32)
    map_folder(tmp_path / "e", tmp_path / "local", sample=600)
    map_folder(tmp_path / "e", tmp_path / "ray", sample=600, engine="ray", quiet=True)
    local, on_ray = shards.read_columns(tmp_path / "local"), shards.read_columns(tmp_path / "ray")
    assert on_ray["row_id"].tolist() == list(range(1500))
    for column in ("cluster", "cluster_label", "broad_cluster", "broad_cluster_label"):
        assert local[column].tolist() == on_ray[column].tolist()
    assert np.corrcoef(local["x"], on_ray["x"])[0, 1] > 0.99


def test_the_dashboard_opens_a_map_folder_without_encoding(planted_map, monkeypatch):
    """`streamlit run app.py -- FOLDER`: the folder's rows, its map and its vectors (put in the
    store, not encoded again), with search working on them."""
    from tests.test_app import ROOT, app, chart_points, metrics

    embedded, mapped = planted_map
    monkeypatch.setattr("sys.argv", [str(ROOT / "app.py"), str(mapped)])
    encoded = []
    monkeypatch.setattr(
        PlantedBackend, "encode", lambda self, texts: encoded.extend(texts) or _planted(texts)
    )
    at = app().run()
    assert not at.exception and not at.error
    assert metrics(at)["Texts"] == "400" and chart_points(at) == 400
    assert at.selectbox(key="map.w.reducer").value == "file"
    assert at.selectbox(key="map.w.color").value == "broad_cluster_label", "coloured by the folder's topics"
    assert encoded == [], "the folder's vectors are used, not encoded again"
    assert metrics(at)["Topics / clusters"] != "–", "the folder's own clusters are counted"
    annotations = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"]
    drawn = {a["text"].removeprefix("<b>").removesuffix("</b>") for a in annotations}
    frame = shards.read_columns(mapped)
    assert drawn and drawn <= set(frame["broad_cluster_label"]) | set(frame["cluster_label"]), (
        "the folder's cluster names are drawn on its map"
    )
    at.switch_page("pages/search.py").run()
    at.text_input[0].set_value("rocket orbit planet").run()
    assert not at.exception and not at.error
    assert encoded == ["rocket orbit planet"]
    assert any(
        "rocket" in str(v) or "orbit" in str(v) for v in at.dataframe[0].value.iloc[:3].to_numpy().ravel()
    )
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    assert "Add texts to this map" in [e.label for e in at.expander]
    assert at.selectbox[1].value == "planted"  # the backend the folder was embedded with

    # texts added on the Data page (its uploader: remember_input + placed_onto) show on the map
    from embedviz.ui import compute

    new = planted_frame(per_topic=3, seed=9).to_csv(index=False).encode()
    at.session_state["data.added"] = ("new.csv", compute.remember_input("new.csv", new))
    at.switch_page("pages/map.py").run()
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    added = [t for t in spec["data"] if t.get("name") == "added texts"]
    assert at.selectbox(key="map.w.reducer").value == "file", "the file's map is kept after other pages"
    assert len(added) == 1 and len(added[0]["hovertext"]) == 15
    assert chart_points(at) == 400, "the map's own points are unchanged"


def _planted(texts):
    from embedviz.backends.base import normalize
    from tests.planted import planted_vector

    return normalize(np.vstack([planted_vector(t) for t in texts]))


def test_the_dashboard_opens_a_folder_whose_vectors_stay_on_disk(planted_map, monkeypatch):
    """A map folder with more rows than EMBEDVIZ_MAX_ROWS: its own map, names and clusters, and
    search through its on-disk index; no vector enters memory or the store, and the pages that
    need them say why and what to do."""
    from embedviz import scale
    from tests.test_app import ROOT, app, chart_points, metrics

    embedded, mapped = planted_map
    monkeypatch.setenv("EMBEDVIZ_MAX_ROWS", "300")  # the folder holds 400
    monkeypatch.setattr("sys.argv", [str(ROOT / "app.py"), str(mapped)])
    encoded = []
    monkeypatch.setattr(
        PlantedBackend, "encode", lambda self, texts: encoded.extend(texts) or _planted(texts)
    )

    def no_vectors(*args, **kwargs):
        raise AssertionError("the folder's vectors were read into the store")

    monkeypatch.setattr(scale, "seed_store", no_vectors)
    frame = shards.read_columns(mapped)
    at = app().run()
    assert not at.exception and not at.error
    assert metrics(at)["Texts"] == "400" and chart_points(at) == 400
    assert at.selectbox(key="map.w.reducer").options == ["From the file (x, y)"]
    assert "Outlier score" not in str(at.selectbox(key="map.w.color").options)
    annotations = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"]
    drawn = {a["text"].removeprefix("<b>").removesuffix("</b>") for a in annotations}
    assert drawn and drawn <= set(frame["broad_cluster_label"]) | set(frame["cluster_label"])

    at.text_input(key="map.w.query").set_value("comet telescope galaxy").run()  # placed by the index
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(t.get("name") == "query" for t in spec["data"]), [t.get("name") for t in spec["data"]]
    assert encoded == ["comet telescope galaxy"]

    at.switch_page("pages/search.py").run()
    assert not at.exception and not at.error
    top = at.dataframe[0].value
    assert sum(topic_of(t) == "space" for t in top["text"].head(5)) >= 4, top["text"].head(5).tolist()
    assert encoded == ["comet telescope galaxy"], "the query's vector is remembered"
    row = int(frame.index[frame["text"].map(topic_of) == "cooking"][0])
    at.radio(key="search.w.pick").set_value("number").run()
    at.number_input(key="search.row").set_value(row).run()
    assert not at.exception and not at.error
    like = at.dataframe[1].value
    assert row not in like["row"].tolist() and len(like) == 10
    assert sum(topic_of(t) == "cooking" for t in like["text"]) >= 8, like["text"].tolist()

    at.switch_page("pages/clusters.py").run()
    assert not at.exception and not at.error
    counted = {m.label: m.value for m in at.metric}
    assert counted["Broad topics"] == str(frame["broad_cluster"].nunique())
    assert counted["Fine clusters"] == str(frame["cluster"].nunique())
    assert not [b for b in at.button if b.key == "edit.undo"], "no edits without the vectors"

    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    assert "Add texts to this map" in [e.label for e in at.expander]

    for page in ("pages/insights.py", "pages/compare.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert "EMBEDVIZ_MAX_ROWS" in at.error[0].value and "400" in at.error[0].value
    assert encoded == ["comet telescope galaxy"]


def test_an_embed_folder_beyond_memory_is_searched_and_asks_to_be_mapped(planted_map, monkeypatch):
    from tests.test_app import ROOT, app

    embedded, _ = planted_map
    monkeypatch.setenv("EMBEDVIZ_MAX_ROWS", "300")
    monkeypatch.setattr("sys.argv", [str(ROOT / "app.py"), str(embedded)])
    at = app().run()
    assert not at.exception and "embedviz map FOLDER --out MAPPED" in at.error[0].value
    at.switch_page("pages/clusters.py").run()
    assert not at.exception and "embedviz map FOLDER --out MAPPED" in at.error[0].value
    at.switch_page("pages/search.py").run()
    at.text_input[0].set_value("flour oven bake").run()
    assert not at.exception and not at.error
    assert sum(topic_of(t) == "cooking" for t in at.dataframe[0].value["text"].head(5)) >= 4


def test_folder_search_maps_input_row_ids_to_corpus_rows_across_gaps():
    """Row ids are input rows: an empty text dropped at embed time leaves a gap, so results are
    looked up by id, not by position; "more like this" leaves the row itself out."""
    from embedviz import corpus_from_frame
    from embedviz.scale import corpus_rows, search_folder
    from embedviz.shard_index import Found

    corpus = corpus_from_frame(pd.DataFrame({"row_id": [0, 2, 3, 7], "text": ["a", "b", "c", "d"]}))
    assert corpus_rows(corpus, np.array([[7, 0, 5, -1]])).tolist() == [[3, 0, -1, -1]]

    class Index:  # the on-disk index's answer for any query: ids best first, 5 not in the corpus
        def search(self, queries, k):
            ids = np.array([[3, 5, 7, 0, 2][:k]])
            return Found(ids, np.linspace(0.9, 0.5, 5)[:k][None, :].astype(np.float32))

    found = search_folder(Index(), corpus, np.ones((1, 4), np.float32), 3)
    assert found.indices.tolist() == [[2, 3, -1]], "an id the corpus lacks is skipped, -1 past the end"
    assert found.scores[0][:2].tolist() == pytest.approx([0.9, 0.7])
    alike = search_folder(Index(), corpus, np.ones((1, 4), np.float32), 3, without=2)
    assert alike.indices.tolist() == [[3, 0, -1]]


def test_a_map_fitted_on_a_sample_names_clusters_with_phrases_as_in_memory():
    from embedviz.cluster import ClusterParams
    from embedviz.reduce import ReduceParams
    from embedviz.scale import _counts_and_sizes

    rng = np.random.default_rng(0)

    def filled(template: str, first: list[str], second: list[str]) -> list[str]:
        return [
            template.format(a, b) for a, b in zip(rng.choice(first, 30), rng.choice(second, 30), strict=True)
        ]

    sports = filled("the red sox {} the {}", ["beat", "lose to", "play"], ["yankees", "mets", "orioles"])
    oil = filled("{} crude oil {}", ["tanker of", "price of", "spill of"], ["leaks", "rises", "falls"])
    texts = sports + oil
    vectors = np.vstack(
        [rng.normal(0, 0.05, (30, 8)) + np.eye(8)[0], rng.normal(0, 0.05, (30, 8)) + np.eye(8)[1]]
    )
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    model = fitted.fit(
        vectors, texts, np.arange(60), ReduceParams(method="pca"), ClusterParams(k=2, broad_k=2)
    )
    fine = model.place_clusters(vectors, np.arange(60))
    counts = _counts_and_sizes(model, texts, fine)
    model.name_clusters(counts[counts["word"] >= 0], np.bincount(fine, minlength=model.k))
    names = set(model.names["fine"].values())
    assert any("red sox" in name.split(", ") for name in names), names
    assert any("crude oil" in name.split(", ") for name in names), names
