from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedviz import InputError, make_backend
from embedviz.classifier import Predictions, labelled_rows, load, predict, readable, save, train
from tests.planted import planted_frame
from tests.test_cli import run


def train_planted(capsys, csv, model) -> tuple[int, str]:
    code, _, err = run(
        capsys, "train", str(csv), "--label-column", "label", "--backend", "planted", "--out", str(model)
    )
    return code, err


def few_labels(frame: pd.DataFrame, per_label: int) -> pd.DataFrame:
    """The frame with its label kept on the first `per_label` rows of each label, blank elsewhere."""
    keep = frame.groupby("label").cumcount() < per_label
    return frame.assign(label=frame["label"].where(keep, ""))


def test_cli_trains_on_labelled_rows_and_classifies_new_texts(capsys, tmp_path):
    train_csv, new_csv = tmp_path / "train.csv", tmp_path / "new.csv"
    few_labels(planted_frame(per_topic=30), 3).to_csv(train_csv, index=False)
    fresh = planted_frame(per_topic=20, seed=7)
    fresh.drop(columns=["label"]).to_csv(new_csv, index=False)
    model, out = tmp_path / "model", tmp_path / "out.csv"

    code, err = train_planted(capsys, train_csv, model)
    assert code == 0, err
    assert "15 examples of 5 labels (135 rows without a label ignored)" in err
    meta = json.loads((model / "classifier.json").read_text())
    assert meta["backend"]["backend"] == "planted" and meta["examples"] == 15

    code, _, err = run(capsys, "classify", str(model), str(new_csv), "--out", str(out))
    assert code == 0, err
    result = pd.read_csv(out)
    assert result.columns.tolist() == ["text", "score", "prediction", "confidence"]
    assert (result["prediction"] == fresh["label"]).mean() > 0.95
    assert result["confidence"].between(0, 1).all() and result["confidence"].mean() > 0.5


def test_cli_refuses_a_classifier_on_another_backend(capsys, tmp_path, planted_csv):
    model = tmp_path / "model"
    code, err = train_planted(capsys, planted_csv, model)
    assert code == 0, err
    code, _, err = run(
        capsys,
        "classify",
        str(model),
        str(planted_csv),
        "--backend",
        "tfidf",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert code == 2
    assert "trained on vectors from another backend" in err and "backend planted" in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--label-column", "nope", "--backend", "planted"], "there is no column 'nope'"),
        (["--label-column", "label", "--backend", "tfidf"], "train with a model backend"),
    ],
)
def test_cli_train_says_what_is_wrong(capsys, tmp_path, planted_csv, argv, message):
    code, _, err = run(capsys, "train", str(planted_csv), *argv, "--out", str(tmp_path / "m"))
    assert code == 2 and message in err
    assert not (tmp_path / "m").exists()


def test_classify_needs_a_classifier_folder(capsys, tmp_path, planted_csv):
    code, _, err = run(capsys, "classify", str(tmp_path), str(planted_csv), "--out", str(tmp_path / "o.csv"))
    assert code == 2 and "is not a classifier folder" in err


def test_train_ignores_blank_labels_and_needs_two_labels():
    backend = make_backend("planted")
    frame = planted_frame(per_topic=10)
    vectors = backend.encode(frame["text"].tolist())
    labels = frame["label"].where(frame.index % 2 == 0, None).tolist()
    labels[1] = "  "
    labels[3] = float("nan")
    assert len(labelled_rows(labels)) == 25
    model = train(vectors, labels, backend.identity(), backend.space())
    assert model.examples == 25 and set(model.classes) == set(frame["label"])
    assert model.cv_accuracy is not None and model.cv_accuracy > 0.9
    one = ["space"] + [None] * (len(frame) - 1)
    with pytest.raises(InputError, match="at least two labels"):
        train(vectors, one, backend.identity(), backend.space())
    single = ["space", "cooking", "cooking"] + [None] * (len(frame) - 3)
    assert train(vectors, single, backend.identity(), backend.space()).cv_accuracy is None


