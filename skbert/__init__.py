"""skbert: fine-tune BERT-family models as scikit-learn text classifiers."""

import os as _os

from ._classifier import BertTextClassifier

__version__ = "0.1.0.dev0"


def load(path: str | _os.PathLike) -> BertTextClassifier:
    """Load a fitted estimator from a directory written by ``save``.

    Every file is checked against the sha256 recorded when it was saved; loading runs
    no pickle and no remote code. Same as :meth:`BertTextClassifier.load`.

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
    return BertTextClassifier.load(path)


__all__ = ["BertTextClassifier", "__version__", "load"]
