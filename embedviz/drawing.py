"""What a map shows, decided in one place for every page, the CLI and the exports: which rows
are drawn (the point budget), their hover texts and colours, which are dimmed by a filter, and
the cluster names over them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from embedviz import figures, placement
from embedviz.labels import FAR_LABEL, NOISE_LABEL
from embedviz.placement import Name

COLOR_CLUSTER, COLOR_BROAD = "cluster", "broad topic"
COLOR_OUTLIER, COLOR_QUERY, COLOR_TRUST = "outlier score", "similarity to query", "map trust"
COLOR_TAGS, COLOR_PREDICTION = "tags", "prediction"
UNTAGGED = "(untagged)"
NameLevels = Literal["both", "broad", "fine", "off"]
NAME_LEVELS: tuple[NameLevels, ...] = ("both", "broad", "fine", "off")


@dataclass(frozen=True, eq=False)
class Drawing:
    figure: go.Figure
    rows: np.ndarray
    """The rows drawn as points (all of them, or a sample beyond figures.MAX_POINTS)."""
    names: list[Name]
    captions: list[str]


def colour_values(
    choice: str, frame: pd.DataFrame, data: pd.DataFrame, scores: dict[str, np.ndarray | None]
) -> pd.Series | None:
    """The values a map is coloured by: (n,) for a cluster level (from the map's `frame`), a
    score by name (None where it is not computed), or a column of the input `data`."""
    if choice == COLOR_CLUSTER:
        return frame["cluster_label"]
    if choice == COLOR_BROAD:
        return frame["broad_cluster_label"]
    if choice in scores:
        values = scores[choice]
        return None if values is None else pd.Series(values)
    return data[choice]


def cluster_names(
    coords: np.ndarray,
    clusters,
    level: NameLevels,
    custom: dict[str, dict[int, str]] | None = None,
) -> list[Name]:
    """Names to draw for a LabelledClustering: broad, fine or both (broad placed first)."""
    if clusters is None or level == "off" or len(coords) == 0:
        return []
    levels = ("broad", "fine") if level == "both" else (level,)
    wanted = []
    for lvl in levels:
        labels, _ = clusters.level(lvl)
        if lvl == "fine" and level == "both":
            labels = _beside_topics(labels, clusters.broad)
        wanted.append((lvl, labels, clusters.names(lvl, (custom or {}).get(lvl))))
    return placement.place(
        coords, wanted, placement.Canvas.fit(coords, figures.FIGURE_WIDTH, figures.FIGURE_HEIGHT)
    )


FILE_LEVELS = {"broad": "broad_cluster_label", "fine": "cluster_label"}
"""The columns an `embedviz map` output (or any file) names its clusters in, per level."""


def _beside_topics(fine: np.ndarray, broad: np.ndarray) -> np.ndarray:
    """The fine labels (n,) with -1 (not named) for each fine cluster that is the whole of its
    broad topic: the topic's name already stands there (every cluster, where the levels
    coincide)."""
    if not len(fine) or fine.max() < 0:
        return fine
    present = (fine >= 0) & (broad >= 0)
    pairs = np.unique(np.stack([fine[present], broad[present]]), axis=1)
    topics, children = np.unique(pairs[1], return_counts=True)
    sole_topics = topics[children == 1]
    fine_size = np.bincount(fine[present], minlength=int(fine.max()) + 1)
    broad_size = np.bincount(broad[present], minlength=int(broad.max()) + 1)
    whole = [f for f, b in pairs.T if b in sole_topics and fine_size[f] == broad_size[b]]
    return np.where(np.isin(fine, whole), -1, fine)


def file_cluster_names(coords: np.ndarray, data: pd.DataFrame, level: NameLevels) -> list[Name]:
    """Names to draw for a map a file brings with its clusters named (an `embedviz map` output
    folder or file): each distinct name in FILE_LEVELS' columns at the centre of its rows."""
    if level == "off" or len(coords) == 0:
        return []
    wanted = []
    for lvl in ("broad", "fine") if level == "both" else (level,):
        if FILE_LEVELS[lvl] not in data:
            continue
        codes, names = pd.factorize(data[FILE_LEVELS[lvl]].astype("string"))
        unnamed = [i for i, name in enumerate(names) if name in (NOISE_LABEL, FAR_LABEL)]
        codes = np.where(np.isin(codes, unnamed), -1, codes).astype(np.int64)
        wanted.append((lvl, codes, {i: str(name) for i, name in enumerate(names)}))
    if len(wanted) == 2:
        fine = wanted[1]
        wanted[1] = (fine[0], _beside_topics(fine[1], wanted[0][1]), fine[2])
    return placement.place(
        coords, wanted, placement.Canvas.fit(coords, figures.FIGURE_WIDTH, figures.FIGURE_HEIGHT)
    )


