"""BertTextRegressor: the scikit-learn contract, target scaling, persistence, fitting.

Everything runs on conftest's tiny random BERT, a new random one each session.
Tests that need predictions which really depend on the text use ``learned``: 10
epochs at a high learning rate on a separable task, about 0.1 s. Thresholds on
learning leave a margin over what 60 random tiny models gave.
"""

from __future__ import annotations

import inspect
import math
import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

import skbert
from skbert import BertTextClassifier, BertTextRegressor
from skbert.exceptions import CorruptModelError

TEXTS = [
    "good film",
    "bad film",
    "great plot",
    "awful plot",
    "the movie was good",
    "the movie was awful",
    "great story",
    "bad story",
] * 2
Y = np.array([1.0, 0.0] * 8)
PROBE = ["good plot", "bad music", "the film was fine", "awful story"]


def small(model: str, **params: object) -> BertTextRegressor:
    settings: dict = {"epochs": 1, "batch_size": 8, "random_state": 0, "min_steps": 0}
    settings.update(params)
    return BertTextRegressor(model, **settings)


def learning(model: str, **params: object) -> BertTextRegressor:
    """A regressor that learns ``TEXTS -> Y`` on the tiny model.

    Over 60 random tiny models: R² 0.95 or more, last epoch's loss at most 0.1.
    """
    settings: dict = {"epochs": 10, "learning_rate": 1e-2}
    settings.update(params)
    return small(model, **settings)


def assert_close_in_units(
    actual: np.ndarray, expected: np.ndarray, scale, rtol: float = 1e-4
) -> None:
    """Equal within ``rtol``, relative to each value and to its output's scale.

    The float32 outputs round relative to the target's scale, so a prediction
    near 0 needs the scale as its yardstick.
    """
    actual = np.asarray(actual).reshape(len(actual), -1)
    expected = np.asarray(expected).reshape(len(expected), -1)
    assert actual.shape == expected.shape
    for column, unit in enumerate(scale):
        np.testing.assert_allclose(
            actual[:, column], expected[:, column], rtol=rtol, atol=rtol * unit
        )


@pytest.fixture(scope="module")
def learned(tiny_model: str) -> BertTextRegressor:
    return learning(tiny_model).fit(TEXTS, Y)


@pytest.fixture(scope="module")
def multi(tiny_model: str) -> BertTextRegressor:
    """Three outputs in very different units, so each output's scaling matters."""
    targets = np.c_[Y, 100.0 * Y - 40.0, -3.0 * Y + 0.5]
    return learning(tiny_model).fit(TEXTS, targets)


def test_fit_does_not_change_params_or_inputs(tiny_model: str) -> None:
    # check_estimators_overwrite_params, with text instead of blobs.
    estimator = small(tiny_model, max_length=16, max_grad_norm=0.5)
    before = estimator.get_params()
    hashes = {name: joblib.hash(value) for name, value in before.items()}
    texts, targets = list(TEXTS), Y.copy()
    estimator.fit(texts, targets)
    after = estimator.get_params()
    assert after.keys() == before.keys()
    for name, value in after.items():
        assert joblib.hash(value) == hashes[name], name
    assert texts == TEXTS
    np.testing.assert_array_equal(targets, Y)  # standardised on a copy


# --- construction, tags, parameters -----------------------------------------------


def test_init_stores_arguments_unchanged_and_validates_nothing() -> None:
    estimator = BertTextRegressor(
        "./no/such/model", epochs=-3, learning_rate="fast", device="tpu"
    )
    assert estimator.model_name_or_path == "./no/such/model"
    assert estimator.epochs == -3
    assert estimator.learning_rate == "fast"
    assert estimator.device == "tpu"
    assert not [name for name in vars(estimator) if name.endswith("_")]


def test_arguments_after_the_first_are_keyword_only() -> None:
    parameters = list(inspect.signature(BertTextRegressor).parameters.values())
    assert parameters[0].name == "model_name_or_path"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[1:])
    with pytest.raises(TypeError, match="positional argument"):
        BertTextRegressor("model", 64)


