"""Training control: early stopping, weights, warm starts, interruption, precision."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skbert import BertTextClassifier, _data, _engine, _hub
from skbert.exceptions import NonFiniteLossError, TrainingInterruptedWarning

POS = ["good film", "great plot", "i love this movie", "wonderful story", "best acting"]
NEG = ["bad film", "awful plot", "i hate this movie", "terrible story", "worst acting"]
TEXTS = (POS + NEG) * 10
LABELS = (["pos"] * 5 + ["neg"] * 5) * 10


def small(model: str, **params) -> BertTextClassifier:
    settings = {
        "epochs": 2,
        "batch_size": 8,
        "learning_rate": 1e-2,
        "random_state": 0,
        "min_steps": 0,
        # The fault tests below count the training loop's forward passes; a
        # linear probe's passes before it would shift them (test_few_shot tests it).
        "head_init": "random",
    }
    settings.update(params)
    return BertTextClassifier(model, **settings)


def _raise_in_forward(model: torch.nn.Module, at_call: int, action) -> None:
    """Make the ``at_call``-th forward pass of ``model`` run ``action``."""
    calls = {"n": 0}

    def hook(module, args, output):
        calls["n"] += 1
        if calls["n"] == at_call:
            return action(output)
        return None

    model.register_forward_hook(hook)


@pytest.fixture
def hooked_model(monkeypatch):
    """Patch model loading so a test can attach hooks to the model fit() trains."""
    loaded = {}
    real_load = _hub.load_model

    def load(*args, **kwargs):
        loaded["model"] = real_load(*args, **kwargs)
        if "setup" in loaded:
            loaded["setup"](loaded["model"])
        return loaded["model"]

    monkeypatch.setattr(_hub, "load_model", load)
    return loaded


# --- early stopping -----------------------------------------------------------------


def test_early_stopping_restores_the_best_epoch_after_a_harmful_late_phase(
    tiny_model, monkeypatch
):
    real_factor = _engine.lr_factor

    def harmful(kind, step, total, warmup):
        # Epochs 1-4 learn (10 steps each; with random_state=2 the tiny model
        # reaches a validation loss near 0.01 by epoch 4); from epoch 5 the rate
        # is 30x and the model falls apart.
        return 30.0 if step >= 40 else real_factor(kind, step, total, warmup)

    monkeypatch.setattr(_engine, "lr_factor", harmful)
    clf = small(
        tiny_model,
        epochs=10,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=3,
        random_state=2,
    ).fit(TEXTS, LABELS)
    assert clf.n_iter_ < 10
    assert clf.best_epoch_ == int(np.argmax(clf.validation_scores_)) + 1
    assert clf.n_iter_ == clf.best_epoch_ + 3
    last_score = clf.validation_scores_[-1]
    assert clf.best_validation_score_ > last_score + 0.5
    # Re-score the held-out texts with the restored weights.
    targets = np.searchsorted(clf.classes_, LABELS)
    _, held_out = _data.validation_split(targets, 0.2, 2)
    proba = clf.predict_proba([TEXTS[i] for i in held_out])
    loss = -np.mean(np.log(proba[np.arange(len(held_out)), targets[held_out]]))
    assert -loss == pytest.approx(clf.best_validation_score_, abs=1e-5)


def test_early_stopping_attributes_and_history(tiny_model):
    clf = small(tiny_model, epochs=3, early_stopping=True, scoring="accuracy")
    clf.fit(TEXTS, LABELS)
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    assert all(0.0 <= score <= 1.0 for score in clf.validation_scores_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert [h["epoch"] for h in clf.history_] == list(range(1, clf.n_iter_ + 1))
    for record in clf.history_:
        assert set(record) == {
            "epoch",
            "learning_rate",
            "seconds",
            "train_loss",
            "validation_loss",
            "validation_score",
        }
        assert record["seconds"] > 0


def test_scoring_accepts_a_callable(tiny_model):
    calls = []

    def scorer(estimator, X, y):
        calls.append(len(X))
        return float(np.mean(estimator.predict(X) == y))

    clf = small(tiny_model, epochs=2, early_stopping=True, scoring=scorer)
    clf.fit(TEXTS, LABELS)
    assert calls == [10, 10]
    assert clf.validation_scores_ == pytest.approx(
        [h["validation_score"] for h in clf.history_]
    )


def test_without_early_stopping_the_validation_attributes_are_none(tiny_model):
    clf = small(tiny_model, epochs=1).fit(TEXTS, LABELS)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.best_epoch_ is None and clf.validation_loss_curve_ is None
    assert set(clf.history_[0]) == {"epoch", "learning_rate", "seconds", "train_loss"}


def test_early_stopping_with_too_few_texts_per_class_is_explained(tiny_model):
    with pytest.raises(ValueError, match="cannot hold out a stratified"):
        small(tiny_model, early_stopping=True).fit(["good", "bad", "fine"], [1, 0, 0])


VAL_TEXTS = ["good story", "awful film", "i love this plot", "worst movie"]
VAL_LABELS = ["pos", "neg", "pos", "neg"]


def test_x_val_is_the_validation_set_and_all_of_x_is_trained(tiny_model):
    params = {"epochs": 1, "n_iter_no_change": 1}
    given = small(tiny_model, early_stopping=True, **params)
    given.fit(TEXTS, LABELS, X_val=VAL_TEXTS, y_val=VAL_LABELS)
    plain = small(tiny_model, **params).fit(TEXTS, LABELS)
    # The same training (all 100 texts, same batches) as without early stopping...
    np.testing.assert_array_equal(
        given.predict_proba(VAL_TEXTS), plain.predict_proba(VAL_TEXTS)
    )
    # ...and the validation loss is the log-loss of exactly X_val.
    assert given.validation_loss_curve_[0] == pytest.approx(
        log_loss(VAL_LABELS, given.predict_proba(VAL_TEXTS), labels=given.classes_),
        rel=1e-5,
    )


def test_x_val_weights_take_the_training_class_balance(tiny_model):
    texts, labels = TEXTS[:60] + POS * 4, LABELS[:60] + ["pos"] * 20  # 50 pos, 30 neg
    weights_val = [1.0, 2.0, 1.0, 3.0]
    clf = small(tiny_model, epochs=1, early_stopping=True, class_weight="balanced")
    clf.fit(
        texts, labels, X_val=VAL_TEXTS, y_val=VAL_LABELS, sample_weight_val=weights_val
    )
    balanced = {"neg": 80 / (2 * 30), "pos": 80 / (2 * 50)}  # counted on y, not y_val
    expected = log_loss(
        VAL_LABELS,
        clf.predict_proba(VAL_TEXTS),
        sample_weight=[
            w * balanced[y] for w, y in zip(weights_val, VAL_LABELS, strict=True)
        ],
        labels=clf.classes_,
    )
    assert clf.validation_loss_curve_[0] == pytest.approx(expected, rel=1e-5)


def test_a_pipeline_transforms_x_val_with_metadata_routing(tiny_model):
    seen = []

    def lower(texts):
        seen.append(list(texts))
        return [text.lower() for text in texts]

    with sklearn.config_context(enable_metadata_routing=True):
        clf = small(tiny_model, epochs=1, early_stopping=True)
        clf.set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline(
            [("lower", FunctionTransformer(lower)), ("clf", clf)],
            transform_input=["X_val"],
        )
        pipe.fit(TEXTS, LABELS, X_val=["GOOD FILM", "BAD FILM"], y_val=["pos", "neg"])
    assert ["GOOD FILM", "BAD FILM"] in seen
    assert len(pipe[-1].validation_loss_curve_) == 1


@pytest.mark.parametrize(
    ("params", "fit_params", "message"),
    [
        ({}, {"X_val": VAL_TEXTS, "y_val": VAL_LABELS}, "early_stopping=False"),
        ({"early_stopping": True}, {"X_val": VAL_TEXTS}, "y_val is not"),
        ({"early_stopping": True}, {"y_val": VAL_LABELS}, "X_val is not"),
        ({"early_stopping": True}, {"sample_weight_val": [1.0]}, "without X_val"),
        (
            {"early_stopping": True},
            {"X_val": VAL_TEXTS, "y_val": ["pos", "neg", "pos", "meh"]},
            r"y_val has classes not in y: \['meh'\]",
        ),
        (
            {"early_stopping": True},
            {"X_val": VAL_TEXTS, "y_val": VAL_LABELS[:3]},
            r"X_val has 4 texts but y_val has shape \(3,\)",
        ),
        (
            {"early_stopping": True},
            {"X_val": ["ok", None, "ok", "ok"], "y_val": VAL_LABELS},
            "Item 1 of X_val is None",
        ),
        (
            {"early_stopping": True},
            {"X_val": VAL_TEXTS, "y_val": VAL_LABELS, "sample_weight_val": [1.0]},
            r"sample_weight_val has shape \(1,\); expected \(4,\)",
        ),
        (
            {"early_stopping": True},
            {
                "X_val": VAL_TEXTS,
                "y_val": VAL_LABELS,
                "sample_weight_val": [1.0, -1.0, 1.0, 1.0],
            },
            "sample_weight_val: Negative values",
        ),
    ],
)
def test_bad_validation_data_is_named(tiny_model, params, fit_params, message):
    with pytest.raises((ValueError, TypeError), match=message):
        small(tiny_model, **params).fit(TEXTS, LABELS, **fit_params)


def test_bad_scoring_name_is_a_parameter_error(tiny_model):
    with pytest.raises(ValueError, match="The 'scoring' parameter"):
        small(tiny_model, scoring="not-a-scorer").fit(TEXTS, LABELS)


# --- class and sample weights --------------------------------------------------------


def test_class_weight_dict_equals_the_same_sample_weights(tiny_model):
    by_class = small(tiny_model, class_weight={"pos": 3.0, "neg": 0.5})
    by_class.fit(TEXTS, LABELS)
    weights = [3.0 if label == "pos" else 0.5 for label in LABELS]
    by_sample = small(tiny_model).fit(TEXTS, LABELS, sample_weight=weights)
    np.testing.assert_allclose(
        by_class.predict_proba(POS + NEG), by_sample.predict_proba(POS + NEG)
    )


def test_unit_sample_weights_change_nothing(tiny_model):
    plain = small(tiny_model).fit(TEXTS, LABELS)
    ones = small(tiny_model).fit(TEXTS, LABELS, sample_weight=np.ones(len(TEXTS)))
    np.testing.assert_array_equal(plain.predict_proba(POS), ones.predict_proba(POS))


def test_sample_weights_change_the_fit(tiny_model):
    plain = small(tiny_model).fit(TEXTS, LABELS)
    weights = np.where(np.asarray(LABELS) == "pos", 5.0, 1.0)
    weighted = small(tiny_model).fit(TEXTS, LABELS, sample_weight=weights)
    assert not np.allclose(plain.predict_proba(POS), weighted.predict_proba(POS))


def test_balanced_class_weight_follows_scikit_learn():
    classes = np.array(["a", "b"])
    targets = np.array([0, 0, 0, 1])
    weights = _data.sample_weights(None, "balanced", classes, targets)
    np.testing.assert_allclose(weights, [4 / 6, 4 / 6, 4 / 6, 2.0])


def test_validation_loss_is_weighted(tiny_model):
    weights = np.where(np.asarray(LABELS) == "pos", 4.0, 1.0)
    a = small(tiny_model, epochs=1, early_stopping=True).fit(TEXTS, LABELS)
    b = small(tiny_model, epochs=1, early_stopping=True)
    b.fit(TEXTS, LABELS, sample_weight=weights)
    assert a.validation_loss_curve_ != b.validation_loss_curve_


@pytest.mark.parametrize(
    ("sample_weight", "message"),
    [
        ([1.0] * 3, r"sample_weight has shape \(3,\); expected \(100,\)"),
        ([-1.0] + [1.0] * 99, "Negative values in data passed to `sample_weight`"),
        ([0.0] * 100, "Sample weights must contain at least one non-zero number"),
    ],
)
def test_bad_sample_weight_is_named(tiny_model, sample_weight, message):
    with pytest.raises(ValueError, match=message):
        small(tiny_model).fit(TEXTS, LABELS, sample_weight=sample_weight)


def test_zero_class_weights_everywhere_are_refused(tiny_model):
    with pytest.raises(ValueError, match="every text with weight 0"):
        small(tiny_model, class_weight={"pos": 0, "neg": 0}).fit(TEXTS, LABELS)


def test_class_weight_for_an_unknown_label_is_named(tiny_model):
    with pytest.raises(ValueError, match=r"not in class_weight|not found in"):
        small(tiny_model, class_weight={"maybe": 2.0}).fit(TEXTS, LABELS)


# --- warm start and partial_fit ----------------------------------------------------


def test_warm_start_continues_from_the_fitted_weights(tiny_model):
    clf = small(tiny_model, epochs=1, warm_start=True).fit(TEXTS, LABELS)
    model = clf.model_
    after_first = _weights(model)
    clf.fit(TEXTS, LABELS)
    assert clf.model_ is model
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert [h["epoch"] for h in clf.history_] == [1, 2]
    after_second = _weights(model)
    assert any(not torch.equal(after_first[k], after_second[k]) for k in after_first)
    # A cold fit with the same seed ends where the first warm fit did, not here.
    cold = small(tiny_model, epochs=1).fit(TEXTS, LABELS)
    cold_weights = _weights(cold.model_)
    assert all(torch.equal(after_first[k], cold_weights[k]) for k in after_first)
    assert any(not torch.equal(after_second[k], cold_weights[k]) for k in after_first)


def test_without_warm_start_fit_starts_over(tiny_model):
    clf = small(tiny_model, epochs=1).fit(TEXTS, LABELS)
    model = clf.model_
    clf.fit(TEXTS, LABELS)
    assert clf.model_ is not model and clf.n_iter_ == 1


def test_warm_start_with_other_classes_names_both(tiny_model):
    clf = small(tiny_model, epochs=1, warm_start=True).fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"Previously got \['neg', 'pos'\], `y` has"):
        clf.fit(TEXTS, ["a" if label == "pos" else "b" for label in LABELS])


def test_partial_fit_trains_one_epoch_per_call(tiny_model):
    clf = small(tiny_model)
    clf.partial_fit(POS, ["pos"] * 5, classes=["neg", "pos"])
    assert list(clf.classes_) == ["neg", "pos"] and clf.n_iter_ == 1
    model = clf.model_
    clf.partial_fit(NEG, ["neg"] * 5)
    assert clf.model_ is model and clf.n_iter_ == 2 and len(clf.loss_curve_) == 2


def test_partial_fit_refuses_balanced_class_weight(tiny_model):
    clf = small(tiny_model, class_weight="balanced")
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        clf.partial_fit(POS, ["pos"] * 5, classes=["neg", "pos"])


def test_partial_fit_accepts_a_dict_class_weight(tiny_model):
    clf = small(tiny_model, class_weight={"pos": 2.0})
    clf.partial_fit(POS, ["pos"] * 5, classes=["neg", "pos"])
    assert clf.n_iter_ == 1


def test_partial_fit_needs_classes_first(tiny_model):
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        small(tiny_model).partial_fit(POS, ["pos"] * 5)


def test_partial_fit_rejects_unknown_labels(tiny_model):
    clf = small(tiny_model).partial_fit(POS, ["pos"] * 5, classes=["neg", "pos"])
    with pytest.raises(ValueError, match=r"y has classes not in classes_: \['meh'\]"):
        clf.partial_fit(NEG[:1], ["meh"])


# --- interruption and non-finite losses --------------------------------------------


def test_keyboard_interrupt_keeps_a_usable_estimator(tiny_model, hooked_model):
    def interrupt(output):
        raise KeyboardInterrupt

    hooked_model["setup"] = lambda model: _raise_in_forward(model, 16, interrupt)
    clf = small(tiny_model, epochs=5)
    with pytest.warns(TrainingInterruptedWarning, match="Training interrupted by user"):
        clf.fit(TEXTS, LABELS)
    # 13 batches of 8 per epoch: the 16th forward pass is in epoch 2.
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    assert clf.predict_proba(POS).shape == (5, 2)
    assert not clf.model_.training


@pytest.mark.usefixtures("sigint_default")
def test_ctrl_c_stops_after_the_current_batch(tiny_model, hooked_model):
    def send_sigint(output):
        os.kill(os.getpid(), signal.SIGINT)
        return output

    hooked_model["setup"] = lambda model: _raise_in_forward(model, 3, send_sigint)
    clf = small(tiny_model, epochs=5, verbose=0)
    with pytest.warns(TrainingInterruptedWarning, match="during epoch 1"):
        clf.fit(TEXTS, LABELS)
    assert clf.n_iter_ == 0 and clf.predict(POS).shape == (5,)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored(tiny_model):
    """Regression: fit replaced SIG_IGN (nohup, background jobs) with its handler."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        small(tiny_model, epochs=1).fit(TEXTS, LABELS)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_interrupt_with_early_stopping_keeps_the_best_weights(tiny_model, hooked_model):
    def interrupt(output):
        raise KeyboardInterrupt

    # 12 training batches per epoch plus 1 validation batch: call 40 is in epoch 4.
    hooked_model["setup"] = lambda model: _raise_in_forward(model, 40, interrupt)
    clf = small(tiny_model, epochs=6, early_stopping=True, n_iter_no_change=6)
    with pytest.warns(TrainingInterruptedWarning, match="best epoch's weights"):
        clf.fit(TEXTS, LABELS)
    assert clf.n_iter_ == 3 and clf.best_epoch_ is not None


