"""Text pairs ``(text, text_pair)`` as X, for the classifier and the regressor.

A pair is encoded as one sequence with segment ids, as transformers'
``tokenizer(text, text_pair)`` does, so a saved pair model works in a transformers
pipeline called with ``{"text": ..., "text_pair": ...}``. Everything runs on
conftest's tiny random BERT (a new random one each session).
"""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, cross_val_score

import skbert
from conftest import WORDS
from skbert import BertTextClassifier, BertTextRegressor, _data

POSITIVE = ["good", "great", "fine", "nice", "love", "best", "fun", "wonderful"]
NEGATIVE = ["bad", "awful", "poor", "hate", "worst", "boring", "terrible", "dull"]
MOODS = {*POSITIVE, *NEGATIVE, "loved", "hated", "excellent", "happy", "sad"}
TOPICS = [word for word in WORDS if word not in MOODS]


def make_pairs(n: int, seed: int = 0) -> tuple[list[tuple[str, str]], list[str]]:
    """``n`` pairs of a topic text and a text with a mood word, labelled by mood."""
    rng = np.random.default_rng(seed)
    pairs, labels = [], []
    for i in range(n):
        mood = str(rng.choice(POSITIVE if i % 2 == 0 else NEGATIVE))
        first = " ".join(rng.choice(TOPICS, size=int(rng.integers(1, 5))))
        second = " ".join([*rng.choice(TOPICS, size=int(rng.integers(0, 3))), mood])
        pairs.append((first, second))
        labels.append("pos" if i % 2 == 0 else "neg")
    return pairs, labels


PAIRS, LABELS = make_pairs(24)
SCORES = np.array([1.0 if label == "pos" else 0.0 for label in LABELS])
PROBE = [("the film", "good"), ("the film", "bad"), ("a story", "it was dull")]


def small(model: str, cls: type = BertTextClassifier, **params: object):
    settings: dict = {
        "epochs": 2,
        "batch_size": 8,
        "learning_rate": 1e-2,
        "random_state": 0,
        "min_steps": 0,
    }
    settings.update(params)
    return cls(model, **settings)


@pytest.fixture(scope="module")
def fitted(tiny_model: str) -> BertTextClassifier:
    """A pair classifier that fits its training pairs (accuracy 1.0)."""
    return small(tiny_model, epochs=10).fit(PAIRS, LABELS)


@pytest.fixture(scope="module")
def tokenizer(tiny_model: str):
    return skbert._hub.load_tokenizer(tiny_model, True)


# --- containers ------------------------------------------------------------------


CONTAINERS = {
    "list-of-tuples": list,
    "list-of-lists": lambda pairs: [list(pair) for pair in pairs],
    "tuple-of-tuples": tuple,
    "ndarray-object": lambda pairs: np.array(pairs, dtype=object),
    "ndarray-U": np.array,
    "dataframe": lambda pairs: pd.DataFrame(
        pairs, columns=["question", "answer"], index=np.arange(len(pairs))[::-1]
    ),
}


def test_ndarray_of_str_really_is_unicode() -> None:
    assert CONTAINERS["ndarray-U"](PAIRS).dtype.kind == "U"
    assert CONTAINERS["ndarray-U"](PAIRS).shape == (24, 2)


@pytest.fixture(scope="module")
def reference_proba(tiny_model: str) -> np.ndarray:
    return small(tiny_model).fit(PAIRS, LABELS).predict_proba(PAIRS)


@pytest.mark.parametrize("container", CONTAINERS, ids=list(CONTAINERS))
def test_pair_containers_give_the_same_fit(
    tiny_model: str, reference_proba: np.ndarray, container: str
) -> None:
    convert = CONTAINERS[container]
    estimator = small(tiny_model).fit(convert(PAIRS), LABELS)
    np.testing.assert_array_equal(estimator.predict_proba(PAIRS), reference_proba)
    np.testing.assert_array_equal(
        estimator.predict_proba(convert(PAIRS)), reference_proba
    )


