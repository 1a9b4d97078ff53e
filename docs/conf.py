"""Sphinx configuration of skbert's documentation site.

Build it with ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
The gallery runs every script in ``examples/`` in its small setting
(``SKBERT_EXAMPLES_SMALL=1``), offline, on the bundled model; set
``SKBERT_EXAMPLES_SMALL=0`` to build it with the scripts' full-size runs instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# With plot_gallery=0 (as CI builds) sphinx-gallery still resolves each example's
# names for its cross-references by importing them in this process, and
# HalvingGridSearchCV only imports after this experimental switch.
import sklearn.experimental.enable_halving_search_cv  # noqa: F401

import skbert

ROOT = Path(__file__).resolve().parents[1]

# The gallery's scripts read these; a value already set wins.
os.environ.setdefault("SKBERT_EXAMPLES_SMALL", "1")
os.environ.setdefault("SKBERT_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

project = "skbert"
author = "skbert developers"
copyright = "skbert developers"
release = skbert.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

# API reference: one page per public object, written by autosummary from the
# numpydoc docstrings (Parameters, Attributes, Methods, See Also, Examples).
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # the numpydoc sections already give the types
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# Markdown pages (user guide, reliability record, benchmarks, changelog).
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Every script is run, not only plot_*.py; a _private.py would be skipped.
    "filename_pattern": re.escape(os.sep),
    "ignore_pattern": r"(^|[/\\])_[^/\\]*\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "doc_module": ("skbert",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skbert {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_static_path: list[str] = []
html_show_sourcelink = True

# Methods inherited from scikit-learn (score, set_output, ...) cite labels of
# scikit-learn's own site, which this one does not have: keep their text.
_SKLEARN_REF = re.compile(r":ref:`([^`<]+?)\s*(<[^`>]+>)?`")


def _plain_sklearn_refs(app, what, name, obj, options, lines) -> None:
    if not getattr(obj, "__module__", "").startswith("sklearn."):
        return
    for i, line in enumerate(lines):
        lines[i] = _SKLEARN_REF.sub(
            lambda m: m[1] if m[2] else "scikit-learn's documentation", line
        )


def setup(app) -> None:
    app.connect("autodoc-process-docstring", _plain_sklearn_refs)
