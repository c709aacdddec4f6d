"""The dashboard through Streamlit's AppTest: every page, asserting what a user sees."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from embedviz.ui import compute
from embedviz.ui.state import BackendChoice, DataSource
from tests.planted import planted_frame, three_levels

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "pages/map.py",
    "pages/data.py",
    "pages/search.py",
    "pages/clusters.py",
    "pages/insights.py",
    "pages/compare.py",
]


@pytest.fixture(autouse=True)
def fresh_caches():
    """Streamlit's caches outlive an AppTest; each test starts without them."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def app(page: str | None = None) -> AppTest:
    """The app, or one page file run alone. After at.switch_page, AppTest runs the page without
    app.py, so layout.within_app runs it again through app.py: a click on a button read by its
    return value (`if st.button(...)`) is spent on the first run and lost. Click such buttons on
    a page file run alone; buttons with on_click callbacks work either way."""
    at = AppTest.from_file(str(ROOT / (page or "app.py")), default_timeout=300)
    return at


def with_planted_data(at: AppTest, per_topic: int = 20) -> AppTest:
    data = planted_frame(per_topic=per_topic).to_csv(index=False).encode()
    digest = compute.remember_input("planted.csv", data)
    at.session_state["data.source"] = DataSource("upload", "planted.csv", digest)
    at.session_state["data.backend"] = BackendChoice("planted")
    return at


def _length(values) -> int:
    if isinstance(values, dict) and "bdata" in values:
        size = np.dtype(values["dtype"]).itemsize
        return len(base64.b64decode(values["bdata"])) // size
    return len(values)


def chart_points(at: AppTest, index: int = 0) -> int:
    """Markers drawn for the corpus's texts (not the query star, its lines or added texts)."""
    spec = json.loads(at.get("plotly_chart")[index].proto.spec)
    traces = [
        t
        for t in spec["data"]
        if t.get("mode") == "markers" and t.get("name") not in ("query", "added texts")
    ]
    return sum(_length(t["x"]) for t in traces)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_every_page_runs_alone_from_default_state_with_planted_data():
    for page in PAGES:
        at = with_planted_data(app(page))
        at.run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])


def test_map_shows_every_text_and_the_map_quality():
    at = with_planted_data(app()).run()
    assert not at.exception and not at.error
    assert chart_points(at) == 100
    shown = metrics(at)
    assert shown["Texts"] == "100" and shown["Topics / clusters"].startswith("5 / ")
    assert float(shown["Trustworthiness"]) >= 0.8
    assert 0.5 < float(shown["Map trust"]) <= 1.0
    assert at.query_params["reducer"] == "auto"
    assert any("auto: tsne (perplexity 5) for 100 texts" in c.value for c in at.caption)


def test_map_settings_and_colour_change_reuse_vectors_and_projection(monkeypatch):
    from embedviz import pipeline

    calls = {"reduce": 0}
    real = pipeline.reduce

    def counting(*args, **kwargs):
        calls["reduce"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "reduce", counting)
    at = with_planted_data(app()).run()
    assert calls["reduce"] == 1
    store_vectors = compute.store().count_vectors()
    assert at.selectbox(key="map.w.color").value == "label"  # known labels first
    at.selectbox(key="map.w.color").select("score").run()
    at.selectbox(key="map.w.color").select("cluster").run()
    at.switch_page("pages/clusters.py").run()
    at.toggle(key="clusters.w.auto").set_value(False).run()
    at.number_input(key="clusters.w.k").set_value(3).run()
    assert metrics(at)["Fine clusters"] == "3"
    at.switch_page("pages/map.py").run()
    assert calls["reduce"] == 1
    assert compute.store().count_vectors() == store_vectors
    assert metrics(at)["Topics / clusters"].endswith(" / 3")


def test_map_reducer_dims_and_link():
    at = with_planted_data(app())
    at.query_params["reducer"] = "pca"
    at.query_params["dims"] = "3"
    at.run()
    assert any(c.value == "Map: PCA, 3-D." for c in at.caption)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["type"] == "scatter3d"
    assert chart_points(at) == 100


