"""Cluster names on the map: one per cluster at its centre, sized by its size, never overlapping.

Boxes are estimated in screen pixels for a figure of a given size (a character is about 0.6 of
the font size wide), so the same rule serves the page, the HTML export and the static image.
Broad names are placed first and largest; a fine name that would cover another is moved a
little, or left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

CHAR_WIDTH = 0.6
LINE_HEIGHT = 1.35
BROAD_FONT = (13.0, 20.0)
FINE_FONT = (9.0, 12.0)
PADDING = 0.06
"""Share of the coordinate range Plotly adds around the points (its autorange margin)."""


@dataclass(frozen=True)
class Name:
    text: str
    position: tuple[float, ...]
    """In map coordinates: (x, y) or (x, y, z)."""
    font_size: float
    level: str
    cluster: int
    members: int


@dataclass(frozen=True)
class Canvas:
    """Map coordinates -> pixels for a figure of width x height px with equal axis scales."""

    x0: float
    y0: float
    scale: float
    """Pixels per map unit."""

    @classmethod
    def fit(cls, coords: np.ndarray, width: float = 1000, height: float = 620) -> Canvas:
        low, high = coords[:, :2].min(axis=0), coords[:, :2].max(axis=0)
        span = np.maximum(high - low, 1e-9) * (1 + 2 * PADDING)
        scale = float(min(width / span[0], height / span[1]))
        return cls(float(low[0] - PADDING * span[0]), float(low[1] - PADDING * span[1]), scale)

    def box(self, name: Name) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in pixels of the name's text, centred on its position."""
        x = (name.position[0] - self.x0) * self.scale
        y = (name.position[1] - self.y0) * self.scale
        half_w = CHAR_WIDTH * name.font_size * len(name.text) / 2
        half_h = LINE_HEIGHT * name.font_size / 2
        return (x - half_w, y - half_h, x + half_w, y + half_h)


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def centres(coords: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """Each cluster's centre (noise excluded): the member nearest the members' median, so a
    name sits on its points even when a cluster is curved. coords (n, dims) -> {c: (dims,)}."""
    out = {}
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for rows in np.split(order, bounds):
        c = int(labels[rows[0]])
        if c < 0:
            continue
        points = coords[rows]
        median = np.median(points, axis=0)
        out[c] = points[np.argmin(((points - median) ** 2).sum(axis=1))]
    return out


def font_size(members: int, largest: int, limits: tuple[float, float]) -> float:
    """Grows with the square root of a cluster's size, from the level's smallest font to its
    largest for the level's largest cluster."""
    low, high = limits
    return float(round(low + (high - low) * np.sqrt(members / max(largest, 1)), 1))


def place(
    coords: np.ndarray,
    levels: Sequence[tuple[str, np.ndarray, dict[int, str]]],
    canvas: Canvas | None = None,
) -> list[Name]:
    """Names for each level in turn (broad first): levels are (level, labels (n,), names).

    In 2-D a name goes to its cluster's centre, or a little above, below or beside it, where it
    covers no name placed before; where none of those is free, it is left out. In 3-D every
    name is kept (the view turns, so no overlap holds for long)."""
    dims = coords.shape[1]
    canvas = canvas or Canvas.fit(coords)
    placed: list[Name] = []
    boxes: list[tuple[float, float, float, float]] = []
    for level, labels, names in levels:
        limits = BROAD_FONT if level == "broad" else FINE_FONT
        sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(1, int)
        largest = int(sizes.max())
        for c, centre in sorted(centres(coords, labels).items(), key=lambda item: -sizes[item[0]]):
            members = int(sizes[c])
            text = names.get(c, f"cluster {c}")
            position = tuple(float(v) for v in centre)
            name = Name(text, position, font_size(members, largest, limits), level, c, members)
            if dims == 3:
                placed.append(name)
                continue
            for candidate in _nudged(name, canvas):
                box = canvas.box(candidate)
                if not any(overlaps(box, other) for other in boxes):
                    placed.append(candidate)
                    boxes.append(box)
                    break
    return placed


def _nudged(name: Name, canvas: Canvas) -> Iterable[Name]:
    """The name at its centre, then moved by one line up, down, left and right."""
    step = LINE_HEIGHT * name.font_size / canvas.scale
    x, y = name.position[:2]
    for dx, dy in ((0, 0), (0, step), (0, -step), (-2 * step, 0), (2 * step, 0)):
        yield Name(name.text, (x + dx, y + dy), name.font_size, name.level, name.cluster, name.members)
