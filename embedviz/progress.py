"""Progress events, reported by long stages to whoever draws them (a tqdm bar, st.progress)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int
    detail: str = ""


OnProgress = Callable[[Progress], None]


def ignore(event: Progress) -> None:
    """The default: report nothing."""
