"""Clusters: method and parameters, labelled clusters, members, agreement with a label column."""

import pandas as pd
import streamlit as st

from embedviz import analysis, figures
from embedviz.cluster import CLUSTER_METHODS, ClusterParams
from embedviz.naming import DEFAULT_CHAT_MODEL
from embedviz.ui import compute, layout, state

st.title("Clusters")

params = state.cluster_params()
with compute.shown_errors():
    cur = compute.current()
    corpus = cur.corpus
    a, b, c = st.columns(3)
    method = a.selectbox(
        "Method", CLUSTER_METHODS, index=CLUSTER_METHODS.index(params.method), key="clusters.w.method"
    )
    if method == "hdbscan":
        size = b.number_input(
            "Min cluster size (0 = scaled to the data)", 0, 10_000, params.min_cluster_size or 0
        )
        keep = c.toggle("Keep outliers as noise", value=params.keep_noise, key="clusters.w.noise")
        new = ClusterParams(
            method=method, min_cluster_size=int(size) or None, keep_noise=keep, seed=params.seed
        )
    else:
        auto = b.toggle("Pick the number automatically", value=params.k is None, key="clusters.w.auto")
        k = None if auto else c.number_input("Number of clusters", 1, 500, params.k or 8, key="clusters.w.k")
        new = ClusterParams(method=method, k=int(k) if k else None, seed=params.seed)
    if new != params:
        state.set_cluster_params(new)
    clusters = compute.clusters(corpus, cur.embeddings)
    for note in clusters.clustering.notes:
        st.caption(note)

    texts = corpus.texts
    table = pd.DataFrame(
        {
            "cluster": s.cluster,
            "label": s.label,
            "size": s.size,
            "keywords": ", ".join(s.keywords),
            "representative texts": " | ".join(figures.shorten(texts[r], 80) for r in s.representatives),
        }
        for s in clusters.summaries
    )
    with st.expander("Name clusters with an OpenAI chat model (optional)"):
        st.caption("Sends each cluster's keywords and 3 representative texts to the chat model.")
        use = st.toggle("Name the clusters", value=False, key="clusters.w.names")
        key = st.text_input("API key (kept only in this session)", type="password", key="clusters.openai_key")
        base_url = (
            st.text_input("Base URL (empty = api.openai.com)", key="clusters.w.base_url").strip() or None
        )
        chat_model = st.text_input("Chat model", value=DEFAULT_CHAT_MODEL, key="clusters.w.chat_model")
    if use:
        names = compute.cluster_names(corpus, cur.embeddings, clusters, key or None, base_url, chat_model)
        table.insert(1, "name", table["cluster"].map(names).fillna("noise"))
    st.metric("Clusters", clusters.clustering.k)
    st.dataframe(table, width="stretch", hide_index=True)

    options = [s.cluster for s in clusters.summaries]
    names = {s.cluster: f"{s.cluster}: {s.label} ({s.size})" for s in clusters.summaries}
    chosen = st.selectbox("Members of", options, format_func=names.get, key="clusters.pick")
    members = corpus.frame[clusters.labels == chosen]
    st.dataframe(members, width="stretch", height=260)

    st.subheader("Agreement with a label column")
    label = layout.label_column(corpus.metadata_columns, key="clusters.label")
    if label:
        agreement = analysis.agreement(clusters.labels, corpus.frame[label])
        x, y = st.columns(2)
        x.metric("Adjusted Rand index", f"{agreement.ari:.3f}")
        y.metric("Normalized mutual information", f"{agreement.nmi:.3f}")
        st.dataframe(agreement.table, width="stretch")
    else:
        st.caption("Pick a column with known labels to see how well the clusters match it.")
