"""Every page of the dashboard at scale, in headless Chromium: seconds until shown, bytes sent to
the browser, the server's peak memory; the map's filters at 1M rows; two sessions asking for
the same new map at once.

    python bench/pages.py [--only baseline,100k,1m,2m-folder,single-flight] [--cache DIR]

baseline: the bundled 240-text sample, the floor of this machine's browser for any page.

100k: tweeteval_emoji (100,000 tweets), its vectors, map, clusters and graph computed first by
`embedviz map` into the store (about 9 minutes cold; --cache DIR keeps that store for a later
run). 1M: a generated file of 1,000,000 short texts with their own x, y and a group column, no
vectors. 2m-folder: a map folder of 2,000,000 rows (the 100k tweets embedded and mapped, each
row written 20 times with noise), more than the dashboard keeps vectors for in memory, so its
vectors stay on disk and search uses the folder's index. Each page is opened in a new session of a browser that has loaded the app once (its
scripts cached) after the server computed or loaded what the page needs, so the figure is what
a user waits for on a return visit; "first" is the first session's figure, server work
included. A page is "shown" when its main content is there: the map's points, the search
results, the cluster tree, the outlier table, both compared maps, or the message asking before
long work starts (pages that need vectors at 1M, where the file brings none).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from scale import million_points_file  # noqa: E402

from tests.browser import run_ended  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
TWEETS = SHARED / "tweeteval_emoji" / "data.csv.gz"
VIEWPORT = {"width": 1400, "height": 1000}
GOAL_SECONDS, GOAL_MB, GOAL_GB = 5.0, 5.0, 8.0
CLUSTERING_GOAL_SECONDS = 15.0
"""A topic-count button computes new clusters (under a progress bar), not a page already computed."""

MAP_DRAWN = """n => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData &&
  g._fullData.filter(t => t.mode === 'markers' && t.name !== 'query' && t.name !== 'filtered out')
  .reduce((s, t) => s + (t._length || 0), 0) >= n }"""
ASKED = "text=/takes about .* It starts when you ask/"
ON_DISK = "whose vectors the dashboard keeps in memory"
"""What a page that needs every vector says on a folder whose vectors stay on disk."""


def peak_gb(pid: int) -> float:
    """The server's peak resident memory (VmHWM), in GB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


class Visit:
    """One new page in a browser context, counting the bytes its websocket receives."""

    def __init__(self, context, url: str) -> None:
        self.page = context.new_page()
        self.received = 0
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._count))
        self.started = time.perf_counter()
        self.page.goto(url)

    def _count(self, payload) -> None:
        self.received += len(payload)

    def mark(self) -> None:
        self.started, self.received = time.perf_counter(), 0

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def errors(self) -> list[str]:
        found = self.page.locator("[data-testid=stException], [data-testid=stAlertContentError]")
        return [e for e in found.all_inner_texts() if ON_DISK not in e]  # that one is by design


def wait_shown(visit: Visit, page: str, timeout_s: float, points: int) -> str:
    """Wait for the page's main content; returns what was shown."""
    p, ms = visit.page, timeout_s * 1000
    asked = p.locator(ASKED)
    if page == "map":
        p.wait_for_function(MAP_DRAWN, arg=points, timeout=ms)
        return f"{points:,} points"
    if page == "data":
        p.get_by_text("Dropped (empty)").wait_for(timeout=ms)
        return "preview"
    content = {
        "search": p.get_by_text("More like this"),
        "clusters": p.locator(".js-plotly-plot .treemap"),
        "insights": p.get_by_text("Outlier scores"),
        "compare": p.get_by_text("Texts whose neighbourhoods differ most"),
    }[page]
    on_disk = p.get_by_text(ON_DISK)
    content.or_(asked).or_(on_disk).first.wait_for(timeout=ms)
    if on_disk.count():
        return "says the vectors stay on disk"
    return "asks before starting" if asked.count() else "content"


def visit_page(
    context, url: str, page: str, points: int, timeout_s: float
) -> tuple[float, float, str, list[str]]:
    path = "" if page == "map" else f"/{page}"
    visit = Visit(context, url + path)
    shown = wait_shown(visit, page, timeout_s, points)
    seconds = visit.seconds()
    visit.page.wait_for_timeout(1500)  # the rest of the page's messages
    result = (seconds, visit.received / 2**20, shown, visit.errors())
    visit.page.close()
    return result


