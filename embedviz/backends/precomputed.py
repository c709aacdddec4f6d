"""Vectors the user brings: a column of the table or a .npy file with one row per text."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from embedviz.backends.base import Backend, normalize
from embedviz.errors import BackendError, InputError


class PrecomputedBackend(Backend):
    """Holds (n, d) vectors aligned with the corpus rows. It cannot embed new text."""

    name = "precomputed"
    persist = False
    chunk_size = 1_000_000

    def __init__(self, vectors: np.ndarray, source: str = "vectors"):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] == 0:
            raise InputError(f"{source}: expected one vector per row, got shape {vectors.shape}.")
        if vectors.shape[1] < 2:
            raise InputError(
                f"{source}: one number per row is no vector to compare texts by; give vectors of "
                "2 or more numbers (a column of single numbers is a score: colour the map by it)."
            )
        try:
            self.vectors = normalize(vectors)
        except BackendError as e:
            raise InputError(f"{source}: {e} Fix or drop those rows.") from None
        zero = int((~self.vectors.any(axis=1)).sum())
        if zero:
            raise InputError(
                f"{source}: {zero:,} vector(s) are all zeros, with no direction to compare by; "
                "drop those rows or give them vectors."
            )
        self.source = source
        self.model = source
        self._digest = hashlib.sha256(self.vectors.tobytes()).hexdigest()[:32]
        self._rows: dict[str, int] = {}

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def identity(self) -> dict:
        return {"backend": self.name, "dimension": self.dimension, "vectors": self._digest}

    def fit(self, texts: Sequence[str]) -> None:
        if len(texts) != len(self.vectors):
            raise InputError(
                f"{self.source}: {len(self.vectors):,} vectors for {len(texts):,} texts; "
                "give one vector per text row."
            )
        self._texts = list(texts)
        self._rows = {}
        for row, text in enumerate(texts):
            self._rows.setdefault(text, row)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if list(texts) == getattr(self, "_texts", None):
            return self.vectors
        missing = [t for t in texts if t not in self._rows]
        if missing:
            raise BackendError(
                "precomputed vectors cannot embed new text; search by row, or pick a model backend."
            )
        return self.vectors[[self._rows[t] for t in texts]]


def vectors_from_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """(n, d) float32 from a column of lists, arrays or strings like "[0.1, 0.2]" or "0.1 0.2"."""
    if column not in frame.columns:
        raise InputError(f"no column named {column!r}; the columns are {', '.join(frame.columns)}.")
    rows = []
    for number, cell in enumerate(frame[column]):
        if isinstance(cell, str):
            cell = [part for part in re.split(r"[,\s]+", cell.strip().strip("[]()")) if part]
        try:
            rows.append(np.asarray(cell, dtype=np.float32).ravel())
        except (TypeError, ValueError):
            raise InputError(f"column {column!r}, row {number}: not a list of numbers.") from None
    sizes = {len(r) for r in rows}
    if len(sizes) != 1:
        raise InputError(
            f"column {column!r}: vectors of different lengths ({', '.join(map(str, sorted(sizes)[:5]))})."
        )
    return np.vstack(rows)


def vectors_from_npy(path: str | Path, corpus_rows: np.ndarray, n_input_rows: int) -> np.ndarray:
    """Rows of a .npy file for the corpus's kept rows; it must have one row per input row."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable .npy file ({e}).") from None
    if array.ndim != 2:
        raise InputError(f"{path}: expected a 2-D array (rows, dimensions), got shape {array.shape}.")
    if len(array) != n_input_rows:
        raise InputError(
            f"{path}: {len(array):,} vectors for {n_input_rows:,} input rows; give one vector per row."
        )
    return array[corpus_rows]
