"""An in-process memo shared by every session of a server: least recently used first out, bounded
by bytes (not entries), and one computation per key at a time (a second caller waits for the
first one's result instead of computing it again)."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DEFAULT_BUDGET_MB = 4096
"""EMBEDVIZ_MEMO_MB overrides. 4 GB of results on a 24 GB machine leaves room for the models,
the work in flight and several large sessions; a result larger than the budget is not kept."""


def budget_from_env() -> int:
    try:
        return int(float(os.environ.get("EMBEDVIZ_MEMO_MB", DEFAULT_BUDGET_MB)) * 2**20)
    except ValueError:
        return DEFAULT_BUDGET_MB * 2**20


def nbytes(value, _depth: int = 0) -> int:
    """An estimate of the memory a value holds: exact for arrays, close for frames."""
    if _depth > 6 or value is None:
        return 0
    if isinstance(value, np.ndarray):
        if value.dtype != object:
            return int(value.nbytes)
        flat = value.ravel()
        sample = flat[:1000]
        scale = max(1, len(flat) // max(1, len(sample)))
        return int(value.nbytes) + sum(nbytes(v, _depth + 1) for v in sample) * scale
    if isinstance(value, pd.DataFrame | pd.Series):
        return _frame_bytes(value)
    if isinstance(value, str | bytes):
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(
            nbytes(k, _depth + 1) + nbytes(v, _depth + 1) for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if len(items) > 1000:  # a sample, scaled
            return (
                sys.getsizeof(value) + sum(nbytes(v, _depth + 1) for v in items[:1000]) * len(items) // 1000
            )
        return sys.getsizeof(value) + sum(nbytes(v, _depth + 1) for v in items)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name), _depth + 1) for f in dataclasses.fields(value))
    own = getattr(value, "nbytes", None)  # an object that says what it holds
    return own if isinstance(own, int) else sys.getsizeof(value)


def _frame_bytes(frame: pd.DataFrame | pd.Series) -> int:
    """Shallow memory, plus the characters of text columns estimated from a sample."""
    frame = frame.to_frame() if isinstance(frame, pd.Series) else frame
    total = int(frame.memory_usage(index=True, deep=False).sum())
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            sample = values.iloc[:: max(1, len(values) // 500)].astype(str)
            total += int((sample.str.len().mean() if len(sample) else 0) * len(values)) + 50 * len(values)
    return total


@dataclasses.dataclass
class _Flight:
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    value: object = None
    failed: bool = False


class Memo:
    def __init__(self, budget: int | None = None) -> None:
        self.budget = budget_from_env() if budget is None else budget
        self._items: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self.used = 0
        self.computed = 0
        """How many values were computed (not found or waited for): what tests and logs count."""

    def peek(self, key: Hashable):
        """The value under key if one is kept, else None (nothing is computed)."""
        with self._lock:
            hit = self._items.get(key)
            return None if hit is None else hit[0]

    def get_or_compute(self, key: Hashable, compute: Callable, on_wait: Callable[[], None] | None = None):
        """The value under key; computed once even when several callers ask at the same time.

        A caller that finds the key in flight waits (on_wait, if given, is called first, to say
        so); if that computation fails, it tries on its own."""
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]
                flight = self._flights.get(key)
                owner = flight is None
                if owner:
                    flight = self._flights[key] = _Flight()
            if owner:
                break
            if on_wait is not None:
                on_wait()
            flight.done.wait()
            if not flight.failed:
                return flight.value
        try:
            value = compute()
        except BaseException:
            flight.failed = True
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
            raise
        size = nbytes(value)
        with self._lock:
            self.computed += 1
            if size <= self.budget:
                self._items[key] = (value, size)
                self.used += size
                self._evict()
            else:
                log.info("a result of %.0f MB is larger than the memo's budget: not kept", size / 2**20)
            flight.value = value
            self._flights.pop(key, None)
        flight.done.set()
        return value

    def _evict(self) -> None:
        while self.used > self.budget and self._items:
            _, (_, size) = self._items.popitem(last=False)
            self.used -= size
