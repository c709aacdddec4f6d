"""Map: the texts as a scatter with their cluster names, coloured by cluster, a column, a score
or a query; narrowed by a text or metadata filter; selected rows in a table."""

import numpy as np
import pandas as pd
import streamlit as st

from embedviz import columns, drawing, export, figures, pipeline, scale
from embedviz.analysis import place_query
from embedviz.drawing import (
    COLOR_BROAD,
    COLOR_CLUSTER,
    COLOR_OUTLIER,
    COLOR_PREDICTION,
    COLOR_QUERY,
    COLOR_TAGS,
    COLOR_TRUST,
    NAME_LEVELS,
)
from embedviz.errors import InputError
from embedviz.filters import Filter
from embedviz.reduce import REDUCERS
from embedviz.ui import compute, layout, mapview, state

NEEDS_VECTORS = (COLOR_CLUSTER, COLOR_BROAD, COLOR_OUTLIER, COLOR_QUERY, COLOR_TRUST, COLOR_PREDICTION)
FROM_FILE = "file"
REDUCER_NAMES = {
    "auto": "Auto (t-SNE up to 1,000 texts, UMAP above)",
    "umap": "UMAP",
    "tsne": "t-SNE",
    "pca": "PCA",
    FROM_FILE: "From the file (x, y)",
}
NAME_CHOICES = {"both": "Broad and fine", "broad": "Broad topics", "fine": "Fine clusters", "off": "Hidden"}
TABLE_ROWS = 1000

layout.within_app()
st.title("Map")


def controls(corpus, on_disk: bool) -> tuple[str, int, str, str]:
    """The map's settings row and reducer settings; returns (reducer, dims, colour, query).
    A folder whose vectors stay on disk offers its own map and what needs no vectors."""
    params = state.reduce_params()
    reducers = [*REDUCERS, FROM_FILE] if pipeline.has_file_coordinates(corpus) else list(REDUCERS)
    if on_disk:
        reducers = [FROM_FILE]
    # a map the file brings comes first, and stays the choice when the user comes back
    from_file = state.from_file()
    if from_file is None:  # first visit: the file's map, unless a shared link names a reducer
        from_file = "reducer" not in st.query_params
    first = FROM_FILE if FROM_FILE in reducers and from_file else params.method
    top = st.columns([2, 1, 2, 2, 2])
    method = top[0].selectbox(
        "Reducer", reducers, index=reducers.index(first), format_func=REDUCER_NAMES.get, key="map.w.reducer"
    )
    dims = top[1].radio("Dimensions", (2, 3), index=params.dims - 2, horizontal=True, key="map.w.dims")
    color_options = [
        COLOR_CLUSTER,
        COLOR_BROAD,
        *corpus.metadata_columns,
        COLOR_TAGS,
        COLOR_PREDICTION,
        COLOR_OUTLIER,
        COLOR_QUERY,
        COLOR_TRUST,
    ]
    if on_disk:
        color_options = [c for c in color_options if c not in (*NEEDS_VECTORS, COLOR_PREDICTION)]
    color = state.color_by()
    if color not in color_options:  # a map's own clusters, known labels, else clusters
        # a map folder's own topics: the broad ones have few enough values for a named legend
        own = [c for c in ("broad_cluster_label", "cluster_label") if c in corpus.metadata_columns]
        guess = layout.guess_label_column(corpus.metadata_columns) or COLOR_CLUSTER
        color = own[0] if method == FROM_FILE and own else guess
    color = top[2].selectbox("Colour by", color_options, index=color_options.index(color), key="map.w.color")
    names = top[3].selectbox(
        "Names on the map",
        NAME_LEVELS,
        index=NAME_LEVELS.index(state.names_level()),
        format_func=NAME_CHOICES.get,
        key="map.w.names",
    )
    query = top[4].text_input("Query (placed on the map)", value=state.query(), key="map.w.query")
    with st.expander("Reducer settings"):
        left, right = st.columns(2)
        shown = method if method != "auto" else "umap" if len(corpus) > 1000 else "tsne"
        changes = {}
        if shown == "umap":
            changes["n_neighbors"] = left.slider("n_neighbors", 2, 100, params.n_neighbors, key="map.w.nn")
            changes["min_dist"] = right.slider("min_dist", 0.0, 1.0, params.min_dist, 0.05, key="map.w.md")
        elif shown == "tsne":
            changes["perplexity"] = left.slider(
                "perplexity (auto lowers it for small data)",
                2.0,
                100.0,
                float(params.perplexity),
                key="map.w.px",
            )
            changes["n_iter"] = right.slider("iterations", 250, 2000, params.n_iter, 250, key="map.w.it")
        seed = left.number_input("seed", 0, 2**31 - 1, params.seed, key="map.w.seed")
    if method != FROM_FILE:
        state.set_reduce_params(method=method, dims=dims, seed=int(seed), **changes)
    if FROM_FILE in reducers:
        state.set_from_file(method == FROM_FILE)
    state.set_color_by(color)
    state.set_names_level(names)
    state.set_query(query)
    return method, dims, color, query


