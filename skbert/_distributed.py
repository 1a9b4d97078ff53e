"""Data-parallel training under ``torchrun``: the process group and agreement.

When ``torchrun`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``) started the process, or the caller already
initialised a ``torch.distributed`` process group, ``fit`` trains with
DistributedDataParallel. Every rank is expected to call ``fit`` with the whole
training set: the batch plan is the same on every rank (it comes from
``random_state``) and each rank trains on its own share of the batches.

This module starts the group on first use (gloo on the CPU, NCCL on CUDA) and
leaves it running for later fits, as ``accelerate`` does; it never tears down a
group the caller made. Everything that a rank decides alone but all ranks must
agree on (fitted attributes, an error, early stopping, a stop on Ctrl-C) goes
through :func:`broadcast` or :func:`agree`.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import torch

T = TypeVar("T")

_LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """Whether a launcher (torchrun) asked for more than one process."""
    return (
        all(name in os.environ for name in _LAUNCHER_VARIABLES)
        and int(os.environ["WORLD_SIZE"]) > 1
    )


def active() -> bool:
    """Whether training is data-parallel: an initialised group of 2+ processes."""
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return torch.distributed.get_rank() if active() else 0


def world_size() -> int:
    return torch.distributed.get_world_size() if active() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def device_for_rank(device: torch.device) -> torch.device:
    """Under a launcher, "cuda" without an index is this rank's GPU
    (``LOCAL_RANK``), as torchrun's one-process-per-GPU layout expects."""
    if device.type == "cuda" and device.index is None and (launched() or active()):
        return torch.device("cuda", local_rank())
    return device


def ensure_group(device: torch.device) -> bool:
    """Start the process group if a launcher asked for one; True when training
    is data-parallel. gloo on the CPU, NCCL on CUDA."""
    dist = torch.distributed
    if not dist.is_available():
        return False
    if launched() and not dist.is_initialized():
        timeout = collective_timeout()
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device, timeout=timeout)
        else:
            dist.init_process_group("gloo", timeout=timeout)
        # Ours to end: a group left to the interpreter's exit can abort it.
        atexit.register(_destroy)
    return active()


#: Seconds a rank waits in a collective call (an all-reduce of gradients, a
#: broadcast of rank 0's validation score) for the other ranks before it raises,
#: unless ``SKBERT_COLLECTIVE_TIMEOUT`` says otherwise. torch's own default; it must
#: outlast the longest thing one rank does while the others wait: rank 0's
#: validation pass, or loading the model on the slowest machine.
DEFAULT_COLLECTIVE_TIMEOUT = 1800


def collective_timeout() -> timedelta:
    """``SKBERT_COLLECTIVE_TIMEOUT`` seconds, else 30 minutes."""
    value = os.environ.get("SKBERT_COLLECTIVE_TIMEOUT", str(DEFAULT_COLLECTIVE_TIMEOUT))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(
            f"SKBERT_COLLECTIVE_TIMEOUT must be a number of seconds above 0, got "
            f"{value!r}."
        )
    return timedelta(seconds=seconds)


def _destroy() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def broadcast(value: T, source: int = 0) -> T:
    """Rank ``source``'s ``value`` on every rank (any picklable object)."""
    if not active():
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=source)
    return box[0]


def agree(step: Callable[[], T]) -> T:
    """Run ``step`` on every rank; if it raised on any rank, raise on all.

    The error of the lowest failing rank is raised again on every rank (as a
    ``ValueError`` naming that rank where it failed elsewhere), so no rank goes
    on to a collective call that the failed ones will never make.
    """
    if not active():
        return step()
    result: Any = None
    error: BaseException | None = None
    try:
        result = step()
    except Exception as exc:  # every rank must hear of it
        error = exc
    errors: list[Any] = [None] * world_size()
    torch.distributed.all_gather_object(errors, None if error is None else repr(error))
    failed = [i for i, message in enumerate(errors) if message is not None]
    if not failed:
        return result
    if error is not None and failed[0] == rank():
        raise error
    raise ValueError(
        f"Rank {failed[0]} of {world_size()} failed during data-parallel fit: "
        f"{errors[failed[0]]}"
    )


def any_rank(flags: list[bool], device: torch.device) -> list[bool]:
    """For each flag, whether it is set on any rank (one small all-reduce)."""
    if not active():
        return flags
    tensor = torch.tensor([float(f) for f in flags], device=_collective_device(device))
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
    return [bool(v) for v in tensor.tolist()]


def mean_over_ranks(value: float, device: torch.device) -> float:
    """The mean of ``value`` over the ranks."""
    if not active():
        return value
    on = _collective_device(device)
    tensor = torch.tensor([value], dtype=torch.float64, device=on)
    torch.distributed.all_reduce(tensor)
    return float(tensor.item()) / world_size()


def _collective_device(device: torch.device) -> torch.device:
    """NCCL reduces CUDA tensors only; gloo CPU tensors."""
    if torch.distributed.get_backend() == "nccl":
        return device if device.type == "cuda" else torch.device("cuda")
    return torch.device("cpu")
