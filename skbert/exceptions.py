"""Warnings and errors that skbert raises and users may want to catch or filter.

The tree::

    SkbertWarning (UserWarning)
    └── ModelLengthWarning       max_length was capped at the model's limit
    ModelNotFoundError (OSError)  a model name or path could not be resolved
    ModelIntegrityError (OSError) bundled weights fail their published checksum

Filter every skbert warning at once with
``warnings.filterwarnings("ignore", category=skbert.exceptions.SkbertWarning)``.
"""

from __future__ import annotations

__all__ = [
    "ModelIntegrityError",
    "ModelLengthWarning",
    "ModelNotFoundError",
    "SkbertWarning",
]


class SkbertWarning(UserWarning):
    """Base class of every warning that skbert issues."""


class ModelLengthWarning(SkbertWarning):
    """``max_length`` exceeds what the model can encode and was capped."""


class ModelNotFoundError(OSError):
    """A ``model_name_or_path`` could not be found locally or on the hub."""


class ModelIntegrityError(OSError):
    """Model files on disk do not match their published checksum."""
