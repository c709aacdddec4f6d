"""Plotly figures for the map. Hover texts are escaped: a text is shown, never rendered."""

from __future__ import annotations

import functools
import html
import json
import logging
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from embedviz import columns
from embedviz.placement import Name

log = logging.getLogger(__name__)

HOVER_CHARS = 140
MAX_HOVER_COLUMNS = 4
PALETTE = qualitative.Dark24 + qualitative.Light24
"""48 distinct colours, so clusters and groups do not share one."""
CATEGORY_LIMIT = len(PALETTE)
"""Up to this many values each has its own colour and legend entry; beyond, the most frequent
keep theirs and the rest share one grey entry (OTHER_COLOUR)."""
OTHER_COLOUR = "#c8c8c8"
COMPACT_HOVER_ABOVE = 20_000
COMPACT_HOVER_CHARS = 40
"""Above 20k points a hover shows the text's first 40 characters only; the whole row is in the
selection table, looked up by the point's row number. 50k points stay under 5 MB this way."""
TEXT_HOVER_MAX = 50_000
"""Above 50k drawn points a hover shows the point's group and row number, not its text: the
texts of 100k points would be 7.5 MB, over the 5 MB a page may send; select points to read
them in the table."""
MAX_POINTS = 200_000
SAMPLE_POINTS = 50_000
"""Above 200k points the map shades the density of all of them and draws a fixed random
sample of 50k as points (hover, selection); the browser stays smooth at 1M and more."""
DENSITY_BINS = 300
FIGURE_WIDTH, FIGURE_HEIGHT = 800, 600
"""The size names are placed for (px): about the plotting area of the page's map on a laptop
screen (a wider screen only spreads them further apart)."""


