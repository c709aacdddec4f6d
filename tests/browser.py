"""Drive the real dashboard in headless Chromium: start `streamlit run app.py` on a free
loopback port, then walk a user's flow. Used by the browser test (EMBEDVIZ_SCREENSHOTS=docs saves its screenshots there)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


RUN_ENDED = (
    "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"
    " === 'notRunning'"
)
"""True once the app's script run is over: its element says so, as Streamlit's own browser tests
read it. The running indicator (stStatusWidget) is not drawn with the minimal toolbar, so a
wait for it to hide ended at once."""


def run_ended(page, timeout_ms: float = 120_000) -> None:
    """Wait until the app's script run is over (RUN_ENDED)."""
    page.wait_for_timeout(300)
    page.wait_for_function(RUN_ENDED, timeout=timeout_ms)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    cache_dir: Path, log_path: Path, timeout: float = 90, script_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """`streamlit run app.py [-- script_args]` on 127.0.0.1; yields its URL once
    /_stcore/health answers ok."""
    with streamlit_process(cache_dir, log_path, timeout, script_args) as (url, _):
        yield url


@contextlib.contextmanager
def streamlit_process(
    cache_dir: Path, log_path: Path, timeout: float = 90, script_args: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen]]:
    """streamlit_server, yielding the server process too (benchmarks read its memory)."""
    port = free_port()
    env = dict(os.environ, EMBEDVIZ_CACHE_DIR=str(cache_dir))
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        *(["--", *script_args] if script_args else []),
    ]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early; see {log_path}")
                with contextlib.suppress(OSError):
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"streamlit not healthy after {timeout:.0f} s; see {log_path}")
                time.sleep(0.3)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def plotted_points(page) -> int:
    """Markers plotly drew for texts in the first chart (the query star excluded)."""
    return page.evaluate(
        """() => document.querySelector('.js-plotly-plot')._fullData
              .filter(t => t.mode === 'markers' && t.name !== 'query')
              .reduce((n, t) => n + (t._length || 0), 0)"""
    )


def distinct_colours(png: bytes) -> int:
    """How many colours a screenshot holds: a blank chart has a handful, a drawn one many."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 20) or [])


def results_column(page, column: int) -> list[str]:
    """The texts of one column of the first data frame (its accessible grid cells)."""
    table = page.locator("[data-testid='stDataFrame']").first
    cells = table.locator(f"[data-testid^='glide-cell-{column}-']")
    return [c.inner_text() for c in cells.all()]
