"""The training and inference loops: torch only, no scikit-learn.

``train`` fine-tunes a sequence-classification model on batches from a
``TrainBatches``-like source (``len()`` batches per epoch, ``epoch(i)`` yields
``(inputs, targets)`` on the CPU) and returns what happened; ``predict_logits``
runs the model in eval mode under ``torch.inference_mode``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm


class BatchSource(Protocol):
    n_samples: int

    def __len__(self) -> int: ...

    def epoch(
        self, index: int
    ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]: ...


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    max_grad_norm: float | None
    verbose: int = 0


@dataclass
class TrainResult:
    n_iter: int = 0
    loss_curve: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch inside the block and restore the caller's RNG state after it."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def build_optimizer(
    model: nn.Module, learning_rate: float, weight_decay: float
) -> torch.optim.Optimizer:
    """AdamW with no weight decay on biases and normalisation weights (1-D).

    The fused kernel is used on CPU and CUDA: on 2 CPU cores it takes a MiniLM-L6
    step from about 110 ms to 17 ms, a third of the whole step.
    """
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    device_type = next(model.parameters()).device.type
    fused = device_type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=learning_rate, fused=fused)


def linear_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_ratio`` of the steps, then linear decay to 0."""
    warmup = math.ceil(total_steps * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train(
    model: nn.Module,
    batches: BatchSource,
    config: TrainConfig,
    device: torch.device,
) -> TrainResult:
    """Fine-tune ``model`` in place for ``config.epochs`` epochs."""
    model.to(device)
    model.train()
    optimizer = build_optimizer(model, config.learning_rate, config.weight_decay)
    scheduler = linear_schedule(
        optimizer, config.epochs * len(batches), config.warmup_ratio
    )
    result = TrainResult()
    try:
        for epoch in range(config.epochs):
            started = time.perf_counter()
            loss = _train_epoch(
                model, batches, epoch, optimizer, scheduler, config, device
            )
            result.loss_curve.append(loss)
            result.epoch_seconds.append(time.perf_counter() - started)
            result.n_iter = epoch + 1
            if config.verbose:
                _report_epoch(
                    epoch, config.epochs, loss, result.epoch_seconds[-1], batches
                )
    finally:
        optimizer.zero_grad(set_to_none=True)
        model.eval()
    return result


def _train_epoch(
    model: nn.Module,
    batches: BatchSource,
    epoch: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    device: torch.device,
) -> float:
    total, seen = 0.0, 0
    bar = tqdm(
        total=len(batches),
        desc=f"Epoch {epoch + 1}/{config.epochs}",
        disable=config.verbose < 1,
        leave=False,
        unit="batch",
    )
    with bar:
        for inputs, targets in batches.epoch(epoch):
            inputs = {key: value.to(device) for key, value in inputs.items()}
            targets = targets.to(device)
            logits = model(**inputs).logits
            loss = F.cross_entropy(logits.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(targets)
            seen += len(targets)
            bar.set_postfix(loss=f"{total / seen:.4f}")
            bar.update()
    return total / seen


def _report_epoch(
    epoch: int, epochs: int, loss: float, seconds: float, batches: BatchSource
) -> None:
    rate = batches.n_samples / seconds if seconds > 0 else float("inf")
    print(
        f"Epoch {epoch + 1}/{epochs}: loss {loss:.4f}, {seconds:.1f} s "
        f"({rate:.1f} samples/s)",
        flush=True,
    )


def predict_logits(
    model: nn.Module,
    batches: Sequence[tuple[np.ndarray, dict[str, torch.Tensor]]] | Iterator[Any],
    n_samples: int,
    device: torch.device,
    *,
    total: int | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Logits for ``n_samples`` texts, placed back at each batch's indices."""
    model.eval()
    out: np.ndarray | None = None
    with torch.inference_mode():
        for indices, inputs in tqdm(
            batches, total=total, desc="Predicting", disable=verbose < 1, leave=False
        ):
            inputs = {key: value.to(device) for key, value in inputs.items()}
            logits = model(**inputs).logits.float().cpu().numpy()
            if out is None:
                out = np.empty((n_samples, logits.shape[1]), dtype=np.float32)
            out[indices] = logits
    assert out is not None, "predict_logits needs at least one batch"
    return out
