"""TF-IDF plus truncated SVD (latent semantic analysis), fitted on the corpus. No model."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence

import numpy as np

from embedviz import endings, labels
from embedviz.backends.base import Backend, normalize
from embedviz.errors import BackendError

ANALYZER_VERSION = 10
"""Part of the vector space's identity: version 1 dropped scikit-learn's whole English stop-word
list, so texts of function words only were zero vectors; version 2 kept those words but gave
texts of emoji or single characters only a zero vector; version 3 read a Chinese or Japanese
clause as one word, so such texts shared almost no word; version 4 read links, mentions and
HTML markup as words (https, www, br), which tied texts by their markup; version 5 read
Japanese as character pairs across its scripts, now split where the script changes; version 6
counted forms of do and have and the stems contractions leave (didn, isnt) as words
(labels.FUNCTION_WORDS); version 7 cut words at combining marks (Hindi "क्रिकेट" read as
fragments) and read "café" typed with a separate accent as another word; version 8 read Thai,
Lao, Khmer and Myanmar clause by clause and Chinese and Japanese as character pairs (now all
cut into words by ICU); version 9 read each form of a Korean word as another word (게임을,
게임은), now its stem where the corpus shows it (endings.stems)."""
_TOKEN = re.compile(rf"(?u)(?<!{labels.WORD_CHAR})\w(?:\w|[{labels.MARKS}])+(?!{labels.WORD_CHAR})")
_HANGUL = re.compile("[\uac00-\ud7a3]")
_SYMBOL = re.compile(r"[^\s\ufe0f\u200d]")  # one character, less emoji joiners and variation marks


class TfidfBackend(Backend):
    name = "tfidf"
    chunk_size = 50_000

    def __init__(self, dimensions: int = 256, max_features: int = 50_000, seed: int = 0):
        self.dimensions = dimensions
        self.max_features = max_features
        self.seed = seed
        self._corpus: list[str] | None = None
        self._corpus_digest = ""
        self._fitted = None

    @property
    def dimension(self) -> int:
        return self.dimensions

    def identity(self) -> dict:
        return {
            "backend": self.name,
            "dimension": self.dimensions,
            "max_features": self.max_features,
            "seed": self.seed,
            "corpus": self._corpus_digest,
            "words": ANALYZER_VERSION,
            "segmenter": labels.segmenter(),
            "stop words": labels.stop_words_digest(),
        }

    def fit(self, texts: Sequence[str]) -> None:
        """Remember the corpus; the model is fitted on first encode, and kept when the same
        corpus is given again (search fits before every query)."""
        h = hashlib.sha256()
        for text in texts:
            h.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
        digest = h.hexdigest()[:32]
        if digest != self._corpus_digest:
            self._corpus, self._corpus_digest, self._fitted = list(texts), digest, None

    def _model(self):
        if self._fitted is None:
            if self._corpus is None:
                raise BackendError("the tfidf backend must be fitted on a corpus before encoding.")
            if self.on_build is not None:
                self.on_build(f"fitting TF-IDF and LSA on {len(self._corpus):,} texts")
            self._fitted = _fit(self._corpus, self.dimensions, self.max_features, self.seed)
        return self._fitted

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectorizer, svd = self._model()
        matrix = vectorizer.transform(list(texts))
        reduced = svd.transform(matrix) if svd is not None else matrix.toarray()
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        width = min(self.dimensions, reduced.shape[1])
        out[:, :width] = reduced[:, :width]
        return normalize(out)


class _Words:
    """A text's lower-case words (two or more letters or digits; links, mentions and markup left
    out) without function words, or all of them when it has no other: "where are you from" keeps
    its words, not a zero vector that would sit far from every text, a false outlier. A text
    without any such word ("😂😂", "k", "?!") is read as its single characters and symbols, so
    emoji-only tweets sit by the tweets of the same emoji. Korean words are read as their stems
    (`forms`, from endings.stems over the corpus: 게임을 and 게임은 are 게임). A class, so a
    fitted model pickles."""

    def __init__(self) -> None:
        self.stop = labels.stop_words()
        self.forms: dict[str, str] = {}
        self.stems: frozenset[str] = frozenset()

    def learn_forms(self, corpus: Sequence[str]) -> None:
        """Korean stems from the words of the corpus's texts that hold Hangul (none otherwise)."""
        seen: set[str] = set()
        for text in corpus:
            if _HANGUL.search(text):
                seen.update(self.read(text))
        self.forms = endings.stems(seen)
        self.stems = frozenset(self.forms.get(w, w) for w in seen)

    def _stem(self, word: str) -> str:
        """A form of the corpus as its stem; a form new to it (a query's 게임에서) as the
        corpus's word it reads as with one ending off."""
        if word in self.forms:
            return self.forms[word]
        return word if word in self.stems else endings.stem_in(word, self.stems) or word

    def read(self, text: str) -> list[str]:
        prose = labels.without_markup(labels.composed(text).lower())
        words = [piece for word in _TOKEN.findall(prose) for piece in labels.dictionary_words(word)]
        return [w for w in words if w not in self.stop] or words or _SYMBOL.findall(text.lower())

    def __call__(self, text: str) -> list[str]:
        words = self.read(text)
        # getattr: a model pickled before forms were read has none
        return [self._stem(w) for w in words] if getattr(self, "forms", None) else words


def _fit(corpus: list[str], dimensions: int, max_features: int, seed: int):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = None
    words = _Words()
    words.learn_forms(corpus)
    vectorizer = TfidfVectorizer(sublinear_tf=True, analyzer=words, max_features=max_features)
    with contextlib.suppress(ValueError):  # an empty vocabulary: the texts hold symbols only
        matrix = vectorizer.fit_transform(corpus)
    if matrix is None:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), max_features=max_features)
        try:
            matrix = vectorizer.fit_transform(corpus)
        except ValueError:
            raise BackendError("the texts hold no words or characters TF-IDF can use.") from None
    components = min(dimensions, matrix.shape[1] - 1, matrix.shape[0] - 1)
    if components < 2:
        return vectorizer, None
    svd = TruncatedSVD(n_components=components, random_state=seed).fit(matrix)
    return vectorizer, svd
