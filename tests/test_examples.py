"""Every script in examples/ runs in its small setting, so the gallery cannot rot.

Each script runs in-process as ``python examples/<name>.py`` would run it, with
``SKBERT_EXAMPLES_SMALL=1`` (the setting the documentation build uses) on the
bundled model and real data; the tests check the figures it draws and the numbers
it leaves in its namespace. Data comes from $SKBERT_DATA, else from ../shared/data
beside the repository. When SKBERT_DATA is set (as CI sets it) missing data is a
failure, not a skip.

The runs fine-tune the pretrained model, so they are marked ``slow``: a few
minutes together on 2 cores. The checks of the scripts' form take milliseconds.
"""

from __future__ import annotations

import ast
import re
import runpy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import shared_data

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))
_NEEDED = [
    f"{name}/{split}.csv.gz"
    for name, splits in {
        "sst2": ("train", "validation"),
        "imdb": ("train", "test"),
        "goemotions": ("train", "test"),
        "mrpc": ("train", "validation"),
        "stsb": ("train", "validation"),
    }.items()
    for split in splits
]


@pytest.fixture(scope="module")
def data_home() -> Path:
    return shared_data(*_NEEDED)


@pytest.fixture
def run(data_home, tmp_path, monkeypatch, all_torch_threads):
    """Run a script small, as ``python examples/<name>.py *argv``, in ``tmp_path``.

    Returns the script's namespace and the figures it left open.
    """
    monkeypatch.setenv("SKBERT_EXAMPLES_SMALL", "1")
    monkeypatch.setenv("SKBERT_DATA", str(data_home))
    monkeypatch.chdir(tmp_path)
    plt.close("all")

    def run(name: str, *argv: str) -> tuple[dict[str, Any], list[Any]]:
        path = str(EXAMPLES / f"{name}.py")
        monkeypatch.setattr(sys, "argv", [path, *argv])
        namespace = runpy.run_path(path, run_name="__main__")
        figures = [plt.figure(number) for number in plt.get_fignums()]
        return namespace, figures

    yield run
    plt.close("all")


# Arguments of the small runs; train_sst2 saves its pictures in tmp_path, not in
# examples/output.
ARGV = {"train_sst2": ("--out", "output")}


def _titles(figure: Any) -> str:
    suptitle = figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""
    return " ".join([suptitle, *(ax.get_title() for ax in figure.axes)])


# ------------------------------------------------------------ the scripts' form


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_is_a_self_contained_gallery_example(name):
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=False)
    assert doc is not None, "sphinx-gallery needs a docstring"
    title, underline = doc.strip("\n").splitlines()[:2]
    assert re.fullmatch(r"=+", underline) and len(underline) >= len(title)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {n for n in imported if n.startswith("_")}, "no shared helper module"
    assert "matplotlib" in imported, "every example draws a picture"
    assert 'os.environ.get("SKBERT_EXAMPLES_SMALL") == "1"' in source
    assert '"SKBERT_DATA", "../shared/data"' in source


def test_gallery_has_at_least_five_examples():
    assert len(SCRIPTS) >= 5
    assert not (EXAMPLES / "_common.py").exists()


# ------------------------------------------------------------ small runs


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_small_and_draws(run, name):
    namespace, figures = run(name, *ARGV.get(name, ()))
    assert figures, f"{name} drew no figure"
    for figure in figures:
        assert figure.axes and _titles(figure).strip()
    check = CHECKS.get(name)
    if check is not None:
        check(namespace, figures)


def _check_train_sst2(ns, figures):
    assert len(ns["X_train"]) == 200 and ns["clf"].n_iter_ == 1
    assert 0 <= ns["accuracy"] <= 1 and 0 <= ns["macro_f1"] <= 1
    assert len(figures) == 2
    out = ns["args"].out
    for name in ("sst2_loss_curves.png", "sst2_confusion_matrix.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_grid_search(ns, figures):
    results = ns["search"].cv_results_
    assert len(results["params"]) == len(ns["rates"]) * len(ns["epochs"])
    # The heat map's cells are the scores of their (epochs, learning_rate) pair.
    scores = ns["scores"]
    for i, params in enumerate(results["params"]):
        row = ns["epochs"].index(params["berttextclassifier__epochs"])
        column = ns["rates"].index(params["berttextclassifier__learning_rate"])
        assert scores[row, column] == results["mean_test_score"][i]
    assert 0 <= ns["test_accuracy"] <= 1


def _check_save_and_load(ns, figures):
    assert ns["identical"] == {"joblib": True, "safe": True}
    assert not ns["folder"].exists()  # the saved copies are cleaned up
    restored = ns["restored"]
    assert restored.n_iter_ == 2 and len(restored.validation_loss_curve_) == 2


def _check_imdb_max_length(ns, figures):
    assert [row[0] for row in ns["rows"]] == [32, 64, 128]
    assert all(0 <= row[1] <= 1 and row[2] > 0 and row[3] > 0 for row in ns["rows"])
    assert ns["n_tokens"].min() > 0 and (ns["n_tokens"] > 128).any()


def _check_imdb_long_text(ns, figures):
    assert set(ns["accuracy"]) == {"truncate", "head_tail", "chunk"}
    assert ns["longer"] > 0.5  # most reviews need more than one window


def _check_goemotions_multiclass(ns, figures):
    assert len(ns["clf"].classes_) > 10
    assert 0 <= ns["macro_f1"] <= 1 and 0 < ns["baseline"] < 1


def _check_goemotions_multilabel(ns, figures):
    assert ns["Y_test"].shape[1] == len(ns["names"]) == 28
    assert len(ns["clf"].thresholds_) == 28
    assert (ns["at_least_one"].sum(axis=1) > 0).all()


def _check_mrpc_pairs(ns, figures):
    assert ns["X_train"].shape == (100, 2)
    assert 0 < np.abs(ns["proba"] - ns["swapped"]).mean() < 1


def _check_stsb_regression(ns, figures):
    assert ns["X_train"].shape == (200, 2) and ns["predicted"].shape == (200,)
    assert -1 <= ns["pearson"] <= 1 and -1 <= ns["spearman"] <= 1


def _check_explain_sst2(ns, figures):
    assert len(ns["explanation"]) == 40 and len(figures) == 2
    assert np.median(ns["explanation"].completeness_error) < 0.05
    assert len(ns["frame"]) == sum(len(words) for words in ns["explanation"].words)
    assert ns["positive_words"] and ns["negative_words"]
    assert set(ns["toward_positive"].target) == {"positive"}


CHECKS = {
    name[len("_check_") :]: check
    for name, check in globals().items()
    if name.startswith("_check_")
}


@pytest.mark.slow
def test_train_sst2_early_stopping_and_out(run, tmp_path):
    out = tmp_path / "pictures"
    namespace, _ = run("train_sst2", "--early-stopping", "--out", str(out))
    clf = namespace["clf"]
    assert len(clf.validation_loss_curve_) == clf.n_iter_ == clf.best_epoch_ == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "sst2_confusion_matrix.png",
        "sst2_loss_curves.png",
    ]


def test_every_check_names_a_script():
    assert set(CHECKS) <= set(SCRIPTS)
