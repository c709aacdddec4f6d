"""Automatic clustering against the true labels, beside BERTopic and KMeans with the true k.

    pip install -r requirements-dev.txt
    python bench/clusters.py [DATASET ...]

Each dataset from ../shared/datasets is sampled to at most 5,000 rows (seed 0) and embedded
once with the bundled all-MiniLM-L6-v2 (vectors come from the store on later runs). All three
methods get the same vectors. Prints a Markdown table.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score  # noqa: E402

from embedviz import ClusterParams, Store, cluster, corpus_from_frame, load_corpus, make_backend  # noqa: E402
from embedviz.pipeline import embeddings, neighbor_graph  # noqa: E402

DATASETS = ["bbc_news", "ag_news_test", "banking77", "snips", "clinc150"]
SHARED = ROOT.parent / "shared" / "datasets"
MAX_ROWS = 5000


def sample(name: str):
    corpus = load_corpus(SHARED / name / "data.csv.gz")
    if len(corpus) > MAX_ROWS:
        keep = np.sort(np.random.default_rng(0).choice(len(corpus), MAX_ROWS, replace=False))
        corpus = corpus_from_frame(corpus.frame.iloc[keep], name=name)
    return corpus


def scores(truth, labels) -> tuple[int, float, float, float]:
    labels = np.asarray(labels)
    k = len(set(labels.tolist()) - {-1})
    return (
        k,
        float((labels == -1).mean()),
        adjusted_rand_score(truth, labels),
        normalized_mutual_info_score(truth, labels),
    )


def bertopic_labels(texts, vectors, seed: int = 42):
    from bertopic import BERTopic
    from umap import UMAP

    # BERTopic's defaults, with a seeded UMAP (its default UMAP, seeded) for a repeatable run.
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    topics, _ = BERTopic(umap_model=umap_model).fit_transform(texts, embeddings=vectors)
    return topics


def main(names: list[str]) -> None:
    store, backend = Store(), make_backend("sentence-transformers")
    header = (
        "| dataset | n | labels | auto k | auto noise | auto ARI | auto NMI | auto s "
        "| BERTopic k | BERTopic noise | BERTopic ARI | BERTopic NMI | BERTopic s | KMeans true k ARI | winner |"
    )
    rows = []
    for name in names:
        corpus = sample(name)
        truth = corpus.frame["label"].astype(str).to_numpy()
        emb = embeddings(corpus, backend, store)
        graph = neighbor_graph(emb, store)
        t0 = time.perf_counter()
        auto = cluster(emb.vectors, ClusterParams(method="auto"), neighbors=graph).labels
        auto_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        topics = bertopic_labels(corpus.texts, emb.vectors)
        bert_s = time.perf_counter() - t0
        true_k = len(set(truth))
        km = KMeans(true_k, n_init=3, random_state=42).fit_predict(emb.vectors)
        a, b = scores(truth, auto), scores(truth, topics)
        winner = "embedviz" if a[2] > b[2] else "BERTopic"
        rows.append(
            f"| {name} | {len(corpus):,} | {true_k} | {a[0]} | {a[1]:.0%} | {a[2]:.3f} | {a[3]:.3f} | {auto_s:.1f} "
            f"| {b[0]} | {b[1]:.0%} | {b[2]:.3f} | {b[3]:.3f} | {bert_s:.1f} | {adjusted_rand_score(truth, km):.3f} | {winner} |"
        )
        print(rows[-1], flush=True)
    print()
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:] or DATASETS)
