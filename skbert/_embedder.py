"""BertTextEmbedder: sentence embeddings from a pretrained encoder, as a transformer.

``fit`` checks the parameters and loads the model; with labels and ``epochs``
of 1 or more it also fine-tunes the encoder so texts of a label embed close
together (SetFit's contrastive step). The embeddings are the mean (or the first
token's) last hidden state, normalised to unit length, as sentence-transformers
computes them, so a ``Pipeline`` of the embedder and a linear model is a fast
baseline next to fine-tuning, and with ``epochs`` it is SetFit as a pipeline.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _data, _engine, _hub, _persistence
from ._base import (
    ADAPTER_CONSTRAINTS,
    CONTRASTIVE_ADAPTER_LEARNING_RATE,
    CONTRASTIVE_LEARNING_RATE,
    N_JOBS_CONSTRAINT,
    adapter_settings,
    contrastive_min_steps,
    epochs_and_steps,
    resolve_learning_rate,
    seed_of,
    validate_parameter,
    with_default_parameters,
)
from ._device import check_device_string, resolve_device, threads


class BertTextEmbedder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Sentence embeddings of raw strings from a pretrained BERT-family encoder.

    ``transform`` tokenises the texts, runs the encoder in length-sorted batches
    (the output keeps the input order) and pools each text's last hidden states
    into one vector. With the bundled all-MiniLM-L6-v2 and the defaults, the
    vectors are those of sentence-transformers' ``encode`` for that model.
    ``fit(X)`` only checks the parameters and loads the model. ``fit(X, y)``
    with ``epochs`` of 1 or more also fine-tunes the encoder on the labelled
    texts, as SetFit's first step does: every pair of texts in a batch is
    pulled towards cosine similarity 1 when they share a label and 0 when they
    do not (SetFit's ``CosineSimilarityLoss``), with AdamW, a linear warm-up
    and decay. ``make_pipeline(BertTextEmbedder(epochs="auto"),
    LogisticRegression())`` is then SetFit as a scikit-learn pipeline.

    Parameters
    ----------
    model_name_or_path : str or path, default="sentence-transformers/all-MiniLM-L6-v2"
        A local model directory or a Hugging Face hub id, looked up as for
        :class:`BertTextClassifier` (the default model is bundled and works
        offline). Any checkpoint that ``AutoModel`` loads works.
    pooling : {"mean", "cls"}, default="mean"
        "mean" averages the hidden states of the text's tokens (padding left
        out), as sentence-transformers models are trained to be used; "cls"
        takes the first token's.
    normalize : bool, default=True
        Scale every embedding to unit length, so dot products are cosines.
    max_length : int or None, default=None
        Longest text in tokens; longer texts are truncated. None: the model's
        sentence-transformers setting (``max_seq_length`` of
        ``sentence_bert_config.json``, 256 for the default model) where it has
        one, else the model's own limit.
    batch_size : int, default=64
        Texts per forward pass; on the CPU also capped at a number of tokens
        (4,096 for MiniLM-L6) that keeps each activation small enough for the
        allocator to reuse.
    device : str, default="auto"
        "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda", "cuda:<index>" or
        "mps".
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        "bf16" and "fp16" run the encoder under ``torch.autocast``; "auto" is
        bf16 on GPUs that support it and fp32 everywhere else. Read again by
        ``transform``.
    n_jobs : int, default=None
        Torch threads for ``transform``, set on entry and restored on exit.
        None leaves torch's setting; -1 uses every usable core.
    epochs : int or "auto", default=0
        Passes of contrastive fine-tuning over the texts when ``fit`` gets
        labels ``y``; 0 keeps the pretrained encoder (``y`` is then ignored, as
        in a ``Pipeline`` of the untrained embedder and a classifier).
        ``"auto"`` is one pass, or as many as ``min_steps`` optimizer steps
        need when that is more.
    learning_rate : float or "auto", default="auto"
        Peak learning rate of AdamW in fine-tuning. ``"auto"`` is 1e-4, and
        1e-3 with ``adapter="lora"`` (chosen by measurement on few-shot
        SST-2 and GoEmotions; see the changelog): as the classifier's
        contrastive stage.
    adapter : None or "lora", default=None
        None fine-tunes every weight of the encoder. "lora" trains LoRA
        adapters only (as in :class:`BertTextClassifier`; needs the ``lora``
        extra), and a pickle of the fitted embedder holds the adapter, the
        tokenizer and an exact reference to the base model instead of the
        whole encoder. Used only when ``fit`` fine-tunes.
    adapter_rank, adapter_alpha, adapter_dropout, adapter_modules : LoRA settings
        The LoRA settings, as in :class:`BertTextClassifier` and with its
        defaults (8, 16, 0.1 and "attention"): the rank of each update, its
        scale ``adapter_alpha / adapter_rank``, the dropout on the adapters'
        inputs in training, and the layers that get adapters ("attention" or
        "all-linear").
    min_steps : int or "auto", default="auto"
        The fewest optimizer steps of fine-tuning with ``epochs="auto"``: on a
        few dozen texts one pass is only a few steps. ``"auto"`` is 10 per
        class of ``y`` (20 for two), as for the classifier's contrastive stage.
        Ignored when ``epochs`` is an integer.
    random_state : int, RandomState instance or None, default=None
        Seeds the batch order and dropout of fine-tuning.
    verbose : int, default=0
        1 or more shows a progress bar over the batches.

    Notes
    -----
    The number of pairs is bounded by the batches, not by the number of
    texts: each optimizer step sees the ``batch_size * (batch_size - 1) / 2``
    pairs of one batch, and ``fit`` takes ``epochs * n_batches`` steps
    (``max(n_batches, min_steps)`` with ``epochs="auto"``), so the pairs grow
    linearly with the data. (SetFit
    draws ``num_iterations`` pairs per text per class-balanced round; unbounded
    pair counts are what made some of its users' runs last hours.)

    Attributes
    ----------
    model_ : transformers.PreTrainedModel
        The encoder, in eval mode, on ``device_``.
    tokenizer_ : transformers tokenizer
    device_ : torch.device
    max_length_ : int
        The truncation length used.
    precision_ : str
        The resolved ``precision``.
    embedding_dim_ : int
        Length of each embedding (the model's hidden size).

    See Also
    --------
    BertTextClassifier : fine-tunes the whole model for labels.

    Examples
    --------
    The example uses a tiny random test model; leave out ``model_name_or_path``
    to embed with the bundled pretrained model.

    >>> from skbert import BertTextEmbedder
    >>> embedder = BertTextEmbedder(tiny_model).fit()
    >>> embedder.transform(["a good film", "an awful plot"]).shape
    (2, 32)
    """

    _parameter_constraints: ClassVar[dict] = {
        "model_name_or_path": [str, os.PathLike],
        "pooling": [StrOptions({"mean", "cls"})],
        "normalize": ["boolean"],
        "max_length": [Interval(Integral, 2, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "precision": [StrOptions({"auto", "fp32", "bf16", "fp16"})],
        "n_jobs": N_JOBS_CONSTRAINT,
        "epochs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [
            Interval(Real, 0.0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        **ADAPTER_CONSTRAINTS,
        "min_steps": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model_name_or_path: str | os.PathLike = _hub.DEFAULT_MODEL,
        *,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: int | None = None,
        batch_size: int = 64,
        device: str = "auto",
        precision: str = "auto",
        n_jobs: int | None = None,
        epochs: int | str = 0,
        learning_rate: float | str = "auto",
        adapter: str | None = None,
        adapter_rank: int = 8,
        adapter_alpha: float = 16,
        adapter_dropout: float = 0.1,
        adapter_modules: str = "attention",
        min_steps: int | str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.n_jobs = n_jobs
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.adapter = adapter
        self.adapter_rank = adapter_rank
        self.adapter_alpha = adapter_alpha
        self.adapter_dropout = adapter_dropout
        self.adapter_modules = adapter_modules
        self.min_steps = min_steps
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def fit(self, X: Any = None, y: Any = None) -> BertTextEmbedder:
        """Load the encoder; with ``y`` and ``epochs``, fine-tune it on ``X``.

        Parameters
        ----------
        X : iterable of str, default=None
            The texts to fine-tune on; without ``y`` (or with ``epochs=0``)
            only checked, so the embedder fits in a ``Pipeline``.
        y : array-like of shape (n_samples,), default=None
            A label per text, at least two texts of each of at least two
            labels; used only when ``epochs`` is 1 or more.

        Returns
        -------
        self : BertTextEmbedder
        """
        self._validate_params()
        check_device_string(self.device, type(self).__name__)
        texts = None if X is None else _data.check_texts(X)
        codes = None
        if self.epochs != 0 and y is not None:
            if texts is None:
                raise ValueError(
                    "y is passed to BertTextEmbedder.fit without X; pass the "
                    "texts that the labels belong to."
                )
            codes = pair_labels(y, len(texts))
            if self.adapter is not None:
                _hub.require_peft(type(self).__name__)
        device = resolve_device(self.device)
        source, local = _hub.resolve(self.model_name_or_path)
        tokenizer = _hub.load_tokenizer(source, local)
        model = _hub.load_encoder(source, local)
        limit = _hub.model_max_length(tokenizer, model.config)
        wanted = self.max_length or _hub.sentence_max_length(source) or limit
        max_length = int(min(wanted, limit))
        if codes is not None:
            seed = seed_of(self.random_state)
            adapter = adapter_settings(self)
            if adapter is not None:
                name = os.fspath(self.model_name_or_path)
                _hub.add_adapter(model, adapter, name, source, seed)
            with threads(self.n_jobs):
                self._fine_tune(
                    model, tokenizer, texts, codes, max_length, device, seed
                )
        self.max_length_ = max_length
        self.model_ = model.to(device).eval()
        self.tokenizer_ = tokenizer
        self.device_ = device
        self.precision_ = _engine.resolve_precision(self.precision, device)
        self.embedding_dim_ = int(model.config.hidden_size)
        self._n_features_out = self.embedding_dim_
        return self

    def _fine_tune(
        self,
        model: Any,
        tokenizer: Any,
        texts: list[str],
        codes: np.ndarray,
        max_length: int,
        device: Any,
        seed: int,
    ) -> None:
        """Contrastive fine-tuning of ``model`` in place (see the class notes)."""
        encoded = _data.tokenize(tokenizer, texts, max_length, self.verbose)
        batches = _data.TrainBatches(
            encoded, codes, self.batch_size, _data.pad_id_of(tokenizer), seed
        )
        config = _engine.TrainConfig(
            **epochs_and_steps(
                self.epochs,
                self.min_steps,
                auto=1,
                auto_min_steps=contrastive_min_steps(codes),
            ),
            learning_rate=self._learning_rate(),
            weight_decay=0.01,
            warmup_ratio=0.1,
            max_grad_norm=1.0,
            precision=self.precision,
            verbose=self.verbose,
            loss=_engine.Loss("cosine_pairs"),
            seed=seed,
            adapter=self.adapter is not None,
        )
        result = _engine.train(
            _engine.Pooled(model, self.pooling), batches, config, device
        )
        self.n_iter_ = result.n_iter
        self.loss_curve_ = result.loss_curve

    def _learning_rate(self) -> float:
        """``learning_rate``, with ``"auto"`` resolved for ``adapter``."""
        return resolve_learning_rate(
            self, CONTRASTIVE_LEARNING_RATE, CONTRASTIVE_ADAPTER_LEARNING_RATE
        )

    def transform(self, X: Any) -> np.ndarray:
        """Embed each text.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embedding_dim), float32
        """
        check_is_fitted(self)
        for name in ("precision", "n_jobs"):
            validate_parameter(self, name)
        texts = _data.check_texts(X)
        encoded = _data.tokenize(self.tokenizer_, texts, self.max_length_, self.verbose)
        batches = _data.inference_batches(
            encoded,
            self.batch_size,
            _data.pad_id_of(self.tokenizer_),
            _engine.batch_tokens(self.model_.config, self.device_),
        )
        with threads(self.n_jobs):
            return self._embed(batches, len(encoded))

    def _embed(self, batches: list, n: int) -> np.ndarray:
        return _engine.embed(
            self.model_,
            batches,
            n,
            self.device_,
            pooling=self.pooling,
            normalize=self.normalize,
            precision=_engine.resolve_precision(self.precision, self.device_),
            total=len(batches),
            verbose=self.verbose,
        )

    def __getstate__(self) -> dict[str, Any]:
        return _persistence.pickled_state(self, super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        model = _persistence.unpickled_model(state, encoder=True)
        super().__setstate__(with_default_parameters(type(self), state))
        if model is not None:
            _persistence.attach(self, *model)


def pair_labels(y: Any, n_samples: int) -> np.ndarray:
    """Class codes of ``y`` for contrastive fine-tuning: at least two labels,
    each with at least two texts (a text needs another of its label to pair
    with)."""
    classes, codes = _data.encode_labels(y, n_samples)
    counts = np.bincount(codes, minlength=len(classes))
    if counts.min() < 2:
        alone = classes[counts < 2].tolist()
        raise ValueError(
            f"BertTextEmbedder.fit needs at least two texts of each label in y to "
            f"fine-tune on pairs; label(s) {alone} have one. Add texts of those "
            "labels or leave them out."
        )
    return codes
