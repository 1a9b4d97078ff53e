"""Calibrated probabilities: ``calibrate=True`` and scikit-learn's composition.

``calibrate=True`` fits a temperature on the data that ``fit`` holds out anyway
(early stopping's, or ``threshold="auto"``'s), so it needs no extra labels;
``CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")`` calibrates
a fitted classifier on data the user sets aside. Both keep the predicted class.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import InvalidParameterError

import conftest
from conftest import round_trip
from skbert import BertTextClassifier
from skbert._calibration import fit_temperature

# (text, sentiment, a three-class label)
ROWS = [
    ("good film", "pos", "pos"),
    ("great plot", "pos", "pos"),
    ("bad film", "neg", "neg"),
    ("awful plot", "neg", "neg"),
    ("a very good story", "pos", "pos"),
    ("the worst movie", "neg", "neg"),
    ("really fun acting", "pos", "meh"),
    ("a dull and sad scene", "neg", "meh"),
    ("nice music", "pos", "meh"),
    ("boring acting", "neg", "neg"),
] * 3
TEXTS = [text for text, _, _ in ROWS]
LABELS = [label for _, label, _ in ROWS]
THREE = [label for _, _, label in ROWS]
PROBE = ["good plot", "awful film", "the music", "a really boring story"]


def learning(model: str, **params: object) -> BertTextClassifier:
    """A classifier that learns, holding out 30% where it holds out."""
    settings = {"epochs": 6, "validation_fraction": 0.3, **params}
    return conftest.learning(model, **settings)


@pytest.fixture(scope="module")
def calibrated(tiny_model: str) -> BertTextClassifier:
    return learning(tiny_model, calibrate=True).fit(TEXTS, LABELS)


# --- the temperature ------------------------------------------------------------------


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 3.0])
def test_fit_temperature_recovers_the_temperature_that_made_the_labels(
    true_temperature,
):
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(20_000, 3))
    p = softmax(logits / true_temperature, axis=1)
    labels = (rng.random(len(p))[:, None] > p.cumsum(axis=1)).sum(axis=1)
    found = fit_temperature(logits, labels, np.ones(len(p)), multilabel=False)
    assert found == pytest.approx(true_temperature, rel=0.05)


def test_fit_temperature_weighs_the_inputs():
    logits = np.array([[0.0, 2.0], [0.0, 2.0], [0.0, 2.0], [0.0, 2.0]])
    labels = np.array([1, 1, 1, 0])
    unweighted = fit_temperature(logits, labels, np.ones(4), multilabel=False)
    weighted = fit_temperature(logits, labels, np.array([1, 1, 1, 3.0]), False)
    # p(1) = sigmoid(2 / T) should be 3/4 unweighted and 1/2 with the weights
    assert expit(2 / unweighted) == pytest.approx(0.75, abs=1e-4)
    assert weighted > 100  # as flat as the search allows: p(1) near 1/2


def test_multilabel_temperature_per_label_and_one_for_a_constant_label():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=(20_000, 3))
    targets = np.c_[
        rng.random(20_000) < expit(logits[:, 0] / 2.0),
        rng.random(20_000) < expit(logits[:, 1] / 0.5),
        np.zeros(20_000),
    ]
    found = fit_temperature(logits, targets, np.ones(20_000), multilabel=True)
    np.testing.assert_allclose(found, [2.0, 0.5, 1.0], rtol=0.08)


# --- calibrate=True -------------------------------------------------------------------


def test_calibrate_fits_a_temperature_and_keeps_the_predicted_class(calibrated):
    temperature = calibrated.temperature_
    assert isinstance(temperature, float) and temperature > 0
    proba = calibrated.predict_proba(PROBE)
    labels = calibrated.predict(PROBE)
    scores = calibrated.decision_function(PROBE)
    raw = clone(calibrated).set_params(calibrate=False)
    raw.__dict__.update({k: v for k, v in vars(calibrated).items() if k.endswith("_")})
    raw_scores = raw.decision_function(PROBE)
    np.testing.assert_allclose(scores, raw_scores / temperature, rtol=1e-5)
    np.testing.assert_allclose(proba[:, 1], expit(raw_scores / temperature), rtol=1e-5)
    np.testing.assert_array_equal(labels, raw.predict(PROBE))
    assert not np.allclose(raw.predict_proba(PROBE), proba)


def test_calibrate_uses_the_held_out_split_of_early_stopping(tiny_model, train_calls):
    clf = learning(tiny_model, calibrate=True, early_stopping=True, epochs=2)
    clf.fit(TEXTS, LABELS)
    assert train_calls[0][0].n_samples == 21  # 30% of 30 texts held out
    assert clf.temperature_ is not None


def test_calibrate_uses_x_val_when_given(tiny_model, train_calls):
    clf = learning(tiny_model, calibrate=True, epochs=2)
    clf.fit(TEXTS, LABELS, X_val=PROBE, y_val=["pos", "neg", "pos", "neg"])
    assert train_calls[0][0].n_samples == 30  # all of X trained on
    again = learning(tiny_model, calibrate=True, epochs=2)
    again.fit(TEXTS, LABELS, X_val=PROBE, y_val=["neg", "pos", "neg", "pos"])
    assert clf.temperature_ != again.temperature_


def test_calibrate_works_for_pairs_and_three_classes(tiny_model):
    pairs = list(zip(TEXTS, TEXTS[1:] + TEXTS[:1], strict=True))
    clf = learning(tiny_model, calibrate=True, epochs=2).fit(pairs, THREE)
    proba = clf.predict_proba(pairs[:5])
    assert proba.shape == (5, 3) and np.allclose(proba.sum(axis=1), 1)
    assert clf.temperature_ > 0


def test_calibrate_multilabel_fits_a_temperature_per_label(tiny_model):
    pairs = zip(TEXTS, LABELS, strict=True)
    Y = np.array([[label == "pos", "plot" in text] for text, label in pairs])
    clf = learning(tiny_model, calibrate=True, threshold="auto", epochs=2)
    clf.fit(TEXTS, Y.astype(int))
    assert clf.temperature_.shape == (2,) and (clf.temperature_ > 0).all()
    logits = clf.decision_function(PROBE)
    np.testing.assert_allclose(clf.predict_proba(PROBE), expit(logits), rtol=1e-6)
    np.testing.assert_array_equal(
        clf.predict(PROBE), (expit(logits) >= clf.thresholds_).astype(int)
    )


def test_calibrate_set_after_an_uncalibrated_fit_says_what_to_do(tiny_model):
    clf = learning(tiny_model, epochs=1).fit(TEXTS, LABELS)
    assert clf.temperature_ is None
    clf.set_params(calibrate=True)
    with pytest.raises(ValueError, match=r"no temperature_ was fitted.*calibrate=True"):
        clf.predict_proba(PROBE)


def test_bad_calibrate_is_named(tiny_model):
    with pytest.raises(InvalidParameterError, match="'calibrate' parameter of Bert"):
        learning(tiny_model, calibrate="yes").fit(TEXTS, LABELS)
    fitted = learning(tiny_model, epochs=1).fit(TEXTS, LABELS)
    with pytest.raises(InvalidParameterError, match="'calibrate' parameter"):
        fitted.set_params(calibrate="yes").predict_proba(PROBE)


@pytest.mark.parametrize("how", ["save", "pickle", "joblib"])
@pytest.mark.parametrize("value", [True, np.bool_(True)])
def test_calibrate_and_temperature_survive_persistence(
    calibrated, tmp_path, how, value
):
    calibrated.set_params(calibrate=value)
    loaded = round_trip(calibrated, how, tmp_path)
    assert loaded.get_params()["calibrate"] == value
    assert type(loaded.get_params()["calibrate"]) is type(value)
    assert loaded.temperature_ == calibrated.temperature_
    np.testing.assert_array_equal(
        loaded.predict_proba(PROBE), calibrated.predict_proba(PROBE)
    )
    assert clone(loaded).get_params()["calibrate"] == value
    calibrated.set_params(calibrate=True)


def test_an_older_pickle_without_a_temperature_loads_uncalibrated(calibrated):
    old = pickle.loads(pickle.dumps(calibrated))
    state = old.__getstate__()
    del state["temperature_"], state["calibrate"]
    restored = BertTextClassifier.__new__(BertTextClassifier)
    restored.__setstate__(state)
    assert restored.temperature_ is None and restored.calibrate is False
    restored.predict_proba(PROBE)


def test_onnx_export_keeps_the_calibrated_probabilities(calibrated, tmp_path):
    pytest.importorskip("onnxruntime")
    import skbert.onnx

    calibrated.export_onnx(tmp_path / "onnx")
    served = skbert.onnx.load(tmp_path / "onnx")
    assert served.calibrate is True
    np.testing.assert_allclose(
        served.predict_proba(PROBE), calibrated.predict_proba(PROBE), atol=1e-5
    )
    served.calibrate = False
    assert not np.allclose(served.predict_proba(PROBE), calibrated.predict_proba(PROBE))


# --- scikit-learn's CalibratedClassifierCV on a fitted classifier ---------------------


@pytest.mark.parametrize("kind", ["texts", "pairs", "three classes"])
def test_calibrated_classifier_cv_on_a_frozen_classifier(tiny_model, kind):
    X = TEXTS
    if kind == "pairs":
        X = list(zip(TEXTS, TEXTS[1:] + TEXTS[:1], strict=True))
    y = THREE if kind == "three classes" else LABELS
    clf = learning(tiny_model, epochs=2).fit(X[:10], y[:10])
    cv = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")
    cv.fit(X[10:], y[10:])  # at least 5 of each class: it cross-validates
    proba = cv.predict_proba(X[:8])
    np.testing.assert_array_equal(cv.classes_, clf.classes_)
    assert proba.shape == (8, len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(cv.predict(X[:8]), clf.predict(X[:8]))
