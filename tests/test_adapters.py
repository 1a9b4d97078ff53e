"""LoRA adapters (adapter="lora"): parameters, training, persistence, export."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from conftest import learning
from skbert import BertTextClassifier, BertTextRegressor, _hub

TEXTS = ["good film", "great plot", "bad film", "awful plot", "fun music", "dull"] * 4
LABELS = ["pos", "pos", "neg", "neg", "pos", "neg"] * 4
PROBE = ["good plot", "bad music", "the film was fine", "awful acting"]
# The tiny model (conftest): hidden 32, 2 layers, feed-forward 64. A LoRA update
# of a Linear layer (n_in -> n_out) has rank * (n_in + n_out) weights.
ATTENTION = 2 * 4 * (32 + 32)  # query, key, value and output of each layer
ALL_LINEAR = ATTENTION + 2 * ((32 + 64) + (64 + 32)) + (32 + 32)  # + FFN, pooler


def lora(model: str, cls: type | None = None, **params: object) -> object:
    """An adapter estimator that learns the tiny texts (see conftest.learning):
    LoRA needs a higher learning rate than full fine-tuning's 5e-3 there."""
    settings = {"adapter_rank": 4, "learning_rate": 2e-2, **params}
    return learning(model, cls, adapter="lora", **settings)


def trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def body_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The encoder body's own weights, by their names in a model without adapters."""
    body = f"{model.base_model_prefix}."
    return {
        key.replace(".base_layer", ""): value.detach().clone()
        for key, value in model.state_dict().items()
        if key.startswith(body) and "lora_" not in key
    }


@pytest.fixture(scope="module")
def fitted(tiny_model: str) -> BertTextClassifier:
    return lora(tiny_model).fit(TEXTS, LABELS)


# ----------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"adapter": "prefix"}, r"'adapter' parameter of BertTextClassifier must be"),
        ({"adapter_rank": 0}, r"'adapter_rank' parameter .* range \[1, inf\)"),
        ({"adapter_alpha": 0.0}, r"'adapter_alpha' parameter .* range \(0.0, inf\)"),
        ({"adapter_dropout": 1.0}, r"'adapter_dropout' parameter .* \[0.0, 1.0\)"),
        ({"adapter_modules": "ffn"}, r"'adapter_modules' parameter .* Got 'ffn'"),
    ],
)
def test_bad_adapter_parameters_are_named(tiny_model, params, message):
    with pytest.raises(ValueError, match=message):
        clf = BertTextClassifier(tiny_model, **{"adapter": "lora", **params})
        clf.fit(TEXTS, LABELS)


def test_lora_without_peft_names_the_extra(tiny_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft now fails
    with pytest.raises(ImportError, match=r"pip install 'skbert\[lora\]'"):
        BertTextRegressor(tiny_model, adapter="lora").fit(TEXTS, np.arange(24.0))


def test_freezing_every_layer_with_an_adapter_is_an_error(tiny_model):
    clf = BertTextClassifier(tiny_model, adapter="lora", freeze_layers="all")
    with pytest.raises(ValueError, match=r"'freeze_layers' parameter .* 'all' with"):
        clf.fit(TEXTS, LABELS)


# ------------------------------------------------------------------- training


@pytest.mark.parametrize(
    ("modules", "per_rank"), [("attention", ATTENTION), ("all-linear", ALL_LINEAR)]
)
def test_trainable_parameters_are_the_adapters_and_the_head(
    tiny_model, modules, per_rank
):
    clf = lora(tiny_model, adapter_rank=3, adapter_modules=modules, epochs=1)
    clf.fit(TEXTS, LABELS)
    head = 32 * 2 + 2
    assert trainable(clf.model_) == 3 * per_rank + head
    assert clf.model_.classifier.weight.requires_grad


def test_fit_trains_the_adapters_and_leaves_the_base_weights(fitted, tiny_model):
    base = body_weights(_hub.load_model(tiny_model, True, ["neg", "pos"]))
    after = body_weights(fitted.model_)
    assert after.keys() == base.keys()
    for key, value in base.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0, msg=key)
    moved = [p for n, p in fitted.model_.named_parameters() if "lora_B" in n]
    assert all(p.abs().max() > 0 for p in moved)  # B starts at zero
    # The adapters change what the body computes, and the model learned.
    merged = body_weights(_hub.merged(fitted.model_))
    assert any(not torch.equal(merged[k], base[k]) for k in base)
    assert fitted.score(TEXTS, LABELS) == 1.0


