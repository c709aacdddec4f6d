"""Search over an embed folder too large to hold in memory.

Built once from the Parquet parts and kept beside them in `index/`: an inverted file with
product-quantised codes (faiss IVF-PQ, 1/32 of the float32 vectors' size) finds candidates,
and the exact vectors, kept on disk as float16 and memory-mapped, re-rank them. A query reads
only its candidates' rows from disk.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedviz import shards
from embedviz.errors import InputError
from embedviz.neighbors import _faiss

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"
TRAIN_ROWS = 200_000
"""Vectors the coarse centroids and the codebooks are learnt from."""
CANDIDATES = 256
"""Candidates re-ranked with the exact vectors."""
PROBES = 48
"""Inverted lists visited per query."""
SUB_VECTOR = 8
"""Dimensions per product-quantiser byte: 384 dimensions make 48-byte codes."""
VERSION = 1


@dataclass(frozen=True)
class Found:
    row_ids: np.ndarray
    """(q, k) int64: input rows, -1 where there are fewer than k."""
    scores: np.ndarray
    """(q, k) float32: cosine similarity."""


class ShardIndex:
    """IVF-PQ over every vector of an embed folder, re-ranked with the exact vectors."""

    def __init__(self, folder: Path) -> None:
        faiss = _faiss()
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        self.index = faiss.read_index(str(folder / "ivfpq.faiss"))
        self.index.nprobe = min(PROBES, self.meta["lists"])
        self.row_ids = np.load(folder / "row_ids.npy", mmap_mode="r")
        n, d = self.meta["rows"], self.meta["dimension"]
        self.vectors = np.memmap(folder / "vectors.f16", dtype=np.float16, mode="r", shape=(n, d))

    def __len__(self) -> int:
        return int(self.meta["rows"])

    @property
    def memory_bytes(self) -> int:
        """What a query needs resident: the codes, the list ids and the centroids."""
        d = self.meta["dimension"]
        codes = len(self) * (self.meta["code_bytes"] + 8)
        return int(codes + self.meta["lists"] * d * 4 + d * 256 * 4)

    def search(self, queries: np.ndarray, k: int = 10) -> Found:
        """The k most similar rows to each unit query (q, d)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        wanted = min(max(CANDIDATES, k), len(self))
        _, candidates = self.index.search(queries, wanted)
        row_ids = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for q, found in enumerate(candidates):
            found = np.sort(found[found >= 0])
            exact = self.vectors[found].astype(np.float32) @ queries[q]
            order = np.argsort(-exact, kind="stable")[:k]
            row_ids[q, : len(order)] = self.row_ids[found[order]]
            scores[q, : len(order)] = exact[order]
        return Found(row_ids, scores)


def index_folder(folder: str | Path) -> Path:
    return Path(folder) / INDEX_FOLDER


def open_index(folder: str | Path) -> ShardIndex:
    """The folder's index, built first if it has none (or an outdated one)."""
    shards.read_manifest(folder, shards.EMBED_MANIFEST)
    where = index_folder(folder)
    meta = where / "meta.json"
    if not meta.exists() or json.loads(meta.read_text()).get("version") != VERSION:
        build(folder)
    return ShardIndex(where)


def build(folder: str | Path, seed: int = 0) -> Path:
    """Write `index/` in an embed folder: IVF-PQ trained on a sample, then every part added."""
    faiss = _faiss()
    folder = Path(folder)
    manifest = shards.read_manifest(folder, shards.EMBED_MANIFEST)
    n, d = int(manifest["rows"]), int(manifest["dimension"])
    if n == 0:
        raise InputError(f"{folder}: there are no vectors to index.")
    where = index_folder(folder)
    where.mkdir(exist_ok=True)
    lists = max(1, min(int(4 * math.sqrt(n)), n // 39))  # faiss wants 39 training points per list
    sub = max(1, d // SUB_VECTOR)
    while d % sub:
        sub -= 1
    bits = 8 if n >= 256 * 39 else max(1, int(math.log2(max(n // 39, 2))))
    ids = np.concatenate([t[shards.ROW_ID].to_numpy() for t in shards.iter_parts(folder, [shards.ROW_ID])])
    sample = np.random.default_rng(seed).choice(ids, min(TRAIN_ROWS, n), replace=False)
    _, train = shards.read_vectors(folder, sample)
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFPQ(quantizer, d, lists, sub, bits, faiss.METRIC_INNER_PRODUCT)
    index.train(train)
    del train
    vectors = np.memmap(where / ".vectors.f16.tmp", dtype=np.float16, mode="w+", shape=(n, d))
    row_ids = np.zeros(n, dtype=np.int64)
    done = 0
    for table in shards.iter_parts(folder, [shards.ROW_ID, shards.VECTOR]):
        block = shards.vectors_of(table[shards.VECTOR])
        index.add(block)  # faiss numbers them 0..n-1 in the order added
        vectors[done : done + len(block)] = block
        row_ids[done : done + len(block)] = table[shards.ROW_ID].to_numpy()
        done += len(block)
    vectors.flush()
    del vectors
    (where / ".vectors.f16.tmp").replace(where / "vectors.f16")
    np.save(where / "row_ids.npy", row_ids)
    faiss.write_index(index, str(where / "ivfpq.faiss"))
    meta = {"version": VERSION, "rows": n, "dimension": d, "lists": lists, "code_bytes": sub * bits // 8}
    (where / "meta.json").write_text(json.dumps(meta))
    log.info(
        "index: %s vectors in %d lists, %d-byte codes; wrote %s", f"{n:,}", lists, sub * bits // 8, where
    )
    return where