def test_check_inputs_returns_tuples_of_str() -> None:
    frame = pd.DataFrame({"a": ["x y", "z"], "b": pd.array(["u", "v"], "string")})
    for pairs in (frame, np.array([["x y", "u"], ["z", "v"]])):
        checked = _data.check_inputs(pairs)
        assert checked == [("x y", "u"), ("z", "v")]
        assert all(type(text) is str for pair in checked for text in pair)


# --- encoding ----------------------------------------------------------------------


def test_a_pair_is_one_sequence_with_segment_ids(tokenizer) -> None:
    encoded = _data.tokenize(tokenizer, [("a b", "c")], 128)
    expected = tokenizer("a b", "c")
    np.testing.assert_array_equal(encoded[0], expected["input_ids"])
    assert encoded.type_ids is not None
    np.testing.assert_array_equal(encoded.type_ids[0], expected["token_type_ids"])
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    a, b, c = tokenizer.convert_tokens_to_ids(["a", "b", "c"])
    assert encoded[0].tolist() == [cls, a, b, sep, c, sep]
    assert encoded.type_ids[0].tolist() == [0, 0, 0, 0, 1, 1]


def test_single_texts_have_no_segment_ids(tokenizer) -> None:
    encoded = _data.tokenize(tokenizer, ["a b c"], 128)
    assert encoded.type_ids is None
    np.testing.assert_array_equal(encoded[0], tokenizer("a b c")["input_ids"])


def test_many_pairs_encode_each_as_transformers_does(tokenizer) -> None:
    encoded = _data.tokenize(tokenizer, PAIRS, 128)
    assert len(encoded) == len(PAIRS)
    for index, (text, text_pair) in enumerate(PAIRS):
        expected = tokenizer(text, text_pair)
        np.testing.assert_array_equal(encoded[index], expected["input_ids"])
        np.testing.assert_array_equal(
            encoded.type_ids[index], expected["token_type_ids"]
        )


LONG = " ".join(["the movie was good and the plot was fun"] * 4)
SHORT = "a dull story"


@pytest.mark.parametrize("long_first", [True, False], ids=["long-first", "long-second"])
@pytest.mark.parametrize("max_length", [12, 16, 25])
def test_truncation_shortens_the_longer_text_first(
    tokenizer, long_first: bool, max_length: int
) -> None:
    pair = (LONG, SHORT) if long_first else (SHORT, LONG)
    encoded = _data.tokenize(tokenizer, [pair], max_length)
    expected = tokenizer(*pair, truncation="longest_first", max_length=max_length)
    assert len(encoded[0]) == max_length
    np.testing.assert_array_equal(encoded[0], expected["input_ids"])
    np.testing.assert_array_equal(encoded.type_ids[0], expected["token_type_ids"])
    # The short text survives whole; only the long one lost tokens.
    short = tokenizer(SHORT, add_special_tokens=False)["input_ids"]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    segments = encoded.type_ids[0]
    if long_first:
        assert encoded[0][segments == 1].tolist() == [*short, sep]
    else:
        assert encoded[0][segments == 0].tolist() == [cls, *short, sep]
    long_ids = [t for t in encoded[0].tolist() if t not in (cls, sep, *short)]
    assert len(long_ids) == max_length - len(short) - 3  # [CLS] and two [SEP]
    assert len(long_ids) < len(tokenizer(LONG, add_special_tokens=False)["input_ids"])


def test_swapping_the_texts_changes_the_encoding(tokenizer, fitted) -> None:
    forward, backward = _data.tokenize(
        tokenizer, [("good film", "bad"), ("bad", "good film")], 128
    ).type_ids
    assert forward.tolist() == [0, 0, 0, 0, 1, 1]
    assert backward.tolist() == [0, 0, 0, 1, 1, 1]
    # Probabilities can saturate; the logits of different inputs always differ.
    margins = fitted.decision_function([("the film", "good"), ("good", "the film")])
    assert margins[0] != margins[1]


def test_segment_ids_reach_the_model(tokenizer) -> None:
    encoded = _data.tokenize(tokenizer, [("a b", "c"), ("a", "b c d")], 128)
    batch = _data.collate(encoded.ids, np.array([0, 1]), 0, encoded.type_ids)
    assert batch["token_type_ids"].tolist() == [
        [0, 0, 0, 0, 1, 1, 0],
        [0, 0, 0, 1, 1, 1, 1],
    ]
    assert batch["attention_mask"].tolist() == [
        [1, 1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1, 1],
    ]


