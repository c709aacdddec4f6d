"""Automatic two-level clustering against the true labels, beside BERTopic and KMeans told the
true k, on the same vectors in the same run.

    pip install -r requirements-dev.txt
    python bench/clusters.py [DATASET[:COLUMN] ...]
    python bench/clusters.py FOLDER[:COLUMN]   # any folder holding data.csv.gz (e.g. from
                                               # bench/outside_corpora.py) or one data file
    python bench/clusters.py FILE[:COLUMN]     # csv, tsv, jsonl, json, parquet, xlsx (or .gz)

Each dataset from ../shared/datasets is sampled to at most 5,000 rows (seed 0) and embedded
once with the bundled all-MiniLM-L6-v2 (vectors come from the store on later runs). For each
label column it prints both automatic levels (fine clusters, broad topics): their cluster
counts and adjusted Rand index (ARI), the level whose count is nearer the number of labels
("matching level"), BERTopic's defaults, KMeans told the true k, and the ratio of the
automatic ARI at the matching level to KMeans's. EVoC 0.3.2 with its defaults (the issue's
hint: its own choice of layer, noise given to the nearest cluster centre) runs with seeds 0, 1
and 2 on the same vectors: its cluster counts, mean ARI and agreement between seeds. Agreement: the mean ARI between the results
for seeds 0, 1 and 2 (per level), and between the full result and one for a random 90% of the
rows (on the rows both hold), which shows how much the result rests on the particular sample.
Broad options: the topic counts the Clusters page offers as buttons (the automatic pick first,
then the best cuts at finer resolutions); the option nearest the number of labels is what a
user who expects about that many topics gets in one click, as a ratio to KMeans told the true k.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from table import print_table  # noqa: E402

from embedviz import ClusterParams, Store, cluster, corpus_from_frame, load_corpus, make_backend  # noqa: E402
from embedviz.cluster import _assign_noise  # noqa: E402
from embedviz.corpus import FORMATS  # noqa: E402
from embedviz.neighbors import knn_graph  # noqa: E402
from embedviz.pipeline import embeddings, neighbor_graph  # noqa: E402

DATASETS = [
    "bbc_news",
    "ag_news_test",
    "banking77",
    "snips",
    "clinc150",
    "clinc150_domains:domain",
    "clinc150_domains:label",
    "sms_spam",
    "tweeteval_emoji",
]
SHARED = ROOT.parent / "shared" / "datasets"
MAX_ROWS = 5000
SEEDS = (0, 1, 2)
GOAL_RATIO = 0.85


def data_file(name: str) -> Path:
    """A shared dataset by name, a folder by path (its data.csv.gz as in ../shared, else its one
    data file of a format embedviz reads), or a file by path."""
    path = Path(name) if os.sep in name or Path(name).exists() else SHARED / name
    if path.is_file():
        return path
    if not path.is_dir():
        raise SystemExit(f"{name}: no such dataset, folder or file (shared datasets: {SHARED}).")
    readable = sorted(p for p in path.iterdir() if Path(p.name.removesuffix(".gz")).suffix.lower() in FORMATS)
    found = [p for p in readable if p.name == "data.csv.gz"] or [
        p for p in readable if p.stem.startswith("data")
    ]
    found = found or readable
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise SystemExit(f"{path}: give the data file itself; readable files here: {listed}.")
    return found[0]


def sample(name: str):
    """A dataset (data_file); at most MAX_ROWS rows (seed 0)."""
    path = data_file(name)
    corpus = load_corpus(path)
    if len(corpus) > MAX_ROWS:
        keep = np.sort(np.random.default_rng(0).choice(len(corpus), MAX_ROWS, replace=False))
        corpus = corpus_from_frame(corpus.frame.iloc[keep], name=path.parent.name)
    return corpus


def k_of(labels) -> int:
    return len(set(np.asarray(labels).tolist()) - {-1})


def mean_pairwise_ari(results: list[np.ndarray]) -> float:
    return float(np.mean([adjusted_rand_score(a, b) for a, b in combinations(results, 2)]))


def bertopic_labels(texts, vectors, seed: int = 42):
    from bertopic import BERTopic
    from umap import UMAP

    # BERTopic's defaults, with a seeded UMAP (its default UMAP, seeded) for a repeatable run.
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    topics, _ = BERTopic(umap_model=umap_model).fit_transform(texts, embeddings=vectors)
    return np.asarray(topics)


def evoc_labels(vectors: np.ndarray, seed: int) -> np.ndarray:
    """EVoC's defaults (the layer it picks), each noise text in the cluster of the nearest centre."""
    from evoc import EVoC

    labels = EVoC(random_state=seed).fit_predict(vectors.astype(np.float32))
    return _assign_noise(vectors, np.asarray(labels, dtype=np.int64))


