"""export_onnx and skbert.onnx: the exported model predicts as the estimator does,
with onnxruntime, tokenizers and NumPy only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import skbert
import skbert.onnx
from conftest import at_once
from skbert import BertTextClassifier, BertTextRegressor
from skbert.exceptions import CorruptModelError

TEXTS = [
    "good film",
    "a great plot and very good acting " * 6,
    "bad film [SEP] not a separator",
    "the worst plot",
    "",
    "it was not good but not bad",
] * 3
LABELS = ["pos", "pos", "neg", "neg", "neg", "pos"] * 3
PAIRS = [(text, TEXTS[(i + 1) % len(TEXTS)]) for i, text in enumerate(TEXTS)]
Y = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0]] * 3)
ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "binary": (BertTextClassifier, {}, TEXTS, LABELS),
    "multiclass-pairs": (
        BertTextClassifier,
        {"max_length": 24},
        PAIRS,
        ["a", "b", "c"] * 6,
    ),
    "multilabel-auto-chunk": (
        BertTextClassifier,
        {
            "threshold": "auto",
            "validation_fraction": 0.3,
            "long_text": "chunk",
            "max_length": 12,
            "stride": np.int64(3),
        },
        TEXTS,
        Y,
    ),
    "regressor-head-tail": (
        BertTextRegressor,
        {"long_text": "head_tail", "max_length": 12, "head_ratio": np.float64(0.5)},
        TEXTS,
        np.arange(18.0) * 10,
    ),
    "regressor-2-outputs-pairs": (
        BertTextRegressor,
        {},
        PAIRS,
        np.c_[np.arange(18.0), -np.arange(18.0)],
    ),
}


@pytest.fixture(scope="module", params=list(CASES))
def exported(request, tiny_model, tmp_path_factory):
    """``(estimator, inputs, predictor)`` of each case, exported once."""
    cls, params, X, y = CASES[request.param]
    estimator = cls(tiny_model, epochs=1, random_state=0, batch_size=4, **params)
    estimator.fit(X, y)
    path = tmp_path_factory.mktemp("onnx") / request.param
    estimator.export_onnx(path)
    return estimator, X, skbert.onnx.load(path)


def test_outputs_match_the_estimator(exported):
    estimator, X, predictor = exported
    np.testing.assert_allclose(
        predictor._outputs(X), estimator._outputs(X), atol=1e-4, rtol=0
    )
    if isinstance(estimator, BertTextClassifier):
        np.testing.assert_array_equal(predictor.predict(X), estimator.predict(X))
        np.testing.assert_allclose(
            predictor.predict_proba(X), estimator.predict_proba(X), atol=1e-4
        )
        np.testing.assert_allclose(
            predictor.decision_function(X), estimator.decision_function(X), atol=1e-4
        )
        np.testing.assert_array_equal(predictor.classes_, estimator.classes_)
    else:
        np.testing.assert_allclose(
            predictor.predict(X), estimator.predict(X), rtol=1e-4, atol=1e-3
        )
        with pytest.raises(AttributeError, match="a regressor predicts with predict"):
            predictor.predict_proba(X)


def test_input_checks_are_the_estimators(exported):
    _, X, predictor = exported
    with pytest.raises(TypeError, match="got a single str"):
        predictor.predict("one text")
    with pytest.raises(TypeError, match=r"Item 1 of X"):
        predictor.predict([X[0], None])


def test_multilabel_threshold_can_change_after_export(tiny_model, tmp_path):
    clf = BertTextClassifier(
        tiny_model, epochs=1, random_state=0, threshold="auto", validation_fraction=0.3
    ).fit(TEXTS, Y)
    clf.export_onnx(tmp_path / "m")
    predictor = skbert.onnx.load(tmp_path / "m")
    np.testing.assert_array_equal(predictor.thresholds_, clf.thresholds_)
    predictor.threshold = 0.0001
    np.testing.assert_array_equal(predictor.predict(TEXTS), np.ones_like(Y))


def test_export_writes_eager_attention_and_leaves_the_model_as_it_was(
    tiny_model, tmp_path
):
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    before = clf.model_.config._attn_implementation
    expected = clf.predict_proba(TEXTS)
    clf.export_onnx(tmp_path / "m")
    assert clf.model_.config._attn_implementation == before
    np.testing.assert_array_equal(clf.predict_proba(TEXTS), expected)
    ops = {node.op_type for node in onnx.load(tmp_path / "m" / "model.onnx").graph.node}
    assert "Softmax" in ops and "IsNaN" not in ops  # no guard of SDPA's form


def test_predictor_batches_within_the_exported_token_budget(
    tiny_model, tmp_path, monkeypatch
):
    from skbert import _data, _engine

    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    expected = clf.predict_proba(TEXTS)
    clf.export_onnx(tmp_path / "m")
    predictor = skbert.onnx.load(tmp_path / "m")
    budget = _engine.batch_tokens(clf.model_.config, "cpu")
    assert predictor._meta["max_tokens"] == budget
    seen = []
    original = _data.inference_batches

    def spy(*args):
        batches = original(*args)
        seen.extend(inputs["input_ids"].shape for _, inputs in batches)
        return batches

    monkeypatch.setattr(_data, "inference_batches", spy)
    predictor._meta["max_tokens"] = 16
    np.testing.assert_allclose(predictor.predict_proba(TEXTS), expected, atol=1e-4)
    assert len(seen) > 1
    assert all(rows * length <= 16 or rows == 1 for rows, length in seen)
    del predictor._meta["max_tokens"]  # an export from before the budget
    seen.clear()
    np.testing.assert_allclose(predictor.predict_proba(TEXTS), expected, atol=1e-4)
    assert [rows for rows, _ in seen] == [18]  # one batch of up to 2 x 32 texts


def test_load_takes_providers_and_session_options(tiny_model, tmp_path):
    import onnxruntime

    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    clf.export_onnx(tmp_path / "m")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    predictor = skbert.onnx.load(
        tmp_path / "m", providers=["CPUExecutionProvider"], session_options=options
    )
    assert predictor._session.get_providers() == ["CPUExecutionProvider"]
    threads = predictor._session.get_session_options().intra_op_num_threads
    assert threads == 1
    np.testing.assert_allclose(
        predictor.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-4
    )


def test_int8_export_is_close(tiny_model, tmp_path):
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    clf.export_onnx(tmp_path / "fp32")
    clf.export_onnx(tmp_path / "int8", quantize="int8")
    fp32, int8 = (
        skbert.onnx.load(tmp_path / "fp32"),
        skbert.onnx.load(tmp_path / "int8"),
    )
    assert int8.quantize == "int8"
    ops = {
        node.op_type for node in onnx.load(tmp_path / "int8" / "model.onnx").graph.node
    }
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    assert not np.array_equal(int8.predict_proba(TEXTS), fp32.predict_proba(TEXTS))
    np.testing.assert_allclose(
        int8.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=0.05
    )


def test_serving_imports_neither_torch_nor_transformers(tiny_model, tmp_path):
    """A fresh process where importing torch or transformers fails serves the model."""
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    clf.export_onnx(tmp_path / "m")
    expected = clf.predict_proba(TEXTS)
    np.save(tmp_path / "expected.npy", expected)
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        sys.modules["torch"] = None          # import torch now raises ImportError
        sys.modules["transformers"] = None
        import skbert.onnx
        predictor = skbert.onnx.load({str(tmp_path / "m")!r})
        found = predictor.predict_proba({TEXTS!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        assert np.abs(found - expected).max() < 1e-4, np.abs(found - expected).max()
        print(sorted(name for name in ("torch", "transformers", "sklearn")
                     if sys.modules.get(name) is not None))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["[]"]


def test_load_refuses_the_other_kind_of_directory(tiny_model, tmp_path):
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    clf.save(tmp_path / "saved")
    clf.export_onnx(tmp_path / "onnx")
    with pytest.raises(CorruptModelError, match=r"written by save\(\), not export"):
        skbert.onnx.load(tmp_path / "saved")
    with pytest.raises(CorruptModelError, match=r"holds an ONNX export.*onnx\.load"):
        skbert.load(tmp_path / "onnx")
    graph = tmp_path / "onnx" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])
    with pytest.raises(CorruptModelError, match=r"model\.onnx is corrupted"):
        skbert.onnx.load(tmp_path / "onnx")


def test_export_checks_its_arguments(tiny_model, tmp_path):
    with pytest.raises(NotFittedError):
        BertTextClassifier(tiny_model).export_onnx(tmp_path / "m")
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    with pytest.raises(InvalidParameterError, match="'quantize' parameter of"):
        clf.export_onnx(tmp_path / "m", quantize="int4")


# --- damaged exports and concurrent serving ------------------------------------------


@pytest.fixture(scope="module")
def export_dir(tiny_model, tmp_path_factory):
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    path = tmp_path_factory.mktemp("onnx-export") / "m"
    clf.export_onnx(path)
    return path


def _edit_meta(path: Path, drop: tuple[str, ...] = (), **fields) -> None:
    """Change or ``drop`` fields of skbert.json, as a hand edit would."""
    meta_file = path / "skbert.json"
    meta = {**json.loads(meta_file.read_text()), **fields}
    meta_file.write_text(json.dumps({k: v for k, v in meta.items() if k not in drop}))


def _replace_and_rehash(path: Path, name: str, content: bytes) -> None:
    """Write ``content`` as ``name`` and record its digest: damage that happened
    before export wrote the digests, or a file written by another version."""
    (path / name).write_bytes(content)
    meta = json.loads((path / "skbert.json").read_text())
    _edit_meta(path, files={**meta["files"], name: hashlib.sha256(content).hexdigest()})


def _newer_ir_version(path: Path) -> None:
    graph = onnx.load(path / "model.onnx")
    graph.ir_version = 99
    _replace_and_rehash(path, "model.onnx", graph.SerializeToString())


DAMAGE = {
    "truncated model.onnx": (
        lambda p: (p / "model.onnx").write_bytes((p / "model.onnx").read_bytes()[:999]),
        r"model\.onnx is corrupted or truncated: its sha256 is",
    ),
    "missing tokenizer.json": (
        lambda p: (p / "tokenizer.json").unlink(),
        r"tokenizer\.json is missing",
    ),
    "garbled skbert.json": (
        lambda p: (p / "skbert.json").write_text('{"format_version": 2, "fil'),
        r"skbert\.json is not valid JSON",
    ),
    "newer format version": (
        lambda p: _edit_meta(p, format_version=3),
        r"skbert\.json has format version 3; this skbert reads format version 2",
    ),
    # Regressions: each of these was a KeyError, AttributeError, onnxruntime's
    # InvalidProtobuf or a bare Exception from tokenizers, none naming the file.
    "skbert.json without a field": (
        lambda p: _edit_meta(p, drop=("spec",)),
        r"skbert\.json lacks the field 'spec'",
    ),
    "skbert.json with files a list": (
        lambda p: _edit_meta(p, files=["model.onnx"]),
        r"skbert\.json: 'files' must map each file name to its sha256",
    ),
    "model.onnx truncated before export hashed it": (
        lambda p: _replace_and_rehash(
            p, "model.onnx", (p / "model.onnx").read_bytes()[:999]
        ),
        r"model\.onnx cannot be loaded by onnxruntime .*Protobuf parsing failed",
    ),
    "model.onnx from a newer exporter": (
        _newer_ir_version,
        r"model\.onnx cannot be loaded by onnxruntime .*IR version: 99.*upgrade",
    ),
    "tokenizer.json that is not a tokenizer": (
        lambda p: _replace_and_rehash(p, "tokenizer.json", b"{}"),
        r"tokenizer\.json cannot be read by tokenizers: Model missing",
    ),
    "a file, not a directory": (
        lambda p: (shutil.rmtree(p), p.write_text("x")),
        r"m is not a directory; skbert\.onnx\.load expects a directory written by "
        r"an skbert estimator's export_onnx\(\)",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_exports_are_named(export_dir, tmp_path, damage):
    path = tmp_path / "m"
    shutil.copytree(export_dir, path)
    skbert.onnx.load(path)  # the copy loads before the damage
    harm, message = DAMAGE[damage]
    harm(path)
    with pytest.raises(CorruptModelError, match=message):
        skbert.onnx.load(path)


def test_saved_model_without_a_field_is_named(tiny_model, tmp_path):
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    clf.save(tmp_path / "saved")
    _edit_meta(tmp_path / "saved", drop=("attributes", "device"))
    with pytest.raises(
        CorruptModelError, match=r"skbert\.json lacks the fields 'attributes', 'dev"
    ):
        skbert.load(tmp_path / "saved")


def test_eight_threads_get_what_sequential_calls_get(exported):
    # One predictor, as a web service holds it; 8 threads at once, each twice, on
    # differently ordered inputs (so batches differ between the threads).
    _, X, predictor = exported
    inputs = [list(X[k:]) + list(X[:k]) for k in range(0, 16, 2)]
    expected = [predictor._outputs(x) for x in inputs]
    for k, answers in enumerate(at_once(predictor._outputs, inputs)):
        assert len(answers) == 2
        for got in answers:
            assert not isinstance(got, BaseException), repr(got)
            np.testing.assert_array_equal(got, expected[k])
