from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from embedviz import ClusterParams, InputError, Store, load_corpus, make_backend
from embedviz import curation as cur
from embedviz.pipeline import clustering, curated, edit_base, embeddings
from tests.planted import planted_frame
from tests.test_cli import run


def load_corpus_of(folder, frame: pd.DataFrame):
    path = folder / "part.csv"
    frame.to_csv(path, index=False)
    return load_corpus(path)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "planted.csv"
    planted_frame(per_topic=10).to_csv(path, index=False)
    return load_corpus(path)


def test_tags_follow_the_texts_across_restarts_and_reordered_uploads(tmp_path, corpus):
    store_path = tmp_path / "store.sqlite"
    cur.tag(corpus, Store(store_path), [0, 1, 2], "keep")
    cur.tag(corpus, Store(store_path), [2, 3], " check  me ")
    # a restart (a new handle) and the same file again, rows reversed
    reversed_path = tmp_path / "reversed.csv"
    corpus.frame.iloc[::-1].to_csv(reversed_path, index=False)
    again = load_corpus(reversed_path)
    tags = cur.row_tags(again, Store(store_path))[::-1]
    assert tags == cur.row_tags(load_corpus(tmp_path / "planted.csv"), Store(store_path))
    assert tags[:4] == [("keep",), ("keep",), ("check me", "keep"), ("check me",)]
    assert all(t == () for t in tags[4:])
    other = load_corpus_of(tmp_path, corpus.frame.iloc[:20])  # another set of texts: its own tags
    assert all(t == () for t in cur.row_tags(other, Store(store_path)))
    assert cur.tag_counts(tags) == {"keep": 3, "check me": 2}
    assert cur.first_tags(tags)[:5] == ["keep", "keep", None, "check me", None]


