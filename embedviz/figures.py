"""Plotly figures for the map. Hover texts are escaped: a text is shown, never rendered."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

HOVER_CHARS = 140
MAX_HOVER_COLUMNS = 4
CATEGORY_LIMIT = 60
"""Above this many distinct values a column is coloured as numbers (or by rank)."""
PALETTE = qualitative.Dark24 + qualitative.Light24
"""48 distinct colours, so clusters and groups do not share one."""
COMPACT_HOVER_ABOVE = 20_000
COMPACT_HOVER_CHARS = 60
"""Above 20k points a hover shows the text's first 60 characters only; the whole row is in the
selection table, looked up by the point's row number. 100k points stay under 10 MB this way."""
MAX_POINTS = 200_000
SAMPLE_POINTS = 50_000
"""Above 200k points the map shades the density of all of them and draws a fixed random
sample of 50k as points (hover, selection); the browser stays smooth at 1M and more."""
DENSITY_BINS = 300


def shorten(text: str, limit: int = HOVER_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def drawn_rows(n: int, seed: int = 0) -> np.ndarray:
    """The rows drawn as points: all of them up to MAX_POINTS, else a fixed random sample."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, min(SAMPLE_POINTS, n), replace=False))


def hover_texts(frame: pd.DataFrame, text_column: str, columns: list[str], rows=None) -> list[str]:
    """One escaped hover label per drawn row (`rows`, default all): the shortened text, then a
    few metadata values; only the text's start when the data is large."""
    compact = len(frame) > COMPACT_HOVER_ABOVE
    frame = frame if rows is None else frame.iloc[rows]
    if compact:
        return [html.escape(shorten(t, COMPACT_HOVER_CHARS)) for t in frame[text_column]]
    shown = [c for c in columns if c != text_column][:MAX_HOVER_COLUMNS]
    lines = [frame[text_column].map(lambda t: html.escape(shorten(t)))]
    for column in shown:
        lines.append(
            frame[column].map(lambda v, c=column: f"{html.escape(c)}: {html.escape(shorten(v, 60))}")
        )
    return ["<br>".join(parts) for parts in zip(*lines, strict=True)]


def is_categorical(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 12:
        return False
    return values.nunique() <= CATEGORY_LIMIT


def map_figure(
    coords: np.ndarray,
    hover: list[str],
    color: pd.Series | None = None,
    *,
    color_title: str = "",
    query: np.ndarray | None = None,
    query_neighbors: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    height: int = 620,
) -> go.Figure:
    """A WebGL scatter of coords (n, 2) or a 3-D scatter of (n, 3); customdata holds the row.

    `rows` (from drawn_rows) are the rows drawn as points; `hover` and `color` are given for
    those rows only. When they are a sample, a 2-D map shades the density of all rows beneath.
    """
    dims = coords.shape[1]
    rows = np.arange(len(coords)) if rows is None else np.asarray(rows)
    fig = go.Figure()
    if len(rows) < len(coords) and dims == 2:
        fig.add_trace(_density(coords))
    points = coords[rows]
    ids = rows.astype(np.int32)
    categorical = color is not None and is_categorical(color)
    if categorical:
        values = color.astype(str).to_numpy()
        for value in pd.unique(values):
            mask = values == value
            picked = np.nonzero(mask)[0]
            fig.add_trace(_points(points[mask], [hover[i] for i in picked], ids[mask], dims, name=value))
    else:
        marker = {}
        if color is not None:
            numbers = pd.to_numeric(color, errors="coerce")
            if numbers.isna().all():
                numbers = pd.Series(pd.factorize(color)[0], index=color.index)
            marker = {
                "color": numbers.to_numpy(),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": color_title}},
            }
        fig.add_trace(_points(points, hover, ids, dims, name="texts", marker=marker))
    if query is not None:
        _add_query(fig, coords, query, query_neighbors, dims)
    fig.update_layout(
        height=height,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        legend={"title": {"text": color_title}, "itemsizing": "constant"},
        dragmode="lasso" if dims == 2 else "orbit",
        uirevision="map",
        showlegend=categorical,
        colorway=PALETTE,
    )
    if dims == 2:
        fig.update_xaxes(showticklabels=False, title=None)
        fig.update_yaxes(showticklabels=False, title=None, scaleanchor="x")
    return fig


def placeholder(height: int = 620) -> go.Figure:
    """An empty WebGL map, shown while the real one is computed."""
    fig = go.Figure(go.Scattergl(x=[], y=[], mode="markers"))
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 30, "b": 0})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _density(coords: np.ndarray) -> go.Heatmap:
    """Log counts of all points on a grid: a few hundred kB whatever the number of points."""
    counts, x_edges, y_edges = np.histogram2d(coords[:, 0], coords[:, 1], bins=DENSITY_BINS)
    return go.Heatmap(
        z=np.log1p(counts.T).astype(np.float32),
        x=((x_edges[:-1] + x_edges[1:]) / 2).astype(np.float32),
        y=((y_edges[:-1] + y_edges[1:]) / 2).astype(np.float32),
        colorscale=[[0.0, "rgba(255,255,255,0)"], [1e-6, "rgb(235,235,235)"], [1.0, "rgb(60,60,60)"]],
        showscale=False,
        hoverinfo="skip",
        name="density of all points",
    )


def _points(coords, hover, rows, dims, name, marker=None):
    marker = {"size": 6 if dims == 2 else 3, "opacity": 0.85, **(marker or {})}
    common = {
        "mode": "markers",
        "name": str(name),
        "hovertext": hover,
        "hoverinfo": "text",
        "customdata": rows,
        "marker": marker,
    }
    if dims == 2:
        return go.Scattergl(x=coords[:, 0], y=coords[:, 1], **common)
    return go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], **common)


def _add_query(fig, coords, query, neighbors, dims) -> None:
    if neighbors is not None and len(neighbors):
        xs, ys, zs = [], [], []
        for i in neighbors:
            xs += [query[0], coords[i, 0], None]
            ys += [query[1], coords[i, 1], None]
            if dims == 3:
                zs += [query[2], coords[i, 2], None]
        line = {
            "mode": "lines",
            "line": {"color": "#d62728", "width": 1},
            "hoverinfo": "skip",
            "name": "neighbours",
            "showlegend": False,
        }
        fig.add_trace(
            go.Scattergl(x=xs, y=ys, **line) if dims == 2 else go.Scatter3d(x=xs, y=ys, z=zs, **line)
        )
    marker = {
        "size": 16 if dims == 2 else 8,
        "symbol": "star" if dims == 2 else "diamond",
        "color": "#d62728",
    }
    point = {
        "mode": "markers",
        "name": "query",
        "marker": marker,
        "hovertext": ["your query"],
        "hoverinfo": "text",
    }
    if dims == 2:
        fig.add_trace(go.Scattergl(x=[query[0]], y=[query[1]], **point))
    else:
        fig.add_trace(go.Scatter3d(x=[query[0]], y=[query[1]], z=[query[2]], **point))


def histogram(values: np.ndarray, title: str, x_title: str, nbins: int = 50) -> go.Figure:
    fig = go.Figure(go.Histogram(x=values, nbinsx=nbins, marker={"color": "#4c78a8"}))
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title="count",
        height=320,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        bargap=0.05,
    )
    return fig


def standalone_html(fig: go.Figure) -> bytes:
    """The figure as one HTML file that works offline (plotly.js inlined)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
