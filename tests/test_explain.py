"""Token attributions: ``explain`` on every estimator kind, on the tiny random BERT.

Integrated gradients must add up to the change in the explained output
(completeness), merge word pieces into words, follow ``long_text``, leave the
model untouched, and give the same answer however often, in whatever batch and
on however many threads it is asked.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.utils._param_validation import InvalidParameterError

from conftest import learning
from skbert import BertTextClassifier, BertTextRegressor, Explanation

TEXTS = [
    "good film",
    "great plot",
    "bad film",
    "awful plot",
    "a very good story",
    "the worst movie, really boring.",
    "really fun acting",
    "a dull and sad scene",
] * 2
LABELS = ["pos", "pos", "neg", "neg", "pos", "neg", "pos", "neg"] * 2
PROBE = ["good film", "goodness, what an awful plot!", "the music was fine"]


@pytest.fixture(scope="module")
def clf(tiny_model: str) -> BertTextClassifier:
    return learning(tiny_model).fit(TEXTS, LABELS)


@pytest.fixture(scope="module")
def explained(clf) -> Explanation:
    return clf.explain(PROBE)


def log_odds(p):
    return np.log(p) - np.log1p(-p)


def reference_ig(clf, text: str, column: int, n_points: int, output: str) -> np.ndarray:
    """Integrated gradients by a midpoint Riemann sum, one point at a time:
    the textbook definition, written independently of skbert's."""
    encoded = clf.tokenizer_(text, return_tensors="pt")
    ids = encoded["input_ids"]
    special = torch.isin(ids, torch.as_tensor(clf.tokenizer_.all_special_ids))
    baseline = torch.where(special, ids, clf.tokenizer_.pad_token_id)
    embed = clf.model_.get_input_embeddings()
    x, x0 = embed(ids).detach(), embed(baseline).detach()
    total = torch.zeros_like(x)
    for alpha in (np.arange(n_points) + 0.5) / n_points:
        point = (x0 + float(alpha) * (x - x0)).requires_grad_(True)
        logits = clf.model_(inputs_embeds=point).logits
        p = torch.softmax(logits, -1)[0, column]
        (p if output == "probability" else torch.log(p / (1 - p))).backward()
        total += point.grad
    return ((total / n_points) * (x - x0)).sum(-1)[0, 1:-1].numpy()


# --- what an explanation holds --------------------------------------------------------


def test_explanation_has_tokens_words_and_scores_per_input(clf, explained):
    assert isinstance(explained, Explanation) and len(explained) == len(PROBE)
    for item, text in zip(explained, PROBE, strict=True):
        assert item.text == text
        assert len(item.tokens) == len(item.token_scores) > 0
        assert len(item.words) == len(item.scores) == len(item.spans)
        assert "[CLS]" not in item.tokens and "[SEP]" not in item.tokens
        for word, (start, end) in zip(item.words, item.spans, strict=True):
            assert text[start:end] == word
    assert explained[0].words == ["good", "film"]
    np.testing.assert_array_equal(explained.target, clf.predict(PROBE))
    np.testing.assert_array_equal(explained.prediction, clf.predict(PROBE))
    proba = clf.predict_proba(PROBE)
    columns = np.searchsorted(clf.classes_, explained.target)
    target_proba = proba[np.arange(3), columns]
    assert explained.output_name == "log-odds of the target class"
    np.testing.assert_allclose(explained.output, log_odds(target_proba), rtol=1e-4)
    probability = clf.explain(PROBE, output="probability", n_steps=8)
    assert probability.output_name == "probability of the target class"
    np.testing.assert_allclose(probability.output, target_proba, rtol=1e-5)


def test_log_odds_of_one_class_among_three_is_against_all_the_others(tiny_model):
    labels = ["pos", "pos", "neg", "neg", "pos", "neg", "mid", "mid"] * 2
    clf = learning(tiny_model, epochs=2).fit(TEXTS, labels)
    proba = clf.predict_proba(PROBE)
    for target in clf.classes_:
        found = clf.explain(PROBE, target=target, n_steps=4).output
        expected = log_odds(proba[:, list(clf.classes_).index(target)])
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)


