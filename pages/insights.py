"""Insights: outliers, diversity (similarity distributions) and zero-shot classification."""

import numpy as np
import pandas as pd
import streamlit as st

from embedviz import analysis, export, figures
from embedviz.ui import compute, layout

TABLE_ROWS = 1000
st.title("Insights")

with compute.shown_errors():
    cur = compute.current()
    corpus, vectors = cur.corpus, cur.embeddings.vectors
    outliers_tab, diversity_tab, classify_tab = st.tabs(["Outliers", "Diversity", "Classification"])

    with outliers_tab:
        scores = compute.outliers(cur.embeddings)
        n = st.slider(
            "How many", 5, min(200, max(5, len(scores))), min(20, max(5, len(scores))), key="insights.n"
        )
        order = np.argsort(-scores, kind="stable")[:n]
        st.dataframe(
            corpus.frame.iloc[order].assign(outlier_score=scores[order]), width="stretch", height=300
        )
        st.plotly_chart(figures.histogram(scores, "Outlier scores", "1 - mean similarity to 10 nearest"))

    with diversity_tab:
        sims = analysis.pairwise_similarities(vectors)
        st.metric("Mean pairwise similarity", f"{float(sims.mean()):.3f}" if len(sims) else "n/a")
        st.plotly_chart(figures.histogram(sims, "Pairwise cosine similarities", "cosine similarity"))
        clusters = compute.clusters(corpus, cur.embeddings)
        by_cluster = analysis.mean_similarity_by_cluster(vectors, clusters.labels)
        names = {s.cluster: s.label for s in clusters.summaries}
        by_cluster.insert(1, "label", by_cluster["cluster"].map(names))
        st.dataframe(by_cluster, width="stretch", hide_index=True)

    with classify_tab:
        raw = st.text_input(
            "Candidate labels, comma-separated",
            key="insights.labels",
            placeholder="e.g. sports, cooking, finance",
        )
        names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        if len(names) >= 2:
            result = analysis.classify(vectors, compute.query_vectors(cur, names), names)
            counts = (
                pd.Series(result.predicted()).value_counts().rename_axis("label").reset_index(name="texts")
            )
            st.dataframe(counts, width="stretch", hide_index=True)
            truth = layout.label_column(corpus.metadata_columns, key="insights.truth")
            if truth:
                st.metric(
                    "Accuracy against " + truth,
                    f"{analysis.accuracy(result.predicted(), corpus.frame[truth]):.1%}",
                )
            labelled = corpus.frame.assign(predicted=result.predicted(), similarity=result.score)
            if len(labelled) > TABLE_ROWS:
                st.caption(f"The first {TABLE_ROWS:,} of {len(labelled):,} texts; the download has all.")
            st.dataframe(labelled.head(TABLE_ROWS), width="stretch", height=300)
            st.download_button(
                "Download all (CSV)", lambda: export.csv_bytes(labelled), "classified.csv", "text/csv"
            )
        else:
            st.info("Type two or more labels: each text goes to the label it is most similar to.")