def test_two_sessions_tagging_at_the_same_moment_lose_nothing(tmp_path, corpus):
    import threading

    path = tmp_path / "store.sqlite"
    stores = [Store(path), Store(path)]  # two sessions' handles on one store file
    start = threading.Barrier(2)

    def session(i: int) -> None:
        start.wait()
        for row in range(i, len(corpus), 2):  # different points, one write each, interleaved
            cur.tag(corpus, stores[i], [row], f"tag {i}")

    threads = [threading.Thread(target=session, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tags = cur.row_tags(corpus, Store(path))
    assert tags == [(f"tag {row % 2}",) for row in range(len(corpus))]


def test_tags_rename_remove_and_refuse_bad_names(tmp_path, corpus):
    store = Store(tmp_path / "s.sqlite")
    cur.tag(corpus, store, [0, 1], "old")
    cur.tag(corpus, store, [1, 2], "new")
    cur.rename_tag(corpus, store, "old", "new")
    assert cur.tag_counts(cur.row_tags(corpus, store)) == {"new": 3}
    cur.untag(corpus, store, "new", [0])
    assert cur.tag_counts(cur.row_tags(corpus, store)) == {"new": 2}
    cur.untag(corpus, store, "new")
    assert cur.tag_counts(cur.row_tags(corpus, store)) == {}
    with pytest.raises(InputError, match="empty"):
        cur.tag(corpus, store, [0], "   ")
    with pytest.raises(InputError, match="no texts are selected"):
        cur.tag(corpus, store, [], "x")
    with pytest.raises(InputError, match="out of range"):
        cur.tag(corpus, store, [len(corpus)], "x")


def test_edits_apply_in_order_and_undo_restores(tmp_path, corpus):
    store, backend = Store(tmp_path / "s.sqlite"), make_backend("planted")
    emb = embeddings(corpus, backend, store)
    params = ClusterParams(k=5)
    base = clustering(corpus, emb, params, store)
    labels, broad = base.labels, base.broad

    def edit(op):
        cur.add_edit(store, emb.fingerprint, params, op, labels, broad, emb.vectors)
        return curated(corpus, emb, params, base, store)

    renamed = edit({"op": "rename", "level": "fine", "cluster": 0, "name": "Rockets"})
    assert renamed.names("fine")[0] == "Rockets" and renamed.edited == 1
    merged = edit({"op": "merge", "clusters": [0, 1]})
    assert merged.clustering.k == 4 and (merged.labels[labels == 1] == 0).all()
    assert merged.names("fine")[0] == "Rockets"
    split = edit({"op": "split", "cluster": 2, "k": 2})
    assert split.clustering.k == 5 and set(split.labels[labels == 2].tolist()) == {2, 5}
    moved = edit({"op": "move", "rows": [int(np.nonzero(labels == 3)[0][0])], "to": 4})
    assert (moved.labels == 4).sum() == (labels == 4).sum() + 1
    assert moved.clustering.parents()[4] == moved.broad[moved.labels == 4][0]

    with pytest.raises(InputError, match="no cluster 1"):  # merged away above
        edit({"op": "rename", "cluster": 1, "name": "x"})
    assert curated(corpus, emb, params, base, store).edited == 4, "a refused edit is not stored"

    cur.undo(store, emb.fingerprint, params)
    after_undo = curated(corpus, emb, params, base, store)
    assert (after_undo.labels == split.labels).all()
    for _ in range(3):
        cur.undo(store, emb.fingerprint, params)
    assert curated(corpus, emb, params, base, store) is base
    other = ClusterParams(k=6)  # edits belong to one clustering
    assert cur.edits(store, emb.fingerprint, other) == []


def test_edits_stay_on_the_clusters_they_were_made_on_when_a_newer_embedviz_finds_others(tmp_path, corpus):
    from embedviz.cluster import CLUSTER_VERSION
    from embedviz.pipeline import clustering_key

    store = Store(tmp_path / "s.sqlite")
    emb = embeddings(corpus, make_backend("planted"), store)
    params = ClusterParams(k=5)
    base = clustering(corpus, emb, params, store)
    # the clusters an earlier cluster() stored: the same groups, numbered otherwise
    earlier = dict(store.get_artifact(clustering_key(emb, params)))
    earlier["labels"] = (base.labels + 1) % 5
    old = CLUSTER_VERSION - 1
    store.put_artifact(clustering_key(emb, params, version=old), "clustering", earlier)
    rename = {"op": "rename", "cluster": 0, "name": "Rockets"}
    cur.add_edit(store, emb.fingerprint, params, rename, earlier["labels"], base.broad, emb.vectors, old)

    shown = curated(corpus, emb, params, base, store)
    assert (shown.labels == earlier["labels"]).all(), "the clusters the rename was made on"
    assert shown.names("fine")[0] == "Rockets" and shown.edited == 1
    assert any("earlier embedviz, so those are shown" in n for n in shown.clustering.notes)
    with pytest.raises(InputError, match="undo them"):  # not on today's clusters under the old log
        cur.add_edit(store, emb.fingerprint, params, rename, base.labels, base.broad, emb.vectors)
    merge = {"op": "merge", "clusters": [0, 1]}
    cur.add_edit(store, emb.fingerprint, params, merge, earlier["labels"], base.broad, emb.vectors, old)
    assert curated(corpus, emb, params, base, store).edited == 2

    # gone from the store: the edits are kept, not applied to clusters they were not made on
    fresh = Store(tmp_path / "fresh.sqlite")
    for edit in cur.edits(store, emb.fingerprint, params):
        fresh.add_edit(cur.edits_dataset(emb.fingerprint, params), json.dumps(edit, sort_keys=True))
    kept = curated(corpus, emb, params, clustering(corpus, emb, params, fresh), fresh)
    assert (kept.labels == base.labels).all() and kept.names("fine")[0] != "Rockets"
    assert kept.edited == 2 and any("kept, not applied" in n for n in kept.clustering.notes)


def test_clustering_reports_its_steps_and_a_stored_one_none(tmp_path, corpus):
    store = Store(tmp_path / "s.sqlite")
    emb = embeddings(corpus, make_backend("planted"), store)
    events = []
    clustering(corpus, emb, ClusterParams(), store, on_progress=events.append)
    assert [e.done for e in events] == [0, 1, 2, 3, 4] and {e.total for e in events} == {4}
    assert events[1].detail == "clusters at both levels"
    again = []
    clustering(corpus, emb, ClusterParams(), store, on_progress=again.append)
    assert again == [], "read from the store"


def test_edits_on_an_earlier_version_of_the_same_clusters_carry_over(tmp_path, corpus):
    from embedviz.cluster import CLUSTER_VERSION
    from embedviz.pipeline import clustering_key

    store = Store(tmp_path / "s.sqlite")
    emb = embeddings(corpus, make_backend("planted"), store)
    params = ClusterParams(k=5)
    base = clustering(corpus, emb, params, store)
    old = CLUSTER_VERSION - 1  # an earlier embedviz that found these very clusters
    store.put_artifact(clustering_key(emb, params, version=old), "clustering", store.get_artifact(base.key))
    rename = {"op": "rename", "cluster": 0, "name": "Rockets"}
    cur.add_edit(store, emb.fingerprint, params, rename, base.labels, base.broad, emb.vectors, old)

    shown = curated(corpus, emb, params, base, store)
    assert shown.names("fine")[0] == "Rockets" and shown.edited == 1
    assert not any("earlier embedviz" in n for n in shown.clustering.notes)
    made_on = edit_base(emb, params, base, store, cur.edits(store, emb.fingerprint, params))
    assert made_on.version == old and made_on.clustering is base.clustering
    merge = {"op": "merge", "clusters": [0, 1]}  # a later edit joins the log, as the page adds it
    cur.add_edit(
        store, emb.fingerprint, params, merge, made_on.labels, made_on.broad, emb.vectors, made_on.version
    )
    assert curated(corpus, emb, params, base, store).edited == 2


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"op": "merge", "clusters": [0]}, "two or more"),
        ({"op": "split", "cluster": 0, "k": 1000}, "splits into 2 to"),
        ({"op": "move", "rows": [], "to": 0}, "select the texts"),
        ({"op": "rename", "cluster": 0, "name": "  "}, "empty"),
        ({"op": "explode"}, "unknown edit"),
    ],
)
def test_bad_edits_say_what_is_wrong(op, message):
    labels = np.array([0, 0, 1, 1])
    with pytest.raises(InputError, match=message):
        cur.apply_edits(labels, labels.copy(), np.eye(4, dtype=np.float32), [op])


