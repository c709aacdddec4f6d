"""A tiny deterministic backend with planted structure, and a corpus to match.

Each text gets the direction of the topic whose words it uses most, plus small noise seeded
from a hash of the text, so clusters and neighbours are known in advance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from embedviz.backends.base import Backend, normalize

TOPICS = {
    "space": ["rocket", "orbit", "planet", "astronaut", "galaxy", "telescope", "comet", "nasa"],
    "cooking": ["recipe", "oven", "flour", "bake", "sauce", "garlic", "butter", "kitchen"],
    "football": ["goal", "striker", "penalty", "league", "referee", "match", "keeper", "stadium"],
    "finance": ["stock", "bond", "interest", "market", "investor", "dividend", "bank", "loan"],
    "music": ["guitar", "melody", "concert", "chord", "drummer", "album", "singer", "piano"],
}
FILLERS = ["the", "a", "and", "with", "about", "of", "this", "is", "was", "for", "our", "new"]
DIMENSION = 32


def _unit(seed_text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).normal(size=DIMENSION)
    return vector / np.linalg.norm(vector)


def topic_of(text: str) -> str | None:
    words = text.lower().split()
    counts = {t: sum(w in vocab for w in words) for t, vocab in TOPICS.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def planted_vector(text: str, noise: float = 0.25) -> np.ndarray:
    topic = topic_of(text)
    base = _unit(f"topic:{topic}") if topic else np.zeros(DIMENSION)
    return base + noise * _unit(f"text:{text}")


class PlantedBackend(Backend):
    """Counts its calls and texts, so tests can see what the store spared."""

    name = "planted"
    chunk_size = 64

    def __init__(self, model: str | None = None, dimension: int = DIMENSION):
        self.model = model or "planted-v1"
        self.calls = 0
        self.encoded = 0

    @property
    def dimension(self) -> int:
        return DIMENSION

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        return normalize(np.vstack([planted_vector(t) for t in texts]) if texts else np.zeros((0, DIMENSION)))


def planted_frame(per_topic: int = 30, seed: int = 0) -> pd.DataFrame:
    """Texts over the five topics, with the topic in a `label` column and a numeric column."""
    rng = np.random.default_rng(seed)
    rows = []
    for topic, vocab in TOPICS.items():
        for i in range(per_topic):
            words = list(rng.choice(vocab, size=4, replace=False))
            fill = list(rng.choice(FILLERS, size=3))
            text = f"{fill[0]} {words[0]} {fill[1]} {words[1]} {words[2]} {fill[2]} {words[3]} {i}"
            rows.append({"text": text, "label": topic, "score": float(rng.random())})
    return pd.DataFrame(rows)


def three_levels(seed: int = 2, themes: int = 4, topics: int = 4, subtopics: int = 4, per: int = 30):
    """Unit vectors (n, 64) of 4 themes x 4 topics x 4 subtopics, 30 texts each, with the themes'
    and topics' labels (n,). Topics of a theme share links, so the overview at the default
    resolution merges some of them; the finer counts it offers hold them apart."""
    rng = np.random.default_rng(seed)
    d = 64
    rows, theme_of, topic_of = [], [], []
    for t in range(themes):
        theme = 3.0 * rng.normal(size=d)
        for s in range(topics):
            topic = theme + 1.0 * rng.normal(size=d)
            for _ in range(subtopics):
                rows.append(topic + 1.2 * rng.normal(size=d) + 2.0 * rng.normal(size=(per, d)))
                theme_of += [t] * per
                topic_of += [t * topics + s] * per
    vectors = np.vstack(rows).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, np.array(theme_of), np.array(topic_of)