def search_steps(context, url: str, timeout_s: float) -> list[tuple[str, float, float]]:
    """A typed query, then a "more like this" pick by row number: seconds and MB of each."""
    visit = Visit(context, url + "/search")
    visit.page.get_by_text("More like this").wait_for(timeout=timeout_s * 1000)
    visit.page.wait_for_timeout(1000)
    steps = []
    visit.mark()
    query = visit.page.get_by_label("Query", exact=True)
    query.fill("happy birthday to my best friend")
    query.press("Enter")
    visit.page.get_by_text("Nearest texts").wait_for(timeout=timeout_s * 1000)
    visit.page.wait_for_function(MAP_DRAWN, arg=1, timeout=timeout_s * 1000)
    steps.append(("search: query typed, results and map shown", visit.seconds(), visit.received / 2**20))
    visit.page.wait_for_timeout(1000)
    visit.mark()
    visit.page.get_by_text("by row number").click()
    number = visit.page.get_by_label(__import__("re").compile("Text number"))
    number.fill("4242")
    number.press("Enter")
    run_ended(visit.page, timeout_s * 1000)
    steps.append(('search: "more like this" by row number', visit.seconds(), visit.received / 2**20))
    errors = visit.errors()
    visit.page.close()
    if errors:
        raise RuntimeError(f"search shows an error: {errors}")
    return steps


def topic_steps(context, url: str, timeout_s: float) -> list[tuple[str, float, float]]:
    """The Clusters page's first topic-count button: seconds and MB until the new topics show
    (auto's Ward tree, kept by the first clustering, is cut again)."""
    import re

    visit = Visit(context, url + "/clusters")
    button = visit.page.get_by_role("button", name=re.compile(r"^\d+ topics$")).first
    button.wait_for(timeout=timeout_s * 1000)
    visit.page.wait_for_timeout(1000)
    wanted = button.inner_text().split()[0]
    run_ended(visit.page, timeout_s * 1000)
    visit.mark()
    button.click()
    visit.page.wait_for_function(  # innerText: textContent runs the label into the number
        r"""wanted => [...document.querySelectorAll('[data-testid=stMetric]')].some(
            m => m.innerText.startsWith('Broad topics') && m.innerText.trim().split(/\s+/).pop() === wanted)""",
        arg=wanted,
        timeout=timeout_s * 1000,
    )
    run_ended(visit.page, timeout_s * 1000)
    steps = [
        (
            f"clusters: the {wanted} topics button, until {wanted} show (new clusters, under a progress bar)",
            visit.seconds(),
            visit.received / 2**20,
            CLUSTERING_GOAL_SECONDS,
        )
    ]
    errors = visit.errors()
    visit.page.close()
    if errors:
        raise RuntimeError(f"the topics button shows an error: {errors}")
    return steps


def settled(page, timeout_s: float) -> None:
    """Wait until the script run is over and the map drawn."""
    run_ended(page, timeout_s * 1000)
    page.wait_for_function(MAP_DRAWN, arg=1, timeout=timeout_s * 1000)


def filter_steps(context, url: str, timeout_s: float, points: int) -> list[tuple[str, float, float]]:
    """The map's text filter, then a metadata filter: seconds and MB until the dimmed map shows."""
    visit = Visit(context, url)
    visit.page.wait_for_function(MAP_DRAWN, arg=points, timeout=timeout_s * 1000)
    visit.page.wait_for_timeout(1500)
    steps = []
    visit.mark()
    box = visit.page.get_by_label("Filter: texts containing (words, or /a regular expression/)")
    box.fill("/group 3$/")
    box.press("Enter")
    visit.page.get_by_text("texts match").wait_for(timeout=timeout_s * 1000)
    settled(visit.page, timeout_s)
    steps.append(
        (
            "map: text filter /group 3$/ shown (matches drawn first)",
            visit.seconds(),
            visit.received / 2**20,
        )
    )
    matched = visit.page.get_by_text("texts match").inner_text()
    visit.page.wait_for_timeout(1000)
    visit.mark()
    box.fill("")
    box.press("Enter")
    visit.page.get_by_text("texts match").wait_for(state="hidden", timeout=timeout_s * 1000)
    visit.page.wait_for_timeout(500)
    visit.mark()
    visit.page.locator("[data-testid=stSelectbox]").filter(has_text="Filter by column").click()
    visit.page.get_by_role("option", name="group", exact=True).click()
    visit.page.locator("[data-testid=stMultiSelect]").wait_for(timeout=timeout_s * 1000)
    settled(visit.page, timeout_s)
    steps.append(("map: column picked for the metadata filter", visit.seconds(), visit.received / 2**20))
    visit.page.wait_for_timeout(500)
    visit.mark()
    visit.page.locator("[data-testid=stMultiSelect]").click()
    visit.page.get_by_role("option", name="g7", exact=True).click()
    visit.page.keyboard.press("Escape")
    visit.page.get_by_text("group is g7").wait_for(timeout=timeout_s * 1000)
    settled(visit.page, timeout_s)
    steps.append(("map: metadata filter group = g7 shown", visit.seconds(), visit.received / 2**20))
    errors = visit.errors()
    visit.page.close()
    if errors:
        raise RuntimeError(f"the map shows an error: {errors}")
    print(f"  {matched}", file=sys.stderr)
    return steps


