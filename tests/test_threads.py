"""``n_jobs``: torch threads for one estimator's fit and prediction, set on entry
and restored on exit, so parallel folds or workers do not oversubscribe cores."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch

from skbert import BertTextClassifier, BertTextEmbedder, BertTextRegressor
from skbert._device import thread_count, threads

TEXTS = ["good film", "bad plot", "great cast", "awful pacing"] * 4
LABELS = ["pos", "neg", "pos", "neg"] * 4


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_thread_count_follows_scikit_learns_negative_convention():
    cores = joblib.cpu_count()
    assert thread_count(None) is None
    assert thread_count(3) == 3
    assert thread_count(-1) == cores
    assert thread_count(-2) == max(1, cores - 1)
    assert thread_count(-10_000) == 1


def test_threads_sets_and_restores_even_on_error(restore_threads):
    torch.set_num_threads(2)
    with threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="boom"), threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    with threads(None):
        assert torch.get_num_threads() == 2


def _spy(monkeypatch):
    """Record torch's thread count whenever the engine trains or predicts."""
    from skbert import _engine

    seen = []
    for name in ("train", "predict_logits", "embed"):
        original = getattr(_engine, name)

        def spy(*args, _original=original, **kwargs):
            seen.append(torch.get_num_threads())
            return _original(*args, **kwargs)

        monkeypatch.setattr(_engine, name, spy)
    return seen


@pytest.mark.parametrize("cls", [BertTextClassifier, BertTextRegressor])
def test_fit_and_predict_run_with_n_jobs_threads(
    cls, tiny_model, monkeypatch, restore_threads
):
    torch.set_num_threads(2)
    seen = _spy(monkeypatch)
    y = LABELS if cls is BertTextClassifier else np.arange(16.0)
    est = cls(tiny_model, epochs=1, batch_size=8, n_jobs=1, random_state=0)
    est.fit(TEXTS, y)
    est.predict(TEXTS)
    est.partial_fit(TEXTS, y)
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == 2
    est.set_params(n_jobs=None).predict(TEXTS)
    assert seen[-1] == 2


def test_embedder_transform_runs_with_n_jobs_threads(
    tiny_model, monkeypatch, restore_threads
):
    torch.set_num_threads(2)
    seen = _spy(monkeypatch)
    BertTextEmbedder(tiny_model, n_jobs=1).fit().transform(TEXTS)
    assert seen == [1]
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, 1.5, "2"])
def test_bad_n_jobs_is_named(tiny_model, bad):
    with pytest.raises(ValueError, match="'n_jobs' parameter of BertTextClassifier"):
        BertTextClassifier(tiny_model, n_jobs=bad).fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match="'n_jobs' parameter of BertTextEmbedder"):
        BertTextEmbedder(tiny_model, n_jobs=bad).fit()


def test_bad_n_jobs_set_after_fit_is_named_at_prediction(tiny_model):
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=0).fit(TEXTS, LABELS)
    clf.set_params(n_jobs=0)
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        clf.predict(TEXTS)
