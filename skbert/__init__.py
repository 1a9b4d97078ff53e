"""skbert: fine-tune BERT-family models as scikit-learn estimators.

The estimators are imported on first use (PEP 562 ``__getattr__``), so
``import skbert`` and ``import skbert.onnx`` stay light: neither imports torch
or transformers until an estimator is asked for.
"""

import importlib as _importlib
import os as _os
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from ._classifier import BertTextClassifier
    from ._embedder import BertTextEmbedder
    from ._explain import Explanation
    from ._regressor import BertTextRegressor

__version__ = "0.1.0.dev0"

# Public name -> the private module that defines it.
_LAZY = {
    "BertTextClassifier": "._classifier",
    "BertTextEmbedder": "._embedder",
    "BertTextRegressor": "._regressor",
    "Explanation": "._explain",
}


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'skbert' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
    from ._base import BertEstimator
    from ._classifier import BertTextClassifier  # noqa: F401  (registers the
    from ._regressor import BertTextRegressor  # noqa: F401  subclasses to load)

    return BertEstimator.load(path)


__all__ = [
    "BertTextClassifier",
    "BertTextEmbedder",
    "BertTextRegressor",
    "Explanation",
    "__version__",
    "load",
]
