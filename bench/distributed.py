"""Beyond one machine (issue 14): each figure printed beside its goal.

    python bench/distributed.py                          # everything, about 30 minutes here
    python bench/distributed.py --only fit,onto,index,embed

fit    100k tweets: the map and clusters fitted on all rows (the in-memory pipeline) against
       `--fit-sample 20000` then every row placed: wall time, peak memory, trustworthiness on
       the same 5,000 rows, adjusted Rand index between the two clusterings.
onto   1,000 held-out texts placed on a map of the rest (snips, clinc150): how often their
       nearest map point shares their label, against the map's own points.
index  1M vectors (the 100k tweets' vectors, each repeated 10 times with noise): recall@10 of
       the on-disk IVF-PQ index against exact search, query time, memory.
embed  texts per second per worker, local and on a local Ray (2 CPUs), for docs/scale.md.

Uses ../shared/datasets and the bundled model; vectors come from (and go to) the user's store.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.table import print_table  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
WORK = Path(tempfile.gettempdir()) / "embedviz-bench-distributed"
TRUST_ROWS = 5000


def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(SHARED / name / "data.csv.gz")


def embedded(name: str, frame: pd.DataFrame) -> Path:
    """An embed folder of `frame` (int8, the default), made once and reused."""
    from embedviz.scale import BackendSpec, embed_folder
    from embedviz.shards import is_embed_folder
    from embedviz.store import Store

    folder = WORK / f"{name}-embedded"
    if not is_embed_folder(folder):
        source = WORK / f"{name}.csv"
        frame.to_csv(source, index=False)
        embed_folder(source, folder, BackendSpec("sentence-transformers"), store=Store())
    return folder


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _full_fit(folder: str, out: str, queue) -> None:
    """The in-memory pipeline on every row (what `embedviz map FILE` does)."""
    from embedviz import shards
    from embedviz.corpus import corpus_from_frame
    from embedviz.pipeline import build_map
    from embedviz.reduce import ReduceParams
    from embedviz.scale import BackendSpec
    from embedviz.store import Store

    started = time.perf_counter()
    frame = shards.read_columns(folder)
    corpus = corpus_from_frame(frame, text_column="text", limits=None)
    store = Store()  # the parent put the folder's vectors in it: nothing is encoded
    result = build_map(
        corpus, BackendSpec("sentence-transformers").build(), store, ReduceParams(method="umap")
    )
    seconds = time.perf_counter() - started
    result.frame[["row_id", "x", "y", "cluster", "broad_cluster"]].to_parquet(out)
    queue.put({"seconds": seconds, "peak_mb": _peak_mb()})


def _sampled_fit(folder: str, out: str, sample: int, engine: str, queue) -> None:
    from embedviz.scale import map_folder

    started = time.perf_counter()
    map_folder(folder, out, sample=sample, engine=engine, quiet=True)
    queue.put({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()})


def _in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def fit_section() -> list[str]:
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    from embedviz import shards
    from embedviz.backends.base import space_of
    from embedviz.embed import text_hash
    from embedviz.store import Store

    folder = embedded("tweets100k", dataset("tweeteval_emoji"))
    ids, vectors = shards.read_vectors(folder)
    # the full fit's pipeline reads vectors from its store: give it the folder's
    texts = shards.read_columns(folder, ["row_id", "text"])["text"].tolist()
    seeded = Path(tempfile.mkdtemp()) / "store.sqlite"
    manifest = json.loads((folder / shards.EMBED_MANIFEST).read_text())
    Store(seeded).put_vectors(space_of(manifest["backend"]), [text_hash(t) for t in texts], vectors)
    os.environ["EMBEDVIZ_CACHE_DIR"] = str(seeded.parent)

    full_out = WORK / "full.parquet"
    full = _in_child(_full_fit, str(folder), str(full_out))
    full_frame = pd.read_parquet(full_out).sort_values("row_id")
    subset = np.sort(np.random.default_rng(0).choice(len(ids), TRUST_ROWS, replace=False))

    def trust(coords: np.ndarray) -> float:
        return float(trustworthiness(vectors[subset], coords[subset], n_neighbors=10, metric="cosine"))

    rows = []
    full_trust = trust(full_frame[["x", "y"]].to_numpy())
    rows.append(
        f"| full fit, 100,000 rows | {full['seconds']:.0f} | {full['peak_mb']:,.0f} | {full_trust:.3f} | – | – |"
    )
    for engine in ("local", "ray"):
        out = WORK / f"sampled-{engine}"
        result = _in_child(_sampled_fit, str(folder), str(out), 20_000, engine)
        frame = shards.read_columns(out).sort_values("row_id")
        sampled_trust = trust(frame[["x", "y"]].to_numpy())
        fine = adjusted_rand_score(full_frame["cluster"], frame["cluster"])
        broad = adjusted_rand_score(full_frame["broad_cluster"], frame["broad_cluster"])
        rows.append(
            f"| --fit-sample 20000, {engine} | {result['seconds']:.0f} | {result['peak_mb']:,.0f} | "
            f"{sampled_trust:.3f} ({sampled_trust - full_trust:+.3f}) | {fine:.2f} | {broad:.2f} |"
        )
    # the ceiling: how well the full fit's clusters agree with themselves when only the sample
    # they are found on changes (no seed changes it: the same rows in another order do)
    from embedviz.cluster import ClusterParams, cluster

    order = np.random.default_rng(1).permutation(len(vectors))
    again = cluster(vectors[order], ClusterParams())
    fine = adjusted_rand_score(full_frame["cluster"].to_numpy()[order], again.labels)
    broad = adjusted_rand_score(full_frame["broad_cluster"].to_numpy()[order], again.broad)
    rows.append(
        f"| full fit's clusters again, on another sample of 25,000 (the ceiling) | – | – | – | {fine:.2f} | {broad:.2f} |"
    )
    print_table(
        "| 100k tweets | seconds | peak MB | trustworthiness (5,000 rows) | ARI fine | ARI broad |", rows
    )
    print("goal: trustworthiness within 0.02 of the full fit, ARI at least 0.7, less time than the full fit")
    return rows


def onto_section() -> list[str]:
    from embedviz.analysis import map_label_agreement
    from embedviz.backends.local import SentenceTransformerBackend
    from embedviz.corpus import corpus_from_frame
    from embedviz.scale import map_folder, place_onto
    from embedviz.shards import read_columns
    from embedviz.store import Store

    rows = []
    for name, label in (("snips", "label"), ("clinc150", "label"), ("banking77", "label")):
        data = dataset(name).sample(frac=1.0, random_state=0).reset_index(drop=True)
        new, old = data.iloc[:1000], data.iloc[1000:]
        folder = embedded(f"{name}-old", old)
        out = WORK / f"{name}-map"
        started = time.perf_counter()
        map_folder(folder, out, quiet=True)
        map_seconds = time.perf_counter() - started
        before = read_columns(out)
        started = time.perf_counter()
        placed = place_onto(
            corpus_from_frame(new, text_column="text"), out, SentenceTransformerBackend(), Store()
        )
        place_seconds = time.perf_counter() - started
        unchanged = before.equals(read_columns(out))
        old_rate, new_rate = map_label_agreement(before, placed, label)
        far = int((placed["cluster"] == -2).sum())
        rows.append(
            f"| {name} | {len(old):,} | {map_seconds:.0f} | {place_seconds:.1f} | {old_rate:.3f} | {new_rate:.3f} | "
            f"{new_rate / old_rate:.2f} {'✓' if new_rate >= 0.9 * old_rate else '✗'} | {far} | {'yes' if unchanged else 'NO'} |"
        )
    print_table(
        "| set | map rows | map s | place 1,000 s | old: nearest shares label | new: nearest shares label | ratio (goal ≥ 0.9) | far | map unchanged |",
        rows,
    )
    return rows


def index_section() -> list[str]:
    """1M vectors made from the tweets' 100k: each repeated 10 times with Gaussian noise per
    dimension, 0.02 (a copy keeps cosine about 0.93 with its tweet: near duplicates, as real
    corpora have) and 0.08 (cosine about 0.54: close to random vectors, the hard case)."""
    rows = [_index_row(noise) for noise in (0.02, 0.08)]
    print_table(
        "| vectors | noise | build s | lists visited / candidates | recall@10 (goal ≥ 0.9) "
        "| query ms median / p95 (goal < 50) | resident MB | on disk MB |",
        rows,
    )
    return rows


def _index_row(noise: float) -> str:
    from embedviz import shards
    from embedviz.neighbors import top_k
    from embedviz.shard_index import ShardIndex, build

    _, base = shards.read_vectors(embedded("tweets100k", dataset("tweeteval_emoji")))
    folder = WORK / f"million-embedded-{noise}"
    copies = 10
    if not shards.is_embed_folder(folder):
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        for c in range(copies):
            block = base + rng.normal(scale=noise, size=base.shape).astype(np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            ids = np.arange(len(base)) + c * len(base)
            table = shards.with_vectors(pd.DataFrame({"row_id": ids, "text": [f"t{i}" for i in ids]}), block)
            shards.write_part(table, folder, f"part-{c:05d}.parquet")
        shards.write_manifest(
            folder,
            shards.EMBED_MANIFEST,
            {"rows": copies * len(base), "dimension": base.shape[1], "text_column": "text", "backend": {}},
        )
    started = time.perf_counter()
    where = build(folder)
    build_seconds = time.perf_counter() - started
    index = ShardIndex(where)
    rng = np.random.default_rng(1)
    queries = base[rng.choice(len(base), 200, replace=False)] + rng.normal(
        scale=noise, size=(200, base.shape[1])
    )
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    _, everything = shards.read_vectors(folder)
    truth = top_k(everything, queries, 10).indices
    del everything
    timings, recalls = [], []
    for q, query in enumerate(queries):
        started = time.perf_counter()
        found = index.search(query[None, :], 10)
        timings.append((time.perf_counter() - started) * 1000)
        recalls.append(len(set(found.row_ids[0].tolist()) & set(truth[q].tolist())) / 10)
    disk = sum(p.stat().st_size for p in where.iterdir()) / 2**20
    meta = index.meta
    recall = float(np.mean(recalls))
    return (
        f"| 1,000,000 × {base.shape[1]} | {noise} | {build_seconds:.0f} | {meta['probes']} of {meta['lists']} / "
        f"{meta['candidates']} | {recall:.3f} {'✓' if recall >= 0.9 else '✗'} | "
        f"{np.median(timings):.1f} / {np.percentile(timings, 95):.1f} {'✓' if np.median(timings) < 50 else '✗'} | "
        f"{index.memory_bytes / 2**20:,.0f} | {disk:,.0f} |"
    )


def embed_section() -> list[str]:
    from embedviz import shards
    from embedviz.scale import BackendSpec, embed_folder

    tweets = dataset("tweeteval_emoji").iloc[:4000]
    source = WORK / "tweets4k.csv"
    tweets.to_csv(source, index=False)
    rows = []
    for precision in ("int8", "fp32"):
        spec = BackendSpec("sentence-transformers", precision=precision)
        for engine in ("local", "ray"):
            report = embed_folder(source, WORK / f"e-{engine}-{precision}", spec, engine=engine, quiet=True)
            rows.append(f"| {precision} | {engine} | {report.rows / report.seconds:.0f} |")
        _, a = shards.read_vectors(WORK / f"e-local-{precision}")
        _, b = shards.read_vectors(WORK / f"e-ray-{precision}")
        rows.append(f"| {precision} | min cosine ray vs local | {(a * b).sum(axis=1).min():.5f} |")
    print_table("| precision | engine | texts/s, 4,000 tweets, 2 CPUs (incl. start-up) |", rows)
    return rows


SECTIONS = {"fit": fit_section, "onto": onto_section, "index": index_section, "embed": embed_section}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(SECTIONS))
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):
        print(f"\n## {name}", flush=True)
        SECTIONS[name]()


if __name__ == "__main__":
    main()
