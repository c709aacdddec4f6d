"""Cluster labels: keywords (the words that most set a cluster apart from the corpus) and the
texts nearest each cluster's centre."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

NOISE_LABEL = "noise"
FAR_LABEL = "far from every cluster"
"""A text placed on a fitted map that is far from every cluster of the map."""
WORD_PATTERN = r"(?u)\b(?=\w*[^\W\d_])[^\W_]{2,}\b"
"""Words of two or more letters or digits, at least one a letter (mp3, 3d, covid19): no bare
numbers, no underscores."""
_WORD = re.compile(WORD_PATTERN)
HIRAGANA, KATAKANA, HAN = "\u3040-\u309f", "\u30a0-\u30ff", "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
UNSPACED = HIRAGANA + KATAKANA + HAN
"""Scripts written without spaces between words: Japanese kana, CJK ideographs (Chinese,
Japanese kanji)."""
_UNSPACED_RUN = re.compile(f"[{UNSPACED}]+")
_SCRIPT_RUN = re.compile(f"(?P<han>[{HAN}]+)|(?P<katakana>[{KATAKANA}]+)|[{HIRAGANA}]+")
KEYWORDS_VERSION = 3
"""Bump when how clusters are named changes (stored clusterings are named again). 2: each
word's part of the cluster's divergence from the corpus, not class-based TF-IDF; 3: a cluster
without words is named by its symbols (emoji)."""
WORDS_VERSION = 5
"""Bump when what `words` reads as a word changes (kept word counts are keyed by it). 2: runs of
unspaced scripts are read as character pairs; 3: addresses, @mentions and markup are not read;
4: words with digits (mp3, covid19) are read, not dropped; 5: Japanese split where the script
changes."""
_NOT_WORDS = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\S+@\S+\.\w+|@\w+|</?[a-z][^<>]{0,200}>|&#?\w+;")
"""Web and mail addresses, @mentions, HTML tags and entities: their pieces (https, www, com,
user, br, nbsp, quot) named clusters."""
_CONTENT = """amount back bill bottom call cry describe detail empty fill find fire found front full get
give go interest keep made mill move name part put see serious show side sincere system take thick
thin top"""
CONTENT_WORDS = frozenset(_CONTENT.split())
"""Nouns, verbs and adjectives that scikit-learn's English stop-word list holds (its documentation
warns of it): taken out of it, so a cluster about bills, interest or topping up can be named so,
and "find", "show", "call" still tell intents apart."""


@dataclass(frozen=True)
class ClusterSummary:
    cluster: int
    size: int
    keywords: tuple[str, ...]
    representatives: tuple[int, ...]
    """Rows nearest the cluster's centre, nearest first."""

    @property
    def label(self) -> str:
        if self.cluster == -1:
            return NOISE_LABEL
        return ", ".join(self.keywords[:3]) or f"cluster {self.cluster}"


def word_counts(texts: Sequence[str]):
    """Each text's word counts, (n, words) sparse, and the words; None when the texts hold no
    word. Counted once, they serve every level's keywords."""
    vectorizer = word_counter()
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # no words at all
        return None
    return counts.tocsr(), vectorizer.get_feature_names_out()


def keywords(
    texts: Sequence[str], labels: np.ndarray, n_words: int = 5, counts=None
) -> dict[int, tuple[str, ...]]:
    """Per cluster, the words frequent in it and rarer elsewhere (keywords_from_counts).

    A word goes first to the cluster where it scores highest, so labels stay distinct.
    `counts`: word_counts(texts), if already counted.
    """
    clusters = sorted(set(labels.tolist()) - {-1})
    if not clusters:
        return {}
    counted = counts if counts is not None else word_counts(texts)
    if counted is None:
        return {c: () for c in clusters}
    matrix, vocabulary = counted
    from scipy.sparse import csr_matrix

    member = np.flatnonzero(labels >= 0)
    index = np.searchsorted(clusters, labels[member])
    indicator = csr_matrix((np.ones(len(member)), (index, member)), shape=(len(clusters), len(labels)))
    per_class = indicator @ matrix  # one product, not a slice per cluster
    words = frequent_words(np.asarray(per_class.sum(axis=0)).ravel(), len(clusters))
    dense = per_class.tocsc()[:, words].toarray()
    return keywords_from_counts(clusters, dense, np.asarray(vocabulary, dtype=object)[words], n_words)


