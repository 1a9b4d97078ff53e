"""What every benchmark script's command line shares: options, names, the data sample.

A script adds :func:`add_common_arguments` to its parser, checks comma-separated
choices with :func:`names`, draws its data with :func:`sample` and turns its
options into one :class:`~_tools.Job` per tool with :func:`job_of`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from _tools import Data, Job

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path(
    os.environ.get("SKBERT_DATA", REPO_ROOT.parent / "shared" / "data")
)


def benchmark_parser(
    doc: str, folders: str, hyperparameters: bool = True
) -> argparse.ArgumentParser:
    """A script's parser: its docstring's first paragraph as the description, and
    the options every benchmark takes; ``folders`` names the data folders it reads
    ("sst2/ and imdb/"). ``hyperparameters=False`` leaves out the fine-tuning
    options, for a script whose tools run with their own defaults."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_common_arguments(
        parser,
        f"folder holding {folders}: $SKBERT_DATA, else ../shared/data beside the "
        "repository",
        hyperparameters,
    )
    return parser


def add_common_arguments(
    parser: Any, data_help: str, hyperparameters: bool = True
) -> None:
    """The options every benchmark script takes: data, model, training (unless
    ``hyperparameters`` is false), output."""
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=data_help
    )
    parser.add_argument(
        "--model",
        default="sentence-transformers/all-MiniLM-L6-v2",
        help="hub id or local directory of the model to fine-tune",
    )
    if hyperparameters:
        add_hyperparameters(parser)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the data sample, the new head, dropout and the batch order",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads in every child; torch's own choice when omitted",
    )
    parser.add_argument("--json", type=Path, default=None, help="write results here")


def add_hyperparameters(parser: Any) -> None:
    """The fine-tuning options: epochs, learning rate, batches, decay, schedule."""
    hyper = parser.add_argument_group("hyperparameters of the fine-tuned models")
    hyper.add_argument(
        "--epochs", type=int, default=1, help="passes over the training sample"
    )
    hyper.add_argument(
        "--learning-rate", type=float, default=5e-5, help="peak AdamW learning rate"
    )
    hyper.add_argument(
        "--batch-size", type=int, default=32, help="texts per training step"
    )
    hyper.add_argument(
        "--weight-decay",
        type=float,
        default=0.01,
        help="AdamW decay, never on biases or LayerNorm weights",
    )
    hyper.add_argument(
        "--warmup-ratio",
        type=float,
        default=0.1,
        help="share of the steps with a linear warm-up, then linear decay to 0",
    )
    hyper.add_argument(
        "--max-grad-norm", type=float, default=1.0, help="gradient clipping norm"
    )


def job_of(args: Any, tool: str, model_dir: str, max_length: int) -> Job:
    """The job of ``tool`` with the hyperparameters given on the command line."""
    return Job(
        tool=tool,
        model_dir=model_dir,
        max_length=max_length,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio,
        max_grad_norm=args.max_grad_norm,
        seed=args.seed,
        threads=args.threads,
    )


def add_names(
    parser: Any,
    flag: str,
    known: Iterable[str],
    default: Iterable[str] | None = None,
    note: str = "",
) -> None:
    """A comma-separated option (``--tools``, ``--datasets``), read with
    :func:`names`: every name in ``known`` by default, or those of ``default``."""
    known = list(known)
    parser.add_argument(
        flag,
        default=",".join(known if default is None else default),
        help=f"comma-separated, in this order{note}: {', '.join(known)}",
    )


def names(text: str, known: Iterable[str], what: str) -> list[str]:
    """The comma-separated names in ``text``; exit naming an unknown one."""
    known = list(known)
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    for name in chosen:
        if name not in known:
            raise SystemExit(
                f"Unknown {what} {name!r}; choose from {', '.join(known)}."
            )
    return chosen


def sample(
    loader: Callable[..., tuple[list[str], Any]],
    splits: tuple[str, str],
    data_dir: Path,
    n_train: int | None,
    n_eval: int | None,
    seed: int,
    target: Callable[[Any], Any] = str,
) -> Data:
    """A seeded sample of a dataset's training and evaluation splits.

    ``loader`` is a ``skbert.datasets`` loader. ``None`` keeps a whole split in its
    original order; 0 skips the split without reading it. One generator draws the
    training rows, then the evaluation rows, so a sample depends only on the sizes
    and the seed. A text pair becomes a list of two strings; ``target`` converts
    each label (``float`` for scores).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    data: Data = {}
    for split, n, prefix in zip(
        splits, (n_train, n_eval), ("train", "eval"), strict=True
    ):
        data[f"{prefix}_x"], data[f"{prefix}_y"] = [], []
        if n == 0:
            continue
        try:
            texts, labels = loader(
                split, data_home=data_dir, download_if_missing=False, return_X_y=True
            )
        except FileNotFoundError as error:
            raise SystemExit(f"{error}\nPass --data-dir or set SKBERT_DATA.") from None
        keep = range(len(texts)) if n is None else rng.choice(len(texts), n, False)
        rows = texts.tolist() if hasattr(texts, "tolist") else texts
        data[f"{prefix}_x"] = [rows[i] for i in keep]
        data[f"{prefix}_y"] = [target(labels[i]) for i in keep]
    return data
