"""skbert: fine-tune BERT-family models as scikit-learn text classifiers."""

from ._classifier import BertTextClassifier

__version__ = "0.1.0.dev0"

load = BertTextClassifier.load

__all__ = ["BertTextClassifier", "__version__", "load"]