def filter_controls(corpus) -> None:
    """Text and metadata filters; they dim what they leave out, and the table and exports
    follow them."""
    current = state.map_filter()
    # a row of its own, always open: an expander's state does not survive the reruns a filter makes
    with st.container():
        left, middle, right = st.columns([2, 1, 2])
        text = left.text_input(
            "Filter: texts containing (words, or /a regular expression/)",
            value=current.text,
            key="map.w.filter",
        )
        choices = ["(none)", *corpus.metadata_columns]
        column = middle.selectbox(
            "Filter by column",
            choices,
            index=choices.index(current.column) if current.column in choices else 0,
            key="map.w.filter_column",
        )
        values, low, high, dates = (), None, None, False
        if column != "(none)":
            series = corpus.frame[column]
            numbers = columns.scale_values(series)
            if numbers is not None:
                lo, hi = float(np.nanmin(numbers)), float(np.nanmax(numbers))
                dates = not pd.api.types.is_numeric_dtype(series)
                kept = current.column == column and current.low is not None and current.high is not None
                if dates:
                    first, last, step, fmt = columns.date_slider(lo, hi)
                    start = (
                        tuple(
                            min(max(columns.to_datetime(v), first), last) for v in (current.low, current.high)
                        )
                        if kept
                        else (first, last)
                    )
                    picked = right.slider(
                        "Dates", first, last, start, step, format=fmt, key="map.w.filter_dates"
                    )
                    low, high = (columns.to_seconds(v) for v in picked)
                elif lo < hi:
                    start = (current.low, current.high) if kept else (lo, hi)
                    low, high = right.slider("Range", lo, hi, start, key="map.w.filter_range")
            else:
                options = layout.value_options(series)
                kept = [v for v in current.values if v in options] if current.column == column else []
                values = tuple(right.multiselect("Values", options, default=kept, key="map.w.filter_values"))
        state.set_map_filter(Filter(text, None if column == "(none)" else column, values, low, high, dates))


