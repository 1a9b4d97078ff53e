"""Issue warnings at the user's line, wherever inside skbert they are raised."""

from __future__ import annotations

import inspect
import os
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def find_stack_level() -> int:
    """The ``stacklevel`` of the first frame outside skbert (as pandas does).

    Counted for a ``warnings.warn`` call made in the caller of this function.
    """
    frame = inspect.currentframe()
    level = 0
    try:
        while frame is not None:
            filename = os.path.abspath(frame.f_code.co_filename)
            if not filename.startswith(_PACKAGE_DIR + os.sep):
                break
            frame = frame.f_back
            level += 1
    finally:
        del frame
    return level


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the first line of user code on the stack."""
    warnings.warn(message, category, stacklevel=find_stack_level())
