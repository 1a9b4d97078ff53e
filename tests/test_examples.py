"""Every script in examples/ runs in its smallest setting, so the examples cannot rot.

Each script's ``main(argv)`` runs in-process on the bundled model and real data with
tiny sizes (32 training and 32 test texts, one epoch), writing to ``tmp_path``; the
tests check the numbers it returns and what it prints. Data comes from
$SKBERT_DATA, else from ../shared/data beside the repository. When SKBERT_DATA is set
(as CI sets it) missing data is a failure, not a skip.

The runs fine-tune the pretrained model, so they are marked ``slow``: together
about 3 minutes on a busy 2-core machine, 4 to 60 s each. The other tests take
milliseconds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conftest import shared_data

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
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
_SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))
TINY = ["--n-train", "32", "--n-test", "32", "--epochs", "1", "--verbose", "0"]
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def data_home() -> Path:
    return shared_data(*_NEEDED)


@pytest.fixture
def examples_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripts import ``_common`` from their own folder, as when run directly."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "_common", raising=False)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"skbert_example_{name}", EXAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run(data_home, tmp_path, examples_on_path, all_torch_threads):
    """Run an example's ``main`` with tiny sizes, output in ``tmp_path``."""

    def run(name: str, *extra: str) -> dict:
        argv = ["--data-dir", str(data_home), "--out", str(tmp_path), *TINY, *extra]
        return _load(name).main(argv)

    return run


def _check_pictures(result: dict, out: Path, *names: str) -> None:
    if not HAS_MATPLOTLIB:
        assert result["pictures"] == []
        return
    assert result["pictures"] == [str(out / name) for name in names]
    for name in names:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_script_is_tested():
    tested = {name[len("test_") :] for name in globals() if name.startswith("test_")}
    assert set(_SCRIPTS) <= tested