def subsample_agreement(vectors: np.ndarray, full, seed: int = 0) -> tuple[float, float]:
    """ARI per level between the full result and a clustering of a random 90% of the rows."""
    keep = np.sort(np.random.default_rng(seed).choice(len(vectors), int(0.9 * len(vectors)), replace=False))
    part = vectors[keep]
    result = cluster(part, ClusterParams(), neighbors=knn_graph(part, 30))
    return (
        adjusted_rand_score(full.labels[keep], result.labels),
        adjusted_rand_score(full.broad[keep], result.broad),
    )


def main(specs: list[str]) -> None:
    store, backend = Store(), make_backend("sentence-transformers")
    header = (
        "| dataset | column | n | labels | fine k | broad k | fine ARI | broad ARI | matching level "
        "| BERTopic k | BERTopic noise | BERTopic ARI | EVoC k, seeds 0 / 1 / 2 | EVoC ARI | EVoC seed agreement "
        "| KMeans true k ARI | auto / KMeans | goal met | broad options | option nearest the labels / KMeans "
        "| seed agreement fine / broad | 90% subsample agreement fine / broad | auto s |"
    )
    rows, cache = [], {}
    for spec in specs:
        name, _, column = spec.partition(":")
        column = column or "label"
        if name not in cache:
            corpus = sample(name)
            emb = embeddings(corpus, backend, store)
            graph = neighbor_graph(emb, store)
            started = time.perf_counter()
            runs = [cluster(emb.vectors, ClusterParams(seed=s), neighbors=graph) for s in SEEDS]
            seconds = (time.perf_counter() - started) / len(SEEDS)
            topics = bertopic_labels(corpus.texts, emb.vectors)
            evocs = [evoc_labels(emb.vectors, s) for s in SEEDS]
            cache[name] = (
                corpus,
                emb,
                runs,
                seconds,
                topics,
                evocs,
                subsample_agreement(emb.vectors, runs[0]),
                graph,
            )
        corpus, emb, runs, seconds, topics, evocs, (sub_fine, sub_broad), graph = cache[name]
        if column not in corpus.frame:
            raise SystemExit(
                f"{name}: no label column {column!r}; its columns: {', '.join(corpus.frame.columns)}."
            )
        truth = corpus.frame[column].astype(str).to_numpy()
        true_k = len(set(truth))
        auto = runs[0]
        fine_ari = adjusted_rand_score(truth, auto.labels)
        broad_ari = adjusted_rand_score(truth, auto.broad)
        distance = {
            lvl: abs(math.log(max(k, 1) / true_k)) for lvl, k in (("fine", auto.k), ("broad", auto.broad_k))
        }
        level = min(distance, key=distance.get)
        matched = fine_ari if level == "fine" else broad_ari
        kmeans = adjusted_rand_score(
            truth, KMeans(true_k, n_init=3, random_state=42).fit_predict(emb.vectors)
        )
        bert = adjusted_rand_score(truth, topics)
        evoc_ari = np.mean([adjusted_rand_score(truth, e) for e in evocs])
        ratio = matched / kmeans if kmeans > 0 else float("nan")
        met = "yes" if ratio >= GOAL_RATIO and matched > bert else "no"
        # what a user who expects about true_k topics gets from the page's topic-count buttons
        option = min(auto.broad_options, key=lambda b: abs(math.log(b / true_k)))
        taken = (
            auto
            if option == auto.broad_k
            else cluster(emb.vectors, ClusterParams(broad_k=option), neighbors=graph)
        )
        option_ratio = adjusted_rand_score(truth, taken.broad) / kmeans if kmeans > 0 else float("nan")
        seed_fine = mean_pairwise_ari([r.labels for r in runs])
        seed_broad = mean_pairwise_ari([r.broad for r in runs])
        rows.append(
            f"| {Path(name).name} | {column} | {len(corpus):,} | {true_k} | {auto.k} | {auto.broad_k} | {fine_ari:.3f} "
            f"| {broad_ari:.3f} | {level} | {k_of(topics)} | {(topics == -1).mean():.0%} | {bert:.3f} "
            f"| {' / '.join(str(k_of(e)) for e in evocs)} | {evoc_ari:.3f} | {mean_pairwise_ari(evocs):.2f} "
            f"| {kmeans:.3f} | {ratio:.2f} | {met} | {' / '.join(map(str, auto.broad_options))} "
            f"| {option}: {option_ratio:.2f} | {seed_fine:.2f} / {seed_broad:.2f} "
            f"| {sub_fine:.2f} / {sub_broad:.2f} | {seconds:.1f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    print_table(header, rows)


if __name__ == "__main__":
    main(sys.argv[1:] or DATASETS)
