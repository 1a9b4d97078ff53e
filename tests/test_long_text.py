"""Inputs longer than ``max_length``: ``long_text``, ``stride`` and ``head_ratio``.

"truncate" keeps an input's first tokens, "head_tail" its first ``head_ratio``
share of the room and its last tokens, and "chunk" reads all of it in windows
that overlap by ``stride`` tokens, training on every window and averaging the
windows' logits at prediction. Everything runs on conftest's tiny random BERT
with ``max_length=16`` (room for 14 tokens of a text, 13 of a pair); every word
used is one token of its hand-written vocabulary.
"""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError

from conftest import WORDS, property_examples, round_trip
from skbert import BertTextClassifier, BertTextRegressor, _data, _hub
from skbert._classifier import best_f1_thresholds

MAX_LENGTH = 16
ROOM = MAX_LENGTH - 2  # [CLS] text [SEP]
PAIR_ROOM = MAX_LENGTH - 3  # [CLS] a [SEP] b [SEP]
MOODS = ["good", "bad"]
TOPICS = [word for word in WORDS if word not in MOODS]


def long_text(n_words: int, seed: int, last: str | None = None) -> str:
    """``n_words`` topic words (one token each), the last one ``last`` if given."""
    words = list(np.random.default_rng(seed).choice(TOPICS, size=n_words))
    if last is not None:
        words[-1] = last
    return " ".join(words)


# Labelled by their last word, which "truncate" never sees.
DOCS = [long_text(20 + 3 * i, i, MOODS[i % 2]) for i in range(16)]
LABELS = ["pos" if i % 2 == 0 else "neg" for i in range(16)]
MULTI = np.array([[i % 2 == 0, i % 3 == 0] for i in range(16)], dtype=int)
PROBE = [long_text(40, 100), long_text(33, 101), "good film", long_text(15, 102)]
PROBE_LABELS = ["pos", "neg", "pos", "neg"]
PROBE_MULTI = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
PAIRS = [(long_text(12, i), long_text(18 + i, 50 + i, MOODS[i % 2])) for i in range(16)]


def small(model: str, cls: type = BertTextClassifier, **params: object):
    settings_: dict = {
        "epochs": 1,
        "batch_size": 8,
        "random_state": 0,
        "max_length": MAX_LENGTH,
        "min_steps": 0,
    }
    if cls is BertTextClassifier:
        # These tests read what end-to-end training makes of the words; the
        # contrastive stage of few texts hardly moves the random tiny model.
        settings_["contrastive"] = False
    settings_.update(params)
    return cls(model, **settings_)


@pytest.fixture(scope="module")
def tokenizer(tiny_model: str):
    return _hub.load_tokenizer(tiny_model, True)


@pytest.fixture(scope="module")
def fitted(tiny_model: str):
    """``fitted(long_text)``: a classifier fitted on ``DOCS`` with that reading."""
    cache: dict[str, BertTextClassifier] = {}

    def get(long_text: str) -> BertTextClassifier:
        if long_text not in cache:
            estimator = small(tiny_model, long_text=long_text, stride=4)
            cache[long_text] = estimator.fit(DOCS, LABELS)
        return cache[long_text]

    return get


def ids_of(tokenizer, text: str) -> list[int]:
    """The tokenizer's own untruncated ids of ``text``, without special tokens."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def tokenize(tokenizer, inputs, long_text: str, stride: int = 4, head_ratio=0.25):
    reading = _data.Reading(long_text, stride, head_ratio)
    return _data.tokenize(tokenizer, inputs, MAX_LENGTH, reading=reading)


def window_outputs(estimator, inputs) -> tuple[_data.Encoded, np.ndarray]:
    """Each window's raw model outputs, one forward pass per window."""
    encoded = tokenize(
        estimator.tokenizer_,
        inputs,
        estimator.long_text,
        estimator.stride,
        estimator.head_ratio,
    )
    rows = []
    with torch.no_grad():
        for index, ids in enumerate(encoded.ids):
            batch = {"input_ids": torch.as_tensor(ids)[None]}
            if encoded.type_ids is not None:
                types = encoded.type_ids[index].astype(np.int64)
                batch["token_type_ids"] = torch.as_tensor(types)[None]
            logits = estimator.model_(**batch).logits[0]
            rows.append(logits.double().numpy())
    return encoded, np.array(rows)


