"""Warnings and errors that skbert raises and users may want to catch or filter.

The tree::

    SkbertWarning (UserWarning)
    ├── ModelLengthWarning       max_length was capped at the model's limit
    ├── DeviceFallbackWarning    a model saved on a GPU was loaded on the CPU
    ├── SkbertVersionWarning     a saved model was written by another skbert version
    ├── TrainingInterruptedWarning  Ctrl-C stopped fit; the best/last weights kept
    └── VocabularyCoverageWarning   much of the training text is unknown tokens
    ModelNotFoundError (OSError)  a model name or path could not be resolved
    ModelIntegrityError (OSError) bundled weights fail their published checksum
    CorruptModelError (OSError)   a saved model is missing, truncated or not skbert's
    NonFiniteLossError (FloatingPointError)  the loss or gradient became NaN or inf

Filter every skbert warning at once with
``warnings.filterwarnings("ignore", category=skbert.exceptions.SkbertWarning)``.
"""

from __future__ import annotations

__all__ = [
    "CorruptModelError",
    "DeviceFallbackWarning",
    "ModelIntegrityError",
    "ModelLengthWarning",
    "ModelNotFoundError",
    "NonFiniteLossError",
    "SkbertVersionWarning",
    "SkbertWarning",
    "TrainingInterruptedWarning",
    "VocabularyCoverageWarning",
]


class SkbertWarning(UserWarning):
    """Base class of every warning that skbert issues."""


class ModelLengthWarning(SkbertWarning):
    """``max_length`` exceeds what the model can encode and was capped."""


class ModelNotFoundError(OSError):
    """A ``model_name_or_path`` could not be found locally or on the hub."""


class ModelIntegrityError(OSError):
    """Model files on disk do not match their published checksum."""


class DeviceFallbackWarning(SkbertWarning):
    """A model fitted on a GPU was loaded where that GPU is not available."""


class SkbertVersionWarning(SkbertWarning):
    """A saved model was written by a different skbert version."""


class CorruptModelError(OSError):
    """A saved model is missing, truncated, corrupted or not written by skbert."""


class TrainingInterruptedWarning(SkbertWarning):
    """Ctrl-C stopped ``fit``; the estimator keeps the best (or last) weights."""


class VocabularyCoverageWarning(SkbertWarning):
    """The model's vocabulary cannot represent much of the training text.

    Over a quarter of its tokens came out as the unknown token, as Chinese text
    does with an English model; a multilingual model is the usual remedy.
    """


class NonFiniteLossError(FloatingPointError):
    """The training loss or gradient became NaN or infinite."""
