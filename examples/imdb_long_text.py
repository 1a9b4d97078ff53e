"""Reviews longer than max_length: truncate, keep head and tail, or read in chunks.

Most IMDB reviews are longer than 128 tokens. The ``long_text`` parameter says
how such a text is read, in ``fit`` and at prediction time alike: "truncate"
keeps its first tokens; "head_tail" keeps its first quarter of the room
(``head_ratio=0.25``) and its last tokens, where reviewers tend to sum up, as
Sun et al. (2019) found best; "chunk" reads all of it in windows of
``max_length`` tokens overlapping by ``stride=32``, trains on every window and
predicts the mean of the windows' logits. For each ``--modes`` value this
fine-tunes the bundled MiniLM-L6 model at ``max_length=128`` on the same seeded
sample of training reviews and prints the token lengths of the reviews, the
accuracy on a seeded sample of test reviews and the fit and predict times
(after an untimed warm-up fit, so the first does not carry one-off costs).
With matplotlib it saves accuracy and times per mode as two bar charts.

    python examples/imdb_long_text.py --data-dir ../shared/data          # small run
    python examples/imdb_long_text.py --data-dir ../shared/data --full   # full run
    python examples/imdb_long_text.py --data-dir ../shared/data --modes truncate chunk

Small run (300 training reviews, 2 epochs at learning_rate 2e-4, 200 test
reviews, all three modes): 3.6 minutes on a 2-core machine, alone for the first
two fits, with a benchmark starting during the "chunk" fit (under a steady
load average of 4 to 6 the same run took 15 minutes). It printed (88% of the
test reviews are longer than 128 tokens; the accuracies were the same in both
runs):

    long_text  accuracy   fit s predict s
    truncate     0.7550    29.7       2.2
    head_tail    0.8050    29.3       2.1
    chunk        0.8600   127.6      20.5

"head_tail" costs what "truncate" costs. "chunk" reads each review in 3.5
windows on average: here it took 4.3 times as long to fit and 9 times as long
to predict, partly from the benchmark that started meanwhile (2.9 and 3.2 times
in the run under steady load).

On 200 test reviews each accuracy is uncertain by about +-0.03. Note that
"chunk" also takes 3.5 times as many optimizer steps (each window is a row of
a batch): 300 reviews make only 10 steps an epoch for the other two, hence
learning_rate 2e-4. With 200 training reviews (7 steps an epoch) "truncate"
and "head_tail" learnt nothing (0.54 on 300 test reviews: always "positive")
while "chunk" reached 0.83.

Full run (1,000 training reviews, 2 epochs at the default learning_rate 1e-4,
1,000 test reviews, all three modes): (not yet timed in full).
"""

from __future__ import annotations

import math
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

MODES = ["truncate", "head_tail", "chunk"]
MAX_LENGTH = 128
SMALL = {
    "n_train": 300,
    "n_test": 200,
    "epochs": 2,
    "learning_rate": 2e-4,
    "modes": MODES,
}
FULL = {
    "n_train": 1000,
    "n_test": 1000,
    "epochs": 2,
    "learning_rate": 1e-4,
    "modes": MODES,
}
OPTIONS = {
    "--epochs": {"type": int, "help": "epochs per fit"},
    "--learning-rate": {"type": float, "help": "learning_rate of every fit"},
    "--modes": {
        "nargs": "+",
        "choices": MODES,
        "help": "long_text values to compare",
    },
}


def windows(n_tokens: np.ndarray, stride: int) -> np.ndarray:
    """Windows that ``long_text="chunk"`` reads each text in.

    A text of ``n`` tokens ([CLS] and [SEP] included) leaves ``n - 2`` for the
    windows, each of ``MAX_LENGTH - 2`` text tokens, overlapping by ``stride``.
    """
    room, n_text = MAX_LENGTH - 2, n_tokens - 2
    step = room - stride
    return np.array([max(1, math.ceil((n - stride) / step)) for n in n_text])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, argv, SMALL, FULL, OPTIONS)
    modes = [mode for mode in MODES if mode in args.modes]

    X_train, y_train, X_test, y_test = load_samples(load_imdb, "test", args)

    warm_up()
    rows, clf = [], None
    for mode in modes:
        clf = BertTextClassifier(
            max_length=MAX_LENGTH,
            long_text=mode,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            random_state=args.seed,
            verbose=args.verbose,
        )
        _, fit_seconds = timed(clf.fit, X_train, y_train)
        predicted, predict_seconds = timed(clf.predict, X_test)
        rows.append(
            {
                "long_text": mode,
                "accuracy": float(np.mean(predicted == y_test)),
                "fit_seconds": fit_seconds,
                "predict_seconds": predict_seconds,
            }
        )
    lengths = {
        "training": token_counts(clf.tokenizer_, X_train),
        "test": token_counts(clf.tokenizer_, X_test),
    }

    print(
        f"\nIMDB at max_length={MAX_LENGTH}: {len(X_train)} training reviews, "
        f"{len(X_test)} test reviews, epochs={args.epochs}, "
        f"learning_rate={args.learning_rate:g}"
    )
    print("reviews   median tokens  90th pct  longest  longer than 128  windows")
    for name, n_tokens in lengths.items():
        print(
            f"{name:<9} {np.median(n_tokens):>13.0f} "
            f"{np.percentile(n_tokens, 90):>9.0f} {n_tokens.max():>8} "
            f"{np.mean(n_tokens > MAX_LENGTH):>16.0%} "
            f"{windows(n_tokens, clf.stride).mean():>8.2f}"
        )
    print("(windows: mean number of windows each review is read in with 'chunk')")
    print("\nlong_text  accuracy   fit s predict s")
    for row in rows:
        print(
            f"{row['long_text']:<10} {row['accuracy']:>8.4f} "
            f"{row['fit_seconds']:>7.1f} {row['predict_seconds']:>9.1f}"
        )

    pictures = []
    if can_plot():
        pictures.append(_plot(rows, args, len(X_train), len(X_test)))
    return {
        "results": rows,
        "share_longer": {
            name: float(np.mean(n_tokens > MAX_LENGTH))
            for name, n_tokens in lengths.items()
        },
        "median_tokens": float(np.median(lengths["test"])),
        "pictures": pictures,
    }


def _plot(rows: list[dict[str, Any]], args: Any, n_train: int, n_test: int) -> str:
    """Accuracy (left) and fit/predict seconds (right) per ``long_text`` mode."""
    modes = [row["long_text"] for row in rows]
    at = np.arange(len(rows))
    figure = new_figure(10, 4)
    accuracy_ax, time_ax = figure.subplots(1, 2)
    accuracy = [row["accuracy"] for row in rows]
    accuracy_ax.bar_label(accuracy_ax.bar(at, accuracy, 0.6), fmt="%.3f")
    accuracy_ax.set_ylim(0, 1)
    accuracy_ax.set_ylabel(f"accuracy on {n_test} test reviews")
    for offset, name in ((-0.2, "fit"), (0.2, "predict")):
        seconds = [row[f"{name}_seconds"] for row in rows]
        bars = time_ax.bar(at + offset, seconds, 0.4, label=name)
        time_ax.bar_label(bars, fmt="%.0f")
    time_ax.set_ylabel("seconds")
    time_ax.legend()
    for ax in (accuracy_ax, time_ax):
        ax.set_xticks(at, modes)
        ax.set_xlabel("long_text")
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle(
        f"IMDB at max_length={MAX_LENGTH}: fine-tuned on {n_train} reviews, "
        f"epochs={args.epochs}"
    )
    return save_figure(figure, args.out / "imdb_long_text.png")


if __name__ == "__main__":
    main()
