"""Multi-label BertTextClassifier: indicator targets, thresholds, weights, persistence.

A multi-label ``y`` is a 0/1 indicator matrix; the model has a sigmoid per label,
trained with binary cross-entropy, and ``predict`` returns an indicator matrix.
Everything runs on conftest's tiny random BERT; ``best_f1_thresholds`` and
``positive_weights`` are pure functions, tested on hand-made data and against a
brute-force search.
"""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import InvalidParameterError

import skbert
from conftest import property_examples, round_trip
from skbert import BertTextClassifier, _data, _engine
from skbert._classifier import best_f1_thresholds

# Labels: 0 a positive mood, 1 about the plot or story, 2 an intensifier.
ROWS = [
    ("good film", [1, 0, 0]),
    ("bad film", [0, 0, 0]),
    ("great plot", [1, 1, 0]),
    ("awful plot", [0, 1, 0]),
    ("a very good story", [1, 1, 1]),
    ("a very bad movie", [0, 0, 1]),
    ("really fun acting", [1, 0, 1]),
    ("the boring story", [0, 1, 0]),
] * 2
TEXTS = [text for text, _ in ROWS]
Y = np.array([labels for _, labels in ROWS])
PROBE = ["good story", "very awful plot", "the music", "really great film"]
PROBE_Y = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0], [1, 0, 1]])


def small(model: str, **params: object) -> BertTextClassifier:
    settings_: dict = {"epochs": 1, "batch_size": 8, "random_state": 0, "min_steps": 0}
    settings_.update(params)
    return BertTextClassifier(model, **settings_)


def learning(model: str, **params: object) -> BertTextClassifier:
    """A multi-label classifier that learns most of ``TEXTS -> Y`` on the tiny model.

    Three labels are hard for a hidden size of 32: over five seeds, 20 epochs got
    79-92% of the labels right, and ended at 35-59% of the first epoch's loss.
    The head starts random: a linear probe of the random tiny model's features
    carries no signal, and from it the same five seeds got 71-92% (this tests the
    training loop, not the head's start; tests/test_few_shot.py tests that).
    """
    settings_: dict = {"epochs": 20, "learning_rate": 1e-2, "head_init": "random"}
    settings_.update(params)
    return small(model, **settings_)


@pytest.fixture(scope="module")
def fitted(tiny_model: str) -> BertTextClassifier:
    return small(tiny_model).fit(TEXTS, Y)


@pytest.fixture(scope="module")
def learned(tiny_model: str) -> BertTextClassifier:
    return learning(tiny_model).fit(TEXTS, Y)


# --- fitted attributes and outputs -------------------------------------------------


def test_fit_sets_the_multilabel_attributes(fitted) -> None:
    np.testing.assert_array_equal(fitted.classes_, [0, 1, 2])
    assert fitted.multilabel_ is True
    assert fitted.thresholds_ is None
    assert fitted.model_.config.problem_type == "multi_label_classification"
    assert fitted.model_.config.num_labels == 3


def test_outputs_are_one_column_per_label(fitted) -> None:
    logits = fitted.decision_function(PROBE)
    proba = fitted.predict_proba(PROBE)
    predicted = fitted.predict(PROBE)
    assert logits.shape == proba.shape == predicted.shape == (4, 3)
    assert predicted.dtype == np.int64
    assert set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_allclose(proba, expit(logits.astype(np.float64)), rtol=1e-12)
    # Independent sigmoids, not a softmax: rows of three ~0.5 values sum to ~1.5.
    assert not np.allclose(proba.sum(axis=1), 1.0, atol=0.1)


def test_two_labels_keep_a_column_each(tiny_model: str) -> None:
    estimator = small(tiny_model).fit(TEXTS, Y[:, :2])
    logits = estimator.decision_function(PROBE)
    # Not the 1-D margin of a binary single-label classifier.
    assert logits.shape == (4, 2)
    np.testing.assert_allclose(estimator.predict_proba(PROBE), expit(logits))
    assert estimator.predict(PROBE).shape == (4, 2)


def test_predict_sets_labels_at_the_threshold(fitted) -> None:
    proba = fitted.predict_proba(TEXTS)
    np.testing.assert_array_equal(fitted.predict(TEXTS), proba >= 0.5)
    middle = float(np.median(proba))
    # set_params on the fitted estimator: no retraining needed.
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(threshold=middle)
    np.testing.assert_array_equal(estimator.predict_proba(TEXTS), proba)
    np.testing.assert_array_equal(estimator.predict(TEXTS), proba >= middle)
    assert (estimator.predict(TEXTS) != (proba >= 0.5)).any()


def test_score_is_subset_accuracy(learned) -> None:
    predicted = learned.predict(TEXTS)
    expected = np.mean((predicted == Y).all(axis=1))
    assert learned.score(TEXTS, Y) == pytest.approx(expected)
    assert learned.score(TEXTS, Y) == pytest.approx(accuracy_score(Y, predicted))
    assert learned.score(PROBE, PROBE_Y) == pytest.approx(
        accuracy_score(PROBE_Y, learned.predict(PROBE))
    )