def test_classifier_only_parameters_are_absent() -> None:
    assert "class_weight" not in BertTextRegressor().get_params()
    with pytest.raises(ValueError, match="Invalid parameter 'class_weight'"):
        BertTextRegressor().set_params(class_weight="balanced")


def test_tags_declare_a_regressor_of_string_input() -> None:
    tags = BertTextRegressor().__sklearn_tags__()
    assert tags.estimator_type == "regressor"
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert is_regressor(BertTextRegressor())


def test_get_and_set_params(tiny_model: str) -> None:
    estimator = small(tiny_model)
    assert estimator.set_params(epochs=4, scoring="r2") is estimator
    params = estimator.get_params()
    assert params["epochs"] == 4
    assert params["scoring"] == "r2"
    assert params["model_name_or_path"] == tiny_model
    assert set(params) == set(inspect.signature(BertTextRegressor).parameters)


def test_invalid_parameter_is_named_at_fit(tiny_model: str) -> None:
    estimator = small(tiny_model, learning_rate=-1)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'learning_rate' parameter of BertTextRegressor must be a float "
        r"in the range \(0\.0, inf\) or a str among \{'auto'\}\. Got -1 instead\.",
    ):
        estimator.fit(TEXTS, Y)
    assert not hasattr(estimator, "model_")


def test_fit_returns_self(tiny_model: str) -> None:
    estimator = small(tiny_model)
    assert estimator.fit(TEXTS, Y) is estimator


@pytest.mark.parametrize("method", ["predict", "score", "save"])
def test_unfitted_estimator_raises_not_fitted(
    tiny_model: str, tmp_path, method: str
) -> None:
    estimator = small(tiny_model)
    args = {"predict": (PROBE,), "score": (TEXTS, Y), "save": (tmp_path / "m",)}
    with pytest.raises(NotFittedError, match="This BertTextRegressor instance"):
        getattr(estimator, method)(*args[method])
    assert not (tmp_path / "m").exists()


def test_clone_of_fitted_estimator_is_unfitted_with_equal_params(
    learned: BertTextRegressor,
) -> None:
    copy = clone(learned)
    assert copy.get_params() == learned.get_params()
    assert not hasattr(copy, "model_")
    assert not hasattr(copy, "target_mean_")
    with pytest.raises(NotFittedError):
        copy.predict(PROBE)
    assert learned.predict(PROBE).shape == (len(PROBE),)


def _documented(section: str) -> set[str]:
    doc = inspect.getdoc(BertTextRegressor)
    body = doc.split(f"{section}\n{'-' * len(section)}\n", 1)[1]
    body = body.split("\n\n", 1)[0]
    return {line.split(" : ")[0] for line in body.splitlines() if " : " in line}


def test_every_parameter_is_documented() -> None:
    signature = inspect.signature(BertTextRegressor)
    assert _documented("Parameters") == set(signature.parameters)


def test_every_fitted_attribute_is_documented(learned: BertTextRegressor) -> None:
    public = {name for name in vars(learned) if name.endswith("_")}
    assert _documented("Attributes") == public


# --- targets, fitted attributes, predictions --------------------------------------


def test_fitted_attributes(learned: BertTextRegressor) -> None:
    assert learned.n_outputs_ == 1
    np.testing.assert_array_equal(learned.target_mean_, [0.5])
    np.testing.assert_array_equal(learned.target_scale_, [0.5])
    assert learned.target_mean_.dtype == learned.target_scale_.dtype == np.float64
    config = learned.model_.config
    assert config.problem_type == "regression"
    assert config.num_labels == 1
    assert learned.model_.training is False
    assert learned.device_ == torch.device("cpu")
    assert learned.n_iter_ == learned.epochs == 10
    assert len(learned.loss_curve_) == 10
    assert all(math.isfinite(loss) for loss in learned.loss_curve_)
    assert learned.validation_scores_ is None
    assert learned.best_epoch_ is None


