"""Pickle/joblib round trips and the pickle-free save/load format."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import skbert
from skbert import BertTextClassifier, _persistence
from skbert.exceptions import (
    CorruptModelError,
    DeviceFallbackWarning,
    SkbertVersionWarning,
)

TEXTS = ["good film", "great plot", "bad film", "awful plot", "fun music", "dull"] * 4
LABELS = ["pos", "pos", "neg", "neg", "pos", "neg"] * 4
PROBE = ["good plot", "bad music", "the film was fine", "[SEP] awful"]


def _fit(model_dir: str, labels=LABELS) -> BertTextClassifier:
    clf = BertTextClassifier(model_dir, epochs=2, batch_size=8, random_state=0)
    return clf.fit(TEXTS, labels)


@pytest.fixture(scope="module")
def fitted(tiny_model) -> BertTextClassifier:
    return _fit(tiny_model)


@pytest.mark.parametrize("dumper", ["pickle", "joblib"])
def test_pickle_round_trip_keeps_predictions(fitted, tmp_path, dumper):
    path = tmp_path / "model.pkl"
    if dumper == "pickle":
        path.write_bytes(pickle.dumps(fitted))
        loaded = pickle.loads(path.read_bytes())
    else:
        joblib.dump(fitted, path)
        loaded = joblib.load(path)
    np.testing.assert_array_equal(
        loaded.predict_proba(PROBE), fitted.predict_proba(PROBE)
    )
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    assert loaded.loss_curve_ == fitted.loss_curve_


def test_pickling_leaves_the_estimator_usable(fitted):
    pickle.dumps(fitted)
    assert hasattr(fitted, "tokenizer_") and hasattr(fitted, "model_")
    fitted.predict(PROBE)


def test_joblib_file_loads_in_a_fresh_offline_process_without_the_model_dir(
    tiny_model, tmp_path
):
    model_dir = tmp_path / "model-dir"
    shutil.copytree(tiny_model, model_dir)
    clf = _fit(str(model_dir))
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.save(tmp_path / "expected.npy", clf.predict_proba(PROBE))
    shutil.rmtree(model_dir)
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np
        clf = joblib.load({str(tmp_path / "clf.joblib")!r})
        got = clf.predict_proba({PROBE!r})
        np.testing.assert_array_equal(got, np.load({str(tmp_path / "expected.npy")!r}))
        print("identical")
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "c")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "identical"


def test_joblib_file_holds_the_weights_once(fitted, tmp_path):
    joblib.dump(fitted, tmp_path / "clf.joblib")
    fitted.save(tmp_path / "saved")
    weights = (tmp_path / "saved" / "model.safetensors").stat().st_size
    total = (tmp_path / "clf.joblib").stat().st_size
    tokenizer = (tmp_path / "saved" / "tokenizer.json").stat().st_size
    assert total < weights + tokenizer + 64_000


def test_model_fitted_on_cuda_loads_on_cpu_with_a_warning(fitted, monkeypatch):
    expected = fitted.predict_proba(PROBE)
    clf = pickle.loads(pickle.dumps(fitted))
    clf.device_ = torch.device("cuda")  # as if fitted on a GPU machine
    payload = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceFallbackWarning, match="fitted on 'cuda'.*on the CPU"):
        loaded = pickle.loads(payload)
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), expected)


def test_unfitted_estimator_pickles_as_parameters(tiny_model):
    clf = BertTextClassifier(tiny_model, epochs=2)
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.get_params() == clf.get_params()
    assert not hasattr(loaded, "model_")
    with pytest.raises(NotFittedError):
        loaded.predict(PROBE)


def test_clone_of_a_fitted_estimator_is_unfitted(fitted):
    copy = clone(fitted)
    assert not hasattr(copy, "model_")
    assert copy.get_params() == fitted.get_params()


def test_save_writes_a_model_directory(fitted, tmp_path):
    fitted.save(tmp_path / "saved")
    names = sorted(p.name for p in (tmp_path / "saved").iterdir())
    assert names == [
        "config.json",
        "model.safetensors",
        "skbert.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    meta = json.loads((tmp_path / "saved" / "skbert.json").read_text())
    assert meta["format_version"] == _persistence.FORMAT_VERSION
    assert meta["skbert_version"] == skbert.__version__
    assert meta["torch_version"] == torch.__version__
    assert {"transformers_version", "params", "attributes", "files"} <= set(meta)
    assert meta["params"]["epochs"] == 2
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}


@pytest.mark.parametrize(
    "labels",
    [
        LABELS,
        [1 if label == "pos" else 3 for label in LABELS],
        [label == "pos" for label in LABELS],
    ],
    ids=["str", "int", "bool"],
)
def test_save_load_round_trip_keeps_labels_and_predictions(
    tiny_model, tmp_path, labels
):
    clf = _fit(tiny_model, labels)
    clf.save(tmp_path / "saved")
    loaded = skbert.load(tmp_path / "saved")
    assert isinstance(loaded, BertTextClassifier)
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert [type(c) for c in loaded.predict(PROBE).tolist()] == [
        type(c) for c in clf.predict(PROBE).tolist()
    ]
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), clf.predict_proba(PROBE))
    assert loaded.get_params() == clf.get_params()
    assert loaded.n_iter_ == clf.n_iter_ and loaded.loss_curve_ == clf.loss_curve_
    assert loaded.max_length_ == clf.max_length_


def test_load_runs_no_pickle(fitted, tmp_path, monkeypatch):
    fitted.save(tmp_path / "saved")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle or torch.load was called while loading")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded = BertTextClassifier.load(tmp_path / "saved")
    np.testing.assert_array_equal(
        loaded.predict_proba(PROBE), fitted.predict_proba(PROBE)
    )


def test_saved_directory_works_with_a_transformers_pipeline(fitted, tmp_path):
    from transformers import pipeline

    fitted.save(tmp_path / "saved")
    with skbert._hub.quiet_transformers():
        classify = pipeline(
            "text-classification", model=str(tmp_path / "saved"), top_k=None
        )
    texts = ["good plot", "bad music", "the film was fine"]
    expected = fitted.predict_proba(texts)
    for row, scores in zip(expected, classify(texts), strict=True):
        by_label = {item["label"]: item["score"] for item in scores}
        got = [by_label[str(label)] for label in fitted.classes_]
        np.testing.assert_allclose(got, row, atol=1e-6)


def test_unknown_format_version_is_a_clear_error(fitted, tmp_path):
    fitted.save(tmp_path / "saved")
    meta_path = tmp_path / "saved" / "skbert.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CorruptModelError, match="format version 99"):
        skbert.load(tmp_path / "saved")


def test_other_skbert_version_warns(fitted, tmp_path):
    fitted.save(tmp_path / "saved")
    meta_path = tmp_path / "saved" / "skbert.json"
    meta = json.loads(meta_path.read_text())
    meta["skbert_version"] = "0.0.1"
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(SkbertVersionWarning, match="written by skbert 0.0.1"):
        loaded = skbert.load(tmp_path / "saved")
    np.testing.assert_array_equal(
        loaded.predict_proba(PROBE), fitted.predict_proba(PROBE)
    )


def test_failed_save_leaves_the_earlier_save_intact(fitted, tmp_path, monkeypatch):
    target = tmp_path / "saved"
    fitted.save(target)
    expected = skbert.load(target).predict_proba(PROBE)
    real_write = _persistence._write_synced

    def disk_full_at_weights(path, content):
        if path.name == "model.safetensors":
            real_write(path, content[: len(content) // 2])
            raise OSError(28, "No space left on device")
        real_write(path, content)

    monkeypatch.setattr(_persistence, "_write_synced", disk_full_at_weights)
    with pytest.raises(OSError, match="No space left on device"):
        fitted.save(target)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]
    np.testing.assert_array_equal(skbert.load(target).predict_proba(PROBE), expected)


def test_truncated_weights_are_named(fitted, tmp_path):
    fitted.save(tmp_path / "saved")
    weights = tmp_path / "saved" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CorruptModelError, match=r"model\.safetensors is corrupted"):
        skbert.load(tmp_path / "saved")


def test_missing_file_is_named(fitted, tmp_path):
    fitted.save(tmp_path / "saved")
    (tmp_path / "saved" / "tokenizer.json").unlink()
    with pytest.raises(CorruptModelError, match=r"tokenizer\.json is missing"):
        skbert.load(tmp_path / "saved")


def test_invalid_metadata_is_named(fitted, tmp_path):
    fitted.save(tmp_path / "saved")
    (tmp_path / "saved" / "skbert.json").write_text("{not json")
    with pytest.raises(CorruptModelError, match=r"skbert\.json is not valid JSON"):
        skbert.load(tmp_path / "saved")


def test_a_random_file_is_not_a_model(tmp_path):
    (tmp_path / "random.bin").write_bytes(os.urandom(256))
    with pytest.raises(CorruptModelError, match=r"random\.bin is not a directory"):
        skbert.load(tmp_path / "random.bin")


def test_a_directory_from_another_tool_is_not_a_model(tiny_model):
    with pytest.raises(CorruptModelError, match=r"has no skbert\.json"):
        skbert.load(tiny_model)


def test_save_refuses_to_replace_a_foreign_directory(fitted, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an skbert model directory"):
        fitted.save(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"


def test_saved_directory_gets_the_umask_like_any_other(fitted, tmp_path):
    # A model saved by one account is read by the service that serves it.
    old = os.umask(0o022)
    try:
        fitted.save(tmp_path / "saved")
        fitted.save(tmp_path / "saved")  # replacing an earlier save, too
    finally:
        os.umask(old)
    saved = tmp_path / "saved"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in saved.iterdir()} == {0o644}
    assert [p.name for p in tmp_path.iterdir()] == ["saved"]  # no staging left


def test_save_before_fit_raises(tiny_model, tmp_path):
    with pytest.raises(NotFittedError):
        BertTextClassifier(tiny_model).save(tmp_path / "saved")


@pytest.mark.usefixtures("all_torch_threads")
def test_the_bundled_model_round_trips(tmp_path):
    clf = BertTextClassifier(epochs=1, batch_size=8, random_state=0)
    clf.fit(TEXTS[:12], LABELS[:12])
    expected = clf.predict_proba(PROBE)
    joblib.dump(clf, tmp_path / "clf.joblib")
    clf.save(tmp_path / "saved")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "clf.joblib").predict_proba(PROBE), expected
    )
    np.testing.assert_array_equal(
        skbert.load(tmp_path / "saved").predict_proba(PROBE), expected
    )
    weights = (tmp_path / "saved" / "model.safetensors").stat().st_size
    assert (tmp_path / "clf.joblib").stat().st_size < 1.1 * weights


# --- parameter values that GridSearchCV produces, on every persistence path --------

GRID_VALUES = {
    "epochs": np.int64(1),
    "batch_size": np.int32(8),
    "learning_rate": np.float64(1e-3),
    "max_length": np.int64(32),
    "class_weight": {0: 1.0, 1: np.float64(3.0)},
    "random_state": np.int64(0),
    "n_jobs": np.int64(1),
}


def _round_trip(estimator, path, how):
    if how == "save":
        estimator.save(path / "saved")
        return skbert.load(path / "saved")
    if how == "pickle":
        return pickle.loads(pickle.dumps(estimator))
    joblib.dump(estimator, path / "model.joblib")
    return joblib.load(path / "model.joblib")


@pytest.mark.parametrize("how", ["save", "pickle", "joblib"])
def test_numpy_scalars_and_int_keyed_dicts_survive_persistence(
    tiny_model, tmp_path, how
):
    """Regression: save() failed on np.int64 ("Object of type int64 is not JSON
    serializable"), and class_weight={0: ...} came back with str keys, so refitting
    the loaded estimator failed with "The classes, [0, 1], are not in class_weight"."""
    clf = BertTextClassifier(tiny_model, **GRID_VALUES)
    labels = [1 if label == "pos" else 0 for label in LABELS]
    clf.fit(TEXTS, labels)
    loaded = _round_trip(clf, tmp_path, how)
    params = loaded.get_params()
    for name, value in GRID_VALUES.items():
        assert params[name] == value and type(params[name]) is type(value), name
    assert list(params["class_weight"]) == [0, 1]
    assert type(params["class_weight"][1]) is np.float64
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), clf.predict_proba(PROBE))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    loaded.fit(TEXTS, labels)  # the refit that failed
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), clf.predict_proba(PROBE))


def test_a_callable_scoring_is_refused_by_save_with_a_way_out(tiny_model, tmp_path):
    """Regression: a callable scoring made save() fail with a raw TypeError."""
    from sklearn.metrics import accuracy_score, make_scorer

    clf = _fit(tiny_model).set_params(scoring=make_scorer(accuracy_score))
    with pytest.raises(
        TypeError,
        match=r"'scoring' parameter of BertTextClassifier.*"
        r"joblib\.dump",
    ):
        clf.save(tmp_path / "saved")
    assert not (tmp_path / "saved").exists()
    loaded = _round_trip(clf, tmp_path, "joblib")  # pickle keeps it
    assert callable(loaded.scoring)


def test_a_path_model_name_is_saved_as_a_string(tiny_model, tmp_path):
    from pathlib import Path

    clf = BertTextClassifier(Path(tiny_model), epochs=1, random_state=0)
    clf.fit(TEXTS, LABELS).save(tmp_path / "saved")
    assert skbert.load(tmp_path / "saved").model_name_or_path == tiny_model


def test_warnings_from_persistence_point_at_the_caller(fitted, tmp_path):
    """Regression: warnings raised in _persistence pointed at skbert's own lines."""
    fitted.save(tmp_path / "saved")
    meta_path = tmp_path / "saved" / "skbert.json"
    meta = json.loads(meta_path.read_text())
    meta["skbert_version"] = "0.0.1"
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(SkbertVersionWarning) as record:
        skbert.load(tmp_path / "saved")
    assert record[0].filename == __file__
    with pytest.warns(SkbertVersionWarning) as record:
        BertTextClassifier.load(tmp_path / "saved")
    assert record[0].filename == __file__


def test_format_1_directories_still_load(fitted, tmp_path):
    """Directories written before the typed format (format_version 1) still load."""
    fitted.save(tmp_path / "saved")
    meta_path = tmp_path / "saved" / "skbert.json"
    meta = json.loads(meta_path.read_text())
    classes = meta["attributes"].pop("classes_")
    meta.update(
        format_version=1,
        classes={"dtype": classes["dtype"], "values": classes["value"]},
        params={**meta["params"], "class_weight": None},
    )
    del meta["estimator"]
    meta_path.write_text(json.dumps(meta))
    loaded = skbert.load(tmp_path / "saved")
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    np.testing.assert_array_equal(
        loaded.predict_proba(PROBE), fitted.predict_proba(PROBE)
    )