def measure(name: str, path: Path, cache: Path, points: int, pages: list[str], extra) -> list[str]:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_process

    rows, work = [], Path(tempfile.mkdtemp())
    log = work / "server.log"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with streamlit_process(cache, log, script_args=(str(path),)) as (url, proc):
            context = browser.new_context(viewport=VIEWPORT)
            # the server reads the data, and app.py (which a page's own URL skips) starts its
            # UMAP warm-up; once that is done, only the pages are timed
            visit_page(context, url, "map", points, timeout_s=1800)
            wait_for_line(log, "UMAP code ready")
            for page in pages:
                first, _, _, _ = visit_page(context, url, page, points, timeout_s=1800)
                seconds, mb, shown, errors = visit_page(context, url, page, points, timeout_s=300)
                met = seconds <= GOAL_SECONDS and mb < GOAL_MB and not errors
                rows.append(
                    f"| {name} | {page} | {shown} | {first:.1f} | {seconds:.1f} | {mb:.2f} "
                    f"| {'; '.join(errors) or 'none'} | {'yes' if met else 'NO'} |"
                )
                print(rows[-1], file=sys.stderr, flush=True)
            for step, seconds, mb, *goal in extra(context, url):
                met = seconds <= (goal[0] if goal else GOAL_SECONDS) and mb < GOAL_MB
                rows.append(
                    f"| {name} | {step} | | | {seconds:.1f} | {mb:.2f} | none | {'yes' if met else 'NO'} |"
                )
                print(rows[-1], file=sys.stderr, flush=True)
            gb = peak_gb(proc.pid)
        browser.close()
    rows.append(f"| {name} | server peak memory | {gb:.2f} GB | | | | | {'yes' if gb < GOAL_GB else 'NO'} |")
    print(rows[-1], file=sys.stderr, flush=True)
    return rows


def wait_for_line(log: Path, text: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not in {log} after {timeout_s:.0f} s")
        time.sleep(0.5)


def tweets_store(cache: Path | None) -> Path:
    """A store holding the 100k tweets' vectors, graph, map and clusters (computed by the CLI)."""
    cache = cache or Path(tempfile.mkdtemp(prefix="embedviz-pages-"))
    env = dict(os.environ, EMBEDVIZ_CACHE_DIR=str(cache), EMBEDVIZ_MAX_ROWS="100000")
    out = Path(tempfile.mkdtemp()) / "tweets.parquet"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "embedviz", "map", str(TWEETS), "--out", str(out), "--quiet"],
        env=env,
        check=True,
    )
    print(f"[100k store ready in {time.perf_counter() - started:.0f} s]", file=sys.stderr, flush=True)
    return cache


PAGES = ["map", "data", "search", "clusters", "insights", "compare"]


def forget_clusterings(cache: Path) -> None:
    """Drop the store's clusterings (not the vectors, graphs, maps or Ward trees): the pages
    then cluster as on a first visit, and a topic button cuts the tree again rather than
    reading a clustering an earlier run stored."""
    import sqlite3

    with sqlite3.connect(cache / "store.sqlite") as conn:
        conn.execute("DELETE FROM artifacts WHERE kind = 'clustering'")


def hundred_k(cache: Path | None) -> list[str]:
    store = tweets_store(cache)
    forget_clusterings(store)
    rows = measure(
        "100k tweets",
        TWEETS,
        store,
        100_000,
        PAGES,
        lambda context, url: [*search_steps(context, url, 600), *topic_steps(context, url, 600)],
    )
    return [*rows, map_trust_at(store)]


