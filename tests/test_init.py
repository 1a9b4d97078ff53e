"""The public surface of skbert (httpx's test_exported_members)."""

from __future__ import annotations

import subprocess
import sys

import skbert


def test_exported_members():
    assert skbert.__all__ == ["BertTextClassifier", "__version__", "load"]
    for name in skbert.__all__:
        assert hasattr(skbert, name)
    public = {name for name in dir(skbert) if not name.startswith("_")}
    # Submodules are importable but not part of __all__.
    assert public - set(skbert.__all__) <= {"datasets", "exceptions"}


def test_import_does_not_load_transformers():
    code = "import sys, skbert; print('transformers' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