def test_freeze_layers_keeps_the_first_layers_adapters_at_zero(tiny_model):
    clf = lora(tiny_model, freeze_layers=1, epochs=2).fit(TEXTS, LABELS)
    b = {n: p for n, p in clf.model_.named_parameters() if "lora_B" in n}
    assert all(p.abs().max() == 0 for n, p in b.items() if ".layer.0." in n)
    assert all(p.abs().max() > 0 for n, p in b.items() if ".layer.1." in n)
    assert trainable(clf.model_) == 4 * ATTENTION // 2 + 66


def test_grid_search_over_the_rank_with_numpy_ints(tiny_model):
    clf = lora(tiny_model, epochs=1)
    grid = {"adapter_rank": np.array([2, 4]), "adapter_alpha": [np.float64(8.0)]}
    search = GridSearchCV(clf, grid, cv=2, error_score="raise").fit(TEXTS, LABELS)
    rank = search.best_params_["adapter_rank"]
    assert isinstance(rank, np.integer)
    assert trainable(search.best_estimator_.model_) == rank * ATTENTION + 66
    lora_a = search.best_estimator_.model_.bert.encoder.layer[0].attention
    assert lora_a.self.query.lora_A["default"].weight.shape[0] == rank


def test_warm_start_and_partial_fit_continue_the_adapter(tiny_model):
    clf = lora(tiny_model, epochs=1, warm_start=True).fit(TEXTS, LABELS)
    first = {n: p.clone() for n, p in clf.model_.named_parameters() if "lora_" in n}
    clf.fit(TEXTS, LABELS)
    assert clf.n_iter_ == 2
    assert any(
        not torch.equal(p, first[n])
        for n, p in clf.model_.named_parameters()
        if "lora_" in n
    )
    clf.partial_fit(TEXTS, LABELS)
    assert clf.n_iter_ == 3
    assert trainable(clf.model_) == 4 * ATTENTION + 66
    with pytest.raises(ValueError, match="continue the fitted model, which has"):
        clf.set_params(adapter_rank=8).fit(TEXTS, LABELS)


def test_continuing_without_the_adapter_merges_it_and_trains_every_weight(
    tiny_model,
):
    clf = lora(tiny_model, epochs=1).fit(TEXTS, LABELS)
    adapter_model = clf.model_
    before = clf.decision_function(PROBE)
    clf.set_params(adapter=None, warm_start=True, learning_rate=1e-12)
    clf.fit(TEXTS, LABELS)
    assert _hub.adapter_of(clf.model_) is None
    assert _hub.adapter_of(adapter_model) is not None  # not merged in place
    assert trainable(clf.model_) == sum(p.numel() for p in clf.model_.parameters())
    np.testing.assert_allclose(clf.decision_function(PROBE), before, atol=1e-4)


def test_early_stopping_class_weights_and_multilabel(tiny_model):
    y = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 0], [0, 1, 1], [1, 0, 0], [0, 1, 0]])
    clf = lora(
        tiny_model,
        epochs=3,
        early_stopping=True,
        n_iter_no_change=5,
        class_weight="balanced",
    ).fit(TEXTS, np.tile(y, (4, 1)))
    assert clf.multilabel_
    assert len(clf.validation_scores_) == 3
    assert clf.best_validation_score_ is not None
    assert trainable(clf.model_) == 4 * ATTENTION + 32 * 3 + 3
    assert clf.predict(PROBE).shape == (4, 3)


def test_regressor_with_an_adapter_learns(tiny_model):
    y = np.array([1.0, 1.0, -1.0, -1.0, 1.0, -1.0] * 4)
    reg = lora(tiny_model, BertTextRegressor, epochs=12).fit(TEXTS, y)
    assert trainable(reg.model_) == 4 * ATTENTION + 33
    assert reg.score(TEXTS, y) > 0.5
