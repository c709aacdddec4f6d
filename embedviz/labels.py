"""Cluster labels: keywords (the words that most set a cluster apart from the corpus) and the
texts nearest each cluster's centre."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from embedviz.endings import merge_forms, stem_in

NOISE_LABEL = "noise"
FAR_LABEL = "far from every cluster"
"""A text placed on a fitted map that is far from every cluster of the map."""


def _combining_marks() -> str:
    """Every combining mark of the Basic Multilingual Plane (categories Mn and Mc: Devanagari's
    vowel signs and virama, Thai's vowels and tones, accents typed apart), as the ranges of a
    regular-expression class. Python's \\w leaves them out, so a word holding one was read in
    pieces: Hindi "क्रिकेट" (cricket) and "बारिश" (rain) named clusters as "रत", "खन", "सम"."""
    import unicodedata

    ranges: list[list[int]] = []
    for cp in range(0x300, 0x10000):  # beyond, a class runs 300 times slower; marks there are rare
        if unicodedata.category(chr(cp)) not in ("Mn", "Mc") or 0xFE00 <= cp <= 0xFE0F:
            continue  # enclosing marks (keycaps) and variation selectors dress symbols, not words
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\U{a:08x}" + (f"-\\U{b:08x}" if b > a else "") for a, b in ranges)


MARKS = _combining_marks()
WORD_CHAR = rf"[\w{MARKS}]"
"""A character inside a word: a letter, digit or underscore (\\w) or a combining mark."""
WORD_PATTERN = rf"(?u)(?<!{WORD_CHAR})(?={WORD_CHAR}*[^\W\d_])[^\W_](?:[^\W_]|[{MARKS}])+(?!{WORD_CHAR})"
"""Words of two or more letters, digits or their marks, the first a letter or digit and one a
letter (mp3, 3d, covid19, क्रिकेट): no bare numbers, no underscores."""
_WORD = re.compile(WORD_PATTERN)
HIRAGANA, KATAKANA, HAN = "\u3040-\u309f", "\u30a0-\u30ff", "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
UNSPACED = HIRAGANA + KATAKANA + HAN
"""Scripts written without spaces between words: Japanese kana, CJK ideographs (Chinese,
Japanese kanji)."""
_UNSPACED_RUN = re.compile(f"[{UNSPACED}]+")
SOUTHEAST_ASIAN = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\ua9e0-\ua9ff\uaa60-\uaa7f"
"""Thai, Lao, Myanmar and Khmer: written without spaces between words, like UNSPACED, and cut
into words by ICU's dictionaries (dictionary_words)."""
_WITHOUT_SPACES = re.compile(f"[{UNSPACED}{SOUTHEAST_ASIAN}]")
"""A character of a script written without spaces between words (dictionary_words cuts it)."""
_HIRAGANA_ONLY = re.compile(f"[{HIRAGANA}]+")
_SCRIPT_RUN = re.compile(f"(?P<han>[{HAN}]+)|(?P<katakana>[{KATAKANA}]+)|[{HIRAGANA}]+")
KEYWORDS_VERSION = 6
"""Bump when how clusters are named changes (stored clusterings are named again). 2: each
word's part of the cluster's divergence from the corpus, not class-based TF-IDF; 3: a cluster
without words is named by its symbols (emoji); 4: keywords that stand together in the texts
are one phrase ("red sox", not "sox, red"); 5: a cluster without words or symbols (numbers) is
named by its commonest texts; 6: a Korean word's forms (게임을, 게임은) count as one word."""
PHRASE_TEXTS = 100
"""Texts read per cluster (an even spread of its rows) to find which of its keywords stand
together."""
PHRASE_SHARE = (0.6, 0.3)
"""Two keywords are a phrase where they stand side by side in at least these shares of the rarer
word's places and of the other's."""
PHRASE_MIN = 5
"""A phrase stands at least this many times in the texts read: in a cluster of a few texts, two
words side by side three times are chance ("need mulch", "earns little")."""
PHRASE_RUN = 0.7
"""A pair of keywords whose neighbour on one side is the same word in this share of its places
stands inside a longer fixed run, and is no phrase of two."""
PHRASE_PARTNERS = 10
"""A phrase joins two of a cluster's first this many keywords: both words set it apart."""
WORDS_VERSION = 7
"""Bump when what `words` reads as a word changes (kept word counts are keyed by it). 2: runs of
unspaced scripts are read as character pairs; 3: addresses, @mentions and markup are not read;
4: words with digits (mp3, covid19) are read, not dropped; 5: Japanese split where the script
changes; 6: combining marks are part of a word (Hindi, Bengali, Tamil, ...) and texts are
read in composed form (NFC), so "café" is one word however it was typed; 7: Thai, Lao, Khmer and
Myanmar cut into words by ICU, not read clause by clause, and Chinese and Japanese too, not in
character pairs."""
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
_CONTRACTED = """does did doing having ll ve don didn doesn isn wasn aren weren hasn haven hadn wouldn
couldn shouldn mightn mustn needn shan dont didnt doesnt isnt wasnt arent werent havent hadnt
wouldnt shouldnt im ive youre thats theres whats mr mrs"""
FUNCTION_WORDS = frozenset(_CONTRACTED.split())
"""Function words that scikit-learn's English list lacks: forms of do and have, what
contractions leave once the apostrophe goes ("didn't" reads "didn", "isnt"), as NLTK's list
holds them ("won" is left out: the past of win), and the titles before a name. Without them,
names read "didn, make, shows", "long does, take" and, for BBC politics, "mr, labour, election"."""


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

    return (ENGLISH_STOP_WORDS - CONTENT_WORDS) | FUNCTION_WORDS


def stop_words_digest() -> str:
    """A short digest of stop_words(): part of the key of everything they shape (kept word counts,
    stored names, TF-IDF vectors), so a word added to them makes those again."""
    import hashlib

    return hashlib.sha256(" ".join(sorted(stop_words())).encode()).hexdigest()[:16]


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
    a clause of a script written without spaces cut by `dictionary_words`."""
    text = without_markup(composed(text))
    found = _WORD.findall(text)
    if not _WITHOUT_SPACES.search(text):
        return found
    return [piece for word in found for piece in dictionary_words(word)]


def dictionary_words(word: str) -> list[str]:
    """A word as read for counting where it holds a script written without spaces between
    words: Chinese, Japanese, Thai, Lao, Khmer, Myanmar. There a "word" between spaces is a
    whole clause, so clusters were named by sentences. ICU's dictionaries cut it into words
    (我喜欢吃苹果: 喜欢, 苹果; ฉันชอบกินข้าวผัด: ฉัน, ชอบ, กิน, ข้าว, ผัด); pieces of one
    character (的, 了, lone letters) and of hiragana alone (Japanese particles and endings: は,
    です) are left out. Without icu4py, Chinese and Japanese are read by `unspaced_pairs` and the
    others stay whole. Other words are returned as they are."""
    if not _WITHOUT_SPACES.search(word):
        return [word]
    breaker = word_breaker()
    if breaker is None:
        return unspaced_pairs(word)
    # the word holds letters, digits and marks only (WORD_PATTERN): a piece is a word unless short,
    # a bare number or hiragana alone
    return [
        piece
        for piece in breaker(word, "en")
        if len(piece) >= 2 and not piece.isdigit() and not _HIRAGANA_ONLY.fullmatch(piece)
    ]


@functools.cache
def word_breaker():
    """icu4py's WordBreaker, or None where it cannot be imported."""
    try:
        from icu4py.breakers import WordBreaker
    except ImportError:
        return None
    return WordBreaker


def segmenter() -> str:
    """What cuts scripts written without spaces, part of every key over words read (kept word
    counts, names, TF-IDF spaces): "icu4py <version>", or "pairs" where it cannot be imported."""
    if word_breaker() is None:
        return "pairs"
    from importlib.metadata import version

    return f"icu4py {version('icu4py')}"


def composed(text: str) -> str:
    """The text in Unicode's composed form (NFC): "e" and a combining accent become "é"."""
    import unicodedata

    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def without_markup(text: str) -> str:
    """The text less its web and mail addresses, @mentions, HTML tags and entities."""
    if "@" in text or "://" in text or "<" in text or "&" in text or "www." in text.lower():
        return _NOT_WORDS.sub(" ", text)
    return text


def unspaced_pairs(word: str, least: int = 2) -> list[str]:
    """A Chinese or Japanese word as read for counting without a word segmenter (icu4py
    missing: dictionary_words). Each change of script is a border (Japanese
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
    ("la, latex, dans" in French, "said, iraq, president" in English news). A Korean word's
    forms count as its stem (endings.merge_forms: 게임, not "게임, 게임입니다, 게임은")."""
    if not len(clusters):
        return {}
    per_class, vocabulary = merge_forms(np.asarray(per_class, dtype=np.float64), vocabulary)
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


def phrases(
    texts: Sequence[str], labels: np.ndarray, words: dict[int, tuple[str, ...]], n_words: int = 5
) -> dict[int, tuple[str, ...]]:
    """Each cluster's keywords (`words`, best first) with those that stand together in its texts
    joined as written: "red sox, boston" for "sox, red, boston", "exchange rate" for "exchange,
    rate". Two of the cluster's first PHRASE_PARTNERS keywords are a phrase where, in an even
    spread of up to PHRASE_TEXTS of its texts, they stand side by side, in that order, at least
    PHRASE_MIN times, not inside a longer fixed run (_places_and_pairs), in at least PHRASE_SHARE
    of the rarer word's places and of the other's (so "oil" stays a word of its own where "oil
    prices" is a small part of its places). The phrase takes the place of its first keyword; a
    word is in at most one term. Words of scripts written without spaces (Chinese, Japanese,
    Thai, ...) are not joined. (n_words terms per cluster)"""
    spread = phrase_rows(labels, list(words))
    function_words = stop_words()
    out = {}
    for c, found in words.items():
        top = [w for w in found[:PHRASE_PARTNERS] if not _WITHOUT_SPACES.search(w)]
        if len(top) < 2:
            out[c] = found[:n_words]
            continue
        rows = spread[c]
        places, pairs = _places_and_pairs([texts[r] for r in rows], set(top), function_words)
        rank = {w: i for i, w in enumerate(top)}
        terms: list[str] = []
        for w in found:
            if any(w in t.split(" ") for t in terms):
                continue
            term = _phrase(w, terms, places, pairs, rank)
            if term is not None and term[1] in terms:  # its partner came first: the phrase takes its place
                terms[terms.index(term[1])] = term[0]
            else:
                terms.append(w if term is None else term[0])
            if len(terms) == n_words:
                break
        out[c] = tuple(terms)
    return out


def phrase_rows(labels: np.ndarray, clusters: Sequence[int]) -> dict[int, np.ndarray]:
    """Per cluster, the rows phrases reads: an even spread of at most PHRASE_TEXTS of its rows."""
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], clusters)
    ends = np.searchsorted(labels[order], clusters, side="right")
    out = {}
    for c, start, end in zip(clusters, starts, ends, strict=True):
        rows = order[start:end]
        if len(rows) > PHRASE_TEXTS:
            rows = rows[np.linspace(0, len(rows) - 1, PHRASE_TEXTS).astype(np.int64)]
        out[int(c)] = rows
    return out


