"""The Markdown table every bench prints at its end (copied into bench/README.md)."""

from __future__ import annotations


def print_table(header: str, rows: list[str]) -> None:
    """header: '| a | b |'; rows: lines of the same shape."""
    print()
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    print("\n".join(rows))
