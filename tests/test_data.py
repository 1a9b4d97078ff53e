"""skbert._data: input checks, label encoding, tokenisation and batching.

The error messages are checked through ``BertTextClassifier.fit``/``predict`` as
users meet them; the batching helpers are checked directly.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from conftest import property_examples
from skbert import BertTextClassifier, _data
from skbert.exceptions import ModelNotFoundError

TEXTS = ["good film", "bad film", "great plot", "awful plot", "fun story"]
LABELS = ["pos", "neg", "pos", "neg", "pos"]


def small(model: str, **params: object) -> BertTextClassifier:
    settings_: dict = {"epochs": 1, "batch_size": 4, "random_state": 0, "min_steps": 0}
    settings_.update(params)
    return BertTextClassifier(model, **settings_)


@pytest.fixture(scope="module")
def fitted(tiny_model: str) -> BertTextClassifier:
    return small(tiny_model).fit(TEXTS, LABELS)


@pytest.fixture(scope="module")
def tokenizer(fitted: BertTextClassifier):
    return fitted.tokenizer_


# --- check_texts -------------------------------------------------------------------


def _generate(texts: list[str]) -> Iterator[str]:
    yield from texts


@pytest.mark.parametrize(
    "make",
    [
        list,
        tuple,
        np.array,
        lambda t: np.array(t, dtype=object),
        lambda t: pd.Series(t, index=[10, 3, 7, 1, 0]),
        _generate,
    ],
    ids=["list", "tuple", "ndarray-U", "ndarray-object", "series", "generator"],
)
def test_check_texts_returns_a_list_of_plain_str(make) -> None:
    texts = _data.check_texts(make(TEXTS))
    assert texts == TEXTS
    assert type(texts) is list
    assert all(type(text) is str for text in texts)


def test_check_texts_keeps_empty_and_unicode_strings() -> None:
    assert _data.check_texts(["", " ", "naïve café 🎬"]) == ["", " ", "naïve café 🎬"]


def test_check_texts_uses_the_given_name_in_messages() -> None:
    with pytest.raises(TypeError, match=r"^Item 1 of texts is None"):
        _data.check_texts(["a", None], name="texts")


# --- bad X through fit and predict -------------------------------------------------

BAD_X = {
    "single-str": (
        "good film",
        TypeError,
        r"Expected an iterable of strings for X, got a single str\. Wrap it",
    ),
    "single-bytes": (b"good film", TypeError, r"got a single bytes"),
    "none": (None, TypeError, r"Expected an iterable of strings for X, got None\."),
    "not-iterable": (42, TypeError, r"Expected an iterable of strings for X, got int"),
    "none-item": (
        ["good", "bad", None, "fine", "poor"],
        TypeError,
        r"^Item 2 of X is None; every item must be a string\.",
    ),
    "nan-item": (
        ["good", "bad", "fine", float("nan"), "poor"],
        TypeError,
        r"^Item 3 of X is NaN \(a missing value\)",
    ),
    "bytes-item": (
        ["good", b"bad", "nice", "fine", "poor"],
        TypeError,
        r"^Item 1 of X is bytes, not str; decode it first",
    ),
    "int-item": (
        ["good", "bad", 7, "fine", "poor"],
        TypeError,
        r"^Item 2 of X is a.? int \(7\), not a str",
    ),
    "list-item": (
        [["good"], "bad", "great", "fine", "poor"],
        TypeError,
        r"^Item 0 of X is a list \(\['good'\]\), not a str",
    ),
    "series-none": (
        pd.Series(["good", "bad", "nice", None, "poor"], dtype=object),
        TypeError,
        r"^Item 3 of X is None",
    ),
    "series-string-missing": (
        pd.Series(["good", "bad", "nice", None, "poor"]),
        TypeError,
        r"^Item 3 of X is NaN \(a missing value\)",
    ),
    "empty": ([], ValueError, r"^X is empty; expected at least one text\.$"),
    "3-column-array": (
        np.array([TEXTS, TEXTS, TEXTS]).T,
        ValueError,
        r"Expected a 1-D sequence of strings for X \(or two columns of text pairs\), "
        r"got an array of shape \(5, 3\)",
    ),
    "dataframe": (
        pd.DataFrame({"text": TEXTS}),
        ValueError,
        r"Expected a 1-D sequence .* shape \(5, 1\)\. Pass one text per sample "
        r"\(select a single column\)",
    ),
}


@pytest.mark.parametrize("case", BAD_X, ids=list(BAD_X))
def test_fit_rejects_bad_x(tiny_model: str, case: str) -> None:
    X, error, message = BAD_X[case]
    labels = LABELS if case != "empty" else []
    with pytest.raises(error, match=message):
        small(tiny_model).fit(X, labels)


@pytest.mark.parametrize("case", BAD_X, ids=list(BAD_X))
def test_predict_rejects_bad_x(fitted: BertTextClassifier, case: str) -> None:
    X, error, message = BAD_X[case]
    for method in (fitted.predict_proba, fitted.decision_function, fitted.predict):
        with pytest.raises(error, match=message):
            method(X)


def test_bad_item_message_uses_the_right_article() -> None:
    with pytest.raises(TypeError, match=r"Item 0 of X is an int \(3\)"):
        _data.check_texts([3])


def test_input_is_checked_before_the_model_is_looked_for() -> None:
    with pytest.raises(TypeError, match="Item 1 of X is None"):
        BertTextClassifier("./no/such/model").fit(["a", None], ["x", "y"])


# --- bad y ------------------------------------------------------------------------

BAD_Y = {
    "shorter": (
        LABELS[:4],
        r"^X has 5 texts but y has 4 labels; they must be the same length\.$",
    ),
    "longer": ([*LABELS, "pos"], r"^X has 5 texts but y has 6 labels"),
    "single-class": (["pos"] * 5, r"^y has a single class .*'pos'.*at least two"),
    "2d": (
        np.array([LABELS, LABELS]).T,
        r"^y is 2-D, so it is read as a multi-label indicator matrix, but row 0, "
        r"column 0 holds .*'pos'.*MultiLabelBinarizer",
    ),
    "column": (
        np.array([[0], [1], [0], [1], [1]]),
        r"^y has shape \(5, 1\): a single column\. Pass it as a 1-D array "
        r"\(y\.ravel\(\)\)",
    ),
    "label-lists": (
        [["pos"], ["neg", "pos"], ["neg"], ["pos"], []],
        r"^y is a list of label lists \(item 0 is \['pos'\]\).*"
        r"MultiLabelBinarizer\(\)\.fit_transform\(y\)",
    ),
    "not-0-1": (
        np.array([[0, 2], [1, 0], [0, 1], [1, 1], [0, 0]]),
        r"^y is 2-D.* row 0, column 1 holds .*2.*, not 0 or 1",
    ),
    "mixed-list": ([1, "a", 1, "a", 1], r"^y mixes label types \(int, str\)"),
    "bool-and-int": ([True, 1, 0, False, 1], r"^y mixes label types \(bool, int\)"),
    "none": (None, r"^y is None; BertTextClassifier\.fit needs one label per text"),
    "continuous": ([0.5, 1.5, 2.25, 0.5, 1.5], r"[Uu]nknown label type"),
}


@pytest.mark.parametrize("case", BAD_Y, ids=list(BAD_Y))
def test_fit_rejects_bad_y(tiny_model: str, case: str) -> None:
    y, message = BAD_Y[case]
    with pytest.raises(ValueError, match=message):
        small(tiny_model).fit(TEXTS, y)


def test_fit_rejects_a_single_string_as_y(tiny_model: str) -> None:
    with pytest.raises(TypeError, match=r"iterable of labels for y, got a single str"):
        small(tiny_model).fit(TEXTS, "posneg")


@pytest.mark.parametrize(
    "make",
    [lambda v: np.array(v, dtype=object), pd.Series],
    ids=["object-array", "series"],
)
def test_mixed_labels_in_an_array_are_named(tiny_model: str, make) -> None:
    with pytest.raises(ValueError, match=r"y mixes label types \(int, str\)"):
        small(tiny_model).fit(TEXTS, make([1, "a", 1, "a", 1]))


def test_python_and_numpy_floats_are_one_label_type() -> None:
    classes, codes = _data.encode_labels([0.0, np.float64(1.0), 0.0, 1.0], 4)
    assert classes.tolist() == [0.0, 1.0]
    assert codes.tolist() == [0, 1, 0, 1]


def test_single_class_message_shows_the_plain_label(tiny_model: str) -> None:
    with pytest.raises(ValueError, match=r"^y has a single class \('pos'\)"):
        small(tiny_model).fit(TEXTS, ["pos"] * 5)


@pytest.mark.parametrize(
    ("y", "classes"),
    [
        (["b", "a", "c", "a"], ["a", "b", "c"]),
        ([3, -1, 3, 10], [-1, 3, 10]),
        ([True, False, False, True], [False, True]),
        (np.array([2.0, 1.0, 2.0, 1.0]), [1.0, 2.0]),
        (pd.Series(["y", "x", "y", "x"], index=[9, 8, 7, 6]), ["x", "y"]),
    ],
)
def test_encode_labels_sorts_classes_and_codes_point_into_them(y, classes) -> None:
    found, codes = _data.encode_labels(y, 4)
    assert found.tolist() == classes
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(found[codes], np.asarray(y))


def test_predict_before_fit_raises_not_fitted(tiny_model: str) -> None:
    with pytest.raises(NotFittedError, match="BertTextClassifier instance is not"):
        small(tiny_model).predict(TEXTS)


# --- parameters --------------------------------------------------------------------


def _invalid(name: str, expected: str, got: str) -> str:
    return re.escape(
        f"The {name!r} parameter of BertTextClassifier must be {expected}. "
        f"Got {got} instead."
    )


INVALID_PARAMS = {
    "learning_rate": (
        -1,
        _invalid(
            "learning_rate",
            "a float in the range (0.0, inf) or a str among {'auto'}",
            "-1",
        ),
    ),
    "learning_rate-zero": (
        0.0,
        _invalid(
            "learning_rate",
            "a float in the range (0.0, inf) or a str among {'auto'}",
            "0.0",
        ),
    ),
    "epochs": (
        0,
        _invalid("epochs", "an int in the range [1, inf) or a str among {'auto'}", "0"),
    ),
    "batch_size": (0, _invalid("batch_size", "an int in the range [1, inf)", "0")),
    "warmup_ratio": (
        2,
        _invalid("warmup_ratio", "a float in the range [0.0, 1.0]", "2"),
    ),
    "max_length": (1, _invalid("max_length", "an int in the range [2, inf)", "1")),
    "weight_decay": (
        -0.1,
        _invalid("weight_decay", "a float in the range [0.0, inf)", "-0.1"),
    ),
}


@pytest.mark.parametrize("case", INVALID_PARAMS, ids=list(INVALID_PARAMS))
def test_invalid_parameter_message(tiny_model: str, case: str) -> None:
    value, message = INVALID_PARAMS[case]
    name = case.split("-")[0]
    with pytest.raises(ValueError, match=f"^{message}$"):
        small(tiny_model, **{name: value}).fit(TEXTS, LABELS)


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x"])
def test_unknown_device_is_named(tiny_model: str, device: str) -> None:
    message = (
        r"^The 'device' parameter of BertTextClassifier must be 'auto', 'cpu', "
        rf"'cuda', 'cuda:<index>' or 'mps'\. Got '{device}' instead\.$"
    )
    with pytest.raises(ValueError, match=message):
        small(tiny_model, device=device).fit(TEXTS, LABELS)


def test_device_is_checked_before_the_data() -> None:
    with pytest.raises(ValueError, match="The 'device' parameter"):
        BertTextClassifier(device="tpu").fit(["a", None], ["x", "y"])


@pytest.mark.parametrize(
    "X", [{"good", "bad"}, {"good": 1, "bad": 0}], ids=["set", "dict"]
)
def test_unordered_x_is_rejected(X) -> None:
    with pytest.raises(TypeError, match=r"ordered sequence of strings for X, got a"):
        _data.check_texts(X)


def test_pandas_na_item_is_called_a_missing_value() -> None:
    with pytest.raises(TypeError, match=r"^Item 1 of X is <NA> \(a missing value\)"):
        _data.check_texts(["a", pd.NA])


def test_ints_and_floats_are_one_kind_of_label() -> None:
    classes, codes = _data.encode_labels([0, 1.0, 0, 1], 4)
    assert classes.tolist() == [0.0, 1.0]
    assert codes.tolist() == [0, 1, 0, 1]


# --- model lookup ------------------------------------------------------------------


def test_missing_local_directory_fails_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match=r"Model directory '\./no/such/model'"):
        BertTextClassifier("./no/such/model").fit(TEXTS, LABELS)
    assert time.perf_counter() - started < 5.0


def test_unknown_hub_name_offline_names_model_and_what_was_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as info:
        BertTextClassifier("skbert-test/no-such-model").fit(TEXTS, LABELS)
    assert time.perf_counter() - started < 5.0
    message = str(info.value)
    assert "'skbert-test/no-such-model'" in message
    for tried in ("local directory", "bundled", "Hugging Face cache", "HF_HUB_OFFLINE"):
        assert tried in message
    assert isinstance(info.value, OSError)


# --- tokenize, pad_id_of, collate --------------------------------------------------


def test_tokenize_truncates_without_padding(tokenizer) -> None:
    texts = ["good", "the movie was really very good and fun", ""]
    ids = _data.tokenize(tokenizer, texts, max_length=6)
    assert [len(x) for x in ids] == [3, 6, 2]
    for x in ids:
        assert x.dtype == np.int64
        assert x[0] == tokenizer.cls_token_id
        assert x[-1] == tokenizer.sep_token_id
        assert tokenizer.pad_token_id not in x.tolist()


def test_tokenize_splits_special_token_strings(tokenizer) -> None:
    (ids,) = _data.tokenize(tokenizer, ["good [SEP] bad [CLS] [PAD] [MASK]"], 64)
    special = set(tokenizer.all_special_ids)
    assert [i for i in ids.tolist() if i in special] == [
        tokenizer.cls_token_id,
        tokenizer.sep_token_id,
    ]


def test_pad_id_of(tokenizer) -> None:
    assert _data.pad_id_of(tokenizer) == tokenizer.pad_token_id == 0

    class NoPad:
        pad_token_id = None

    class PadSeven:
        pad_token_id = 7

    assert _data.pad_id_of(NoPad()) == 0
    assert _data.pad_id_of(PadSeven()) == 7


def test_collate_pads_only_to_the_longest_in_the_batch() -> None:
    ids = [np.arange(1, n + 1, dtype=np.int64) for n in (2, 9, 4, 3)]
    batch = _data.collate(ids, np.array([3, 0, 2]), pad_id=5)
    assert set(batch) == {"input_ids", "attention_mask"}
    input_ids = batch["input_ids"].numpy()
    mask = batch["attention_mask"].numpy()
    assert input_ids.shape == mask.shape == (3, 4)
    assert batch["input_ids"].dtype == batch["attention_mask"].dtype == torch.int64
    np.testing.assert_array_equal(input_ids, [[1, 2, 3, 5], [1, 2, 5, 5], [1, 2, 3, 4]])
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]])


# --- batching ----------------------------------------------------------------------


@settings(max_examples=property_examples(60), deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=400),
    batch_size=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_grouped_batches_cover_every_index_once(lengths, batch_size, seed) -> None:
    lengths = np.array(lengths)
    batches = _data.grouped_batches(lengths, batch_size, np.random.default_rng(seed))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert len(batches) == math.ceil(len(lengths) / batch_size)
    sizes = Counter(len(b) for b in batches)
    short = {size: n for size, n in sizes.items() if size != batch_size}
    assert short in ({}, {len(lengths) % batch_size: 1})


@settings(max_examples=property_examples(40), deadline=None)
@given(
    lengths=st.lists(st.integers(1, 500), min_size=2, max_size=_data._GROUPING_WINDOW),
    batch_size=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_grouped_batches_group_similar_lengths(lengths, batch_size, seed) -> None:
    # With at most one window of texts, batches cover disjoint length ranges.
    lengths = np.array(lengths)
    batches = _data.grouped_batches(lengths, batch_size, np.random.default_rng(seed))
    ranges = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    for (_, high), (low, _) in itertools.pairwise(ranges):
        assert high <= low


def test_grouped_batches_windows() -> None:
    batch_size = 3
    window = batch_size * _data._GROUPING_WINDOW
    n = 2 * window + 10
    lengths = np.random.default_rng(0).integers(1, 100, size=n)
    batches = _data.grouped_batches(lengths, batch_size, np.random.default_rng(1))
    assert Counter(len(b) for b in batches) == {3: n // 3, 1: 1}
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))


def test_grouped_batches_shuffle_between_epochs_and_repeat_per_seed() -> None:
    lengths = np.random.default_rng(0).integers(1, 30, size=64)

    def order(seed: int, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([seed, epoch])
        return [b.tolist() for b in _data.grouped_batches(lengths, 8, rng)]

    assert order(3, 0) == order(3, 0)
    assert order(3, 0) != order(3, 1)
    assert order(3, 0) != order(4, 0)


@settings(max_examples=property_examples(40), deadline=None)
@given(
    lengths=st.lists(st.integers(0, 50), min_size=1, max_size=100),
    batch_size=st.integers(1, 10),
)
def test_sorted_batches(lengths, batch_size) -> None:
    lengths = np.array(lengths)
    batches = _data.sorted_batches(lengths, batch_size)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert all(len(b) == batch_size for b in batches[:-1])
    assert 1 <= len(batches[-1]) <= batch_size
    assert np.all(np.diff(lengths[flat]) <= 0)


@settings(max_examples=property_examples(60), deadline=None)
@given(
    lengths=st.lists(st.integers(0, 50), min_size=1, max_size=100),
    batch_size=st.integers(1, 10),
    max_tokens=st.integers(1, 200),
)
def test_sorted_batches_token_budget(lengths, batch_size, max_tokens) -> None:
    lengths = np.array(lengths)
    batches = _data.sorted_batches(lengths, batch_size, max_tokens)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert np.all(np.diff(lengths[flat]) <= 0)
    for i, batch in enumerate(batches):
        assert 1 <= len(batch) <= batch_size
        longest = max(int(lengths[batch].max()), 1)
        padded = len(batch) * longest
        # Over the budget only as a single text longer than the budget.
        assert padded <= max_tokens or len(batch) == 1
        if i < len(batches) - 1:  # full: one more text would break a limit
            assert len(batch) == batch_size or padded + longest > max_tokens


def test_batch_tokens_keep_cpu_activations_within_the_budget() -> None:
    from types import SimpleNamespace

    from skbert import _engine

    config = SimpleNamespace(hidden_size=384, intermediate_size=1536)
    tokens = _engine.batch_tokens(config, "cpu")
    assert tokens == 4096  # 32 texts of 128 tokens for MiniLM-L6
    assert 4 * 1536 * tokens <= _engine.CPU_BATCH_BYTES < 4 * 1536 * (tokens + 1)
    assert _engine.batch_tokens(SimpleNamespace(hidden_size=768), "cpu") == 8192
    no_sizes = _engine.batch_tokens(SimpleNamespace(), "cpu")
    assert no_sizes == _engine.CPU_BATCH_BYTES // 4
    assert _engine.batch_tokens(config, "cuda") is None
    assert _engine.batch_tokens(config, torch.device("meta")) is None


def test_prediction_is_the_same_in_token_limited_batches(tiny_model, monkeypatch):
    from skbert import _engine

    texts = [" ".join(["word"] * n) for n in (1, 30, 3, 12, 7, 25, 2)] * 3
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0, batch_size=16)
    clf.fit(texts, [0, 1] * 10 + [0])
    expected = clf.predict_proba(texts)
    sizes = []
    original = _engine.predict_logits

    def spy(model, batches, *args, **kwargs):
        sizes.extend(inputs["input_ids"].shape for _, inputs in batches)
        return original(model, batches, *args, **kwargs)

    monkeypatch.setattr(_engine, "predict_logits", spy)
    clf.predict_proba(texts)
    assert [rows for rows, _ in sizes] == [21]  # 2 x batch_size texts fit
    widest = max(clf.model_.config.intermediate_size, clf.model_.config.hidden_size)
    monkeypatch.setattr(_engine, "CPU_BATCH_BYTES", 4 * widest * 40)  # 40 tokens
    sizes.clear()
    np.testing.assert_allclose(clf.predict_proba(texts), expected, atol=1e-5)
    assert len(sizes) > 3
    assert all(rows * length <= 40 or rows == 1 for rows, length in sizes)


def _train_batches(seed: int, n: int = 23, batch_size: int = 4) -> _data.TrainBatches:
    # Text i repeats token 100 + i, so each row says which text it is.
    ids = [np.full(1 + i % 6, 100 + i, dtype=np.int64) for i in range(n)]
    targets = np.arange(n, dtype=np.int64)
    return _data.TrainBatches(ids, targets, batch_size, pad_id=0, seed=seed)


def _epoch(batches: _data.TrainBatches, index: int) -> list[tuple[list, list]]:
    return [
        (inputs["input_ids"].tolist(), targets.tolist())
        for inputs, targets, _ in batches.epoch(index)
    ]


def test_train_batches_epoch_is_deterministic_per_seed_and_epoch() -> None:
    first, second = _train_batches(seed=5), _train_batches(seed=5)
    assert len(first) == 6
    assert first.n_samples == 23
    assert _epoch(first, 0) == _epoch(second, 0)
    assert _epoch(first, 2) == _epoch(second, 2)
    assert _epoch(first, 1) == _epoch(first, 1)
    assert _epoch(first, 0) != _epoch(first, 1)
    assert _epoch(first, 0) != _epoch(_train_batches(seed=6), 0)


def test_train_batches_rows_match_targets() -> None:
    batches = _train_batches(seed=0)
    seen = []
    for inputs, targets, _ in batches.epoch(0):
        input_ids = inputs["input_ids"]
        mask = inputs["attention_mask"]
        assert input_ids.shape[0] == targets.shape[0] <= 4
        np.testing.assert_array_equal(input_ids[:, 0].numpy() - 100, targets.numpy())
        np.testing.assert_array_equal(mask.sum(dim=1).numpy(), 1 + targets.numpy() % 6)
        assert input_ids.shape[1] == int(mask.sum(dim=1).max())
        seen.extend(targets.tolist())
    assert sorted(seen) == list(range(23))
