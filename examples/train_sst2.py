"""Fine-tune the bundled MiniLM-L6 model on an SST-2 sample and report accuracy.

The README's main job. Offline, on 2 CPU cores, the default run (2,000 training
sentences, 3 epochs, all 872 validation sentences) takes about two minutes.

    python examples/train_sst2.py --data-dir ../shared/data
    python examples/train_sst2.py --n-train 0        # all 67,349 sentences
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, f1_score

from skbert import BertTextClassifier
from skbert.datasets import load_sst2


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        help="folder with sst2/*.csv.gz (default: $SKBERT_DATA, then ~/skbert_data)",
    )
    parser.add_argument(
        "--n-train",
        type=int,
        default=2000,
        help="training sentences to sample; 0 for all",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)

    X_train, y_train = load_sst2("train", data_home=args.data_dir, return_X_y=True)
    X_test, y_test = load_sst2("validation", data_home=args.data_dir, return_X_y=True)
    if args.n_train:
        rng = np.random.default_rng(args.seed)
        keep = rng.choice(len(X_train), size=args.n_train, replace=False)
        X_train, y_train = [X_train[i] for i in keep], y_train[keep]

    clf = BertTextClassifier(
        epochs=args.epochs, random_state=args.seed, verbose=args.verbose
    )
    started = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = clf.predict(X_test)
    predict_seconds = time.perf_counter() - started

    accuracy = float(np.mean(predicted == y_test))
    macro_f1 = float(f1_score(y_test, predicted, average="macro"))
    print(f"\nSST-2: trained on {len(X_train)} sentences, tested on {len(X_test)}")
    print(f"accuracy  {accuracy:.4f}")
    print(f"macro-F1  {macro_f1:.4f}")
    print(
        f"fit       {fit_seconds:.1f} s "
        f"({len(X_train) * clf.n_iter_ / fit_seconds:.0f} samples/s over all epochs)"
    )
    print(
        f"predict   {predict_seconds:.1f} s "
        f"({len(X_test) / predict_seconds:.0f} texts/s)"
    )
    print(
        "confusion matrix (rows: true, columns: predicted; order "
        f"{clf.classes_.tolist()}):"
    )
    print(confusion_matrix(y_test, predicted, labels=clf.classes_))
    print(classification_report(y_test, predicted, digits=3))
    return {
        "accuracy": accuracy,
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
    }


if __name__ == "__main__":
    main()