def test_learns_a_separable_task(learned: BertTextRegressor) -> None:
    # The loss is the MSE of standardised targets: 1.0 is predicting the mean.
    assert 0.9 < learned.loss_curve_[0] < 1.1
    assert learned.loss_curve_[-1] < 0.25
    assert learned.score(TEXTS, Y) > 0.8


def test_predict_is_one_dimensional_float_in_units_of_y(
    learned: BertTextRegressor,
) -> None:
    predictions = learned.predict(TEXTS)
    assert predictions.shape == (len(TEXTS),)
    assert predictions.dtype == np.float64
    # Units of y, not standardised: positives near 1, negatives near 0.
    assert np.all(np.abs(predictions - Y) < 0.5)


def test_score_is_r2(learned: BertTextRegressor) -> None:
    expected = r2_score(Y, learned.predict(TEXTS))
    assert learned.score(TEXTS, Y) == pytest.approx(expected, rel=1e-12)
    weights = np.arange(1.0, len(Y) + 1)
    assert learned.score(TEXTS, Y, sample_weight=weights) == pytest.approx(
        r2_score(Y, learned.predict(TEXTS), sample_weight=weights), rel=1e-12
    )


def test_targets_in_the_thousands_train_like_the_same_targets_in_units(
    learned: BertTextRegressor, tiny_model: str
) -> None:
    # Standardisation makes the two fits identical up to the affine map.
    big = learning(tiny_model).fit(TEXTS, Y * 1000 + 5000)
    np.testing.assert_allclose(big.target_mean_, [5500.0])
    np.testing.assert_allclose(big.target_scale_, [500.0])
    expected = learned.predict(PROBE + TEXTS)
    assert np.ptp(expected) > 0.5  # the comparison below is not of constants
    assert_close_in_units((big.predict(PROBE + TEXTS) - 5000) / 1000, expected, [0.5])
    np.testing.assert_allclose(big.loss_curve_, learned.loss_curve_, rtol=1e-4)


def test_constant_target_gets_scale_one(tiny_model: str) -> None:
    estimator = small(tiny_model, epochs=2).fit(TEXTS, np.full(len(TEXTS), 7.0))
    np.testing.assert_array_equal(estimator.target_mean_, [7.0])
    np.testing.assert_array_equal(estimator.target_scale_, [1.0])
    predictions = estimator.predict(PROBE)
    assert np.all(np.isfinite(predictions))
    np.testing.assert_allclose(predictions, 7.0, atol=0.5)


def test_multi_output(multi: BertTextRegressor) -> None:
    targets = np.c_[Y, 100.0 * Y - 40.0, -3.0 * Y + 0.5]
    assert multi.n_outputs_ == 3
    assert multi.model_.config.num_labels == 3
    np.testing.assert_allclose(multi.target_mean_, [0.5, 10.0, -1.0])
    np.testing.assert_allclose(multi.target_scale_, [0.5, 50.0, 1.5])
    predictions = multi.predict(TEXTS)
    assert predictions.shape == (len(TEXTS), 3)
    # Each output answers in its own units.
    for column in range(3):
        assert r2_score(targets[:, column], predictions[:, column]) > 0.8
    assert multi.score(TEXTS, targets) == pytest.approx(
        r2_score(targets, predictions), rel=1e-12
    )


def test_one_column_target_predicts_one_dimensional(tiny_model: str) -> None:
    estimator = small(tiny_model).fit(TEXTS, Y.reshape(-1, 1))
    assert estimator.n_outputs_ == 1
    assert estimator.predict(PROBE).shape == (len(PROBE),)


@pytest.mark.parametrize(
    "container",
    [
        list,
        pd.Series,
        lambda y: np.asarray(y, dtype=np.float32),
        lambda y: y.astype(int),
    ],
    ids=["list", "series", "float32", "int"],
)
def test_target_containers(tiny_model: str, container) -> None:
    reference = small(tiny_model).fit(TEXTS, Y)
    estimator = small(tiny_model).fit(TEXTS, container(Y))
    np.testing.assert_array_equal(estimator.target_mean_, [0.5])
    np.testing.assert_array_equal(estimator.predict(PROBE), reference.predict(PROBE))


