"""Search: the texts nearest a typed query, and "more like this" from any text."""

import pandas as pd
import streamlit as st

from embedviz import figures, pipeline
from embedviz.analysis import place_query
from embedviz.ui import compute, state

st.title("Search")

with compute.shown_errors():
    cur = compute.current()
    corpus = cur.corpus
    left, right = st.columns([4, 1])
    query = left.text_input(
        "Query", value=state.query(), placeholder="Type some text and press Enter", key="search.w.query"
    )
    k = right.number_input("Results", 1, 100, 10, key="search.w.k")
    state.set_query(query)

    if query.strip():
        vector, found = compute.query_neighbors(cur, query, int(k))
        hits = pipeline.hits(corpus, found.indices[0], found.scores[0])
        results = pd.DataFrame([h.__dict__ for h in hits])
        st.subheader("Nearest texts")
        st.dataframe(results, width="stretch", hide_index=True)
        proj = compute.projection(cur.embeddings)
        point = place_query(proj.coords, found.indices[0], found.scores[0])
        hover = figures.hover_texts(corpus.frame, corpus.text_column, corpus.metadata_columns)
        similarity = pd.Series(cur.embeddings.vectors @ vector)
        fig = figures.map_figure(
            proj.coords,
            hover,
            similarity,
            color_title="similarity",
            query=point,
            query_neighbors=found.indices[0],
            height=480,
        )
        st.plotly_chart(fig, key="search.map")
    else:
        st.info(
            "Type a query to find the most similar texts; it is placed on the map with lines to its neighbours."
        )

    st.subheader("More like this")
    texts = corpus.texts
    row = st.selectbox(
        "Pick a text",
        range(len(texts)),
        format_func=lambda i: f"{i}: {figures.shorten(texts[i], 90)}",
        key="search.row",
    )
    similar = pipeline.similar(corpus, cur.embeddings, int(row), int(k))
    st.dataframe(pd.DataFrame([h.__dict__ for h in similar]), width="stretch", hide_index=True)
