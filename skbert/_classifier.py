"""BertTextClassifier: labels, cross-entropy and class probabilities on the base."""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions

from . import _calibration, _data, _distributed, _engine, _outputs
from ._base import (
    BertEstimator,
    Spec,
    shared_docs,
    validate_parameter,
    with_parameters,
)

# contrastive="auto" trains contrastively up to this many training texts per
# class on average (measured on SST-2 at 8, 16 and 64 per class; see the guide).
CONTRASTIVE_TEXTS_PER_CLASS = 64


@shared_docs
@with_parameters(class_weight=None, threshold=0.5, calibrate=False, contrastive="auto")
class BertTextClassifier(ClassifierMixin, BertEstimator):
    """Fine-tune a pretrained BERT-family model as a scikit-learn text classifier.

    ``fit`` takes raw strings (or text pairs) and labels, tokenises them once, and
    fine-tunes a Hugging Face ``AutoModelForSequenceClassification`` with AdamW,
    linear warm-up and decay, gradient clipping, and length-grouped, dynamically
    padded batches. The estimator then works like any scikit-learn classifier: in
    a ``Pipeline``, ``GridSearchCV`` or ``cross_val_score``.

    Parameters
    ----------
    {parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights by class, multiplied into ``sample_weight``: a dict keyed by the
        labels, or "balanced" for ``n_samples / (n_classes * count)``. For a
        multi-label ``y``, the weight of each label's positive term in the loss
        (``pos_weight`` of ``torch.nn.BCEWithLogitsLoss``): a dict keyed by
        column index, or "balanced" for ``n_negatives / n_positives`` of each
        label, which lets rare labels be predicted at all.
    threshold : float in (0, 1) or "auto", default=0.5
        Multi-label only: the probability at which ``predict`` sets a label.
        "auto" chooses one threshold per label in ``fit``, the one with the best
        F1 on held-out data (``X_val`` and ``y_val`` when given, else a
        ``validation_fraction`` of ``X``, which is then not trained on), and
        stores them in ``thresholds_``. Changing it after ``fit`` needs no
        retraining.
    calibrate : bool, default=False
        Fit a temperature (Guo et al. 2017) on held-out data at the end of
        ``fit`` and divide the logits by it in ``predict_proba`` and
        ``decision_function``, so that the probabilities match how often the
        model is right. The held-out data is what early stopping or
        ``threshold="auto"`` uses (``X_val`` and ``y_val`` when given, else a
        ``validation_fraction`` of ``X``, which is then not trained on), so
        calibration needs no extra labelled data. The predicted class does not
        change. A multi-label model gets one temperature per label. Read at
        prediction time: ``set_params(calibrate=False)`` gives the raw
        probabilities back. See the user guide for when
        ``CalibratedClassifierCV`` fits better.
    contrastive : bool or "auto", default="auto"
        Train as SetFit does (Tunstall et al. 2022) instead of end to end:
        first the encoder alone, on every pair of texts in a batch, pulling
        the features that the head reads towards cosine similarity 1 for two
        texts of the same class and 0 otherwise (``epochs`` and the schedule
        as for fine-tuning; batches of twice ``batch_size`` texts, as the
        loss is over a batch's pairs; ``min_steps="auto"`` is 10 steps per
        class here, 20 for two, as a batch holds fewer same-class pairs the
        more classes there are; a ``learning_rate`` of "auto" is 1e-4, 1e-3
        with ``adapter="lora"``: on few-shot SST-2 and GoEmotions this learned
        more in 40% of the time than SetFit's 2e-5 over 50 steps); then
        the head, as the logistic regression of ``head_init="linear"`` on those
        features, and nothing after it. On a few dozen texts per class this
        learns more than fine-tuning end to end, which overfits them (see the
        user guide). "auto" is True for a first ``fit`` on single texts with
        one label each, at most 64 training texts per class on average, the
        head started as a linear probe and no early stopping; False
        otherwise. True needs one label per text, a linear head and no early
        stopping, and a fresh fit (``warm_start`` and ``partial_fit`` continue
        end to end).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted; ``predict`` returns these. For a
        multi-label ``y``, its column indices ``0 .. n_labels - 1``.
    multilabel_ : bool
        Whether ``y`` was a multi-label indicator matrix.
    thresholds_ : ndarray of shape (n_labels,) or None
        The per-label thresholds that ``threshold="auto"`` chose (or
        :meth:`tune_thresholds`); None for a single-label model or one fitted
        with a float ``threshold``.
    temperature_ : float, ndarray of shape (n_labels,) or None
        The temperature that ``calibrate=True`` fitted (one per label for a
        multi-label model); None when ``fit`` did not calibrate.
    contrastive_ : bool
        Whether ``fit`` trained the encoder contrastively and then fitted the
        head only (see ``contrastive``).
    {attributes}

    See Also
    --------
    BertTextRegressor : the same engine for numeric targets.
    sklearn.linear_model.LogisticRegression : with a ``TfidfVectorizer``, a fast
        baseline that needs no pretrained model.

    Notes
    -----
    A multi-label ``y`` is a 0/1 indicator matrix of shape (n_samples,
    n_labels), as ``sklearn.preprocessing.MultiLabelBinarizer`` makes from lists
    of labels. The model then has a sigmoid per label trained with binary
    cross-entropy; ``predict`` returns an indicator matrix and ``score`` is the
    subset accuracy. Thresholds may leave a text without any label; to give
    every text at least its most probable one::

        Y = clf.predict(X)
        proba = clf.predict_proba(X)
        empty = Y.sum(axis=1) == 0
        Y[empty, proba[empty].argmax(axis=1)] = 1

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

    _loss_kind = "cross_entropy"
    _problem = "single_label_classification"
    _stratify = True
    _auto_head_init = "linear"
    _spec_attributes = (
        "classes_",
        "multilabel_",
        "thresholds_",
        "temperature_",
        "contrastive_",
    )
    _spec_defaults: ClassVar[Spec] = {
        "multilabel_": False,
        "thresholds_": None,
        "temperature_": None,
        "contrastive_": False,
    }
    _parameter_constraints: ClassVar[dict] = {
        **BertEstimator._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
        "threshold": [Interval(Real, 0.0, 1.0, closed="neither"), StrOptions({"auto"})],
        "calibrate": ["boolean"],
        "contrastive": ["boolean", StrOptions({"auto"})],
    }

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
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
        name = "y_val" if validation else "y"
        matrix = _data.label_matrix(y, name)
        if matrix is not None:
            return self._multilabel_targets(matrix, n_samples, spec, validation)
        if spec is not None and spec["multilabel_"]:
            raise ValueError(
                f"{name} is 1-D, but {'y' if validation else 'the fitted estimator'} "
                f"is multi-label: pass a 0/1 indicator matrix of shape "
                f"(n_samples, {len(spec['classes_'])})."
            )
        if spec is None:
            classes, codes = _data.encode_labels(y, n_samples)
            return self._single_label_spec(classes), codes
        names = ("X_val", "y_val", "y") if validation else ("X", "y", "classes_")
        codes = _data.encode_with_classes(y, n_samples, spec["classes_"], names)
        return spec, codes

    def _multilabel_targets(
        self, matrix: np.ndarray, n_samples: int, spec: Spec | None, validation: bool
    ) -> tuple[Spec, np.ndarray]:
        name = "y_val" if validation else "y"
        targets = _data.multilabel_targets(matrix, n_samples, name)
        n_labels = targets.shape[1]
        if spec is None:
            spec = {"classes_": np.arange(n_labels), "multilabel_": True}
            spec = {**spec, "thresholds_": None, "temperature_": None}
            return {**spec, "contrastive_": False}, targets
        if not spec["multilabel_"] or len(spec["classes_"]) != n_labels:
            fitted = "y" if validation else "the fitted estimator"
            kind = (
                f"a multi-label indicator matrix with {len(spec['classes_'])} columns"
                if spec["multilabel_"]
                else f"single-label, with classes {spec['classes_'].tolist()}"
            )
            raise ValueError(
                f"{name} is a multi-label indicator matrix with {n_labels} columns, "
                f"but {fitted} is {kind}."
            )
        return spec, targets

    def _single_label_spec(self, classes: np.ndarray) -> Spec:
        if isinstance(self.threshold, str) or self.threshold != 0.5:
            raise ValueError(
                f"threshold={self.threshold!r} applies to multi-label targets (a 0/1 "
                "indicator matrix y), but y holds one label per text. Leave "
                "threshold at 0.5; to tune a binary decision threshold, wrap the "
                "classifier in sklearn.model_selection.TunedThresholdClassifierCV."
            )
        return {
            "classes_": classes,
            "multilabel_": False,
            "thresholds_": None,
            "temperature_": None,
            "contrastive_": False,
        }

    def _warm_start_targets(self, y: Any, n_samples: int) -> tuple[Spec, np.ndarray]:
        spec, codes = self._targets(y, n_samples, None)
        if spec["multilabel_"] != self.multilabel_ or not np.array_equal(
            spec["classes_"], self.classes_
        ):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previously got {self._described()}, "
                f"`y` has {self._described(spec)}."
            )
        return spec, codes

    def _described(self, spec: Spec | None = None) -> str:
        spec = self._spec() if spec is None else spec
        if spec["multilabel_"]:
            return f"{len(spec['classes_'])} labels (a multi-label matrix)"
        return str(spec["classes_"].tolist())

    def _head_labels(self, spec: Spec) -> list[str]:
        return [str(label) for label in spec["classes_"]]

    def _decode(self, spec: Spec, targets: np.ndarray) -> np.ndarray:
        if spec["multilabel_"]:
            return targets.astype(np.int64)
        return spec["classes_"][targets]

    def _weights(
        self,
        sample_weight: Any,
        spec: Spec,
        targets: np.ndarray,
        balanced_on: np.ndarray | None = None,
        name: str = "sample_weight",
    ) -> np.ndarray:
        if spec["multilabel_"]:  # class weights weigh the labels, in the loss
            return super()._weights(sample_weight, spec, targets, name=name)
        return _data.sample_weights(
            sample_weight,
            self.class_weight,
            spec["classes_"],
            targets,
            balanced_on=balanced_on,
            name=name,
        )

    def _linear_head(
        self, spec: Spec, features: np.ndarray, targets: np.ndarray, weights: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        if spec["multilabel_"]:
            pos_weight = _data.positive_weights(self.class_weight, targets)
            columns = [
                _logistic_head(
                    features,
                    targets[:, j].astype(int),
                    weights * np.where(targets[:, j] > 0, pos_weight[j], 1.0)
                    if pos_weight is not None
                    else weights,
                    2,
                )
                for j in range(targets.shape[1])
            ]
            # sigmoid(z) = softmax([0, z])[1]: the second row is the label's.
            return (
                np.stack([w[1] - w[0] for w, _ in columns]),
                np.array([b[1] - b[0] for _, b in columns]),
            )
        return _logistic_head(features, targets, weights, len(spec["classes_"]))

    def _contrastive(
        self, spec: Spec, inputs: _data.Inputs, n_train: int, continuing: bool
    ) -> bool:
        if not isinstance(self.contrastive, str) and not self.contrastive:
            return False
        obstacle = self._contrastive_obstacle(spec, continuing)
        if isinstance(self.contrastive, str):  # "auto"
            small = n_train <= CONTRASTIVE_TEXTS_PER_CLASS * len(spec["classes_"])
            pairs = _data.holds_pairs(inputs)
            return _distributed.broadcast(obstacle is None and small and not pairs)
        if obstacle is not None:
            raise ValueError(
                f"contrastive=True trains a new model's encoder on pairs of texts "
                f"of one class, then fits its head, but {obstacle}. Use "
                "contrastive='auto' or False."
            )
        return True

    def _contrastive_obstacle(self, spec: Spec, continuing: bool) -> str | None:
        """Why ``fit`` cannot train contrastively, or None (``continuing``
        covers ``partial_fit``, which never stops early)."""
        if spec["multilabel_"]:
            return "y is a multi-label indicator matrix (one label per text needed)"
        if continuing:
            return "this fit continues a fitted model (warm_start or partial_fit)"
        if self.early_stopping:
            return "early_stopping=True watches a loss that only fine-tuning lowers"
        if self.head_init == "random":
            return "head_init='random' would leave the head untrained"
        if self.freeze_layers == "all":
            return "freeze_layers='all' freezes the encoder"
        return None

    def _loss(self, spec: Spec, targets: np.ndarray) -> _engine.Loss:
        if not spec["multilabel_"]:
            return _engine.Loss("cross_entropy")
        pos_weight = _data.positive_weights(self.class_weight, targets)
        return _engine.Loss("binary_cross_entropy", pos_weight)

    def _problem_type(self, spec: Spec) -> str:
        if spec["multilabel_"]:
            return "multi_label_classification"
        return self._problem

    def _tunes(self, spec: Spec) -> bool:
        return bool(self.calibrate) or self._tunes_thresholds(spec)

    def _tunes_thresholds(self, spec: Spec) -> bool:
        return bool(spec["multilabel_"]) and isinstance(self.threshold, str)

    def _tune(
        self, spec: Spec, outputs: np.ndarray, targets: np.ndarray, weights: Any
    ) -> Spec:
        """The temperature first, then the thresholds on calibrated probabilities."""
        if self.calibrate:
            temperature = _calibration.fit_temperature(
                outputs, targets, weights, spec["multilabel_"]
            )
            spec = {**spec, "temperature_": temperature}
        if self._tunes_thresholds(spec):
            scaled = _outputs.calibrated(outputs, spec["temperature_"])
            thresholds = best_f1_thresholds(_outputs.sigmoid(scaled), targets, weights)
            spec = {**spec, "thresholds_": thresholds}
        return spec

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> BertTextClassifier:
        """Train one epoch on ``X`` and ``y``, continuing the fitted weights.

        AdamW's state carries over from call to call (as ``MLPClassifier`` keeps
        its optimizer); the learning rate warms up over the first call's first
        ``warmup_ratio`` of steps and then stays at ``learning_rate``. Parameters
        are validated on every call.

        Parameters
        ----------
        X : iterable of str, or of text pairs
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels, all of which must be in ``classes`` (first call) or in
            ``classes_`` (later calls); a call may contain a single class. Or a
            multi-label 0/1 indicator matrix with the same columns in every call.
        classes : array-like, default=None
            Every label that will ever appear, at least two. Required on the
            first call (except for a multi-label ``y``, whose columns are the
            labels) and ignored afterwards unless it differs from ``classes_``.
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
        fitted = self.__sklearn_is_fitted__()
        matrix = None if fitted else _data.label_matrix(y)
        if matrix is not None:  # a first multi-label call: the columns are the labels
            if classes is not None and len(classes) != matrix.shape[1]:
                raise ValueError(
                    f"classes has {len(classes)} entries, but y is a multi-label "
                    f"indicator matrix with {matrix.shape[1]} columns."
                )
            return self._partial_fit(X, y, sample_weight, None)
        if classes is None and not fitted:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            known = np.unique(np.asarray(classes))
            if fitted and not self._same_classes(known):
                raise ValueError(
                    f"classes={known.tolist()} is not the same as "
                    f"classes_={self.classes_.tolist()} from the first call."
                )
            if known.size < 2:
                raise ValueError(
                    f"classes={known.tolist()} has fewer than two classes; a "
                    "classifier needs at least two."
                )
        spec = None if fitted else self._single_label_spec(known)
        return self._partial_fit(X, y, sample_weight, spec)

    def tune_thresholds(
        self, X: Any, y: Any, sample_weight: Any = None
    ) -> BertTextClassifier:
        """Choose ``thresholds_`` of a multi-label model on ``X`` and ``y``.

        For each label, the probability threshold that maximises its F1 on these
        held-out inputs (0.5 for a label without positives there), as
        ``threshold="auto"`` does in ``fit``; ``predict`` uses them while
        ``threshold="auto"``. The model is not retrained.

        Parameters
        ----------
        X : iterable of str, or of text pairs
            Held-out inputs, not the training data (on which every threshold
            would look good).
        y : array-like of shape (n_samples, n_labels)
            Their 0/1 indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : BertTextClassifier
        """
        outputs = self._logits(X)  # checks fitted before the spec is read
        if not self.multilabel_:
            raise ValueError(
                "tune_thresholds is for multi-label classifiers; this one was "
                "fitted on one label per text. For a binary decision threshold, "
                "use sklearn.model_selection.TunedThresholdClassifierCV."
            )
        _, targets = self._targets(y, len(outputs), self._spec())
        weights = self._weights(sample_weight, self._spec(), targets)
        probabilities = _outputs.sigmoid(outputs)
        self.thresholds_ = best_f1_thresholds(probabilities, targets, weights)
        return self

    def _same_classes(self, classes: np.ndarray) -> bool:
        if self.multilabel_:  # any names, one per column
            return len(classes) == len(self.classes_)
        return np.array_equal(classes, self.classes_)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits for each input; for two classes, the logit margin of ``classes_[1]``.

        With ``calibrate=True``, the logits divided by ``temperature_``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            1-D for binary problems, as in scikit-learn, positive for
            ``classes_[1]``; one logit per label for a multi-label model.
        """
        logits = self._logits(X)  # checks fitted before multilabel_ is read
        return _outputs.decision_scores(logits, self.multilabel_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        For a multi-label model, each label's own probability (a sigmoid per
        label), so a row need not sum to 1. With ``calibrate=True``, the
        probabilities of the logits divided by ``temperature_``.
        """
        logits = self._logits(X)
        return _outputs.probabilities(logits, self.multilabel_)

    def _logits(self, X: Any) -> np.ndarray:
        """The model's logits for ``X``, divided by the temperature in use."""
        return _outputs.calibrated(self._outputs(X), self._temperature())

    def _temperature(self) -> float | np.ndarray | None:
        validate_parameter(self, "calibrate")
        return _outputs.temperature_in_use(
            self.calibrate,
            self.temperature_,
            "fit calibrates only when calibrate=True is set before it, and "
            "partial_fit holds out no data. Refit with calibrate=True, or set "
            "calibrate=False.",
        )

    def predict(self, X: Any) -> np.ndarray:
        """The most likely label of each input, taken from ``classes_``.

        For a multi-label model, a 0/1 indicator matrix: 1 where a label's
        probability reaches its threshold (``threshold``, or ``thresholds_``
        when ``threshold="auto"``).
        """
        logits = self._logits(X)  # checks fitted before classes_ is read
        thresholds = self._label_thresholds() if self.multilabel_ else 0.5
        return _outputs.labels(logits, self.classes_, self.multilabel_, thresholds)

    def _explained_targets(
        self, target: Any, outputs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if target is None:  # the predicted class, or the most probable label
            columns = np.argmax(outputs, axis=1)
            return self.classes_[columns], columns
        labels = np.asarray(target)
        labels = np.full(len(outputs), target) if labels.ndim == 0 else labels
        if labels.shape != (len(outputs),):
            raise ValueError(
                f"target has shape {labels.shape}; pass one class, or one per "
                f"input of X ({len(outputs)})."
            )
        unknown = [x for x in labels.tolist() if x not in set(self.classes_)]
        if unknown:
            raise ValueError(
                f"target={unknown[0]!r} is not a class of this classifier; "
                f"classes_ is {self.classes_.tolist()}."
            )
        return labels, np.searchsorted(self.classes_, labels)

    def _explained_predictions(self, outputs: np.ndarray) -> list[Any]:
        logits = _outputs.calibrated(outputs, self._temperature())
        if not self.multilabel_:
            return self.classes_[np.argmax(logits, axis=1)].tolist()
        thresholds = self._label_thresholds()
        found = _outputs.labels(logits, self.classes_, True, thresholds)
        return [tuple(self.classes_[row > 0].tolist()) for row in found]

    def _explained_outputs(self) -> dict[str, str]:
        what = "label" if self.multilabel_ else "class"
        return {
            "log-odds": f"log-odds of the target {what}",
            "probability": f"probability of the target {what}",
        }

    def _explained_output(self, output: str, logits: Any, columns: Any) -> Any:
        import torch

        temperature = self._temperature()
        if temperature is not None:
            logits = logits / torch.as_tensor(temperature, dtype=logits.dtype)
        index = columns.view(1, -1, 1).expand(len(logits), -1, 1)
        own = logits.gather(-1, index).squeeze(-1)
        if output == "log-odds":
            if self.multilabel_:  # the sigmoid's log-odds are the logit
                return own
            # log p / (1 - p) of a softmax: the logit less the others' logsumexp
            others = logits.scatter(-1, index, float("-inf")).logsumexp(-1)
            return own - others
        if self.multilabel_:
            return torch.sigmoid(own)
        return torch.softmax(logits, dim=-1).gather(-1, index).squeeze(-1)

    def _label_thresholds(self) -> float | np.ndarray:
        validate_parameter(self, "threshold")
        return _outputs.label_thresholds(
            self.threshold,
            self.thresholds_,
            "fit tunes them only when threshold='auto' is set before it, and "
            "partial_fit holds out no data. Call tune_thresholds(X_val, y_val) with "
            "held-out data, or set a float threshold.",
        )


def best_f1_thresholds(
    probabilities: np.ndarray, targets: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Per label, the probability threshold with the best (weighted) F1.

    The threshold lies halfway between the lowest probability predicted positive
    and the next lower one, so it does not sit on a held-out input; a label
    without positives keeps 0.5.
    """
    return _calibration.per_label(_best_f1_threshold, probabilities, targets, weights)


def _best_f1_threshold(
    scores: np.ndarray, positive: np.ndarray, weights: np.ndarray
) -> float:
    positives = weights[positive].sum()
    if not positives > 0:
        return 0.5
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    true_positives = np.cumsum(weights[order] * positive[order])
    predicted = np.cumsum(weights[order])
    cuts = np.flatnonzero(np.r_[ranked[1:] < ranked[:-1], True])  # ends of ties
    f1 = 2 * true_positives[cuts] / (positives + predicted[cuts])
    best = cuts[np.argmax(f1)]
    lower = ranked[best + 1] if best + 1 < len(ranked) else 0.0
    halfway = (ranked[best] + lower) / 2
    # Neighbouring floats have no float between them: the halfway point rounds
    # onto one of them, so take the lowest score predicted positive instead.
    return float(halfway if halfway > lower else ranked[best])


def _logistic_head(
    features: np.ndarray, targets: np.ndarray, weights: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(weight, bias)`` of ``n_classes`` logits from a logistic regression of
    the class indices ``targets`` on ``features``; a class absent from
    ``targets`` gets a zero weight and the lowest bias."""
    present = np.unique(targets)
    weight = np.zeros((n_classes, features.shape[1]))
    bias = np.zeros(n_classes)
    if len(present) == 1:  # nothing to separate: the seen class wins
        bias[:] = -1.0
        bias[int(present[0])] = 1.0
        return weight, bias
    model = LogisticRegression(C=1.0, max_iter=500).fit(
        features, targets, sample_weight=weights
    )
    coef, intercept = model.coef_, model.intercept_
    if len(present) == 2:  # one logit: split it into two symmetric ones
        coef = np.vstack([-coef[0], coef[0]]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    at = present.astype(int)
    weight[at], bias[at] = coef, intercept
    bias[np.setdiff1d(np.arange(n_classes), at)] = intercept.min() - 1.0
    return weight, bias