def _places_and_pairs(texts: Sequence[str], wanted: set[str], function_words: frozenset[str]):
    """How often each wanted word occurs in the texts, and each ordered pair of them side by side,
    less the pairs that stand inside a longer fixed run of words: a pair whose next (or previous)
    word, other than a function word, is the same in PHRASE_RUN of its places is part of a
    template ("bank raised rates", "grew steadily despite"), not a name of two words."""
    from collections import Counter

    places: Counter = Counter()
    pairs: Counter = Counter()
    around: dict[tuple[str, str], tuple[Counter, Counter]] = {}
    for text in texts:
        tokens = [t.lower() for t in words(text)]
        found = [stem_in(t, wanted) for t in tokens]  # a Korean word as its stem (게임을: 게임)
        for i, token in enumerate(found):
            if token is None:
                continue
            places[token] += 1
            if i + 1 < len(tokens) and found[i + 1] is not None and found[i + 1] != token:
                pair = (token, found[i + 1])
                pairs[pair] += 1
                before, after = around.setdefault(pair, (Counter(), Counter()))
                if i > 0 and tokens[i - 1] not in function_words:
                    before[tokens[i - 1]] += 1
                if i + 2 < len(tokens) and tokens[i + 2] not in function_words:
                    after[tokens[i + 2]] += 1
    for pair, (before, after) in around.items():
        if any(side and side.most_common(1)[0][1] >= PHRASE_RUN * pairs[pair] for side in (before, after)):
            del pairs[pair]
    return places, pairs