def test_word_pieces_are_summed_into_words(explained):
    item = explained[1]  # "goodness" is good ##n ##e ##s ##s in the tiny vocabulary
    assert item.tokens[:5] == ["good", "##n", "##e", "##s", "##s"]
    assert item.words[:2] == ["goodness", ","]
    assert item.scores[0] == pytest.approx(item.token_scores[:5].sum(), abs=1e-7)
    assert item.scores.sum() == pytest.approx(item.token_scores.sum(), abs=1e-6)
    assert item.words[-3:] == ["awful", "plot", "!"]


def test_attributions_add_up_to_the_change_in_output(clf):
    explanation = clf.explain(PROBE, n_steps=64)
    change = explanation.output - explanation.baseline_output
    assert np.abs(change).min() > 1e-3  # the tiny model's outputs do move
    sums = np.array([item.scores.sum() for item in explanation])
    np.testing.assert_allclose(sums, change, rtol=1e-3, atol=1e-6)
    assert (explanation.completeness_error < 1e-3).all()
    assert explanation[0].delta == pytest.approx(sums[0] - change[0])


@pytest.mark.parametrize("output", ["log-odds", "probability"])
def test_attributions_match_a_plain_riemann_sum(clf, output):
    column = int(np.searchsorted(clf.classes_, "neg"))
    reference = reference_ig(clf, PROBE[1], column, 400, output)
    found = clf.explain(PROBE[1:2], target="neg", output=output, n_steps=32)
    found = found[0].token_scores
    np.testing.assert_allclose(found, reference, atol=2e-4 * np.abs(reference).max())


def test_more_steps_are_more_complete(clf):
    few = clf.explain(PROBE, n_steps=2).completeness_error
    many = clf.explain(PROBE, n_steps=32).completeness_error
    assert many.mean() < few.mean()


def test_any_class_can_be_explained_and_two_classes_mirror(clf):
    pos = clf.explain(PROBE, target="pos")
    neg = clf.explain(PROBE, target=["neg"] * 3)
    assert pos.target.tolist() == ["pos"] * 3 and neg.target.tolist() == ["neg"] * 3
    for a, b in zip(pos, neg, strict=True):  # log-odds(neg) = -log-odds(pos)
        np.testing.assert_allclose(a.scores, -b.scores, atol=1e-6)
    pos = clf.explain(PROBE, target="pos", output="probability")
    neg = clf.explain(PROBE, target="neg", output="probability")
    for a, b in zip(pos, neg, strict=True):  # p(neg) = 1 - p(pos)
        np.testing.assert_allclose(a.scores, -b.scores, atol=1e-6)


# --- determinism, batching, the model untouched, threads ------------------------------


def test_explaining_is_deterministic_and_batch_independent(clf, explained):
    again = clf.explain(PROBE)
    alone = [clf.explain([text])[0] for text in PROBE]
    for first, second, single in zip(explained, again, alone, strict=True):
        np.testing.assert_array_equal(first.token_scores, second.token_scores)
        np.testing.assert_allclose(first.token_scores, single.token_scores, atol=1e-6)


def test_explaining_changes_no_weight_and_no_prediction(tiny_model):
    clf = learning(tiny_model, epochs=2).fit(TEXTS, LABELS)
    before = {k: v.clone() for k, v in clf.model_.state_dict().items()}
    proba = clf.predict_proba(PROBE)
    clf.explain(PROBE, n_steps=8)
    for name, value in clf.model_.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert all(p.grad is None for p in clf.model_.parameters())
    assert not clf.model_.training
    np.testing.assert_array_equal(clf.predict_proba(PROBE), proba)


@pytest.mark.parametrize("method", ["integrated-gradients", "deletion"])
def test_explaining_is_safe_on_several_threads(clf, method):
    def explain(text):
        return clf.explain([text], n_steps=8, method=method)[0]

    expected = [explain(text).token_scores for text in PROBE * 2]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(explain, PROBE * 2))
    for item, scores in zip(found, expected, strict=True):
        np.testing.assert_allclose(item.token_scores, scores, atol=1e-6)


# --- every estimator kind -------------------------------------------------------------


