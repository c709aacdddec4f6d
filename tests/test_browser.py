"""One real flow in headless Chromium: the sample map renders, a lasso selects, a query finds."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    distinct_colours,
    plotted_points,
    results_column,
    run_ended,
    streamlit_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.model]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def lasso(page, right: float) -> None:
    """Draw a lasso over the map's plot area, from its left edge to `right` (a share of its width)."""
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + 2, y0 + 2)
    page.mouse.down()
    for fx, fy in [(right, 0.02), (right, 0.98), (0.02, 0.98), (0.02, 0.03)]:
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
    page.mouse.up()


def shot(page, name: str) -> None:
    folder = os.environ.get("EMBEDVIZ_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_sample_map_renders_lasso_selects_and_search_finds(browser, tmp_path):
    with streamlit_server(tmp_path / "cache", tmp_path / "streamlit.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for(timeout=180_000)  # an empty placeholder at first, then the map
        page.wait_for_function(
            "() => document.querySelector('.js-plotly-plot')?._fullData?.some(t => t._length > 0)",
            timeout=180_000,
        )
        assert plotted_points(page) == 90
        # the run that drew the map may still be going, or a second one (a lasso drawn while a
        # run replaces the chart was lost once in a full test run, its screenshot half drawn)
        run_ended(page)
        page.wait_for_timeout(1000)
        assert distinct_colours(chart.screenshot()) > 50, "the WebGL scatter drew nothing"
        shot(page, "map")

        lasso(page, right=0.98)
        # the heading with a count above 0 (a rerun briefly keeps the stale "(0)" one beside it)
        heading = page.get_by_text(re.compile(r"Selected texts \([1-9]\d*\)"))
        heading.wait_for(timeout=60_000)
        selected = int(re.search(r"\((\d+)\)", heading.inner_text()).group(1))
        page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)
        assert 0 < selected <= 90

        page.get_by_role("link", name="Search").click()
        page.get_by_role("heading", name="Search").wait_for(timeout=60_000)
        query = page.get_by_label("Query", exact=True)
        query.wait_for(timeout=60_000)
        query.fill("shark")
        query.press("Enter")
        page.get_by_text("Nearest texts").wait_for(timeout=120_000)
        run_ended(page)  # a loaded machine can show the last run's table there a while longer
        first_table = page.locator("[data-testid='stDataFrame']").first
        first_table.locator("[data-testid='glide-cell-3-1']").wait_for(state="attached", timeout=30_000)
        texts = results_column(page, 3)
        assert texts[0] == "shark"
        assert {"whale", "dolphin", "fish", "octopus"} & set(texts[1:5])
        shot(page, "search")

        for name in ("Clusters", "Insights", "Data"):
            page.get_by_role("link", name=name).click()
            page.get_by_role("heading", name=name).wait_for(timeout=120_000)
            page.wait_for_timeout(2500)
            assert not page.locator("[data-testid='stException']").count()
            shot(page, name.lower())

        # an upload is mapped with its cluster names on it
        page.get_by_text("Upload a file").click()
        page.locator("input[type=file]").set_input_files(str(ROOT / "embedviz" / "samples" / "topics.csv"))
        # the sidebar names the upload once it is the data ("Dropped (empty)" was already there,
        # the sample's, so a click on Map could leave the Data page before it took the upload)
        page.locator("[data-testid='stSidebar']").get_by_text("topics.csv").wait_for(timeout=120_000)
        page.get_by_role("link", name="Map").click()
        page.wait_for_function(  # the texts' markers (the query typed earlier is placed too)
            "() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData &&"
            " g._fullData.filter(t => t.mode === 'markers' && t.name !== 'query')"
            ".reduce((n, t) => n + (t._length || 0), 0) === 240 }",
            timeout=180_000,
        )
        page.wait_for_timeout(1500)
        names = page.evaluate(
            "() => Array.from(document.querySelectorAll('.annotation-text'), e => e.textContent)"
        )
        assert len(names) >= 3 and all(names)
        shot(page, "upload")


def test_a_page_opened_by_its_address_on_a_new_server_is_inside_the_app(browser, tmp_path):
    """A bookmark or shared link as the server's first request: the page runs inside app.py
    (its navigation names and sidebar), not Streamlit's pages-folder mode (file names, no
    sidebar), and stays on the page asked for."""
    with streamlit_server(tmp_path / "cache", tmp_path / "streamlit.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/search")
        page.get_by_role("heading", name="Search").wait_for(timeout=120_000)
        nav = page.locator("[data-testid='stSidebarNav']")
        nav.get_by_text("Insights", exact=True).wait_for(timeout=60_000)  # app.py's page names
        assert not nav.get_by_text("clusters", exact=True).count()  # a file name
        page.get_by_text("90 words in 18 groups").wait_for(timeout=60_000)  # app.py's sidebar
        assert page.url.rstrip("/").endswith("/search")
        assert not page.locator("[data-testid='stException']").count()


def test_a_new_files_progress_shows_above_the_blank_map_not_below_the_fold(browser, tmp_path):
    """The map page draws an empty chart while it works (the browser loads Plotly meanwhile);
    the progress of that work (model, encoding, mapping) sits above it, on the first screen."""
    upload = tmp_path / "words.csv"
    words = ["river", "harbour", "violin", "drum", "pasta", "bread", "comet", "planet", "chess", "tennis"]
    upload.write_text("text\n" + "\n".join(f"{words[i % 10]} note number {i}" for i in range(1500)))
    with streamlit_server(tmp_path / "cache", tmp_path / "streamlit.log", script_args=(str(upload),)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        progress = page.locator("[data-testid='stProgress']").first
        progress.wait_for(timeout=120_000)
        chart = page.locator("[data-testid='stPlotlyChart']").first
        # read the layout once the run in progress has replaced the previous run's elements (a
        # stale chart can stand above the new progress for a moment); it must hold by then
        seen = None
        for _ in range(20):
            box, chart_box = progress.bounding_box(), chart.bounding_box()
            if box is not None and chart_box is not None:
                seen = box, chart_box
                if box["y"] < chart_box["y"]:
                    break
            page.wait_for_timeout(250)
        assert seen is not None, "the progress and the chart were on the page together"
        box, chart_box = seen
        assert box["y"] + box["height"] <= 1000, "on the first screen"
        assert box["y"] < chart_box["y"], "above the blank chart"


def test_html_and_script_in_texts_are_shown_never_run(browser, tmp_path):
    """An upload full of tags: no script runs (no dialog opens) and the tags read as text."""
    upload = tmp_path / "tags.csv"
    texts = [
        '<script>alert("boom")</script> rocket orbit',
        '<img src=x onerror="alert(2)"> oven bake',
        "<b>bold</b> goal",
    ]
    upload.write_text("text\n" + "\n".join(f'"{t.replace(chr(34), chr(34) * 2)}"' for t in texts) + "\n")
    with streamlit_server(tmp_path / "cache", tmp_path / "streamlit.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.get_by_role("link", name="Data").click()
        page.get_by_text("Upload a file").click()
        page.locator("input[type=file]").set_input_files(str(upload))
        page.get_by_text("Dropped (empty)").wait_for(timeout=120_000)
        cell = page.locator(
            "[data-testid^='glide-cell-']", has_text='<script>alert("boom")</script> rocket orbit'
        )
        cell.first.wait_for(state="attached", timeout=60_000)  # the tags are there, as text
        page.get_by_role("link", name="Map").click()
        page.wait_for_function(
            "() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData &&"
            " g._fullData.reduce((n, t) => n + (t._length || 0), 0) === 3 }",
            timeout=180_000,
        )
        hover = page.evaluate(
            "() => document.querySelector('.js-plotly-plot')._fullData.map(t => t.hovertext).flat()"
        )
        assert any("&lt;script&gt;" in h for h in hover)
        page.wait_for_timeout(1500)
        assert not dialogs, f"a script ran: {dialogs}"
        assert not page.locator("[data-testid='stException']").count()


def test_html_export_works_offline_shows_names_and_its_filter_highlights(browser, tmp_path, capsys):
    """The labelled map written by the CLI, opened from disk with every request refused."""
    from embedviz.cli import main
    from tests.planted import planted_frame

    source = tmp_path / "planted.csv"
    planted_frame().to_csv(source, index=False)
    figure = tmp_path / "map.html"
    code = main(
        [
            "map",
            str(source),
            "--out",
            str(tmp_path / "m.parquet"),
            "--backend",
            "planted",
            "--figure",
            str(figure),
        ]
    )
    assert code == 0, capsys.readouterr().err
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests = []
    page.route(
        "**/*",
        lambda route: (
            requests.append(route.request.url),
            route.continue_() if route.request.url.startswith("file:") else route.abort(),
        ),
    )
    page.goto(figure.as_uri())
    page.wait_for_function(
        "() => document.querySelector('.js-plotly-plot')?._fullData?.length > 0", timeout=30_000
    )
    assert all(url.startswith("file:") for url in requests), requests
    names = page.evaluate(
        "() => Array.from(document.querySelectorAll('.annotation-text'), e => e.textContent)"
    )
    broad = pd.read_parquet(tmp_path / "m.parquet")["broad_cluster_label"].unique()
    assert set(broad) <= set(names)
    opacity = """() => document.querySelector('.js-plotly-plot')._fullData
        .filter(t => t.customdata).map(t => Array.from(t.marker.opacity)).flat()"""
    page.locator("#embedviz-filter").fill("rocket")
    page.get_by_text(re.compile(r"\d+ of 150 match")).wait_for(timeout=10_000)
    shown = page.evaluate(opacity)
    frame = planted_frame()
    assert len(shown) == 150 and sum(o > 0.5 for o in shown) == frame["text"].str.contains("rocket").sum()
    page.locator("#embedviz-filter").fill("/[unclosed/")
    page.get_by_text("not a valid regular expression").wait_for(timeout=10_000)


SELECTED_ROWS = """() => document.querySelector('.js-plotly-plot')._fullData
    .filter(t => t.mode === 'markers' && t.selectedpoints && t.selectedpoints.length)
    .flatMap(t => Array.from(t.selectedpoints, i => Number(t.customdata[i])))"""
TAGGED_ROWS = """name => { const g = document.querySelector('.js-plotly-plot');
    const t = g && g._fullData && g._fullData.find(t => t.name === name);
    return t ? Array.from(t.customdata, Number) : null }"""


def pick(page, label: str, option) -> None:
    """Choose an option of a multiselect, opening its list again if a rerun closed it."""
    for attempt in range(3):
        run_ended(page)
        page.get_by_label(label).click()
        choice = page.get_by_role("option", name=option)
        try:  # a rerun can redraw the list under the pointer: then open it again
            choice.wait_for(timeout=10_000)
            choice.click(timeout=10_000)
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            continue
        page.keyboard.press("Escape")
        return


def open_edits(page, count: int) -> None:
    """Wait for the edits expander to say `count` edits are kept, and open it if it is shut."""
    header = page.get_by_text(f"Edit clusters ({count} edit(s) kept)")
    header.wait_for(timeout=60_000)
    run_ended(page)
    if not page.get_by_label("New name").is_visible():
        header.click()
    page.get_by_label("New name").wait_for(timeout=30_000)


def fine_clusters(page) -> int:
    metric = page.locator("[data-testid='stMetric']", has_text="Fine clusters")
    return int(metric.locator("[data-testid='stMetricValue']").inner_text())


def test_a_lassoed_tag_survives_a_restart_and_cluster_edits_undo(browser, tmp_path):
    cache = tmp_path / "cache"
    with streamlit_server(cache, tmp_path / "first.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_function(
            "() => document.querySelector('.js-plotly-plot')?._fullData?.some(t => t._length > 0)",
            timeout=180_000,
        )
        page.wait_for_timeout(1000)
        lasso(page, right=0.55)  # the left part of the map
        heading = page.get_by_text(re.compile(r"Selected texts \([1-9]\d*\)"))
        heading.wait_for(timeout=60_000)
        picked = sorted(set(page.evaluate(SELECTED_ROWS)))
        assert 0 < len(picked) < 90
        box = page.get_by_label(re.compile(r"Tag these [\d,]+ selected texts"))
        box.fill("picked")
        box.press("Enter")
        page.get_by_role("button", name="Tag", exact=True).first.click()
        page.get_by_text("Tagged").first.wait_for(timeout=60_000)
        page.close()

    with streamlit_server(cache, tmp_path / "second.log") as url:  # a restart, the same store
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?color=tags")
        page.wait_for_function(f"() => ({TAGGED_ROWS})('picked') !== null", timeout=180_000)
        assert sorted(page.evaluate(TAGGED_ROWS, "picked")) == picked

        page.get_by_role("link", name="Clusters").click()
        page.get_by_role("heading", name="Clusters").wait_for(timeout=120_000)
        open_edits(page, 0)
        k = fine_clusters(page)
        page.get_by_label("New name").fill("My first cluster")
        page.get_by_label("New name").press("Enter")
        run_ended(page)  # a click during the rerun Enter started can be lost
        page.get_by_role("button", name="Rename", exact=True).click()
        open_edits(page, 1)
        for number in (0, 1):  # merge clusters 0 and 1 (by name: the list may offer "select all" too)
            pick(page, "Merge fine clusters (into the first)", re.compile(rf"^{number}: "))
        run_ended(page)
        page.get_by_role("button", name="Merge", exact=True).click()
        open_edits(page, 2)
        assert fine_clusters(page) == k - 1
        run_ended(page)
        page.get_by_role("button", name="Undo the last edit").click()
        open_edits(page, 1)
        tree = page.locator(".js-plotly-plot .treemap").first
        page.wait_for_function(
            "() => document.querySelector('.js-plotly-plot .treemap')?.textContent.includes('My first cluster')",
            timeout=60_000,
        )
        assert fine_clusters(page) == k
        run_ended(page)
        page.get_by_role("button", name="Undo the last edit").click()
        open_edits(page, 0)
        page.wait_for_function(
            "() => !document.querySelector('.js-plotly-plot .treemap')?.textContent.includes('My first cluster')",
            timeout=60_000,
        )
        assert tree.count() and fine_clusters(page) == k
        assert not page.locator("[data-testid='stException']").count()