def test_map_places_a_query_with_lines_to_its_neighbours():
    at = with_planted_data(app())
    at.session_state["search.query"] = "rocket orbit galaxy"
    at.run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in spec["data"]]
    assert "query" in names and "neighbours" in names
    assert at.query_params["q"] == "rocket orbit galaxy"


def test_search_lists_nearest_texts_and_more_like_this():
    at = with_planted_data(app("pages/search.py")).run()
    at.text_input(key="search.w.query").input("rocket orbit galaxy").run()
    assert not at.exception
    results = at.dataframe[0].value
    assert len(results) == 10
    frame = planted_frame(per_topic=20)
    assert all(frame["label"][row] == "space" for row in results["row"])
    assert len(at.get("plotly_chart")) == 1
    at.radio(key="search.w.pick").set_value("results").run()
    assert len(at.selectbox(key="search.w.result").options) == 10, "a picker never lists every row"
    picked = at.dataframe[1].value  # more like the first result
    assert all(frame["label"][row] == "space" for row in picked["row"])
    at.radio(key="search.w.pick").set_value("number").run()
    at.number_input(key="search.row").set_value(45).run()  # a cooking text
    similar = at.dataframe[1].value
    assert all(frame["label"][row] == frame["label"][45] for row in similar["row"])


def test_clusters_show_both_levels_the_tree_members_and_agreement():
    at = with_planted_data(app("pages/clusters.py")).run()
    assert not at.exception and not at.error
    members, broad, fine = (at.dataframe[i].value for i in range(3))
    assert len(broad) == 5 and broad["size"].sum() == 100
    assert all(len(name.split(", ")) == 3 for name in broad["name"])
    assert fine["size"].sum() == 100 and len(fine) == int(metrics(at)["Fine clusters"])
    assert set(fine["broad topic"]) == set(broad["cluster"])
    assert len(members) == broad["size"].iloc[0], "the largest topic's members are listed first"
    assert broad["cohesion"].between(0.8, 1).all(), "planted topics stand apart"
    assert fine["cohesion"].between(0, 1).all()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    tree = spec["data"][0]
    assert tree["type"] == "treemap"
    assert sum(p == "" for p in tree["parents"]) == 5 and len(tree["ids"]) == 5 + len(fine)
    at.selectbox(key="clusters.pick").select("f:0").run()
    assert len(at.dataframe[0].value) == fine.set_index("cluster")["size"][0]
    shown = metrics(at)
    assert float(shown["Adjusted Rand index (broad)"]) > 0.9


def test_clusters_offer_the_other_topic_counts_the_graph_supports():
    vectors, _, _ = three_levels()  # 16 planted topics; the overview merges some
    frame = pd.DataFrame(
        {
            "text": [f"text {i}" for i in range(len(vectors))],
            "vector": [" ".join(map(str, v)) for v in vectors],
        }
    )
    digest = compute.remember_input("levels.csv", frame.to_csv(index=False).encode())
    at = app()
    at.session_state["data.source"] = DataSource("upload", "levels.csv", digest)
    at.session_state["data.backend"] = BackendChoice("precomputed", vectors="vector")
    at.switch_page("pages/clusters.py").run()
    assert not at.exception and not at.error
    picked = int(metrics(at)["Broad topics"])
    assert picked < 16
    at.button(key="topics.16").click().run()
    assert metrics(at)["Broad topics"] == "16"
    assert at.toggle(key="clusters.w.broad_auto").value is False
    assert at.number_input(key="clusters.w.broad_k").value == 16
    at.button(key="topics.None").click().run()  # back to the automatic pick
    assert metrics(at)["Broad topics"] == str(picked)
    assert at.toggle(key="clusters.w.broad_auto").value is True
    at.switch_page("pages/map.py").run()  # the map offers the same, and its choice holds there
    assert not at.exception and not at.error
    assert metrics(at)["Topics / clusters"].startswith(f"{picked} / ")
    at.button(key="topics.16").click().run()
    assert metrics(at)["Topics / clusters"].startswith("16 / ")
    at.switch_page("pages/clusters.py").run()
    assert metrics(at)["Broad topics"] == "16"
    assert at.number_input(key="clusters.w.broad_k").value == 16


