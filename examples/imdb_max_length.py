"""How much of a long IMDB review does the model need? The effect of max_length.

IMDB reviews run to hundreds of tokens; ``max_length`` truncates each one, so a
larger value sees more of the review but costs more time per text. For each
``--max-lengths`` value this fine-tunes the bundled MiniLM-L6 model on the same
seeded sample of training reviews (the files are sorted by label, so the sample is
drawn from a shuffle) and prints the share of test reviews that get truncated,
the accuracy, and the fit and predict times (after an untimed warm-up fit, so
the first does not carry one-off costs). With matplotlib it plots accuracy
and times against ``max_length``.

    python examples/imdb_max_length.py --data-dir ../shared/data          # small run
    python examples/imdb_max_length.py --data-dir ../shared/data --full   # full run

Small run (300 reviews, 2 epochs at learning_rate 2e-4, 500 test reviews,
max_length 64/128/256): 5.4 minutes on a 2-core machine under other load (load
average rising to 3.9, which doubled the last fit's time; 3 minutes with little
load). It printed (test reviews have a median of 252 tokens):

    max_length truncated accuracy   fit s predict s
            64       97%   0.6820    32.6       3.0
           128       87%   0.7600    41.6       6.7
           256       48%   0.7280   200.3      25.1

On 500 test reviews each accuracy is uncertain by about +-0.02, so beyond 128
tokens this small run shows cost, not a clear gain. 300 reviews make only 10
optimizer steps an epoch, hence learning_rate 2e-4 (as ``grid_search.py`` finds
for small samples); at the default 1e-4 the same run reached 0.546, 0.622 and
0.630. The full run (2,000 reviews,
2 epochs at the default learning_rate 1e-4, 2,000 test reviews, also max_length
512) is not measured; from the small run's rates, expect about an hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from _common import (
    can_plot,
    load_samples,
    new_figure,
    parse_args,
    save_figure,
    timed,
    token_counts,
    warm_up,
)

from skbert import BertTextClassifier
from skbert.datasets import load_imdb

SMALL = {
    "n_train": 300,
    "n_test": 500,
    "epochs": 2,
    "learning_rate": 2e-4,
    "max_lengths": [64, 128, 256],
}
FULL = {
    "n_train": 2000,
    "n_test": 2000,
    "epochs": 2,
    "learning_rate": 1e-4,
    "max_lengths": [64, 128, 256, 512],
}

OPTIONS = {
    "--epochs": {"type": int, "help": "epochs per fit"},
    "--learning-rate": {"type": float, "help": "learning_rate of every fit"},
    "--max-lengths": {"type": int, "nargs": "+", "help": "max_length values"},
}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, argv, SMALL, FULL, OPTIONS)

    X_train, y_train, X_test, y_test = load_samples(load_imdb, "test", args)

    warm_up()
    rows, n_tokens = [], None
    for max_length in sorted(args.max_lengths):
        clf = BertTextClassifier(
            max_length=max_length,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            random_state=args.seed,
            verbose=args.verbose,
        )
        _, fit_seconds = timed(clf.fit, X_train, y_train)
        predicted, predict_seconds = timed(clf.predict, X_test)
        if n_tokens is None:
            n_tokens = token_counts(clf.tokenizer_, X_test)
        rows.append(
            {
                "max_length": max_length,
                "truncated": float(np.mean(n_tokens > max_length)),
                "accuracy": float(np.mean(predicted == y_test)),
                "fit_seconds": fit_seconds,
                "predict_seconds": predict_seconds,
            }
        )

    print(
        f"\nIMDB: {len(X_train)} training reviews, epochs={args.epochs}, "
        f"{len(X_test)} test reviews of median length {np.median(n_tokens):.0f} "
        "tokens"
    )
    print("max_length truncated accuracy   fit s predict s")
    for row in rows:
        print(
            f"{row['max_length']:>10} {row['truncated']:>9.0%} "
            f"{row['accuracy']:>8.4f} {row['fit_seconds']:>7.1f} "
            f"{row['predict_seconds']:>9.1f}"
        )

    pictures = []
    if can_plot():
        pictures.append(_plot(rows, args, len(X_train), len(X_test)))
    return {
        "results": rows,
        "median_tokens": float(np.median(n_tokens)),
        "pictures": pictures,
    }


def _plot(rows: list[dict[str, Any]], args: Any, n_train: int, n_test: int) -> str:
    """Accuracy (left) and fit/predict seconds (right) against max_length."""
    lengths = [row["max_length"] for row in rows]
    figure = new_figure(10, 4)
    accuracy_ax, time_ax = figure.subplots(1, 2)
    accuracy_ax.plot(lengths, [row["accuracy"] for row in rows], "o-")
    accuracy_ax.set_ylabel(f"accuracy on {n_test} test reviews")
    time_ax.plot(lengths, [row["fit_seconds"] for row in rows], "o-", label="fit")
    time_ax.plot(
        lengths, [row["predict_seconds"] for row in rows], "s-", label="predict"
    )
    time_ax.set_ylabel("seconds")
    time_ax.legend()
    for ax in (accuracy_ax, time_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(n) for n in lengths])
        ax.minorticks_off()
        ax.set_xlabel("max_length (tokens)")
        ax.grid(alpha=0.3)
    figure.suptitle(f"IMDB: fine-tuned on {n_train} reviews, epochs={args.epochs}")
    return save_figure(figure, args.out / "imdb_max_length.png")


if __name__ == "__main__":
    main()