def test_non_finite_loss_names_epoch_and_batch_and_leaves_no_model(
    tiny_model, hooked_model
):
    def poison(output):
        output.logits.data.fill_(float("nan"))
        return output

    hooked_model["setup"] = lambda model: _raise_in_forward(model, 16, poison)
    clf = small(tiny_model, epochs=3)
    with pytest.raises(NonFiniteLossError, match=r"became nan at epoch 2, batch 3"):
        clf.fit(TEXTS, LABELS)
    assert not hasattr(clf, "model_")


def test_non_finite_loss_on_a_warm_start_restores_the_previous_weights(
    tiny_model, hooked_model
):
    clf = small(tiny_model, epochs=1, warm_start=True).fit(TEXTS, LABELS)
    before = clf.predict_proba(POS + NEG)
    n_iter = clf.n_iter_

    def poison(output):
        output.logits.data.fill_(float("inf"))
        return output

    _raise_in_forward(clf.model_, 5, poison)
    with pytest.raises(NonFiniteLossError, match="at epoch 1, batch 5"):
        clf.fit(TEXTS, LABELS)
    np.testing.assert_array_equal(clf.predict_proba(POS + NEG), before)
    assert clf.n_iter_ == n_iter


def test_huge_learning_rate_never_predicts_nan(tiny_model):
    clf = small(tiny_model, epochs=3, learning_rate=1e6, max_grad_norm=None)
    try:
        clf.fit(TEXTS, LABELS)
    except NonFiniteLossError as error:
        assert "epoch" in str(error) and not hasattr(clf, "model_")
    else:
        assert np.isfinite(clf.predict_proba(POS)).all()