def test_multilabel_learns_its_training_data(learned) -> None:
    # Each label alone: 50-62% from the majority value; all three: 25%.
    assert (learned.predict(TEXTS) == Y).mean() >= 0.8
    assert learned.score(TEXTS, Y) >= 0.5
    assert learned.loss_curve_[-1] < 0.75 * learned.loss_curve_[0]


# --- the forms of y -------------------------------------------------------------------


Y_FORMS = {
    "int-array": lambda y: y,
    "bool-array": lambda y: y.astype(bool),
    "float-array": lambda y: y.astype(np.float32),
    "list-of-lists": lambda y: y.tolist(),
    "list-of-tuples": lambda y: [tuple(row) for row in y.tolist()],
    "csr": scipy.sparse.csr_matrix,
    "csc": scipy.sparse.csc_matrix,
    "dataframe": lambda y: pd.DataFrame(y, columns=["mood", "plot", "very"]),
}


@pytest.fixture(scope="module")
def reference_proba(fitted) -> np.ndarray:
    return fitted.predict_proba(PROBE)


@pytest.mark.parametrize("form", Y_FORMS, ids=list(Y_FORMS))
def test_indicator_forms_give_the_same_fit(
    tiny_model: str, reference_proba: np.ndarray, form: str
) -> None:
    estimator = small(tiny_model).fit(TEXTS, Y_FORMS[form](Y))
    assert estimator.multilabel_
    np.testing.assert_array_equal(estimator.classes_, [0, 1, 2])
    np.testing.assert_array_equal(estimator.predict_proba(PROBE), reference_proba)


@pytest.mark.parametrize(
    "y",
    [
        [["a"], ["a", "b"]] * 8,
        [["good"], [], ["bad", "sad"], ["good"]] * 4,
        [{"a"}, {"a", "b"}] * 8,
        np.array([["a"], ["a", "b"]] * 8, dtype=object),
    ],
    ids=["ragged-lists", "empty-row", "sets", "object-array"],
)
def test_label_lists_point_to_multilabelbinarizer(tiny_model: str, y) -> None:
    with pytest.raises(ValueError, match=r"list of label lists \(item 0 is") as info:
        small(tiny_model).fit(TEXTS, y)
    assert "MultiLabelBinarizer().fit_transform(y)" in str(info.value)


def test_equal_length_label_names_are_named_by_cell(tiny_model: str) -> None:
    y = [["good", "film"], ["bad", "film"]] * 8
    with pytest.raises(
        ValueError,
        match=r"y is 2-D, so it is read as a multi-label indicator matrix, but "
        r"row 0, column 0 holds (np\.str_\()?'good'\)?, not 0 or 1\..*"
        r"MultiLabelBinarizer",
    ):
        small(tiny_model).fit(TEXTS, y)


@pytest.mark.parametrize(
    "cell, value, shown",
    [
        ((2, 1), 2, "2.0"),
        ((5, 0), -1, "-1.0"),
        ((0, 2), 0.5, "0.5"),
        ((7, 1), np.nan, "nan"),
    ],
)
def test_cells_that_are_not_0_or_1_are_named(
    tiny_model: str, cell, value, shown: str
) -> None:
    y = Y.astype(np.float64)
    y[cell] = value
    row, column = cell
    with pytest.raises(
        ValueError,
        match=rf"y is 2-D, so it is read as a multi-label indicator matrix, but "
        rf"row {row}, column {column} holds (np\.float64\()?{shown}\)?, not 0 or 1",
    ):
        small(tiny_model).fit(TEXTS, y)


def test_bad_cell_in_a_sparse_y_is_named(tiny_model: str) -> None:
    y = Y.copy()
    y[3, 2] = 7
    with pytest.raises(ValueError, match=r"row 3, column 2 holds .*7"):
        small(tiny_model).fit(TEXTS, scipy.sparse.csr_matrix(y))


def test_a_single_column_is_refused(tiny_model: str) -> None:
    with pytest.raises(ValueError, match=r"shape \(16, 1\): a single column.*ravel"):
        small(tiny_model).fit(TEXTS, Y[:, :1])


def test_rows_of_y_must_match_x(tiny_model: str) -> None:
    with pytest.raises(ValueError, match="X has 16 texts but y has 15 rows"):
        small(tiny_model).fit(TEXTS, Y[:15])


# --- one label per text versus a label matrix ---------------------------------------


def test_y_val_must_be_a_matrix_of_the_same_labels(tiny_model: str) -> None:
    estimator = small(tiny_model, early_stopping=True)
    with pytest.raises(
        ValueError, match=r"y_val is 1-D, but y is multi-label.*\(n_samples, 3\)"
    ):
        estimator.fit(TEXTS, Y, X_val=PROBE, y_val=[0, 1, 0, 1])
    with pytest.raises(
        ValueError,
        match="y_val is a multi-label indicator matrix with 2 columns, but y is a "
        "multi-label indicator matrix with 3 columns",
    ):
        estimator.fit(TEXTS, Y, X_val=PROBE, y_val=PROBE_Y[:, :2])
    with pytest.raises(
        ValueError,
        match=r"y_val is a multi-label indicator matrix with 3 columns, but y is "
        r"single-label, with classes \[0, 1\]",
    ):
        estimator.fit(TEXTS, Y[:, 0], X_val=PROBE, y_val=PROBE_Y)