state.apply_link_once()
with compute.shown_errors():
    corpus = compute.corpus()
    on_disk = compute.folder_on_disk(corpus)
    if on_disk and not pipeline.has_file_coordinates(corpus):
        raise InputError(scale.map_first_message(len(corpus)))
    method, dims, color, query = controls(corpus, on_disk is not None)
    filter_controls(corpus)
    st.query_params.from_dict(state.link())

    work_slot, info_slot, chart_slot = st.container(), st.container(), st.empty()
    # an empty chart first: the browser loads and starts the plotting library (about 2 s) while
    # the map below is computed, instead of after
    chart_slot.plotly_chart(figures.placeholder(), key="map.placeholder")
    try:
        with work_slot:  # long work's progress shows above the blank chart, not below the fold
            # vectors only when something needs them: a file's own x, y coloured by a column needs none
            needs_vectors = method != FROM_FILE or color in NEEDS_VECTORS or (query.strip() and not on_disk)
            emb = compute.embeddings(corpus) if needs_vectors else None
            cur = compute.Current(corpus, emb, state.backend())
            proj = pipeline.file_projection(corpus, dims) if method == FROM_FILE else compute.projection(emb)
            clusters = compute.clusters(corpus, emb) if emb is not None else None
            frame = pipeline.map_frame(corpus, proj, clusters)
            scores = trust = similarity = None
            if emb is not None:
                scores = compute.outliers(emb)
                frame["outlier_score"] = scores
                trust = compute.trust(emb, proj)
                frame["map_trust"] = trust
            flt = state.map_filter()
            keep = compute.filter_mask(corpus, flt) if flt.active else None

            query_point = query_rows = None
            if query.strip() and on_disk:  # placed by its neighbours in the folder's on-disk index
                query_rows, near = compute.folder_query(corpus, on_disk, query, 10).found()
                query_point = place_query(proj.coords, query_rows, near) if len(query_rows) else None
            elif query.strip():
                query_vector, found = compute.query_neighbors(cur, query, 10)
                query_rows = found.indices[0]
                query_point = place_query(proj.coords, query_rows, found.scores[0])
                similarity = emb.vectors @ query_vector
        tags = drawing.tag_values(compute.row_tags(corpus)) if color == COLOR_TAGS else None
        predicted = state.predictions(emb.fingerprint) if emb is not None else None
        if color == COLOR_PREDICTION and predicted is None:
            st.info(
                "Train a classifier on the Insights page (Classify from examples) to colour by its predictions."
            )
        values = drawing.colour_values(
            color,
            frame,
            corpus.frame,
            {
                COLOR_OUTLIER: scores,
                COLOR_TRUST: trust,
                COLOR_QUERY: similarity,
                COLOR_TAGS: tags,
                COLOR_PREDICTION: None if predicted is None else predicted.labels,
            },
        )
        if values is None and color == COLOR_QUERY:
            st.info("Type a query to colour the map by similarity to it.")
        if clusters is None and method == FROM_FILE:  # the file's own map, named by its own clusters
            names = drawing.file_cluster_names(proj.coords, corpus.frame, state.names_level())
        else:
            names = drawing.cluster_names(
                proj.coords, clusters, state.names_level(), compute.custom_names(clusters)
            )
        drawn = drawing.draw_map(
            corpus.frame,
            corpus.text_column,
            corpus.metadata_columns,
            proj.coords,
            color=values,
            color_title=color,
            keep=keep,
            names=names,
            query=query_point,
            query_neighbors=query_rows,
            added=compute.added_texts(dims) if method == FROM_FILE else None,
        )

        trustworthiness = proj.trustworthiness
        for column, (label, value, help_text) in zip(
            info_slot.columns(5),
            mapview.summary(
                len(corpus),
                keep,
                mapview.cluster_counts(clusters, corpus.frame if method == FROM_FILE else None),
                trustworthiness,
                trust,
            ),
            strict=True,
        ):
            column.metric(label, value, help=help_text)
        info_slot.caption(f"Map: {REDUCER_NAMES[proj.method]}, {dims}-D.")
        if on_disk:
            info_slot.caption(
                "The folder's vectors stay on disk (more texts than EMBEDVIZ_MAX_ROWS): its own map, "
                "clusters and names are shown, and a query is placed through its on-disk index."
            )
        for note in proj.notes:
            info_slot.caption(note)
        if clusters is not None and not on_disk:
            layout.topic_counts(clusters.clustering, info_slot)
        if keep is not None:
            info_slot.caption(
                f"Filter: {flt.describe()}: {int(keep.sum()):,} of {len(corpus):,} texts match."
            )
        for caption in drawn.captions:
            info_slot.caption(caption)
        event = chart_slot.plotly_chart(
            drawn.figure, key="map.chart", on_select="rerun", selection_mode=("lasso", "box", "points")
        )

        picked = mapview.selected_rows(event.selection.points if event else [], keep)
        st.subheader(f"Selected texts ({len(picked):,})")
        if picked:
            selected = frame.iloc[picked]
            if len(selected) > TABLE_ROWS:
                st.caption(f"The first {TABLE_ROWS:,} are shown; the download has all {len(selected):,}.")
            st.dataframe(selected.head(TABLE_ROWS), width="stretch", height=300)
            st.download_button(
                "Download selection (CSV)", export.csv_bytes(selected), "selection.csv", "text/csv"
            )
            layout.tag_form(corpus, picked, "map.selection", "selected texts")
        else:
            st.caption("Draw a lasso or a box on the map to list texts here.")
        if keep is not None:
            layout.tag_form(corpus, keep.nonzero()[0], "map.filtered", "texts the filter keeps")

        st.subheader("Export")

        def shown() -> pd.DataFrame:  # built when a button is clicked: at 100k rows it takes seconds
            return mapview.export_table(frame, compute.row_tags(corpus), keep)

        st.caption(
            "Tables hold every row"
            + (" the filter keeps" if keep is not None else "")
            + "; figures hold the names and the points drawn."
        )
        a, b, c, d, e = st.columns(5)
        # built when clicked, not on every rerun: at 100k rows each takes seconds
        a.download_button("Table (CSV)", lambda: export.csv_bytes(shown()), "embedviz-map.csv", "text/csv")
        b.download_button("Table (Parquet)", lambda: export.parquet_bytes(shown()), "embedviz-map.parquet")
        c.download_button(
            "Figure (HTML)",
            lambda: figures.standalone_html(
                drawn.figure, drawing.texts_of(corpus.frame, corpus.text_column, drawn.rows)
            ),
            "embedviz-map.html",
            "text/html",
        )
        rows = drawn.rows if keep is None else drawn.rows[keep[drawn.rows]]
        image_colour = None if values is None else values.iloc[rows].reset_index(drop=True)
        for column, fmt, mime in ((d, "png", "image/png"), (e, "svg", "image/svg+xml")):
            column.download_button(
                f"Figure ({fmt.upper()})",
                lambda fmt=fmt: figures.static_image(proj.coords[rows], image_colour, drawn.names, fmt),
                f"embedviz-map.{fmt}",
                mime,
                disabled=dims == 3,
                help="2-D maps only" if dims == 3 else None,
            )
        missing = figures.font_fallback([name.text for name in drawn.names])[1]
        if missing and dims == 2:
            st.caption(
                f"No font on this server draws some characters of the names ({missing[:5]}): they show as "
                "boxes in the PNG. The SVG and HTML figures use your own fonts."
            )
    except compute.NeedsConsent:
        chart_slot.empty()  # the blank chart would push the question below the fold
        raise
