"""How long a stage will take, said before it starts: work of minutes waits for the user.

Rates were measured on the project's 2-core machine without a GPU (bench/README.md); they are
"about" figures, meant to tell seconds from minutes from hours.
"""

from __future__ import annotations

LOCAL_TEXTS_PER_SECOND = 300.0
"""The bundled model on short texts (about 60 characters)."""
LOCAL_SHORT_CHARS = 60.0
LOCAL_MIN_TEXTS_PER_SECOND = 20.0
"""Long articles: the model reads at most 256 tokens of each."""
INT8_SPEEDUP = 1.3
"""The int8 build against fp32: 1.3-2.0x on one host, 3.1-3.8x on another (bench/README.md);
the lower end, so the estimate errs long."""
RATES = {"openai": 1500.0, "tfidf": 5000.0, "precomputed": 1e9}
"""Texts per second of the other backends (openai: a few thousand per request, network bound)."""
UMAP_POINTS_PER_SECOND = 2000.0
TSNE_POINTS_PER_SECOND = 1500.0
PCA_POINTS_PER_SECOND = 200_000.0
HNSW_POINTS_PER_SECOND = 5500.0
EXACT_GRAPH_SECONDS_AT_50K = 12.0
CLUSTER_POINTS_PER_SECOND = 3000.0
"""auto's two levels on the texts it clusters (at most CLUSTER_SAMPLE), the graph given: 3,300 a
second on 22,500 tweets (the slowest measured), 7,300 on 22,500 clinc150 utterances."""
CLUSTER_JOIN_PER_SECOND = 20_000.0
"""Texts beyond the sample joining their neighbours' clusters (100k tweets: 12 s in all)."""
CLUSTER_SAMPLE = 25_000
SUMMARY_TEXTS_PER_SECOND = 20_000.0
"""Keywords and representatives of both levels, every method (100k tweets: 5.2 s)."""
INDEX_VECTORS_PER_SECOND = 8500.0
"""An embed folder's on-disk search index (IVF-PQ, bench/README.md: 1M vectors in 114-117 s)."""


def embedding_seconds(backend: str, n_missing: int, mean_chars: float, precision: str = "fp32") -> float:
    if backend == "sentence-transformers":
        rate = LOCAL_TEXTS_PER_SECOND * LOCAL_SHORT_CHARS / max(mean_chars, LOCAL_SHORT_CHARS)
        rate = max(rate, LOCAL_MIN_TEXTS_PER_SECOND) * (INT8_SPEEDUP if precision == "int8" else 1.0)
    else:
        rate = RATES.get(backend, LOCAL_TEXTS_PER_SECOND)
    return n_missing / rate


def graph_seconds(n: int, exact_max: int) -> float:
    if n <= exact_max:
        return EXACT_GRAPH_SECONDS_AT_50K * (n / 50_000) ** 2
    return n / HNSW_POINTS_PER_SECOND


def projection_seconds(method: str, n: int) -> float:
    rate = {"umap": UMAP_POINTS_PER_SECOND, "tsne": TSNE_POINTS_PER_SECOND}.get(method, PCA_POINTS_PER_SECOND)
    return n / rate


def clustering_seconds(method: str, n: int) -> float:
    """Clusters at both levels with their summaries."""
    summaries = n / SUMMARY_TEXTS_PER_SECOND
    if method == "auto":
        return (
            min(n, CLUSTER_SAMPLE) / CLUSTER_POINTS_PER_SECOND
            + max(n - CLUSTER_SAMPLE, 0) / CLUSTER_JOIN_PER_SECOND
            + summaries
        )
    return n / 5000 + summaries


def index_seconds(n: int) -> float:
    return n / INDEX_VECTORS_PER_SECOND


def say(seconds: float) -> str:
    """'about 40 seconds', 'about 12 minutes', 'about 3.5 hours'."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} seconds"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"