def test_warm_start_refuses_a_change_of_kind(tiny_model: str) -> None:
    estimator = small(tiny_model, warm_start=True).fit(TEXTS, Y)
    with pytest.raises(
        ValueError,
        match=r"warm_start can only be used.*Previously got 3 labels \(a multi-label "
        r"matrix\), `y` has \[0, 1\]",
    ):
        estimator.fit(TEXTS, Y[:, 0])
    with pytest.raises(ValueError, match="`y` has 2 labels"):
        estimator.fit(TEXTS, Y[:, :2])
    assert estimator.n_iter_ == 1  # the failed calls left it as it was
    single = small(tiny_model, warm_start=True).fit(TEXTS, Y[:, 0])
    with pytest.raises(
        ValueError, match=r"Previously got \[0, 1\], `y` has 3 labels \(a multi-label"
    ):
        single.fit(TEXTS, Y)


def test_warm_start_continues_a_multilabel_fit(tiny_model: str) -> None:
    estimator = small(tiny_model, warm_start=True).fit(TEXTS, Y)
    before = estimator.predict_proba(PROBE)
    estimator.fit(TEXTS, Y.tolist())
    assert estimator.n_iter_ == 2
    assert len(estimator.loss_curve_) == 2
    assert not np.array_equal(estimator.predict_proba(PROBE), before)


def test_single_label_fit_is_unchanged(tiny_model: str) -> None:
    estimator = small(tiny_model).fit(TEXTS, Y[:, 0])
    assert estimator.multilabel_ is False
    assert estimator.thresholds_ is None
    assert estimator.decision_function(PROBE).shape == (4,)
    np.testing.assert_allclose(estimator.predict_proba(PROBE).sum(axis=1), 1.0)


@pytest.mark.parametrize("threshold", [0.3, np.float64(0.7), "auto"])
def test_a_threshold_for_single_labels_points_to_tuned_threshold_cv(
    tiny_model: str, threshold
) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(f"threshold={threshold!r} applies to multi-label targets")
        + ".*TunedThresholdClassifierCV",
    ):
        small(tiny_model, threshold=threshold).fit(TEXTS, Y[:, 0])


def test_default_threshold_as_a_numpy_float_is_fine_for_single_labels(
    tiny_model: str,
) -> None:
    estimator = small(tiny_model, threshold=np.float64(0.5)).fit(TEXTS, Y[:, 0])
    assert estimator.predict(PROBE).shape == (4,)


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.1, "best", None])
def test_bad_threshold_values_are_named(tiny_model: str, threshold) -> None:
    with pytest.raises(
        InvalidParameterError, match="The 'threshold' parameter of BertTextClassifier"
    ):
        small(tiny_model, threshold=threshold).fit(TEXTS, Y)


def test_a_bad_threshold_set_after_fit_is_named_at_predict(fitted) -> None:
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(threshold=1.5)
    with pytest.raises(InvalidParameterError, match="'threshold' parameter"):
        estimator.predict(PROBE)


# --- sample and class weights ---------------------------------------------------------


def test_positive_weights_balanced_is_negatives_over_positives() -> None:
    targets = np.array([[1, 0, 1, 0], [0, 0, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1]])
    weights = _data.positive_weights("balanced", targets.astype(np.float32))
    # 1 of 4 positive: 3; none positive: 1; 3 of 4: 1/3; 2 of 4: 1.
    assert weights == pytest.approx((3.0, 1.0, 1 / 3, 1.0))
    assert all(type(w) is float for w in weights)


def test_positive_weights_from_a_dict_and_none() -> None:
    targets = np.zeros((4, 3), dtype=np.float32)
    assert _data.positive_weights(None, targets) is None
    assert _data.positive_weights({1: 3.0}, targets) == (1.0, 3.0, 1.0)
    assert _data.positive_weights({np.int64(0): 2, 2: 0.5}, targets) == (
        2.0,
        1.0,
        0.5,
    )


@pytest.mark.parametrize("key", [3, -1, "0", 1.0, "mood"])
def test_positive_weights_name_a_bad_column(key) -> None:
    with pytest.raises(
        ValueError,
        match=rf"class_weight key {key!r} is not a column of the multi-label y.*"
        "0 to 2",
    ):
        _data.positive_weights({key: 2.0}, np.zeros((4, 3)))


def test_bad_class_weight_key_is_named_by_fit(tiny_model: str) -> None:
    with pytest.raises(ValueError, match="class_weight key 'mood' is not a column"):
        small(tiny_model, class_weight={"mood": 2.0}).fit(TEXTS, Y)


