"""skbert: fine-tune BERT-family models as scikit-learn estimators."""

import os as _os
from typing import Any as _Any

from ._base import BertEstimator as _BertEstimator
from ._classifier import BertTextClassifier
from ._regressor import BertTextRegressor

__version__ = "0.1.0.dev0"


def load(path: str | _os.PathLike) -> _Any:
    """Load a fitted estimator from a directory written by its ``save`` method.

    Returns the estimator of the class that was saved (a
    :class:`BertTextClassifier` or a :class:`BertTextRegressor`). Every file is
    checked against the sha256 recorded when it was saved; loading runs no
    pickle and no remote code.

    Examples
    --------
    >>> import tempfile, skbert
    >>> clf = skbert.BertTextClassifier(tiny_model, epochs=1, random_state=0)
    >>> clf = clf.fit(["good", "bad", "fine", "awful"], [1, 0, 1, 0])
    >>> path = tempfile.mkdtemp() + "/model"
    >>> clf.save(path)
    >>> skbert.load(path).classes_
    array([0, 1])
    """
    return _BertEstimator.load(path)


__all__ = ["BertTextClassifier", "BertTextRegressor", "__version__", "load"]