def frequent_words(totals: np.ndarray, clusters: int) -> np.ndarray:
    """The columns of the words keywords are scored among (totals (words,): each word's count):
    all of them, or the most frequent where clusters x words would pass DENSE_CELLS."""
    most = max(DENSE_CELLS // max(clusters, 1), 1)
    if len(totals) <= most:
        return np.arange(len(totals))
    return np.sort(np.argsort(-totals, kind="stable")[:most])


DENSE_CELLS = 5_000_000
"""Above this many clusters x words, keywords are scored among the most frequent words only
(25,000 of them for 200 clusters): a word rarer than that names no cluster, and scoring all
90,000 words of 100k tweets for 200 clusters took 640 MB."""


def stop_words() -> frozenset[str]:
    """English function words (articles, pronouns, prepositions, auxiliaries, numbers): the
    words that say nothing of a topic."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS - CONTENT_WORDS


def word_counter(max_words: int | None = None):
    """The word counts keywords are scored from: `words`, function words out, lower case."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        stop_words=sorted(stop_words()),
        tokenizer=words,
        token_pattern=None,
        lowercase=True,
        max_features=max_words,
    )


def words(text: str) -> list[str]:
    """A text's words (WORD_PATTERN) outside web and mail addresses, @mentions and HTML markup,
    each run of an unspaced script read by `unspaced_pairs`."""
    text = without_markup(text)
    found = _WORD.findall(text)
    if not _UNSPACED_RUN.search(text):
        return found
    return [piece for word in found for piece in unspaced_pairs(word)]


def without_markup(text: str) -> str:
    """The text less its web and mail addresses, @mentions, HTML tags and entities."""
    if "@" in text or "://" in text or "<" in text or "&" in text or "www." in text.lower():
        return _NOT_WORDS.sub(" ", text)
    return text


def unspaced_pairs(word: str, least: int = 2) -> list[str]:
    """A word as read for counting. In Chinese or Japanese a "word" between spaces or
    punctuation is a whole clause ("我喜欢吃苹果和香蕉"), so its every cluster would be named by
    whole sentences. Without a word segmenter, each change of script is a border (Japanese
    writes content words in kanji or katakana, particles and endings in hiragana): a run of
    ideographs becomes its overlapping character pairs (苹果, 果和, 和香, 香蕉, ...; a lone one
    stays itself), a katakana run stays one word (コンピュータ), a hiragana run is left out (は,
    の, です). Letters of other scripts in the word stay one word when at least `least` long."""
    pieces, start = [], 0
    for run in _UNSPACED_RUN.finditer(word):
        if run.start() - start >= least:
            pieces.append(word[start : run.start()])
        for part in _SCRIPT_RUN.finditer(run.group()):
            text = part.group()
            if part.lastgroup == "katakana" or (part.lastgroup == "han" and len(text) == 1):
                pieces.append(text)
            elif part.lastgroup == "han":
                pieces.extend(text[i : i + 2] for i in range(len(text) - 1))
        start = run.end()
    if len(word) - start >= least:
        pieces.append(word[start:])
    return pieces