@pytest.mark.parametrize(
    "class_weight, expected",
    [
        (None, None),
        ("balanced", (1.0, 1.0, 5 / 3)),
        ({2: 4.0}, (1.0, 1.0, 4.0)),
    ],
)
def test_class_weight_becomes_the_loss_pos_weight(
    tiny_model: str, train_calls, class_weight, expected
) -> None:
    small(tiny_model, class_weight=class_weight).fit(TEXTS, Y)
    ((_, config),) = train_calls
    assert config.loss.kind == "binary_cross_entropy"
    if expected is None:
        assert config.loss.pos_weight is None
    else:
        assert config.loss.pos_weight == pytest.approx(expected)


def test_binary_cross_entropy_matches_torch() -> None:
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]], dtype=torch.float64)
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    pos_weight = (2.0, 1.0, 0.5)
    loss = _engine.Loss("binary_cross_entropy", pos_weight)
    expected = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(pos_weight, dtype=torch.float64)
    )(logits, targets)
    got = loss(logits, targets, torch.ones(2, dtype=torch.float64))
    assert float(got) == pytest.approx(float(expected), rel=1e-12)
    # Per-sample weights weigh each text's mean over its labels.
    weighted = loss(logits, targets, torch.tensor([1.0, 0.0], dtype=torch.float64))
    first = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(pos_weight, dtype=torch.float64)
    )(logits[:1], targets[:1])
    assert float(weighted) == pytest.approx(float(first), rel=1e-12)


def test_class_weight_changes_the_fit(tiny_model: str, fitted) -> None:
    balanced = small(tiny_model, class_weight="balanced").fit(TEXTS, Y)
    ones = small(tiny_model, class_weight={0: 1.0, 1: 1.0, 2: 1.0}).fit(TEXTS, Y)
    reference = fitted.predict_proba(PROBE)
    assert not np.allclose(balanced.predict_proba(PROBE), reference)
    np.testing.assert_allclose(ones.predict_proba(PROBE), reference, atol=1e-5)


def test_sample_weight_reaches_the_multilabel_loss(
    tiny_model: str, fitted, train_calls
) -> None:
    weights = np.arange(16, dtype=np.float64) % 3
    weighted = small(tiny_model).fit(TEXTS, Y, sample_weight=weights)
    ((batches, _),) = train_calls
    np.testing.assert_array_equal(batches.weights.numpy(), weights)
    assert not np.allclose(weighted.predict_proba(PROBE), fitted.predict_proba(PROBE))
    uniform = small(tiny_model).fit(TEXTS, Y, sample_weight=np.full(16, 3.0))
    np.testing.assert_allclose(
        uniform.predict_proba(PROBE), fitted.predict_proba(PROBE), atol=1e-5
    )


def test_sample_weight_of_the_wrong_shape_is_named(tiny_model: str) -> None:
    with pytest.raises(
        ValueError, match=r"sample_weight has shape \(3,\); expected \(16,\)"
    ):
        small(tiny_model).fit(TEXTS, Y, sample_weight=[1.0, 2.0, 3.0])


def test_partial_fit_refuses_balanced_class_weight_for_multilabel(
    tiny_model: str,
) -> None:
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported"):
        small(tiny_model, class_weight="balanced").partial_fit(TEXTS, Y)


# --- early stopping -------------------------------------------------------------------


def test_early_stopping_on_the_validation_loss(tiny_model: str) -> None:
    estimator = learning(tiny_model, early_stopping=True, epochs=4)
    estimator.fit(TEXTS, Y, X_val=PROBE, y_val=PROBE_Y)
    assert len(estimator.validation_loss_curve_) == estimator.n_iter_
    np.testing.assert_allclose(
        estimator.validation_scores_, -np.asarray(estimator.validation_loss_curve_)
    )
    # The best epoch's weights are kept: its loss is that of the final model.
    logits = torch.as_tensor(estimator.decision_function(PROBE), dtype=torch.float64)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.as_tensor(PROBE_Y, dtype=torch.float64)
    )
    best = estimator.validation_loss_curve_[estimator.best_epoch_ - 1]
    assert best == pytest.approx(float(loss), rel=1e-5)
    assert estimator.best_validation_score_ == pytest.approx(-best)


def test_early_stopping_with_f1_macro(tiny_model: str) -> None:
    estimator = learning(
        tiny_model,
        early_stopping=True,
        scoring="f1_macro",
        validation_fraction=0.25,
        epochs=3,
        n_iter_no_change=5,
    ).fit(TEXTS, Y)
    scores = estimator.validation_scores_
    assert len(scores) == estimator.n_iter_ == 3
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert estimator.best_validation_score_ == max(scores)


def test_early_stopping_with_f1_macro_scores_the_tuned_thresholds(
    tiny_model: str,
) -> None:
    from sklearn.metrics import f1_score

    estimator = learning(
        tiny_model,
        early_stopping=True,
        scoring="f1_macro",
        threshold="auto",
        epochs=3,
        n_iter_no_change=5,
    ).fit(TEXTS, Y, X_val=PROBE, y_val=PROBE_Y)
    best = estimator.validation_scores_[estimator.best_epoch_ - 1]
    expected = f1_score(PROBE_Y, estimator.predict(PROBE), average="macro")
    assert best == pytest.approx(expected)