def shorten(text: str, limit: int = HOVER_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def drawn_rows(n: int, seed: int = 0, first: np.ndarray | None = None) -> np.ndarray:
    """The rows drawn as points: all of them up to MAX_POINTS, else a fixed random sample of
    SAMPLE_POINTS. `first` (n,) bool marks rows a filter kept: the sample takes them first."""
    if n <= MAX_POINTS:
        return np.arange(n)
    size = min(SAMPLE_POINTS, n)
    rng = np.random.default_rng(seed)
    if first is None or first.all():
        return np.sort(rng.choice(n, size, replace=False))
    kept, rest = np.flatnonzero(first), np.flatnonzero(~first)
    if len(kept) >= size:
        return np.sort(rng.choice(kept, size, replace=False))
    return np.sort(np.concatenate([kept, rng.choice(rest, size - len(kept), replace=False)]))


def hover_texts(frame: pd.DataFrame, text_column: str, columns: list[str], rows=None) -> list[str] | None:
    """One escaped hover label per drawn row (`rows`, default all): the shortened text, then a
    few metadata values; only the text's start when the data is large; None (no texts) beyond
    TEXT_HOVER_MAX drawn rows."""
    compact = len(frame) > COMPACT_HOVER_ABOVE
    frame = frame if rows is None else frame.iloc[rows]
    if len(frame) > TEXT_HOVER_MAX:
        return None
    if compact:
        return [html.escape(shorten(t, COMPACT_HOVER_CHARS)) for t in frame[text_column]]
    shown = [c for c in columns if c != text_column][:MAX_HOVER_COLUMNS]
    lines = [frame[text_column].map(lambda t: html.escape(shorten(t)))]
    for column in shown:
        lines.append(
            frame[column].map(lambda v, c=column: f"{html.escape(c)}: {html.escape(shorten(v, 60))}")
        )
    return ["<br>".join(parts) for parts in zip(*lines, strict=True)]


class Legend(NamedTuple):
    values: np.ndarray
    """Each row's legend entry (str)."""
    order: list[str]
    """The entries in legend order: numbers ascending, text most frequent first, the shared grey
    entry last."""
    other: str | None
    """The entry the rarest values share ("other 103 values"), if there are more than CATEGORY_LIMIT."""

    def colour(self, i: int) -> str:
        """The colour of the i-th entry of `order`: the palette's, grey for the shared entry."""
        return OTHER_COLOUR if self.order[i] == self.other else PALETTE[i % len(PALETTE)]


def categories(values: pd.Series) -> Legend | None:
    """The values as legend entries, or None for numbers or dates of many values, which take a
    colour scale (columns.on_scale). 150 intents keep their names in the legend, not rank
    numbers on a scale; a count of 0 to 10 reads 0, 1, 2, ..., not 3.0, 1.0, 0.0 as they first
    appear."""
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(str)
    elif columns.on_scale(values):
        return None
    elif pd.api.types.is_numeric_dtype(values):
        text = values.map(lambda v: "(none)" if pd.isna(v) else _number(v)).to_numpy(dtype=str)
        order = [_number(v) for v in sorted(values.dropna().unique())]
        return Legend(text, order + (["(none)"] if values.isna().any() else []), None)
    text = values.astype(str)
    counts = text.value_counts(sort=True)
    if len(counts) <= CATEGORY_LIMIT:
        return Legend(text.to_numpy(dtype=str), list(counts.index), None)
    kept = list(counts.index[: CATEGORY_LIMIT - 1])
    other = f"other {len(counts) - len(kept):,} values"
    return Legend(text.where(text.isin(kept), other).to_numpy(dtype=str), [*kept, other], other)


def _number(value) -> str:
    """3.0 -> '3', 1234567.0 -> '1234567', 0.25 -> '0.25'."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def map_figure(
    coords: np.ndarray,
    hover: list[str] | np.ndarray | None,
    color: pd.Series | None = None,
    *,
    color_title: str = "",
    query: np.ndarray | None = None,
    query_neighbors: np.ndarray | None = None,
    added: tuple[np.ndarray, list[str]] | None = None,
    rows: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    names: list[Name] | None = None,
    height: int = 620,
) -> go.Figure:
    """A WebGL scatter of coords (n, 2) or a 3-D scatter of (n, 3); customdata holds the row.

    `rows` (from drawn_rows) are the rows drawn as points; `hover` (None: group and row
    number only), `color` and `keep` are given for those rows only. When they are a sample, a 2-D map shades the density of all rows
    beneath. `keep` (bool) dims the rows a filter leaves out; `names` are drawn over the map;
    `added` (coords (m, dims), hover texts (m,)) are texts placed on the map later.
    """
    dims = coords.shape[1]
    rows = np.arange(len(coords)) if rows is None else np.asarray(rows)
    # a NumPy text array: Plotly checks it as one array, a list string by string (80x slower)
    if hover is not None:
        hover = np.asarray(hover, dtype=str) if len(hover) else np.zeros(0, dtype=str)
    fig = go.Figure()
    if len(rows) < len(coords) and dims == 2:
        fig.add_trace(_density(coords))
    # colours are decided on every drawn row, so a filter dims points without recolouring the rest
    numbers = None if color is None else columns.scale_values(color)
    legend = None if color is None or numbers is not None else categories(color)
    scale = {}
    if numbers is not None and np.isfinite(numbers).any():
        scale = {"cmin": float(np.nanmin(numbers)), "cmax": float(np.nanmax(numbers))}
    colorbar = {"title": {"text": color_title}}
    if scale and not pd.api.types.is_numeric_dtype(color):  # dates: ticks written as dates
        colorbar["tickvals"], colorbar["ticktext"] = columns.date_ticks(scale["cmin"], scale["cmax"])
    if keep is not None and not keep.all():
        out = np.flatnonzero(~keep)
        dim = {"color": "rgb(190,190,190)", "opacity": 0.25, "size": 4 if dims == 2 else 2}
        fig.add_trace(_points(coords[rows[out]], _part(hover, out), rows[out], dims, "filtered out", dim))
        picked = np.flatnonzero(keep)
        rows, hover = rows[picked], _part(hover, picked)
        legend = None if legend is None else legend._replace(values=legend.values[picked])
        numbers = None if numbers is None else numbers[picked]
    points = coords[rows]
    ids = rows.astype(np.int32)
    categorical = legend is not None
    if legend is not None:
        for i, value in enumerate(legend.order):
            mask = legend.values == value
            if not mask.any():  # all filtered out: its colour stays its own
                continue
            marker = {"color": legend.colour(i)}
            fig.add_trace(_points(points[mask], _part(hover, mask), ids[mask], dims, value, marker))
    else:
        marker = {}
        if numbers is not None:
            marker = {
                "color": numbers,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": colorbar,
                **scale,
            }
        fig.add_trace(_points(points, hover, ids, dims, name="texts", marker=marker))
    if added is not None and len(added[0]):
        marker = {
            "symbol": "diamond",
            "size": 9 if dims == 2 else 4,
            "color": "#111111",
            "line": {"width": 1, "color": "white"},
        }
        fig.add_trace(_points(added[0], np.asarray(added[1], dtype=str), None, dims, "added texts", marker))
    if query is not None:
        _add_query(fig, coords, query, query_neighbors, dims)
    if names:
        _add_names(fig, names, dims)
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


def _add_names(fig: go.Figure, names: list[Name], dims: int) -> None:
    """Cluster names as annotations: broad in bold and larger, fine smaller."""
    notes = []
    for name in names:
        broad = name.level == "broad"
        note = {
            "text": f"<b>{html.escape(name.text)}</b>" if broad else html.escape(name.text),
            "showarrow": False,
            "font": {"size": name.font_size, "color": "#111" if broad else "#333"},
            "bgcolor": "rgba(255,255,255,0.65)" if broad else "rgba(255,255,255,0.45)",
            "borderpad": 1,
            "name": f"{name.level}:{name.cluster}",
            "x": name.position[0],
            "y": name.position[1],
        }
        if dims == 3:
            note["z"] = name.position[2]
        notes.append(note)
    if dims == 3:
        fig.update_layout(scene={"annotations": notes})
    else:
        fig.update_layout(annotations=notes)


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


def _part(hover: np.ndarray | None, which) -> np.ndarray | None:
    return None if hover is None else hover[which]


def _points(coords, hover, rows, dims, name, marker=None):
    marker = {"size": 6 if dims == 2 else 3, "opacity": 0.85, **(marker or {})}
    common = {"mode": "markers", "name": str(name), "customdata": rows, "marker": marker}
    if hover is None:  # many points: their group and row, not their texts
        common["hovertemplate"] = "row %{customdata}<extra>%{fullData.name}</extra>"
    else:
        common.update(hovertext=hover, hoverinfo="text")
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
    """Counts binned here, so the page gets nbins bars, not every value (1M scores are 8 MB)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=nbins) if len(values) else (np.zeros(0), np.zeros(1))
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            marker={"color": "#4c78a8"},
            hovertemplate="%{x:.3f}: %{y}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title="count",
        height=320,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        bargap=0.05,
    )
    return fig


