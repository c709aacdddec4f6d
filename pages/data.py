"""Data: pick a sample, upload a file or paste texts; choose the backend; embed."""

import pandas as pd
import streamlit as st

from embedviz import curation
from embedviz.backends import BACKENDS, DEFAULT_BACKEND
from embedviz.backends.local import DEFAULT_MODEL, DEFAULT_PRECISION, PRECISIONS
from embedviz.backends.openai import DEFAULT_MODEL as OPENAI_DEFAULT
from embedviz.backends.openai import MODELS as OPENAI_MODELS
from embedviz.corpus import FORMATS
from embedviz.samples import SAMPLES
from embedviz.ui import compute, layout, state
from embedviz.ui.state import BackendChoice, DataSource

layout.within_app()
st.title("Data")

source = state.source()
kinds = {"sample": "A bundled sample", "upload": "Upload a file", "paste": "Paste texts"}
started_on = state.startup_source()
if started_on.kind == "file":  # `streamlit run app.py -- FILE`
    kinds = {"file": f"{started_on.name} (opened with the server)", **kinds}
kind = st.radio(
    "Texts", list(kinds), format_func=kinds.get, index=list(kinds).index(source.kind), horizontal=True
)

with compute.shown_errors():
    if kind == "file":
        if source != started_on:
            layout.take_source(started_on)
    elif kind == "sample":
        names = list(SAMPLES)
        name = st.selectbox("Sample", names, index=names.index(source.name) if source.name in names else 0)
        if source != DataSource("sample", name):
            layout.take_source(DataSource("sample", name))
    elif kind == "upload":
        types = [f.lstrip(".") for f in FORMATS] + ["gz"]
        upload = st.file_uploader("File", type=types, help=", ".join(types[:-1]) + ", or any of them .gz")
        if upload is not None:
            digest = compute.remember_input(upload.name, upload.getvalue())
            if source.digest != digest:
                layout.take_source(DataSource("upload", upload.name, digest))
        elif source.kind != "upload":
            st.info("Choose a file to upload; the current data stays until then.")
    else:
        pasted = st.text_area("One text per line", height=200, key="data.paste")
        if st.button("Use these texts", disabled=not pasted.strip(), key="data.use_paste"):
            digest = compute.remember_paste(pasted)
            layout.take_source(DataSource("paste", "pasted text", digest))

    corpus = compute.corpus()
    report = corpus.report
    columns = [str(c) for c in corpus.frame.columns]
    if state.source().kind != "paste" and len(columns) > 1:
        picked = st.selectbox("Text column", columns, index=columns.index(corpus.text_column))
        if picked != corpus.text_column:
            state.set_text_column(picked)
            st.rerun()
    for warning in report.warnings:
        st.warning(warning)
    a, b, c = st.columns(3)
    a.metric("Texts", f"{len(corpus):,}")
    b.metric("Dropped (empty)", f"{report.n_dropped:,}")
    c.metric("Duplicates (kept)", f"{report.n_duplicates:,}")
    st.dataframe(corpus.frame.head(200), width="stretch", height=240)

if compute.map_folder_source() is not None:
    with st.expander("Add texts to this map"), compute.shown_errors():
        st.caption(
            "New texts are embedded with the map's backend and placed with the model it was fitted "
            "with: the map's points do not move, and each new text takes the cluster of its nearest "
            "mapped texts, or is marked far from every cluster."
        )
        types = [f.lstrip(".") for f in FORMATS] + ["gz"]
        new = st.file_uploader("New texts", type=types, key="data.onto")
        if new is not None:
            digest = compute.remember_input(new.name, new.getvalue())
            placed = compute.placed_onto(new.name, digest)
            state.set_added(new.name, digest)
            far = int((placed["cluster"] < -1).sum())
            st.success(
                f"{len(placed):,} texts placed; {far:,} far from every cluster. "
                "The Map page shows them over the map's own coordinates."
            )
            shown = [c for c in placed.columns if c not in ("x", "y")][:8]
            st.dataframe(placed[shown], width="stretch", height=240)
            stem = new.name.split(".")[0]
            st.download_button(
                "Download the placed texts (CSV)",
                placed.to_csv(index=False).encode("utf-8"),
                file_name=f"{stem}-placed.csv",
                mime="text/csv",
            )