def test_cli_map_writes_the_names_and_tags_the_user_gave(capsys, tmp_path, planted_csv):
    cache = tmp_path / "cache"
    store = Store(cache / "store.sqlite")
    corpus = load_corpus(planted_csv)
    emb = embeddings(corpus, make_backend("planted"), store)
    params = ClusterParams(k=5)  # what `--clusters 5` asks for
    base = clustering(corpus, emb, params, store)
    cur.add_edit(
        store,
        emb.fingerprint,
        params,
        {"op": "rename", "cluster": 0, "name": "My topic"},
        base.labels,
        base.broad,
        emb.vectors,
    )
    cur.tag(corpus, store, [0, 1], "first two")
    out = tmp_path / "map.csv"
    argv = ["map", str(planted_csv), "--out", str(out), "--backend", "planted", "--reducer", "pca"]
    code, _, err = run(capsys, *argv, "--clusters", "5", "--cache-dir", str(cache))
    assert code == 0, err
    frame = pd.read_csv(out)
    assert (frame.loc[frame["cluster"] == 0, "cluster_label"] == "My topic").all()
    assert (frame.loc[frame["cluster"] != 0, "cluster_label"] != "My topic").all()
    assert frame["tags"].fillna("").tolist()[:3] == ["first two", "first two", ""]