FILTER_BOX = """
<div style="font:14px sans-serif;margin:8px 0">
  <input id="embedviz-filter" placeholder="Filter texts: words, or /a regular expression/"
         style="width:420px;padding:4px" autocomplete="off">
  <span id="embedviz-count" style="margin-left:8px;color:#444"></span>
</div>
"""
FILTER_SCRIPT = """
<script>
(function () {
  var gd = document.getElementById("embedviz-map");
  var texts = JSON.parse(document.getElementById("embedviz-texts").textContent);
  var box = document.getElementById("embedviz-filter");
  var count = document.getElementById("embedviz-count");
  function matcher(q) {
    q = q.trim();
    if (!q) return null;
    if (q.length > 2 && q[0] === "/" && q[q.length - 1] === "/") {
      try { var re = new RegExp(q.slice(1, -1), "i"); return function (t) { return re.test(t); }; }
      catch (e) { return undefined; }
    }
    var words = q.toLowerCase().split(/\\s+/);
    return function (t) {
      var l = t.toLowerCase();
      return words.every(function (w) { return l.indexOf(w) >= 0; });
    };
  }
  box.addEventListener("input", function () {
    var match = matcher(box.value);
    if (match === undefined) { count.textContent = "not a valid regular expression"; return; }
    var opacity = [], traces = [], hits = 0, total = 0;
    gd._fullData.forEach(function (trace) {  // decoded arrays (the input may hold base64)
      if (!trace.customdata || trace.type === "heatmap" || trace.name === "filtered out") return;
      opacity.push(Array.from(trace.customdata, function (row) {
        var ok = !match || match(texts[row] || "");
        total += 1; if (ok) hits += 1;
        return ok ? 0.9 : 0.05;
      }));
      traces.push(trace.index);
    });
    Plotly.restyle(gd, {"marker.opacity": opacity}, traces);
    count.textContent = match ? hits.toLocaleString() + " of " + total.toLocaleString() + " match" : "";
  });
})();
</script>
"""


