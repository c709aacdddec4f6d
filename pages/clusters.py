"""Clusters: fine clusters inside broad topics, as a tree and as tables; members of any node
(tag them, move them); the user's edits (rename, merge, split, undo); optional chat-model
names; agreement with a label column at both levels."""

import pandas as pd
import streamlit as st

from embedviz import analysis, figures, pipeline, scale
from embedviz.cluster import CLUSTER_METHODS, ClusterParams
from embedviz.errors import EmbedvizError, InputError
from embedviz.naming import DEFAULT_CHAT_MODEL
from embedviz.ui import compute, layout, state

LEVEL_NAMES = {"broad": "Broad topics", "fine": "Fine clusters"}
TABLE_ROWS = 1000

layout.within_app()
st.title("Clusters")


def settings(params: ClusterParams) -> ClusterParams:
    a, b, c, d = st.columns(4)
    method = a.selectbox(
        "Method", CLUSTER_METHODS, index=CLUSTER_METHODS.index(params.method), key="clusters.w.method"
    )
    if method == "hdbscan":
        size = b.number_input(
            "Min cluster size (0 = scaled to the data)", 0, 10_000, params.min_cluster_size or 0
        )
        keep = c.toggle("Keep outliers as noise", value=params.keep_noise, key="clusters.w.noise")
        fine = {"min_cluster_size": int(size) or None, "keep_noise": keep, "k": None}
    else:
        auto = b.toggle("Automatic number of clusters", value=params.k is None, key="clusters.w.auto")
        k = None if auto else c.number_input("Fine clusters", 1, 2000, params.k or 20, key="clusters.w.k")
        fine = {"k": int(k) if k else None}
    broad_auto = d.toggle(
        "Automatic number of topics", value=params.broad_k is None, key="clusters.w.broad_auto"
    )
    broad_k = None
    if not broad_auto:
        broad_k = int(d.number_input("Broad topics", 1, 200, params.broad_k or 5, key="clusters.w.broad_k"))
    return ClusterParams(method=method, broad_k=broad_k, seed=params.seed, k_max=params.k_max, **fine)


def summary_table(
    summaries, texts, names: dict[int, str] | None, parents: dict[int, int] | None, cohesion: dict | None
) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "cluster": s.cluster,
            "name": (names or {}).get(s.cluster) or s.label,
            "size": s.size,
            **({} if cohesion is None else {"cohesion": round(cohesion.get(s.cluster, float("nan")), 2)}),
            "keywords": ", ".join(s.keywords),
            "representative texts": " | ".join(figures.shorten(texts[r], 80) for r in s.representatives),
        }
        for s in summaries
    )
    if parents is not None and len(table):
        table.insert(1, "broad topic", table["cluster"].map(parents))
    return table


def edit_clusters(cur, clusters, fine_names: dict, broad_names: dict, ticked) -> None:
    """Rename, merge, split, move ticked members; undo the last edit. Kept in the store."""
    fine = [s.cluster for s in clusters.summaries if s.cluster >= 0]
    broad = [s.cluster for s in clusters.broad_summaries if s.cluster >= 0]

    def fine_label(c: int) -> str:
        return f"{c}: {fine_names.get(c, '')}"

    with st.expander(f"Edit clusters ({clusters.edited} edit(s) kept)"):
        edit = None
        a, b = st.columns(2)
        level = a.radio(
            "Rename", ("fine", "broad"), format_func=LEVEL_NAMES.get, horizontal=True, key="edit.level"
        )
        options = fine if level == "fine" else broad
        names = fine_names if level == "fine" else broad_names
        target = a.selectbox(
            "Cluster", options, format_func=lambda c: f"{c}: {names.get(c, '')}", key="edit.rename"
        )
        new_name = a.text_input("New name", key="edit.name")
        if a.button("Rename", key="edit.rename_button"):
            edit = {"op": "rename", "level": level, "cluster": int(target), "name": new_name}
        merged = b.multiselect(
            "Merge fine clusters (into the first)", fine, format_func=fine_label, key="edit.merge"
        )
        if b.button("Merge", key="edit.merge_button", disabled=len(merged) < 2):
            edit = {"op": "merge", "clusters": [int(c) for c in merged]}
        c, d = st.columns(2)
        split = c.selectbox("Split a fine cluster", fine, format_func=fine_label, key="edit.split")
        parts = c.number_input("into", 2, 50, 2, key="edit.parts")
        if c.button("Split", key="edit.split_button"):
            edit = {"op": "split", "cluster": int(split), "k": int(parts)}
        to = d.selectbox(
            f"Move the {len(ticked)} ticked member(s) to", fine, format_func=fine_label, key="edit.move"
        )
        if d.button("Move", key="edit.move_button", disabled=not len(ticked)):
            edit = {"op": "move", "rows": [int(r) for r in ticked], "to": int(to)}
        if st.button("Undo the last edit", key="edit.undo", disabled=clusters.edited == 0):
            compute.undo_cluster_edit(cur.embeddings)
            st.rerun()
        if edit is not None:
            try:
                compute.edit_clusters(cur.corpus, cur.embeddings, edit)
            except EmbedvizError as e:
                st.error(str(e), icon=":material/warning:")
            else:
                st.rerun()


