"""BertTextClassifier: labels, cross-entropy and class probabilities on the base."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions

from . import _data
from ._base import BertEstimator, Spec, shared_docs, with_parameters


@shared_docs
@with_parameters(class_weight=None)
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
        labels, or "balanced" for ``n_samples / (n_classes * count)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted; ``predict`` returns these.
    {attributes}

    See Also
    --------
    BertTextRegressor : the same engine for numeric targets.
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

    _loss = "cross_entropy"
    _problem_type = "single_label_classification"
    _stratify = True
    _spec_attributes = ("classes_",)
    _parameter_constraints: ClassVar[dict] = {
        **BertEstimator._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    def _targets(
        self,
        y: Any,
        n_samples: int,
        spec: Spec | None,
        validation: bool = False,
        sample_weight: Any = None,
    ) -> tuple[Spec, np.ndarray]:
        if spec is None:
            classes, codes = _data.encode_labels(y, n_samples)
            return {"classes_": classes}, codes
        names = ("X_val", "y_val", "y") if validation else ("X", "y", "classes_")
        codes = _data.encode_with_classes(y, n_samples, spec["classes_"], names)
        return spec, codes

    def _warm_start_targets(self, y: Any, n_samples: int) -> tuple[Spec, np.ndarray]:
        spec, codes = self._targets(y, n_samples, None)
        if not np.array_equal(spec["classes_"], self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previously got {self.classes_.tolist()}, "
                f"`y` has {spec['classes_'].tolist()}."
            )
        return spec, codes

    def _head_labels(self, spec: Spec) -> list[str]:
        return [str(label) for label in spec["classes_"]]

    def _decode(self, spec: Spec, targets: np.ndarray) -> np.ndarray:
        return spec["classes_"][targets]

    def _class_weight(self, spec: Spec) -> tuple[Any, np.ndarray]:
        return self.class_weight, spec["classes_"]

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
        y : array-like of shape (n_samples,)
            Labels, all of which must be in ``classes`` (first call) or in
            ``classes_`` (later calls); a call may contain a single class.
        classes : array-like, default=None
            Every label that will ever appear, at least two. Required on the
            first call and ignored afterwards unless it differs from
            ``classes_``.
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
        if classes is None and not fitted:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            known = np.unique(np.asarray(classes))
            if fitted and not np.array_equal(known, self.classes_):
                raise ValueError(
                    f"classes={known.tolist()} is not the same as "
                    f"classes_={self.classes_.tolist()} from the first call."
                )
            if known.size < 2:
                raise ValueError(
                    f"classes={known.tolist()} has fewer than two classes; a "
                    "classifier needs at least two."
                )
        spec = None if fitted else {"classes_": known}
        return self._partial_fit(X, y, sample_weight, spec)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits for each input; for two classes, the logit margin of ``classes_[1]``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            1-D for binary problems, as in scikit-learn, positive for
            ``classes_[1]``.
        """
        logits = self._outputs(X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return np.exp(_log_softmax(self._outputs(X)))

    def predict(self, X: Any) -> np.ndarray:
        """The most likely label of each input, taken from ``classes_``."""
        logits = self._outputs(X)  # checks fitted before classes_ is read
        return self.classes_[np.argmax(logits, axis=1)]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities, computed in float64 without overflow."""
    shifted = logits.astype(np.float64)
    shifted -= shifted.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
