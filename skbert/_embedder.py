"""BertTextEmbedder: sentence embeddings from a pretrained encoder, as a transformer.

``fit`` only checks the parameters and loads the model; nothing is trained. The
embeddings are the mean (or the first token's) last hidden state, normalised to
unit length, as sentence-transformers computes them, so a ``Pipeline`` of the
embedder and a linear model is a fast baseline next to fine-tuning.
"""

from __future__ import annotations

import os
from numbers import Integral
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
from ._base import N_JOBS_CONSTRAINT, validate_parameter, with_default_parameters
from ._device import check_device_string, resolve_device, threads


class BertTextEmbedder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Sentence embeddings of raw strings from a pretrained BERT-family encoder.

    ``transform`` tokenises the texts, runs the encoder in length-sorted batches
    (the output keeps the input order) and pools each text's last hidden states
    into one vector. With the bundled all-MiniLM-L6-v2 and the defaults, the
    vectors are those of sentence-transformers' ``encode`` for that model.
    Nothing is fine-tuned: ``fit`` checks the parameters and loads the model.

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
    verbose : int, default=0
        1 or more shows a progress bar over the batches.

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
        """Check the parameters (and ``X``, when given) and load the encoder.

        Parameters
        ----------
        X : iterable of str, default=None
            Not used for anything but a check; accepted so the embedder fits in
            a ``Pipeline``.
        y : None
            Ignored.

        Returns
        -------
        self : BertTextEmbedder
        """
        self._validate_params()
        check_device_string(self.device, type(self).__name__)
        if X is not None:
            _data.check_texts(X)
        device = resolve_device(self.device)
        source, local = _hub.resolve(self.model_name_or_path)
        tokenizer = _hub.load_tokenizer(source, local)
        model = _hub.load_encoder(source, local).to(device).eval()
        limit = _hub.model_max_length(tokenizer, model.config)
        wanted = self.max_length or _hub.sentence_max_length(source) or limit
        self.max_length_ = int(min(wanted, limit))
        self.model_ = model
        self.tokenizer_ = tokenizer
        self.device_ = device
        self.precision_ = _engine.resolve_precision(self.precision, device)
        self.embedding_dim_ = int(model.config.hidden_size)
        self._n_features_out = self.embedding_dim_
        return self

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
