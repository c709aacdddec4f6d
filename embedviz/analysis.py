"""Everyday uses of embeddings beyond the map: outliers, diversity, classification, agreement
with a label column, and placing a query on the map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedviz.neighbors import Neighbors

PAIR_SAMPLE = 2000


def outlier_scores(graph: Neighbors, k: int = 10) -> np.ndarray:
    """(n,) in [0, 2]: 1 minus the mean cosine similarity to a row's k nearest neighbours."""
    k = max(1, min(k, graph.k))
    if graph.k == 0:
        return np.zeros(len(graph.indices), dtype=np.float32)
    return (1.0 - graph.scores[:, :k].mean(axis=1)).astype(np.float32)


def pairwise_similarities(vectors: np.ndarray, seed: int = 0, sample: int = PAIR_SAMPLE) -> np.ndarray:
    """Cosine similarities of all distinct pairs among at most `sample` rows: (m*(m-1)/2,)."""
    rows = vectors
    if len(vectors) > sample:
        rows = vectors[np.random.default_rng(seed).choice(len(vectors), sample, replace=False)]
    sims = rows @ rows.T
    return sims[np.triu_indices(len(rows), k=1)].astype(np.float32)


def mean_similarity_by_cluster(vectors: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Per cluster: size and mean pairwise cosine similarity (from the mean vector, exactly)."""
    rows = []
    for c in sorted(set(labels.tolist())):
        members = vectors[labels == c]
        m = len(members)
        total = members.sum(axis=0)
        mean = float((total @ total - m) / (m * (m - 1))) if m > 1 else 1.0
        rows.append({"cluster": c, "size": m, "mean_similarity": mean})
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class Classification:
    """label: (n,) index into `names`; score: (n,) cosine to that label."""

    names: tuple[str, ...]
    label: np.ndarray
    score: np.ndarray

    def predicted(self) -> np.ndarray:
        return np.array(self.names, dtype=object)[self.label]


def classify(vectors: np.ndarray, label_vectors: np.ndarray, names: tuple[str, ...]) -> Classification:
    """Each text goes to its most similar label: vectors (n, d), label_vectors (L, d)."""
    sims = vectors @ label_vectors.T
    best = sims.argmax(axis=1)
    return Classification(names, best, sims[np.arange(len(vectors)), best])


def accuracy(predicted: np.ndarray, truth: pd.Series) -> float:
    """Share of rows whose prediction equals the truth, compared as lower-case text."""
    truth_text = truth.astype(str).str.strip().str.lower().to_numpy()
    predicted_text = np.char.lower(np.asarray(predicted, dtype=str))
    return float((predicted_text == truth_text).mean())


@dataclass(frozen=True, eq=False)
class Agreement:
    ari: float
    nmi: float
    table: pd.DataFrame
    """Rows: clusters; columns: label values; cells: counts."""


def agreement(clusters: np.ndarray, labels: pd.Series) -> Agreement:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    # labels as integer codes (hashed once): the scores sort integers, not 100k strings
    codes, values = pd.factorize(labels.astype(str), sort=True)
    counts = np.zeros((int(clusters.max()) + 2 if len(clusters) else 1, len(values)), dtype=np.int64)
    np.add.at(counts, (clusters + 1, codes), 1)  # row 0: noise (-1)
    present = counts.sum(axis=1) > 0
    table = pd.DataFrame(
        counts[present],
        index=pd.Index(np.arange(-1, len(counts) - 1)[present], name="cluster"),
        columns=pd.Index(values, name="label"),
    )
    return Agreement(
        float(adjusted_rand_score(codes, clusters)),
        float(normalized_mutual_info_score(codes, clusters)),
        table,
    )


def place_query(coords: np.ndarray, indices: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """A query's position on a map: its neighbours' coordinates weighted by similarity. (dims,)"""
    weights = np.clip(scores, 1e-6, None)
    return (coords[indices] * weights[:, None]).sum(axis=0) / weights.sum()


def neighbor_overlap(a: Neighbors, b: Neighbors, k: int = 10) -> np.ndarray:
    """(n,) in [0, 1]: the share of each row's k nearest neighbours that two spaces agree on."""
    k = min(k, a.k, b.k)
    if k == 0:
        return np.ones(len(a.indices), dtype=np.float32)
    return (_shared(a.indices[:, :k], b.indices[:, :k]) / k).astype(np.float32)


def _shared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) how many members rows of a (n, k) and b (n, k) have in common (each row holds no
    repeats), without a Python loop: the repeats in each sorted joined row."""
    both = np.sort(np.hstack([a, b]), axis=1)
    return (both[:, 1:] == both[:, :-1]).sum(axis=1)


def align(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """`other` (n, d) rotated, reflected, scaled and moved onto `reference` (n, d) as closely as
    possible in least squares (orthogonal Procrustes), so two maps can be read side by side."""
    from scipy.linalg import orthogonal_procrustes

    ref_mean, other_mean = reference.mean(axis=0), other.mean(axis=0)
    ref_c, other_c = reference - ref_mean, other - other_mean
    ref_scale = np.linalg.norm(ref_c) or 1.0
    other_scale = np.linalg.norm(other_c) or 1.0
    rotation, _ = orthogonal_procrustes(other_c / other_scale, ref_c / ref_scale)
    return ((other_c / other_scale) @ rotation * ref_scale + ref_mean).astype(np.float32)


TRUST_NEIGHBORS = 10


def map_trust(graph: Neighbors, coords: np.ndarray, k: int = TRUST_NEIGHBORS) -> np.ndarray:
    """(n,) in [0, 1]: the share of each text's k nearest neighbours in the embedding space
    (the first k columns of `graph`) that are also among its k nearest on the map, coords
    (n, 2 or 3). 1 where the map keeps a neighbourhood, near 0 where it tears it apart."""
    from scipy.spatial import cKDTree

    n = len(coords)
    k = min(k, graph.k, n - 1)
    if k < 1:
        return np.ones(n, dtype=np.float32)
    _, found = cKDTree(np.asarray(coords, dtype=np.float64)).query(coords, k=k + 1, workers=-1)
    on_map = _without_self(np.asarray(found, dtype=np.int64).reshape(n, k + 1))
    return (_shared(graph.indices[:, :k], on_map) / k).astype(np.float32)


def cluster_cohesion(labels: np.ndarray, graph: Neighbors, k: int = TRUST_NEIGHBORS) -> dict[int, float]:
    """cluster -> the share of its texts' k nearest neighbours in the embedding space (the first
    k columns of `graph`) that are in the same cluster, averaged over its texts: 1 for a group
    apart, about its share of the texts when it is no more than chance. Noise (-1) is left out."""
    labels = np.asarray(labels)
    found = graph.indices[:, :k]
    valid = found >= 0
    same = (labels[np.maximum(found, 0)] == labels[:, None]) & valid
    share = same.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    keep = labels >= 0
    sums = np.bincount(labels[keep], weights=share[keep])
    counts = np.bincount(labels[keep])
    return {int(c): float(sums[c] / counts[c]) for c in np.nonzero(counts)[0]}


def _without_self(found: np.ndarray) -> np.ndarray:
    """(n, k+1) map neighbours -> (n, k): row i removed from its own list (or the last entry
    where duplicates of row i pushed it out)."""
    n, width = found.shape
    drop = found == np.arange(n)[:, None]
    drop[~drop.any(axis=1), -1] = True
    first = drop.cumsum(axis=1) == 1
    drop &= first
    return found[~drop].reshape(n, width - 1)


def map_label_agreement(old: pd.DataFrame, new: pd.DataFrame, label: str = "label") -> tuple[float, float]:
    """How often a map keeps like with like: the share of the map's own points (`old`, with x, y
    and `label`) whose nearest other point has the same label, and the share of points placed
    on it later (`new`) whose nearest map point has theirs."""
    from scipy.spatial import cKDTree

    tree = cKDTree(old[["x", "y"]].to_numpy())
    old_labels = old[label].to_numpy()
    _, own = tree.query(old[["x", "y"]].to_numpy(), k=2)
    _, placed = tree.query(new[["x", "y"]].to_numpy(), k=1)
    return float((old_labels[own[:, 1]] == old_labels).mean()), float(
        (old_labels[placed] == new[label].to_numpy()).mean()
    )