def test_text_pairs_are_explained_word_by_word_in_both_texts(tiny_model):
    pairs = [(a, b) for a, b in zip(TEXTS, TEXTS[3:] + TEXTS[:3], strict=True)]
    clf = learning(tiny_model, epochs=2).fit(pairs, LABELS)
    explanation = clf.explain([("good film", "the plot was bad")], n_steps=32)
    item = explanation[0]
    assert item.words == ["good", "film", "the", "plot", "was", "bad"]
    assert item.parts.tolist() == [0, 0, 1, 1, 1, 1]
    assert item.completeness_error < 1e-3
    frame = explanation.to_frame()
    assert frame["part"].tolist() == [0, 0, 1, 1, 1, 1]


def test_multilabel_explains_a_label_logit_or_probability(tiny_model):
    pairs = zip(TEXTS, LABELS, strict=True)
    Y = np.array([[label == "pos", "plot" in text] for text, label in pairs])
    clf = learning(tiny_model, epochs=2).fit(TEXTS, Y.astype(int))
    logits = clf.decision_function(PROBE)[:, 1]
    explanation = clf.explain(PROBE, target=1, n_steps=32)
    assert explanation.output_name == "log-odds of the target label"
    np.testing.assert_allclose(explanation.output, logits, rtol=1e-4, atol=1e-6)
    assert (explanation.completeness_error < 1e-3).all()
    explanation = clf.explain(PROBE, target=1, output="probability", n_steps=32)
    np.testing.assert_allclose(explanation.output, expit(logits), rtol=1e-5)
    assert (explanation.completeness_error < 1e-3).all()
    default = clf.explain(PROBE, n_steps=4).target
    np.testing.assert_array_equal(default, clf.predict_proba(PROBE).argmax(axis=1))
    assert all(isinstance(p, tuple) for p in explanation.prediction)


def test_regressor_explains_each_output_in_the_units_of_y(tiny_model):
    y = np.c_[np.arange(16) % 4 * 10.0, np.arange(16) % 2]
    reg = learning(tiny_model, BertTextRegressor, epochs=2).fit(TEXTS, y)
    for output in (0, 1):
        explanation = reg.explain(PROBE, target=output, n_steps=32)
        np.testing.assert_allclose(
            explanation.output, reg.predict(PROBE)[:, output], rtol=1e-5
        )
        change = explanation.output - explanation.baseline_output
        sums = [item.scores.sum() for item in explanation]
        np.testing.assert_allclose(sums, change, rtol=1e-3, atol=1e-5)
    assert explanation.output_name == "predicted value"
    same = reg.explain(PROBE, target=1, output="value", n_steps=32)
    np.testing.assert_array_equal(same.output, explanation.output)


def test_chunked_documents_are_explained_whole_in_document_order(tiny_model):
    text = "the worst movie, really boring and an awful plot but good music"
    clf = learning(tiny_model, epochs=2, long_text="chunk", max_length=8, stride=2)
    clf.fit(TEXTS, LABELS)
    item = clf.explain([text], n_steps=32)[0]
    assert item.tokens == clf.tokenizer_.tokenize(text)  # every token once, in order
    assert " ".join(item.words) == "the worst movie , really boring and an awful " + (
        "plot but good music"
    )
    p = clf.predict_proba([text]).max()
    assert item.output == pytest.approx(log_odds(p), rel=1e-4)
    assert item.completeness_error < 1e-3


def test_a_model_without_segment_ids_is_explained(tiny_distilbert):
    clf = learning(tiny_distilbert, epochs=2).fit(TEXTS, LABELS)
    explanation = clf.explain(PROBE, n_steps=32)
    assert explanation[0].words == ["good", "film"]
    assert (explanation.completeness_error < 1e-3).all()


def test_truncated_text_explains_only_what_the_model_read(tiny_model):
    clf = learning(tiny_model, epochs=1, max_length=5).fit(TEXTS, LABELS)
    item = clf.explain(["a very good story indeed"], n_steps=8)[0]
    assert item.words == ["a", "very", "good"]


