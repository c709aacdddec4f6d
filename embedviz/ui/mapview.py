"""What the Map page shows, as plain functions of its inputs (no Streamlit): the rows a
selection picks, the figures above the map, the table an export holds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from embedviz.drawing import FILE_LEVELS
from embedviz.labels import FAR_LABEL, NOISE_LABEL


def selected_rows(points: Iterable[dict], keep: np.ndarray | None) -> list[int]:
    """Corpus positions of the selected points (their customdata), sorted, without the rows a
    filter leaves out."""
    rows = sorted({int(p["customdata"]) for p in points if "customdata" in p})
    return rows if keep is None else [row for row in rows if keep[row]]


def cluster_counts(clusters, data: pd.DataFrame | None = None) -> tuple[int, int] | None:
    """(broad topics, fine clusters) of a LabelledClustering, or else of the clusters a file
    names in its own columns (an `embedviz map` output); None when there are none."""
    if clusters is not None:
        return clusters.clustering.broad_k, clusters.clustering.k
    if data is None or not all(column in data for column in FILE_LEVELS.values()):
        return None
    broad, fine = (  # distinct values first: a cast of every row takes seconds at millions
        len({str(v) for v in pd.unique(data[FILE_LEVELS[level]].dropna())} - {NOISE_LABEL, FAR_LABEL})
        for level in ("broad", "fine")
    )
    return broad, fine


def summary(
    n: int,
    keep: np.ndarray | None,
    counts: tuple[int, int] | None,
    trustworthiness: float | None,
    trust: np.ndarray | None,
) -> list[tuple[str, str, str | None]]:
    """(label, value, help) of each figure above the map."""
    return [
        ("Texts", f"{n:,}" if keep is None else f"{int(keep.sum()):,} of {n:,}", None),
        (
            "Topics / clusters",
            f"{counts[0]} / {counts[1]}" if counts else "–",
            "Broad topics, each holding fine clusters. Colour by either, or name them on the map.",
        ),
        (
            "Trustworthiness",
            f"{trustworthiness:.3f}" if trustworthiness is not None else "n/a",
            "How well the map keeps each text's nearest neighbours (1 is perfect).",
        ),
        (
            "Map trust",
            f"{float(trust.mean()):.2f}" if trust is not None else "n/a",
            "Mean share of a text's 10 nearest neighbours (in the embedding space) that are also "
            "among its 10 nearest on the map. Colour by 'map trust' to see where the map misleads.",
        ),
        (
            "Under ½ trust",
            f"{float((trust < 0.5).mean()):.0%}" if trust is not None else "n/a",
            "Share of texts whose map neighbourhood keeps fewer than half of their true neighbours.",
        ),
    ]


def export_table(
    frame: pd.DataFrame, tags: Sequence[tuple[str, ...]], keep: np.ndarray | None
) -> pd.DataFrame:
    """The map's table with each text's tags, only the rows a filter keeps."""
    table = frame.assign(tags=[", ".join(t) for t in tags])
    return table if keep is None else table[keep]
