"""Compare: the same texts in two backends, maps aligned, neighbourhoods compared."""

import pandas as pd
import streamlit as st

from embedviz import analysis, drawing
from embedviz.backends.local import DEFAULT_MODEL
from embedviz.ui import compute, layout, state
from embedviz.ui.state import BackendChoice

K = 10
layout.within_app()
st.title("Compare backends")

with compute.shown_errors():
    cur = compute.current()
    corpus, first = cur.corpus, state.backend()
    options = [name for name in ("tfidf", "sentence-transformers") if name != first.name] or ["tfidf"]
    left, right = st.columns(2)
    second_name = left.selectbox("Compare with", options, key="compare.w.backend")
    if second_name == "sentence-transformers":
        model = right.text_input(
            "Model (bundled name or a local folder)", value=DEFAULT_MODEL, key="compare.w.model"
        )
        second = BackendChoice(second_name, model=None if model == DEFAULT_MODEL else model)
    else:
        second = BackendChoice(second_name)
    st.caption(f"First: {first.name}{' · ' + first.model if first.model else ''} (from the Data page).")

    emb_b = compute.embeddings(corpus, second)
    proj_a, proj_b = compute.projection(cur.embeddings), compute.projection(emb_b)
    overlap = analysis.neighbor_overlap(compute.graph(cur.embeddings), compute.graph(emb_b), K)
    aligned = (
        analysis.align(proj_a.coords, proj_b.coords)
        if proj_a.coords.shape == proj_b.coords.shape
        else proj_b.coords
    )

    st.metric(f"Mean overlap of the {K} nearest neighbours", f"{float(overlap.mean()):.1%}")
    shared = pd.Series(overlap * K, name="shared neighbours")
    a, b = st.columns(2)
    for column, title, coords, key in (
        (a, first.name, proj_a.coords, "compare.a"),
        (b, f"{second.name} (aligned)", aligned, "compare.b"),
    ):
        drawn = drawing.draw_map(
            corpus.frame,
            corpus.text_column,
            corpus.metadata_columns,
            coords,
            color=shared,
            color_title="shared",
            height=460,
        )
        column.subheader(title)
        for caption in drawn.captions:
            column.caption(caption)
        column.plotly_chart(drawn.figure, key=key)

    st.subheader("Texts whose neighbourhoods differ most")
    order = overlap.argsort(kind="stable")[:20]
    st.dataframe(
        corpus.frame.iloc[order][[corpus.text_column]].assign(
            shared_neighbours=(overlap[order] * K).astype(int)
        ),
        width="stretch",
        hide_index=False,
    )
