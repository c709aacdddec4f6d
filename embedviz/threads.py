"""The threads embedviz starts beside the user's work, and what makes them safe to start.

Python 3.11 before 3.11.8 (and 3.12 before 3.12.2) keeps one recursion counter for every
`ast.parse` in the process (CPython gh-106905). Two threads parsing at once, when a garbage
collection inside one runs Python code, fail with "SystemError: AST constructor recursion depth
mismatch". Importing torch parses (inspect reads string annotations), and so do Streamlit, to
compile each page, and pytest, to rewrite assertions: the model loaded in the background could
break a page's first run, or a test run after its last test. On those versions `ast.parse` is
made to take a lock first, before any thread is started.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from collections.abc import Callable

_parse_lock = threading.RLock()


def parse_races(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> bool:
    """Whether this Python's ast.parse can fail when two threads parse at once."""
    return version < (3, 11, 8) or (3, 12) <= version < (3, 12, 2)


def guard_ast_parse() -> None:
    """Make `ast.parse` one thread at a time where parse_races; once per process."""
    if not parse_races() or getattr(ast.parse, "one_at_a_time", False):
        return
    unguarded = ast.parse

    @functools.wraps(unguarded)
    def parse(*args, **kwargs):
        with _parse_lock:
            return unguarded(*args, **kwargs)

    parse.one_at_a_time = True
    ast.parse = parse


def start_daemon(target: Callable[[], None], name: str) -> threading.Thread:
    """target on a daemon thread named `name`, started after guard_ast_parse."""
    guard_ast_parse()
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
