"""Narrowing the texts: by words or a regular expression, and by a metadata column.

A filter is a plain value (so a page can keep it and a link can carry it); `mask` turns it into
one boolean per row. Filters combine with each other and with a selection by AND.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedviz import columns
from embedviz.errors import InputError


@dataclass(frozen=True)
class Filter:
    text: str = ""
    """Words that must all appear (any case), or /a regular expression/."""
    column: str | None = None
    values: tuple[str, ...] = ()
    """Kept values of `column` (compared as text); empty keeps all."""
    low: float | None = None
    high: float | None = None
    """A numeric or date column's kept range, ends included (dates in seconds since 1970)."""
    dates: bool = False
    """The range is of dates: it is written as dates."""

    @property
    def active(self) -> bool:
        return bool(self.text.strip()) or (
            self.column is not None and (bool(self.values) or self.low is not None or self.high is not None)
        )

    def describe(self) -> str:
        parts = []
        if self.text.strip():
            parts.append(f"text matches {self.text.strip()!r}")
        if self.column is not None and self.values:
            parts.append(
                f"{self.column} is {', '.join(self.values[:5])}{'…' if len(self.values) > 5 else ''}"
            )
        if self.column is not None and (self.low is not None or self.high is not None):
            ends = [v for v in (self.low, self.high) if v is not None]
            written = columns.dates_text(*ends) if self.dates else [f"{v:g}" for v in ends]
            if self.low is None:
                written.insert(0, "…")
            if self.high is None:
                written.append("…")
            parts.append(f"{self.column} from {written[0]} to {written[1]}")
        return " and ".join(parts)


def regex(query: str) -> re.Pattern | None:
    """The pattern of a /.../ query (case-insensitive), None for a query of plain words."""
    query = query.strip()
    if not (len(query) > 2 and query.startswith("/") and query.endswith("/")):
        return None
    try:
        return re.compile(query[1:-1], re.IGNORECASE)
    except re.error as e:
        raise InputError(f"the filter {query} is not a valid regular expression ({e}).") from None


def text_mask(texts: pd.Series, query: str) -> np.ndarray:
    """(n,) bool: texts matching /a regular expression/, or holding every word (any case)."""
    pattern = regex(query)
    if pattern is not None:
        with warnings.catch_warnings():  # pandas warns of the groups of /(a|b)/: only a match counts
            warnings.filterwarnings("ignore", message=".*has match groups.*")
            return texts.astype(str).str.contains(pattern, regex=True, na=False).to_numpy()
    lowered = texts.astype(str).str.lower()
    keep = np.ones(len(texts), dtype=bool)
    for word in query.lower().split():
        keep &= lowered.str.contains(word, regex=False, na=False).to_numpy()
    return keep


def mask(frame: pd.DataFrame, text_column: str, flt: Filter) -> np.ndarray:
    """(n,) bool: the rows the filter keeps (all of them when it is empty)."""
    keep = np.ones(len(frame), dtype=bool)
    if flt.text.strip():
        keep &= text_mask(frame[text_column], flt.text)
    if flt.column is not None:
        if flt.column not in frame:
            raise InputError(f"there is no column {flt.column!r} to filter on.")
        values = frame[flt.column]
        if flt.values:
            keep &= values.astype(str).isin(flt.values).to_numpy()
        if flt.low is not None or flt.high is not None:
            numbers = columns.as_numbers(values)
            if numbers is None:
                raise InputError(
                    f"the column {flt.column!r} holds neither numbers nor dates to keep a range of."
                )
            low = -np.inf if flt.low is None else flt.low
            high = np.inf if flt.high is None else flt.high
            keep &= (numbers >= low) & (numbers <= high)
    return keep