# --- thresholds -----------------------------------------------------------------------


def test_auto_thresholds_are_the_best_f1_on_x_val(tiny_model: str) -> None:
    estimator = small(tiny_model, threshold="auto").fit(
        TEXTS, Y, X_val=PROBE, y_val=PROBE_Y
    )
    proba = estimator.predict_proba(PROBE)
    assert estimator.thresholds_.shape == (3,)
    np.testing.assert_array_equal(
        estimator.thresholds_, best_f1_thresholds(proba, PROBE_Y, np.ones(4))
    )
    np.testing.assert_array_equal(
        estimator.predict(TEXTS),
        estimator.predict_proba(TEXTS) >= estimator.thresholds_,
    )


def test_auto_thresholds_follow_sample_weight_val(tiny_model: str) -> None:
    weights = np.array([1.0, 0.0, 2.0, 0.5])
    estimator = small(tiny_model, threshold="auto").fit(
        TEXTS, Y, X_val=PROBE, y_val=PROBE_Y, sample_weight_val=weights
    )
    np.testing.assert_array_equal(
        estimator.thresholds_,
        best_f1_thresholds(estimator.predict_proba(PROBE), PROBE_Y, weights),
    )


def test_x_val_trains_on_all_of_x(tiny_model: str, fitted) -> None:
    estimator = small(tiny_model, threshold="auto").fit(
        TEXTS, Y, X_val=PROBE, y_val=PROBE_Y
    )
    np.testing.assert_array_equal(
        estimator.predict_proba(PROBE), fitted.predict_proba(PROBE)
    )


def test_auto_holds_out_a_validation_fraction_it_does_not_train_on(
    tiny_model: str,
) -> None:
    estimator = small(tiny_model, threshold="auto", validation_fraction=0.25)
    estimator.fit(TEXTS, Y)
    train, held = _data.validation_split(Y.astype(np.float32), 0.25, 0, stratify=True)
    assert len(held) == 4
    texts = np.array(TEXTS, dtype=object)
    on_the_rest = small(tiny_model).fit(list(texts[train]), Y[train])
    np.testing.assert_array_equal(
        estimator.predict_proba(PROBE), on_the_rest.predict_proba(PROBE)
    )
    held_proba = estimator.predict_proba(list(texts[held]))
    np.testing.assert_array_equal(
        estimator.thresholds_, best_f1_thresholds(held_proba, Y[held], np.ones(4))
    )


def test_a_label_without_held_out_positives_keeps_half(tiny_model: str) -> None:
    y_val = PROBE_Y.copy()
    y_val[:, 2] = 0
    estimator = small(tiny_model, threshold="auto").fit(
        TEXTS, Y, X_val=PROBE, y_val=y_val
    )
    assert estimator.thresholds_[2] == 0.5
    assert estimator.thresholds_[0] != 0.5


def test_a_float_threshold_tunes_nothing(fitted) -> None:
    assert fitted.thresholds_ is None


def test_x_val_with_a_float_threshold_needs_early_stopping(tiny_model: str) -> None:
    with pytest.raises(
        ValueError,
        match="X_val and y_val are passed to fit while early_stopping=False",
    ):
        small(tiny_model, threshold=0.4).fit(TEXTS, Y, X_val=PROBE, y_val=PROBE_Y)


def test_switching_between_auto_and_a_float_needs_no_retraining(
    tiny_model: str,
) -> None:
    estimator = small(tiny_model, threshold="auto").fit(
        TEXTS, Y, X_val=PROBE, y_val=PROBE_Y
    )
    proba = estimator.predict_proba(TEXTS)
    tuned = estimator.predict(TEXTS)
    np.testing.assert_array_equal(tuned, proba >= estimator.thresholds_)
    estimator.set_params(threshold=0.3)
    np.testing.assert_array_equal(estimator.predict(TEXTS), proba >= 0.3)
    estimator.set_params(threshold="auto")
    np.testing.assert_array_equal(estimator.predict(TEXTS), tuned)
    np.testing.assert_array_equal(estimator.predict_proba(TEXTS), proba)


def test_auto_without_tuned_thresholds_asks_for_tune_thresholds(fitted) -> None:
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(threshold="auto")
    with pytest.raises(
        ValueError,
        match=r"threshold='auto', but no thresholds_ were tuned.*"
        r"tune_thresholds\(X_val, y_val\)",
    ):
        estimator.predict(PROBE)


def test_tune_thresholds_retunes_without_retraining(fitted) -> None:
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(threshold="auto")
    proba = estimator.predict_proba(PROBE)
    assert estimator.tune_thresholds(PROBE, PROBE_Y) is estimator
    np.testing.assert_array_equal(
        estimator.thresholds_, best_f1_thresholds(proba, PROBE_Y, np.ones(4))
    )
    np.testing.assert_array_equal(estimator.predict_proba(PROBE), proba)
    np.testing.assert_array_equal(
        estimator.predict(PROBE), proba >= estimator.thresholds_
    )
    weights = np.array([0.0, 1.0, 1.0, 3.0])
    estimator.tune_thresholds(PROBE, scipy.sparse.csr_matrix(PROBE_Y), weights)
    np.testing.assert_array_equal(
        estimator.thresholds_, best_f1_thresholds(proba, PROBE_Y, weights)
    )