def test_a_pair_is_not_its_texts_joined(tokenizer, fitted) -> None:
    pair = _data.tokenize(tokenizer, [("the film", "good")], 128)
    joined = _data.tokenize(tokenizer, ["the film good"], 128)
    cls, the, film, good, sep = joined[0].tolist()
    assert pair[0].tolist() == [cls, the, film, sep, good, sep]
    assert joined.type_ids is None
    pair_margin = fitted.decision_function([("the film", "good")])[0]
    assert pair_margin != fitted.decision_function(["the film good"])[0]


def test_the_second_text_is_used(fitted) -> None:
    margins = fitted.decision_function([("the film", "good"), ("the film", "bad")])
    assert margins[0] != margins[1]


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "error", "message"),
    [
        (
            [("a", "b"), ("c", "d"), "e"],
            TypeError,
            r"Item 2 of X is a str, but item 0 is a text pair; X must hold only "
            r"texts or only text pairs",
        ),
        (
            ["a", "b", ("c", "d")],
            TypeError,
            r"Item 2 of X is a tuple \(a text pair\?\) but item 0 is a single text",
        ),
        (
            np.array([["a", "b", "c"]] * 4),
            ValueError,
            r"got an array of shape \(4, 3\)\. Pass one text per sample",
        ),
        (
            pd.DataFrame({"x": ["a"] * 4, "y": ["b"] * 4, "z": ["c"] * 4}),
            ValueError,
            r"got an array of shape \(4, 3\)",
        ),
        (
            pd.DataFrame({"x": ["a"] * 4}),
            ValueError,
            r"Expected a 1-D sequence of strings for X \(or two columns of text "
            r"pairs\), got an array of shape \(4, 1\)",
        ),
        (
            [("a", "b"), ("c", None)],
            TypeError,
            r"Item 1 of X \(second text\) is None; every item must be a string",
        ),
        (
            [("a", "b"), ("c", "d"), ("e", float("nan"))],
            TypeError,
            r"Item 2 of X \(second text\) is NaN \(a missing value\)",
        ),
        (
            pd.DataFrame({"x": ["a", "b", "c"], "y": ["d", np.nan, "f"]}),
            TypeError,
            r"Item 1 of X \(second text\) is NaN",
        ),
        (
            np.array([["a", "b"], ["c", None]], dtype=object),
            TypeError,
            r"Item 1 of X \(second text\) is None",
        ),
        (
            [(1, "b")],
            TypeError,
            r"Item 0 of X \(first text\) is an int \(1\), not a str",
        ),
        (
            [("a", "b"), ("c", "d", "e")],
            TypeError,
            r"Item 1 of X is a tuple \(\('c', 'd', 'e'\)\), not a str or a text "
            r"pair: it has 3 part\(s\), a pair has exactly two texts",
        ),
        (
            [("a",)],
            TypeError,
            r"Item 0 of X is a tuple .* it has 1 part\(s\)",
        ),
    ],
    ids=[
        "pair-then-text",
        "text-then-pair",
        "3-column-array",
        "3-column-frame",
        "1-column-frame",
        "second-none",
        "second-nan",
        "frame-nan",
        "array-none",
        "first-int",
        "3-tuple",
        "1-tuple",
    ],
)
def test_bad_pairs_are_named(tiny_model: str, X, error, message) -> None:
    estimator = small(tiny_model)
    with pytest.raises(error, match=message):
        estimator.fit(X, ["pos", "neg", "pos", "neg"][: len(X)])
    assert not hasattr(estimator, "model_")


def test_bad_pairs_at_predict_are_named(fitted) -> None:
    with pytest.raises(TypeError, match=r"Item 1 of X \(second text\) is None"):
        fitted.predict([("a", "b"), ("c", None)])
    with pytest.raises(TypeError, match=r"Item 1 of X is a str, but item 0 is a"):
        fitted.predict_proba([("a", "b"), "c"])
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        fitted.score(np.array([["a", "b", "c"]] * 2), ["pos", "neg"])


