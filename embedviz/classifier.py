"""Classify from examples: a classifier trained on the embeddings of the texts a user labelled
(tags, or a label column), applied to every other text with a confidence.

Pure compute: vectors (n, d) and labels in, a `Classifier` (plain arrays and the identity of
the backend that made the vectors) out. It is saved as a folder (`classifier.json` and
`weights.npz`) that the CLI applies to new texts, refusing vectors from any other backend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedviz.errors import InputError

FORMAT = 1
REGULARISATION = 10.0
"""Logistic regression's C: unit vectors give small inner products, so the default 1.0 leaves
it under-fitted (flat confidences) on a few examples per class."""
CV_FOLDS = 5


@dataclass(frozen=True, eq=False)
class Classifier:
    classes: tuple[str, ...]
    coef: np.ndarray
    """(C, d); one row for two classes (scikit-learn's binary form)."""
    intercept: np.ndarray
    backend: dict
    """The identity of the backend whose vectors it was trained on (Backend.identity())."""
    space: str
    """That backend's space key: vectors from any other space are refused."""
    examples: int
    cv_accuracy: float | None
    """Cross-validated accuracy on the examples (None when a class has a single example)."""

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, C) class probabilities."""
        scores = np.asarray(vectors, dtype=np.float64) @ self.coef.T + self.intercept
        if len(self.classes) == 2:
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - p, p])
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class Predictions:
    labels: np.ndarray
    """(n,) the most probable class name."""
    confidence: np.ndarray
    """(n,) its probability."""

    def least_confident(self, count: int, among: np.ndarray | None = None) -> np.ndarray:
        """Row positions of the `count` least confident predictions (of rows `among`, if
        given): the texts to label next."""
        rows = np.arange(len(self.labels)) if among is None else np.asarray(among)
        order = np.argsort(self.confidence[rows], kind="stable")
        return rows[order[:count]]


def labelled_rows(labels: Sequence) -> np.ndarray:
    """Positions whose label is not empty (None, NaN, or blank text)."""
    keep = []
    for i, value in enumerate(labels):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        if str(value).strip():
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def train(vectors: np.ndarray, labels: Sequence, backend: dict, space: str, seed: int = 0) -> Classifier:
    """Logistic regression on the rows whose label is not empty; the others are ignored."""
    from sklearn.linear_model import LogisticRegression

    rows = labelled_rows(labels)
    names = np.asarray([str(labels[i]).strip() for i in rows])
    classes = sorted(set(names.tolist()))
    if len(classes) < 2:
        found = f"only {classes[0]!r}" if classes else "none"
        raise InputError(
            f"a classifier needs examples of at least two labels; {found} found among "
            f"{len(labels):,} rows. Tag or label texts of another kind too."
        )
    x = np.asarray(vectors, dtype=np.float64)[rows]
    model = LogisticRegression(C=REGULARISATION, max_iter=2000, random_state=seed).fit(x, names)
    return Classifier(
        classes=tuple(str(c) for c in model.classes_),
        coef=model.coef_.copy(),
        intercept=model.intercept_.copy(),
        backend=dict(backend),
        space=space,
        examples=len(rows),
        cv_accuracy=_cv_accuracy(x, names, seed),
    )


def _cv_accuracy(x: np.ndarray, names: np.ndarray, seed: int) -> float | None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    smallest = min(np.unique(names, return_counts=True)[1])
    folds = min(CV_FOLDS, int(smallest))
    if folds < 2:
        return None
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    model = LogisticRegression(C=REGULARISATION, max_iter=2000, random_state=seed)
    return float(cross_val_score(model, x, names, cv=split).mean())


def predict(classifier: Classifier, vectors: np.ndarray, space: str) -> Predictions:
    """The most probable class of each vector (n, d), and its probability."""
    check_space(classifier, space)
    if len(vectors) == 0:
        return Predictions(np.asarray([], dtype=object), np.zeros(0))
    if vectors.shape[1] != classifier.coef.shape[1]:
        raise InputError(
            f"these vectors have {vectors.shape[1]} dimensions; the classifier was trained on "
            f"{classifier.coef.shape[1]}."
        )
    p = classifier.probabilities(vectors)
    best = p.argmax(axis=1)
    return Predictions(np.asarray(classifier.classes, dtype=object)[best], p[np.arange(len(p)), best])


def check_space(classifier: Classifier, space: str) -> None:
    if space != classifier.space:
        trained = ", ".join(f"{k} {v}" for k, v in sorted(classifier.backend.items()) if v is not None)
        raise InputError(
            f"this classifier was trained on vectors from another backend ({trained}); "
            "embed the texts with that backend (the CLI does so unless told otherwise) or train a new one."
        )


def readable(label: str) -> str:
    """A label as words, for zero-shot use: 'card_arrival' -> 'card arrival',
    'AddToPlaylist' -> 'add to playlist'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(label))
    return re.sub(r"[_\-\s]+", " ", spaced).strip().lower()


def save(classifier: Classifier, folder: Path) -> Path:
    """Write the classifier as a folder: classifier.json (classes, backend, accuracy) and
    weights.npz. No secret is in it: a backend's identity holds none."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "classes": list(classifier.classes),
        "backend": classifier.backend,
        "space": classifier.space,
        "examples": classifier.examples,
        "cv_accuracy": classifier.cv_accuracy,
    }
    np.savez(folder / "weights.npz", coef=classifier.coef, intercept=classifier.intercept)
    (folder / "classifier.json").write_text(json.dumps(meta, indent=2, default=str))
    return folder


def load(folder: Path) -> Classifier:
    folder = Path(folder)
    meta_path, weights_path = folder / "classifier.json", folder / "weights.npz"
    if not meta_path.is_file() or not weights_path.is_file():
        raise InputError(
            f"{folder} is not a classifier folder (it needs classifier.json and weights.npz); "
            "make one with `embedviz train`."
        )
    try:
        meta = json.loads(meta_path.read_text())
        weights = np.load(weights_path)
        coef, intercept = weights["coef"], weights["intercept"]
    except (ValueError, KeyError, OSError) as e:
        raise InputError(f"the classifier in {folder} cannot be read ({e}); train it again.") from None
    if meta.get("format") != FORMAT:
        raise InputError(f"the classifier in {folder} has format {meta.get('format')}; train it again.")
    return Classifier(
        classes=tuple(meta["classes"]),
        coef=coef,
        intercept=intercept,
        backend=meta["backend"],
        space=meta["space"],
        examples=int(meta["examples"]),
        cv_accuracy=meta["cv_accuracy"],
    )
