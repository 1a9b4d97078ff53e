"""The public surface of skbert (httpx's test_exported_members)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import skbert


def test_exported_members():
    assert skbert.__all__ == [
        "BertTextClassifier",
        "BertTextEmbedder",
        "BertTextRegressor",
        "Explanation",
        "__version__",
        "load",
    ]
    for name in skbert.__all__:
        assert hasattr(skbert, name)
    public = {name for name in dir(skbert) if not name.startswith("_")}
    # Submodules are importable but not part of __all__.
    assert public - set(skbert.__all__) <= {"datasets", "exceptions", "onnx"}


def test_import_loads_neither_torch_nor_transformers():
    """The estimators are imported lazily (PEP 562), on first use."""
    code = (
        "import sys, skbert; "
        "print('torch' in sys.modules, 'transformers' in sys.modules); "
        "skbert.BertTextClassifier; print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "True"]


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'skbert' has no attribute 'Nope'"):
        skbert.Nope  # noqa: B018


def test_declared_torch_floor_has_fused_adamw_on_the_cpu():
    """Regression: pyproject said torch>=2.2, but fused AdamW on the CPU is 2.4+."""
    import re
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    found = re.search(r'"torch>=(\d+)\.(\d+)"', pyproject.read_text())
    assert found is not None
    assert tuple(int(x) for x in found.groups()) >= (2, 4)
