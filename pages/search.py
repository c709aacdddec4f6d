"""Search: the texts nearest a typed query, and "more like this" from any text."""

import pandas as pd
import streamlit as st

from embedviz import drawing, figures, pipeline
from embedviz.analysis import place_query
from embedviz.ui import compute, layout, state

st.title("Search")


def pick_row(hits: list, n: int) -> int:
    """The text to find more like: one of the results above, or any row by its number (a
    picker never lists every row)."""
    sources = ["results", "number"] if hits else ["number"]
    how = st.radio(
        "Pick a text",
        sources,
        format_func={"results": "from the results above", "number": "by row number"}.get,
        horizontal=True,
        key="search.w.pick",
    )
    if how == "results":
        chosen = st.selectbox(
            "Result",
            range(len(hits)),
            format_func=lambda i: f"{hits[i].rank}. {figures.shorten(hits[i].text, 90)}",
            key="search.w.result",
        )
        return hits[chosen].position
    label = f"Text number (0 to {n - 1:,}, as numbered in the Data page's table)"
    return int(st.number_input(label, 0, max(n - 1, 0), 0, key="search.row"))


with compute.shown_errors():
    cur = compute.current()
    corpus = cur.corpus
    left, right = st.columns([4, 1])
    query = left.text_input(
        "Query", value=state.query(), placeholder="Type some text and press Enter", key="search.w.query"
    )
    k = right.number_input("Results", 1, 100, 10, key="search.w.k")
    state.set_query(query)

    hits = []
    if query.strip():
        vector, found = compute.query_neighbors(cur, query, int(k))
        hits = pipeline.hits(corpus, found.indices[0], found.scores[0])
        results = pd.DataFrame(
            [{"rank": h.rank, "row": h.row, "score": h.score, "text": h.text} for h in hits]
        )
        st.subheader("Nearest texts")
        st.dataframe(results, width="stretch", hide_index=True)
        layout.tag_form(corpus, found.indices[0], "search.results", "results")
        proj = compute.projection(cur.embeddings)
        point = place_query(proj.coords, found.indices[0], found.scores[0])
        drawn = drawing.draw_map(
            corpus.frame,
            corpus.text_column,
            corpus.metadata_columns,
            proj.coords,
            color=pd.Series(cur.embeddings.vectors @ vector),
            color_title="similarity",
            query=point,
            query_neighbors=found.indices[0],
            height=480,
        )
        for caption in drawn.captions:
            st.caption(caption)
        st.plotly_chart(drawn.figure, key="search.map")
    else:
        st.info(
            "Type a query to find the most similar texts; it is placed on the map with lines to its neighbours."
        )

    st.subheader("More like this")
    row = pick_row(hits, len(corpus))
    st.caption(figures.shorten(corpus.texts[row], 300))
    similar = pipeline.similar(corpus, cur.embeddings, row, int(k))
    st.dataframe(
        pd.DataFrame([{"rank": h.rank, "row": h.row, "score": h.score, "text": h.text} for h in similar]),
        width="stretch",
        hide_index=True,
    )
