"""Faults injected end to end on a real fitted model (the bundled MiniLM-L6).

After each fault the previous save still loads and predicts exactly as before, or
the estimator in memory is intact, and the error names what happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import skbert
from conftest import cores_per_worker
from skbert import BertTextClassifier, _hub, _persistence
from skbert.exceptions import (
    CorruptModelError,
    NonFiniteLossError,
    TrainingInterruptedWarning,
)

TEXTS = [
    "a gripping, beautifully acted film",
    "a dull and lifeless mess",
    "one of the best movies this year",
    "i wanted my two hours back",
] * 4
LABELS = ["positive", "negative", "positive", "negative"] * 4
PROBE = ["what a wonderful surprise", "boring from start to finish", "[SEP] [CLS]"]


@pytest.fixture(scope="module")
def fitted() -> BertTextClassifier:
    threads = torch.get_num_threads()
    torch.set_num_threads(cores_per_worker())
    try:
        clf = BertTextClassifier(epochs=1, batch_size=8, random_state=0)
        return clf.fit(TEXTS, LABELS)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def saved(fitted, tmp_path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "model"
    fitted.save(path)
    return path, skbert.load(path).predict_proba(PROBE)


def test_disk_full_during_save_keeps_the_previous_save(fitted, saved, monkeypatch):
    path, expected = saved
    real_write = _persistence._write_synced

    def disk_full(target, content):
        if target.name == "model.safetensors":
            real_write(target, content[: len(content) // 3])
            raise OSError(28, "No space left on device", str(target))
        real_write(target, content)

    monkeypatch.setattr(_persistence, "_write_synced", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        fitted.save(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(skbert.load(path).predict_proba(PROBE), expected)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model"]


def test_sigkill_during_save_keeps_the_previous_save(saved):
    path, expected = saved
    marker = path.parent / "writing-weights"
    script = textwrap.dedent(
        f"""
        import pathlib, time
        import skbert
        from skbert import _persistence

        clf = skbert.load({str(path)!r})
        real_write = _persistence._write_synced

        def slow_write(target, content):
            if target.name == "model.safetensors":
                real_write(target, content[: len(content) // 2])
                pathlib.Path({str(marker)!r}).touch()
                time.sleep(60)
            real_write(target, content)

        _persistence._write_synced = slow_write
        clf.save({str(path)!r})
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "the saving process ended early"
            assert time.monotonic() < deadline, "the save never started writing"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    np.testing.assert_array_equal(skbert.load(path).predict_proba(PROBE), expected)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", r"model\.safetensors is corrupted or truncated"),
        ("flip", r"model\.safetensors is corrupted or truncated"),
        ("delete-tokenizer", r"tokenizer\.json is missing"),
        ("garble-meta", r"skbert\.json is not valid JSON"),
    ],
)
def test_damaged_files_are_named_at_load(saved, damage, message):
    path, _ = saved
    weights = path / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "flip":
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "delete-tokenizer":
        (path / "tokenizer.json").unlink()
    else:
        (path / "skbert.json").write_text('{"format_version": 1, "files": ')
    with pytest.raises(CorruptModelError, match=message):
        skbert.load(path)


def test_truncated_joblib_file_fails_loudly(fitted, tmp_path):
    """joblib's own loader fails before skbert sees the bytes: EOFError, no message.

    The integrity-checked format is save/load; this pins what joblib users get.
    """
    import joblib

    target = tmp_path / "clf.joblib"
    joblib.dump(fitted, target)
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(EOFError):
        joblib.load(target)


def test_nan_during_warm_start_leaves_the_estimator_intact(fitted, monkeypatch):
    import pickle

    clf = pickle.loads(pickle.dumps(fitted))
    clf.set_params(warm_start=True, learning_rate=1e-4)
    expected = clf.predict_proba(PROBE)

    def poison(module, args, output):
        output.logits.data.fill_(float("nan"))
        return output

    handle = clf.model_.register_forward_hook(poison)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, batch 1"):
        clf.fit(TEXTS, LABELS)
    handle.remove()
    np.testing.assert_array_equal(clf.predict_proba(PROBE), expected)
    assert clf.n_iter_ == fitted.n_iter_


@pytest.mark.usefixtures("sigint_default")
def test_ctrl_c_during_fit_leaves_a_usable_estimator(monkeypatch):
    real_load = _hub.load_model
    calls = {"n": 0}

    def load(*args, **kwargs):
        model = real_load(*args, **kwargs)

        def hook(module, args, output):
            calls["n"] += 1
            if calls["n"] == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return output

        model.register_forward_hook(hook)
        return model

    monkeypatch.setattr(_hub, "load_model", load)
    clf = BertTextClassifier(epochs=3, batch_size=4, random_state=0)
    with pytest.warns(TrainingInterruptedWarning, match="Training interrupted by user"):
        clf.fit(TEXTS, LABELS)
    proba = clf.predict_proba(PROBE)
    assert np.isfinite(proba).all() and proba.shape == (3, 2)