def test_saved_classifier_predicts_the_same_and_checks_its_space(tmp_path):
    backend = make_backend("planted")
    frame = planted_frame(per_topic=10)
    vectors = backend.encode(frame["text"].tolist())
    model = train(vectors, frame["label"].tolist(), backend.identity(), backend.space())
    again = load(save(model, tmp_path / "m"))
    first, second = predict(model, vectors, backend.space()), predict(again, vectors, backend.space())
    assert (first.labels == second.labels).all()
    np.testing.assert_allclose(first.confidence, second.confidence)
    with pytest.raises(InputError, match="another backend"):
        predict(again, vectors, "some other space")
    with pytest.raises(InputError, match="dimensions"):
        predict(again, vectors[:, :8], backend.space())


def test_binary_classifier_gives_probabilities_of_both_labels():
    backend = make_backend("planted")
    frame = planted_frame(per_topic=10)
    frame = frame[frame["label"].isin(["space", "music"])]
    vectors = backend.encode(frame["text"].tolist())
    model = train(vectors, frame["label"].tolist(), backend.identity(), backend.space())
    p = model.probabilities(vectors)
    assert p.shape == (len(frame), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (predict(model, vectors, backend.space()).labels == frame["label"].to_numpy()).all()


def test_least_confident_lists_the_next_texts_to_label():
    found = Predictions(np.array(["a", "b", "a", "b"], dtype=object), np.array([0.9, 0.55, 0.6, 0.99]))
    assert found.least_confident(2).tolist() == [1, 2]
    assert found.least_confident(1, among=np.array([0, 3])).tolist() == [0]


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("card_arrival", "card arrival"),
        ("AddToPlaylist", "add to playlist"),
        ("meaning-of life", "meaning of life"),
    ],
)
def test_readable_labels_for_zero_shot(label, words):
    assert readable(label) == words


@pytest.mark.model
def test_cli_classify_gives_the_page_s_predictions_on_held_back_snips(capsys, tmp_path):
    from streamlit.testing.v1 import AppTest

    from embedviz.ui import compute
    from embedviz.ui.state import DataSource
    from tests.conftest import shared_dataset

    frame = pd.read_csv(shared_dataset("snips")).sample(1200, random_state=0).reset_index(drop=True)
    held = frame.index >= 900  # labels hidden: the page predicts them, the CLI classifies them
    data = frame.assign(label=frame["label"].where(~held, ""))
    data_csv, held_csv = tmp_path / "snips.csv", tmp_path / "held.csv"
    data.to_csv(data_csv, index=False)
    frame.loc[held, ["text"]].to_csv(held_csv, index=False)
    cache = str(tmp_path / "cache")  # the store the page uses too (conftest's EMBEDVIZ_CACHE_DIR)

    model, out = tmp_path / "model", tmp_path / "out.csv"
    code, _, err = run(
        capsys, "train", str(data_csv), "--label-column", "label", "--out", str(model), "--cache-dir", cache
    )
    assert code == 0, err
    code, _, err = run(capsys, "classify", str(model), str(held_csv), "--out", str(out), "--cache-dir", cache)
    assert code == 0, err
    cli = pd.read_csv(out)["prediction"].tolist()

    at = AppTest.from_file(
        str(Path(__file__).resolve().parents[1] / "pages" / "insights.py"), default_timeout=600
    )
    digest = compute.remember_input("snips.csv", data_csv.read_bytes())
    at.session_state["data.source"] = DataSource("upload", "snips.csv", digest)
    at.run()
    at.selectbox(key="insights.examples").set_value("label").run()
    assert not at.exception and not at.error
    _, predictions = at.session_state["insights.predictions"]
    assert predictions.labels[held].tolist() == cli
    assert (np.asarray(cli) == frame.loc[held, "label"].to_numpy()).mean() > 0.8