def _phrase(word: str, terms: list[str], places, pairs, rank: dict[str, int]) -> tuple[str, str] | None:
    """(phrase, partner) for the keyword `word`: its most frequent side-by-side pair, if that is
    a phrase (phrases) whose partner is alone or not yet named; else None."""
    found = [
        (n, -rank[pair[1] if pair[0] == word else pair[0]], pair) for pair, n in pairs.items() if word in pair
    ]
    if not found:
        return None
    n, _, (first, second) = max(found)  # ties: the partner that is the better keyword
    partner = second if first == word else first
    rarer, commoner = sorted((places[word], places[partner]))
    if n < PHRASE_MIN or n < PHRASE_SHARE[0] * rarer or n < PHRASE_SHARE[1] * commoner:
        return None
    if partner not in terms and any(partner in t.split(" ") for t in terms):
        return None  # the partner is in a phrase already
    return f"{first} {second}", partner


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


def commonest(texts: Iterable[str], n: int = 3, limit: int = 20) -> tuple[str, ...]:
    """The texts written most often, most first, each cut to `limit` characters: the name of a
    cluster of texts without words (numbers, codes)."""
    from collections import Counter

    counted = Counter(" ".join(text.split()) for text in texts)
    counted.pop("", None)
    return tuple(t if len(t) <= limit else t[: limit - 1] + "…" for t, _ in counted.most_common(n))


def summarize(
    texts: Sequence[str], vectors: np.ndarray, labels: np.ndarray, counts=None
) -> list[ClusterSummary]:
    """One summary per cluster (largest first), then noise if any. `counts`: word_counts(texts),
    if already counted."""

    def among(members: list[int]) -> dict[int, tuple[str, ...]]:
        rows = np.flatnonzero(np.isin(labels, members))
        return keywords([texts[i] for i in rows], labels[rows], n_words=10)

    words = distinct_keywords(keywords(texts, labels, n_words=PHRASE_PARTNERS, counts=counts), among)
    words = phrases(texts, labels, words)
    for c, found in words.items():
        if not found:  # no word at all: named by their symbols (emoji-only tweets) or texts ("7, 12")
            members = [texts[i] for i in np.flatnonzero(labels == c)]
            words[c] = symbols(members) or commonest(members)
    reps = representatives(vectors, labels)
    sizes = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    summaries = [ClusterSummary(int(c), int(sizes[c]), words.get(c, ()), reps[c]) for c in sorted(reps)]
    if -1 in sizes:
        summaries.append(ClusterSummary(-1, int(sizes[-1]), (), ()))
    return summaries