def draw_map(
    frame: pd.DataFrame,
    text_column: str,
    metadata_columns: list[str],
    coords: np.ndarray,
    *,
    color: pd.Series | None = None,
    color_title: str = "",
    keep: np.ndarray | None = None,
    names: list[Name] | None = None,
    query: np.ndarray | None = None,
    query_neighbors: np.ndarray | None = None,
    added: tuple[np.ndarray, list[str]] | None = None,
    height: int = 620,
) -> Drawing:
    """The map of `coords` (n, 2 or 3) within the point budget. color and keep are (n,) for
    all rows; beyond the budget the rows a filter keeps are drawn first."""
    n = len(coords)
    rows = figures.drawn_rows(n, first=keep)
    hover = figures.hover_texts(frame, text_column, metadata_columns, rows)
    fig = figures.map_figure(
        coords,
        hover,
        None if color is None else color.iloc[rows].reset_index(drop=True),
        color_title=color_title,
        query=query,
        query_neighbors=query_neighbors,
        added=added,
        rows=rows,
        keep=None if keep is None else keep[rows],
        names=names,
        height=height,
    )
    captions = []
    if len(rows) < n:
        captions.append(
            f"{n:,} points are too many to draw one by one: the grey shading shows where all of them "
            f"lie, and {len(rows):,} picked at random are drawn as points (hover, selection)."
        )
    elif len(rows) > figures.TEXT_HOVER_MAX:
        captions.append(
            "Hover shows each point's group and row number; select points to read their texts in the table below."
        )
    elif n > figures.COMPACT_HOVER_ABOVE:
        captions.append(
            "Hover shows the start of each text; select points to read them whole in the table below."
        )
    return Drawing(fig, rows, names or [], captions)


def texts_of(frame: pd.DataFrame, text_column: str, rows: np.ndarray) -> dict[int, str]:
    """row -> text for the drawn rows: what the HTML export's filter searches."""
    return dict(zip(rows.tolist(), frame[text_column].iloc[rows].astype(str).tolist(), strict=True))


FIGURE_FORMATS = (".html", ".png", ".svg")


def check_figure_path(path, dims: int):
    """The figure's path, if a figure of `dims` dimensions can be written there."""
    from pathlib import Path

    from embedviz.errors import InputError

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise InputError(f"{path.name}: the figure must end in {', '.join(FIGURE_FORMATS)}.")
    if suffix != ".html" and dims == 3:
        raise InputError("PNG and SVG figures are 2-D; use --dims 2, or write .html for a 3-D map.")
    if not path.parent.exists():
        raise InputError(f"{path.parent}: no such folder for the figure.")
    return path


def write_figure(
    frame: pd.DataFrame,
    text_column: str,
    metadata_columns: list[str],
    coords: np.ndarray,
    clusters,
    path,
    names: NameLevels = "both",
) -> None:
    """The labelled map as a file: standalone HTML (names, hover and a text filter, offline),
    PNG or SVG; points coloured by broad topic."""
    path = check_figure_path(path, coords.shape[1])
    suffix = path.suffix.lower()
    color = None
    if clusters is not None:
        color = pd.Series(clusters.label_names("broad")).astype(str)
    placed = cluster_names(coords, clusters, names)
    drawn = draw_map(
        frame, text_column, metadata_columns, coords, color=color, color_title="broad topic", names=placed
    )
    if suffix == ".html":
        path.write_bytes(figures.standalone_html(drawn.figure, texts_of(frame, text_column, drawn.rows)))
        return
    colours = None if color is None else color.iloc[drawn.rows].reset_index(drop=True)
    path.write_bytes(figures.static_image(coords[drawn.rows], colours, placed, suffix.lstrip(".")))


def tag_values(tags: list[tuple[str, ...]]) -> np.ndarray:
    """Each row's tags as one colour value: 'a, b', or UNTAGGED."""
    return np.array([", ".join(t) if t else UNTAGGED for t in tags], dtype=object)