def test_insights_outliers_diversity_and_classification():
    at = with_planted_data(app("pages/insights.py")).run()
    assert len(at.dataframe[0].value) == 20
    assert "Mean pairwise similarity" in metrics(at)
    at.text_input(key="insights.labels").input("rocket, bake, striker, stock, guitar").run()
    assert not at.exception
    counts = at.dataframe[2].value
    assert counts["texts"].sum() == 100


def test_data_page_reports_rows_and_bad_uploads_keep_the_app_running():
    at = with_planted_data(app("pages/data.py")).run()
    assert metrics(at) == {"Texts": "100", "Dropped (empty)": "0", "Duplicates (kept)": "0"}
    digest = compute.remember_input("broken.jsonl", b'{"text": "fine"}\n{"text": oops}\n')
    at.session_state["data.source"] = DataSource("upload", "broken.jsonl", digest)
    at.run()
    assert not at.exception
    assert any("line 2" in e.value for e in at.error)


def test_embed_button_reports_encoded_and_store_hits():
    at = with_planted_data(app("pages/data.py")).run()
    at.button[0].click().run()
    assert any("100 encoded" in s.value or "from the store" in s.value for s in at.success)


@pytest.mark.model
def test_default_start_maps_the_90_word_sample_with_the_real_model():
    at = app().run()
    assert not at.exception and not at.error
    assert chart_points(at) == 90
    assert metrics(at)["Texts"] == "90"
    at.switch_page("pages/search.py").run()
    at.text_input(key="search.w.query").input("shark").run()
    results = at.dataframe[0].value
    assert {"fish", "whale", "dolphin"} & set(results["text"].head(5))
    at.switch_page("pages/clusters.py").run()
    broad, fine = at.dataframe[1].value, at.dataframe[2].value
    assert broad["size"].sum() == fine["size"].sum() == 90 and 2 <= len(broad) <= len(fine) <= 18
    assert all(name for name in fine["name"])
    assert 0 < float(metrics(at)["Adjusted Rand index (fine)"]) <= 1
    at.switch_page("pages/insights.py").run()
    assert len(at.dataframe[0].value) == 20
    at.text_input(key="insights.labels").input("animal, water, sport, software").run()
    assert not at.exception
    assert float(metrics(at)["Mean pairwise similarity"]) > 0
    at.switch_page("pages/data.py").run()
    assert metrics(at)["Texts"] == "90" and metrics(at)["Duplicates (kept)"] == "2"


def test_compare_page_aligns_two_backends_and_scores_neighbourhoods():
    at = with_planted_data(app("pages/compare.py")).run()
    assert not at.exception and not at.error
    overlap = float(metrics(at)["Mean overlap of the 10 nearest neighbours"].rstrip("%")) / 100
    assert 0.0 < overlap <= 1.0
    assert chart_points(at, 0) == chart_points(at, 1) == 100
    differ = at.dataframe[0].value
    assert len(differ) == 20
    assert differ["shared_neighbours"].is_monotonic_increasing


def test_clusters_can_be_named_by_a_chat_model_on_request():
    from tests.openai_server import FakeOpenAI

    at = with_planted_data(app()).run()
    at.switch_page("pages/clusters.py").run()
    keywords = at.dataframe[2].value
    assert all(row["name"] == ", ".join(row["keywords"].split(", ")[:3]) for _, row in keywords.iterrows())
    with FakeOpenAI(key="chat-key") as server:
        at.text_input(key="clusters.openai_key").input("chat-key")
        at.text_input(key="clusters.w.base_url").input(server.url)
        at.toggle(key="clusters.w.names").set_value(True).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        broad, fine = at.dataframe[1].value, at.dataframe[2].value
        assert all(name.startswith("All about ") for name in [*broad["name"], *fine["name"]])
        assert len(server.requests) == len(broad) + len(fine)
        at.switch_page("pages/map.py").run()  # the chat names are the map's names now
        names = [a["text"] for a in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"]]
        assert names and all("All about " in name for name in names)


def xy_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "text": [f"point {i}" for i in range(n)],
            "group": [f"g{i % 3}" for i in range(n)],
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
        }
    )