with compute.shown_errors():
    corpus = compute.corpus()
    cur = None
    if compute.folder_on_disk(corpus) is None:
        cur = compute.current()
        params = state.cluster_params()
        new = settings(params)
        if new != params:
            state.set_cluster_params(new)
        clusters = compute.clusters(corpus, cur.embeddings)
    else:  # vectors on disk: the clusters the folder was mapped with
        if not pipeline.has_file_clusters(corpus):
            raise InputError(scale.map_first_message(len(corpus)))
        clusters = compute.file_clusters(corpus)
        st.caption(
            f"{len(corpus):,} texts, more than the dashboard keeps vectors for in memory: these are the "
            "folder's own clusters (from `embedviz map`). Clustering again and editing clusters need the "
            "vectors in memory; `embedviz map EMBEDDED --out NEW --fit-sample N` clusters again from a "
            "sample (EMBEDDED: the folder `embedviz embed` wrote)."
        )
    for note in clusters.clustering.notes:
        st.caption(note)
    if cur is not None:
        layout.topic_counts(clusters.clustering)

    with st.expander("Name clusters with an OpenAI chat model (optional)"):
        st.caption("Sends each cluster's keywords and 3 representative texts to the chat model.")
        use = st.toggle("Name the clusters", value=False, key="clusters.w.names")
        key = st.text_input("API key (kept only in this session)", type="password", key="clusters.openai_key")
        base_url = (
            st.text_input("Base URL (empty = api.openai.com)", key="clusters.w.base_url").strip() or None
        )
        chat_model = st.text_input("Chat model", value=DEFAULT_CHAT_MODEL, key="clusters.w.chat_model")
    custom = compute.cluster_names(corpus, clusters, key or None, base_url, chat_model) if use else None
    custom = custom or compute.custom_names(clusters) or {}

    m1, m2 = st.columns(2)
    m1.metric("Broad topics", clusters.clustering.broad_k)
    m2.metric("Fine clusters", clusters.clustering.k)

    texts = corpus.texts
    broad_names = clusters.names("broad", custom.get("broad"))
    fine_names = clusters.names("fine", custom.get("fine"))
    tree = figures.cluster_tree(clusters.summaries, clusters.clustering.parents(), fine_names, broad_names)
    event = st.plotly_chart(tree, key="clusters.tree", on_select="rerun", selection_mode="points")
    clicked = [p.get("id") for p in (event.selection.points if event else []) if p.get("id")]

    nodes = figures.tree_nodes(clusters.summaries, clusters.broad_summaries, fine_names, broad_names)
    default = nodes.index(clicked[0]) if clicked and clicked[0] in nodes else 0
    chosen = st.selectbox(
        "Members of",
        nodes,
        index=default,
        format_func=lambda node: figures.node_label(node, fine_names, broad_names),
        key="clusters.pick",
    )
    level, number = figures.parse_node(chosen)
    labels, _ = clusters.level(level)
    member_rows = (labels == number).nonzero()[0]
    members = corpus.frame.iloc[member_rows]
    if len(members) > TABLE_ROWS:
        st.caption(f"The first {TABLE_ROWS:,} of {len(members):,} members.")
    table = st.dataframe(
        members.head(TABLE_ROWS),
        width="stretch",
        height=260,
        on_select="rerun",
        selection_mode="multi-row",
        key="clusters.members",
    )
    ticked = member_rows[:TABLE_ROWS][table.selection.rows] if table and table.selection.rows else []
    layout.tag_form(corpus, member_rows, "clusters.node", "members")
    if cur is not None:
        edit_clusters(cur, clusters, fine_names, broad_names, ticked)

    cohesion = {"broad": None, "fine": None}
    graph = compute.graph_if_made(cur.embeddings) if cur is not None else None
    if graph is not None:  # how far each cluster stands apart
        cohesion = {level: analysis.cluster_cohesion(clusters.level(level)[0], graph) for level in cohesion}
        st.caption(
            f"Cohesion: the share of a member's {analysis.TRUST_NEIGHBORS} nearest neighbours (in the "
            "embedding space) that are in its cluster, averaged over the members. 1: a group apart; "
            "about the cluster's share of the texts: no more than chance."
        )
    tabs = st.tabs([LEVEL_NAMES["broad"], LEVEL_NAMES["fine"]])
    with tabs[0]:
        st.dataframe(
            summary_table(clusters.broad_summaries, texts, broad_names, None, cohesion["broad"]),
            width="stretch",
            hide_index=True,
        )
    with tabs[1]:
        st.dataframe(
            summary_table(
                clusters.summaries, texts, fine_names, clusters.clustering.parents(), cohesion["fine"]
            ),
            width="stretch",
            hide_index=True,
        )

    st.subheader("Agreement with a label column")
    label = layout.label_column(corpus.metadata_columns, key="clusters.label")
    if label:
        truth = corpus.frame[label]
        fine, broad = analysis.agreement(clusters.labels, truth), analysis.agreement(clusters.broad, truth)
        x, y, z, w = st.columns(4)
        x.metric("Adjusted Rand index (broad)", f"{broad.ari:.3f}")
        y.metric("Adjusted Rand index (fine)", f"{fine.ari:.3f}")
        z.metric("Normalized mutual information (broad)", f"{broad.nmi:.3f}")
        w.metric("Normalized mutual information (fine)", f"{fine.nmi:.3f}")
        shown = st.radio(
            "Table", ("broad", "fine"), format_func=LEVEL_NAMES.get, horizontal=True, key="clusters.w.table"
        )
        st.dataframe((broad if shown == "broad" else fine).table, width="stretch")
    else:
        st.caption("Pick a column with known labels to see how well the clusters match it.")
