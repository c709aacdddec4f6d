"""Bundled samples, written for the project."""

from __future__ import annotations

from pathlib import Path

from embedviz.corpus import Corpus, load_corpus

FOLDER = Path(__file__).parent
SAMPLES = {
    "90 words in 18 groups": "words90.csv",
    "240 short texts on 6 topics": "topics.csv",
}
"""Display name -> file; each file's texts are in its `text` column."""
DEFAULT_SAMPLE = next(iter(SAMPLES))


def load_sample(name: str = DEFAULT_SAMPLE, text_column: str | None = None) -> Corpus:
    return load_corpus(FOLDER / SAMPLES[name], name=name, text_column=text_column or "text")
