"""Automatic clusters on small corpora: random draws of 60 to 1,000 texts from each labelled set,
against KMeans told the true k on the same vectors, and the bundled samples.

    pip install -r requirements-dev.txt
    python bench/clusters_small.py [DATASET[:COLUMN] ...]   # as bench/clusters.py

A user who pastes a few dozen texts or uploads a few hundred should see their topics as a user
with 5,000 does. For each set and size, DRAWS random draws (seeds 0 to 3): the mean number of
broad topics and fine clusters, the mean adjusted Rand index (ARI) of the automatic level whose
count is nearer the number of labels in the draw, the mean ARI of KMeans told that number, and
the ratio of the two (the goal of bench/clusters.py is 0.85). Each set is bench/clusters.py's
sample of it, embedded once (its vectors are in the store on later runs).
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore")

from clusters import sample  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from table import print_table  # noqa: E402

from embedviz import ClusterParams, Store, cluster, load_corpus, make_backend  # noqa: E402
from embedviz.pipeline import embeddings  # noqa: E402

TOPIC_SETS = ["bbc_news", "ag_news_test", "snips", "clinc150_domains:domain", "sms_spam"]
"""The shared sets of a few labels: a draw of 60 holds a few texts of each (the intent sets'
150 labels, one or none; tweeteval_emoji's labels no method finds)."""
SIZES = (60, 150, 400, 1000)
DRAWS = 4
SAMPLES = Path(__file__).resolve().parents[1] / "embedviz" / "samples"
BUNDLED = {"topics.csv": "topic", "words90.csv": "group"}


def matching(result, labels: int) -> np.ndarray:
    """The automatic level whose count is nearer the number of labels (ties: broad)."""
    broad = abs(math.log(result.broad_k / labels)) <= abs(math.log(result.k / labels))
    return result.broad if broad else result.labels


def draw_row(name: str, column: str, vectors: np.ndarray, truth: np.ndarray, size: int) -> str:
    found = []
    for seed in range(DRAWS):
        keep = np.random.default_rng(seed).choice(len(truth), size, replace=False)
        part, labels = vectors[keep], truth[keep]
        true_k = len(set(labels))
        result = cluster(part, ClusterParams())
        kmeans = KMeans(true_k, n_init=3, random_state=0).fit_predict(part)
        found.append(
            (
                true_k,
                result.broad_k,
                result.k,
                adjusted_rand_score(labels, matching(result, true_k)),
                adjusted_rand_score(labels, kmeans),
            )
        )
    labels, broad_k, fine_k, auto, kmeans = np.mean(found, axis=0)
    ratio = auto / kmeans if kmeans > 0.05 else float("nan")  # KMeans finds nothing: no ratio
    return (
        f"| {name} | {column} | {size:,} | {labels:.0f} | {broad_k:.1f} | {fine_k:.0f} | {auto:.3f} "
        f"| {kmeans:.3f} | {ratio:.2f} |"
    )


def main(specs: list[str]) -> None:
    store, backend = Store(), make_backend("sentence-transformers")
    header = (
        "| dataset | column | texts drawn | labels | broad k | fine k | auto ARI (matching level) "
        "| KMeans true k ARI | auto / KMeans |"
    )
    rows = []
    for file, column in BUNDLED.items():
        corpus = load_corpus(SAMPLES / file)
        truth = corpus.frame[column].astype(str).to_numpy()
        result = cluster(embeddings(corpus, backend, store).vectors, ClusterParams())
        rows.append(
            f"| {file} (bundled) | {column} | {len(corpus):,} | {len(set(truth))} | {result.broad_k} "
            f"| {result.k} | {adjusted_rand_score(truth, matching(result, len(set(truth)))):.3f} | | |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    for spec in specs:
        name, _, column = spec.partition(":")
        column = column or "label"
        corpus = sample(name)
        vectors = embeddings(corpus, backend, store).vectors
        truth = corpus.frame[column].astype(str).to_numpy()
        for size in (s for s in SIZES if s < len(corpus)):
            rows.append(draw_row(Path(name).name, column, vectors, truth, size))
            print(rows[-1], file=sys.stderr, flush=True)
    print_table(header, rows)


if __name__ == "__main__":
    main(sys.argv[1:] or TOPIC_SETS)