def test_tune_thresholds_checks_its_arguments(tiny_model: str, fitted) -> None:
    with pytest.raises(NotFittedError):
        small(tiny_model).tune_thresholds(PROBE, PROBE_Y)
    single = small(tiny_model).fit(TEXTS, Y[:, 0])
    with pytest.raises(
        ValueError,
        match=r"tune_thresholds is for multi-label classifiers.*"
        r"TunedThresholdClassifierCV",
    ):
        single.tune_thresholds(PROBE, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="y is 1-D, but the fitted estimator is multi"):
        fitted.tune_thresholds(PROBE, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="X has 4 texts but y has 3 rows"):
        fitted.tune_thresholds(PROBE, PROBE_Y[:3])
    with pytest.raises(ValueError, match="with 2 columns, but the fitted estimator"):
        fitted.tune_thresholds(PROBE, PROBE_Y[:, :2])
    assert fitted.thresholds_ is None


# --- best_f1_thresholds ---------------------------------------------------------------


def weighted_f1(predicted: np.ndarray, positive: np.ndarray, weights: np.ndarray):
    true_positives = weights[predicted & positive].sum()
    total = weights[positive].sum() + weights[predicted].sum()
    return 2 * true_positives / total if total > 0 else 0.0


def brute_force_best_f1(scores, positive, weights) -> float:
    cuts = [*np.unique(scores), np.inf]  # every "score >= t" split, and none
    return max(weighted_f1(scores >= cut, positive, weights) for cut in cuts)


@pytest.mark.parametrize(
    "scores, positive, weights, expected",
    [
        # F1 at each cut: 2/3, 1/2, 4/5, 2/3: the third, between 0.7 and 0.6.
        ([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0], None, 0.65),
        # The tie at 0.8 is predicted together: never cut between them.
        ([0.8, 0.3, 0.8], [1, 0, 0], None, 0.55),
        # The lowest score predicted: halfway to 0.
        ([0.2, 0.6], [1, 1], None, 0.1),
        # No positives: 0.5.
        ([0.9, 0.1], [0, 0], None, 0.5),
        # Positives of weight 0 count as none.
        ([0.9, 0.1], [1, 0], [0.0, 1.0], 0.5),
        # A negative of weight 0 above the positive costs nothing.
        ([0.9, 0.5, 0.1], [0, 1, 0], [0.0, 1.0, 1.0], 0.3),
        # Weights move the best cut: the heavy positive at 0.4 is worth taking.
        ([0.9, 0.6, 0.4], [1, 0, 1], [1.0, 1.0, 5.0], 0.2),
        ([0.9, 0.6, 0.4], [1, 0, 1], [1.0, 5.0, 1.0], 0.75),
        # F1 2/3 at the first and the last cut: the higher threshold.
        ([0.9, 0.7, 0.5, 0.3], [1, 0, 0, 1], None, 0.8),
    ],
)
def test_best_f1_threshold_by_hand(scores, positive, weights, expected) -> None:
    scores = np.array(scores)
    positive = np.array(positive)
    weights = np.ones(len(scores)) if weights is None else np.array(weights)
    got = best_f1_thresholds(scores[:, None], positive[:, None], weights)
    assert got.shape == (1,)
    assert got[0] == pytest.approx(expected)


def test_best_f1_thresholds_treat_each_label_alone() -> None:
    rng = np.random.default_rng(0)
    proba = rng.random((30, 4))
    targets = (rng.random((30, 4)) < 0.4).astype(np.float32)
    targets[:, 3] = 0
    weights = rng.random(30)
    got = best_f1_thresholds(proba, targets, weights)
    assert got.shape == (4,)
    for j in range(4):
        alone = best_f1_thresholds(proba[:, [j]], targets[:, [j]], weights)
        assert got[j] == alone[0]
    assert got[3] == 0.5


GRID_SCORES = st.integers(0, 16).map(lambda i: i / 16)  # ties, exact midpoints


@st.composite
def labelled(draw, scores=GRID_SCORES):
    n = draw(st.integers(1, 12))
    values = np.array(draw(st.lists(scores, min_size=n, max_size=n)))
    positive = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    weights = np.array(
        draw(st.lists(st.integers(0, 3).map(float), min_size=n, max_size=n))
    )
    return values, positive, weights


def _check_best_f1(values, positive, weights) -> None:
    (threshold,) = best_f1_thresholds(values[:, None], positive[:, None], weights)
    if not weights[positive].sum() > 0:
        assert threshold == 0.5
        return
    assert 0.0 <= threshold <= 1.0
    got = weighted_f1(values >= threshold, positive, weights)
    assert got == pytest.approx(brute_force_best_f1(values, positive, weights))
    assert got > 0