def map_trust_at(cache: Path) -> str:
    """The map trust of the 100k tweets' map: computed (graph and map from the store), then
    read back from the store."""
    from embedviz import ReduceParams, Store, load_corpus, make_backend, pipeline

    store = Store(cache / "store.sqlite")
    corpus = load_corpus(TWEETS)
    emb = pipeline.embeddings(corpus, make_backend("sentence-transformers"), store)
    coords = pipeline.projection(emb, ReduceParams(), store).coords
    scratch = Store(Path(tempfile.mkdtemp()) / "trust.sqlite")  # nothing stored yet: computed here
    graph = pipeline.neighbor_graph(emb, store)
    started = time.perf_counter()
    trust = pipeline.map_trust(emb, coords, scratch, graph)
    computed = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.map_trust(emb, coords, scratch, graph)
    again = time.perf_counter() - started
    met = computed <= 30
    return (
        f"| 100k tweets | map trust (graph from the store) | mean {trust.mean():.2f}, "
        f"{(trust < 0.5).mean():.0%} under 1/2 | | {computed:.1f} (from the store {again:.2f}) | | none "
        f"| {'yes' if met else 'NO'} |"
    )


def one_million(cache: Path | None) -> list[str]:
    from embedviz import figures

    path = million_points_file()
    store = Path(tempfile.mkdtemp(prefix="embedviz-pages-"))
    return measure(
        "1M rows (text, group, x, y)",
        path,
        store,
        figures.SAMPLE_POINTS,
        PAGES,
        lambda context, url: filter_steps(context, url, 600, 1),
    )


FOLDER_COPIES = 20


def two_million_folder(cache: Path | None) -> Path:
    """A map folder of 2,000,000 rows whose vectors stay on disk: the 100k tweets embedded and
    mapped by the CLI, then every row written 20 times (texts numbered, vectors with noise 0.02
    per dimension, so a copy keeps cosine about 0.93 with its tweet, x and y jittered), like a
    corpus of near duplicates; the folder's on-disk index built once. Kept in the temp folder."""
    import json
    import shutil

    import numpy as np
    import pyarrow as pa

    from embedviz import shards
    from embedviz.shard_index import open_index

    work = Path(tempfile.gettempdir()) / "embedviz-bench-pages-2m"
    big_map, big_embedded = work / "mapped", work / "embedded"
    if shards.is_map_folder(big_map):
        return big_map
    store = cache or work / "store"
    env = dict(os.environ, EMBEDVIZ_CACHE_DIR=str(store))
    small_embedded, small_map = work / "tweets-embedded", work / "tweets-mapped"
    for made, command in (
        (shards.is_embed_folder(small_embedded), ["embed", str(TWEETS), "--out", str(small_embedded)]),
        (shards.is_map_folder(small_map), ["map", str(small_embedded), "--out", str(small_map)]),
    ):
        if not made:
            subprocess.run([sys.executable, "-m", "embedviz", *command, "--quiet"], env=env, check=True)
    rng = np.random.default_rng(0)
    ids, vectors = shards.read_vectors(small_embedded)
    frame = shards.read_columns(small_map)
    assert frame[shards.ROW_ID].tolist() == ids.tolist()
    stride = int(ids.max()) + 1
    spread = float(frame[["x", "y"]].to_numpy().std())
    for folder in (big_map, big_embedded):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for copy in range(FOLDER_COPIES):
        part = frame.copy()
        part[shards.ROW_ID] = ids + copy * stride
        if copy:
            part["text"] = part["text"] + f" [{copy}]"
            for axis in "xy":
                part[axis] = part[axis] + rng.normal(scale=0.01 * spread, size=len(part)).astype(np.float32)
            noisy = vectors + rng.normal(scale=0.02, size=vectors.shape).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        else:
            noisy = vectors
        shards.write_part(
            shards.with_vectors(part[[shards.ROW_ID, "text", "label"]], noisy),
            big_embedded,
            f"part-{copy:05d}.parquet",
        )
        shards.write_part(
            pa.Table.from_pandas(part, preserve_index=False), big_map, f"part-{copy:05d}.parquet"
        )
    rows = FOLDER_COPIES * len(ids)
    manifest = json.loads((small_embedded / shards.EMBED_MANIFEST).read_text())
    shards.write_manifest(big_embedded, shards.EMBED_MANIFEST, {**manifest, "rows": rows})
    for path in small_map.iterdir():  # the fitted model, for "Add texts to this map"
        if path.is_file() and path.suffix != ".parquet" and path.name != shards.MAP_MANIFEST:
            shutil.copy(path, big_map / path.name)
    manifest = json.loads((small_map / shards.MAP_MANIFEST).read_text())
    manifest.update(embedded=str(big_embedded.resolve()), rows=rows)
    shards.write_manifest(big_map, shards.MAP_MANIFEST, manifest)
    started = time.perf_counter()
    open_index(big_embedded)
    print(f"[2M folder's index built in {time.perf_counter() - started:.0f} s]", file=sys.stderr, flush=True)
    return big_map