# --- bad targets and weights ------------------------------------------------------


def _with_nan_at(row: int) -> np.ndarray:
    values = Y.copy()
    values[row] = np.nan
    return values


@pytest.mark.parametrize(
    ("y", "error", "message"),
    [
        (_with_nan_at(3), ValueError, r"y has a missing or infinite target at row 3"),
        (np.where(np.arange(16) == 5, np.inf, Y), ValueError, r"target at row 5"),
        (["pos", "neg"] * 8, ValueError, r"y must be numeric for a regressor"),
        (Y[:15], ValueError, r"X has 16 texts but y has 15 targets"),
        (np.zeros((16, 2, 2)), ValueError, r"y must have shape \(n_samples,\)"),
        (None, ValueError, r"y is None"),
        ("1.5", TypeError, r"Expected numeric targets for y, got a single str"),
    ],
    ids=["nan", "inf", "str", "length", "3-d", "none", "single-str"],
)
def test_bad_targets_are_named(tiny_model: str, y, error, message) -> None:
    estimator = small(tiny_model)
    with pytest.raises(error, match=message):
        estimator.fit(TEXTS, y)
    assert not hasattr(estimator, "model_")


def test_missing_target_in_one_output_names_the_row(tiny_model: str) -> None:
    targets = np.c_[Y, Y]
    targets[6, 1] = np.nan
    with pytest.raises(ValueError, match=r"target at row 6 .*1 row\(s\) in all"):
        small(tiny_model).fit(TEXTS, targets)


def test_all_zero_sample_weight_is_refused(tiny_model: str) -> None:
    # sklearn's _check_sample_weight answers before skbert's own check.
    with pytest.raises(
        ValueError, match="Sample weights must contain at least one non-zero number"
    ):
        small(tiny_model).fit(TEXTS, Y, sample_weight=np.zeros(len(TEXTS)))


@pytest.mark.parametrize(
    ("sample_weight", "message"),
    [
        ([1.0] * 3, r"sample_weight has shape \(3,\); expected \(16,\)"),
        ([-1.0] + [1.0] * 15, "Negative values in data passed to `sample_weight`"),
    ],
    ids=["length", "negative"],
)
def test_bad_sample_weight_is_named(tiny_model: str, sample_weight, message) -> None:
    with pytest.raises(ValueError, match=message):
        small(tiny_model).fit(TEXTS, Y, sample_weight=sample_weight)


def test_uniform_sample_weight_changes_nothing(
    learned: BertTextRegressor, tiny_model: str
) -> None:
    # The loss is a weighted mean, so only relative weights matter.
    weighted = learning(tiny_model).fit(
        TEXTS, Y, sample_weight=np.full(len(TEXTS), 3.0)
    )
    np.testing.assert_allclose(
        weighted.predict(PROBE), learned.predict(PROBE), rtol=1e-6
    )
    np.testing.assert_allclose(weighted.loss_curve_, learned.loss_curve_, rtol=1e-6)


def test_sample_weight_changes_the_fit(
    learned: BertTextRegressor, tiny_model: str
) -> None:
    weights = np.where(Y == 1.0, 5.0, 1.0)
    weighted = learning(tiny_model).fit(TEXTS, Y, sample_weight=weights)
    assert not np.allclose(weighted.predict(PROBE), learned.predict(PROBE))


def test_zero_weight_rows_do_not_count_in_the_validation_loss(
    tiny_model: str,
) -> None:
    # Training is identical in both fits; only the validation set differs, by rows
    # of absurd targets that carry weight 0.
    X_val, y_val = TEXTS[:6], Y[:6]
    outliers = ["dull music", "fun music", "the actor"]
    params = {"early_stopping": True, "epochs": 2, "n_iter_no_change": 5}
    plain = learning(tiny_model, **params).fit(TEXTS, Y, X_val=X_val, y_val=y_val)
    padded = learning(tiny_model, **params).fit(
        TEXTS,
        Y,
        X_val=X_val + outliers,
        y_val=np.r_[y_val, [1e6] * 3],
        sample_weight_val=np.r_[np.ones(6), np.zeros(3)],
    )
    # Inference batches differ in padding, hence float32 rounding only.
    np.testing.assert_allclose(
        padded.validation_loss_curve_, plain.validation_loss_curve_, rtol=1e-6
    )
    np.testing.assert_array_equal(padded.predict(PROBE), plain.predict(PROBE))


