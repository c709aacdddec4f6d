"""How texts are read into words where spaces do not mark them: scripts written without spaces,
cut by ICU's dictionaries (icu4py, the default) against overlapping character pairs (the reading
without icu4py); and Korean, whose words carry their particles and endings, read as stems
(endings.stems, the default) against the forms as written. Same labelled corpora, same run.

    python bench/outside_corpora.py     # builds debian_sections_ja, _zh and _ko
    python bench/words.py [DATASET_FOLDER ...]

For each corpus: TF-IDF over each reading (the TF-IDF backend's reading: function words out,
sublinear counts), the share of
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

from embedviz import endings, labels  # noqa: E402
from embedviz.backends.tfidf import _Words  # noqa: E402

CORPORA = Path.home() / ".cache" / "embedviz-bench" / "corpora"
DEFAULT = [CORPORA / name for name in ("debian_sections_ja", "debian_sections_zh", "debian_sections_ko")]


@contextmanager
def reading(how: str):
    """Words as `how` reads: "default" (ICU, Korean stems), "pairs" (as without icu4py) or
    "forms as written" (Korean endings kept)."""
    kept = labels.dictionary_words, endings.stems
    if how == "pairs":
        labels.dictionary_words = labels.unspaced_pairs
    if how == "forms as written":
        endings.stems = lambda vocabulary: {}
    try:
        yield
    finally:
        labels.dictionary_words, endings.stems = kept


def neighbour_accuracy(texts: list[str], y: np.ndarray) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    words = _Words()
    words.learn_forms(texts)
    vectors = TfidfVectorizer(analyzer=words, sublinear_tf=True).fit_transform(texts)
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
        korean = any(endings.is_hangul(ch) for text in texts[:50] for ch in text)
        for how in ("default", "forms as written" if korean else "pairs"):
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
