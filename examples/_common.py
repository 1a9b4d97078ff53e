"""Helpers shared by the example scripts: options, sampling, timing and pictures.

Every example takes ``--data-dir``, ``--n-train``, ``--n-test``, ``--seed``,
``--out``, ``--verbose`` and ``--full``. Options left out take the script's small
setting, or its full setting with ``--full``; an option given explicitly always
wins. Pictures need matplotlib, an optional dependency: without it the scripts
print one line and skip them. They are drawn with the Agg backend, without
``pyplot``, so nothing global changes and no window opens.
"""

from __future__ import annotations

import argparse
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "output"


def parse_args(
    doc: str,
    argv: Sequence[str] | None,
    small: dict[str, Any],
    full: dict[str, Any],
    options: dict[str, dict[str, Any]] | None = None,
) -> argparse.Namespace:
    """Parse the common options and the script's own, and create ``--out``.

    ``options`` maps a flag to its ``add_argument`` keywords. Options left out take
    the ``small`` setting, or the ``full`` one with ``--full``.
    """
    parser = argparse.ArgumentParser(
        description=doc.splitlines()[0],
        epilog=f"small run: {_as_flags(small)}\nfull run (--full): {_as_flags(full)}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        help="folder holding <dataset>/<split>.csv.gz "
        "(default: $SKBERT_DATA, then ~/skbert_data)",
    )
    parser.add_argument(
        "--full", action="store_true", help="the full run instead of the small one"
    )
    parser.add_argument("--n-train", type=int, help="training texts to sample, 0: all")
    parser.add_argument("--n-test", type=int, help="test texts to sample, 0: all")
    parser.add_argument("--seed", type=int, default=0, help="sampling and model seed")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder for pictures and files (default: examples/output)",
    )
    parser.add_argument(
        "--verbose", type=int, default=1, help="1: show progress; 0: results only"
    )
    for flag, keywords in (options or {}).items():
        parser.add_argument(flag, **keywords)
    args = parser.parse_args(argv)
    for name, value in (full if args.full else small).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def _as_flags(setting: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        return " ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)

    return " ".join(f"--{k.replace('_', '-')} {value(v)}" for k, v in setting.items())


def sample(X: Sequence[str], y: Any, n: int, seed: int) -> tuple[list[str], Any]:
    """``n`` texts and their labels drawn without replacement, seeded; 0: all.

    Always shuffles, so a file sorted by label (IMDB) gives mixed samples. The
    draw is ``numpy.random.default_rng(seed).choice(len(X), n, replace=False)``,
    the README's seeded SST-2 sample.
    """
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(X), size=min(n, len(X)) if n else len(X), replace=False)
    return [X[i] for i in keep], np.asarray(y)[keep]


def load_samples(
    load: Callable[..., Any],
    test_split: str,
    args: argparse.Namespace,
    keep: Callable[[Any, Any], tuple[Any, Any]] | None = None,
) -> tuple[list[str], Any, list[str], Any]:
    """``X_train, y_train, X_test, y_test``: seeded samples of two splits.

    ``load`` is a ``skbert.datasets`` loader, read from ``args.data_dir``; the
    ``"train"`` split is sampled to ``args.n_train`` texts and ``test_split`` to
    ``args.n_test``. ``keep(X, y)``, if given, filters each split before sampling.
    """
    samples: list[Any] = []
    for split, n in (("train", args.n_train), (test_split, args.n_test)):
        X, y = load(split, data_home=args.data_dir, return_X_y=True)
        if keep is not None:
            X, y = keep(X, y)
        samples.extend(sample(X, y, n, args.seed))
    return tuple(samples)


def load_pair_samples(
    load: Callable[..., Any], test_split: str, args: argparse.Namespace
) -> tuple[np.ndarray, Any, np.ndarray, Any]:
    """``load_samples`` for a text-pair loader (``load_mrpc``, ``load_stsb``).

    ``X_train`` and ``X_test`` come back as the loaders give them: ``(n, 2)``
    object arrays, one ``(text, text_pair)`` per row, ready for ``fit``.
    """
    X_train, y_train, X_test, y_test = load_samples(load, test_split, args)
    return np.stack(X_train), y_train, np.stack(X_test), y_test


def print_pairs(X: np.ndarray, notes: Sequence[str], width: int = 72) -> None:
    """The first ``len(notes)`` pairs of ``X``, each under its note, shortened."""
    for (text, text_pair), note in zip(X, notes, strict=False):
        print(f"  {note}")
        print(f"      A: {textwrap.shorten(text, width)}")
        print(f"      B: {textwrap.shorten(text_pair, width)}")


def token_counts(tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Tokens in each text with [CLS] and [SEP], before any truncation."""
    encoded = tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
    return np.array([len(ids) for ids in encoded])


def timed(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``func(*args, **kwargs)`` and the seconds it took."""
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


def warm_up() -> None:
    """Fit the default model once on two texts, untimed.

    The first fit in a process also pays one-off costs (checking the bundled
    weights' sha256, torch's first-call setup); after this, timed fits do not.
    """
    from skbert import BertTextClassifier

    BertTextClassifier(max_length=8, epochs=1, random_state=0).fit(
        ["a good film", "a bad film"], [1, 0]
    )


def can_plot() -> bool:
    """Whether matplotlib is importable; if not, say so in one line."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return False
    return True


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas, outside pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, path: Path) -> str:
    """Write ``figure`` as a PNG, say where, and return the path."""
    figure.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")
    return str(path)


def plot_loss_curves(clf: Any, path: Path, title: str) -> str:
    """Training (``loss_curve_``) and validation loss per epoch, best epoch marked."""
    figure = new_figure(6, 4)
    ax = figure.add_subplot()
    epochs = np.arange(1, len(clf.loss_curve_) + 1)
    ax.plot(epochs, clf.loss_curve_, "o-", label="training (mean over the epoch)")
    if clf.validation_loss_curve_ is not None:
        ax.plot(
            epochs,
            clf.validation_loss_curve_,
            "s-",
            label="validation (after the epoch)",
        )
        ax.axvline(
            clf.best_epoch_, color="grey", linestyle="--", label="best epoch (kept)"
        )
    ax.set_xticks(epochs)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(figure, path)


def plot_confusion_matrix(
    y_true: Any, y_pred: Any, labels: Sequence[Any], path: Path, title: str
) -> str:
    """scikit-learn's ConfusionMatrixDisplay of the predictions.

    Up to 10 classes: counts in the cells. More: each row divided by its true
    count (the diagonal is each class's recall) and no numbers in the cells.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    few = len(labels) <= 10
    size = 5 if few else 4 + 0.3 * len(labels)
    figure = new_figure(size + 1, size)
    ax = figure.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        normalize=None if few else "true",
        include_values=few,
        xticks_rotation="horizontal" if few else "vertical",
        cmap="Blues",
        ax=ax,
    )
    ax.set_title(title if few else f"{title}\n(rows divided by their true count)")
    return save_figure(figure, path)
