"""Korean words read without their particles and endings, for names and TF-IDF.

Korean writes a noun and its particle as one word: 게임 (game) is 게임은, 게임을, 게임에서,
게임입니다 in running text, and a verb made from a noun carries its ending (지원 "support":
지원합니다, 지원하는, 지원되며). Counted as written, one subject is a dozen rare words: a
cluster of games was named "게임, 게임입니다, 게임은" and TF-IDF saw no tie between texts that
use different particles.

No dictionary is needed to take the ending off where the corpus itself shows the stem: a word
is read as its stem when the stem is at least two characters and is a word of the corpus on its
own, or is seen with two or more of the endings below (편집기를, 편집기는: 편집기 "editor", even
where it never stands alone). Nouns that merely end like a particle keep their form: 고양이
("cat", ending in the particle 이) is not 고양, which the corpus never shows alone or with
another ending, and one-character stems are never taken (국가 "nation" stays, not 국 + 가).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

_ENDINGS = """
은 는 이 가 을 를 의 에 에서 에게 께 께서 한테 로 으로 와 과 도 만 까지 부터 보다 처럼 마다 이나 나 랑 이랑
에는 에서는 으로는 로는 에도 에서도 와는 과는 으로도 로도 에서의 으로의 로의 에의 와의 과의 만의 만을 만이
로서 으로서 로써 으로써 이라는 라는 이라고 라고
들 들은 들이 들을 들의 들과 들도 들에 들에게 들로 들이다
이다 입니다 이며 이고 이지만
하다 합니다 하는 하며 하고 하여 해서 했다 했습니다 한 할 하기 하게 함 하지 하면 하거나 하도록 해야 하려는
하려면 하므로 하여야
되다 됩니다 되는 되며 되어 된 될 되고 되었습니다 되지 되면 되도록 되어야
"""
ENDINGS: tuple[str, ...] = tuple(sorted(set(_ENDINGS.split()), key=lambda e: (-len(e), e)))
"""Particles (은, 를, 에서, ...), the plural 들, the copula (입니다) and the endings of verbs
made from nouns with 하다 and 되다; longest first."""
_ENDING_SET = frozenset(ENDINGS)
_LONGEST = max(map(len, ENDINGS))
STEM_MIN = 2
STEM_EVIDENCE = 2
"""A stem never seen alone is taken when the corpus shows it with at least this many endings,
not counting those that begin with 이: a noun ending in 이 followed by 다, 며, 나 (고양이다,
고양이며) reads as 고양 with 이다, 이며, 이나. For the same reason an ending that begins with
이 is taken off only where the stem without 이 has more support (endings, and standing alone)
than the stem with it: 플레이 ("play", 플레이를, 플레이하는) is not 플레, though a stray 플레
stands alone three times in Debian's Korean descriptions."""


def is_hangul(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


def stems(vocabulary: Collection[str]) -> dict[str, str]:
    """word -> stem for each word of `vocabulary` (the corpus's words, lower case) that ends in
    Hangul and reads as a stem and an ending (module docstring); other words are left out.
    Where several stems fit, the shortest wins (서울에서는: 서울), and a stem that is itself
    such a word is followed to its own stem (필요로하고: 필요로, then 필요)."""
    splits = {w: _splits(w) for w in vocabulary if w and is_hangul(w[-1])}
    if not splits:  # no Korean: nothing more to read (names call this on every vocabulary)
        return {}
    known = set(vocabulary)
    endings_of: dict[str, set[str]] = {}
    for found in splits.values():
        for stem, ending in found:
            endings_of.setdefault(stem, set()).add(ending)

    def support(stem: str) -> int:
        return _evidence(endings_of.get(stem, set())) + (stem in known)

    out = {}
    for word, found in splits.items():
        fitting = [
            s
            for s, e in found
            if (s in known or _evidence(endings_of[s]) >= STEM_EVIDENCE)
            and (not e.startswith("이") or support(s) > support(s + "이"))
        ]
        if fitting:
            out[word] = min(fitting, key=len)
    for word, stem in out.items():
        seen = {word}
        while stem in out and stem not in seen:
            seen.add(stem)
            stem = out[stem]
        out[word] = stem
    return out


def _splits(word: str) -> list[tuple[str, str]]:
    """(stem, ending) for each of ENDINGS the word ends in that leaves a stem of STEM_MIN or
    more, the longest ending first."""
    return [
        (word[:-size], word[-size:])
        for size in range(min(_LONGEST, len(word) - STEM_MIN), 0, -1)
        if word[-size:] in _ENDING_SET
    ]


def _evidence(endings: set[str]) -> int:
    return sum(not e.startswith("이") for e in endings)


def merge_forms(per_class: np.ndarray, vocabulary: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Word counts per class (classes, words) with the forms of one stem added into one column
    named by the stem: (per_class, vocabulary), unchanged where no word has such an ending."""
    vocabulary = np.asarray(vocabulary, dtype=object)
    found = stems(vocabulary.tolist())
    if not found:
        return per_class, vocabulary
    merged, column = np.unique(
        np.asarray([found.get(w, w) for w in vocabulary], dtype=object), return_inverse=True
    )
    out = np.zeros((per_class.shape[0], len(merged)), dtype=np.float64)
    np.add.at(out.T, column, np.asarray(per_class, dtype=np.float64).T)
    return out, merged


def stem_in(word: str, wanted: set[str]) -> str | None:
    """`word` if wanted, else the stem in `wanted` it reads as with one ending off (the
    longest ending first), else None: finds a keyword (a stem) in running text."""
    if word in wanted:
        return word
    if not word or not is_hangul(word[-1]):
        return None
    return next((stem for stem, _ in _splits(word) if stem in wanted), None)
