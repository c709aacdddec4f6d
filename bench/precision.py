"""fp32 against int8 for the bundled model, in the same run: speed and neighbourhood quality.

    pip install -r requirements-dev.txt
    python bench/precision.py

Speed: texts per second of each precision on 10,000 snips texts, 5,000 ag_news_test articles
and the 2,225 bbc_news articles (long: the model reads 256 tokens of each), batch 32, the best
of two runs taken in turn, both loaded and warmed up first (the int8 model's one-off build is timed on its own). Quality: on
5,000-row samples (seed 0) of the five labelled shared sets, the share of each text's 10
nearest neighbours (cosine) with its label, for each precision, and the lowest cosine between
a text's int8 and fp32 vectors.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["EMBEDVIZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="embedviz-precision-")  # a new int8 build

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from embedviz import make_backend  # noqa: E402
from embedviz.neighbors import top_k  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
SPEED = [("snips", 10_000, "short"), ("ag_news_test", 5_000, "news"), ("bbc_news", 2_225, "long")]
QUALITY = ["bbc_news", "ag_news_test", "banking77", "snips", "clinc150"]
GOALS = {"short": 1.8, "news": 1.8, "long": 1.3}
GOAL_PRECISION = 0.99


def texts_of(name: str, n: int | None = None, seed: int | None = None) -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(SHARED / name / "data.csv.gz")
    if seed is not None and len(frame) > n:
        frame = frame.iloc[np.sort(np.random.default_rng(seed).choice(len(frame), n, replace=False))]
    elif n is not None:
        frame = frame.iloc[:n]
    return frame["text"].astype(str).tolist(), frame["label"].astype(str).to_numpy()


def rates(backends: list, texts: list[str], rounds: int = 2) -> list[float]:
    """Texts per second of each backend, the best of `rounds` runs taken in turn (so a busy
    moment of the machine hits both precisions alike)."""
    best = [0.0] * len(backends)
    for _ in range(rounds):
        for i, backend in enumerate(backends):
            started = time.perf_counter()
            backend.encode(texts)
            best[i] = max(best[i], len(texts) / (time.perf_counter() - started))
    return best


def label_precision(vectors: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    found = top_k(vectors, vectors, k, exclude_self=True).indices
    return float((labels[found] == labels[:, None]).mean())


def main() -> None:
    fp32 = make_backend("sentence-transformers", precision="fp32")
    int8 = make_backend("sentence-transformers", precision="int8")
    started = time.perf_counter()
    int8.encode(["warm up"])  # builds the int8 model from the bundled weights
    build = time.perf_counter() - started
    fp32.encode(["warm up"] * 64)
    int8.encode(["warm up"] * 64)
    print(f"int8 model built and loaded in {build:.1f} s (once per machine)\n", flush=True)

    print(
        "| texts | kind | fp32 texts/s | int8 texts/s | int8 / fp32 | goal | met |\n|---|---|---|---|---|---|---|"
    )
    for name, n, kind in SPEED:
        texts, _ = texts_of(name, n)
        a, b = rates([fp32, int8], texts)
        met = b / a >= GOALS[kind]
        print(
            f"| {len(texts):,} {name} | {kind} | {a:.0f} | {b:.0f} | {b / a:.2f}x | >= {GOALS[kind]}x | {'yes' if met else 'NO'} |",
            flush=True,
        )

    print(
        "\n| set (5,000-row sample) | 10-NN label precision fp32 | int8 | int8 / fp32 | lowest cosine int8 vs fp32 | met |"
    )
    print("|---|---|---|---|---|---|")
    for name in QUALITY:
        texts, labels = texts_of(name, 5000, seed=0)
        a, b = fp32.encode(texts), int8.encode(texts)
        pa, pb = label_precision(a, labels), label_precision(b, labels)
        cosine = float((a * b).sum(axis=1).min())
        met = pb / pa >= GOAL_PRECISION
        print(
            f"| {name} | {pa:.4f} | {pb:.4f} | {pb / pa:.4f} | {cosine:.4f} | {'yes' if met else 'NO'} |",
            flush=True,
        )
    shutil.rmtree(os.environ["EMBEDVIZ_CACHE_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