st.subheader("Backend")
choice = state.backend()
names = sorted(BACKENDS)
name = st.selectbox(
    "Embedding backend", names, index=names.index(choice.name if choice.name in names else DEFAULT_BACKEND)
)
if name == "sentence-transformers":
    model = st.text_input("Model (bundled name or a local folder)", value=choice.model or DEFAULT_MODEL)
    left, right = st.columns(2)
    batch = left.number_input("Batch size", 1, 1024, choice.batch_size)
    precision = right.radio(
        "Precision",
        PRECISIONS,
        index=PRECISIONS.index(choice.precision or DEFAULT_PRECISION),
        horizontal=True,
        help="int8: the model quantized for the CPU (built once from the bundled weights, about "
        "30 s); fp32: the model as published. Their vectors are kept apart.",
    )
    new = BackendChoice(
        name,
        model=model if model != DEFAULT_MODEL else None,
        batch_size=int(batch),
        precision=None if precision == DEFAULT_PRECISION else precision,
    )
elif name == "openai":
    models = list(OPENAI_MODELS)
    model = st.selectbox(
        "Model",
        models,
        index=models.index(choice.model) if choice.model in models else models.index(OPENAI_DEFAULT),
    )
    dims = st.number_input(
        "Dimensions (0 = the model's full size)", 0, OPENAI_MODELS[model], choice.dimensions or 0
    )
    base_url = st.text_input("Base URL (empty = api.openai.com)", value=choice.base_url or "")
    st.text_input("API key (kept only in this browser session)", type="password", key="data.openai_key")
    new = BackendChoice(name, model=model, dimensions=int(dims) or None, base_url=base_url.strip() or None)
elif name == "tfidf":
    dims = st.number_input("Dimensions", 2, 1024, choice.dimensions or 256)
    new = BackendChoice(name, dimensions=int(dims))
elif name == "precomputed":
    vector_columns = [c for c in columns if c != corpus.text_column]
    if not vector_columns:
        st.warning("This data has no other column to read vectors from.")
    column = st.selectbox("Column holding the vectors", vector_columns) if vector_columns else None
    new = BackendChoice(name, vectors=column)
else:
    new = BackendChoice(name)
if new != choice:
    state.set_backend(new)
    st.rerun()  # the sidebar, drawn before this page, names the backend

if st.button("Embed", type="primary"):
    with compute.shown_errors():
        compute.approve(compute.embeddings_key(corpus))  # asked for: however long it takes
        emb = compute.embeddings(corpus)
        st.success(
            f"{len(emb):,} texts embedded: {emb.n_encoded:,} encoded, {emb.n_from_store:,} from the store; "
            f"{emb.vectors.shape[1]} dimensions."
        )
store = compute.store()
st.caption(
    f"Vectors and results are kept in the store, {store.size() / 1e6:,.0f} MB at "
    f"`{store.path}`; `embedviz store` lists what it holds and frees space."
)


st.subheader("Tags")
with compute.shown_errors():
    tag_counts = curation.tag_counts(compute.row_tags(corpus))
    if not tag_counts:
        st.caption(
            "No tags yet. Tag texts on the Map (a selection or a filter), Search (the results) or "
            "Clusters (a cluster's members) page; they are kept with these texts."
        )
    else:
        st.dataframe(
            pd.DataFrame({"tag": list(tag_counts), "texts": list(tag_counts.values())}),
            hide_index=True,
            width="stretch",
        )
        left, right = st.columns(2)
        old = left.selectbox("Tag", list(tag_counts), key="data.tag")
        new_name = left.text_input("New name", key="data.tag_name")
        if left.button("Rename", key="data.tag_rename"):
            compute.rename_tag(corpus, old, new_name)
            st.rerun()
        if right.button(f"Remove the tag '{old}' from all texts", key="data.tag_remove"):
            compute.untag(corpus, old)
            st.rerun()