def with_file_coordinates(at: AppTest, n: int) -> AppTest:
    frame = xy_frame(n)
    digest = compute.remember_input("xy.csv", frame.to_csv(index=False).encode())
    at.session_state["data.source"] = DataSource("upload", "xy.csv", digest)
    at.session_state["data.backend"] = BackendChoice("planted")
    return at


def test_a_file_with_x_and_y_is_mapped_as_it_is_without_vectors(monkeypatch):
    from tests.planted import PlantedBackend

    def no_encoding(self, texts):
        raise AssertionError("the file's own map needs no vectors")

    monkeypatch.setattr(PlantedBackend, "encode", no_encoding)
    at = with_file_coordinates(app(), 300).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="map.w.reducer").value == "file"
    assert at.selectbox(key="map.w.color").value == "group"
    assert chart_points(at) == 300
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    xs = np.concatenate(
        [np.frombuffer(base64.b64decode(t["x"]["bdata"]), t["x"]["dtype"]) for t in spec["data"]]
    )
    np.testing.assert_allclose(np.sort(xs), np.sort(xy_frame(300)["x"]), rtol=1e-5)
    assert metrics(at)["Topics / clusters"] == "–"


def test_beyond_the_point_limit_the_map_shades_all_and_draws_a_sample(monkeypatch):
    from embedviz import figures

    monkeypatch.setattr(figures, "MAX_POINTS", 500)
    monkeypatch.setattr(figures, "SAMPLE_POINTS", 200)
    at = with_file_coordinates(app(), 800).run()
    assert not at.exception and not at.error
    assert chart_points(at) == 200
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    density = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert len(density) == 1
    z = np.frombuffer(base64.b64decode(density[0]["z"]["bdata"]), density[0]["z"]["dtype"])
    assert np.expm1(z.astype(np.float64)).sum().round() == 800, "the shading counts every point"
    assert any("800 points are too many to draw one by one" in c.value for c in at.caption)
    ids = [
        np.frombuffer(base64.b64decode(t["customdata"]["bdata"]), t["customdata"]["dtype"])
        for t in spec["data"]
        if t["type"] == "scattergl"
    ]
    assert len(np.unique(np.concatenate(ids))) == 200 and np.concatenate(ids).max() < 800


def test_a_file_named_on_the_server_command_line_opens_first(monkeypatch, tmp_path):
    path = tmp_path / "big.csv"
    xy_frame(120).to_csv(path, index=False)
    monkeypatch.setattr("sys.argv", [str(ROOT / "app.py"), str(path)])  # streamlit run app.py -- FILE
    at = app()
    at.session_state["data.backend"] = BackendChoice("planted")
    at.run()
    assert not at.exception and not at.error
    assert metrics(at)["Texts"] == "120" and chart_points(at) == 120
    at.switch_page("pages/data.py").run()
    assert at.radio[0].value == "file" and "big.csv" in at.radio[0].options[0]
    at.radio[0].set_value("sample").run()
    assert at.session_state["data.source"].kind == "sample"


