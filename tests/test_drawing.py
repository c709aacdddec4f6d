"""Names on the map, filters, map trust and the figure files: the pieces every page draws with."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from embedviz import InputError, figures, knn_graph
from embedviz.analysis import map_trust
from embedviz.figures import drawn_rows
from embedviz.filters import Filter, mask
from embedviz.placement import Canvas, overlaps, place


def test_names_one_per_cluster_at_its_centre_sized_by_size_without_overlaps():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]])
    sizes = [200, 100, 50, 25]
    coords = np.vstack([c + rng.normal(size=(s, 2)) for c, s in zip(centres, sizes, strict=True)])
    labels = np.repeat(np.arange(4), sizes)
    names = place(coords, [("broad", labels, {c: f"topic {c}" for c in range(4)})])
    assert sorted(n.cluster for n in names) == [0, 1, 2, 3]
    for n in names:
        assert np.linalg.norm(np.array(n.position) - centres[n.cluster]) < 2
    fonts = {n.cluster: n.font_size for n in names}
    assert fonts[0] > fonts[1] > fonts[2] > fonts[3]
    canvas = Canvas.fit(coords)
    assert not any(overlaps(canvas.box(a), canvas.box(b)) for a, b in itertools.combinations(names, 2))


def test_crowded_names_are_moved_or_left_out_never_stacked():
    coords = np.random.default_rng(1).normal(size=(400, 2))
    labels = np.arange(400) % 40  # 40 clusters on one blob: their centres all but coincide
    names = place(coords, [("fine", labels, {c: f"a rather long cluster name {c}" for c in range(40)})])
    canvas = Canvas.fit(coords)
    assert 0 < len(names) < 40
    assert not any(overlaps(canvas.box(a), canvas.box(b)) for a, b in itertools.combinations(names, 2))


def test_broad_names_go_first_and_3d_keeps_every_name():
    rng = np.random.default_rng(2)
    coords = rng.normal(size=(300, 3))
    fine, broad = np.arange(300) % 6, (np.arange(300) % 6) // 3
    levels = [("broad", broad, {0: "A", 1: "B"}), ("fine", fine, {c: f"f{c}" for c in range(6)})]
    names = place(coords, levels)
    assert [n.level for n in names[:2]] == ["broad", "broad"] and len(names) == 8
    assert all(len(n.position) == 3 for n in names)
    assert min(n.font_size for n in names[:2]) > max(n.font_size for n in names[2:])


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "text": ["Rocket to the Moon", "bake a cake", "moon cake festival", "stock market"],
            "topic": ["space", "food", "food", "money"],
            "year": [2001, 2010, 2015, 2020],
        }
    )


def test_text_filter_words_and_regex(frame):
    assert mask(frame, "text", Filter("moon")).tolist() == [True, False, True, False]
    assert mask(frame, "text", Filter("CAKE moon")).tolist() == [False, False, True, False]
    assert mask(frame, "text", Filter("/^(bake|stock)/")).tolist() == [False, True, False, True]
    assert mask(frame, "text", Filter()).all()
    with pytest.raises(InputError, match="not a valid regular expression"):
        mask(frame, "text", Filter("/[unclosed/"))


def test_metadata_filter_values_range_and_both_combined(frame):
    assert mask(frame, "text", Filter(column="topic", values=("food",))).tolist() == [
        False,
        True,
        True,
        False,
    ]
    assert mask(frame, "text", Filter(column="year", low=2005, high=2015)).tolist() == [
        False,
        True,
        True,
        False,
    ]
    both = Filter("cake", column="year", low=2012, high=2030)
    assert mask(frame, "text", both).tolist() == [False, False, True, False]
    assert both.active and not Filter().active and "cake" in both.describe()
    with pytest.raises(InputError, match="no column"):
        mask(frame, "text", Filter(column="nope", values=("x",)))


def test_beyond_the_budget_rows_a_filter_keeps_are_drawn_first(monkeypatch):
    from embedviz import figures

    monkeypatch.setattr(figures, "MAX_POINTS", 100)
    monkeypatch.setattr(figures, "SAMPLE_POINTS", 50)
    keep = np.zeros(1000, dtype=bool)
    keep[::100] = True  # 10 matches
    rows = drawn_rows(1000, first=keep)
    assert len(rows) == 50 and set(np.flatnonzero(keep)) <= set(rows.tolist())
    keep[:] = True
    assert len(drawn_rows(1000, first=keep)) == 50


def test_map_trust_is_one_for_a_map_that_keeps_neighbourhoods_and_low_for_a_shuffled_one():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 2)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    graph = knn_graph(vectors, 30)
    exact = map_trust(graph, vectors * 5.0)  # same neighbours: cosine on a circle, distance on the map
    assert exact.shape == (300,) and exact.min() == 1.0
    shuffled = map_trust(graph, vectors[rng.permutation(300)])
    assert shuffled.mean() < 0.1


def test_map_trust_is_stored_and_keyed_by_the_map(tmp_path):
    from embedviz import Store, corpus_from_text, make_backend
    from embedviz.pipeline import embeddings
    from embedviz.pipeline import map_trust as stored_trust

    corpus = corpus_from_text(
        "\n".join(f"rocket orbit {i}" if i % 2 else f"bake oven {i}" for i in range(60))
    )
    store = Store(tmp_path / "s.sqlite")
    emb = embeddings(corpus, make_backend("planted"), store)
    coords = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)
    first = stored_trust(emb, coords, store)
    artifacts = store._conn.execute("SELECT count(*) FROM artifacts WHERE kind = 'trust'").fetchone()[0]
    assert artifacts == 1
    assert np.array_equal(stored_trust(emb, coords, store), first)
    stored_trust(emb, coords[::-1].copy(), store)
    assert store._conn.execute("SELECT count(*) FROM artifacts WHERE kind = 'trust'").fetchone()[0] == 2


def test_many_drawn_points_hover_their_group_not_their_text_and_stay_under_5_mb():
    from embedviz import drawing

    n = figures.TEXT_HOVER_MAX + 10_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"text": [f"a fairly long text number {i}, as tweets are, with words" for i in range(n)]}
    )
    frame["group"] = rng.integers(0, 20, n).astype(str)
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    drawn = drawing.draw_map(frame, "text", ["group"], coords, color=frame["group"])
    traces = [t for t in drawn.figure.data if t.mode == "markers"]
    assert sum(len(t.x) for t in traces) == n, "every point drawn"
    assert all(t.hovertext is None and "customdata" in t.hovertemplate for t in traces)
    assert len(drawn.figure.to_json()) < 5 * 2**20
    assert any("group and row number" in c for c in drawn.captions)


def test_a_column_of_many_values_keeps_its_names_in_the_legend_and_greys_the_rarest():
    # 150 intents: the 47 most frequent get a colour and their name, the rest one grey entry
    # (before: rank numbers 0-149 on a colour scale, and a PNG figure with no points at all).
    rng = np.random.default_rng(0)
    values = pd.Series([f"intent_{i}" for i in rng.zipf(1.3, 3000) % 150])
    coords = rng.normal(size=(len(values), 2))
    fig = figures.map_figure(coords, None, values)
    traces = [t for t in fig.data if t.mode == "markers"]
    counts = values.value_counts()
    named = counts.index[: figures.CATEGORY_LIMIT - 1]
    assert len(traces) == figures.CATEGORY_LIMIT
    assert {t.name for t in traces[:-1]} == set(named)
    assert traces[-1].name == f"other {len(counts) - len(named)} values"
    assert traces[-1].marker.color == figures.OTHER_COLOUR
    assert len(traces[-1].x) == counts.iloc[len(named) :].sum()
    assert len({t.marker.color for t in traces}) == len(traces), "no two entries share a colour"
    assert fig.layout.showlegend

    import io

    from PIL import Image

    png = np.asarray(Image.open(io.BytesIO(figures.static_image(coords, values, []))).convert("RGB"))
    assert (png.sum(axis=2) < 700).mean() > 0.01, "the points are drawn"


def test_numbers_of_many_values_take_a_colour_scale_and_a_few_a_legend_in_order():
    coords = np.random.default_rng(0).normal(size=(500, 2))
    values = pd.Series(np.linspace(0, 1, 500))
    (trace,) = [t for t in figures.map_figure(coords, None, values).data if t.mode == "markers"]
    assert trace.marker.showscale and list(trace.marker.color) == values.tolist()
    counts = pd.Series(np.random.default_rng(1).integers(0, 11, 500) * 1.0)  # shared neighbours, 0-10
    traces = [t for t in figures.map_figure(coords, None, counts).data if t.mode == "markers"]
    assert [t.name for t in traces] == [str(k) for k in range(11)]
    assert [len(t.x) for t in traces] == [int((counts == k).sum()) for k in range(11)]


def test_dates_take_a_colour_scale_written_as_dates_and_filter_by_a_range_of_them():
    from embedviz import columns

    coords = np.random.default_rng(0).normal(size=(60, 2))
    days = pd.Series(pd.date_range("2024-01-01", periods=60, freq="D"))
    # as a datetime column (Parquet) and as ISO text (CSV), with a missing value
    text = days.dt.strftime("%Y-%m-%d").astype(object)
    text[5] = None
    for values in (days, text):
        (trace,) = [t for t in figures.map_figure(coords, None, values).data if t.mode == "markers"]
        assert trace.marker.showscale, "a scale, not 47 dates and a grey 'other'"
        assert (
            trace.marker.colorbar.ticktext[0] == "2024-01-01"
            and trace.marker.colorbar.ticktext[-1] == "2024-02-29"
        )
    seconds = columns.as_numbers(text)
    assert np.isnan(seconds[5]) and seconds[1] - seconds[0] == 86400
    assert columns.as_numbers(pd.Series(["2024-01-01", "not a date"])) is None
    assert columns.as_numbers(pd.Series(["a", "b"])) is None and not columns.on_scale(days[:12])
    frame = pd.DataFrame({"text": ["x"] * 60, "when": text})
    low, high = columns.to_seconds(pd.Timestamp("2024-01-10")), columns.to_seconds(pd.Timestamp("2024-01-12"))
    kept = Filter(column="when", low=low, high=high, dates=True)
    assert np.flatnonzero(mask(frame, "text", kept)).tolist() == [9, 10, 11]
    assert kept.describe() == "when from 2024-01-10 to 2024-01-12"
    first, last, step, _ = columns.date_slider(seconds[0] + 3600, np.nanmax(seconds))
    assert first <= pd.Timestamp("2024-01-01 01:00") and last >= pd.Timestamp("2024-02-29") and step.days == 1


def test_a_filter_dims_points_without_recolouring_the_rest():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(300, 2))
    values = pd.Series(rng.choice(["a", "b", "c"], 300, p=[0.5, 0.3, 0.2]))

    def colours(fig):
        return {t.name: t.marker.color for t in fig.data if t.mode == "markers" and t.name != "filtered out"}

    everything = colours(figures.map_figure(coords, None, values))
    kept = colours(figures.map_figure(coords, None, values, keep=(values != "a").to_numpy()))
    assert set(kept) == {"b", "c"} and all(kept[v] == everything[v] for v in kept)
    numbers = pd.Series(np.linspace(0, 10, 300))
    fig = figures.map_figure(coords, None, numbers, keep=numbers.to_numpy() > 5)
    (texts,) = [t for t in fig.data if t.name == "texts"]
    assert (texts.marker.cmin, texts.marker.cmax) == (0, 10), "the scale is the whole map's"


def test_png_names_fall_back_to_a_font_that_draws_them_and_say_when_none_does(caplog):
    from embedviz.placement import Name

    families, missing = figures.font_fallback(["circled \u24b6", "plain"])  # not in DejaVu Sans
    assert len(families) == 2 and missing == ""
    assert figures.font_fallback(["plain"]) == (families[:1], "")
    assert figures.font_fallback(["x \U0010fffd"])[1] == "\U0010fffd"  # no font draws it
    coords = np.random.default_rng(0).normal(size=(30, 2))
    name = Name("odd \U0010fffd", (0.0, 0.0), 16, "broad", 0, 30)
    with caplog.at_level("WARNING", logger="embedviz.figures"):
        assert figures.static_image(coords, None, [name], "png").startswith(b"\x89PNG")
    assert "boxes in the PNG" in caplog.text and "SVG or HTML" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="embedviz.figures"):
        assert b"odd" in figures.static_image(coords, None, [name], "svg")  # the viewer's fonts draw it
    assert not caplog.text
