"""Loaders for the text-classification datasets used in skbert's examples and tests.

Each dataset is a folder of gzip CSV files, ``<data_home>/<name>/<split>.csv.gz``,
with a header ``text,label`` (the layout of ``../shared/data`` in the skbert
repository). ``data_home`` defaults to the ``SKBERT_DATA`` environment variable,
then to ``~/skbert_data``.
"""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["get_data_home", "load_sst2"]


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder that holds the datasets: ``data_home``, ``$SKBERT_DATA``, or
    ``~/skbert_data``, in that order."""
    if data_home is None:
        data_home = os.environ.get("SKBERT_DATA") or Path.home() / "skbert_data"
    return Path(data_home).expanduser()


def load_sst2(
    split: str = "train", *, data_home: str | os.PathLike | None = None
) -> tuple[list[str], np.ndarray]:
    """Load the GLUE SST-2 sentiment sentences.

    Parameters
    ----------
    split : {"train", "validation"}, default="train"
        67,349 training or 872 validation sentences.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.

    Returns
    -------
    texts : list of str
    labels : ndarray of str, "negative" or "positive"
    """
    return _load_csv("sst2", split, ("train", "validation"), data_home)


def _load_csv(
    name: str,
    split: str,
    splits: tuple[str, ...],
    data_home: str | os.PathLike | None,
) -> tuple[list[str], np.ndarray]:
    if split not in splits:
        raise ValueError(f"split must be one of {splits} for {name}; got {split!r}.")
    path = get_data_home(data_home) / name / f"{split}.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(
            f"{name} {split} split not found: looked for {path}. Put the "
            f"'text,label' gzip CSV there, or point data_home (or the SKBERT_DATA "
            "environment variable) at the folder that holds it."
        )
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or set(rows[0]) != {"text", "label"}:
        raise ValueError(f"{path} is not a 'text,label' CSV file.")
    return [row["text"] for row in rows], np.asarray([row["label"] for row in rows])
