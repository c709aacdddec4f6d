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
CANDIDATES = (256, 1024, 4096)
"""Candidates re-ranked with the exact vectors: the first, unless visiting every list allowed
still misses TARGET_RECALL (product quantisation blurs vectors close to random)."""
PROBES = (8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
"""Inverted lists a query may visit: the build measures recall at each, in turn, and keeps the
first that reaches TARGET_RECALL (clustered vectors need few; vectors near random need many)."""
TARGET_RECALL = 0.95
CALIBRATION_QUERIES = 100
"""Stored vectors searched for at build time, against exact search over every vector."""
EXACT_ROWS = 100_000
"""Rows of the on-disk vectors read at a time by the exact search that calibrates the index."""
SUB_VECTOR = 8
"""Dimensions per product-quantiser byte: 384 dimensions make 48-byte codes."""
VERSION = 2


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
        self.index.nprobe = int(self.meta["probes"])
        self.candidates = int(self.meta["candidates"])
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

    def vectors_of(self, row_ids) -> np.ndarray:
        """The stored vectors of the given input rows (m, d) float32, read from disk ("more
        like this" for a corpus whose vectors are not in memory)."""
        wanted = np.asarray(row_ids, dtype=np.int64)
        positions = np.full(len(wanted), -1, dtype=np.int64)
        for i, row in enumerate(wanted):  # a scan of the ids (8 bytes a row) per wanted row
            found = np.flatnonzero(self.row_ids == row)
            if len(found):
                positions[i] = found[0]
        if (positions < 0).any():
            raise InputError(f"rows {wanted[positions < 0].tolist()} are not in {self.folder.parent}.")
        return np.asarray(self.vectors[positions], dtype=np.float32)

    @property
    def nbytes(self) -> int:  # what a memo holding it counts
        return self.memory_bytes

    def search(self, queries: np.ndarray, k: int = 10) -> Found:
        """The k most similar rows to each unit query (q, d)."""
        positions, scores = _search(self.index, self.vectors, queries, k, self.candidates)
        row_ids = np.where(positions >= 0, self.row_ids[np.maximum(positions, 0)], -1)
        return Found(row_ids, scores)


def _search(
    index, vectors: np.ndarray, queries: np.ndarray, k: int, candidates: int
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates from the inverted file, re-ranked with the exact vectors: positions in the
    order added (q, k), -1 where there are fewer, and cosine similarities (q, k)."""
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    wanted = min(max(candidates, k), index.ntotal)
    _, candidates = index.search(queries, wanted)
    positions = np.full((len(queries), k), -1, dtype=np.int64)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for q, found in enumerate(candidates):
        found = np.sort(found[found >= 0])
        exact = vectors[found].astype(np.float32) @ queries[q]
        order = np.argsort(-exact, kind="stable")[:k]
        positions[q, : len(order)] = found[order]
        scores[q, : len(order)] = exact[order]
    return positions, scores


def _exact(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k most similar vectors to each query (q, k), by a scan of every vector
    in blocks of EXACT_ROWS."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), EXACT_ROWS):
        block = np.asarray(vectors[start : start + EXACT_ROWS], dtype=np.float32) @ queries.T
        top = np.argpartition(-block, min(k, len(block) - 1), axis=0)[:k].T
        best_scores = np.hstack([best_scores, np.take_along_axis(block.T, top, axis=1)])
        best = np.hstack([best, top + start])
        keep = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores, best = np.take_along_axis(best_scores, keep, 1), np.take_along_axis(best, keep, 1)
    return best


def calibrate(index, vectors: np.ndarray, lists: int, seed: int = 0) -> tuple[int, int, float]:
    """The fewest probes (of PROBES, up to `lists`), then the fewest candidates, whose recall@10
    reaches TARGET_RECALL on stored vectors searched for (each one's own row left out):
    (probes, candidates, recall measured there); the most tried when none does."""
    n = len(vectors)
    picked = np.sort(np.random.default_rng(seed).choice(n, min(CALIBRATION_QUERIES, n), replace=False))
    queries = np.asarray(vectors[picked], dtype=np.float32)
    k = min(10, n - 1)
    if k < 1:
        return 1, CANDIDATES[0], 1.0
    truth = _without(_exact(vectors, queries, k + 1), picked, k)
    steps = [p for p in PROBES if p < lists] + [min(lists, PROBES[-1])]
    tried = [(p, CANDIDATES[0]) for p in steps] + [(steps[-1], c) for c in CANDIDATES[1:]]
    for probes, candidates in tried:
        index.nprobe = probes
        found = _without(_search(index, vectors, queries, k + 1, candidates)[0], picked, k)
        pairs = zip(found.tolist(), truth.tolist(), strict=True)
        recall = float(np.mean([len(set(f) & set(t)) / k for f, t in pairs]))
        if recall >= TARGET_RECALL:
            break
    return probes, candidates, recall


def _without(positions: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """Each row's first k positions other than its own (q, k)."""
    return np.array(
        [[p for p in row if p != o][:k] for row, o in zip(positions.tolist(), own.tolist(), strict=True)]
    )


def index_folder(folder: str | Path) -> Path:
    return Path(folder) / INDEX_FOLDER


def open_index(folder: str | Path) -> ShardIndex:
    """The folder's index, built first if it has none (or an outdated one)."""
    shards.read_manifest(folder, shards.EMBED_MANIFEST)
    if not is_built(folder):
        build(folder)
    return ShardIndex(index_folder(folder))


def is_built(folder: str | Path) -> bool:
    """Whether the embed folder has an index of this version (else open_index builds one)."""
    meta = index_folder(folder) / "meta.json"
    try:
        return json.loads(meta.read_text()).get("version") == VERSION
    except (OSError, ValueError):
        return False


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
    probes, candidates, recall = calibrate(index, vectors, lists, seed)
    del vectors
    (where / ".vectors.f16.tmp").replace(where / "vectors.f16")
    np.save(where / "row_ids.npy", row_ids)
    faiss.write_index(index, str(where / "ivfpq.faiss"))
    meta = {"version": VERSION, "rows": n, "dimension": d, "lists": lists, "code_bytes": sub * bits // 8}
    meta.update(probes=probes, candidates=candidates, recall=recall)
    (where / "meta.json").write_text(json.dumps(meta))
    log.info(
        "index: %s vectors in %d lists, %d-byte codes, %d lists visited and %d candidates re-ranked a "
        "query (recall@10 %.2f on %d of its own vectors); wrote %s",
        f"{n:,}",
        lists,
        sub * bits // 8,
        probes,
        candidates,
        recall,
        CALIBRATION_QUERIES,
        where,
    )
    if recall < TARGET_RECALL:
        log.warning(
            "index: these vectors are close to random for an inverted file: recall@10 is %.2f even "
            "visiting %d of %d lists; search results may miss some of the nearest texts.",
            recall,
            probes,
            lists,
        )
    return where