def annotation_boxes(spec: dict) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Each name on a 2-D map with its box in pixels, estimated the way the page places them."""
    from embedviz.figures import FIGURE_HEIGHT, FIGURE_WIDTH
    from embedviz.placement import Canvas, Name

    points = [t for t in spec["data"] if t.get("mode") == "markers"]
    xs = np.concatenate([np.frombuffer(base64.b64decode(t["x"]["bdata"]), t["x"]["dtype"]) for t in points])
    ys = np.concatenate([np.frombuffer(base64.b64decode(t["y"]["bdata"]), t["y"]["dtype"]) for t in points])
    canvas = Canvas.fit(np.column_stack([xs, ys]), FIGURE_WIDTH, FIGURE_HEIGHT)
    out = []
    for note in spec["layout"].get("annotations", []):
        text = note["text"].removeprefix("<b>").removesuffix("</b>")
        name = Name(text, (note["x"], note["y"]), note["font"]["size"], "", 0, 0)
        out.append((note["name"], canvas.box(name)))
    return out


def test_map_names_each_cluster_once_without_overlaps():
    from embedviz.placement import overlaps

    at = with_planted_data(app())
    at.session_state["map.names"] = "broad"
    at.run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    boxes = annotation_boxes(spec)
    assert sorted(name for name, _ in boxes) == [f"broad:{c}" for c in range(5)], "one name per topic"
    assert not any(overlaps(a, b) for (_, a), (_, b) in itertools.combinations(boxes, 2))
    texts = {a["text"] for a in spec["layout"]["annotations"]}
    at.switch_page("pages/clusters.py").run()
    assert {f"<b>{n}</b>" for n in at.dataframe[1].value["name"]} == texts

    at.switch_page("pages/map.py").run()
    at.selectbox(key="map.w.names").select("both").run()
    boxes = annotation_boxes(json.loads(at.get("plotly_chart")[0].proto.spec))
    names = [name for name, _ in boxes]
    assert len(names) == len(set(names)) and {f"broad:{c}" for c in range(5)} <= set(names)
    assert any(name.startswith("fine:") for name in names)
    assert not any(overlaps(a, b) for (_, a), (_, b) in itertools.combinations(boxes, 2))
    at.selectbox(key="map.w.names").select("off").run()
    assert not json.loads(at.get("plotly_chart")[0].proto.spec)["layout"].get("annotations")
    at.radio(key="map.w.dims").set_value(3).run()
    at.selectbox(key="map.w.names").select("broad").run()
    scene = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["scene"]
    assert len(scene["annotations"]) == 5 and all("z" in a for a in scene["annotations"])


def test_the_map_says_when_no_font_on_the_server_draws_the_names_of_a_png(monkeypatch):
    from embedviz import figures

    at = with_planted_data(app()).run()
    assert not any("show as boxes" in c.value for c in at.caption)
    asked = []
    monkeypatch.setattr(
        figures, "font_fallback", lambda texts: asked.append(texts) or (["DejaVu Sans"], "苹果")
    )
    at.run()
    assert any("(苹果): they show as boxes in the PNG" in c.value for c in at.caption)
    assert len(asked[-1]) >= 5, "asked about every name on the map"


def test_long_work_waits_for_the_user_and_says_how_long(monkeypatch):
    from tests.planted import PlantedBackend

    encoded = []
    real = PlantedBackend.encode
    monkeypatch.setattr(
        PlantedBackend, "encode", lambda self, texts: encoded.append(len(texts)) or real(self, texts)
    )
    monkeypatch.setattr(compute, "ASK_ABOVE_SECONDS", 0.0)  # every step counts as long here
    at = with_planted_data(app()).run()
    assert not at.exception and not at.error
    assert any("Embedding 100 texts with planted takes about" in i.value for i in at.info)
    assert not encoded, "nothing starts before the user asks"
    at.button(key=next(b.key for b in at.button if b.label == "Start")).click().run()
    assert sum(encoded) == 100
    assert any("Mapping 100 texts" in i.value for i in at.info), "the next long step asks in turn"
    while any(b.label == "Start" for b in at.button):
        at.button(key=next(b.key for b in at.button if b.label == "Start")).click().run()
    assert chart_points(at) == 100 and sum(encoded) == 100


def test_no_page_imports_a_compute_library():
    import ast

    forbidden = {
        "sklearn",
        "umap",
        "torch",
        "openai",
        "faiss",
        "sentence_transformers",
        "numba",
        "openTSNE",
        "scipy",
    }
    for page in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(page.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & forbidden, (page.name, names)


def test_a_column_of_dates_is_coloured_on_a_scale_and_filtered_by_a_range_of_dates():
    frame = planted_frame(per_topic=20)
    frame["when"] = pd.date_range("2024-01-01", periods=len(frame), freq="D").strftime("%Y-%m-%d")
    digest = compute.remember_input("dated.csv", frame.to_csv(index=False).encode())
    at = app()
    at.session_state["data.source"] = DataSource("upload", "dated.csv", digest)
    at.session_state["data.backend"] = BackendChoice("planted")
    at.run()
    at.selectbox(key="map.w.color").select("when").run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    (points,) = [t for t in spec["data"] if t.get("name") == "texts"]
    assert points["marker"]["colorbar"]["ticktext"][0] == "2024-01-01"
    at.selectbox(key="map.w.filter_column").select("when").run()
    days = at.slider(key="map.w.filter_dates")
    assert (days.value[0].date(), days.value[1].date()) == (date(2024, 1, 1), date(2024, 4, 9))
    days.set_value((datetime(2024, 1, 11), datetime(2024, 1, 20))).run()
    assert not at.exception and not at.error
    assert any(
        "Filter: when from 2024-01-11 to 2024-01-20: 10 of 100 texts match" in c.value for c in at.caption
    )
    assert dict(at.query_params)["filter_range"] == "1704931200:1705708800"


def test_the_link_carries_every_setting_and_reopening_it_shows_the_same_view():
    at = with_planted_data(app()).run()
    at.selectbox(key="map.w.reducer").select("umap").run()
    at.radio(key="map.w.dims").set_value(3).run()
    at.slider(key="map.w.nn").set_value(9).run()
    at.slider(key="map.w.md").set_value(0.3).run()
    at.number_input(key="map.w.seed").set_value(5).run()
    at.selectbox(key="map.w.color").select("broad topic").run()
    at.selectbox(key="map.w.names").select("fine").run()
    at.text_input(key="map.w.query").input("rocket").run()
    at.text_input(key="map.w.filter").input("orbit").run()
    at.switch_page("pages/clusters.py").run()
    at.toggle(key="clusters.w.auto").set_value(False).run()
    at.number_input(key="clusters.w.k").set_value(7).run()
    at.toggle(key="clusters.w.broad_auto").set_value(False).run()
    at.number_input(key="clusters.w.broad_k").set_value(3).run()
    at.switch_page("pages/map.py").run()
    link = dict(at.query_params)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)

    st.cache_resource.clear()
    again = with_planted_data(app())
    for key, value in link.items():
        again.query_params[key] = value
    again.run()
    assert not again.exception and not again.error
    assert dict(again.query_params) == link
    state = again.session_state
    assert state["map.reduce"].n_neighbors == 9 and state["map.reduce"].min_dist == 0.3
    assert state["map.reduce"].seed == 5 and state["map.reduce"].dims == 3
    assert state["clusters.params"].k == 7 and state["clusters.params"].broad_k == 3
    assert state["map.filter"].text == "orbit" and state["map.names"] == "fine"
    reopened = json.loads(again.get("plotly_chart")[0].proto.spec)
    assert reopened["data"] == spec["data"] and reopened["layout"]["scene"] == spec["layout"]["scene"]


def test_the_map_filter_is_computed_once_per_file_and_filter():
    from embedviz.corpus import load_corpus
    from embedviz.filters import Filter

    texts = [f"text {i}" for i in range(6)]
    first, second = (
        load_corpus(pd.DataFrame({"text": texts, "kind": kinds}).to_csv(index=False).encode(), name="k.csv")
        for kinds in (list("aaabbb"), list("abbbbb"))
    )
    assert first.fingerprint == second.fingerprint, "the same texts"
    kind_a = Filter(column="kind", values=("a",))
    kept = compute.filter_mask(first, kind_a)
    assert kept.sum() == 3 and compute.filter_mask(first, kind_a) is kept
    assert compute.filter_mask(second, kind_a).sum() == 1, "other metadata, another mask"


def test_tags_from_a_filter_then_a_classifier_learns_from_them():
    at = with_planted_data(app("pages/map.py")).run()
    for word, name in (("rocket", "space-ish"), ("garlic", "cooking-ish")):
        at.text_input(key="map.w.filter").set_value(word).run()
        at.text_input(key="map.filtered.tag").set_value(name)
        at.button(key="map.filtered.tag_button").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    at.text_input(key="map.w.filter").set_value("").run()
    at.selectbox(key="map.w.color").set_value("tags").run()
    assert not at.exception
    legend = {t.get("name") for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert {"space-ish", "cooking-ish", "(untagged)"} <= legend

    insights = with_planted_data(app("pages/insights.py")).run()
    shown = metrics(insights)
    tagged = int(shown["Examples"].replace(",", ""))
    assert tagged > 10 and shown["Labels"] == "2"
    assert shown["Cross-validated accuracy"].endswith("%")
    assert any(s.value.startswith("Least confident") for s in insights.subheader)
    assert insights.button(key="insights.save_tags"), "the least confident texts are offered for tagging"

    coloured = with_planted_data(app("pages/map.py"))
    coloured.session_state["insights.predictions"] = insights.session_state["insights.predictions"]
    coloured.run()
    coloured.selectbox(key="map.w.color").set_value("prediction").run()
    traces = {t.get("name") for t in json.loads(coloured.get("plotly_chart")[0].proto.spec)["data"]}
    assert {"space-ish", "cooking-ish"} <= traces and "(untagged)" not in traces

    data = with_planted_data(app("pages/data.py")).run()
    counts = dict(zip(*data.dataframe[-1].value.T.values, strict=True))
    assert set(counts) == {"space-ish", "cooking-ish"}
    data.selectbox(key="data.tag").set_value("space-ish")
    data.text_input(key="data.tag_name").set_value("space")
    data.button(key="data.tag_rename").click().run()
    data.selectbox(key="data.tag").set_value("cooking-ish")
    data.button(key="data.tag_remove").click().run()
    assert data.dataframe[-1].value["tag"].tolist() == ["space"]


def test_cluster_edits_rename_merge_and_undo():
    at = with_planted_data(app("pages/clusters.py")).run()
    k = int(metrics(at)["Fine clusters"])
    at.text_input(key="edit.name").set_value("My rockets")
    at.button(key="edit.rename_button").click().run()
    assert not at.exception and not at.error
    assert any(o.endswith(": My rockets") for o in at.selectbox(key="edit.rename").options)
    at.multiselect(key="edit.merge").set_value([0, 1]).run()
    at.button(key="edit.merge_button").click().run()
    assert int(metrics(at)["Fine clusters"]) == k - 1
    assert any("(2 edit(s) kept)" in e.label for e in at.expander)
    # an edit after a merge: the log is applied once, to the automatic clusters (it was applied
    # again to the merged ones, and every later edit failed with "there is no cluster 1")
    at.text_input(key="edit.name").set_value("Merged rockets")
    at.button(key="edit.rename_button").click().run()
    assert not at.exception and not at.error
    assert any(o.endswith(": Merged rockets") for o in at.selectbox(key="edit.rename").options)
    assert any("(3 edit(s) kept)" in e.label for e in at.expander)
    at.button(key="edit.undo").click().run()
    at.button(key="edit.undo").click().run()
    assert int(metrics(at)["Fine clusters"]) == k
    at.button(key="edit.undo").click().run()
    assert not any(o.endswith(": My rockets") for o in at.selectbox(key="edit.rename").options)


def test_page_scripts_hold_no_bare_strings_that_streamlit_would_draw():
    # Streamlit's "magic" writes any bare expression of a page script on the page: a note under an
    # assignment, docstring-style, showed as text above the Search page's query box.
    import ast

    root = Path(__file__).resolve().parents[1]
    for script in [root / "app.py", *sorted((root / "pages").glob("*.py"))]:
        tree = ast.parse(script.read_text())
        for node in tree.body[1:]:  # the module's own docstring is not drawn
            bare = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            assert not bare, f"{script}:{node.lineno}: a bare string would be drawn on the page"


def test_sidebar_names_the_data_and_backend_just_picked_on_the_data_page():
    """The sidebar is drawn before the page; a pick on the Data page runs the app again, so the
    sidebar does not name the previous data or backend until the next click."""
    at = app().run()
    at.switch_page("pages/data.py").run()
    backend = next(s for s in at.selectbox if s.label == "Embedding backend")
    backend.select("tfidf").run()
    assert not at.exception
    assert "tfidf" in [m.value for m in at.sidebar.markdown]
    other = next(s for s in at.selectbox if s.label == "Sample")
    name = next(o for o in other.options if o != other.value)
    other.select(name).run()
    assert not at.exception
    assert f"**{name}**" in [m.value for m in at.sidebar.markdown]
