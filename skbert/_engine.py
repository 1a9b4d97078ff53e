"""The training and inference loops: torch only, no scikit-learn.

``train`` is called once per ``fit``: it fine-tunes a sequence-classification model
on batches from a ``TrainBatches``-like source (``len()`` batches per epoch,
``epoch(i)`` yields ``(inputs, targets, weights)`` on the CPU) as a
:class:`TrainConfig` says (seed, freezing, precision, the task's loss, the
schedule) and returns what happened; if training fails, the weights it started
from are restored when the config asks for it. ``predict_logits`` runs the model
in eval mode under ``torch.inference_mode``.

Early stopping asks an ``evaluate`` callback for the validation loss and score after
each epoch, keeps a CPU copy of the best weights and restores them at the end. Ctrl-C
during training stops after the current batch (a SIGINT handler sets a flag, so no
step is ever cut in half); a ``KeyboardInterrupt`` raised some other way stops at
once. Either way the best (or last) weights are kept and the caller is warned. A
non-finite loss or gradient raises :class:`NonFiniteLossError` before the step that
would have applied it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import _distributed
from ._device import seeded
from ._warnings import warn
from .exceptions import NonFiniteLossError, TrainingInterruptedWarning

Batch = tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]
Evaluate = Callable[[], tuple[float, float]]
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# The mark of an adapter's parameters in their names (peft's LoRA layers).
ADAPTER_MARK = "lora_"


class BatchSource(Protocol):
    n_samples: int

    def __len__(self) -> int: ...

    def epoch(self, index: int) -> Iterator[Batch]: ...

    def shard(self, rank: int, world_size: int) -> BatchSource:
        """Rank ``rank``'s share of every epoch's batches (data-parallel)."""
        ...


def weighted_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy averaged with per-sample weights (sum w*l / sum w)."""
    losses = nn.functional.cross_entropy(logits, targets, reduction="none")
    return _weighted_mean(losses, weights)


