"""Speed targets of the scale issue that are measured so far, each printed with its figure and
whether it is met. (The 100k-text map, the browser at 100k and 1M points and the cold-start
target are not measured yet.)

    python bench/scale.py

Uses ../shared/datasets/snips (10,000 texts) and the bundled model; every store is a fresh
temporary folder.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from embedviz import Store, embed, make_backend  # noqa: E402
from embedviz.backends.base import normalize  # noqa: E402
from embedviz.backends.local import load_model  # noqa: E402
from embedviz.embed import embed_query  # noqa: E402
from embedviz.neighbors import top_k  # noqa: E402

SNIPS = ROOT.parent / "shared" / "datasets" / "snips" / "data.csv.gz"
N = 10_000
BATCH = 32


def encoding_overhead(texts: list[str]) -> tuple[float, float]:
    """Texts per second: bare SentenceTransformer.encode, and embedviz's embed with an empty store."""
    model = load_model("all-MiniLM-L6-v2", "cpu")
    model.encode(texts[:256], batch_size=BATCH)  # warm both paths alike
    t0 = time.perf_counter()
    model.encode(texts, batch_size=BATCH)
    bare = len(texts) / (time.perf_counter() - t0)
    backend = make_backend("sentence-transformers", batch_size=BATCH)
    t0 = time.perf_counter()
    result = embed(texts, backend, Store(Path(tempfile.mkdtemp()) / "s.sqlite"))
    ours = len(texts) / (time.perf_counter() - t0)
    assert result.n_encoded == len(set(texts))
    return bare, ours


def map_reuse(path: Path) -> tuple[float, float]:
    env = dict(os.environ, EMBEDVIZ_CACHE_DIR=tempfile.mkdtemp())
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "embedviz",
                "map",
                str(path),
                "--out",
                str(path.with_suffix(".parquet")),
                "--quiet",
            ],
            env=env,
            check=True,
        )
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


def query_latency(n: int = 100_000, queries: int = 50) -> float:
    """Median ms to embed a query and find its 10 nearest among n unit vectors (384-D)."""
    vectors = normalize(np.random.default_rng(0).normal(size=(n, 384)))
    backend = make_backend("sentence-transformers")
    store = Store(Path(tempfile.mkdtemp()) / "s.sqlite")
    embed_query("warm up", backend, store)
    times = []
    for i in range(queries):
        t0 = time.perf_counter()
        vector = embed_query(f"my card was declined at shop number {i}", backend, store)
        top_k(vectors, vector[None, :], 10)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    texts = pd.read_csv(SNIPS)["text"].astype(str).tolist()[:N]
    slice_path = Path(tempfile.mkdtemp()) / "snips10k.csv"
    pd.DataFrame({"text": texts}).to_csv(slice_path, index=False)

    bare, ours = encoding_overhead(texts)
    cold, warm = map_reuse(slice_path)
    latency = query_latency()
    rows = [
        (
            "encoding throughput vs bare encode (10k snips, batch 32)",
            f"{ours:.0f} vs {bare:.0f} texts/s = {ours / bare:.2f}x",
            ">= 0.95x",
            ours / bare >= 0.95,
        ),
        (
            "second `embedviz map` of the same 10k file",
            f"{cold:.1f} s then {warm:.1f} s = {cold / warm:.0f}x faster",
            ">= 20x",
            cold / warm >= 20,
        ),
        (
            "query: embed + 10-NN over 100k vectors (median of 50)",
            f"{latency:.1f} ms",
            "<= 20 ms",
            latency <= 20,
        ),
    ]
    print("| target | measured | goal | met |\n|---|---|---|---|")
    for name, figure, goal, met in rows:
        print(f"| {name} | {figure} | {goal} | {'yes' if met else 'NO'} |")
    print("| 100k cold map, peak memory, browser at 100k and 1M points, cold start | not measured yet | | |")


if __name__ == "__main__":
    main()
