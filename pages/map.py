"""Map: the texts as a scatter, coloured by cluster, a column, outlier score or a query."""

import pandas as pd
import streamlit as st

from embedviz import export, figures, pipeline
from embedviz.analysis import place_query
from embedviz.reduce import REDUCERS
from embedviz.ui import compute, layout, state

COLOR_CLUSTER, COLOR_OUTLIER, COLOR_QUERY = "cluster", "outlier score", "similarity to query"
NEEDS_VECTORS = (COLOR_CLUSTER, COLOR_OUTLIER, COLOR_QUERY)
FROM_FILE = "file"
REDUCER_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA", FROM_FILE: "From the file (x, y)"}
TABLE_ROWS = 1000

st.title("Map")


def apply_link() -> None:
    """A shared link's view settings (in the URL) are applied once per session."""
    if st.session_state.get("map.link_applied"):
        return
    st.session_state["map.link_applied"] = True
    qp = st.query_params
    changes = {}
    if qp.get("reducer") in REDUCERS:
        changes["method"] = qp["reducer"]
    if qp.get("dims") in ("2", "3"):
        changes["dims"] = int(qp["dims"])
    if changes:
        state.set_reduce_params(**changes)
    if qp.get("color"):
        state.set_color_by(qp["color"])
    if qp.get("q"):
        state.set_query(qp["q"])


