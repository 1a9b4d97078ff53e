"""The scikit-learn contract of BertTextClassifier, checked on the tiny test model.

``__sklearn_tags__`` declares string input, so ``parametrize_with_checks`` skips the
estimator; the data-independent checks are called directly and the data-dependent
ones are rewritten here with text data.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import random
from collections.abc import Iterator

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks

from conftest import WORDS
from skbert import BertTextClassifier, BertTextRegressor, _data
from skbert.exceptions import ModelLengthWarning

POSITIVE = ["good", "great", "fine", "nice", "love", "best", "fun", "wonderful"]
NEGATIVE = ["bad", "awful", "poor", "hate", "worst", "boring", "terrible", "dull"]
TOPICS = [w for w in WORDS if w not in POSITIVE + NEGATIVE]

TEXTS = ["good film", "bad film", "great plot", "awful plot"] * 4
LABELS = ["pos", "neg", "pos", "neg"] * 4


def make_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` short texts of varying length from conftest's WORDS, labelled by mood."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        mood = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        topic = rng.choice(TOPICS, size=int(rng.integers(1, 8))).tolist()
        topic.insert(int(rng.integers(0, len(topic) + 1)), str(mood))
        texts.append(" ".join(topic))
        labels.append(label)
    return texts, labels


def small(model: str, **params: object) -> BertTextClassifier:
    settings: dict = {"epochs": 1, "batch_size": 8, "random_state": 0, "min_steps": 0}
    settings.update(params)
    return BertTextClassifier(model, **settings)


@pytest.fixture(scope="module")
def fitted(tiny_model: str) -> BertTextClassifier:
    """A binary classifier with string labels, fitted once for this module."""
    texts, labels = make_texts(24)
    return small(tiny_model, batch_size=4, epochs=2).fit(texts, labels)


# --- scikit-learn's own data-independent checks -----------------------------------

CHECKS = [
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_mixin_order,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_estimator_cloneable,
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize("estimator_class", [BertTextClassifier, BertTextRegressor])
@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_sklearn_check(check, estimator_class, tiny_model: str) -> None:
    estimator = estimator_class(tiny_model, epochs=1, batch_size=8, random_state=0)
    check(type(estimator).__name__, estimator)


def test_fit_does_not_change_params(tiny_model: str) -> None:
    # check_estimators_overwrite_params, with text instead of blobs.
    estimator = small(tiny_model, max_length=16, max_grad_norm=0.5)
    before = estimator.get_params()
    hashes = {name: joblib.hash(value) for name, value in before.items()}
    texts, labels = list(TEXTS), list(LABELS)
    estimator.fit(texts, labels)
    after = estimator.get_params()
    assert after.keys() == before.keys()
    for name, value in after.items():
        assert joblib.hash(value) == hashes[name], name
        assert value == before[name], name
    assert texts == TEXTS
    assert labels == LABELS


# --- construction, tags, fitted state ---------------------------------------------


def test_init_stores_arguments_unchanged_and_validates_nothing() -> None:
    estimator = BertTextClassifier(
        "./no/such/model", epochs=-3, learning_rate="fast", device="tpu"
    )
    assert estimator.model_name_or_path == "./no/such/model"
    assert estimator.epochs == -3
    assert estimator.learning_rate == "fast"
    assert estimator.device == "tpu"
    assert not [name for name in vars(estimator) if name.endswith("_")]


def test_arguments_after_the_first_are_keyword_only() -> None:
    parameters = list(inspect.signature(BertTextClassifier).parameters.values())
    assert parameters[0].name == "model_name_or_path"
    assert parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert parameters[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[1:])
    with pytest.raises(TypeError):
        BertTextClassifier("model", 64)


def test_fit_returns_self(tiny_model: str) -> None:
    estimator = small(tiny_model)
    assert estimator.fit(TEXTS, LABELS) is estimator


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "decision_function", "score"]
)
def test_unfitted_estimator_raises_not_fitted(tiny_model: str, method: str) -> None:
    estimator = small(tiny_model)
    args = (TEXTS, LABELS) if method == "score" else (TEXTS,)
    with pytest.raises(NotFittedError, match="BertTextClassifier"):
        getattr(estimator, method)(*args)


def test_tags_declare_one_dimensional_string_input() -> None:
    tags = BertTextClassifier().__sklearn_tags__()
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert tags.estimator_type == "classifier"


def test_clone_of_fitted_estimator_is_unfitted_with_equal_params(
    fitted: BertTextClassifier,
) -> None:
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_")
    with pytest.raises(NotFittedError):
        copy.predict_proba(["good film"])
    assert fitted.predict_proba(["good film"]).shape == (1, 2)


def test_fitted_attributes(fitted: BertTextClassifier) -> None:
    assert list(fitted.classes_) == ["neg", "pos"]
    assert fitted.model_.training is False
    assert fitted.model_.config.num_labels == 2
    assert fitted.tokenizer_.cls_token_id is not None
    assert isinstance(fitted.device_, torch.device)
    assert fitted.device_.type == "cpu"
    assert fitted.n_iter_ == fitted.epochs == 2
    assert len(fitted.loss_curve_) == fitted.epochs
    assert all(isinstance(v, float) and math.isfinite(v) for v in fitted.loss_curve_)
    assert fitted.max_length_ == fitted.max_length == 128


def _documented(section: str) -> set[str]:
    """Names documented in a numpydoc ``section`` of the class docstring."""
    doc = inspect.getdoc(BertTextClassifier)
    body = doc.split(f"{section}\n{'-' * len(section)}\n", 1)[1]
    body = body.split("\n\n", 1)[0]
    return {line.split(" : ")[0] for line in body.splitlines() if " : " in line}


def test_every_parameter_is_documented() -> None:
    signature = inspect.signature(BertTextClassifier)
    assert _documented("Parameters") == set(signature.parameters)


def test_every_fitted_attribute_is_documented(fitted: BertTextClassifier) -> None:
    public = {name for name in vars(fitted) if name.endswith("_")}
    assert _documented("Attributes") == public


# --- labels and outputs ------------------------------------------------------------

LABEL_CASES = {
    "str": (["pos", "neg"], "U"),
    "int": ([7, -2], "i"),
    "bool": ([True, False], "b"),
    "str-3": (["b", "c", "a"], "U"),
    "int-4": ([3, 1, 0, 2], "i"),
}


@pytest.mark.parametrize("case", LABEL_CASES, ids=list(LABEL_CASES))
def test_labels_and_outputs(tiny_model: str, case: str) -> None:
    values, kind = LABEL_CASES[case]
    texts, _ = make_texts(16, seed=1)
    labels = [values[i % len(values)] for i in range(len(texts))]
    estimator = small(tiny_model, batch_size=4).fit(texts, labels)

    classes = estimator.classes_
    assert list(classes) == sorted(values)
    assert classes.dtype.kind == kind
    predictions = estimator.predict(texts)
    assert predictions.shape == (len(texts),)
    assert predictions.dtype.kind == kind
    assert set(predictions.tolist()) <= set(values)

    proba = estimator.predict_proba(texts)
    assert proba.shape == (len(texts), len(values))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_array_equal(classes[proba.argmax(axis=1)], predictions)

    scores = estimator.decision_function(texts)
    if len(values) == 2:
        assert scores.shape == (len(texts),)
        np.testing.assert_array_equal(classes[(scores > 0).astype(int)], predictions)
        np.testing.assert_allclose(1 / (1 + np.exp(-scores)), proba[:, 1], rtol=1e-5)
    else:
        assert scores.shape == (len(texts), len(values))
        np.testing.assert_array_equal(classes[scores.argmax(axis=1)], predictions)
    assert estimator.score(texts, labels) == accuracy_score(labels, predictions)


def test_labels_from_pandas_keep_their_values(tiny_model: str) -> None:
    labels = pd.Series(LABELS, index=np.arange(len(LABELS))[::-1], dtype=object)
    estimator = small(tiny_model).fit(pd.Series(TEXTS, index=labels.index), labels)
    assert list(estimator.classes_) == ["neg", "pos"]
    assert set(estimator.predict(TEXTS)) <= {"neg", "pos"}


def test_predictions_follow_input_order(fitted: BertTextClassifier) -> None:
    # Inference sorts texts by length into batches; rows must come back in order.
    texts, _ = make_texts(21, seed=3)
    together = fitted.predict_proba(texts)
    one_by_one = np.vstack([fitted.predict_proba([text]) for text in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


# --- input containers --------------------------------------------------------------


def _generator(texts: list[str]) -> Iterator[str]:
    yield from texts


CONTAINERS = {
    "list": list,
    "tuple": tuple,
    "ndarray-U": lambda t: np.array(t),
    "ndarray-object": lambda t: np.array(t, dtype=object),
    "series": lambda t: pd.Series(t, index=np.arange(100, 100 + len(t))),
    "generator": _generator,
}


@pytest.mark.parametrize("container", CONTAINERS, ids=list(CONTAINERS))
def test_x_containers_give_the_same_predictions(
    fitted: BertTextClassifier, container: str
) -> None:
    texts, _ = make_texts(10, seed=4)
    expected = fitted.predict_proba(texts)
    np.testing.assert_array_equal(
        fitted.predict_proba(CONTAINERS[container](texts)), expected
    )


@pytest.fixture(scope="module")
def reference_proba(tiny_model: str) -> np.ndarray:
    return small(tiny_model).fit(TEXTS, LABELS).predict_proba(TEXTS)


@pytest.mark.parametrize("container", CONTAINERS, ids=list(CONTAINERS))
def test_x_containers_give_the_same_fit(
    tiny_model: str, reference_proba: np.ndarray, container: str
) -> None:
    estimator = small(tiny_model).fit(CONTAINERS[container](TEXTS), LABELS)
    np.testing.assert_array_equal(estimator.predict_proba(TEXTS), reference_proba)


# --- composition with scikit-learn -------------------------------------------------


def _clean(texts: object) -> list[str]:
    return [" ".join(str(text).lower().split()) for text in texts]


def test_pipeline_with_text_cleaning(tiny_model: str) -> None:
    pipeline = make_pipeline(
        FunctionTransformer(_clean, validate=False), small(tiny_model)
    )
    messy = [f"  {text.upper()}\t" for text in TEXTS]
    pipeline.fit(messy, LABELS)
    direct = small(tiny_model).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(
        pipeline.predict_proba(messy), direct.predict_proba(TEXTS)
    )
    assert 0.0 <= pipeline.score(messy, LABELS) <= 1.0


def test_grid_search_over_pipeline(tiny_model: str) -> None:
    texts, labels = make_texts(40, seed=5)
    pipeline = make_pipeline(
        FunctionTransformer(_clean, validate=False), small(tiny_model)
    )
    grid = {
        "berttextclassifier__learning_rate": [1e-4, 1e-3],
        "berttextclassifier__epochs": [1, 2],
    }
    search = GridSearchCV(pipeline, grid, cv=2, error_score="raise").fit(texts, labels)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_ in search.cv_results_["params"]
    for name, value in search.best_params_.items():
        assert value in grid[name]
    best = search.best_estimator_[-1]
    assert (
        best.learning_rate == search.best_params_["berttextclassifier__learning_rate"]
    )
    assert best.n_iter_ == search.best_params_["berttextclassifier__epochs"]
    assert set(search.predict(texts[:5])) <= {"neg", "pos"}


@pytest.mark.parametrize("cv", [2, 3])
def test_cross_val_score(tiny_model: str, cv: int) -> None:
    texts, labels = make_texts(24, seed=6)
    scores = cross_val_score(
        small(tiny_model), np.array(texts), labels, cv=cv, error_score="raise"
    )
    assert scores.shape == (cv,)
    assert np.all(np.isfinite(scores))
    assert np.all((scores >= 0) & (scores <= 1))


# --- randomness ----------------------------------------------------------------------


def test_same_random_state_gives_identical_predictions(tiny_model: str) -> None:
    texts, labels = make_texts(16, seed=7)
    first = small(tiny_model, random_state=3, batch_size=4).fit(texts, labels)
    second = small(tiny_model, random_state=3, batch_size=4).fit(texts, labels)
    np.testing.assert_array_equal(
        first.predict_proba(texts), second.predict_proba(texts)
    )
    assert first.loss_curve_ == second.loss_curve_


def test_different_random_states_give_different_models(tiny_model: str) -> None:
    first = small(tiny_model, random_state=1).fit(TEXTS, LABELS)
    second = small(tiny_model, random_state=2).fit(TEXTS, LABELS)
    assert not np.array_equal(first.predict_proba(TEXTS), second.predict_proba(TEXTS))


def test_random_state_instance_is_reproducible(tiny_model: str) -> None:
    first = small(tiny_model, random_state=np.random.RandomState(5)).fit(TEXTS, LABELS)
    second = small(tiny_model, random_state=np.random.RandomState(5)).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(
        first.predict_proba(TEXTS), second.predict_proba(TEXTS)
    )


@pytest.mark.parametrize("random_state", [0, None])
def test_global_random_state_is_untouched(tiny_model: str, random_state) -> None:
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    torch_state = torch.get_rng_state()

    estimator = small(tiny_model, random_state=random_state).fit(TEXTS, LABELS)
    estimator.predict_proba(TEXTS)

    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)


# --- output and logging --------------------------------------------------------------


@contextlib.contextmanager
def transformers_logs_to(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """transformers' logger does not propagate, so hook caplog onto it directly.

    caplog's handler changes between setup and call, so this runs in the test body.
    """
    logger = logging.getLogger("transformers")
    logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        logger.removeHandler(caplog.handler)


def test_quiet_by_default(
    tiny_model: str, capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    # Three classes force a resized head, which transformers reports at WARNING.
    labels = ["a", "b", "c", "a"] * 4
    with transformers_logs_to(caplog):
        estimator = small(tiny_model, verbose=0).fit(TEXTS, labels)
        estimator.predict_proba(TEXTS)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_verbose_prints_one_summary_per_epoch(
    tiny_model: str, capfd: pytest.CaptureFixture
) -> None:
    small(tiny_model, epochs=2, verbose=1).fit(TEXTS, LABELS)
    out, _ = capfd.readouterr()
    summaries = [line for line in out.splitlines() if line.startswith("Epoch ")]
    assert len(summaries) == 2
    assert summaries[0].startswith("Epoch 1/2: loss ")
    assert summaries[1].startswith("Epoch 2/2: loss ")


# --- tokenisation, learning, other models, length ----------------------------------


def test_special_token_strings_in_text_are_plain_text(
    fitted: BertTextClassifier,
) -> None:
    tokenizer = fitted.tokenizer_
    ids = _data.tokenize(tokenizer, ["good [SEP] film [CLS] [PAD]"], 128)[0].tolist()
    assert ids[0] == tokenizer.cls_token_id
    assert ids[-1] == tokenizer.sep_token_id
    assert ids.count(tokenizer.cls_token_id) == 1
    assert ids.count(tokenizer.sep_token_id) == 1
    assert tokenizer.pad_token_id not in ids
    # "[SEP]" is read as the characters "[", "sep", "]".
    np.testing.assert_array_equal(
        fitted.predict_proba(["good [SEP] film"]),
        fitted.predict_proba(["good [ sep ] film"]),
    )


def test_engine_learns_a_separable_task(tiny_model: str) -> None:
    texts = [
        "good film",
        "bad film",
        "great plot",
        "awful plot",
        "the movie was good",
        "the movie was awful",
        "great story",
        "bad story",
    ] * 2
    labels = ["pos", "neg"] * 8
    # The tiny model starts from random weights, so it needs a high rate.
    estimator = small(tiny_model, learning_rate=1e-2, epochs=10, contrastive=False)
    estimator.fit(texts, labels)
    assert estimator.score(texts, labels) == 1.0
    assert estimator.loss_curve_[-1] < 0.5 * estimator.loss_curve_[0]


def test_distilbert_checkpoint(tiny_distilbert: str) -> None:
    estimator = small(tiny_distilbert, batch_size=4).fit(TEXTS, LABELS)
    assert type(estimator.model_).__name__ == "DistilBertForSequenceClassification"
    assert estimator.predict_proba(TEXTS).shape == (len(TEXTS), 2)
    assert set(estimator.predict(TEXTS)) <= {"neg", "pos"}


def test_max_length_above_model_limit_warns_and_caps(tiny_model: str) -> None:
    estimator = small(tiny_model, max_length=512)
    with pytest.warns(
        ModelLengthWarning, match=r"max_length=512 .* limit of 128"
    ) as record:
        estimator.fit(TEXTS, LABELS)
    assert record[0].filename == __file__  # regression: it pointed inside skbert
    assert estimator.max_length_ == 128
    assert estimator.max_length == 512
    long_text = " ".join(["good"] * 300)
    assert estimator.predict([long_text]).shape == (1,)


def test_max_length_truncates(tiny_model: str) -> None:
    estimator = small(tiny_model, max_length=4).fit(TEXTS, LABELS)
    assert estimator.max_length_ == 4
    ids = _data.tokenize(estimator.tokenizer_, ["the movie was good and fun"], 4)[0]
    assert len(ids) == 4
    # Only the first two words survive truncation, so the tails do not matter.
    np.testing.assert_array_equal(
        estimator.predict_proba(["the movie was good"]),
        estimator.predict_proba(["the movie was bad"]),
    )
