"""The device parameter (skbert._device)."""

from __future__ import annotations

import pytest
import torch

from skbert._device import resolve_device


def test_cpu():
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("skbert._device._mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr("skbert._device._mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_cuda_without_cuda_names_the_parameter(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda:1' was requested but CUDA"):
        resolve_device("cuda:1")


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"only 1 CUDA device\(s\) exist"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("bad", ["tpu", "gpu", "cuda:x", ""])
def test_unknown_device_string(bad):
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu'"):
        resolve_device(bad)
