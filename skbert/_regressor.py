"""BertTextRegressor: standardised numeric targets and squared error on the base."""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.utils._param_validation import StrOptions

from . import _data, _hub, _outputs
from ._base import BertEstimator, Spec, shared_docs, with_parameters

# The penalties the linear head's ridge probe chooses from (leave-one-out, cheap):
# a fixed alpha=1 overfits a few hundred inputs of 384 features (STS-B, 800 pairs:
# Pearson 0.643 after fine-tuning against 0.685 with the chosen one).
RIDGE_ALPHAS = np.logspace(-2, 4, 13)


@shared_docs
@with_parameters(pair_encoding="auto")
class BertTextRegressor(RegressorMixin, BertEstimator):
    """Fine-tune a pretrained BERT-family model to predict numbers from text.

    ``fit`` takes raw strings (or text pairs, as in STS-B similarity scores) and
    one or several numeric targets per input, standardises the targets (so a
    target in the thousands trains like one in [0, 1]), and fine-tunes a Hugging
    Face ``AutoModelForSequenceClassification`` with ``problem_type="regression"``
    on the mean squared error, on the same engine as
    :class:`BertTextClassifier`. ``predict`` answers in the units of ``y``;
    ``score`` is R².

    Parameters
    ----------
    {parameters}
    pair_encoding : {{"auto", "cross", "bi"}}, default="auto"
        How a text pair is read. "cross" puts both texts in one sequence that
        attends across them, as transformers does (a cross-encoder). "bi"
        encodes each text apart, pools each as ``pooling`` says, and predicts
        an affine map of the two embeddings' cosine similarity, as a
        sentence-transformers bi-encoder compares texts; fine-tuning trains the
        encoder and the map together on the squared error, and the map starts
        where a least-squares fit of the targets on the pretrained cosine ends
        (``head_init="auto"`` is "linear" here). "auto" is "bi" for text pairs
        and a sentence-transformers checkpoint (a ``modules.json`` in its
        directory, as the bundled all-MiniLM-L6-v2 has), which was trained for
        exactly that comparison, and "cross" otherwise. Measured on STS-B
        (validation Pearson at the defaults, bundled model): see the user
        guide. A "bi" model predicts only for text pairs; single texts are
        an error. The choice is recorded in the fitted model's ``config.json``
        (``skbert_pair_encoding``); a plain transformers ``pipeline`` ignores
        it, so use skbert to load such a model.

    Attributes
    ----------
    n_outputs_ : int
        Number of targets per input: 1 for a 1-D ``y``.
    target_mean_ : ndarray of shape (n_outputs,)
        Mean of each target in the first ``fit`` (or ``partial_fit`` call).
    target_scale_ : ndarray of shape (n_outputs,)
        Standard deviation of each target there (1 where it was constant). The
        model learns ``(y - target_mean_) / target_scale_``.
    {attributes}

    See Also
    --------
    BertTextClassifier : the same engine for labels.
    sklearn.linear_model.Ridge : with a ``TfidfVectorizer``, a fast baseline that
        needs no pretrained model.

    Notes
    -----
    The validation loss (and ``loss_curve_``) is the mean squared error of the
    standardised targets, so it reads the same whatever the units of ``y``: 1.0
    is what predicting the mean would score. Early stopping with
    ``scoring="r2"`` scores in the units of ``y``.

    A directory written by :meth:`save` holds the target scaling folded into the
    model's output layer, so ``AutoModelForSequenceClassification`` or a
    transformers ``pipeline`` loading it predicts in the units of ``y`` too.

    Examples
    --------
    The example uses a tiny random test model; leave out ``model_name_or_path`` to
    fine-tune the bundled pretrained model.

    >>> from skbert import BertTextRegressor
    >>> pairs = [("a good film", "a great film"), ("a good film", "the awful plot")]
    >>> reg = BertTextRegressor(tiny_model, epochs=1, random_state=0)
    >>> reg.fit(pairs * 4, [4.5, 0.5] * 4).predict(pairs).shape
    (2,)
    >>> float(reg.target_mean_[0])
    2.5
    """

    _loss_kind = "mse"
    _problem = "regression"
    _stratify = False
    _auto_head_init = "random"
    _spec_attributes = ("n_outputs_", "target_mean_", "target_scale_")
    _parameter_constraints: ClassVar[dict] = {
        **BertEstimator._parameter_constraints,
        "pair_encoding": [StrOptions({"auto", "cross", "bi"})],
    }

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(
        self,
        y: Any,
        n_samples: int,
        spec: Spec | None,
        validation: bool = False,
        sample_weight: Any = None,
    ) -> tuple[Spec, np.ndarray]:
        values = _data.regression_targets(y, n_samples, "y_val" if validation else "y")
        matrix = values.reshape(n_samples, -1)
        if spec is None:
            spec = self._scaling(matrix, sample_weight)
        elif matrix.shape[1] != spec["n_outputs_"]:
            raise ValueError(
                f"{'y_val' if validation else 'y'} has {matrix.shape[1]} target(s) "
                f"per input, but {'y' if validation else 'the fitted estimator'} "
                f"has {spec['n_outputs_']}."
            )
        standardised = (matrix - spec["target_mean_"]) / spec["target_scale_"]
        return spec, standardised.astype(np.float32)

    @staticmethod
    def _scaling(matrix: np.ndarray, sample_weight: Any) -> Spec:
        """The spec of ``matrix``: weighted mean and standard deviation per target.

        Rows of weight 0 do not count, so an outlier switched off by its weight
        cannot squeeze the other targets into a sliver of the standardised range.
        """
        weights = _data.sample_weights(sample_weight, None, None, matrix[:, 0])
        mean = np.average(matrix, axis=0, weights=weights)
        variance = np.average((matrix - mean) ** 2, axis=0, weights=weights)
        scale = np.sqrt(variance)
        return {
            "n_outputs_": matrix.shape[1],
            "target_mean_": mean,
            "target_scale_": np.where(scale > 0, scale, 1.0),
        }

    def _linear_head(
        self, spec: Spec, features: np.ndarray, targets: np.ndarray, weights: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(
            features, targets, sample_weight=weights
        )
        weight = np.asarray(ridge.coef_).reshape(targets.shape[1], -1)
        return weight, np.asarray(ridge.intercept_).reshape(-1)

    def _pair_encoding(self, source: str, pairs: bool) -> str:
        if self.pair_encoding == "bi" and not pairs:
            raise ValueError(
                "pair_encoding='bi' encodes the two texts of a pair apart, but X "
                "holds single texts. Pass text pairs, or leave pair_encoding at "
                "'auto'."
            )
        if self.pair_encoding == "auto":
            return "bi" if pairs and _hub.is_sentence_transformer(source) else "cross"
        return str(self.pair_encoding)

    def _auto_head_init_for(self, model: Any) -> str:
        # The head of a bi-encoder is an affine map of one cosine: a random
        # start gives it a random slope, a least-squares one the pretrained fit.
        bi = _hub.pair_encoding_of(model) == "bi"
        return "linear" if bi else self._auto_head_init

    def _warm_start_targets(self, y: Any, n_samples: int) -> tuple[Spec, np.ndarray]:
        return self._targets(y, n_samples, self._spec())

    def _head_labels(self, spec: Spec) -> list[str]:
        return [f"target_{i}" for i in range(spec["n_outputs_"])]

    def _decode(self, spec: Spec, targets: np.ndarray) -> np.ndarray:
        return self._in_units(spec, targets)

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None
    ) -> BertTextRegressor:
        """Train one epoch on ``X`` and ``y``, continuing the fitted weights.

        The first call fixes ``target_mean_`` and ``target_scale_`` from its
        ``y``; pass a representative first batch. AdamW's state carries over from
        call to call; the learning rate warms up over the first call's first
        ``warmup_ratio`` of steps and then stays at ``learning_rate``.

        Parameters
        ----------
        X : iterable of str, or of text pairs
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : BertTextRegressor
        """
        return self._partial_fit(X, y, sample_weight, None)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, in the units of ``y``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D when the model has one output, as ``MLPRegressor``'s.
        """
        outputs = self._outputs(X)  # checks fitted before the spec is read
        return self._in_units(self._spec(), outputs)

    def _explained_targets(
        self, target: Any, outputs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        columns = np.asarray(0 if target is None else target)
        columns = np.full(len(outputs), columns) if columns.ndim == 0 else columns
        bad = [
            c
            for c in columns.tolist()
            if not isinstance(c, Integral) or not 0 <= c < self.n_outputs_
        ]
        if bad or columns.shape != (len(outputs),):
            raise ValueError(
                f"target={(bad or [target])[0]!r} is not an output of this "
                f"regressor: pass an int from 0 to {self.n_outputs_ - 1} (it has "
                f"{self.n_outputs_} output(s)), or one per input of X."
            )
        return columns.astype(np.int64), columns.astype(np.int64)

    def _explained_predictions(self, outputs: np.ndarray) -> list[Any]:
        return self._in_units(self._spec(), outputs).tolist()

    def _explained_outputs(self) -> dict[str, str]:
        return {"value": "predicted value"}

    def _explained_output(self, output: str, logits: Any, columns: Any) -> Any:
        import torch

        index = columns.view(1, -1, 1).expand(len(logits), -1, 1)
        scale, mean = (
            torch.as_tensor(value, dtype=logits.dtype, device=logits.device)[columns]
            for value in (self.target_scale_, self.target_mean_)
        )
        return logits.gather(-1, index).squeeze(-1) * scale + mean

    @staticmethod
    def _in_units(spec: Spec, standardised: np.ndarray) -> np.ndarray:
        return _outputs.in_units(
            standardised, spec["target_mean_"], spec["target_scale_"]
        )

    def _saved_output_scaling(self) -> tuple[np.ndarray, np.ndarray]:
        return self.target_scale_, self.target_mean_
