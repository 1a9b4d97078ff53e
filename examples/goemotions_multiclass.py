"""Multiclass classification: GoEmotions' single-label comments, 28 emotions.

GoEmotions gives each Reddit comment one to five of 28 labels (27 emotions and
``neutral``); about 84% have exactly one. Keeping those makes a plain 28-class
task. This fine-tunes the bundled MiniLM-L6 model on a seeded sample of them and
reports accuracy, macro-F1 (every class counts the same, so the rare emotions
weigh as much as ``neutral``) and, for scale, the accuracy of always predicting
the most frequent training label. With matplotlib it saves the confusion matrix,
each row divided by the class's test count.

    python examples/goemotions_multiclass.py --data-dir ../shared/data          # small
    python examples/goemotions_multiclass.py --data-dir ../shared/data --full   # full

Small run (3,000 training comments, 3 epochs, all 4,590 single-label test
comments): 88 s on a 2-core machine with little other load (fit 75 s, predict
8 s). It printed accuracy 0.454 (always ``neutral``: 0.350) and macro-F1 0.093:
282 optimizer steps teach the model mostly the frequent classes, and each class
it never predicts adds F1 = 0 to the macro average. ``--class-weight balanced``
trades one for the other: accuracy 0.289, macro-F1 0.220 (85 s). The full run
(all 36,308 single-label training comments, 3 epochs) is not measured; expect
about 12 times the small run's fit time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from _common import can_plot, load_samples, parse_args, plot_confusion_matrix, timed
from sklearn.metrics import classification_report, f1_score

from skbert import BertTextClassifier
from skbert.datasets import load_goemotions

SMALL = {"n_train": 3000, "n_test": 0, "epochs": 3}
FULL = {"n_train": 0, "n_test": 0, "epochs": 3}
OPTIONS = {
    "--epochs": {"type": int, "help": "passes over the training data"},
    "--class-weight": {
        "choices": ["balanced"],
        "help": "weigh each class inversely to its frequency (default: equal)",
    },
}


def single_label(X: list[str], Y: list[list[str]]) -> tuple[list[str], np.ndarray]:
    """The comments with exactly one label, and that label."""
    keep = [i for i, labels in enumerate(Y) if len(labels) == 1]
    return [X[i] for i in keep], np.array([Y[i][0] for i in keep])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, argv, SMALL, FULL, OPTIONS)

    X_train, y_train, X_test, y_test = load_samples(
        load_goemotions, "test", args, keep=single_label
    )

    clf = BertTextClassifier(
        epochs=args.epochs,
        class_weight=args.class_weight,
        random_state=args.seed,
        verbose=args.verbose,
    )
    _, fit_seconds = timed(clf.fit, X_train, y_train)
    predicted, predict_seconds = timed(clf.predict, X_test)

    labels = np.union1d(y_test, predicted)
    accuracy = float(np.mean(predicted == y_test))
    macro_f1 = float(
        f1_score(y_test, predicted, labels=labels, average="macro", zero_division=0)
    )
    majority, _ = Counter(y_train.tolist()).most_common(1)[0]
    baseline = float(np.mean(y_test == majority))
    print(
        f"\nGoEmotions, single-label: {len(X_train)} training comments "
        f"({len(clf.classes_)} classes, class_weight={args.class_weight}), "
        f"{len(X_test)} test comments"
    )
    print(f"accuracy  {accuracy:.4f}  (always {majority!r}: {baseline:.4f})")
    print(f"macro-F1  {macro_f1:.4f}")
    print(f"fit       {fit_seconds:.1f} s")
    print(f"predict   {predict_seconds:.1f} s")
    print(
        classification_report(
            y_test, predicted, labels=labels, digits=3, zero_division=0
        )
    )

    pictures = []
    if can_plot():
        path = args.out / "goemotions_confusion_matrix.png"
        title = f"GoEmotions single-label test set ({len(X_test)} comments)"
        pictures.append(plot_confusion_matrix(y_test, predicted, labels, path, title))
    return {
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "majority_accuracy": baseline,
        "n_classes": len(clf.classes_),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "pictures": pictures,
    }


if __name__ == "__main__":
    main()