def standalone_html(fig: go.Figure, texts: dict[int, str] | None = None) -> bytes:
    """The figure as one HTML file that works offline (plotly.js inlined). With `texts` (row ->
    text of each drawn point) a filter box above the map highlights the matching points."""
    page = fig.to_html(include_plotlyjs=True, full_html=True, div_id="embedviz-map")
    if texts is not None:
        data = json.dumps({str(k): v for k, v in texts.items()}, ensure_ascii=False).replace("</", "<\\/")
        extra = f'<script type="application/json" id="embedviz-texts">{data}</script>{FILTER_SCRIPT}'
        page = page.replace("<body>", "<body>" + FILTER_BOX, 1).replace("</body>", extra + "</body>", 1)
    return page.encode("utf-8")


def static_image(
    coords: np.ndarray,
    color: pd.Series | None,
    names: list[Name],
    fmt: str = "png",
    size: tuple[float, float] = (FIGURE_WIDTH, FIGURE_HEIGHT),
) -> bytes:
    """The map as PNG or SVG: points coloured like the page (coords (n, 2), color (n,)), and
    the names placed for a figure of `size` pixels."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    point_size = float(np.clip(2000 / max(len(coords), 1) ** 0.5, 2, 40))  # area, pt^2
    numbers = None if color is None else columns.scale_values(color)
    legend = None if color is None or numbers is not None else categories(color)
    if legend is not None:
        for i, value in enumerate(legend.order):
            mask = legend.values == value
            ax.scatter(*coords[mask, :2].T, s=point_size, color=legend.colour(i), lw=0, rasterized=True)
    else:
        shading = {} if numbers is None else {"c": numbers, "cmap": "viridis"}
        ax.scatter(*coords[:, :2].T, s=point_size, lw=0, rasterized=True, **shading)
    families, missing = font_fallback([name.text for name in names])
    if missing and fmt == "png":
        log.warning(
            "no installed font draws %s of the names (e.g. %s): they show as boxes in the PNG; install "
            "a font that has them (Chinese, Japanese: fonts-noto-cjk) or export SVG or HTML, which the "
            "viewer's fonts draw.",
            f"{len(missing)} character(s)",
            missing[:5],
        )
    for name in names:
        broad = name.level == "broad"
        ax.text(
            name.position[0],
            name.position[1],
            name.text,
            fontsize=name.font_size * 0.75,  # px to points
            fontweight="bold" if broad else "normal",
            ha="center",
            va="center",
            color="#111" if broad else "#333",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.65 if broad else 0.45, "lw": 0},
            fontfamily=families,
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_axis_off()
    out = io.BytesIO()
    fonts = logging.getLogger("matplotlib.font_manager")
    if _NO_BOLD not in fonts.filters:
        fonts.addFilter(_NO_BOLD)
    with matplotlib.rc_context({"svg.fonttype": "none"}), warnings.catch_warnings():  # names stay text in SVG
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # said above, once
        fig.tight_layout(pad=0.2)
        fig.savefig(out, format=fmt, dpi=dpi)
    plt.close(fig)
    return out.getvalue()


class _NoBoldNote(logging.Filter):
    """matplotlib's "findfont: Failed to find font weight bold for ...": the fallback font has no
    bold face and its regular one is drawn, as it should be."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to find font weight" not in record.getMessage()