# --- the loop's knobs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("linear", [0.5, 1.0, 0.75, 0.5, 0.25]),
        ("cosine", [0.5, 1.0, 0.8536, 0.5, 0.1464]),
        ("constant", [0.5, 1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_schedules_warm_up_then_follow_their_shape(kind, expected):
    got = [_engine.lr_factor(kind, step, total=5, warmup=1) for step in range(5)]
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("kind", ["cosine", "constant"])
def test_lr_scheduler_is_used_in_fit(tiny_model, kind):
    clf = small(tiny_model, epochs=3, lr_scheduler=kind, warmup_ratio=0.0)
    clf.fit(TEXTS, LABELS)
    rates = [h["learning_rate"] for h in clf.history_]
    if kind == "constant":
        assert rates == pytest.approx([1e-2] * 3)
    else:
        assert rates[0] == pytest.approx(1e-2) and rates[0] > rates[1] > rates[2]


def test_gradient_accumulation_steps_fewer_optimizer_steps(tiny_model, monkeypatch):
    steps = []
    real_step = _engine._Trainer._step

    def counting(self, epoch, index):
        steps.append((epoch, index))
        real_step(self, epoch, index)

    monkeypatch.setattr(_engine._Trainer, "_step", counting)
    small(tiny_model, epochs=1, gradient_accumulation_steps=3).fit(TEXTS, LABELS)
    # 13 batches: steps after batches 3, 6, 9, 12 and the last one, 13.
    assert [index for _, index in steps] == [2, 5, 8, 11, 12]


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("freeze", [1, "all"])
def test_freeze_layers(tiny_model, hooked_model, freeze):
    before = {}
    hooked_model["setup"] = lambda model: before.update(_weights(model))
    clf = small(tiny_model, epochs=1, freeze_layers=freeze).fit(TEXTS, LABELS)
    after = _weights(clf.model_)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith("bert.embeddings") for k in changed)
    assert not any(k.startswith("bert.encoder.layer.0.") for k in changed)
    assert any(k.startswith("classifier") for k in changed)
    layer_1_changed = any(k.startswith("bert.encoder.layer.1.") for k in changed)
    assert layer_1_changed == (freeze == 1)


def test_freeze_layers_works_for_distilbert(tiny_distilbert):
    clf = small(tiny_distilbert, epochs=1, freeze_layers=2).fit(TEXTS, LABELS)
    trainable = [n for n, p in clf.model_.named_parameters() if p.requires_grad]
    assert trainable and all(not n.startswith("distilbert.") for n in trainable)


def test_freezing_more_layers_than_exist_is_named(tiny_model):
    with pytest.raises(ValueError, match="freeze_layers=5 but the model has only 2"):
        small(tiny_model, freeze_layers=5).fit(TEXTS, LABELS)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_cpu_trains_and_predicts(tiny_model, precision):
    clf = small(tiny_model, epochs=1, precision=precision).fit(TEXTS, LABELS)
    assert clf.precision_ == precision
    proba = clf.predict_proba(POS + NEG)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.precision_ == precision
    np.testing.assert_array_equal(loaded.predict_proba(POS + NEG), proba)


def test_auto_precision_is_fp32_on_the_cpu(tiny_model):
    clf = small(tiny_model, epochs=1, device="cpu").fit(TEXTS, LABELS)
    assert clf.precision_ == "fp32"


def test_auto_precision_is_bf16_on_a_capable_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert _engine.resolve_precision("auto", torch.device("cuda")) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert _engine.resolve_precision("auto", torch.device("cuda")) == "fp32"


def test_no_gradients_or_optimizer_state_outlive_fit(tiny_model):
    clf = small(tiny_model, epochs=1).fit(TEXTS, LABELS)
    assert all(p.grad is None for p in clf.model_.parameters())
    gc.collect()
    with warnings.catch_warnings():  # isinstance on some torch objects warns
        warnings.simplefilter("ignore")
        optimizers = [
            o for o in gc.get_objects() if isinstance(o, torch.optim.Optimizer)
        ]
    assert optimizers == []


# --- regressions: warm start, partial_fit, interrupts, accumulation ---------------


def test_warm_start_with_early_stopping_appends_every_curve(tiny_model):
    """Regression: after two warm-started fits loss_curve_ had 6 entries,
    validation_scores_ 3, and best_epoch_ counted from the first fit."""
    clf = small(tiny_model, epochs=3, early_stopping=True, n_iter_no_change=5)
    clf.set_params(warm_start=True).fit(TEXTS, LABELS).fit(TEXTS, LABELS)
    assert clf.n_iter_ == 6
    assert len(clf.loss_curve_) == len(clf.validation_scores_) == 6
    assert len(clf.validation_loss_curve_) == len(clf.history_) == 6
    assert 4 <= clf.best_epoch_ <= 6
    assert clf.validation_scores_[clf.best_epoch_ - 1] == clf.best_validation_score_
    assert [h["epoch"] for h in clf.history_] == [1, 2, 3, 4, 5, 6]


def test_warm_start_adds_validation_after_a_fit_without_it(tiny_model):
    clf = small(tiny_model, epochs=2, warm_start=True).fit(TEXTS, LABELS)
    clf.set_params(early_stopping=True).fit(TEXTS, LABELS)
    assert len(clf.validation_scores_) == len(clf.loss_curve_) == 4
    assert np.isnan(clf.validation_scores_[:2]).all()
    assert np.isfinite(clf.validation_scores_[2:]).all()
    assert clf.best_epoch_ in (3, 4)


def test_partial_fit_needs_two_classes(tiny_model):
    """Regression: partial_fit(..., classes=["a"]) was accepted."""
    with pytest.raises(ValueError, match=r"classes=\['pos'\] has fewer than two"):
        small(tiny_model).partial_fit(POS, ["pos"] * 5, classes=["pos"])


def test_partial_fit_validates_parameters_on_every_call(tiny_model):
    """Regression: parameters were validated only on the first partial_fit call."""
    from sklearn.utils._param_validation import InvalidParameterError

    clf = small(tiny_model).partial_fit(POS, ["pos"] * 5, classes=["neg", "pos"])
    clf.set_params(learning_rate=-1.0)
    with pytest.raises(InvalidParameterError, match="'learning_rate' parameter"):
        clf.partial_fit(NEG, ["neg"] * 5)


def test_partial_fit_keeps_adamw_state_and_warms_up_once(tiny_model):
    """Regression: every partial_fit call restarted AdamW and a full warm-up."""
    clf = small(tiny_model, batch_size=2, warmup_ratio=0.5)
    clf.partial_fit(TEXTS[:10], LABELS[:10], classes=["neg", "pos"])  # 5 steps
    first = clf.history_[0]["learning_rate"]
    assert first < 1e-2  # the first call warms up
    clf.partial_fit(TEXTS[10:20], LABELS[10:20])
    clf.partial_fit(TEXTS[20:30], LABELS[20:30])
    # After the warm-up the rate stays at learning_rate: no restart, no decay.
    assert [h["learning_rate"] for h in clf.history_[1:]] == pytest.approx([1e-2] * 2)
    adam = clf._optimizer_state.state["state"]
    assert {float(s["step"]) for s in adam.values()} == {15.0}
    assert clf._optimizer_state.steps == 15


def test_fit_after_partial_fit_starts_a_fresh_optimizer(tiny_model):
    clf = small(tiny_model).partial_fit(POS, ["pos"] * 5, classes=["neg", "pos"])
    clf.fit(TEXTS, LABELS)
    assert clf._optimizer_state is None and clf.n_iter_ == 2


@pytest.mark.usefixtures("sigint_default")
def test_ctrl_c_during_validation_stops_after_that_epoch(tiny_model, hooked_model):
    """Regression: Ctrl-C during validation was lost (read only after a batch)."""

    def send_sigint(output):
        os.kill(os.getpid(), signal.SIGINT)
        return output

    # 12 training batches per epoch, then 1 validation batch: call 13.
    hooked_model["setup"] = lambda model: _raise_in_forward(model, 13, send_sigint)
    clf = small(tiny_model, epochs=5, early_stopping=True, n_iter_no_change=5)
    with pytest.warns(
        TrainingInterruptedWarning,
        match="after epoch 1; keeping the best epoch's weights after 1 complete",
    ) as record:
        clf.fit(TEXTS, LABELS)
    assert record[0].filename == __file__  # points at the caller of fit
    assert clf.n_iter_ == 1 and len(clf.validation_scores_) == 1


@pytest.mark.parametrize(
    ("n_batches", "accumulate", "expected"),
    [(13, 3, [3] * 12 + [1]), (4, 2, [2] * 4), (5, 4, [4] * 4 + [1]), (3, 1, [1] * 3)],
)
def test_the_last_accumulation_group_is_averaged_over_its_own_size(
    n_batches, accumulate, expected
):
    """Regression: the last group was divided by the full accumulation count."""
    got = [_engine._group_size(i, accumulate, n_batches) for i in range(n_batches)]
    assert got == expected


def test_fit_divides_each_batch_by_its_group_size(tiny_model, monkeypatch):
    groups = []
    real_backward = _engine._Trainer._backward

    def recording(self, inputs, targets, weights, group, where):
        groups.append(group)
        return real_backward(self, inputs, targets, weights, group, where)

    monkeypatch.setattr(_engine._Trainer, "_backward", recording)
    small(tiny_model, epochs=1, gradient_accumulation_steps=3).fit(TEXTS, LABELS)
    assert groups == [3] * 12 + [1]  # 13 batches of 8


def test_accumulating_one_batch_equals_a_plain_step(tiny_model):
    """A group of one batch (the tail) takes the same step as no accumulation."""
    texts, labels = TEXTS[:8], LABELS[:8]  # one batch of 8
    plain = small(tiny_model, epochs=1).fit(texts, labels)
    tail = small(tiny_model, epochs=1, gradient_accumulation_steps=4).fit(texts, labels)
    np.testing.assert_allclose(
        tail.predict_proba(POS), plain.predict_proba(POS), rtol=1e-5
    )