apply_link()
params = state.reduce_params()
with compute.shown_errors():
    corpus = compute.corpus()
    reducers = [*REDUCERS, FROM_FILE] if pipeline.has_file_coordinates(corpus) else list(REDUCERS)
    # a map the file brings comes first, unless a shared link names a reducer
    first = FROM_FILE if FROM_FILE in reducers and "reducer" not in st.query_params else params.method

    top = st.columns([1, 1, 2, 2])
    method = top[0].selectbox(
        "Reducer",
        reducers,
        index=reducers.index(first),
        format_func=REDUCER_NAMES.get,
        key="map.w.reducer",
    )
    dims = top[1].radio("Dimensions", (2, 3), index=params.dims - 2, horizontal=True, key="map.w.dims")
    color_options = [COLOR_CLUSTER, *corpus.metadata_columns, COLOR_OUTLIER, COLOR_QUERY]
    color = state.color_by()
    if color not in color_options:  # known labels, when the data has them, else clusters
        color = layout.guess_label_column(corpus.metadata_columns) or COLOR_CLUSTER
    color = top[2].selectbox("Colour by", color_options, index=color_options.index(color), key="map.w.color")
    query = top[3].text_input("Query (placed on the map)", value=state.query(), key="map.w.query")
    with st.expander("Reducer settings"):
        left, right = st.columns(2)
        if method == "umap":
            n_neighbors = left.slider("n_neighbors", 2, 100, params.n_neighbors)
            min_dist = right.slider("min_dist", 0.0, 1.0, params.min_dist, 0.05)
            changes = {"n_neighbors": n_neighbors, "min_dist": min_dist}
        elif method == "tsne":
            perplexity = left.slider("perplexity", 2.0, 100.0, float(params.perplexity))
            n_iter = right.slider("iterations", 250, 2000, params.n_iter, 250)
            changes = {"perplexity": perplexity, "n_iter": n_iter}
        else:
            changes = {}
        seed = left.number_input("seed", 0, 2**31 - 1, params.seed)
    if method != FROM_FILE:
        state.set_reduce_params(method=method, dims=dims, seed=int(seed), **changes)
    state.set_color_by(color)
    state.set_query(query)
    st.query_params.update({"reducer": method, "dims": str(dims), "color": color})
    if query:
        st.query_params["q"] = query
    elif "q" in st.query_params:
        del st.query_params["q"]

    info_slot, chart_slot = st.container(), st.empty()
    # an empty chart first: the browser loads and starts the plotting library (about 2 s) while
    # the map below is computed, instead of after
    chart_slot.plotly_chart(figures.placeholder(), key="map.placeholder")

    # vectors only when something needs them: a file's own x, y coloured by a column needs none
    emb = (
        compute.embeddings(corpus) if method != FROM_FILE or color in NEEDS_VECTORS or query.strip() else None
    )
    cur = compute.Current(corpus, emb)
    proj = pipeline.file_projection(corpus, dims) if method == FROM_FILE else compute.projection(emb)
    clusters = compute.clusters(corpus, emb) if emb is not None else None
    frame = pipeline.map_frame(corpus, proj, clusters)
    scores = None
    if emb is not None:
        scores = compute.outliers(emb)
        frame["outlier_score"] = scores

    query_point = query_rows = query_vector = None
    if query.strip():
        query_vector, found = compute.query_neighbors(cur, query, 10)
        query_rows = found.indices[0]
        query_point = place_query(proj.coords, query_rows, found.scores[0])
    if color == COLOR_CLUSTER:
        color_values = frame["cluster_label"].where(frame["cluster"] >= 0, "noise")
    elif color == COLOR_OUTLIER:
        color_values = pd.Series(scores)
    elif color == COLOR_QUERY:
        color_values = None if query_vector is None else pd.Series(emb.vectors @ query_vector)
        if query_vector is None:
            st.info("Type a query to colour the map by similarity to it.")
    else:
        color_values = corpus.frame[color]

    rows = figures.drawn_rows(len(corpus))
    hover = figures.hover_texts(corpus.frame, corpus.text_column, corpus.metadata_columns, rows)
    fig = figures.map_figure(
        proj.coords,
        hover,
        None if color_values is None else color_values.iloc[rows].reset_index(drop=True),
        color_title=color,
        query=query_point,
        query_neighbors=query_rows,
        rows=rows,
    )
    info = info_slot.columns(4)
    info[0].metric("Texts", f"{len(corpus):,}")
    info[1].metric(
        "Clusters", clusters.clustering.k if clusters else "–", help="Colour by cluster to find them."
    )
    trust = proj.trustworthiness
    info[2].metric(
        "Trustworthiness",
        f"{trust:.3f}" if trust is not None else "n/a",
        help="How well the map keeps each text's nearest neighbours (1 is perfect).",
    )
    info[3].metric("Reducer", REDUCER_NAMES[proj.method])
    for note in proj.notes:
        info_slot.caption(note)
    if len(rows) < len(corpus):
        info_slot.caption(
            f"{len(corpus):,} points are too many to draw one by one: the grey shading shows where all "
            f"of them lie, and {len(rows):,} picked at random are drawn as points (hover, selection)."
        )
    elif len(corpus) > figures.COMPACT_HOVER_ABOVE:
        info_slot.caption(
            "Hover shows the start of each text; select points to read them whole in the table below."
        )
    event = chart_slot.plotly_chart(
        fig, key="map.chart", on_select="rerun", selection_mode=("lasso", "box", "points")
    )

    picked = (
        sorted({int(p["customdata"]) for p in event.selection.points if "customdata" in p}) if event else []
    )
    st.subheader(f"Selected texts ({len(picked):,})")
    if picked:
        selected = frame.iloc[picked]
        if len(selected) > TABLE_ROWS:
            st.caption(f"The first {TABLE_ROWS:,} are shown; the download has all {len(selected):,}.")
        st.dataframe(selected.head(TABLE_ROWS), width="stretch", height=300)
        st.download_button(
            "Download selection (CSV)", export.csv_bytes(selected), "selection.csv", "text/csv"
        )
    else:
        st.caption("Draw a lasso or a box on the map to list texts here.")

    st.subheader("Export")
    a, b, c = st.columns(3)
    # built when clicked, not on every rerun: at 100k rows each takes seconds
    a.download_button("Table (CSV)", lambda: export.csv_bytes(frame), "embedviz-map.csv", "text/csv")
    b.download_button("Table (Parquet)", lambda: export.parquet_bytes(frame), "embedviz-map.parquet")
    c.download_button("Figure (HTML)", lambda: figures.standalone_html(fig), "embedviz-map.html", "text/html")