@settings(max_examples=property_examples(200), deadline=None)
@given(labelled())
def test_best_f1_threshold_reaches_the_brute_force_maximum(case) -> None:
    values, positive, weights = case
    _check_best_f1(values, positive, weights)
    (threshold,) = best_f1_thresholds(values[:, None], positive[:, None], weights)
    if weights[positive].sum() > 0:
        # Halfway between two scores (or a score and 0): never on a score.
        assert threshold not in values or threshold == 0.0 == values.min()


@settings(max_examples=property_examples(200), deadline=None)
@given(labelled(st.floats(0.0, 1.0)))
def test_best_f1_threshold_on_any_probabilities(case) -> None:
    _check_best_f1(*case)


def test_best_f1_threshold_separates_neighbouring_floats() -> None:
    # Confident models give probabilities one ulp apart (sigmoid of logits above
    # ~20); the threshold must still set the higher one only.
    higher = np.nextafter(0.75, 1.0)
    scores = np.array([[higher], [0.75]])
    (threshold,) = best_f1_thresholds(scores, np.array([[1], [0]]), np.ones(2))
    np.testing.assert_array_equal(scores[:, 0] >= threshold, [True, False])


# --- partial_fit ----------------------------------------------------------------------


def test_partial_fit_takes_its_labels_from_the_columns(tiny_model: str) -> None:
    estimator = small(tiny_model)
    assert estimator.partial_fit(TEXTS[:8], Y[:8]) is estimator
    np.testing.assert_array_equal(estimator.classes_, [0, 1, 2])
    assert estimator.multilabel_ is True
    first = estimator.predict_proba(PROBE)
    estimator.partial_fit(TEXTS[8:], scipy.sparse.csr_matrix(Y[8:]))
    assert estimator.n_iter_ == 2
    assert estimator.predict(PROBE).shape == (4, 3)
    assert not np.array_equal(estimator.predict_proba(PROBE), first)


def test_partial_fit_accepts_classes_with_a_column_each(tiny_model: str) -> None:
    estimator = small(tiny_model).partial_fit(TEXTS, Y, classes=[0, 1, 2])
    np.testing.assert_array_equal(estimator.classes_, [0, 1, 2])
    with pytest.raises(
        ValueError,
        match="classes has 2 entries, but y is a multi-label indicator matrix with "
        "3 columns",
    ):
        small(tiny_model).partial_fit(TEXTS, Y, classes=[0, 1])


def test_partial_fit_refuses_classes_unlike_the_first_call(tiny_model: str) -> None:
    # As for single labels, classes that differ from classes_ are an error.
    estimator = small(tiny_model).partial_fit(TEXTS, Y)
    with pytest.raises(
        ValueError,
        match=r"classes=\[0, 1, 2, 3\] is not the same as classes_=\[0, 1, 2\]",
    ):
        estimator.partial_fit(TEXTS, Y, classes=[0, 1, 2, 3])


def test_partial_fit_refuses_a_change_of_kind(tiny_model: str) -> None:
    multi = small(tiny_model).partial_fit(TEXTS, Y)
    with pytest.raises(ValueError, match="y is 1-D, but the fitted estimator is multi"):
        multi.partial_fit(TEXTS, Y[:, 0])
    with pytest.raises(ValueError, match="with 2 columns, but the fitted estimator"):
        multi.partial_fit(TEXTS, Y[:, :2])
    single = small(tiny_model).partial_fit(TEXTS, Y[:, 0], classes=[0, 1])
    with pytest.raises(
        ValueError,
        match=r"y is a multi-label indicator matrix with 3 columns, but the fitted "
        r"estimator is single-label, with classes \[0, 1\]",
    ):
        single.partial_fit(TEXTS, Y)
    assert multi.n_iter_ == single.n_iter_ == 1


def test_partial_fit_with_auto_needs_tune_thresholds(tiny_model: str) -> None:
    estimator = small(tiny_model, threshold="auto").partial_fit(TEXTS, Y)
    assert estimator.thresholds_ is None
    with pytest.raises(ValueError, match="partial_fit holds out no data"):
        estimator.predict(PROBE)
    estimator.tune_thresholds(PROBE, PROBE_Y)
    np.testing.assert_array_equal(
        estimator.predict(PROBE),
        estimator.predict_proba(PROBE) >= estimator.thresholds_,
    )


# --- persistence ----------------------------------------------------------------------


THRESHOLD_CASES = {
    "auto": {"threshold": "auto"},
    "float": {"threshold": 0.3},
    "np-float64": {"threshold": np.float64(0.3)},
    "class-weight": {"class_weight": {np.int64(1): 2.5}, "threshold": 0.7},
}


