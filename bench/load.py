"""Eight browser sessions on one server, each uploading a different dataset at the same time.

    python bench/load.py [--sessions 8] [--rows 400]

Starts `streamlit run app.py` (empty store, EMBEDVIZ_LOG_LEVEL=INFO) and opens one headless
Chromium context per session; each uploads its own slice of a shared dataset on the Data page
and waits for its map. Prints per-session seconds, how often the model was loaded, and the
server's peak memory. Bounded: every wait has a time limit.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
SOURCES = [
    "ag_news_test",
    "banking77",
    "snips",
    "clinc150",
    "sms_spam",
    "bbc_news",
    "tweeteval_emoji",
    "ag_news_test",
]
LIMIT_MS = int(os.environ.get("EMBEDVIZ_LOAD_LIMIT_S", "600")) * 1000


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of the server process (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rows", type=int, default=400)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedviz-load-"))
    files = []
    for i in range(args.sessions):
        name = SOURCES[i % len(SOURCES)]
        frame = pd.read_csv(SHARED / name / "data.csv.gz").sample(args.rows, random_state=i)
        path = work / f"session{i}_{name}.csv"
        frame.to_csv(path, index=False)
        files.append(path)

    os.environ["EMBEDVIZ_LOG_LEVEL"] = "INFO"
    log_path = work / "streamlit.log"
    results: dict[int, float | str] = {}
    ready = threading.Barrier(args.sessions)

    def session(i: int, path: Path, url: str) -> None:
        """One user in a browser of its own; uploads start together once every page is ready."""
        step = "start"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(url)
                page.wait_for_function(
                    "() => document.querySelector('.js-plotly-plot')?._fullData?.some(t => t._length > 0)",
                    timeout=LIMIT_MS,
                )
                page.get_by_role("link", name="Data").click()
                page.get_by_text("Upload a file").click()
                page.locator("input[type=file]").wait_for(state="attached", timeout=LIMIT_MS)
                ready.wait(timeout=LIMIT_MS / 1000)
                started = time.perf_counter()
                page.locator("input[type=file]").set_input_files(str(path))
                step = "upload shown"
                page.wait_for_function(  # the Data page has read this upload: its row count shows
                    "n => [...document.querySelectorAll('[data-testid=stMetricValue]')].some(e => e.innerText === n)",
                    arg=f"{args.rows:,}",
                    timeout=LIMIT_MS,
                )
                step = "map of the upload"
                page.get_by_role("link", name="Map").click()
                page.wait_for_function(
                    "n => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData &&"
                    " g._fullData.reduce((s, t) => s + (t._length || 0), 0) === n }",
                    arg=args.rows,
                    timeout=LIMIT_MS,
                )
                results[i] = time.perf_counter() - started
                browser.close()
        except Exception as e:  # report and let the other sessions finish
            results[i] = f"failed at {step}: {type(e).__name__}"

    with streamlit_server(work / "cache", log_path) as url:
        port = url.rsplit(":", 1)[1]
        server_pid = int(os.popen(f"pgrep -f 'streamlit run app.py --server.port {port}'").read().split()[0])
        threads = [threading.Thread(target=session, args=(i, path, url)) for i, path in enumerate(files)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=3 * LIMIT_MS / 1000)
        peak = peak_rss_mb(server_pid)
    loads = log_path.read_text().count("loading model")
    print("| session | dataset slice | map shown after (s) |\n|---|---|---:|")
    for i, path in enumerate(files):
        value = results[i]
        print(f"| {i + 1} | {path.name} | {value if isinstance(value, str) else f'{value:.1f}'} |")
    done = sum(isinstance(v, float) for v in results.values())
    print(
        f"\n{done} of {args.sessions} sessions finished; model loaded {loads} time(s); "
        f"server peak memory {peak:,.0f} MB"
    )


if __name__ == "__main__":
    main()
