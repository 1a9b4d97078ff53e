"""Semantic similarity: STS-B sentence pairs scored 0 to 5 by a regressor.

STS-B (GLUE's Semantic Textual Similarity Benchmark) gives each sentence pair a
similarity score from 0 (unrelated) to 5 (the same meaning), the mean of several
annotators' ratings. ``BertTextRegressor`` takes the ``(n, 2)`` array of pairs
that ``load_stsb`` returns as it is, standardises the scores inside and predicts
in their units. This fine-tunes the bundled MiniLM-L6 model on a seeded sample of
the training pairs and tests it on all 1,500 validation pairs (GLUE's test
scores are not public): Pearson and Spearman correlation (GLUE's two STS-B
metrics), R² (what ``reg.score`` returns) and the mean squared error, against
always predicting the training mean for scale, fit and predict times and a few
pairs with both scores. With matplotlib it saves the predicted against the true
scores as a scatter plot.

    python examples/stsb_regression.py --data-dir ../shared/data          # small
    python examples/stsb_regression.py --data-dir ../shared/data --full   # full

Small run: 2,000 training pairs, 3 epochs, all 1,500 validation pairs (not yet
timed on its own). The full run trains on all 5,749 training pairs for 3 epochs,
the setting of ``benchmarks/bench_pairs.py``: Pearson 0.858, Spearman 0.857, fit
17 min on 2 CPU cores shared with other work (2026-12-02).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    can_plot,
    load_pair_samples,
    new_figure,
    parse_args,
    print_pairs,
    save_figure,
    timed,
)
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import mean_squared_error, r2_score

from skbert import BertTextRegressor
from skbert.datasets import load_stsb

SMALL = {"n_train": 2000, "n_test": 0, "epochs": 3}
FULL = {"n_train": 0, "n_test": 0, "epochs": 3}
OPTIONS = {"--epochs": {"type": int, "help": "passes over the training data"}}
N_SHOWN = 4


def plot_scatter(
    y_true: np.ndarray, predicted: np.ndarray, path: Path, title: str
) -> str:
    """Predicted against true scores, with the diagonal of perfect predictions."""
    figure = new_figure(5, 5)
    ax = figure.add_subplot()
    ax.scatter(y_true, predicted, s=10, alpha=0.3, edgecolors="none")
    low = min(0.0, float(predicted.min())) - 0.25
    high = max(5.0, float(predicted.max())) + 0.25
    ax.plot([low, high], [low, high], "k--", linewidth=1, label="predicted = true")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_xlabel("true similarity (0-5)")
    ax.set_ylabel("predicted similarity")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return save_figure(figure, path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, argv, SMALL, FULL, OPTIONS)

    X_train, y_train, X_test, y_test = load_pair_samples(load_stsb, "validation", args)

    reg = BertTextRegressor(
        epochs=args.epochs, random_state=args.seed, verbose=args.verbose
    )
    _, fit_seconds = timed(reg.fit, X_train, y_train)
    predicted, predict_seconds = timed(reg.predict, X_test)

    pearson = float(pearsonr(y_test, predicted).statistic)
    spearman = float(spearmanr(y_test, predicted).statistic)
    r2 = float(r2_score(y_test, predicted))  # reg.score(X_test, y_test), no re-predict
    mse = float(mean_squared_error(y_test, predicted))
    mean_mse = float(mean_squared_error(y_test, np.full(len(y_test), y_train.mean())))
    print(
        f"\nSTS-B: trained on {len(X_train)} sentence pairs for {reg.n_iter_} "
        f"epoch{'s' if reg.n_iter_ != 1 else ''}, tested on {len(X_test)}"
    )
    print(f"Pearson   {pearson:.4f}")
    print(f"Spearman  {spearman:.4f}")
    print(f"R²        {r2:.4f}")
    print(f"MSE       {mse:.4f}  (always the training mean: {mean_mse:.4f})")
    print(f"fit       {fit_seconds:.1f} s")
    print(
        f"predict   {predict_seconds:.1f} s "
        f"({len(X_test) / predict_seconds:.0f} pairs/s)"
    )
    print("\nvalidation pairs, true and predicted similarity:")
    shown = slice(N_SHOWN)
    notes = [
        f"true {t:.2f}  predicted {p:.2f}"
        for t, p in zip(y_test[shown], predicted[shown], strict=True)
    ]
    print_pairs(X_test, notes)

    pictures = []
    if can_plot():
        title = (
            f"STS-B, {len(X_train)} training pairs: {len(X_test)} validation pairs\n"
            f"Pearson {pearson:.3f}, Spearman {spearman:.3f}"
        )
        pictures.append(
            plot_scatter(y_test, predicted, args.out / "stsb_scatter.png", title)
        )
    return {
        "pearson": pearson,
        "spearman": spearman,
        "r2": r2,
        "mse": mse,
        "mean_mse": mean_mse,
        "n_train": len(X_train),
        "n_iter": reg.n_iter_,
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "pictures": pictures,
    }


if __name__ == "__main__":
    main()
