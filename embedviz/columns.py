"""Metadata columns read as values on a scale: numbers as they are, dates as seconds since 1970.

A column of many numbers or dates is coloured on a scale and filtered by a range; any other
column is coloured and filtered by its values (figures.categories, filters.mask).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

SCALE_MIN_VALUES = 13
"""From this many distinct values a numeric or date column takes a colour scale and a range;
fewer are listed value by value (a count of 0 to 10 reads 0, 1, 2, ...)."""
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")
"""An ISO 8601 date, with a time and a zone or not: text of this form is read as a date."""
DATE_SAMPLE = 1000


def as_dates(values: pd.Series) -> pd.Series | None:
    """The column as UTC timestamps (NaT where empty) when it holds dates: a datetime column, or
    text whose every value (of a spread sample, then all) is an ISO 8601 date. None otherwise."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    if not _date_text(values):
        return None
    parsed = pd.to_datetime(values.astype(str).str.strip().where(values.notna()), errors="coerce", utc=True)
    if parsed[values.notna()].isna().any():  # a value outside the sample is not a date after all
        return None
    return parsed


def as_numbers(values: pd.Series) -> np.ndarray | None:
    """float (n,): a numeric column as it is, a date column as seconds since 1970 (UTC); NaN
    where empty. None for any other column."""
    if pd.api.types.is_bool_dtype(values):
        return None
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    dates = as_dates(values)
    if dates is None:
        return None
    return _seconds(dates)


def scale_values(values: pd.Series) -> np.ndarray | None:
    """as_numbers of a numeric or date column of SCALE_MIN_VALUES or more distinct values, the
    columns that take a colour scale and a range; None for any other."""
    if pd.api.types.is_bool_dtype(values):
        return None
    numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)
    if not (numeric or _date_text(values)):  # before counting values: a million ids are text
        return None
    return as_numbers(values) if values.nunique() >= SCALE_MIN_VALUES else None


def on_scale(values: pd.Series) -> bool:
    return scale_values(values) is not None


def _date_text(values: pd.Series) -> bool:
    """True when a spread sample of a text column's values are all ISO 8601 dates."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna()
    if present.empty:
        return False
    sample = present.iloc[:: max(1, len(present) // DATE_SAMPLE)].astype(str).str.strip()
    return bool(sample.str.fullmatch(DATE_TEXT).all())


def _seconds(dates: pd.Series) -> np.ndarray:
    nanoseconds = dates.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    out = nanoseconds.astype(np.int64).astype(np.float64) / 1e9
    out[np.isnat(nanoseconds)] = np.nan
    return out


def date_text(seconds: float, with_time: bool = False) -> str:
    """A date (seconds since 1970, UTC): 2024-03-05, or 2024-03-05 14:30 with its time."""
    return pd.Timestamp(seconds, unit="s").strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def dates_text(*seconds: float) -> list[str]:
    """Dates written alike: with their times when one of them falls within a day."""
    with_time = any(s % 86400 for s in seconds)
    return [date_text(s, with_time) for s in seconds]


def date_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Evenly spaced ticks for a colour scale of dates (seconds): their values and texts, with
    times for a range of under three days."""
    values = [float(v) for v in np.linspace(low, high, count)] if high > low else [float(low)]
    return values, [date_text(v, high - low < 3 * 86400) for v in values]


def date_slider(low: float, high: float) -> tuple[datetime, datetime, timedelta, str]:
    """A slider over dates from `low` to `high` (seconds): its ends as naive UTC datetimes,
    widened to whole steps so the first and last dates are inside; its step (a day, or a minute
    for a range of under three days); and the slider's format."""
    step = 86400 if high - low >= 3 * 86400 else 60
    start = np.floor(low / step) * step
    end = max(np.ceil(high / step) * step, start + step)
    fmt = "YYYY-MM-DD" if step == 86400 else "YYYY-MM-DD HH:mm"
    return to_datetime(start), to_datetime(end), timedelta(seconds=step), fmt


def to_datetime(seconds: float) -> datetime:
    return datetime(1970, 1, 1) + timedelta(seconds=float(seconds))


def to_seconds(value: datetime) -> float:
    return (value - datetime(1970, 1, 1)).total_seconds()