def test_calibrated_classifier_explains_the_calibrated_probability(tiny_model):
    clf = learning(tiny_model, epochs=2, calibrate=True).fit(TEXTS, LABELS)
    assert clf.temperature_ != 1.0
    explanation = clf.explain(PROBE, target="pos", output="probability", n_steps=32)
    column = list(clf.classes_).index("pos")
    np.testing.assert_allclose(
        explanation.output, clf.predict_proba(PROBE)[:, column], rtol=1e-5
    )
    logits = clf.decision_function(PROBE)  # divided by the temperature already
    assert np.allclose(explanation.output, expit(logits if column else -logits))
    log_odds_of_pos = clf.explain(PROBE, target="pos", n_steps=32).output
    np.testing.assert_allclose(
        log_odds_of_pos, logits if column else -logits, rtol=1e-4
    )


# --- display --------------------------------------------------------------------------


def test_to_frame_has_a_row_per_word(explained):
    pd = pytest.importorskip("pandas")
    frame = explained.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert {"text", "word", "attribution", "target", "prediction"} <= set(frame)
    assert len(frame) == sum(len(item.words) for item in explained)
    assert frame["text"].tolist() == [
        i for i, item in enumerate(explained) for _ in item.words
    ]
    first = frame[frame["text"] == 1]
    assert first["word"].tolist() == explained[1].words
    np.testing.assert_array_equal(first["attribution"], explained[1].scores)


