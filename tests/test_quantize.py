"""quantize="int8": dynamic int8 prediction on the CPU, read at prediction time."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

import skbert
from skbert import BertTextClassifier, BertTextRegressor

TEXTS = ["good film", "great plot", "bad film", "awful plot"] * 4
LABELS = ["pos", "pos", "neg", "neg"] * 4


@pytest.fixture(scope="module")
def fitted(tiny_model: str) -> BertTextClassifier:
    return BertTextClassifier(tiny_model, epochs=2, random_state=0).fit(TEXTS, LABELS)


@pytest.fixture
def clf(fitted: BertTextClassifier) -> BertTextClassifier:
    """The fitted classifier, its quantize setting put back after the test."""
    yield fitted
    fitted.set_params(quantize=None)
    fitted.__dict__.pop("_quantized", None)


def _quantized_layers(model: torch.nn.Module) -> set[str]:
    from torch.ao.nn.quantized.dynamic import Linear

    return {name for name, m in model.named_modules() if isinstance(m, Linear)}


def test_set_params_on_a_fitted_model_predicts_in_int8(clf):
    fp32 = clf.predict_proba(TEXTS)
    int8 = clf.set_params(quantize="int8").predict_proba(TEXTS)
    assert not np.array_equal(int8, fp32)  # another model ran
    np.testing.assert_allclose(int8, fp32, atol=0.02)
    np.testing.assert_allclose(int8.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.set_params(quantize=None).predict_proba(TEXTS) == pytest.approx(fp32)


@pytest.mark.parametrize("amx", [True, False])
def test_encoder_linears_are_int8_pooler_and_head_fp32(clf, monkeypatch, amx):
    """Every encoder Linear with oneDNN's 8-bit activations (AMX CPUs); all but
    the first feed-forward output with the default engine's 7 bits."""
    from skbert import _engine

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    clf.set_params(quantize="int8").predict(TEXTS[:1])
    copy = clf._quantized[1]
    names = _quantized_layers(copy)
    encoder = {
        name
        for name, module in clf.model_.named_modules()
        if isinstance(module, torch.nn.Linear) and ".encoder." in name
    }
    assert len(encoder) == 12  # 2 layers x (q, k, v, out, up, down)
    first_ffn_out = "bert.encoder.layer.0.output.dense"
    if _engine.int8_engine() == "onednn":
        assert names == encoder
        kinds = {type(copy.get_submodule(name)).__name__ for name in names}
        assert kinds == {"FullRangeInt8Linear"}
    else:
        assert names == encoder - {first_ffn_out}
        assert type(copy.get_submodule(first_ffn_out)) is torch.nn.Linear
    assert isinstance(copy.classifier, torch.nn.Linear)
    assert type(copy.bert.pooler.dense) is torch.nn.Linear
    assert _quantized_layers(clf.model_) == set()  # the fitted model is untouched


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_full_range_linear_quantises_activations_to_8_bits():
    """Its outputs are torch's kernel called with ``reduce_range=False``, which
    differ from the stock module's 7-bit ones: closer to fp32 on AMX, further on
    AVX2, which is why :func:`quantized_int8` only uses it on AMX."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from skbert import _engine

    torch.manual_seed(0)
    layer = torch.nn.Sequential(torch.nn.Linear(64, 32))
    x = torch.randn(50, 64)
    with _engine._quantized_engine("onednn"):
        spec = {"0": per_channel_dynamic_qconfig}
        mapping = {torch.nn.Linear: _engine._full_range_linear()}
        full = quantize_dynamic(layer, spec, torch.qint8, mapping)[0]
        stock = quantize_dynamic(layer, spec, torch.qint8)[0]
        packed = full._packed_params._packed_params
        expected = torch.ops.quantized.linear_dynamic(x, packed, reduce_range=False)
        with torch.inference_mode():
            exact, eight, seven = layer(x), full(x), stock(x)
    torch.testing.assert_close(eight, expected, rtol=0, atol=0)
    assert not torch.equal(eight, seven)
    eight_error = (eight - exact).abs().mean()
    seven_error = (seven - exact).abs().mean()
    if _engine.int8_engine() == "onednn":  # AMX: exact 32-bit sums, 8 bits win
        assert eight_error < seven_error
    elif torch.backends.cpu.get_cpu_capability() == "AVX2":
        # Why quantized_int8 keeps torch's 7-bit module off AMX: AVX2's 16-bit
        # pair sums saturate with 8-bit activations (0.046 against 0.0086 here).
        assert eight_error > seven_error


def test_the_int8_copy_is_made_once(clf, monkeypatch):
    from skbert import _engine

    made = []
    original = _engine.quantized_int8
    monkeypatch.setattr(
        _engine, "quantized_int8", lambda model: made.append(1) or original(model)
    )
    clf.set_params(quantize="int8")
    for _ in range(3):
        clf.predict(TEXTS)
    clf.predict_proba(TEXTS)
    assert len(made) == 1


def test_a_new_fit_drops_the_old_int8_copy(tiny_model):
    clf = BertTextClassifier(
        tiny_model, epochs=1, random_state=0, warm_start=True, quantize="int8"
    )
    clf.fit(TEXTS, LABELS)
    before = clf.predict_proba(TEXTS)
    first_copy = clf._quantized[1]
    clf.fit(TEXTS, LABELS)  # continues training the same model object
    assert "_quantized" not in vars(clf)
    after = clf.predict_proba(TEXTS)
    assert clf._quantized[1] is not first_copy
    fp32 = clf.set_params(quantize=None).predict_proba(TEXTS)
    np.testing.assert_allclose(after, fp32, atol=0.02)
    assert not np.allclose(after, before, atol=1e-6)


def test_training_and_its_validation_run_in_fp32(tiny_model):
    params = dict(epochs=2, random_state=0, early_stopping=True, scoring="accuracy")
    plain = BertTextClassifier(tiny_model, **params).fit(TEXTS * 2, LABELS * 2)
    int8 = BertTextClassifier(tiny_model, quantize="int8", **params)
    int8.fit(TEXTS * 2, LABELS * 2)
    assert int8.validation_loss_curve_ == plain.validation_loss_curve_
    np.testing.assert_array_equal(
        int8.set_params(quantize=None).predict_proba(TEXTS), plain.predict_proba(TEXTS)
    )


def test_regressor_predicts_in_int8(tiny_model):
    reg = BertTextRegressor(tiny_model, epochs=1, random_state=0)
    reg.fit(TEXTS, np.arange(16.0))
    fp32 = reg.predict(TEXTS)
    int8 = reg.set_params(quantize="int8").predict(TEXTS)
    assert int8.shape == (16,)
    np.testing.assert_allclose(int8, fp32, atol=0.1 * np.std(np.arange(16.0)))


@pytest.mark.parametrize("path", ["save", "pickle", "joblib"])
def test_quantize_survives_persistence(clf, path, tmp_path):
    clf.set_params(quantize="int8")
    expected = clf.predict_proba(TEXTS)
    if path == "save":
        clf.save(tmp_path / "model")
        copy = skbert.load(tmp_path / "model")
    elif path == "pickle":
        copy = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "model.joblib")
        copy = joblib.load(tmp_path / "model.joblib")
    assert "_quantized" not in vars(copy)  # rebuilt, not stored
    assert copy.quantize == "int8"
    np.testing.assert_allclose(copy.predict_proba(TEXTS), expected, atol=1e-6)


def test_a_bad_value_set_after_fit_is_named_at_predict(clf):
    clf.set_params(quantize="int4")
    with pytest.raises(InvalidParameterError, match="'quantize' parameter of"):
        clf.predict(TEXTS)


def test_fit_validates_quantize(tiny_model):
    with pytest.raises(InvalidParameterError, match="'quantize' parameter of"):
        BertTextClassifier(tiny_model, quantize="fp8").fit(TEXTS, LABELS)


def test_int8_off_the_cpu_is_an_error(clf):
    clf.set_params(quantize="int8")
    clf.device_ = torch.device("cuda")
    try:
        with pytest.raises(ValueError, match=r"quantize='int8' runs on the CPU, but"):
            clf.predict(TEXTS)
    finally:
        clf.device_ = torch.device("cpu")


def test_a_pickle_from_before_quantize_loads_with_its_default(clf):
    """Regression: unpickling a model from an skbert without ``quantize`` raised
    AttributeError at predict."""
    state = clf.__getstate__()
    del state["quantize"]
    old = BertTextClassifier.__new__(BertTextClassifier)
    old.__setstate__(state)
    assert old.quantize is None
    np.testing.assert_array_equal(old.predict_proba(TEXTS), clf.predict_proba(TEXTS))


def test_precision_is_read_again_at_prediction_time(clf):
    """Like ``quantize``: ``set_params(precision="bf16")`` after fit predicts in
    bf16 (close to fp32, not equal), and back to fp32 gives fp32's outputs."""
    fp32 = clf.set_params(precision="fp32").predict_proba(TEXTS)
    bf16 = clf.set_params(precision="bf16").predict_proba(TEXTS)
    assert not np.array_equal(bf16, fp32)
    np.testing.assert_allclose(bf16, fp32, atol=0.05)
    clf.set_params(precision="fp64")
    with pytest.raises(ValueError, match="'precision' parameter"):
        clf.predict(TEXTS)
    assert clf.set_params(precision="fp32").predict_proba(TEXTS) == pytest.approx(fp32)


@pytest.mark.parametrize("amx", [True, False])
def test_int8_weights_are_packed_for_onednn_on_amx_cpus_only(clf, monkeypatch, amx):
    from skbert import _engine

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    before = torch.backends.quantized.engine
    onednn = amx and "onednn" in torch.backends.quantized.supported_engines
    assert _engine.int8_engine() == ("onednn" if onednn else before)
    seen = []
    original = torch.ao.quantization.quantize_dynamic

    def spy(*args, **kwargs):
        seen.append(torch.backends.quantized.engine)
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.ao.quantization, "quantize_dynamic", spy)
    fp32 = clf.predict_proba(TEXTS)
    int8 = clf.set_params(quantize="int8").predict_proba(TEXTS)
    assert seen == [_engine.int8_engine()]  # packed under that engine
    assert torch.backends.quantized.engine == before  # and the global one restored
    np.testing.assert_allclose(int8, fp32, atol=0.02)
