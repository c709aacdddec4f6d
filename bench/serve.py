"""Throughput and latency of `embedviz serve` on loopback, beside the bare model.

    python bench/serve.py [--requests 400] [--seconds 30]

Starts `embedviz serve` (bundled model, empty store) on a free 127.0.0.1 port. Every text is
new (no store hits). Request loops are bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from tests.browser import free_port  # noqa: E402

WORDS = [
    "the",
    "a",
    "quick",
    "slow",
    "report",
    "market",
    "river",
    "player",
    "music",
    "recipe",
    "engine",
    "city",
    "storm",
    "garden",
]


def sentence(i: int) -> str:
    return f"{WORDS[i % 14]} {WORDS[(i // 14) % 14]} sentence number {i} about {WORDS[(i * 7) % 14]}"


def bare_model(n: int) -> tuple[float, float]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from embedviz.backends.local import load_model

    model = load_model("all-MiniLM-L6-v2", "cpu")
    texts = [sentence(10_000_000 + i) for i in range(n)]
    model.encode(texts[:32])
    t0 = time.perf_counter()
    model.encode(texts, batch_size=32)
    batch = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for text in texts[:200]:
        model.encode([text])
    single = 200 / (time.perf_counter() - t0)
    return batch, single


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    port = free_port()
    env = dict(os.environ, EMBEDVIZ_CACHE_DIR=tempfile.mkdtemp())
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedviz", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{base}/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        api = openai.OpenAI(api_key="unused", base_url=f"{base}/v1", max_retries=0)
        api.embeddings.create(model="all-MiniLM-L6-v2", input="warm up")

        latencies: list[float] = []
        counter = iter(range(args.requests))
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def client() -> None:
            while time.monotonic() < stop_at:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                api.embeddings.create(model="all-MiniLM-L6-v2", input=sentence(i))
                with lock:
                    latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        rps = len(latencies) / elapsed
        ordered = sorted(latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000

        batches, size = 8, 256
        t0 = time.perf_counter()
        for b in range(batches):
            api.embeddings.create(
                model="all-MiniLM-L6-v2", input=[sentence(1_000_000 + b * size + i) for i in range(size)]
            )
        batch_tps = batches * size / (time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    bare_batch, bare_single = bare_model(batches * size)
    print("| measure | figure |\n|---|---:|")
    print(
        f"| single-sentence requests, {args.clients} concurrent clients ({len(latencies)} requests) | {rps:.1f} req/s |"
    )
    print(f"| latency p50 / p99 | {p50:.0f} ms / {p99:.0f} ms |")
    print(f"| batch requests ({batches} x {size} texts) | {batch_tps:.0f} texts/s |")
    print(f"| bare model, batches of 32 | {bare_batch:.0f} texts/s |")
    print(f"| bare model, one text per call | {bare_single:.0f} texts/s |")


if __name__ == "__main__":
    main()