# Regression: _targets standardised y with the unweighted mean and std of every
# row, so rows that sample_weight switches off still set target_mean_ and
# target_scale_. Outliers with weight 0 squashed the real targets into a sliver of
# the standardised range and ruined the fit (R² about -5e6 instead of 0.97).
OUTLIER_TEXTS = ["dull music", "fun music", "the actor", "it was"]


def _fit_with_zero_weight_outliers(tiny_model: str) -> BertTextRegressor:
    return learning(tiny_model).fit(
        TEXTS + OUTLIER_TEXTS,
        np.r_[Y, [1e6] * 4],
        sample_weight=np.r_[np.ones(len(TEXTS)), np.zeros(4)],
    )


def test_zero_weight_rows_do_not_set_the_target_scaling(tiny_model: str) -> None:
    estimator = _fit_with_zero_weight_outliers(tiny_model)
    np.testing.assert_allclose(estimator.target_mean_, [0.5])
    np.testing.assert_allclose(estimator.target_scale_, [0.5])


def test_zero_weight_outliers_do_not_spoil_the_fit(tiny_model: str) -> None:
    estimator = _fit_with_zero_weight_outliers(tiny_model)
    assert estimator.score(TEXTS, Y) > 0.8  # 0.97 or more once fixed


# --- early stopping, warm start, partial_fit --------------------------------------


def test_early_stopping_with_r2_scoring(tiny_model: str) -> None:
    estimator = learning(
        tiny_model,
        early_stopping=True,
        scoring="r2",
        validation_fraction=0.25,
        n_iter_no_change=20,
    ).fit(TEXTS, Y)
    scores = estimator.validation_scores_
    assert len(scores) == len(estimator.loss_curve_) == estimator.n_iter_ == 10
    assert all(-math.inf < score <= 1.0 for score in scores)
    assert estimator.best_validation_score_ == max(scores)
    assert estimator.best_epoch_ == 1 + int(np.argmax(scores))
    recorded = [record["validation_score"] for record in estimator.history_]
    assert recorded == scores
    assert len(estimator.validation_loss_curve_) == 10


def test_early_stopping_r2_is_scored_in_units_of_y(tiny_model: str) -> None:
    # R² is invariant to the affine map; a score of standardised predictions
    # against y in thousands would not be.
    params = {"early_stopping": True, "scoring": "r2", "epochs": 3}
    units = learning(tiny_model, **params).fit(
        TEXTS, Y, X_val=PROBE, y_val=[1, 0, 1, 0]
    )
    big = learning(tiny_model, **params).fit(
        TEXTS, 1000 * Y + 5000, X_val=PROBE, y_val=[6000, 5000, 6000, 5000]
    )
    np.testing.assert_allclose(
        big.validation_scores_, units.validation_scores_, rtol=1e-4
    )
    r2 = r2_score([1, 0, 1, 0], units.predict(PROBE))
    assert units.validation_scores_[units.best_epoch_ - 1] == pytest.approx(r2)


def test_early_stopping_default_score_is_negative_standardised_mse(
    tiny_model: str,
) -> None:
    estimator = learning(tiny_model, early_stopping=True, epochs=3).fit(
        TEXTS, 1000 * Y, X_val=TEXTS[:8], y_val=1000 * Y[:8]
    )
    np.testing.assert_array_equal(
        estimator.validation_scores_, -np.asarray(estimator.validation_loss_curve_)
    )
    predictions = estimator.predict(TEXTS[:8])
    mse = np.mean(((predictions - 1000 * Y[:8]) / estimator.target_scale_) ** 2)
    best = estimator.best_epoch_ - 1
    assert estimator.validation_loss_curve_[best] == pytest.approx(mse, rel=1e-4)


