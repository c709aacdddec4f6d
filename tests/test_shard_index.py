"""The on-disk search index: close to exact search, and it tunes itself to the vectors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from embedviz import shards
from embedviz.neighbors import top_k
from embedviz.shard_index import TARGET_RECALL, open_index


def embed_folder_of(folder, vectors: np.ndarray):
    folder.mkdir()
    ids = np.arange(len(vectors))
    half = len(vectors) // 2
    for part, rows in enumerate((ids[:half], ids[half:])):
        frame = pd.DataFrame({"row_id": rows, "text": [f"t{i}" for i in rows]})
        shards.write_part(shards.with_vectors(frame, vectors[rows]), folder, f"part-{part:05d}.parquet")
    shards.write_manifest(
        folder,
        shards.EMBED_MANIFEST,
        {"rows": len(vectors), "dimension": vectors.shape[1], "text_column": "text", "backend": {}},
    )
    return folder


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def test_index_finds_the_exact_neighbours_of_clustered_vectors(tmp_path):
    rng = np.random.default_rng(0)
    centres = unit(rng.normal(size=(100, 64)))
    vectors = unit(centres[rng.integers(0, 100, 12_000)] + rng.normal(scale=0.08, size=(12_000, 64)))
    index = open_index(embed_folder_of(tmp_path / "clustered", vectors))
    queries = unit(vectors[rng.choice(12_000, 50, replace=False)] + rng.normal(scale=0.05, size=(50, 64)))
    truth = top_k(vectors, queries, 10).indices
    found = index.search(queries, 10)
    recall = np.mean(
        [len(set(f) & set(t)) / 10 for f, t in zip(found.row_ids.tolist(), truth.tolist(), strict=True)]
    )
    assert recall >= 0.9
    assert np.all(np.diff(found.scores, axis=1) <= 1e-6), "best first"
    assert index.meta["recall"] >= TARGET_RECALL


def test_index_visits_more_lists_for_vectors_close_to_random(tmp_path):
    rng = np.random.default_rng(1)
    centres = unit(rng.normal(size=(100, 64)))
    clustered = unit(centres[rng.integers(0, 100, 12_000)] + rng.normal(scale=0.08, size=(12_000, 64)))
    random = unit(rng.normal(size=(12_000, 64)))
    easy = open_index(embed_folder_of(tmp_path / "clustered", clustered))
    hard = open_index(embed_folder_of(tmp_path / "random", random))
    assert hard.meta["probes"] > easy.meta["probes"]
    queries = unit(random[:50] + rng.normal(scale=0.02, size=(50, 64)))
    truth = top_k(random, queries, 10).indices
    found = hard.search(queries, 10).row_ids
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found.tolist(), truth.tolist(), strict=True)])
    assert recall >= 0.9, "it re-ranks more candidates where visiting every list is not enough"
    written = json.loads((tmp_path / "random" / "index" / "meta.json").read_text())
    assert written["probes"] == hard.index.nprobe, "a search visits as many lists as the build chose"
