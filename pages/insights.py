"""Insights: outliers, diversity (similarity distributions), zero-shot classification, and a
classifier trained from the texts a user tagged (or a label column)."""

import numpy as np
import pandas as pd
import streamlit as st

from embedviz import analysis, curation, export, figures
from embedviz.errors import EmbedvizError
from embedviz.ui import compute, layout, state

TABLE_ROWS = 1000
NEXT_TO_TAG = 20
FROM_TAGS = "(tags)"
layout.within_app()
st.title("Insights")


def from_examples(cur) -> None:
    """Train on the tagged texts (or a column's non-empty values), predict the rest, list the
    least confident as the next texts to tag, export the table and the classifier."""
    corpus = cur.corpus
    source = st.selectbox(
        "Learn from",
        [FROM_TAGS, *corpus.metadata_columns],
        key="insights.examples",
        help="Tags: texts with exactly one tag (tag them on the Map or Clusters page). A column: "
        "its non-empty values; empty rows are predicted.",
    )
    if source == FROM_TAGS:
        labels = curation.first_tags(compute.row_tags(corpus))
    else:
        labels = [None if pd.isna(v) or not str(v).strip() else str(v).strip() for v in corpus.frame[source]]
    given = sum(label is not None for label in labels)
    if len({label for label in labels if label is not None}) < 2:
        st.info(
            f"{given:,} texts have a label; a classifier needs examples of two or more. Tag some texts of "
            "each kind on the Map or Clusters page (or pick a column with labels)."
        )
        return
    model, found = compute.classifier(corpus, cur.embeddings, tuple(labels), cur.choice)
    state.set_predictions(cur.embeddings.fingerprint, found)
    st.caption("The map can be coloured by these predictions (Colour by: prediction).")
    a, b, c = st.columns(3)
    a.metric("Examples", f"{model.examples:,}")
    b.metric("Labels", len(model.classes))
    c.metric(
        "Cross-validated accuracy",
        "n/a" if model.cv_accuracy is None else f"{model.cv_accuracy:.1%}",
        help="Accuracy on held-out examples (5-fold); n/a when a label has a single example.",
    )
    untagged = np.array([label is None for label in labels])
    counts = (
        pd.Series(found.labels[untagged]).value_counts().rename_axis("prediction").reset_index(name="texts")
    )
    st.dataframe(counts, width="stretch", hide_index=True)
    st.subheader("Least confident: the next texts to label")
    nxt = found.least_confident(NEXT_TO_TAG, among=untagged.nonzero()[0])
    shown = pd.DataFrame(
        {
            "text": [corpus.texts[i] for i in nxt],
            "prediction": found.labels[nxt],
            "confidence": found.confidence[nxt],
            "your tag": [""] * len(nxt),
        }
    )
    if source != FROM_TAGS:
        st.dataframe(shown.drop(columns="your tag"), width="stretch", height=260)
        downloads(corpus, cur, found, model)
        return
    edited = st.data_editor(
        shown, width="stretch", height=260, disabled=["text", "prediction", "confidence"], key="insights.next"
    )
    if st.button("Save these tags", key="insights.save_tags"):
        try:
            for row, name in zip(nxt, edited["your tag"], strict=True):
                if str(name).strip():
                    compute.tag(corpus, [row], str(name))
        except EmbedvizError as e:
            st.error(str(e), icon=":material/warning:")
        else:
            st.rerun()
    downloads(corpus, cur, found, model)


def downloads(corpus, cur, found, model) -> None:
    """Downloads: the labelled table (text, metadata, clusters, tags, prediction, confidence)
    and the classifier."""

    def table() -> pd.DataFrame:
        clusters = compute.clusters(corpus, cur.embeddings)
        return corpus.frame.assign(
            cluster=clusters.label_names("fine"),
            broad_topic=clusters.label_names("broad"),
            tags=[", ".join(t) for t in compute.row_tags(corpus)],
            prediction=found.labels,
            confidence=found.confidence,
        )

    x, y, z = st.columns(3)
    x.download_button("Table (CSV)", lambda: export.csv_bytes(table()), "embedviz-labelled.csv", "text/csv")
    y.download_button("Table (Parquet)", lambda: export.parquet_bytes(table()), "embedviz-labelled.parquet")
    z.download_button(
        "Classifier (zip, for `embedviz classify`)",
        lambda: export.classifier_zip(model),
        "embedviz-classifier.zip",
        "application/zip",
    )


with compute.shown_errors():
    cur = compute.current()
    corpus, vectors = cur.corpus, cur.embeddings.vectors
    outliers_tab, diversity_tab, classify_tab, examples_tab = st.tabs(
        ["Outliers", "Diversity", "Zero-shot classification", "Classify from examples"]
    )

    with outliers_tab:
        scores = compute.outliers(cur.embeddings)
        n = st.slider(
            "How many", 5, min(200, max(5, len(scores))), min(20, max(5, len(scores))), key="insights.n"
        )
        order = np.argsort(-scores, kind="stable")[:n]
        st.dataframe(
            corpus.frame.iloc[order].assign(outlier_score=scores[order]),
            width="stretch",
            height=300,
            column_config={"outlier_score": st.column_config.NumberColumn(format="%.3f")},
        )
        st.plotly_chart(figures.histogram(scores, "Outlier scores", "1 - mean similarity to 10 nearest"))

    with diversity_tab:
        sims = analysis.pairwise_similarities(vectors)
        st.metric("Mean pairwise similarity", f"{float(sims.mean()):.3f}" if len(sims) else "n/a")
        st.plotly_chart(figures.histogram(sims, "Pairwise cosine similarities", "cosine similarity"))
        clusters = compute.clusters(corpus, cur.embeddings)
        by_cluster = analysis.mean_similarity_by_cluster(vectors, clusters.labels)
        names = clusters.names("fine")
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

    with examples_tab:
        from_examples(cur)
