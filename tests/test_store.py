from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from embedviz import Store, corpus_from_frame, embed, make_backend
from embedviz.embed import text_hash
from embedviz.pipeline import build_map
from embedviz.reduce import ReduceParams
from tests.planted import planted_frame

TEXTS = planted_frame(per_topic=10)["text"].tolist()


def test_second_embed_encodes_nothing_and_a_new_text_only_itself(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    backend = make_backend("planted")
    first = embed(TEXTS, backend, store)
    assert (first.n_encoded, first.n_from_store) == (len(TEXTS), 0)
    again = embed(TEXTS, backend, store)
    assert (again.n_encoded, again.n_from_store) == (0, len(TEXTS))
    np.testing.assert_array_equal(first.vectors, again.vectors)
    assert first.fingerprint == again.fingerprint
    grown = embed([*TEXTS, "a brand new rocket text"], backend, store)
    assert grown.n_encoded == 1
    assert backend.encoded == len(TEXTS) + 1


def test_duplicates_are_encoded_once_and_rows_keep_input_order(tmp_path):
    backend = make_backend("planted")
    texts = ["orbit planet", "bake flour", "orbit planet"]
    result = embed(texts, backend, Store(tmp_path / "s.sqlite"))
    assert backend.encoded == 2
    np.testing.assert_array_equal(result.vectors[0], result.vectors[2])
    assert result.vectors[0] @ result.vectors[1] < 0.9


def test_store_survives_a_restart(tmp_path):
    path = tmp_path / "s.sqlite"
    store = Store(path)
    embed(TEXTS, make_backend("planted"), store)
    store.close()
    backend = make_backend("planted")
    result = embed(TEXTS, backend, Store(path))
    assert result.n_encoded == 0 and backend.encoded == 0


def test_spaces_do_not_mix(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    embed(TEXTS, make_backend("planted"), store)
    other = make_backend("planted", model="planted-v2")
    assert embed(TEXTS, other, store).n_encoded == len(TEXTS)


def test_corrupt_store_is_moved_aside_with_a_warning(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 200)
    store = Store(path)
    assert store.warnings and "moved it to" in store.warnings[0]
    assert list(tmp_path.glob("s.sqlite.corrupt-*"))
    assert embed(TEXTS, make_backend("planted"), store).n_encoded == len(TEXTS)


def test_a_store_that_cannot_be_opened_is_kept_and_said_plainly(tmp_path, monkeypatch):
    # "unable to open database file" was taken for damage: the file, or a whole cache folder
    # given as the path (Store(cache_dir), as --cache-dir reads), was moved aside as corrupt
    from embedviz.store import StoreError

    folder = tmp_path / "cache"
    first = Store(folder / "store.sqlite")
    assert embed(TEXTS, make_backend("planted"), first).n_encoded == len(TEXTS)
    first.close()
    (folder / "uploads").mkdir()
    store = Store(folder)  # the folder: its store file is opened, nothing is moved
    assert store.path == folder / "store.sqlite" and not store.warnings
    assert embed(TEXTS, make_backend("planted"), store).n_encoded == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"] and (folder / "uploads").is_dir()
    dangling = tmp_path / "s.sqlite"
    dangling.symlink_to(tmp_path / "missing" / "x.sqlite")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    for path in (dangling, not_a_folder / "store.sqlite"):
        with pytest.raises(StoreError, match="cannot be opened .*EMBEDVIZ_CACHE_DIR"):
            Store(path)
    data = tmp_path / "data.csv"  # a file given as the store by mistake is the user's, not damage
    data.write_text("text\nhello\n" * 200)
    with pytest.raises(StoreError, match="data.csv is not a store"):
        Store(data)
    assert dangling.is_symlink() and data.read_text().startswith("text")
    assert not list(tmp_path.glob("*.corrupt-*"))
    # the app says it on the page, with the way out, instead of a traceback
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.test_robustness import ROOT

    monkeypatch.setenv("EMBEDVIZ_CACHE_DIR", str(not_a_folder))
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    finally:
        st.cache_resource.clear()
    assert not at.exception and any("EMBEDVIZ_CACHE_DIR" in e.value for e in at.error), at.error


def test_truncated_store_never_crashes_and_gives_right_vectors(tmp_path):
    path = tmp_path / "s.sqlite"
    store = Store(path)
    texts = [f"{t} number {i}" for i in range(400) for t in TEXTS[:5]]
    expected = embed(texts, make_backend("planted"), store).vectors
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])
    store = Store(path)
    result = embed(texts, make_backend("planted"), store)
    np.testing.assert_allclose(result.vectors, expected, atol=1e-6)
    assert store.warnings and "moved it to" in store.warnings[-1]


