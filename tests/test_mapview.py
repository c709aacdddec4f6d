"""The Map page's view logic, without Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from embedviz import drawing
from embedviz.cluster import Clustering
from embedviz.pipeline import LabelledClustering
from embedviz.ui import mapview


def test_selected_rows_are_sorted_unique_and_follow_the_filter():
    points = [{"customdata": 5}, {"customdata": 2}, {"customdata": 5}, {"x": 1.0}]
    assert mapview.selected_rows(points, None) == [2, 5]
    keep = np.zeros(6, dtype=bool)
    keep[5] = True
    assert mapview.selected_rows(points, keep) == [5]
    assert mapview.selected_rows([], keep) == []


def test_summary_says_counts_levels_and_trust():
    labels = np.array([0, 0, 1, 2])
    clusters = LabelledClustering(Clustering(labels, np.array([0, 0, 0, 1])), ())
    trust = np.array([0.2, 0.9, 0.4, 1.0])
    keep = np.array([True, False, True, True])
    shown = {
        label: value
        for label, value, _ in mapview.summary(4, keep, mapview.cluster_counts(clusters), 0.91234, trust)
    }
    assert shown == {
        "Texts": "3 of 4",
        "Topics / clusters": "2 / 3",
        "Trustworthiness": "0.912",
        "Map trust": "0.62",
        "Under ½ trust": "50%",
    }
    empty = {label: value for label, value, _ in mapview.summary(1_000, None, None, None, None)}
    assert empty == {
        "Texts": "1,000",
        "Topics / clusters": "–",
        "Trustworthiness": "n/a",
        "Map trust": "n/a",
        "Under ½ trust": "n/a",
    }


def test_a_file_named_clusters_are_counted_and_named_on_its_own_map():
    data = pd.DataFrame(
        {
            "cluster_label": ["cats", "cats", "dogs", "dogs", "far from every cluster", "fish"],
            "broad_cluster_label": ["pets", "pets", "pets", "pets", "far from every cluster", "sea"],
        }
    )
    assert mapview.cluster_counts(None, data) == (2, 3)
    assert mapview.cluster_counts(None, data[["cluster_label"]]) is None
    coords = np.array([[0, 0], [0.1, 0], [5, 5], [5.1, 5], [2.5, 9], [9, 0]], dtype=np.float32)
    names = drawing.file_cluster_names(coords, data, "fine")
    assert sorted(n.text for n in names) == ["cats", "dogs", "fish"]
    cats = next(n for n in names if n.text == "cats")
    assert cats.members == 2 and cats.position[0] < 1
    both = drawing.file_cluster_names(coords, data, "both")
    assert {n.level for n in both} == {"broad", "fine"}
    assert "far from every cluster" not in {n.text for n in both}
    # "fish" is the whole of the topic "sea": named once, by the topic; pets' clusters keep theirs
    named = {(n.level, n.text) for n in both}
    assert {("broad", "sea"), ("broad", "pets"), ("fine", "dogs")} <= named
    assert ("fine", "fish") not in named
    assert drawing.file_cluster_names(coords, data, "off") == []


def test_export_table_carries_tags_and_keeps_the_filtered_rows():
    frame = pd.DataFrame({"text": ["a", "b", "c"], "x": [0.0, 1.0, 2.0]})
    tags = [("keep", "red"), (), ("red",)]
    table = mapview.export_table(frame, tags, None)
    assert table["tags"].tolist() == ["keep, red", "", "red"]
    kept = mapview.export_table(frame, tags, np.array([False, True, True]))
    assert kept["text"].tolist() == ["b", "c"] and "tags" not in frame