def test_y_val_with_the_wrong_number_of_outputs(tiny_model: str) -> None:
    estimator = small(tiny_model, early_stopping=True)
    with pytest.raises(
        ValueError,
        match=r"y_val has 2 target\(s\) per input, but y has 1\.",
    ):
        estimator.fit(TEXTS, Y, X_val=PROBE, y_val=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"X has 4 texts but y_val has 3 targets"):
        estimator.fit(TEXTS, Y, X_val=PROBE, y_val=[1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"y_val has a missing .* at row 2"):
        estimator.fit(TEXTS, Y, X_val=PROBE, y_val=[1.0, 0.0, np.nan, 0.0])
    assert not hasattr(estimator, "model_")


@pytest.mark.parametrize("first_with_validation", [True, False])
def test_warm_start_appends_curves(tiny_model: str, first_with_validation) -> None:
    params = {"epochs": 2, "validation_fraction": 0.25, "n_iter_no_change": 5}
    estimator = learning(
        tiny_model, warm_start=True, early_stopping=first_with_validation, **params
    )
    estimator.fit(TEXTS, Y)
    first_losses = list(estimator.loss_curve_)
    mean = estimator.target_mean_
    estimator.set_params(early_stopping=True).fit(TEXTS, 2 * Y)
    assert estimator.target_mean_ is mean  # the first fit's scaling stays
    np.testing.assert_array_equal(estimator.target_mean_, [0.5])
    assert estimator.n_iter_ == 4
    assert len(estimator.loss_curve_) == 4
    assert estimator.loss_curve_[:2] == first_losses
    assert [h["epoch"] for h in estimator.history_] == [1, 2, 3, 4]
    assert len(estimator.validation_scores_) == 4
    assert len(estimator.validation_loss_curve_) == 4
    earlier = np.isnan(estimator.validation_scores_[:2])
    assert earlier.tolist() == [not first_with_validation] * 2
    assert np.all(np.isfinite(estimator.validation_scores_[2:]))
    assert estimator.best_epoch_ in (3, 4)


# Regression: _base.py _record_result returns early when the new epochs have no
# validation (a warm-started fit with early_stopping=False, or partial_fit) and
# leaves validation_loss_curve_ and validation_scores_ shorter than loss_curve_,
# against its own rule "All curves stay one entry per epoch".
@pytest.mark.parametrize("then", ["fit", "partial_fit"])
def test_later_epochs_without_validation_pad_the_validation_curves(
    tiny_model: str, then: str
) -> None:
    estimator = small(
        tiny_model,
        epochs=2,
        warm_start=True,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=5,
    ).fit(TEXTS, Y)
    estimator.set_params(early_stopping=False)
    getattr(estimator, then)(TEXTS, Y)
    assert (
        len(estimator.loss_curve_) == estimator.n_iter_ == (4 if then == "fit" else 3)
    )
    assert len(estimator.validation_scores_) == len(estimator.loss_curve_)
    assert len(estimator.validation_loss_curve_) == len(estimator.loss_curve_)
    assert np.all(np.isnan(estimator.validation_scores_[2:]))


def test_warm_start_keeps_training_the_fitted_weights(
    learned: BertTextRegressor,
) -> None:
    continued = pickle.loads(pickle.dumps(learned))
    continued.set_params(warm_start=True, epochs=1, learning_rate=1e-4)
    continued.fit(TEXTS, Y)
    # One gentle epoch from the learned weights, not from the random head.
    assert continued.score(TEXTS, Y) > 0.8
    assert continued.n_iter_ == learned.n_iter_ + 1


def test_warm_start_with_another_number_of_outputs_is_refused(
    learned: BertTextRegressor,
) -> None:
    continued = pickle.loads(pickle.dumps(learned)).set_params(warm_start=True)
    with pytest.raises(
        ValueError,
        match=r"y has 2 target\(s\) per input, but the fitted estimator has 1\.",
    ):
        continued.fit(TEXTS, np.c_[Y, Y])
    np.testing.assert_array_equal(continued.predict(PROBE), learned.predict(PROBE))


def test_partial_fit(tiny_model: str) -> None:
    estimator = small(tiny_model, learning_rate=1e-2)
    assert estimator.partial_fit(TEXTS[:8], Y[:8] * 10) is estimator
    assert estimator.n_iter_ == 1
    mean, scale = estimator.target_mean_.copy(), estimator.target_scale_.copy()
    estimator.partial_fit(TEXTS[8:], Y[8:])
    assert estimator.n_iter_ == 2
    assert len(estimator.loss_curve_) == 2
    np.testing.assert_array_equal(estimator.target_mean_, mean)
    np.testing.assert_array_equal(estimator.target_scale_, scale)
    np.testing.assert_array_equal(mean, [5.0])
    estimator.set_params(learning_rate=-1)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'learning_rate' parameter of BertTextRegressor",
    ):
        estimator.partial_fit(TEXTS, Y)
    assert estimator.n_iter_ == 2