def test_to_frame_without_pandas_says_what_to_install(explained, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        explained.to_frame()


def test_html_colours_every_word_by_its_sign(explained):
    page = explained._repr_html_()
    item = explained[1]
    for word, score in zip(item.words, item.scores, strict=True):
        colour = "0,150,0" if score >= 0 else "220,0,0"
        assert f'title="{score:+.4f}">{word}</span>' in page
        assert colour in page
    assert "goodness, what an awful plot!" not in page  # split into words
    assert page.count("<span") == sum(len(item.words) for item in explained)
    dangerous = explained.__class__(
        [explained[0].__class__(**{**vars(explained[0]), "text": "<b>x</b>"})],
        "x",
        1,
    )
    assert "<b>x</b>" not in dangerous._repr_html_()


def test_plain_text_lists_every_word_with_its_score(explained):
    text = str(explained)
    assert text.count("\n[") == len(explained) - 1
    for item in explained:
        for word, score in zip(item.words, item.scores, strict=True):
            assert f"{word}({score:+.3f})" in text.replace("\n    ", " ")
    assert "n_steps=50" in repr(explained)


def test_slicing_gives_an_explanation(explained):
    part = explained[1:]
    assert isinstance(part, Explanation) and len(part) == 2
    assert part[0] is explained[1]


# --- bad input ------------------------------------------------------------------------


def test_explaining_an_unfitted_estimator_raises(tiny_model):
    with pytest.raises(NotFittedError):
        BertTextClassifier(tiny_model).explain(["good"])


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_text_is_named(clf, empty):
    with pytest.raises(ValueError, match=r"Item 1 of X .* has no tokens to explain"):
        clf.explain(["good", empty])


def test_a_target_that_is_not_a_class_is_named(clf):
    with pytest.raises(ValueError, match=r"target='maybe' is not a class .*'neg'"):
        clf.explain(["good"], target="maybe")
    with pytest.raises(ValueError, match="target has shape"):
        clf.explain(["good", "bad"], target=["pos"] * 3)


def test_a_regressor_output_out_of_range_is_named(tiny_model):
    reg = learning(tiny_model, BertTextRegressor, epochs=1).fit(TEXTS, range(16))
    for bad in (1, -1, "0"):
        with pytest.raises(ValueError, match=f"target={bad!r} is not an output"):
            reg.explain(["good"], target=bad)


def test_an_output_the_estimator_does_not_have_is_named(clf, tiny_model):
    with pytest.raises(
        InvalidParameterError, match=r"'output' parameter of .*'log-odds'"
    ):
        clf.explain(["good"], output="logit")
    reg = learning(tiny_model, BertTextRegressor, epochs=1).fit(TEXTS, range(16))
    with pytest.raises(InvalidParameterError, match=r"'output' parameter of .*'value'"):
        reg.explain(["good"], output="probability")


@pytest.mark.parametrize("n_steps", [0, 2.5, "50"])
def test_bad_n_steps_is_named(clf, n_steps):
    with pytest.raises(InvalidParameterError, match="'n_steps' parameter of"):
        clf.explain(["good"], n_steps=n_steps)


@pytest.mark.parametrize("method", ["gradients", None])
def test_an_unknown_method_is_named(clf, method):
    with pytest.raises(InvalidParameterError, match="'method' parameter of"):
        clf.explain(["good"], method=method)


# --- greedy deletion ------------------------------------------------------------------


def reference_deletion(clf, text: str, column: int) -> tuple[list[int], np.ndarray]:
    """Greedy deletion one word per round, one candidate at a time, written from
    the definition: the order in which the words go and the fall in log-odds
    each one caused when it went."""
    encoded = clf.tokenizer_(text)
    ids, words = np.array(encoded["input_ids"]), encoded.word_ids()
    n = max(w for w in words if w is not None) + 1

    def log_odds_without(gone: set[int]) -> float:
        keep = [i for i, w in enumerate(words) if w is None or w not in gone]
        with torch.no_grad():
            logits = clf.model_(input_ids=torch.as_tensor(ids[keep])[None]).logits
        p = float(torch.softmax(logits, -1)[0, column])
        return float(np.log(p) - np.log1p(-p))

    gone: set[int] = set()
    order, falls = [], np.zeros(n)
    while len(gone) < n:
        current = log_odds_without(gone)
        left = [w for w in range(n) if w not in gone]
        fall = {w: current - log_odds_without(gone | {w}) for w in left}
        best = max(left, key=lambda w: (fall[w], -w))
        order.append(best)
        falls[best] = fall[best]
        gone.add(best)
    return order, falls


def test_deletion_one_word_a_round_matches_the_definition(clf):
    explanation = clf.explain(PROBE, method="deletion", n_steps=100)
    assert explanation.method == "deletion" and explanation.n_steps == 100
    assert "deletion, n_steps=100" in repr(explanation)
    for item, text in zip(explanation, PROBE, strict=True):
        column = list(clf.classes_).index(item.target)
        order, falls = reference_deletion(clf, text, column)
        # the scores rank the words in the order they went ...
        assert np.argsort(-item.scores, kind="stable").tolist() == order
        # ... and are the falls along that order, made non-increasing
        in_order = falls[order]
        pooled = IsotonicRegression(increasing=False).fit_transform(
            np.arange(len(order)), in_order
        )
        np.testing.assert_allclose(item.scores[order], pooled, rtol=1e-4, atol=1e-5)
        assert item.words == explanation_words(clf, text)
    # tokens of a word share its score
    item = explanation[1]  # "goodness" is five word pieces
    np.testing.assert_allclose(item.token_scores[:5], item.scores[0] / 5, rtol=1e-6)


def test_falls_are_pooled_into_a_non_increasing_sequence_with_the_same_sum():
    from skbert._explain import _non_increasing

    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 30):
        values = rng.normal(size=n)
        found = _non_increasing(values)
        assert found.sum() == pytest.approx(values.sum(), abs=1e-9)
        assert (np.diff(found) < 0).all()  # strictly: sorting gives the order
        expected = IsotonicRegression(increasing=False).fit_transform(
            np.arange(n), values
        )
        np.testing.assert_allclose(found, expected, atol=1e-7)
    np.testing.assert_allclose(
        _non_increasing(np.array([3.0, 1.0, 2.0])), [3, 1.5, 1.5]
    )
    assert _non_increasing(np.array([2.0, 2.0])).tolist() != [2.0, 2.0]  # tie broken


def explanation_words(clf, text):
    return clf.explain([text], n_steps=2)[0].words