def keywords_from_counts(
    clusters: Sequence[int], per_class: np.ndarray, vocabulary: Sequence[str], n_words: int = 5
) -> dict[int, tuple[str, ...]]:
    """Keywords from word counts per cluster: per_class (len(clusters), len(vocabulary)), so
    counts gathered shard by shard name clusters as the whole corpus would.

    A word scores its part of the cluster's divergence from the corpus, p(w|c) log(p(w|c) /
    p(w)): frequent in the cluster and more so than elsewhere. Words as frequent everywhere
    score nothing, in any language: class-based TF-IDF let them lead a broad topic's name
    ("la, latex, dans" in French, "said, iraq, president" in English news)."""
    if not len(clusters):
        return {}
    per_class = np.asarray(per_class, dtype=np.float64)
    tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1)
    overall = per_class.sum(axis=0) / max(per_class.sum(), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(per_class > 0, tf * np.log(tf / overall), -np.inf)
    owner = scores.argmax(axis=0)
    result = {}
    for row, c in enumerate(clusters):
        used = np.flatnonzero(per_class[row] > 0)
        ranked = used[np.lexsort((-tf[row, used], -scores[row, used]))]  # ties: the more frequent
        own, shared = ranked[owner[ranked] == row], ranked[owner[ranked] != row]
        chosen = own[:n_words] if len(own) >= 3 else [*own, *shared[: n_words - len(own)]]
        result[int(c)] = tuple(str(vocabulary[w]) for w in chosen[:n_words])
    return result


def representatives(vectors: np.ndarray, labels: np.ndarray, n: int = 3) -> dict[int, tuple[int, ...]]:
    """Per cluster, the rows most similar to its (unit) mean vector."""
    out = {}
    for c in sorted(set(labels.tolist()) - {-1}):
        rows = np.flatnonzero(labels == c)
        centre = vectors[rows].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        order = np.argsort(-(vectors[rows] @ centre), kind="stable")[:n]
        out[c] = tuple(int(r) for r in rows[order])
    return out


def distinct_keywords(
    words: dict[int, tuple[str, ...]], local: Callable[[list[int]], dict[int, tuple[str, ...]]]
) -> dict[int, tuple[str, ...]]:
    """Clusters whose names (first 3 keywords) collide are told apart by their keywords among
    those clusters alone (`local(members)`): the first such word not in the shared name (nor
    taken by another of them) becomes the third. Where their words do not differ either, the
    names stay as they are (numbered_names numbers them)."""
    by_name: dict[tuple[str, ...], list[int]] = {}
    for c, kw in words.items():
        if kw:
            by_name.setdefault(kw[:3], []).append(c)
    out = dict(words)
    for name, members in by_name.items():
        if len(members) < 2:
            continue
        among = local(members)
        taken = set(name)
        for c in members:
            extra = next((w for w in among.get(c, ()) if w not in taken), None)
            if extra is not None:
                taken.add(extra)
                out[c] = (*name[:2], extra, *(w for w in words[c][2:] if w != extra))
    return out


def numbered_names(names: Sequence[tuple[int, str]]) -> dict[int, str]:
    """cluster -> name, in the order given (largest first): a name that repeats an earlier one
    gets its count, "rain, storm, wind (2)", so no two clusters share a name on the map."""
    seen: dict[str, int] = {}
    out = {}
    for c, name in names:
        seen[name] = seen.get(name, 0) + 1
        out[c] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return out


def symbols(texts: Iterable[str], n: int = 3) -> tuple[str, ...]:
    """The texts' most frequent symbols (emoji, ★, ♥: Unicode's "other symbol"), most first."""
    import unicodedata
    from collections import Counter

    counted = Counter(c for text in texts for c in text if unicodedata.category(c) == "So")
    return tuple(symbol for symbol, _ in counted.most_common(n))


def summarize(
    texts: Sequence[str], vectors: np.ndarray, labels: np.ndarray, counts=None
) -> list[ClusterSummary]:
    """One summary per cluster (largest first), then noise if any. `counts`: word_counts(texts),
    if already counted."""

    def among(members: list[int]) -> dict[int, tuple[str, ...]]:
        rows = np.flatnonzero(np.isin(labels, members))
        return keywords([texts[i] for i in rows], labels[rows], n_words=10)

    words = distinct_keywords(keywords(texts, labels, counts=counts), among)
    for c, found in words.items():
        if not found:  # no word at all (emoji-only tweets): named by their symbols
            words[c] = symbols(texts[i] for i in np.flatnonzero(labels == c))
    reps = representatives(vectors, labels)
    sizes = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    summaries = [ClusterSummary(int(c), int(sizes[c]), words.get(c, ()), reps[c]) for c in sorted(reps)]
    if -1 in sizes:
        summaries.append(ClusterSummary(-1, int(sizes[-1]), (), ()))
    return summaries