_NO_BOLD = _NoBoldNote()


def font_fallback(texts: Sequence[str]) -> tuple[list[str], str]:
    """The font families that draw `texts` in a PNG: matplotlib's default, then installed fonts
    for the characters it lacks (matplotlib falls back along the list: names in Chinese drew as
    boxes); and the characters no installed font draws."""
    from matplotlib import font_manager, rcParams

    default = font_manager.findfont(font_manager.FontProperties(family=rcParams["font.family"]))
    families = [font_manager.FontProperties(fname=default).get_name()]
    missing = {ord(c) for text in texts for c in text if not c.isspace()} - _glyphs(default)
    listed = [font.fname for font in font_manager.fontManager.ttflist]
    known = set(listed)
    # matplotlib lists the fonts of its first run: one installed since is found on disk
    paths = [*listed, *(path for path in _system_fonts() if path not in known)] if missing else []
    for path in paths:
        drawn = missing & _glyphs(path)
        if not drawn:
            continue
        if path not in known:
            font_manager.fontManager.addfont(path)
        name = font_manager.FontProperties(fname=path).get_name()
        if name not in families and not name.startswith("Last Resort"):  # its glyphs are boxes
            families.append(name)
            missing -= drawn
        if not missing:
            break
    return families, "".join(chr(c) for c in sorted(missing))


@functools.lru_cache(maxsize=1)
def _system_fonts() -> tuple[str, ...]:
    from matplotlib import font_manager

    return tuple(sorted(font_manager.findSystemFonts()))


@functools.lru_cache(maxsize=256)
def _glyphs(path: str) -> frozenset[int]:
    """The characters a font file draws."""
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError):  # an unreadable font draws nothing
        return frozenset()


def tree_nodes(fine_summaries, broad_summaries, fine_names, broad_names) -> list[str]:
    """Node ids of the cluster tree: broad topics ("b:3") first, then fine clusters ("f:12")."""
    return [f"b:{s.cluster}" for s in broad_summaries] + [f"f:{s.cluster}" for s in fine_summaries]


def parse_node(node: str) -> tuple[str, int]:
    """ "b:3" -> ("broad", 3); "f:12" -> ("fine", 12)."""
    kind, _, number = node.partition(":")
    return ("broad" if kind == "b" else "fine"), int(number)


def node_label(node: str, fine_names: dict[int, str], broad_names: dict[int, str]) -> str:
    level, number = parse_node(node)
    name = (broad_names if level == "broad" else fine_names).get(number, "noise")
    return f"{'Topic' if level == 'broad' else 'Cluster'} {number}: {name}"


def cluster_tree(
    fine_summaries, parents: dict[int, int], fine_names, broad_names, height: int = 520
) -> go.Figure:
    """A treemap: broad topics, each holding its fine clusters, sized by their texts."""
    ids, labels, parent_ids, values = [], [], [], []
    totals: dict[int, int] = {}
    for s in fine_summaries:
        totals[parents.get(s.cluster, -1)] = totals.get(parents.get(s.cluster, -1), 0) + s.size
    for b, total in sorted(totals.items()):
        ids.append(f"b:{b}")
        labels.append(html.escape(broad_names.get(b, "noise")))
        parent_ids.append("")
        values.append(total)
    for s in fine_summaries:
        ids.append(f"f:{s.cluster}")
        labels.append(html.escape(fine_names.get(s.cluster, "noise")))
        parent_ids.append(f"b:{parents.get(s.cluster, -1)}")
        values.append(s.size)
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=labels,
            parents=parent_ids,
            values=values,
            branchvalues="total",
            hovertemplate="%{label}<br>%{value} texts<extra></extra>",
            maxdepth=2,
        )
    )
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 10, "b": 0}, colorway=PALETTE)
    return fig