def weighted_mse(
    outputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Squared error, averaged over the outputs, then with per-sample weights."""
    errors = (outputs - targets.reshape(outputs.shape)) ** 2
    return _weighted_mean(errors.mean(dim=1), weights)


def weighted_binary_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sigmoid cross-entropy of each label, averaged over the labels, then with
    per-sample weights; ``pos_weight`` multiplies each label's positive term, as
    in ``torch.nn.BCEWithLogitsLoss``."""
    losses = nn.functional.binary_cross_entropy_with_logits(
        logits, targets.to(logits.dtype), reduction="none", pos_weight=pos_weight
    )
    return _weighted_mean(losses.mean(dim=1), weights)


def cosine_pairs(
    embeddings: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """SetFit's loss on every pair of a batch: the squared gap between two
    embeddings' cosine similarity and 1 for the same label, 0 for different
    labels, each pair weighted by the product of its inputs' weights."""
    unit = nn.functional.normalize(embeddings, dim=1)
    similarity = unit @ unit.T
    same = (targets[:, None] == targets[None, :]).to(similarity.dtype)
    pairs = torch.triu(torch.ones_like(similarity), diagonal=1)
    weight = weights[:, None] * weights[None, :] * pairs
    return ((similarity - same) ** 2 * weight).sum() / weight.sum().clamp_min(1e-12)


def _weighted_mean(losses: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (losses * weights).sum() / weights.sum().clamp_min(1e-12)


@dataclass(frozen=True)
class Loss:
    """A task's weighted loss: ``Loss(kind)(outputs, targets, weights)``.

    ``kind`` is "cross_entropy" (integer class targets), "mse" (float targets of
    the outputs' shape), "binary_cross_entropy" (0/1 float targets of the
    outputs' shape, one sigmoid per output), whose ``pos_weight`` holds one
    positive-class weight per output, or "cosine_pairs" (integer class targets
    of embeddings, see :func:`cosine_pairs`).
    """

    kind: str = "cross_entropy"
    pos_weight: tuple[float, ...] | None = None

    def __call__(
        self, outputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        if self.kind == "cross_entropy":
            return weighted_cross_entropy(outputs, targets, weights)
        if self.kind == "mse":
            return weighted_mse(outputs, targets, weights)
        if self.kind == "cosine_pairs":
            return cosine_pairs(outputs, targets, weights)
        pos_weight = None
        if self.pos_weight is not None:
            pos_weight = torch.tensor(
                self.pos_weight, dtype=outputs.dtype, device=outputs.device
            )
        return weighted_binary_cross_entropy(outputs, targets, weights, pos_weight)


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``train`` needs besides the model and the data.

    ``loss`` is the task's :class:`Loss`. ``precision`` may be "auto".
    ``restore_on_failure`` keeps a CPU copy of the starting weights to put back
    if training raises.
    ``incremental`` (``partial_fit``) returns the optimizer's state for the next
    call; the rate then stays at ``learning_rate`` after the warm-up instead of
    following ``lr_scheduler``.
    ``adapter``: the model carries adapters (parameters named ``lora_``); of
    its pretrained body only they train, the head trains in full.
    """

    epochs: int
    learning_rate: float
    min_steps: int = 0
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_grad_norm: float | None = None
    lr_scheduler: str = "linear"
    gradient_accumulation_steps: int = 1
    precision: str = "fp32"
    early_stopping: bool = False
    n_iter_no_change: int = 2
    tol: float = 0.0
    verbose: int = 0
    loss: Loss = Loss()
    seed: int | None = None
    freeze_layers: int | str = 0
    restore_on_failure: bool = False
    incremental: bool = False
    adapter: bool = False


@dataclass
class OptimizerState:
    """AdamW's state between ``partial_fit`` calls."""

    state: dict[str, Any]
    steps: int
    warmup: int


@dataclass
class TrainResult:
    n_iter: int = 0
    precision: str = "fp32"
    loss_curve: list[float] = field(default_factory=list)
    validation_loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    best_validation_score: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    optimizer: OptimizerState | None = None


def resolve_precision(precision: str, device: torch.device) -> str:
    """ "auto" is bf16 on GPUs that support it and fp32 elsewhere.

    On the CPU, fp32 is kept: on this project's 2-core development machine bf16
    autocast made MiniLM-L6 inference 4.7x slower and training no faster.
    """
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    dtype = _DTYPES[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


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


def lr_factor(kind: str, step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then ``kind``."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if kind == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return max(0.0, 1.0 - progress)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    total: int,
    resume: OptimizerState | None = None,
) -> tuple[torch.optim.lr_scheduler.LambdaLR, int]:
    """The learning-rate schedule over ``total`` steps, and its warm-up length.

    An incremental run (``partial_fit``) warms up over the first call's first
    ``warmup_ratio`` of steps, then stays constant: the number of calls to come
    is unknown, so there is no end to decay towards.
    """
    if resume is not None:
        warmup, offset = resume.warmup, resume.steps
    else:
        warmup, offset = math.ceil(total * config.warmup_ratio), 0
    kind = "constant" if config.incremental else config.lr_scheduler
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(kind, offset + step, total, warmup)
    )
    return scheduler, warmup


class _Interrupt:
    """Turns Ctrl-C into a flag checked after each batch, in the main thread only."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupt:
        # A process that ignores SIGINT (nohup, a background job) keeps ignoring it.
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _Stop(Exception):
    """Internal: the current epoch ended early because of an interrupt."""


class _Trainer:
    """One call of :func:`train`: the optimizer lives and dies with it."""

    def __init__(
        self,
        model: nn.Module,
        batches: BatchSource,
        config: TrainConfig,
        device: torch.device,
        evaluate: Evaluate | None,
        resume: OptimizerState | None,
    ) -> None:
        self.model = model
        self.forward = model  # the DistributedDataParallel wrapper when parallel
        self.parallel = _distributed.active()
        if self.parallel:
            from torch.nn.parallel import DistributedDataParallel

            # Broadcasts rank 0's weights; all-reduces (averages) the gradients.
            # A forward hook that rewrites the body's output (mean pooling, a
            # bi-encoder) leaves the pooler without gradients: DDP must look.
            body = getattr(model, "base_model", model)
            self.forward = DistributedDataParallel(
                model,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=bool(body._forward_hooks),
            )
            batches = batches.shard(_distributed.rank(), _distributed.world_size())
        self.batches = batches
        self.config = config
        self.device = device
        self.evaluate = evaluate
        self.loud = config.verbose > 0 and _distributed.rank() == 0
        self.precision = resolve_precision(config.precision, device)
        self.steps_per_epoch = math.ceil(
            len(batches) / config.gradient_accumulation_steps
        )
        self.epochs = max(
            config.epochs, math.ceil(config.min_steps / self.steps_per_epoch)
        )
        self.optimizer = build_optimizer(
            model, config.learning_rate, config.weight_decay
        )
        if resume is not None and not _load_optimizer(self.optimizer, resume):
            resume = None
        self.scheduler, self.warmup = build_scheduler(
            self.optimizer, config, self.epochs * self.steps_per_epoch, resume
        )
        self.steps_before = 0 if resume is None else resume.steps
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=self.precision == "fp16"
        )
        self.result = TrainResult(precision=self.precision)
        self.best_state: dict[str, torch.Tensor] | None = None
        self.no_improvement = 0
        self.mid_epoch = True  # where an interrupt stopped training

    def run(self) -> TrainResult:
        with _Interrupt() as interrupt:
            self.interrupt = interrupt
            try:
                for epoch in range(self.epochs):
                    if self._run_epoch(epoch):
                        break
            except (_Stop, KeyboardInterrupt):
                self.result.interrupted = True
        if self.result.interrupted:
            self._warn_interrupted()
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        if self.config.incremental:
            self.result.optimizer = OptimizerState(
                self.optimizer.state_dict(),
                self.steps_before + self.scheduler.last_epoch,
                self.warmup,
            )
        return self.result

    def _run_epoch(self, epoch: int) -> bool:
        """Train one epoch; return True when early stopping says stop."""
        started = time.perf_counter()
        learning_rate = self.scheduler.get_last_lr()[0]
        self.model.train()
        loss = self._train_epoch(epoch)
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "learning_rate": learning_rate,
            "train_loss": loss,
        }
        self.result.loss_curve.append(loss)
        self.result.n_iter = epoch + 1
        stop = False
        if self.evaluate is not None:
            stop = self._validate(epoch, record)
        record["seconds"] = time.perf_counter() - started
        self.result.history.append(record)
        if self.loud:
            _report_epoch(record, self.epochs, self.batches.n_samples)
        if self.parallel:  # a Ctrl-C on any rank stops them all here
            [self.interrupt.requested] = _distributed.any_rank(
                [self.interrupt.requested], self.device
            )
        if self.interrupt.requested:  # Ctrl-C during validation
            self.mid_epoch = False
            raise _Stop
        return stop

    def _train_epoch(self, epoch: int) -> float:
        total, seen = 0.0, 0
        accumulate = self.config.gradient_accumulation_steps
        bar = tqdm(
            total=len(self.batches),
            desc=f"Epoch {epoch + 1}/{self.epochs}",
            disable=not self.loud,
            leave=False,
            unit="batch",
        )
        self.optimizer.zero_grad(set_to_none=True)
        with bar:
            for index, (inputs, targets, weights) in enumerate(
                self.batches.epoch(epoch)
            ):
                group = _group_size(index, accumulate, len(self.batches))
                last = index + 1 == len(self.batches)
                steps = (index + 1) % accumulate == 0 or last
                # Gradients are all-reduced only on the backward before a step.
                syncing: Any = contextlib.nullcontext()
                if self.parallel and not steps:
                    syncing = self.forward.no_sync()
                with syncing:
                    loss = self._backward(
                        inputs, targets, weights, group, (epoch, index)
                    )
                if steps:
                    self._step(epoch, index)
                total += loss * len(targets)
                seen += len(targets)
                bar.set_postfix(loss=f"{total / seen:.4f}")
                bar.update()
                if self.interrupt.requested:
                    raise _Stop
        return _distributed.mean_over_ranks(total / seen, self.device)

    def _backward(
        self,
        inputs: dict[str, torch.Tensor],
        targets: torch.Tensor,
        weights: torch.Tensor,
        group: int,
        where: tuple[int, int],
    ) -> float:
        """Backpropagate one batch's loss, divided by its accumulation group's size."""
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        targets = targets.to(self.device)
        weights = weights.to(self.device)
        with autocast(self.precision, self.device):
            logits = self.forward(**inputs).logits
        loss = self.config.loss(logits.float(), targets, weights)
        value = loss.item()
        finite = math.isfinite(value)
        if self.parallel:  # every rank stops if any must, before the all-reduce
            broken, self.interrupt.requested = _distributed.any_rank(
                [not finite, self.interrupt.requested], self.device
            )
            if broken and finite:
                self.optimizer.zero_grad(set_to_none=True)
                raise NonFiniteLossError(
                    f"The training loss became non-finite on another rank at epoch "
                    f"{where[0] + 1}, batch {where[1] + 1}; training stopped on "
                    "every rank before that step was applied."
                )
        if not finite:
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLossError(
                f"The training loss became {value} at epoch {where[0] + 1}, batch "
                f"{where[1] + 1}; training stopped before that step was applied. "
                "Lower learning_rate, use precision='fp32', or check the inputs."
            )
        self.scaler.scale(loss / group).backward()
        return value

    def _step(self, epoch: int, index: int) -> None:
        self.scaler.unscale_(self.optimizer)
        if self.config.max_grad_norm is not None:
            norm = nn.utils.clip_grad_norm_(
                self.model.parameters(), self.config.max_grad_norm
            )
            if not torch.isfinite(norm) and self.precision != "fp16":
                self.optimizer.zero_grad(set_to_none=True)
                raise NonFiniteLossError(
                    f"The gradient norm became {norm.item()} at epoch {epoch + 1}, "
                    f"batch {index + 1}; training stopped before that step was "
                    "applied. Lower learning_rate or use precision='fp32'."
                )
        self.scaler.step(self.optimizer)  # skips the step on fp16 overflow
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _validate(self, epoch: int, record: dict[str, Any]) -> bool:
        assert self.evaluate is not None
        self.model.eval()
        # Rank 0 scores, every rank follows its decision.
        validation_loss, score = _distributed.broadcast(
            _distributed.agree(
                lambda: self.evaluate() if _distributed.rank() == 0 else None
            )
        )
        record["validation_loss"] = validation_loss
        record["validation_score"] = score
        self.result.validation_loss_curve.append(validation_loss)
        self.result.validation_scores.append(score)
        best = self.result.best_validation_score
        if best is None or score > best + self.config.tol:
            self.no_improvement = 0
        else:
            self.no_improvement += 1
        if best is None or score > best:
            self.result.best_validation_score = score
            self.result.best_epoch = epoch + 1
            if self.config.early_stopping:
                self.best_state = _cpu_copy(self.model.state_dict())
        return (
            self.config.early_stopping
            and self.no_improvement >= self.config.n_iter_no_change
        )

    def _warn_interrupted(self) -> None:
        kept = "the best epoch's" if self.best_state is not None else "the last"
        done = self.result.n_iter
        when = f"during epoch {done + 1}" if self.mid_epoch else f"after epoch {done}"
        warn(
            f"Training interrupted by user {when}; keeping {kept} weights after "
            f"{done} complete epoch(s).",
            TrainingInterruptedWarning,
        )


def _group_size(index: int, accumulate: int, n_batches: int) -> int:
    """Batches in the gradient-accumulation group of batch ``index``.

    The last group may be short: its batches are averaged over its own size, so
    its step is as large as any other.
    """
    start = index - index % accumulate
    return min(accumulate, n_batches - start)


def _load_optimizer(optimizer: torch.optim.Optimizer, resume: OptimizerState) -> bool:
    """Load a previous call's AdamW state; False if the parameters changed."""
    settings = [
        {key: value for key, value in group.items() if key != "params"}
        for group in optimizer.param_groups
    ]
    try:
        optimizer.load_state_dict(resume.state)
    except ValueError:  # other trainable parameters (freeze_layers changed)
        return False
    for group, fresh in zip(optimizer.param_groups, settings, strict=True):
        group.pop("initial_lr", None)
        group.update(fresh)  # today's learning_rate and weight_decay
    return True


def train(
    model: nn.Module,
    batches: BatchSource,
    config: TrainConfig,
    device: torch.device,
    evaluate: Evaluate | None = None,
    resume: OptimizerState | None = None,
) -> TrainResult:
    """Fine-tune ``model`` in place, as ``config`` says.

    Seeds torch inside a forked RNG, freezes layers, moves the model to
    ``device`` and trains. If training raises (a non-finite loss, an error), the
    starting weights are restored when ``config.restore_on_failure``; a fresh
    model is left as it is (the caller discards it). Nothing of the optimizer
    outlives the call unless ``config.incremental``.
    """
    with seeded(config.seed, device):
        freeze(model, config.freeze_layers, config.adapter)
        start = snapshot(model) if config.restore_on_failure else None
        model.to(device)
        trainer = _Trainer(model, batches, config, device, evaluate, resume)
        try:
            return trainer.run()
        except BaseException:
            if start is not None:
                model.load_state_dict(start)
            raise
        finally:
            trainer.optimizer.zero_grad(set_to_none=True)
            model.eval()


def freeze(model: nn.Module, freeze_layers: int | str, adapter: bool = False) -> None:
    """Freeze the embeddings and the first ``freeze_layers`` encoder layers.

    ``"all"`` freezes the whole pretrained body, so only the classification head
    trains; 0 trains everything. Every call first unfreezes all parameters.
    With ``adapter``, the body's own weights stay frozen and only its adapters'
    (named ``lora_``) train, except those in the frozen layers. The output
    layer of a :class:`HeadInput` stays frozen: its loss never reaches it, and
    data-parallel training requires every trained weight to get a gradient.
    """
    model.requires_grad_(True)
    if isinstance(model, HeadInput):
        output_layer(model.model).requires_grad_(False)
    if adapter:
        for name, parameter in model.base_model.named_parameters():
            parameter.requires_grad_(ADAPTER_MARK in name)
    if freeze_layers == 0:
        return
    body = model.base_model
    if freeze_layers == "all":
        body.requires_grad_(False)
        return
    layers = _encoder_layers(body)
    if freeze_layers > len(layers):
        raise ValueError(
            f"freeze_layers={freeze_layers} but the model has only {len(layers)} "
            "encoder layers; use at most that many, or 'all'."
        )
    body.embeddings.requires_grad_(False)
    for layer in layers[:freeze_layers]:
        layer.requires_grad_(False)


def _encoder_layers(body: nn.Module) -> nn.ModuleList:
    """The stack of transformer blocks of a BERT-, RoBERTa- or DistilBERT-style body."""
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        found: Any = body
        for name in path.split("."):
            found = getattr(found, name, None)
        if isinstance(found, nn.ModuleList):
            return found
    raise ValueError(
        f"freeze_layers with a number needs a model with an encoder layer stack; "
        f"{type(body).__name__} has none that skbert recognises. Use 0 or 'all'."
    )


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights, to restore if training fails."""
    return _cpu_copy(model.state_dict())


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in state.items()}


def _report_epoch(record: dict[str, Any], epochs: int, n_samples: int) -> None:
    seconds = record["seconds"]
    rate = n_samples / seconds if seconds > 0 else float("inf")
    line = f"Epoch {record['epoch']}/{epochs}: loss {record['train_loss']:.4f}"
    if "validation_loss" in record:
        line += (
            f", validation loss {record['validation_loss']:.4f}, "
            f"score {record['validation_score']:.4f}"
        )
    print(f"{line}, {seconds:.1f} s ({rate:.1f} samples/s)", flush=True)


#: The most bytes one float32 activation of a CPU inference batch may take.
#: glibc's malloc serves every block above its mmap threshold (32 MiB at most)
#: with fresh pages from the kernel, so a batch whose feed-forward activations
#: outgrow it pays page faults on every layer. On MiniLM-L6 (intermediate 1,536,
#: 1 idle AVX-512 core) 64 texts of 128 tokens took 11.2 ms a text in int8 and
#: 21.4 in fp32, 32 texts 7.6 and 18.7, and 64 texts again 8.0 and 19.9 with
#: glibc's threshold raised (``MALLOC_MMAP_THRESHOLD_``).
CPU_BATCH_BYTES = 24 * 2**20


def batch_tokens(config: Any, device: torch.device | str) -> int | None:
    """The padded tokens one inference batch may hold on ``device``: enough for
    the widest float32 activation (the feed-forward layer's) to stay within
    :data:`CPU_BATCH_BYTES` on the CPU; no limit elsewhere."""
    if torch.device(device).type != "cpu":
        return None
    widest = max(
        int(getattr(config, "intermediate_size", 0) or 0),
        int(getattr(config, "hidden_size", 0) or 0),
        1,
    )
    return max(1, CPU_BATCH_BYTES // (4 * widest))


def predict_logits(
    model: nn.Module,
    batches: Sequence[tuple[np.ndarray, dict[str, torch.Tensor]]] | Iterator[Any],
    n_samples: int,
    device: torch.device,
    *,
    precision: str = "fp32",
    total: int | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Logits for ``n_samples`` texts, placed back at each batch's indices."""
    return _run(
        lambda inputs: model(**inputs).logits,
        model,
        batches,
        n_samples,
        device,
        precision=precision,
        total=total,
        verbose=verbose,
    )


def head_features(
    model: nn.Module,
    batches: Sequence[tuple[np.ndarray, dict[str, torch.Tensor]]],
    n_samples: int,
    device: torch.device,
) -> np.ndarray:
    """What the output layer of ``model`` reads for each row, in eval mode
    (pooled, after the head's dense layers where it has any), in row order."""
    features = HeadInput(model)
    model.to(device)
    return _run(
        lambda inputs: features(**inputs).logits,
        model,
        batches,
        n_samples,
        device,
        precision="fp32",
        total=None,
        verbose=0,
    )


def set_output_layer(model: nn.Module, weight: np.ndarray, bias: np.ndarray) -> None:
    """Give the output layer of ``model`` the weights ``weight`` and ``bias``."""
    layer = output_layer(model)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))


@dataclass
class _Output:
    logits: torch.Tensor


class Pooled(nn.Module):
    """A bare encoder whose forward returns its pooled sentence embeddings as
    ``logits``, so :func:`train` fine-tunes embeddings as it fine-tunes heads."""

    def __init__(self, encoder: nn.Module, pooling: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling

    @property
    def base_model(self) -> nn.Module:
        return self.encoder

    def forward(self, **inputs: torch.Tensor) -> _Output:
        hidden = self.encoder(**inputs).last_hidden_state
        return _Output(pool(hidden, inputs["attention_mask"], self.pooling))


class HeadInput(nn.Module):
    """A model with a head whose forward returns, as ``logits``, what its output
    layer reads (pooled, after the head's dense layers where it has any), so
    :func:`train` trains the body on those features with a loss of embeddings
    ("cosine_pairs": the contrastive stage before a head is fitted)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def base_model(self) -> nn.Module:
        return self.model.base_model

    def forward(self, **inputs: torch.Tensor) -> _Output:
        seen: list[torch.Tensor] = []
        hook = output_layer(self.model).register_forward_pre_hook(
            lambda module, args: seen.append(args[0])
        )
        try:
            self.model(**inputs)
        finally:
            hook.remove()
        return _Output(seen[-1].reshape(len(inputs["input_ids"]), -1))


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """The first token's hidden state ("cls") or the mean over the real tokens."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-9)


def embed(
    model: nn.Module,
    batches: Sequence[tuple[np.ndarray, dict[str, torch.Tensor]]] | Iterator[Any],
    n_samples: int,
    device: torch.device,
    *,
    pooling: str = "mean",
    normalize: bool = True,
    precision: str = "fp32",
    total: int | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Sentence embeddings of a bare encoder (``AutoModel``), in input order.

    "mean" averages the last hidden states over the real tokens (the attention
    mask), as sentence-transformers' Pooling does; "cls" takes the first token's.
    ``normalize`` scales each embedding to unit length.
    """

    def forward(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = model(**inputs).last_hidden_state.float()
        pooled = pool(hidden, inputs["attention_mask"], pooling)
        return nn.functional.normalize(pooled, dim=1) if normalize else pooled

    return _run(
        forward,
        model,
        batches,
        n_samples,
        device,
        precision=precision,
        total=total,
        verbose=verbose,
    )


def _run(
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    model: nn.Module,
    batches: Sequence[tuple[np.ndarray, dict[str, torch.Tensor]]] | Iterator[Any],
    n_samples: int,
    device: torch.device,
    *,
    precision: str,
    total: int | None,
    verbose: int,
) -> np.ndarray:
    """``forward``'s float32 rows for ``n_samples`` inputs, in eval mode, placed
    back at each batch's indices."""
    model.eval()
    out: np.ndarray | None = None
    with torch.inference_mode(), autocast(precision, device):
        for indices, inputs in tqdm(
            batches, total=total, desc="Predicting", disable=verbose < 1, leave=False
        ):
            inputs = {
                key: torch.as_tensor(value).to(device) for key, value in inputs.items()
            }
            rows = forward(inputs).float().cpu().numpy()
            if out is None:
                out = np.empty((n_samples, rows.shape[1]), dtype=np.float32)
            out[indices] = rows
    assert out is not None, "predict_logits needs at least one batch"
    return out


def quantized_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose encoder Linear layers run in int8.

    Dynamic quantisation with one scale per output channel (int8 weights,
    activations quantised per batch) of the attention and feed-forward layers;
    the embeddings, the pooler and the head stay fp32. ``torch.ao.quantization``
    warns that it is deprecated in favour of torchao; its kernels are still the
    fast eager path on the CPU.

    On CPUs with AMX the weights are packed for oneDNN's int8 kernels and the
    activations use all 8 bits (see :func:`_full_range_linear`). Elsewhere the
    weights are packed for torch's default engine, whose kernels quantise the
    activations to 7 bits so that AVX2's 16-bit pair sums cannot saturate;
    there the first layer's feed-forward output (``layer.0.output.dense``), whose
    inputs carry BERT's outlier activations, stays fp32. A packed layer keeps its
    engine, so the global setting (``torch.backends.quantized.engine``) is
    restored at once.

    Measured on MiniLM-L6 fine-tuned on 1,000 SST-2 sentences (1 idle
    AVX-512/AMX core; agreement of labels with fp32 on the 872 validation
    sentences and on 500 IMDB test reviews at 128 tokens, time as a fraction of
    fp32's): 7-bit activations packed for x86 with that layer kept fp32, 97.4%
    at 0.56x on SST-2 (every layer int8: 96.0%); packed for oneDNN, 97.6% and
    96.8% at 0.38x and 0.56x; oneDNN with 8-bit activations and every layer
    int8, 98.6% and 98.4% at 0.35x and 0.56x.
    """
    import copy
    import re
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    engine = int8_engine()
    full_range = engine == "onednn"
    first_ffn_out = re.compile(r"\.layer\.0\.output\.dense$")
    layers = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and name.startswith(f"{model.base_model_prefix}.")
        and ".pooler" not in name
        and (full_range or not first_ffn_out.search(name))
    }
    mapping = {nn.Linear: _full_range_linear()} if full_range else None
    with warnings.catch_warnings(), _quantized_engine(engine):
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        return quantize_dynamic(
            copy.deepcopy(model).cpu().eval(), layers, torch.qint8, mapping
        )


@functools.cache
def _full_range_linear() -> type[nn.Module]:
    """torch's dynamic int8 Linear with activations quantised to all 8 bits.

    torch's own module always asks for 7 (``reduce_range=True``), which only
    fbgemm's AVX2 kernels need; oneDNN's kernels on AMX compute exact 32-bit
    sums. On the SST-2 and IMDB check in :func:`quantized_int8`, the full range
    halved the largest change of a probability (0.055 to 0.027 on SST-2).
    """
    from torch.ao.nn.quantized.dynamic import Linear

    class FullRangeInt8Linear(Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            packed = self._packed_params._packed_params
            y = torch.ops.quantized.linear_dynamic(x, packed, reduce_range=False)
            return y.to(x.dtype)

        def _get_name(self) -> str:
            return "FullRangeInt8Linear"

    return FullRangeInt8Linear


def int8_engine() -> str:
    """The quantised engine to pack int8 weights for: oneDNN where the CPU has
    AMX tiles and torch ships the engine, else torch's current one."""
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    if "onednn" in torch.backends.quantized.supported_engines and amx():
        return "onednn"
    return torch.backends.quantized.engine


@contextlib.contextmanager
def _quantized_engine(name: str) -> Iterator[None]:
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def export_onnx_graph(
    model: nn.Module, path: str, input_names: list[str], max_length: int
) -> None:
    """Write ``model``'s logits as an ONNX graph with dynamic batch and sequence
    axes, quietly (torch.onnx's dynamo exporter logs and warns a lot).

    The attention is exported in its eager form (matmul, softmax, matmul): the
    SDPA form becomes a graph that also guards softmax rows that are all masked
    (``IsNaN``, ``Where``), which took onnxruntime 1.20x PyTorch's time on
    64 x 128-token batches of MiniLM-L6 against 1.00x for the eager form (with
    :data:`skbert.onnx.DISABLED_OPTIMIZERS`; 1 idle AVX-512 core, same outputs
    within 1e-7).
    """
    import logging
    import warnings

    if next(model.parameters()).device.type != "cpu":
        import copy

        model = copy.deepcopy(model).cpu()

    class Logits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                inputs["token_type_ids"] = token_type_ids
            return self.model(**inputs).logits

    length = min(8, max_length)
    example = tuple(torch.ones((2, length), dtype=torch.int64) for _ in input_names)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    axes = {name: {0: batch, 1: sequence} for name in input_names}
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export")]
    levels = [logger.level for logger in loggers]
    wrapper = Logits().eval()
    attention = model.config._attn_implementation
    try:
        model.set_attn_implementation("eager")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                example,
                path,
                input_names=input_names,
                output_names=["logits"],
                dynamic_shapes=axes,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        model.set_attn_implementation(attention)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def output_layer(model: nn.Module) -> nn.Linear:
    """The head's last Linear layer: the one whose outputs are the model's."""
    n_outputs = model.config.num_labels
    body = f"{model.base_model_prefix}."
    found = None
    for name, module in model.named_modules():
        if (
            isinstance(module, nn.Linear)
            and module.out_features == n_outputs
            and module.bias is not None
            and not name.startswith(body)
        ):
            found = module
    if found is None:
        raise ValueError(
            f"{type(model).__name__} has no Linear output layer with "
            f"{n_outputs} outputs and a bias, which skbert needs to start the "
            "head from a linear model and to store the target scaling of a "
            "regressor in the saved model."
        )
    return found


def scale_outputs(model: nn.Module, scale: np.ndarray, shift: np.ndarray) -> None:
    """Rewrite the output layer so the model outputs ``scale * outputs + shift``."""
    layer = output_layer(model)
    with torch.no_grad():
        factor = torch.as_tensor(scale, dtype=torch.float64)
        offset = torch.as_tensor(shift, dtype=torch.float64)
        weight, bias = layer.weight.double(), layer.bias.double()
        layer.weight.copy_(weight * factor[:, None])
        layer.bias.copy_(bias * factor + offset)