def test_partial_fit_with_another_number_of_outputs_is_refused(
    tiny_model: str,
) -> None:
    estimator = small(tiny_model).partial_fit(TEXTS, Y)
    with pytest.raises(
        ValueError, match=r"y has 3 target\(s\) .* fitted estimator has 1"
    ):
        estimator.partial_fit(TEXTS, np.c_[Y, Y, Y])
    assert estimator.n_iter_ == 1


def test_partial_fit_continues_learning(tiny_model: str) -> None:
    # Over 60 random tiny models: loss ratio at most 0.09, R² at least 0.89.
    estimator = small(tiny_model, learning_rate=3e-3)
    for _ in range(10):
        estimator.partial_fit(TEXTS, Y)
    assert estimator.loss_curve_[-1] < 0.3 * estimator.loss_curve_[0]
    assert estimator.score(TEXTS, Y) > 0.7


# --- composition with scikit-learn ------------------------------------------------


def _clean(texts: object) -> list[str]:
    return [" ".join(str(text).lower().split()) for text in texts]


def test_pipeline_with_text_cleaning(
    learned: BertTextRegressor, tiny_model: str
) -> None:
    pipeline = make_pipeline(
        FunctionTransformer(_clean, validate=False), learning(tiny_model)
    )
    messy = [f"  {text.upper()}\t" for text in TEXTS]
    pipeline.fit(messy, Y)
    np.testing.assert_array_equal(pipeline.predict(messy), learned.predict(TEXTS))
    assert pipeline.score(messy, Y) == learned.score(TEXTS, Y)


def test_grid_search_with_numpy_parameter_values(tiny_model: str, tmp_path) -> None:
    grid = {
        "learning_rate": np.array([1e-3, 1e-2], dtype=np.float64),
        "epochs": np.arange(1, 3),
    }
    search = GridSearchCV(small(tiny_model), grid, cv=2, error_score="raise")
    search.fit(TEXTS, Y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    assert best.n_iter_ == search.best_params_["epochs"]
    assert best.learning_rate == search.best_params_["learning_rate"]
    assert isinstance(best.epochs, np.integer)
    assert search.predict(PROBE).shape == (len(PROBE),)
    # numpy-typed parameters survive the pickle-free save, types included.
    best.save(tmp_path / "best")
    loaded = skbert.load(tmp_path / "best")
    assert loaded.get_params() == best.get_params()
    assert type(loaded.epochs) is type(best.epochs)
    assert_close_in_units(
        loaded.predict(PROBE), best.predict(PROBE), best.target_scale_, rtol=1e-5
    )


def test_cross_val_score_defaults_to_r2(tiny_model: str) -> None:
    estimator = small(tiny_model, learning_rate=1e-2, epochs=2)
    folds = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(estimator, TEXTS, Y, cv=folds, error_score="raise")
    expected = []
    for train, test in folds.split(TEXTS):
        fold = clone(estimator).fit([TEXTS[i] for i in train], Y[train])
        expected.append(r2_score(Y[test], fold.predict([TEXTS[i] for i in test])))
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


# --- persistence ------------------------------------------------------------------


def test_pickle_round_trip_keeps_predictions(learned: BertTextRegressor) -> None:
    loaded = pickle.loads(pickle.dumps(learned))
    np.testing.assert_array_equal(loaded.predict(PROBE), learned.predict(PROBE))
    assert loaded.get_params() == learned.get_params()
    np.testing.assert_array_equal(loaded.target_mean_, learned.target_mean_)
    np.testing.assert_array_equal(loaded.target_scale_, learned.target_scale_)
    assert loaded.loss_curve_ == learned.loss_curve_


def test_joblib_file_loads_in_a_fresh_process(
    multi: BertTextRegressor, tmp_path
) -> None:
    joblib.dump(multi, tmp_path / "reg.joblib")
    np.save(tmp_path / "expected.npy", multi.predict(PROBE))
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np
        reg = joblib.load({str(tmp_path / "reg.joblib")!r})
        got = reg.predict({PROBE!r})
        np.testing.assert_array_equal(got, np.load({str(tmp_path / "expected.npy")!r}))
        print(type(reg).__name__, got.shape)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "c")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "BertTextRegressor (4, 3)"


