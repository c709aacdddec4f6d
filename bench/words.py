"""How texts in scripts written without spaces are read into words: ICU's dictionaries (icu4py,
the default) against overlapping character pairs (the reading without icu4py), on the same
labelled corpora in the same run.

    python bench/outside_corpora.py     # builds debian_sections_ja and debian_sections_zh
    python bench/words.py [DATASET_FOLDER ...]

For each corpus: TF-IDF over each reading (function words out, sublinear counts), the share of
each text's 10 nearest neighbours (cosine) with its label; how many of the words read per text;
and the keywords (labels.keywords) of the three largest labels, as a cluster named by its texts
would read.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from embedviz import labels  # noqa: E402

CORPORA = Path.home() / ".cache" / "embedviz-bench" / "corpora"
DEFAULT = [CORPORA / "debian_sections_ja", CORPORA / "debian_sections_zh"]


@contextmanager
def reading(how: str):
    """labels.words as `how` reads: "dictionary" (ICU) or "pairs" (as without icu4py)."""
    kept = labels.dictionary_words
    if how == "pairs":
        labels.dictionary_words = labels.unspaced_pairs
    try:
        yield
    finally:
        labels.dictionary_words = kept


def neighbour_accuracy(texts: list[str], y: np.ndarray) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    stop = labels.stop_words()
    vectors = TfidfVectorizer(
        analyzer=lambda t: [w for w in (w.lower() for w in labels.words(t)) if w not in stop],
        sublinear_tf=True,
    ).fit_transform(texts)
    found = (
        NearestNeighbors(n_neighbors=11, metric="cosine")
        .fit(vectors)
        .kneighbors(vectors, return_distance=False)
    )
    return float(np.mean(y[found[:, 1:]] == y[:, None]))


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or DEFAULT
    rows = []
    for folder in folders:
        path = next(iter(sorted(folder.glob("data.*"))), None)
        if path is None:
            print(f"{folder}: no data file; run bench/outside_corpora.py first", file=sys.stderr)
            continue
        frame = pd.read_csv(path)
        texts, y = frame["text"].astype(str).tolist(), frame["label"].to_numpy()
        codes, names = pd.factorize(y)
        largest = np.argsort(-np.bincount(codes))[:3]
        for how in ("dictionary", "pairs"):
            with reading(how):
                accuracy = neighbour_accuracy(texts, y)
                per_text = np.mean([len(labels.words(t)) for t in texts])
                found = labels.keywords(texts, codes, n_words=4)
            named = "; ".join(f"{names[c]}: {', '.join(found[c])}" for c in largest)
            rows.append((folder.name, len(texts), how, f"{accuracy:.3f}", f"{per_text:.1f}", named))
    print(
        "| corpus | texts | reading | TF-IDF 10-NN label accuracy | words per text | keywords of the 3 largest labels |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in (row[0], f"{row[1]:,}", *row[2:])) + " |")


if __name__ == "__main__":
    main()