def mean_by_document(encoded: _data.Encoded, rows: np.ndarray) -> np.ndarray:
    doc = np.arange(len(rows)) if encoded.doc is None else encoded.doc
    return np.array([rows[doc == d].mean(axis=0) for d in range(doc.max() + 1)])


# --- reading one text -----------------------------------------------------------------


def test_truncate_keeps_the_first_tokens(tokenizer) -> None:
    encoded = tokenize(tokenizer, PROBE, "truncate")
    assert encoded.doc is None
    for text, row in zip(PROBE, encoded.ids, strict=True):
        expected = tokenizer(text, truncation=True, max_length=MAX_LENGTH)
        assert row.tolist() == expected["input_ids"]
    assert len(encoded.ids[0]) == MAX_LENGTH


@pytest.mark.parametrize("head_ratio", [0.0, 0.25, 0.5, 0.75, 1.0, np.float64(0.3)])
def test_head_tail_keeps_the_head_and_the_tail(tokenizer, head_ratio) -> None:
    text = long_text(40, 7)
    encoded = tokenize(tokenizer, [text], "head_tail", head_ratio=head_ratio)
    ids = ids_of(tokenizer, text)
    head = round(ROOM * head_ratio)
    kept = ids[:head] + ids[len(ids) - (ROOM - head) :]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert encoded.doc is None
    assert encoded.ids[0].tolist() == [cls, *kept, sep]
    assert len(encoded.ids[0]) == MAX_LENGTH


def test_head_tail_default_is_a_quarter_head(tokenizer) -> None:
    text = long_text(40, 8)
    ids = ids_of(tokenizer, text)
    row = tokenize(tokenizer, [text], "head_tail").ids[0].tolist()
    assert row[1:5] == ids[:4]  # round(14 * 0.25)
    assert row[5:-1] == ids[-10:]


@pytest.mark.parametrize("long_text_", ["truncate", "head_tail", "chunk"])
def test_inputs_that_fit_are_read_whole(tokenizer, long_text_: str) -> None:
    texts = ["good film", "", long_text(ROOM, 3)]  # the last fills the room exactly
    pairs = [("the film", "was good"), ("", "a"), (long_text(6, 4), long_text(7, 5))]
    for inputs in (texts, pairs):
        encoded = tokenize(tokenizer, inputs, long_text_)
        assert encoded.doc is None
        assert encoded.n_inputs == len(encoded) == 3
        for index, item in enumerate(inputs):
            expected = tokenizer(*(item if isinstance(item, tuple) else (item,)))
            assert encoded.ids[index].tolist() == expected["input_ids"]
            if encoded.type_ids is not None:
                types = encoded.type_ids[index].tolist()
                assert types == expected["token_type_ids"]
    assert len(tokenize(tokenizer, texts, long_text_).ids[2]) == MAX_LENGTH


@pytest.mark.parametrize("long_text_", ["truncate", "head_tail", "chunk"])
def test_sources_follow_every_reading(tokenizer, long_text_: str) -> None:
    """``sources=True`` (for explanations) gives the same rows, and each token's
    text, position, word and characters, from which its id comes back."""
    texts = [long_text(30, 9), "good film", "playing fine"]
    pairs = [(long_text(9, 10), long_text(25, 11)), ("the film", "was good")]
    for inputs in (texts, pairs):
        plain = tokenize(tokenizer, inputs, long_text_)
        reading = _data.Reading(long_text_, 4, 0.25)
        traced = _data.tokenize(tokenizer, inputs, MAX_LENGTH, 0, reading, True)
        assert [r.tolist() for r in traced.ids] == [r.tolist() for r in plain.ids]
        assert traced.doc is plain.doc or (traced.doc == plain.doc).all()
        doc = np.arange(len(traced)) if traced.doc is None else traced.doc
        for row, sources, d in zip(traced.ids, traced.sources, doc, strict=True):
            item = inputs[d] if isinstance(inputs[d], tuple) else (inputs[d],)
            special = sources[:, 0] < 0
            assert (sources[special] == -1).all()
            assert np.isin(row[special], tokenizer.all_special_ids).all()
            for token, (part, position, _, start, end) in zip(
                row[~special], sources[~special], strict=True
            ):
                assert ids_of(tokenizer, item[part])[position] == token
                piece = tokenizer.convert_ids_to_tokens(int(token)).removeprefix("##")
                assert item[part][start:end] == piece