def test_bad_validation_pairs_name_x_val(tiny_model: str) -> None:
    estimator = small(tiny_model, early_stopping=True)
    with pytest.raises(TypeError, match=r"Item 0 of X_val \(second text\) is None"):
        estimator.fit(PAIRS, LABELS, X_val=[("a", None)], y_val=["pos"])
    with pytest.raises(ValueError, match=r"X_val .* shape \(1, 3\)"):
        estimator.fit(PAIRS, LABELS, X_val=np.array([["a", "b", "c"]]), y_val=["pos"])


# Regression: max_length=2 passes the parameter check (>= 2) but leaves no room for a
# pair's three special tokens; the tokenizer then does not truncate at all and a
# long pair reaches the model whole: RuntimeError from torch, as the position
# embeddings run out (_data.tokenize, called from _base.py _fit).
def test_max_length_too_short_for_a_pair_is_named(tiny_model: str) -> None:
    long = " ".join(["good film"] * 100)
    estimator = small(tiny_model, max_length=2)
    with pytest.raises(ValueError, match=r"max_length=2 .* pair"):
        estimator.fit([(long, long), ("a", "b")] * 2, LABELS[:4])


def test_short_max_length_truncates_pairs_to_it(tiny_model: str) -> None:
    long = " ".join(["good film"] * 30)
    estimator = small(tiny_model, max_length=5).fit(
        [(long, long), ("a", "b")] * 2, LABELS[:4]
    )
    encoded = _data.tokenize(estimator.tokenizer_, [(long, long)], 5)
    assert len(encoded[0]) == 5
    assert estimator.predict([(long, long)]).shape == (1,)


# --- fitting and predicting --------------------------------------------------------


def test_classifier_on_pairs(fitted) -> None:
    predictions = fitted.predict(PAIRS)
    assert predictions.shape == (len(PAIRS),)
    assert set(predictions) <= {"neg", "pos"}
    proba = fitted.predict_proba(PAIRS)
    assert proba.shape == (len(PAIRS), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(axis=1)], predictions)
    assert fitted.score(PAIRS, LABELS) == accuracy_score(LABELS, predictions)
    # 24 pairs, 10 epochs at a high rate: 1.0 for 40 of 40 random tiny models.
    assert fitted.score(PAIRS, LABELS) == 1.0
    assert fitted.loss_curve_[-1] < fitted.loss_curve_[0]