def folder_beyond_memory(cache: Path | None) -> list[str]:
    from embedviz import figures

    folder = two_million_folder(cache)
    return measure(
        "2M-row map folder, vectors on disk",
        folder,
        Path(tempfile.mkdtemp(prefix="embedviz-pages-")),
        figures.SAMPLE_POINTS,
        PAGES,
        lambda context, url: search_steps(context, url, 600),
    )


def single_flight(cache: Path | None) -> list[str]:
    """Two sessions ask for the same new map at the same moment: the server computes it once."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_process

    source = Path(tempfile.mkdtemp()) / "snips5k.csv"
    texts = pd.read_csv(SHARED / "snips" / "data.csv.gz")["text"].astype(str).tolist()[:5000]
    pd.DataFrame({"text": texts}).to_csv(source, index=False)
    store, work = Path(tempfile.mkdtemp(prefix="embedviz-pages-")), Path(tempfile.mkdtemp())
    subprocess.run(  # vectors in the store, so both sessions wait on the map alone
        [sys.executable, "-m", "embedviz", "map", str(source), "--out", str(work / "m.parquet"), "--quiet"],
        env=dict(os.environ, EMBEDVIZ_CACHE_DIR=str(store)),
        check=True,
    )
    log = work / "server.log"
    with sync_playwright() as p, streamlit_process(store, log, script_args=(str(source),)) as (url, _):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm = browser.new_context(viewport=VIEWPORT)
        visit_page(warm, url, "map", 5000, 600)  # the server reads the file and warms up first
        wait_for_line(log, "UMAP code ready")
        before = log.read_text().count("pipeline: projection:")
        link = f"{url}/?reducer=umap&dims=3&n_neighbors=12"  # a map nobody computed yet
        a = Visit(browser.new_context(viewport=VIEWPORT), link)
        b = Visit(browser.new_context(viewport=VIEWPORT), link)
        for visit in (a, b):
            visit.page.wait_for_function(MAP_DRAWN, arg=5000, timeout=600_000)
        both = max(a.seconds(), b.seconds())
        browser.close()
    computed = log.read_text().count("pipeline: projection:") - before
    met = computed == 1
    row = f"| two sessions open the same new 3-D UMAP of 5k texts at once | both drawn after {both:.1f} s; computed {computed} time(s) | once | {'yes' if met else 'NO'} |"
    print(row, flush=True)
    return [row]


def baseline(cache: Path | None) -> list[str]:
    """The same pages on the bundled 240-text sample: what this machine's browser takes for a
    page of any size, the floor beneath the rows at 100k and 1M."""
    from embedviz.samples import FOLDER

    return measure(
        "240 texts (baseline)", FOLDER / "topics.csv", Path(tempfile.mkdtemp()), 240, PAGES, lambda c, u: []
    )


SECTIONS = {
    "baseline": baseline,
    "100k": hundred_k,
    "1m": one_million,
    "2m-folder": folder_beyond_memory,
    "single-flight": single_flight,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--cache", type=Path, help="keep the 100k store here (reused when run again)")
    args = parser.parse_args()
    os.environ["EMBEDVIZ_LOG_LEVEL"] = "INFO"  # the servers say when their start-up work is done
    rows, flights = [], []
    for name in args.only.split(","):
        started = time.perf_counter()
        (flights if name == "single-flight" else rows).extend(SECTIONS[name](args.cache))
        print(f"[{name}: {time.perf_counter() - started:.0f} s]", file=sys.stderr, flush=True)
    if rows:
        print(
            "\n| data | page or step | shown | first (s) | once computed (s) | MB sent | page errors | goal met |"
        )
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    if flights:
        print("\n| case | measured | goal | met |\n|---|---|---|---|")
        print("\n".join(flights))


if __name__ == "__main__":
    main()
