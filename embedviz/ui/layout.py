"""Widgets shared by several pages."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from embedviz.ui import compute, state


def within_app() -> None:
    """The first line of every page. On a server that has not run app.py yet, a page opened by
    its address (a bookmark, a shared link) is run by Streamlit's old pages-folder mode, because
    our pages live in pages/: without app.py's wide layout, sidebar and page names, and it stays
    so until someone opens the root. Leave that mode (what st.navigation itself does) and run
    again, through app.py; the address keeps the page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def sidebar() -> None:
    source, choice = state.source(), state.backend()
    with st.sidebar:
        st.caption("Data")
        st.write(f"**{source.name}**")
        st.caption("Backend")
        details = [d for d in (choice.model, choice.precision) if d]
        st.write(" · ".join([choice.name, *details]))
        for warning in compute.store().warnings:  # a damaged file set aside, a full disk
            st.warning(warning, icon=":material/database:")


def take_source(source: state.DataSource) -> None:
    """Open other texts and run again from the top, so the sidebar (drawn before the page) names
    them."""
    state.set_source(source)
    st.rerun()


def _take_topics(count: int | None) -> None:
    """Button callback: that many broad topics (None: the automatic pick), on every page. The
    Clusters page's own widgets are dropped, so they show the new choice when next drawn."""
    state.set_cluster_params(replace(state.cluster_params(), broad_k=count))
    for key in ("clusters.w.broad_auto", "clusters.w.broad_k"):
        st.session_state.pop(key, None)


def topic_counts(clustering, where=st) -> None:
    """One button per other number of broad topics the neighbour graph supports (auto only;
    Clustering.broad_options), and one back to the automatic pick once another is taken."""
    params = state.cluster_params()
    picked, *finer = clustering.broad_options or (None,)
    others = [(c, f"{c} topics") for c in finer if c != clustering.broad_k]
    if params.broad_k is not None and picked is not None and picked != clustering.broad_k:
        others.insert(0, (None, f"{picked} topics (the automatic pick)"))
    if params.method != "auto" or not others:
        return
    where.caption(
        "Other numbers of broad topics that fit the data (each is the best cut of the same "
        "neighbour graph at a finer resolution):"
    )
    row = where.container(horizontal=True)
    for count, text in others:
        row.button(text, key=f"topics.{count}", on_click=_take_topics, args=(count,))


LABEL_NAMES = ("label", "labels", "group", "topic", "category", "class")


def guess_label_column(columns: list[str]) -> str | None:
    """A metadata column named like known labels, if there is one."""
    return next((c for c in columns if c.lower() in LABEL_NAMES), None)


def label_column(columns: list[str], key: str) -> str | None:
    """A picker for a ground-truth label column, defaulting to one named like a label."""
    options = ["(none)", *columns]
    guess = guess_label_column(columns)
    picked = st.selectbox("Label column", options, index=options.index(guess) if guess else 0, key=key)
    return None if picked == "(none)" else picked


MAX_OPTIONS = 200


def value_options(values) -> list[str]:
    """The values a picker offers for a column: its most common ones (at most MAX_OPTIONS), as
    text, so a column of a million distinct values never becomes a million options."""
    return values.astype(str).value_counts().head(MAX_OPTIONS).index.tolist()


def server_logging() -> None:
    """embedviz's log lines on the server's stderr at EMBEDVIZ_LOG_LEVEL (default WARNING)."""
    import logging
    import os

    logger = logging.getLogger("embedviz")
    if not any(getattr(h, "embedviz", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.embedviz = True
        handler.setFormatter(logging.Formatter("embedviz %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(os.environ.get("EMBEDVIZ_LOG_LEVEL", "WARNING").upper())


def tag_form(corpus, rows, key: str, what: str = "texts") -> None:
    """A tag name and a button that gives it to the texts at corpus positions `rows`."""
    from embedviz.errors import EmbedvizError

    left, right = st.columns([3, 1])
    name = left.text_input(f"Tag these {len(rows):,} {what}", key=f"{key}.tag", placeholder="a tag name")
    if right.button("Tag", key=f"{key}.tag_button", disabled=not len(rows)):
        try:
            given = compute.tag(corpus, rows, name)
        except EmbedvizError as e:
            st.error(str(e), icon=":material/warning:")
        else:
            st.toast(f"Tagged {len(rows):,} {what} '{given}'.")