WRITER = """
import sys, numpy as np
from embedviz.store import Store
store = Store(sys.argv[1])
store.put_vectors("space", [b"early-%d" % i for i in range(10)], np.ones((10, 8), np.float32))
print("ready", flush=True)
i = 0
while True:
    shas = [b"late-%d-%d" % (i, j) for j in range(2000)]
    store.put_vectors("space", shas, np.random.rand(2000, 8).astype(np.float32))
    i += 1
"""


def test_a_killed_writer_leaves_earlier_entries_intact(tmp_path):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
    finally:
        proc.kill()
        proc.wait()
    store = Store(path)
    assert not store.warnings
    early = store.get_vectors("space", [b"early-%d" % i for i in range(10)])
    assert len(early) == 10
    assert all((v == 1).all() and v.shape == (8,) for v in early.values())
    assert store.count_vectors("space") % 2000 == 10


def test_map_stages_are_reused_from_the_store(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    corpus = corpus_from_frame(planted_frame(per_topic=10))
    first = build_map(corpus, make_backend("planted"), store, ReduceParams(method="pca"))
    backend = make_backend("planted")
    second = build_map(corpus, backend, store, ReduceParams(method="pca"))
    assert backend.encoded == 0
    np.testing.assert_array_equal(first.projection.coords, second.projection.coords)
    assert first.frame.equals(second.frame)


def test_a_stored_projection_or_clustering_is_not_reused_once_its_method_changed(monkeypatch):
    from embedviz import ClusterParams, pipeline

    emb = embed(TEXTS, make_backend("planted"))
    now = pipeline.clustering_key(emb, ClusterParams())
    assert now == pipeline.clustering_key(emb, ClusterParams(), version=pipeline.CLUSTER_VERSION)
    assert now != pipeline.clustering_key(emb, ClusterParams(), version=pipeline.CLUSTER_VERSION + 1)
    projection_key = pipeline.projection_key(emb, ReduceParams(method="pca"))
    monkeypatch.setattr(pipeline, "REDUCE_VERSION", pipeline.REDUCE_VERSION + 1)
    assert pipeline.projection_key(emb, ReduceParams(method="pca")) != projection_key


@pytest.mark.parametrize("text", ["", "plain", "emoji \U0001f600", "\u202eRTL", "zero\u200bwidth"])
def test_text_hash_is_stable_bytes(text):
    assert text_hash(text) == text_hash(text) and len(text_hash(text)) == 32


def test_a_store_of_the_first_schema_is_moved_into_the_compact_table(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE embeddings (space TEXT NOT NULL, sha BLOB NOT NULL, vector BLOB NOT NULL,"
        " PRIMARY KEY (space, sha)) WITHOUT ROWID"
    )
    vector = np.arange(4, dtype=np.float32)
    conn.execute("INSERT INTO embeddings VALUES ('s', ?, ?)", [b"a" * 32, vector.tobytes()])
    conn.commit()
    conn.close()
    store = Store(path)
    np.testing.assert_array_equal(store.get_vectors("s", [b"a" * 32])[b"a" * 32], vector)
    store.put_vectors("s", [b"b" * 32], vector[None, :] + 1)
    assert store.count_vectors() == 2
    tables = {r[0] for r in store._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "embeddings" not in tables


def test_vectors_take_little_more_disk_than_their_bytes(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    rng = np.random.default_rng(0)
    n = 3000
    shas = [rng.bytes(32) for _ in range(n)]
    for start in range(0, n, 500):
        store.put_vectors("space", shas[start : start + 500], rng.normal(size=(500, 384)))
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    per_vector = (tmp_path / "s.sqlite").stat().st_size / n
    assert per_vector < 1.5 * 384 * 4, per_vector  # the first schema took 4.6 kB each


def test_a_map_all_from_the_store_reads_no_neighbour_graph(tmp_path, monkeypatch):
    import pandas as pd

    from embedviz import pipeline

    corpus = corpus_from_frame(pd.DataFrame({"text": [f"text number {i}" for i in range(60)]}))
    store, backend = Store(tmp_path / "s.sqlite"), make_backend("planted")
    first = build_map(corpus, backend, store)

    def no_graph(*args, **kwargs):
        raise AssertionError("the map and clusters are stored; the graph is not needed")

    monkeypatch.setattr(pipeline, "neighbor_graph", no_graph)
    again = build_map(corpus, backend, store)
    np.testing.assert_array_equal(again.frame["cluster"], first.frame["cluster"])
    np.testing.assert_array_equal(again.frame["x"], first.frame["x"])


def test_holdings_name_each_space_and_drops_keep_vectors_tags_and_edits(tmp_path):
    from embedviz.errors import InputError

    store = Store(tmp_path / "s.sqlite")
    corpus = corpus_from_frame(planted_frame(per_topic=10))
    build_map(corpus, make_backend("planted"), store, ReduceParams(method="pca"))
    other = make_backend("planted", model="planted-v2")
    embed(TEXTS, other, store)
    store.add_tags("d", [text_hash(TEXTS[0])], "keep")
    store.add_edit("d", '{"rename": 0}')
    held = {(h.part, h.name): h for h in store.holdings()}
    spaces = {h.about: h for h in held.values() if h.part == "vectors"}
    assert {about.split(", model ")[1].split(",")[0] for about in spaces} == {"planted-v1", "planted-v2"}
    assert all(h.entries == len(TEXTS) and h.bytes == len(TEXTS) * 4 * 32 for h in spaces.values())
    assert {name for part, name in held if part == "computed"} >= {"projection", "clustering", "knn"}
    assert held["tags", ""].entries == 1 and held["cluster edits", ""].entries == 1

    assert store.drop_computed(older_than_days=1) == 0  # all made just now
    assert store.drop_computed() == sum(h.entries for h in held.values() if h.part == "computed")
    with pytest.raises(InputError, match="2 vector spaces"):
        store.drop_vectors("")
    with pytest.raises(InputError, match=other.space()):
        store.drop_vectors("not-a-space")
    assert store.drop_vectors(other.space()[:6]) == len(TEXTS)
    assert [h.part for h in store.holdings()] == ["vectors", "tags", "cluster edits"]
    assert store.tags("d") == [(text_hash(TEXTS[0]), "keep")] and len(store.edits("d")) == 1
    assert embed(TEXTS, make_backend("planted"), store).n_encoded == 0
    assert embed(TEXTS, make_backend("planted", model="planted-v2"), store).n_encoded == len(TEXTS)


def test_compact_gives_dropped_vectors_back_to_the_disk(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    shas = [b"%032d" % i for i in range(5000)]
    store.put_vectors("big", shas, np.ones((5000, 384), np.float32))
    full = store.size()
    assert full > 5000 * 384 * 4
    store.drop_vectors("big")
    assert store.size() >= full  # deleted pages stay in the file until compacted
    reader = Store(tmp_path / "s.sqlite")  # another process reading (the dashboard)
    reader._conn.execute("BEGIN")
    reader.count_vectors()
    assert not store.compact(), "the log cannot be emptied under an open read"
    reader._conn.execute("COMMIT")
    assert store.compact()
    assert store.size() < full / 10


def test_a_full_disk_keeps_the_work_going_and_refuses_a_tag_plainly(tmp_path):
    from embedviz.store import StoreFull

    store = Store(tmp_path / "s.sqlite")
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLite's own SQLITE_FULL
    corpus = corpus_from_frame(planted_frame(per_topic=40))
    result = build_map(corpus, make_backend("planted"), store, ReduceParams(method="pca"))
    fresh = build_map(corpus, make_backend("planted"), None, ReduceParams(method="pca"))
    np.testing.assert_array_equal(result.projection.coords, fresh.projection.coords)
    assert len(store.warnings) == 1 and "cannot grow" in store.warnings[0]
    assert "not kept" in store.warnings[0] and "embedviz store --drop-computed" in store.warnings[0]
    with pytest.raises(StoreFull, match="free space"):  # the user's work is not dropped silently
        store.add_tags("d", [b"%032d" % i for i in range(5000)], "keep")
    assert store.tags("d") == []


def test_words_are_counted_once_per_corpus_and_name_clusters_as_a_fresh_count(tmp_path, monkeypatch):
    from embedviz import ClusterParams, pipeline

    counted = []
    real = pipeline.word_counts
    monkeypatch.setattr(pipeline, "word_counts", lambda texts: counted.append(1) or real(texts))
    store = Store(tmp_path / "s.sqlite")
    corpus = corpus_from_frame(planted_frame(per_topic=40))
    emb = pipeline.embeddings(corpus, make_backend("planted"), store)
    pipeline.clustering(corpus, emb, ClusterParams(), store)
    kept = pipeline.clustering(corpus, emb, ClusterParams(broad_k=3), store)
    assert len(counted) == 1, "the second k named its clusters from the kept counts"
    fresh = pipeline.clustering(corpus, emb, ClusterParams(broad_k=3), None)
    assert kept.summaries == fresh.summaries and kept.broad_summaries == fresh.broad_summaries
    assert kept.summaries[0].keywords and isinstance(kept.summaries[0].keywords[0], str)


def test_clusters_named_by_an_earlier_embedviz_are_named_again_not_clustered_again(tmp_path, monkeypatch):
    import json

    from embedviz import ClusterParams, pipeline

    store = Store(tmp_path / "s.sqlite")
    corpus = corpus_from_frame(planted_frame(per_topic=40))
    emb = pipeline.embeddings(corpus, make_backend("planted"), store)
    first = pipeline.clustering(corpus, emb, ClusterParams(), store)
    arrays = store.get_artifact(first.key)
    meta = json.loads(str(arrays["meta"]))
    meta["names"], meta["summaries"][0]["keywords"] = [1, 1], ["old", "names"]
    store.put_artifact(first.key, "clustering", {**arrays, "meta": np.array(json.dumps(meta))})

    def no_clustering(*args, **kwargs):
        raise AssertionError("the stored clusters are kept")

    monkeypatch.setattr(pipeline, "cluster", no_clustering)
    again = pipeline.clustering(corpus, emb, ClusterParams(), store)
    assert (again.labels == first.labels).all() and (again.broad == first.broad).all()
    assert again.summaries == first.summaries and again.broad_summaries == first.broad_summaries
    named = []
    monkeypatch.setattr(pipeline, "summarize", lambda *a: named.append(1) or [])
    assert pipeline.clustering(corpus, emb, ClusterParams(), store).summaries == first.summaries
    assert not named, "named once, then read from the store"


def test_clusters_are_named_again_when_the_function_words_change(tmp_path, monkeypatch):
    # names hang on the words left out: "mr" joining them must rename a stored clustering
    # ("mr, labour, election"), or the old names would stay until the store was cleared
    from embedviz import ClusterParams, labels, pipeline

    store = Store(tmp_path / "s.sqlite")
    corpus = corpus_from_frame(planted_frame(per_topic=40))
    emb = pipeline.embeddings(corpus, make_backend("planted"), store)
    before = pipeline.clustering(corpus, emb, ClusterParams(), store)
    leading = {s.keywords[0] for s in before.summaries}
    pipeline.names_version.cache_clear()
    monkeypatch.setattr(labels, "FUNCTION_WORDS", labels.FUNCTION_WORDS | leading)
    try:
        after = pipeline.clustering(corpus, emb, ClusterParams(), store)
    finally:
        pipeline.names_version.cache_clear()
    assert (after.labels == before.labels).all()
    assert not leading & {s.keywords[0] for s in after.summaries}
