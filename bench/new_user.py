"""A new user's session, timed: open the app (sample map), upload a file on the Data page,
embed it, see its map, search it. Prints one row per step.

    python bench/new_user.py [FILE]      # default: ../shared/datasets/bbc_news/data.csv.gz

Starts `streamlit run app.py` with an empty store, drives Debian's headless chromium.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import CHROMIUM, CHROMIUM_ARGS, plotted_points, streamlit_server  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "datasets" / "bbc_news" / "data.csv.gz"
LONG = 900_000


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    rows = []
    work = Path(tempfile.mkdtemp(prefix="embedviz-new-user-"))
    started = time.perf_counter()

    def step(name: str, t0: float, detail: str = "") -> None:
        rows.append((name, time.perf_counter() - t0, detail))
        print(f"{name:<34} {rows[-1][1]:8.1f} s  {detail}", flush=True)

    with streamlit_server(work / "cache", work / "streamlit.log") as url, sync_playwright() as p:
        step("server healthy", started)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_function(
            "() => document.querySelector('.js-plotly-plot')?._fullData?.some(t => t._length > 0)",
            timeout=LONG,
        )
        step("sample map shown", t0, f"{plotted_points(page)} points")

        t0 = time.perf_counter()
        page.get_by_role("link", name="Data").click()
        page.get_by_text("Upload a file").click()
        page.locator("input[type=file]").set_input_files(str(path))
        page.wait_for_function(f"() => document.body.innerText.includes('{path.name}')", timeout=LONG)
        page.get_by_text("Dropped (empty)").wait_for(timeout=LONG)
        step("upload and preview", t0, path.name)

        t0 = time.perf_counter()
        page.get_by_role("button", name="Embed").click()
        page.get_by_text("texts embedded").wait_for(timeout=LONG)
        step("embed (progress bar shown)", t0, page.get_by_text("texts embedded").inner_text())

        t0 = time.perf_counter()
        page.get_by_role("link", name="Map").click()
        page.wait_for_function(
            "() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData && "
            "g._fullData.reduce((n, t) => n + (t._length || 0), 0) > 100 }",
            timeout=LONG,
        )
        step("map of the upload (UMAP, clusters)", t0, f"{plotted_points(page)} points")

        t0 = time.perf_counter()
        page.get_by_role("link", name="Search").click()
        page.get_by_role("heading", name="Search").wait_for(timeout=LONG)
        query = page.get_by_label("Query", exact=True)
        query.fill("interest rates and inflation")
        query.press("Enter")
        page.get_by_text("Nearest texts").wait_for(timeout=LONG)
        step("search", t0)
        browser.close()

    print("\n| step | seconds | detail |\n|---|---:|---|")
    for name, seconds, detail in rows:
        print(f"| {name} | {seconds:.1f} | {detail} |")


if __name__ == "__main__":
    main()
