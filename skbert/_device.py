"""Turn the ``device`` parameter into a :class:`torch.device`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device_string(device: str, owner: str = "BertTextClassifier") -> None:
    """Reject a ``device`` that names no device kind, in scikit-learn's words."""
    from sklearn.utils._param_validation import InvalidParameterError

    if not _DEVICE_PATTERN.match(device):
        raise InvalidParameterError(
            f"The 'device' parameter of {owner} must be 'auto', 'cpu', "
            f"'cuda', 'cuda:<index>' or 'mps'. Got {device!r} instead."
        )


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch inside the block and restore the caller's RNG state after it.

    ``None`` leaves torch's random state as it is.
    """
    if seed is None:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def thread_count(n_jobs: int | None) -> int | None:
    """Torch threads for ``n_jobs``: None leaves torch's setting; a negative
    value counts back from the usable cores as in scikit-learn (-1: all of them,
    -2: all but one), and is at least 1."""
    if n_jobs is None:
        return None
    if n_jobs > 0:
        return int(n_jobs)
    import joblib

    return max(1, joblib.cpu_count() + 1 + n_jobs)


@contextlib.contextmanager
def threads(n_jobs: int | None) -> Iterator[None]:
    """Run the block with ``n_jobs`` torch threads, and restore the caller's
    count after it.

    torch's thread count is global to the process, so two estimators with
    different ``n_jobs`` in two threads of one process share the last one set;
    processes (joblib's loky, Dask workers, torchrun ranks) each have their own.
    """
    wanted = thread_count(n_jobs)
    before = torch.get_num_threads()
    if wanted is None or wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str) -> torch.device:
    """Return the torch device for ``"auto"``, ``"cpu"``, ``"cuda[:n]"`` or ``"mps"``.

    ``"auto"`` picks CUDA when available, then Apple's MPS, then the CPU. Asking for
    a device that this machine lacks raises ``ValueError`` naming what is available.
    """
    if not _DEVICE_PATTERN.match(device):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'; "
            f"got {device!r}."
        )
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        _check_cuda(resolved)
    if resolved.type == "mps" and not _mps_available():
        raise ValueError("device='mps' was requested but MPS is not available here.")
    return resolved


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _check_cuda(device: torch.device) -> None:
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was requested but CUDA is not available on this "
            "machine (torch was built without CUDA or no GPU is visible). "
            "Use device='cpu' or device='auto'."
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(
            f"device={str(device)!r} was requested but only {count} CUDA device(s) "
            f"exist (indices 0 to {count - 1})."
        )