@pytest.mark.parametrize("name", _SCRIPTS)
def test_help(name, examples_on_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _load(name).main(["--help"])
    assert exit_info.value.code == 0
    assert "--data-dir" in capsys.readouterr().out


@pytest.mark.slow
def test_grid_search(run, tmp_path, capsys):
    result = run("grid_search", "--learning-rates", "1e-4", "2e-4", "--cv", "2")
    rates = sorted(row["learning_rate"] for row in result["results"])
    assert rates == [1e-4, 2e-4]
    assert all(row["epochs"] == 1 for row in result["results"])
    assert all(0 <= row["mean_accuracy"] <= 1 for row in result["results"])
    assert result["best_learning_rate"] in rates
    assert 0 <= result["test_accuracy"] <= 1
    out = capsys.readouterr().out
    assert "learning_rate epochs     CV accuracy" in out
    assert "accuracy on 32 validation sentences" in out
    _check_pictures(result, tmp_path, "grid_search_heatmap.png")


@pytest.mark.slow
def test_save_and_load(run, tmp_path, capsys):
    result = run("save_and_load")
    assert result["joblib_identical"] is True
    assert result["safe_identical"] is True
    assert (tmp_path / "sst2_classifier.joblib").is_file()
    assert (tmp_path / "sst2_classifier" / "skbert.json").is_file()
    for name in ("joblib", "safe"):
        assert result[f"{name}_megabytes"] > 1  # the whole model, not a stub
        assert result[f"{name}_load_seconds"] > 0
    assert result["n_iter"] == result["best_epoch"] == 1
    assert 0 <= result["accuracy"] <= 1
    out = capsys.readouterr().out
    assert out.count(" yes\n") == 2 and " NO\n" not in out
    _check_pictures(result, tmp_path, "loss_curves.png")


@pytest.mark.slow
def test_imdb_max_length(run, tmp_path):
    result = run("imdb_max_length", "--max-lengths", "64", "32")
    rows = result["results"]
    assert [row["max_length"] for row in rows] == [32, 64]
    assert rows[0]["truncated"] >= rows[1]["truncated"]
    assert result["median_tokens"] > 64  # IMDB reviews are long
    for row in rows:
        assert 0 <= row["accuracy"] <= 1
        assert row["fit_seconds"] > 0 and row["predict_seconds"] > 0
    _check_pictures(result, tmp_path, "imdb_max_length.png")


@pytest.mark.slow
def test_goemotions_multiclass(run, tmp_path, capsys):
    result = run("goemotions_multiclass")
    assert result["n_classes"] > 2
    assert 0 <= result["accuracy"] <= 1
    assert 0 <= result["macro_f1"] <= 1
    assert 0 < result["majority_accuracy"] < 1
    assert "macro-F1" in capsys.readouterr().out
    _check_pictures(result, tmp_path, "goemotions_confusion_matrix.png")


@pytest.mark.slow
def test_imdb_long_text(run, tmp_path, capsys):
    result = run("imdb_long_text", "--modes", "chunk", "truncate")
    rows = result["results"]
    assert [row["long_text"] for row in rows] == ["truncate", "chunk"]
    assert result["median_tokens"] > 128  # most reviews need more than one window
    assert 0.5 < result["share_longer"]["test"] <= 1
    for row in rows:
        assert 0 <= row["accuracy"] <= 1
        assert row["fit_seconds"] > 0 and row["predict_seconds"] > 0
    out = capsys.readouterr().out
    for row in rows:
        assert f"{row['long_text']:<10} {row['accuracy']:>8.4f}" in out
    assert "longer than 128" in out and "head_tail" not in out
    _check_pictures(result, tmp_path, "imdb_long_text.png")


@pytest.mark.slow
def test_goemotions_multilabel(run, tmp_path, capsys):
    result = run("goemotions_multilabel")
    assert result["n_labels"] == 28
    assert len(result["thresholds"]) == 28
    assert all(0 < t < 1 for t in result["thresholds"])
    scores = result["scores"]
    assert set(scores) == {"auto", "half", "fixed"}
    for row in scores.values():
        assert 0 <= row["macro_f1"] <= 1 and 0 <= row["micro_f1"] <= 1
        assert 0 <= row["no_label"] <= 1 and 0 <= row["labels"] <= 28
    assert scores["fixed"]["no_label"] == 0  # every comment gets a label
    assert result["fit_seconds"] > 0 and result["predict_seconds"] > 0
    out = capsys.readouterr().out
    names = {"auto": 'tuned ("auto")', "half": "0.5", "fixed": "tuned + at least one"}
    for key, name in names.items():
        row = scores[key]
        assert (
            f"\n{name:<22} {row['macro_f1']:>8.4f} {row['micro_f1']:>8.4f} "
            f"{row['labels']:>8.2f} {row['no_label']:>8.1%}\n" in out
        )
    assert out.count("\n  predicted: ") == 5
    _check_pictures(result, tmp_path, "goemotions_multilabel_f1.png")


@pytest.mark.slow
def test_train_sst2(run, tmp_path, capsys):
    result = run("train_sst2")
    assert result["n_train"] == 32 and result["n_iter"] == 1
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["macro_f1"] <= 1
    assert result["fit_seconds"] > 0 and result["predict_seconds"] > 0
    out = capsys.readouterr().out
    assert f"accuracy  {result['accuracy']:.4f}" in out
    assert f"macro-F1  {result['macro_f1']:.4f}" in out
    assert "confusion matrix" in out
    _check_pictures(
        result, tmp_path, "sst2_loss_curves.png", "sst2_confusion_matrix.png"
    )


@pytest.mark.slow
def test_train_sst2_early_stopping(run, tmp_path, capsys):
    result = run("train_sst2", "--early-stopping", "--epochs", "2")
    assert result["n_train"] == 32 - 4  # ceil(10% of 32) held out
    assert result["n_iter"] == 2  # n_iter_no_change=2 cannot stop it sooner
    assert "(best: " in capsys.readouterr().out
    _check_pictures(
        result, tmp_path, "sst2_loss_curves.png", "sst2_confusion_matrix.png"
    )


@pytest.mark.slow
def test_mrpc_pairs(run, tmp_path, capsys):
    result = run("mrpc_pairs")
    assert result["n_train"] == 32 and result["n_iter"] == 1
    for name in ("", "majority_", "both_orders_"):
        assert 0 <= result[f"{name}accuracy"] <= 1 and 0 <= result[f"{name}f1"] <= 1
    assert result["fit_seconds"] > 0 and result["predict_seconds"] > 0
    assert 0 < result["swap_mean_change"] < 1  # (B, A) is encoded differently
    out = capsys.readouterr().out
    always = "(always 'equivalent': "
    assert (
        f"accuracy  {result['accuracy']:.4f}  {always}"
        f"{result['majority_accuracy']:.4f})" in out
    )
    assert f"F1        {result['f1']:.4f}  {always}{result['majority_f1']:.4f})" in out
    assert f"P(equivalent) moves by {result['swap_mean_change']:.3f} on average" in out
    assert (
        f"mean of both orders: accuracy {result['both_orders_accuracy']:.4f}, "
        f"F1 {result['both_orders_f1']:.4f}" in out
    )
    assert "confusion matrix" in out
    assert out.count("\n      A: ") == out.count("\n      B: ") == 4
    _check_pictures(
        result, tmp_path, "mrpc_confusion_matrix.png", "mrpc_probabilities.png"
    )


@pytest.mark.slow
def test_stsb_regression(run, tmp_path, capsys):
    result = run("stsb_regression")
    assert result["n_train"] == 32 and result["n_iter"] == 1
    assert -1 <= result["pearson"] <= 1 and -1 <= result["spearman"] <= 1
    assert result["r2"] <= 1
    assert result["mse"] >= 0 and result["mean_mse"] > 0
    assert result["fit_seconds"] > 0 and result["predict_seconds"] > 0
    out = capsys.readouterr().out
    assert f"Pearson   {result['pearson']:.4f}" in out
    assert f"Spearman  {result['spearman']:.4f}" in out
    assert f"R²        {result['r2']:.4f}" in out
    assert (
        f"MSE       {result['mse']:.4f}  "
        f"(always the training mean: {result['mean_mse']:.4f})" in out
    )
    assert out.count("\n  true ") == out.count("\n      B: ") == 4
    _check_pictures(result, tmp_path, "stsb_scatter.png")


def test_options_take_the_small_or_full_setting(examples_on_path, tmp_path, capsys):
    from _common import parse_args

    small, full = {"n_train": 10, "n_test": 20}, {"n_train": 0, "n_test": 0}
    out = ["--out", str(tmp_path / "new")]
    assert parse_args("Doc.", out, small, full).n_train == 10
    assert parse_args("Doc.", [*out, "--full"], small, full).n_train == 0
    args = parse_args("Doc.", [*out, "--full", "--n-test", "5"], small, full)
    assert (args.n_train, args.n_test) == (0, 5)
    assert (tmp_path / "new").is_dir()
    with pytest.raises(SystemExit):
        parse_args("Doc.", ["--help"], small, full)
    assert "full run (--full): --n-train 0 --n-test 0" in capsys.readouterr().out


def test_no_pictures_without_matplotlib(examples_on_path, monkeypatch, capsys):
    from _common import can_plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    assert can_plot() is False
    assert capsys.readouterr().out == (
        "matplotlib is not installed: no pictures (pip install matplotlib)\n"
    )