# --- chunk windows --------------------------------------------------------------------


def assert_windows(windows: list[list[int]], ids: list[int], room, stride) -> None:
    """Windows of ``room`` tokens, overlapping by ``stride``, covering ``ids``."""
    assert windows, "an input has no window"
    assert all(len(window) == room for window in windows[:-1])
    assert 0 < len(windows[-1]) <= room or ids == []
    for previous, window in itertools.pairwise(windows):
        assert window[:stride] == previous[len(previous) - stride :]
    if len(windows) > 1:
        assert len(windows[-1]) > stride  # the last window brings new tokens
    joined = windows[0] + [t for window in windows[1:] for t in window[stride:]]
    assert joined == ids
    assert len(windows) == max(1, math.ceil((len(ids) - stride) / (room - stride)))


@settings(max_examples=property_examples(60), deadline=None)
@given(
    n_tokens=st.integers(0, 70),
    max_length=st.integers(3, 24),
    stride_share=st.floats(0.0, 0.99),
)
def test_chunk_windows_overlap_by_stride_and_cover_every_token(
    tokenizer, n_tokens: int, max_length: int, stride_share: float
) -> None:
    room = max_length - 2
    stride = int(stride_share * room)
    text = long_text(n_tokens, n_tokens)
    reading = _data.Reading("chunk", stride, 0.25)
    encoded = _data.tokenize(tokenizer, [text, "good"], max_length, reading=reading)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    rows = [row.tolist() for row in encoded.ids]
    assert all(row[0] == cls and row[-1] == sep for row in rows)
    assert all(len(row) <= max_length for row in rows)
    doc = np.arange(len(rows)) if encoded.doc is None else encoded.doc
    windows = [row[1:-1] for row, d in zip(rows, doc, strict=True) if d == 0]
    assert_windows(windows, ids_of(tokenizer, text), room, stride)
    assert rows[-1] == tokenizer("good")["input_ids"]
    assert encoded.n_inputs == 2


def test_chunk_rows_follow_their_documents(tokenizer) -> None:
    texts = [long_text(40, 1), "good film", long_text(20, 2), long_text(14, 3)]
    encoded = tokenize(tokenizer, texts, "chunk", stride=4)
    counts = [
        max(1, math.ceil((len(ids_of(tokenizer, t)) - 4) / (ROOM - 4))) for t in texts
    ]
    assert counts == [4, 1, 2, 1]
    np.testing.assert_array_equal(encoded.doc, np.repeat(np.arange(4), counts))
    assert encoded.n_inputs == 4
    assert len(encoded) == len(encoded.lengths) == 8
    subset = encoded.subset([2, 0])
    np.testing.assert_array_equal(subset.doc, [0, 0, 1, 1, 1, 1])
    expected = [encoded.ids[i] for i in (5, 6, 0, 1, 2, 3)]
    assert all(np.array_equal(a, b) for a, b in zip(subset.ids, expected, strict=True))


