"""Search: the texts nearest a typed query, and "more like this" from any text."""

import pandas as pd
import streamlit as st

from embedviz import drawing, figures, pipeline
from embedviz.analysis import place_query
from embedviz.ui import compute, layout, state

layout.within_app()
st.title("Search")


def pick_row(hits: list, n: int) -> int:
    """The text to find more like: one of the results above, or any row by its number (a
    picker never lists every row)."""
    how = "number"
    if hits:  # a choice only when there are results to pick from
        how = st.radio(
            "Pick a text",
            ["results", "number"],
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


# cosine similarity to three decimals, every row alike (not 0.848 above 0.6666)
SCORE_FORMAT = {"score": st.column_config.NumberColumn(format="%.3f")}


def found_table(hits: list) -> pd.DataFrame:
    return pd.DataFrame([{"rank": h.rank, "row": h.row, "score": h.score, "text": h.text} for h in hits])


def nearest(corpus, cur, folder, query: str, k: int):
    """(neighbours, the map, similarity of every text or None): from the vectors in memory, or
    from the on-disk index and the folder's own map when they stay on disk."""
    if folder is not None:
        found = compute.folder_query(corpus, folder, query, k)
        proj = pipeline.file_projection(corpus) if pipeline.has_file_coordinates(corpus) else None
        return found, proj, None
    vector, found = compute.query_neighbors(cur, query, k)
    return found, compute.projection(cur.embeddings), pd.Series(cur.embeddings.vectors @ vector)


with compute.shown_errors():
    corpus = compute.corpus()
    folder = compute.folder_on_disk(corpus)
    cur = compute.current() if folder is None else None
    if folder is not None:
        st.caption(
            f"{len(corpus):,} texts, searched through the folder's on-disk index (their vectors stay on disk)."
        )
    left, right = st.columns([4, 1])
    query = left.text_input(
        "Query", value=state.query(), placeholder="Type some text and press Enter", key="search.w.query"
    )
    k = right.number_input("Results", 1, 100, 10, key="search.w.k")
    state.set_query(query)

    hits = []
    if query.strip():
        found, proj, similarity = nearest(corpus, cur, folder, query, int(k))
        rows, scores = found.found()
        hits = pipeline.hits(corpus, rows, scores)
        st.subheader("Nearest texts")
        st.dataframe(found_table(hits), width="stretch", hide_index=True, column_config=SCORE_FORMAT)
        layout.tag_form(corpus, rows, "search.results", "results")
        if proj is not None and len(rows):
            drawn = drawing.draw_map(
                corpus.frame,
                corpus.text_column,
                corpus.metadata_columns,
                proj.coords,
                color=similarity,
                color_title="similarity" if similarity is not None else "",
                query=place_query(proj.coords, rows, scores),
                query_neighbors=rows,
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
    if folder is not None:
        similar = pipeline.hits(corpus, *compute.folder_similar(corpus, folder, row, int(k)).found())
    else:
        similar = pipeline.similar(corpus, cur.embeddings, row, int(k))
    st.dataframe(found_table(similar), width="stretch", hide_index=True, column_config=SCORE_FORMAT)
