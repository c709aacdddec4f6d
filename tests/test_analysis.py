from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedviz import analysis, knn_graph, make_backend
from embedviz.backends.base import normalize
from tests.planted import planted_frame


@pytest.fixture(scope="module")
def planted():
    frame = planted_frame(per_topic=20)
    return frame, make_backend("planted").encode(frame["text"].tolist())


def test_neighbor_overlap_is_one_for_the_same_space_and_low_for_noise(planted):
    _, vectors = planted
    graph = knn_graph(vectors, 10)
    assert (analysis.neighbor_overlap(graph, graph) == 1).all()
    noise = normalize(np.random.default_rng(0).normal(size=vectors.shape))
    assert analysis.neighbor_overlap(graph, knn_graph(noise, 10)).mean() < 0.3


def test_cluster_cohesion_is_high_for_planted_topics_and_chance_for_a_random_split(planted):
    frame, vectors = planted
    graph = knn_graph(vectors, 10)
    topics = pd.factorize(frame["label"])[0]
    cohesion = analysis.cluster_cohesion(topics, graph)
    assert sorted(cohesion) == sorted(set(topics.tolist())) and min(cohesion.values()) > 0.8
    random_split = np.random.default_rng(0).integers(0, 2, len(topics))
    assert all(abs(v - 0.5) < 0.15 for v in analysis.cluster_cohesion(random_split, graph).values())
    with_noise = np.where(np.arange(len(topics)) % 2 == 0, topics, -1)
    assert -1 not in analysis.cluster_cohesion(with_noise, graph)


def test_align_undoes_rotation_scale_and_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(50, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = reference @ rotation * 3.0 + np.array([5.0, -2.0])
    np.testing.assert_allclose(analysis.align(reference, moved), reference, atol=1e-5)


def test_outliers_rank_the_odd_text_first(planted):
    _, vectors = planted
    odd = normalize(np.random.default_rng(3).normal(size=(1, vectors.shape[1])))
    scores = analysis.outlier_scores(knn_graph(np.vstack([vectors, odd]), 10))
    assert scores.argmax() == len(vectors)


def test_classify_and_accuracy(planted):
    frame, vectors = planted
    names = ("space", "cooking", "football", "finance", "music")
    words = [
        "rocket orbit planet",
        "recipe oven flour",
        "goal striker penalty",
        "stock bond market",
        "guitar melody album",
    ]
    result = analysis.classify(vectors, make_backend("planted").encode(words), names)
    assert analysis.accuracy(result.predicted(), frame["label"]) > 0.95


def test_similarity_summaries(planted):
    frame, vectors = planted
    labels = pd.factorize(frame["label"])[0]
    sims = analysis.pairwise_similarities(vectors)
    assert len(sims) == len(vectors) * (len(vectors) - 1) // 2
    table = analysis.mean_similarity_by_cluster(vectors, labels)
    assert (table["mean_similarity"] > sims.mean()).all()
    agreement = analysis.agreement(labels, frame["label"])
    assert agreement.ari == pytest.approx(1.0) and agreement.table.shape == (5, 5)
