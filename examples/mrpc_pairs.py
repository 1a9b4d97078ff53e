"""Paraphrase detection: MRPC sentence pairs, fed to the classifier as pairs.

MRPC (GLUE's Microsoft Research Paraphrase Corpus) labels pairs of news
sentences ``equivalent`` or ``not_equivalent``. ``BertTextClassifier`` takes the
``(n, 2)`` array of pairs that ``load_mrpc`` returns as it is: each pair is
encoded as one sequence, ``[CLS] A [SEP] B [SEP]`` with segment ids 0 and 1, so
the model reads the two sentences side by side. This fine-tunes the bundled
MiniLM-L6 model on a seeded sample of the training pairs and tests it on all 408
validation pairs (GLUE's test labels are not public): accuracy, F1 of
``equivalent`` (GLUE's two MRPC metrics), against always answering
``equivalent`` for scale, fit and predict times and a few pairs with their
predicted probability.

The order of a pair matters to the encoding, so ``(B, A)`` is another input, and
its probability need not be that of ``(A, B)``. The script asks the model about
both orders and prints how far the probabilities move and the scores of their
mean, a prediction that no longer depends on the order. With matplotlib it saves the
confusion matrix and a histogram of the probability of ``equivalent`` for each
true class.

    python examples/mrpc_pairs.py --data-dir ../shared/data            # small
    python examples/mrpc_pairs.py --data-dir ../shared/data --full     # full

Small run: 1,000 training pairs, 3 epochs, all 408 validation pairs (not yet
timed on its own). The full run trains on all 3,668 training pairs for 3 epochs, the
setting of ``benchmarks/bench_pairs.py``: accuracy 0.762 and F1 0.836 with seed 0,
0.816 and 0.870 with seed 1; fit 9.4 min on 2 CPU cores shared with other work
(2026-12-02).
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
    plot_confusion_matrix,
    print_pairs,
    save_figure,
    timed,
)
from sklearn.metrics import confusion_matrix, f1_score

from skbert import BertTextClassifier
from skbert.datasets import load_mrpc

SMALL = {"n_train": 1000, "n_test": 0, "epochs": 3}
FULL = {"n_train": 0, "n_test": 0, "epochs": 3}
OPTIONS = {"--epochs": {"type": int, "help": "passes over the training data"}}
POSITIVE, NEGATIVE = "equivalent", "not_equivalent"
N_SHOWN = 4


def labels(proba: np.ndarray) -> np.ndarray:
    """``equivalent`` where its probability is at least 0.5, as ``predict`` says."""
    return np.where(proba >= 0.5, POSITIVE, NEGATIVE)


def scores(y_true: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """Accuracy and F1 of ``equivalent`` of the labels that ``proba`` gives."""
    predicted = labels(proba)
    accuracy = float(np.mean(predicted == y_true))
    f1 = float(f1_score(y_true, predicted, pos_label=POSITIVE, zero_division=0))
    return accuracy, f1


def plot_probabilities(
    y_true: np.ndarray, proba: np.ndarray, path: Path, title: str
) -> str:
    """Histogram of the probability of ``equivalent``, one per true class."""
    figure = new_figure(6, 4)
    ax = figure.add_subplot()
    bins = np.linspace(0, 1, 21)
    for label in (POSITIVE, NEGATIVE):
        chosen = proba[y_true == label]
        ax.hist(chosen, bins=bins, alpha=0.6, label=f"true {label} ({chosen.size})")
    ax.axvline(0.5, color="grey", linestyle="--", label="decision threshold")
    ax.set_xlabel(f"predicted probability of {POSITIVE!r}")
    ax.set_ylabel("validation pairs")
    ax.set_title(title)
    ax.legend()
    return save_figure(figure, path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, argv, SMALL, FULL, OPTIONS)

    X_train, y_train, X_test, y_test = load_pair_samples(load_mrpc, "validation", args)

    clf = BertTextClassifier(
        epochs=args.epochs, random_state=args.seed, verbose=args.verbose
    )
    _, fit_seconds = timed(clf.fit, X_train, y_train)
    positive = list(clf.classes_).index(POSITIVE)
    proba, predict_seconds = timed(clf.predict_proba, X_test)
    proba = proba[:, positive]
    predicted = labels(proba)

    accuracy, f1 = scores(y_test, proba)
    majority_accuracy, majority_f1 = scores(y_test, np.ones(len(y_test)))
    print(
        f"\nMRPC: trained on {len(X_train)} sentence pairs for {clf.n_iter_} "
        f"epoch{'s' if clf.n_iter_ != 1 else ''}, tested on {len(X_test)}"
    )
    print(f"accuracy  {accuracy:.4f}  (always {POSITIVE!r}: {majority_accuracy:.4f})")
    print(f"F1        {f1:.4f}  (always {POSITIVE!r}: {majority_f1:.4f})")
    print(f"fit       {fit_seconds:.1f} s")
    print(
        f"predict   {predict_seconds:.1f} s "
        f"({len(X_test) / predict_seconds:.0f} pairs/s)"
    )
    print(
        "confusion matrix (rows: true, columns: predicted; order "
        f"{clf.classes_.tolist()}):"
    )
    print(confusion_matrix(y_test, predicted, labels=clf.classes_))
    print(f"\nvalidation pairs, P({POSITIVE}) and the true label:")
    shown = slice(N_SHOWN)
    notes = [f"{p:.2f}  {t}" for p, t in zip(proba[shown], y_test[shown], strict=True)]
    print_pairs(X_test, notes)

    swapped = clf.predict_proba(X_test[:, ::-1])[:, positive]
    change = np.abs(proba - swapped)
    both_accuracy, both_f1 = scores(y_test, (proba + swapped) / 2)
    print(
        f"\nthe same pairs as (B, A): P({POSITIVE}) moves by {change.mean():.3f} "
        f"on average (at most {change.max():.3f})"
    )
    print(f"mean of both orders: accuracy {both_accuracy:.4f}, F1 {both_f1:.4f}")

    pictures = []
    if can_plot():
        setting = f"MRPC, {len(X_train)} training pairs"
        pictures.append(
            plot_confusion_matrix(
                y_test,
                predicted,
                clf.classes_,
                args.out / "mrpc_confusion_matrix.png",
                f"{setting}: {len(X_test)} validation pairs",
            )
        )
        pictures.append(
            plot_probabilities(
                y_test,
                proba,
                args.out / "mrpc_probabilities.png",
                f"{setting}: {len(X_test)} validation pairs",
            )
        )
    return {
        "accuracy": accuracy,
        "f1": f1,
        "majority_accuracy": majority_accuracy,
        "majority_f1": majority_f1,
        "swap_mean_change": float(change.mean()),
        "both_orders_accuracy": both_accuracy,
        "both_orders_f1": both_f1,
        "n_train": len(X_train),
        "n_iter": clf.n_iter_,
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "pictures": pictures,
    }


if __name__ == "__main__":
    main()