@pytest.mark.parametrize("which", ["learned", "multi"])
def test_save_load_round_trip(request, tmp_path, which: str) -> None:
    fitted = request.getfixturevalue(which)
    fitted.save(tmp_path / "saved")
    loaded = skbert.load(tmp_path / "saved")
    assert type(loaded) is BertTextRegressor
    assert type(BertTextRegressor.load(tmp_path / "saved")) is BertTextRegressor
    assert loaded.get_params() == fitted.get_params()
    assert loaded.n_outputs_ == fitted.n_outputs_
    np.testing.assert_array_equal(loaded.target_mean_, fitted.target_mean_)
    np.testing.assert_array_equal(loaded.target_scale_, fitted.target_scale_)
    assert loaded.loss_curve_ == fitted.loss_curve_
    expected = fitted.predict(PROBE + TEXTS)
    assert_close_in_units(
        loaded.predict(PROBE + TEXTS), expected, fitted.target_scale_, rtol=1e-5
    )
    # Saving folds the scaling into a copy: the fitted model is left as it was.
    np.testing.assert_array_equal(fitted.predict(PROBE + TEXTS), expected)


@pytest.mark.parametrize("which", ["learned", "multi"])
def test_saved_directory_predicts_in_units_of_y_with_transformers(
    request, tmp_path, which: str
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    fitted = request.getfixturevalue(which)
    fitted.save(tmp_path / "saved")
    with skbert._hub.quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved")
        tokenizer = AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert model.config.problem_type == "regression"
    assert model.config.num_labels == fitted.n_outputs_
    texts = PROBE + TEXTS[:4]
    with torch.no_grad():
        outputs = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
    expected = fitted.predict(texts).reshape(len(texts), -1)
    assert np.all(np.ptp(expected, axis=0) > 0.5 * fitted.target_scale_)
    assert_close_in_units(outputs.numpy(), expected, fitted.target_scale_)


def test_classifier_load_of_a_regressor_is_refused(
    learned: BertTextRegressor, tiny_model: str, tmp_path
) -> None:
    learned.save(tmp_path / "regressor")
    with pytest.raises(
        CorruptModelError,
        match=r"holds a BertTextRegressor, not a BertTextClassifier; load it with "
        r"skbert\.load or BertTextRegressor\.load",
    ):
        BertTextClassifier.load(tmp_path / "regressor")
    classifier = BertTextClassifier(tiny_model, epochs=1, random_state=0)
    classifier.fit(TEXTS, Y > 0.5).save(tmp_path / "classifier")
    with pytest.raises(
        CorruptModelError, match=r"holds a BertTextClassifier, not a BertTextRegressor"
    ):
        BertTextRegressor.load(tmp_path / "classifier")