def test_predictions_follow_input_order(fitted) -> None:
    # Inference sorts by length; pairs must come back in their own rows.
    together = fitted.predict_proba(PAIRS)
    one_by_one = np.vstack([fitted.predict_proba([pair]) for pair in PAIRS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_partial_fit_on_pairs(tiny_model: str) -> None:
    estimator = small(tiny_model)
    estimator.partial_fit(PAIRS[:12], LABELS[:12], classes=["neg", "pos"])
    estimator.partial_fit(pd.DataFrame(PAIRS[12:]), LABELS[12:])
    assert estimator.n_iter_ == 2
    assert len(estimator.loss_curve_) == 2
    assert estimator.predict_proba(PROBE).shape == (len(PROBE), 2)


@pytest.mark.parametrize("as_frame", [False, True], ids=["tuples", "dataframe"])
def test_early_stopping_with_validation_pairs(tiny_model: str, as_frame) -> None:
    X_val, y_val = make_pairs(8, seed=1)
    if as_frame:
        X_val = pd.DataFrame(X_val, columns=["a", "b"])
    estimator = small(
        tiny_model,
        epochs=3,
        early_stopping=True,
        scoring="accuracy",
        n_iter_no_change=5,
    ).fit(PAIRS, LABELS, X_val=X_val, y_val=y_val)
    assert len(estimator.validation_scores_) == estimator.n_iter_ == 3
    assert all(0.0 <= score <= 1.0 for score in estimator.validation_scores_)
    best = estimator.best_epoch_
    assert estimator.validation_scores_[best - 1] == estimator.best_validation_score_
    # The best epoch's weights are kept: its accuracy is the accuracy now.
    assert estimator.score(X_val, y_val) == estimator.best_validation_score_


def test_early_stopping_holds_out_pairs(tiny_model: str) -> None:
    estimator = small(
        tiny_model,
        epochs=2,
        early_stopping=True,
        scoring="accuracy",
        validation_fraction=0.25,
    ).fit(PAIRS, LABELS)
    assert len(estimator.validation_scores_) == len(estimator.loss_curve_)
    # Six held-out pairs: accuracy moves in steps of 1/6.
    for score in estimator.validation_scores_:
        assert score * 6 == pytest.approx(round(score * 6))


def test_cross_val_score_on_a_dataframe_of_pairs(tiny_model: str) -> None:
    frame = pd.DataFrame(PAIRS, columns=["premise", "hypothesis"])
    folds = KFold(3, shuffle=True, random_state=0)
    estimator = small(tiny_model)
    scores = cross_val_score(estimator, frame, LABELS, cv=folds, error_score="raise")
    from_tuples = cross_val_score(
        estimator, PAIRS, LABELS, cv=folds, error_score="raise"
    )
    assert scores.shape == (3,)
    np.testing.assert_array_equal(scores, from_tuples)


def test_regressor_on_pairs(tiny_model: str) -> None:
    estimator = small(tiny_model, BertTextRegressor, epochs=10)
    estimator.fit(pd.DataFrame(PAIRS), SCORES * 5)
    predictions = estimator.predict(PAIRS)
    assert predictions.shape == (len(PAIRS),)
    assert predictions.dtype == np.float64
    np.testing.assert_allclose(estimator.target_mean_, [2.5])
    assert estimator.score(PAIRS, SCORES * 5) == pytest.approx(
        r2_score(SCORES * 5, predictions), rel=1e-12
    )
    # 0.78 or more for 40 of 40 random tiny models.
    assert estimator.score(PAIRS, SCORES * 5) > 0.5
    np.testing.assert_array_equal(
        estimator.predict(np.array(PAIRS, dtype=object)), predictions
    )


# --- persistence ----------------------------------------------------------------------


@pytest.mark.parametrize("dumper", ["pickle", "joblib"])
def test_pickle_round_trip_keeps_pair_predictions(fitted, tmp_path, dumper) -> None:
    if dumper == "pickle":
        loaded = pickle.loads(pickle.dumps(fitted))
    else:
        joblib.dump(fitted, tmp_path / "pairs.joblib")
        loaded = joblib.load(tmp_path / "pairs.joblib")
    np.testing.assert_array_equal(
        loaded.predict_proba(PROBE + PAIRS), fitted.predict_proba(PROBE + PAIRS)
    )


def _pipeline(directory):
    from transformers import pipeline

    with skbert._hub.quiet_transformers():
        return pipeline(
            "text-classification",
            model=str(directory),
            tokenizer=str(directory),
            top_k=None,
        )


def test_saved_pair_classifier_works_in_a_transformers_pipeline(
    fitted, tmp_path
) -> None:
    fitted.save(tmp_path / "saved")
    np.testing.assert_array_equal(
        skbert.load(tmp_path / "saved").predict_proba(PROBE),
        fitted.predict_proba(PROBE),
    )
    classify = _pipeline(tmp_path / "saved")
    pairs = PROBE + PAIRS[:5]
    answers = classify([{"text": a, "text_pair": b} for a, b in pairs])
    expected = fitted.predict_proba(pairs)
    assert np.ptp(expected[:, 0]) > 0.1  # the rows differ, so the order counts
    for row, scores in zip(expected, answers, strict=True):
        by_label = {item["label"]: item["score"] for item in scores}
        got = [by_label[str(label)] for label in fitted.classes_]
        np.testing.assert_allclose(got, row, atol=1e-5)


def test_saved_pair_regressor_works_in_a_transformers_pipeline(
    tiny_model: str, tmp_path
) -> None:
    estimator = small(tiny_model, BertTextRegressor, epochs=10)
    estimator.fit(PAIRS, SCORES * 4 + 1).save(tmp_path / "saved")
    score = _pipeline(tmp_path / "saved")
    answers = score([{"text": a, "text_pair": b} for a, b in PROBE])
    got = [scores[0]["score"] for scores in answers]
    # A regression head gets no sigmoid: the scores are in the units of y.
    np.testing.assert_allclose(got, estimator.predict(PROBE), rtol=1e-4, atol=4e-5)