@pytest.mark.parametrize("n_steps", [1, 3, None])
def test_deletion_adds_up_exactly_to_the_input_against_no_words(clf, n_steps):
    explanation = clf.explain(PROBE, method="deletion", n_steps=n_steps)
    proba = clf.predict_proba(PROBE)
    columns = np.searchsorted(clf.classes_, explanation.target)
    np.testing.assert_allclose(
        explanation.output, log_odds(proba[np.arange(3), columns]), rtol=1e-4
    )
    # the baseline is the input with every word deleted: its special tokens alone
    special = clf.tokenizer_("")["input_ids"]
    with torch.no_grad():
        empty = torch.softmax(clf.model_(torch.as_tensor([special])).logits, -1)[0]
    np.testing.assert_allclose(
        explanation.baseline_output, log_odds(empty[columns].numpy()), rtol=1e-4
    )
    sums = np.array([item.scores.sum() for item in explanation])
    change = explanation.output - explanation.baseline_output
    np.testing.assert_allclose(sums, change, rtol=1e-5, atol=1e-5)
    assert (explanation.completeness_error < 1e-4).all()


def test_deletion_is_the_same_alone_in_a_batch_and_in_small_groups(clf, monkeypatch):
    from skbert import _explain

    together = list(clf.explain(PROBE * 2, method="deletion", n_steps=4))
    again = list(clf.explain(PROBE * 2, method="deletion", n_steps=4))
    for first, second in zip(together, again, strict=True):
        np.testing.assert_array_equal(first.token_scores, second.token_scores)
    alone = [clf.explain([t], method="deletion", n_steps=4)[0] for t in PROBE]
    monkeypatch.setattr(_explain, "DELETION_ROWS", 3)  # one input per group
    grouped = list(clf.explain(PROBE, method="deletion", n_steps=4))
    for first, second, single, small in zip(
        together[:3], together[3:], alone, grouped, strict=True
    ):
        np.testing.assert_allclose(first.token_scores, second.token_scores, atol=1e-6)
        np.testing.assert_allclose(first.token_scores, single.token_scores, atol=1e-5)
        np.testing.assert_allclose(small.token_scores, single.token_scores, atol=1e-5)


def test_deletion_explains_pairs_regressors_multilabel_and_chunks(tiny_model):
    pairs = [(a, b) for a, b in zip(TEXTS, TEXTS[3:] + TEXTS[:3], strict=True)]
    clf = learning(tiny_model, epochs=2).fit(pairs, LABELS)
    item = clf.explain([("good film", "the plot was bad")], method="deletion")[0]
    assert item.parts.tolist() == [0, 0, 1, 1, 1, 1]
    assert item.completeness_error < 1e-4
    y = np.c_[np.arange(16) % 4 * 10.0, np.arange(16) % 2]
    reg = learning(tiny_model, BertTextRegressor, epochs=2).fit(TEXTS, y)
    explanation = reg.explain(PROBE, target=1, method="deletion")
    np.testing.assert_allclose(explanation.output, reg.predict(PROBE)[:, 1], rtol=1e-5)
    assert (explanation.completeness_error < 1e-4).all()
    Y = np.array(
        [[label == "pos", "plot" in t] for t, label in zip(TEXTS, LABELS, strict=True)]
    )
    multi = learning(tiny_model, epochs=2).fit(TEXTS, Y.astype(int))
    explanation = multi.explain(PROBE, target=1, method="deletion", n_steps=2)
    logits = multi.decision_function(PROBE)[:, 1]
    np.testing.assert_allclose(explanation.output, logits, rtol=1e-4, atol=1e-6)
    assert (explanation.completeness_error < 1e-4).all()
    text = "the worst movie, really boring and an awful plot but good music"
    chunked = learning(tiny_model, epochs=2, long_text="chunk", max_length=8, stride=2)
    item = chunked.fit(TEXTS, LABELS).explain([text], method="deletion")[0]
    assert item.tokens == chunked.tokenizer_.tokenize(text)
    p = chunked.predict_proba([text]).max()
    assert item.output == pytest.approx(log_odds(p), rel=1e-4)
    assert item.completeness_error < 1e-4


def test_deletion_changes_no_weight_and_no_prediction(tiny_model):
    clf = learning(tiny_model, epochs=2).fit(TEXTS, LABELS)
    before = {k: v.clone() for k, v in clf.model_.state_dict().items()}
    proba = clf.predict_proba(PROBE)
    clf.explain(PROBE, method="deletion")
    for name, value in clf.model_.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert not clf.model_.training
    np.testing.assert_array_equal(clf.predict_proba(PROBE), proba)