@pytest.mark.parametrize("how", ["save", "pickle", "joblib"])
@pytest.mark.parametrize("case", THRESHOLD_CASES, ids=list(THRESHOLD_CASES))
def test_multilabel_round_trips(tiny_model: str, tmp_path, case: str, how: str) -> None:
    estimator = small(tiny_model, **THRESHOLD_CASES[case])
    estimator.fit(
        TEXTS, Y, **({"X_val": PROBE, "y_val": PROBE_Y} if case == "auto" else {})
    )
    loaded = round_trip(estimator, how, tmp_path)
    assert type(loaded) is BertTextClassifier
    params, loaded_params = estimator.get_params(), loaded.get_params()
    assert loaded_params == params
    for name, value in params.items():
        assert type(loaded_params[name]) is type(value), name
    assert loaded.multilabel_ is True
    np.testing.assert_array_equal(loaded.classes_, estimator.classes_)
    if estimator.thresholds_ is None:
        assert loaded.thresholds_ is None
    else:
        assert loaded.thresholds_.dtype == estimator.thresholds_.dtype
        np.testing.assert_array_equal(loaded.thresholds_, estimator.thresholds_)
    np.testing.assert_array_equal(loaded.predict(PROBE), estimator.predict(PROBE))
    np.testing.assert_array_equal(
        loaded.predict_proba(PROBE), estimator.predict_proba(PROBE)
    )
    assert loaded.score(PROBE, PROBE_Y) == estimator.score(PROBE, PROBE_Y)


def test_a_loaded_model_retunes_its_thresholds(tiny_model: str, tmp_path) -> None:
    estimator = small(tiny_model, threshold="auto").fit(
        TEXTS, Y, X_val=PROBE, y_val=PROBE_Y
    )
    estimator.save(tmp_path / "saved")
    loaded = skbert.load(tmp_path / "saved")
    loaded.tune_thresholds(TEXTS, Y)
    expected = best_f1_thresholds(estimator.predict_proba(TEXTS), Y, np.ones(16))
    np.testing.assert_array_equal(loaded.thresholds_, expected)


# --- the held-out split of a multi-label y -----------------------------------


def _label_matrix(seed, n=2_000):
    rng = np.random.default_rng(seed)
    prevalence = np.r_[0.3, 0.05, 0.01, 0.0025, 0.001, 0.0]
    return (rng.random((n, prevalence.size)) < prevalence).astype(np.int64)


@pytest.mark.parametrize("seed", range(5))
def test_multilabel_split_holds_out_every_label_with_two_positives(seed):
    from skbert._data import multilabel_split

    y = _label_matrix(seed)
    train, held = multilabel_split(y, 0.1, seed)
    assert np.array_equal(np.sort(np.r_[train, held]), np.arange(len(y)))
    assert len(held) == 200  # ceil(0.1 * n), as train_test_split
    positives, held_positives = y.sum(axis=0), y[held].sum(axis=0)
    assert np.all(held_positives[positives >= 2] >= 1)
    assert np.all(y[train].sum(axis=0)[positives >= 2] >= 1)
    # common labels are held out in proportion (within 2 rows of 10%)
    assert abs(held_positives[0] - 0.1 * positives[0]) <= 2
    again = multilabel_split(y, 0.1, seed)
    assert np.array_equal(again[1], held)  # seeded


def test_a_random_split_would_often_hold_out_no_positive_of_a_rare_label():
    """Why the split is stratified: the same matrices split at random lose the
    held-out positives of a rare label (what made thresholds fall back to 0.5)."""
    from sklearn.model_selection import train_test_split

    misses = 0
    for seed in range(5):
        y = _label_matrix(seed)
        rare = np.flatnonzero((y.sum(axis=0) >= 2) & (y.sum(axis=0) <= 6))
        _, held = train_test_split(np.arange(len(y)), test_size=0.1, random_state=seed)
        misses += int(np.any(y[held][:, rare].sum(axis=0) == 0))
    assert misses >= 2


def test_threshold_auto_tunes_on_a_held_out_positive_of_a_rare_label(tiny_model):
    """A label with two positives among 40 texts gets one held out (10%: 4
    texts), so its threshold is tuned, not the 0.5 fallback."""
    texts = [f"text number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(40)]
    y = np.zeros((40, 2), dtype=np.int64)
    y[::2, 0] = 1
    y[[5, 17], 1] = 1
    clf = BertTextClassifier(
        tiny_model, epochs=1, threshold="auto", random_state=0, batch_size=8
    ).fit(texts, y)
    assert clf.thresholds_.shape == (2,)
    assert clf.thresholds_[1] != 0.5


def test_balanced_positive_weights_count_only_the_rows_trained_on(
    tiny_model: str, monkeypatch
) -> None:
    """The held-out rows of threshold='auto' are not trained on, so they do not
    count in class_weight='balanced' either."""
    seen = []
    original = _engine.train

    def spy(model, batches, config, *args, **kwargs):
        seen.append(config.loss.pos_weight)
        return original(model, batches, config, *args, **kwargs)

    monkeypatch.setattr(_engine, "train", spy)
    estimator = small(
        tiny_model, threshold="auto", validation_fraction=0.25, class_weight="balanced"
    )
    estimator.fit(TEXTS, Y)
    train, _ = _data.validation_split(Y.astype(np.float32), 0.25, 0, stratify=True)
    expected = _data.positive_weights("balanced", Y[train])
    assert seen == [pytest.approx(expected)]
    assert expected != pytest.approx(_data.positive_weights("balanced", Y))