class _CountingTokenizer:
    """A tokenizer that records the characters of each call's texts."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.characters: list[int] = []

    def __call__(self, *texts, **kwargs):
        self.characters.append(sum(len(text) for column in texts for text in column))
        return self.tokenizer(*texts, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.tokenizer, name)


@pytest.mark.parametrize("pairs", [False, True])
def test_long_documents_reach_the_tokenizer_in_bounded_chunks(
    tokenizer, pairs: bool
) -> None:
    """Chunks of 4,096 documents of 5,000 words sent all of them to the tokenizer
    at once (2,000 raised the peak memory of predicting by 1.1 GB); a chunk now
    holds about a million characters, and the rows are what one call gives."""
    docs = [long_text(8000, seed) for seed in range(30)]  # ~45,000 characters each
    inputs = [("good film", doc) for doc in docs] if pairs else docs
    reading = _data.Reading("chunk", stride=4)
    counting = _CountingTokenizer(tokenizer)
    encoded = _data.tokenize(counting, inputs, MAX_LENGTH, reading=reading)
    calls = [n for n in counting.characters if n > 1000]  # not the template's
    assert len(calls) >= 2
    assert max(calls) <= 1_000_000
    assert sum(calls) == sum(map(len, docs))  # each document once
    one = [_data.tokenize(tokenizer, [x], MAX_LENGTH, reading=reading) for x in inputs]
    expected = list(itertools.chain.from_iterable(one))
    assert len(encoded) == len(expected) > 30 * 500
    for got, alone in zip(encoded, expected, strict=True):
        np.testing.assert_array_equal(got, alone)
    np.testing.assert_array_equal(
        encoded.doc, np.repeat(np.arange(30), [len(x) for x in one])
    )


def test_per_row_shares_each_documents_weight(tokenizer) -> None:
    texts = [long_text(40, 1), "good film", long_text(20, 2)]
    encoded = tokenize(tokenizer, texts, "chunk", stride=4)
    weights = np.array([3.0, 0.5, 2.0])
    shared = encoded.per_row(weights, share=True)
    assert shared.shape == (len(encoded),)
    np.testing.assert_allclose(shared, [0.75] * 4 + [0.5] + [1.0] * 2)
    np.testing.assert_allclose(np.bincount(encoded.doc, weights=shared), weights)
    np.testing.assert_array_equal(encoded.per_row(weights), weights[encoded.doc])
    targets = np.array([[1, 0], [0, 1], [1, 1]])
    np.testing.assert_array_equal(encoded.per_row(targets), targets[encoded.doc])


def test_pool_is_the_mean_of_each_documents_rows(tokenizer) -> None:
    texts = [long_text(40, 1), "good film", long_text(20, 2)]
    encoded = tokenize(tokenizer, texts, "chunk", stride=4)
    rows = np.random.default_rng(0).normal(size=(len(encoded), 3)).astype(np.float32)
    pooled = encoded.pool(rows)
    assert pooled.shape == (3, 3)
    assert pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, mean_by_document(encoded, rows), rtol=1e-6)


@pytest.mark.parametrize("stride", [ROOM, ROOM + 5, 100])
def test_stride_must_be_smaller_than_a_window(tokenizer, stride: int) -> None:
    with pytest.raises(
        ValueError,
        match=rf"stride={stride} must be smaller than the tokens a window holds "
        rf"\({ROOM} at this max_length\).*Lower stride or raise max_length",
    ):
        tokenize(tokenizer, ["good film"], "chunk", stride=stride)
    assert len(tokenize(tokenizer, [long_text(40, 1)], "chunk", ROOM - 1)) == 27


def test_stride_must_be_smaller_than_a_pairs_window(tokenizer) -> None:
    limit = PAIR_ROOM - PAIR_ROOM // 2  # the second text's share of the room
    with pytest.raises(
        ValueError, match=rf"stride={limit} must be smaller .* second text of a pair"
    ):
        tokenize(tokenizer, [("a", "b")], "chunk", stride=limit)
    assert tokenize(tokenizer, PAIRS[:2], "chunk", stride=limit - 1).n_inputs == 2


def test_fit_names_a_stride_too_large(tiny_model: str) -> None:
    with pytest.raises(ValueError, match=r"stride=14 must be smaller .*\(14 at"):
        small(tiny_model, long_text="chunk", stride=14).fit(DOCS, LABELS)
    # Only "chunk" has windows: elsewhere stride is not used.
    estimator = small(tiny_model, long_text="head_tail", stride=100)
    assert estimator.fit(DOCS, LABELS).predict(PROBE).shape == (4,)


@pytest.mark.parametrize(
    "name, value",
    [
        ("long_text", "middle"),
        ("long_text", None),
        ("stride", -1),
        ("stride", 1.5),
        ("head_ratio", 1.5),
        ("head_ratio", -0.1),
        ("head_ratio", "half"),
    ],
)
def test_bad_long_text_parameters_are_named(tiny_model: str, name: str, value) -> None:
    for cls in (BertTextClassifier, BertTextRegressor):
        with pytest.raises(
            InvalidParameterError, match=f"The '{name}' parameter of {cls.__name__}"
        ):
            small(tiny_model, cls, **{name: value}).fit(DOCS, [0.0, 1.0] * 8)


def test_long_text_parameters_default_and_clone() -> None:
    params = BertTextClassifier().get_params()
    assert (params["long_text"], params["stride"], params["head_ratio"]) == (
        "truncate",
        32,
        0.25,
    )
    assert BertTextRegressor().get_params()["long_text"] == "truncate"
    estimator = BertTextRegressor(stride=np.int64(8), head_ratio=np.float64(0.3))
    cloned = clone(estimator).get_params()
    assert type(cloned["stride"]) is np.int64
    assert type(cloned["head_ratio"]) is np.float64


# --- text pairs -----------------------------------------------------------------------


def split_pair_row(row: np.ndarray, types: np.ndarray, tokenizer):
    """``(first text's ids, second text's ids)`` of one pair row, segments checked."""
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    ids, types = row.tolist(), types.tolist()
    middle = ids.index(sep)
    assert ids[0] == cls and ids[-1] == sep
    assert types == [0] * (middle + 1) + [1] * (len(ids) - middle - 1)
    return ids[1:middle], ids[middle + 1 : -1]


def test_head_tail_pairs_keep_segment_ids(tokenizer) -> None:
    pairs = [(long_text(30, 1), long_text(30, 2)), (long_text(3, 3), long_text(40, 4))]
    encoded = tokenize(tokenizer, pairs, "head_tail")
    assert encoded.doc is None
    for (a, b), row, types in zip(pairs, encoded.ids, encoded.type_ids, strict=True):
        first, second = split_pair_row(row, types, tokenizer)
        assert len(first) + len(second) == PAIR_ROOM
        for part, text in ((first, a), (second, b)):
            ids = ids_of(tokenizer, text)
            head = round(len(part) * 0.25) if len(ids) > len(part) else len(part)
            assert part == ids[:head] + ids[len(ids) - (len(part) - head) :]


@pytest.mark.parametrize("lengths", [(10, 20), (10, 10), (20, 10), (20, 20), (3, 30)])
def test_head_tail_pairs_share_the_room_as_truncate(tokenizer, lengths) -> None:
    # The docs: a pair's texts get their room as with "truncate"
    # (truncation="longest_first"), then each keeps its head and tail.
    pair = (long_text(lengths[0], 1), long_text(lengths[1], 2))
    head_tail = tokenize(tokenizer, [pair], "head_tail")
    truncated = tokenize(tokenizer, [pair], "truncate")
    np.testing.assert_array_equal(
        np.bincount(head_tail.type_ids[0]), np.bincount(truncated.type_ids[0])
    )


def test_chunk_pairs_window_the_second_text(tokenizer) -> None:
    pairs = [(long_text(12, 1), long_text(30, 2)), (long_text(3, 3), long_text(25, 4))]
    encoded = tokenize(tokenizer, pairs, "chunk", stride=3)
    for index, (a, b) in enumerate(pairs):
        rows = np.flatnonzero(encoded.doc == index)
        split = [
            split_pair_row(encoded.ids[r], encoded.type_ids[r], tokenizer) for r in rows
        ]
        firsts = {tuple(first) for first, _ in split}
        assert len(firsts) == 1  # every window repeats the first text's head
        (first,) = firsts
        assert list(first) == ids_of(tokenizer, a)[: len(first)]
        assert len(first) <= max(PAIR_ROOM - len(ids_of(tokenizer, b)), PAIR_ROOM // 2)
        windows = [second for _, second in split]
        assert_windows(windows, ids_of(tokenizer, b), PAIR_ROOM - len(first), 3)


@pytest.mark.parametrize("stride", [1, 3, 4])
def test_chunk_pairs_with_a_long_first_and_a_short_second_text(
    tiny_model: str, tokenizer, stride: int
) -> None:
    # The first text takes the room the short second one leaves; each pair still
    # needs at least one window, and a prediction.
    pairs = [(long_text(30, 1), "good"), (long_text(30, 2), "the film was"), ("a", "b")]
    encoded = tokenize(tokenizer, pairs, "chunk", stride=stride)
    assert encoded.n_inputs == 3
    doc = np.arange(len(encoded)) if encoded.doc is None else encoded.doc
    np.testing.assert_array_equal(np.unique(doc), [0, 1, 2])
    estimator = small(tiny_model, long_text="chunk", stride=stride).fit(PAIRS, LABELS)
    proba = estimator.predict_proba(pairs)
    assert proba.shape == (3, 2)
    assert np.isfinite(proba).all()


@pytest.mark.parametrize("long_text_", ["head_tail", "chunk"])
def test_pair_models_read_long_pairs(tiny_model: str, long_text_: str) -> None:
    estimator = small(tiny_model, long_text=long_text_, stride=3).fit(PAIRS, LABELS)
    encoded, rows = window_outputs(estimator, PAIRS[:4])
    expected = softmax(mean_by_document(encoded, rows), axis=1)
    np.testing.assert_allclose(estimator.predict_proba(PAIRS[:4]), expected, atol=1e-6)
    regressor = small(tiny_model, BertTextRegressor, long_text=long_text_, stride=3)
    scores = np.arange(16, dtype=np.float64)
    assert regressor.fit(PAIRS, scores).predict(PAIRS[:4]).shape == (4,)


# --- what the model reads -------------------------------------------------------------


def changed_at(text: str, position: int) -> str:
    words = text.split()
    words[position] = "good" if words[position] != "good" else "bad"
    return " ".join(words)


@pytest.mark.parametrize(
    "long_text_, position, matters",
    [
        ("truncate", 0, True),
        ("truncate", 20, False),  # past max_length
        ("truncate", -1, False),
        ("head_tail", 0, True),
        ("head_tail", 20, False),  # the middle: neither head (4) nor tail (10)
        ("head_tail", -1, True),
        ("chunk", 0, True),
        ("chunk", 20, True),
        ("chunk", -1, True),
    ],
)
def test_which_words_of_a_long_text_count(
    fitted, long_text_: str, position: int, matters: bool
) -> None:
    estimator = fitted(long_text_)
    text = long_text(40, 9)
    before = estimator.predict_proba([text])
    after = estimator.predict_proba([changed_at(text, position)])
    assert (not np.array_equal(before, after)) == matters


def test_truncate_ignores_everything_past_max_length(fitted) -> None:
    estimator = fitted("truncate")
    text = long_text(ROOM, 5)
    expected = estimator.predict_proba([text])
    for n_words in (1, 10, 30):
        longer = text + " " + long_text(n_words, n_words)
        np.testing.assert_array_equal(estimator.predict_proba([longer]), expected)


def outputs(estimator, X) -> np.ndarray:
    """Probabilities of a classifier, predictions of a regressor."""
    if isinstance(estimator, BertTextClassifier):
        return estimator.predict_proba(X)
    return estimator.predict(X)


def read_as(estimator, **params):
    """A copy of a fitted estimator with other parameters, not refitted."""
    return pickle.loads(pickle.dumps(estimator)).set_params(**params)


@pytest.mark.parametrize("long_text_", ["truncate", "head_tail", "chunk"])
def test_prediction_reads_as_long_text_says(fitted, long_text_: str) -> None:
    # One input per call: rows batched with longer ones round differently.
    estimator = fitted(long_text_)
    for other in {"truncate", "head_tail", "chunk"} - {long_text_}:
        copy = read_as(estimator, long_text=other)
        for text in PROBE[:2]:
            before = estimator.predict_proba([text])
            assert not np.array_equal(copy.predict_proba([text]), before)
        for text in ("good film", long_text(ROOM, 11)):  # these fit in max_length
            before = estimator.predict_proba([text])
            np.testing.assert_array_equal(copy.predict_proba([text]), before)


def test_chunk_probabilities_are_the_softmax_of_the_mean_window_logits(
    fitted,
) -> None:
    estimator = fitted("chunk")
    encoded, rows = window_outputs(estimator, PROBE)
    assert len(rows) > len(PROBE)
    mean = mean_by_document(encoded, rows)
    proba = estimator.predict_proba(PROBE)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(proba, softmax(mean, axis=1), atol=1e-6)
    np.testing.assert_allclose(
        estimator.decision_function(PROBE), mean[:, 1] - mean[:, 0], atol=1e-5
    )
    np.testing.assert_array_equal(
        estimator.predict(PROBE), estimator.classes_[mean.argmax(axis=1)]
    )


def test_chunk_multilabel_probabilities_are_the_sigmoid_of_the_mean(
    tiny_model: str,
) -> None:
    estimator = small(tiny_model, long_text="chunk", stride=4).fit(DOCS, MULTI)
    encoded, rows = window_outputs(estimator, PROBE)
    mean = mean_by_document(encoded, rows)
    np.testing.assert_allclose(estimator.predict_proba(PROBE), expit(mean), atol=1e-6)
    np.testing.assert_allclose(estimator.decision_function(PROBE), mean, atol=1e-5)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_chunk_regressor_predicts_one_row_per_input(
    tiny_model: str, n_outputs: int
) -> None:
    y = np.c_[np.arange(16.0), np.arange(16.0) ** 2][:, :n_outputs]
    estimator = small(tiny_model, BertTextRegressor, long_text="chunk", stride=4)
    estimator.fit(DOCS, y.ravel() if n_outputs == 1 else y)
    predicted = estimator.predict(PROBE)
    assert predicted.shape == ((4,) if n_outputs == 1 else (4, 2))
    encoded, rows = window_outputs(estimator, PROBE)
    mean = mean_by_document(encoded, rows)
    expected = mean * estimator.target_scale_ + estimator.target_mean_
    np.testing.assert_allclose(
        predicted.reshape(4, -1), expected, rtol=1e-5, atol=1e-5 * y.std()
    )


# --- fitting on windows ---------------------------------------------------------------


def test_chunk_fit_trains_on_every_window_and_weighs_documents_once(
    tiny_model: str, tokenizer, train_calls
) -> None:
    weights = np.arange(1.0, 17.0)
    estimator = small(tiny_model, long_text="chunk", stride=4)
    estimator.fit(DOCS, LABELS, sample_weight=weights)
    ((batches, _),) = train_calls
    encoded = tokenize(tokenizer, DOCS, "chunk", stride=4)
    assert batches.n_samples == len(encoded) > len(DOCS)
    doc = batches.ids.doc
    np.testing.assert_array_equal(doc, encoded.doc)
    codes = np.searchsorted(estimator.classes_, LABELS)
    np.testing.assert_array_equal(batches.targets.numpy(), codes[doc])
    per_document = np.bincount(doc, weights=batches.weights.numpy().astype(np.float64))
    np.testing.assert_allclose(per_document, weights, rtol=1e-6)


def test_chunk_fit_differs_from_truncate(fitted) -> None:
    truncated = fitted("truncate").predict_proba(["good film"])
    chunked = fitted("chunk").predict_proba(["good film"])
    # A short text reads the same, so the difference is what was trained on.
    assert not np.array_equal(truncated, chunked)


def test_early_stopping_with_chunk_splits_documents(
    tiny_model: str, tokenizer, train_calls
) -> None:
    estimator = small(
        tiny_model,
        long_text="chunk",
        stride=4,
        epochs=3,
        learning_rate=1e-2,
        early_stopping=True,
        scoring="accuracy",
        validation_fraction=0.25,
        n_iter_no_change=5,
    ).fit(DOCS, LABELS)
    assert len(estimator.validation_scores_) == estimator.n_iter_ == 3
    # Four held-out documents: accuracy moves in steps of 1/4, not 1/windows.
    for score in estimator.validation_scores_:
        assert score * 4 == pytest.approx(round(score * 4))
    codes = np.searchsorted(estimator.classes_, LABELS)
    train, held = _data.validation_split(codes, 0.25, 0)
    assert len(held) == 4
    ((batches, _),) = train_calls
    trained = tokenize(tokenizer, [DOCS[i] for i in train], "chunk", stride=4)
    assert batches.n_samples == len(trained)


def test_early_stopping_with_chunk_scores_validation_documents(
    tiny_model: str,
) -> None:
    estimator = small(
        tiny_model,
        long_text="chunk",
        stride=4,
        epochs=3,
        learning_rate=1e-2,
        early_stopping=True,
        n_iter_no_change=5,
    ).fit(DOCS, LABELS, X_val=PROBE, y_val=PROBE_LABELS)
    assert len(estimator.validation_loss_curve_) == 3
    proba = estimator.predict_proba(PROBE)
    codes = np.searchsorted(estimator.classes_, PROBE_LABELS)
    loss = -np.mean(np.log(proba[np.arange(4), codes]))
    best = estimator.validation_loss_curve_[estimator.best_epoch_ - 1]
    assert best == pytest.approx(loss, rel=1e-5)


def test_auto_thresholds_with_chunk(tiny_model: str) -> None:
    estimator = small(tiny_model, long_text="chunk", stride=4, threshold="auto")
    estimator.fit(DOCS, MULTI, X_val=PROBE, y_val=PROBE_MULTI)
    proba = estimator.predict_proba(PROBE)
    np.testing.assert_array_equal(
        estimator.thresholds_, best_f1_thresholds(proba, PROBE_MULTI, np.ones(4))
    )


def test_partial_fit_with_chunk(tiny_model: str, train_calls) -> None:
    estimator = small(tiny_model, long_text="chunk", stride=4)
    estimator.partial_fit(DOCS[:8], LABELS[:8], classes=["neg", "pos"])
    estimator.partial_fit(DOCS[8:], LABELS[8:])
    assert estimator.n_iter_ == 2
    assert all(batches.n_samples > 8 for batches, _ in train_calls)
    assert estimator.predict_proba(PROBE).shape == (4, 2)


# --- persistence and model selection --------------------------------------------------


CASES = {
    "chunk-numpy": (
        BertTextClassifier,
        {"long_text": "chunk", "stride": np.int64(8), "head_ratio": np.float64(0.3)},
        DOCS,
        LABELS,
    ),
    "head_tail-numpy-threshold": (
        BertTextClassifier,
        {
            "long_text": "head_tail",
            "head_ratio": np.float64(0.3),
            "threshold": np.float64(0.3),
        },
        DOCS,
        MULTI,
    ),
    "chunk-auto": (
        BertTextClassifier,
        {"long_text": "chunk", "stride": np.int64(8), "threshold": "auto"},
        DOCS,
        MULTI,
    ),
    "regressor-chunk": (
        BertTextRegressor,
        {"long_text": "chunk", "stride": np.int64(8), "head_ratio": np.float64(0.3)},
        DOCS,
        np.arange(16.0),
    ),
    "pairs-chunk": (
        BertTextClassifier,
        {"long_text": "chunk", "stride": np.int64(4)},
        PAIRS,
        LABELS,
    ),
    "pairs-head_tail": (
        BertTextRegressor,
        {"long_text": "head_tail", "head_ratio": np.float64(0.6)},
        PAIRS,
        np.arange(16.0),
    ),
}


@pytest.mark.parametrize("how", ["save", "pickle", "joblib"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_long_text_round_trips(tiny_model: str, tmp_path, case: str, how: str) -> None:
    cls, params, X, y = CASES[case]
    estimator = small(tiny_model, cls, **params).fit(X, y)
    probe = X[:4]
    loaded = round_trip(estimator, how, tmp_path)
    assert type(loaded) is cls
    original, restored = estimator.get_params(), loaded.get_params()
    assert restored == original
    for name, value in original.items():
        assert type(restored[name]) is type(value), name
    thresholds = getattr(estimator, "thresholds_", None)
    if thresholds is None:
        assert getattr(loaded, "thresholds_", None) is None
    else:
        np.testing.assert_array_equal(loaded.thresholds_, thresholds)
    if cls is BertTextRegressor and how == "save":
        # save folds the target scaling into the output layer: float rounding.
        np.testing.assert_allclose(
            loaded.predict(probe), estimator.predict(probe), rtol=1e-7
        )
    else:
        np.testing.assert_array_equal(loaded.predict(probe), estimator.predict(probe))
    if cls is BertTextClassifier:
        np.testing.assert_array_equal(
            loaded.predict_proba(probe), estimator.predict_proba(probe)
        )
    # Read as fitted: another reading would give other outputs.
    other = read_as(loaded, long_text="truncate")
    assert not np.array_equal(outputs(other, probe), outputs(loaded, probe))


def test_grid_search_over_threshold_and_long_text(tiny_model: str) -> None:
    grid = GridSearchCV(
        small(tiny_model, stride=4),
        {"threshold": [0.3, "auto"], "long_text": ["truncate", "chunk"]},
        cv=KFold(2, shuffle=True, random_state=0),
        error_score="raise",
    )
    grid.fit(DOCS, MULTI)
    assert len(grid.cv_results_["params"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    best = grid.best_estimator_
    assert best.get_params()["threshold"] in (0.3, "auto")
    assert best.get_params()["long_text"] in ("truncate", "chunk")
    assert (best.thresholds_ is None) == (best.threshold == 0.3)
    assert best.predict(PROBE).shape == (4, 2)
    assert grid.score(PROBE, PROBE_MULTI) == best.score(PROBE, PROBE_MULTI)
