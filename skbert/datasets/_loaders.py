"""The public loaders, and the docstring sections they share, written once."""

from __future__ import annotations

import csv
import gzip
import inspect
import os
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
from sklearn.utils import Bunch

from ._fetch import fetch
from ._registry import DATASETS, Dataset

_Loader = TypeVar("_Loader", bound=Callable[..., Any])


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds the datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the ``SKBERT_DATA`` environment variable,
        else ``~/skbert_data``. ``~`` is expanded. The folder is not created.

    Returns
    -------
    data_home : pathlib.Path
        The folder; each dataset lives in a sub-folder named after it.

    See Also
    --------
    load_sst2 : One of the loaders that read from this folder.

    Examples
    --------
    >>> from skbert.datasets import get_data_home
    >>> get_data_home("/srv/data")
    PosixPath('/srv/data')
    """
    if data_home is None:
        data_home = os.environ.get("SKBERT_DATA") or Path.home() / "skbert_data"
    return Path(data_home).expanduser()


# --------------------------------------------------------------------------- docstrings

# What every loader's docstring says, between its own notes and its See Also.
# Indented lines are paragraphs, rewrapped after filling in.
_SHARED_SECTIONS = """\
Parameters
----------
split : {{{split_names}}}, default="train"
    The split to load.
data_home : str or path-like, default=None
    Folder holding ``{name}/<split>.csv.gz``; see :func:`get_data_home`.
download_if_missing : bool, default=True
    When the file is missing, download {downloads}, check sizes and sha256
    against the published values, convert to the CSV form and cache every split.
    When False, raise :class:`FileNotFoundError` instead.
return_X_y : bool, default=False
    Return ``(data, target)`` instead of a Bunch.

Returns
-------
dataset : :class:`~sklearn.utils.Bunch`
    {fields}; ``DESCR``: str, a description of the dataset.
(data, target) : tuple
    When ``return_X_y`` is True.

Raises
------
ValueError
    If ``split`` is not a split of the dataset.
FileNotFoundError
    If the file is missing and ``download_if_missing`` is False.
OSError
    If a download fails or a downloaded file does not match its checksum."""

_DATA = {
    False: "``data``: list of str, the {texts}",
    True: (
        "``data``: ndarray of shape (n_samples, 2) and dtype object, the {texts}, "
        "one ``str`` per cell (``data[:, 0]`` the first texts)"
    ),
}
_TARGET = {
    "classification": (
        "``target``: ndarray of str, the class names; ``target_names``: list of "
        "str, the sorted classes"
    ),
    "multilabel": (
        "``target``: list of lists of str, the label names of each text, in "
        "``target_names`` order; ``target_names``: list of str, the {n_classes} "
        "labels in id order"
    ),
    "regression": "``target``: ndarray of float64, the {target_column}s",
}
_FEATURE_NAMES = '; ``feature_names``: ``["text_a", "text_b"]``'


def _documented(name: str) -> Callable[[_Loader], _Loader]:
    """Complete a loader's docstring from the registry entry ``name``.

    The loader's own docstring holds what is its own: the summary line, notes,
    See Also and Examples. This adds the table of splits after the summary line
    and the Parameters, Returns and Raises sections before See Also.
    """
    dataset = DATASETS[name]

    def document(loader: _Loader) -> _Loader:
        if loader.__doc__ is None:  # python -OO
            return loader
        summary, _, rest = inspect.cleandoc(loader.__doc__).partition("\n\n")
        notes, see_also, rest = rest.partition("See Also\n--------\n")
        parts = (summary, _table(dataset), notes.strip(), _shared(dataset))
        loader.__doc__ = "\n\n".join(filter(None, parts)) + "\n\n" + see_also + rest
        return loader

    return document


def _table(dataset: Dataset) -> str:
    splits = " · ".join(
        f"{s} {n:,}" for s, n in zip(dataset.splits, dataset.rows, strict=True)
    )
    if dataset.task == "regression":
        target = "target", f"float, the ``{dataset.columns[-1]}`` column"
    elif dataset.task == "multilabel":
        first, *_, last = dataset.classes
        target = "classes", f"{len(dataset.classes)} labels, ``{first}`` ... ``{last}``"
    else:
        target = "classes", ", ".join(dataset.classes)
    rows = [("splits", splits), target]
    rule = "=" * 11 + " " + "=" * max(len(value) for _, value in rows)
    lines = [f"{key:<11} {value}" for key, value in rows]
    return "\n".join([rule, *lines, rule])


def _shared(dataset: Dataset) -> str:
    fields = _DATA[dataset.pairs] + "; " + _TARGET[dataset.task]
    if dataset.pairs:
        fields += _FEATURE_NAMES
    text = _SHARED_SECTIONS.format(
        split_names=", ".join(f'"{split}"' for split in dataset.splits),
        name=dataset.name,
        downloads=_downloads(dataset),
        fields=fields.format(
            texts=dataset.texts,
            n_classes=len(dataset.classes),
            target_column=dataset.columns[-1],
        ),
    )
    return re.sub(r"(?m)(?:^    .*\n?)+", _rewrap, text)


def _rewrap(match: re.Match[str]) -> str:
    """Refill one indented paragraph of the template to the docstring width."""
    end = "\n" if match.group().endswith("\n") else ""
    paragraph = " ".join(match.group().split())
    # A ``literal`` stays on one line: its spaces do not break while filling.
    paragraph = re.sub(r"``.*?``", lambda m: m.group().replace(" ", "\0"), paragraph)
    filled = textwrap.indent(textwrap.fill(paragraph, 75), " " * 4)
    return filled.replace("\0", " ") + end


def _downloads(dataset: Dataset) -> str:
    """``RTE.zip`` (0.7 MB) from dl.fbaipublicfiles.com: what a fetch downloads."""
    *others, last = (f"``{remote.filename}``" for remote in dataset.remote)
    names = f"{', '.join(others)} and {last}" if others else last
    size = sum(remote.size for remote in dataset.remote) / 1e6
    hosts = sorted({urlsplit(remote.url).netloc for remote in dataset.remote})
    return f"{names} ({size:.2g} MB) from {' and '.join(hosts)}"


# --------------------------------------------------------------------------- loaders


@_documented("sst2")
def load_sst2(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the GLUE SST-2 movie-review sentences (binary sentiment).

    GLUE's test split has no public labels and is not included.

    See Also
    --------
    load_imdb : Full IMDB movie reviews, binary sentiment.

    Examples
    --------
    >>> from skbert.datasets import load_sst2
    >>> X, y = load_sst2("validation", return_X_y=True)  # doctest: +SKIP
    >>> len(X), X[0]  # doctest: +SKIP
    (872, "it 's a charming and often affecting journey .")
    >>> y[:3]  # doctest: +SKIP
    array(['positive', 'negative', 'positive'], dtype='<U8')
    """
    return _load("sst2", split, data_home, download_if_missing, return_X_y)


@_documented("imdb")
def load_imdb(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the IMDB Large Movie Review Dataset v1.0 (binary sentiment).

    Rows are sorted by label, then by review id: shuffle before taking a subset.
    Reviews keep their ``<br />`` tags. The unlabelled ``unsup`` reviews are not
    included.

    See Also
    --------
    load_sst2 : Movie-review sentences, binary sentiment.

    Examples
    --------
    >>> import numpy as np
    >>> from skbert.datasets import load_imdb
    >>> X, y = load_imdb("train", return_X_y=True)  # doctest: +SKIP
    >>> keep = np.random.default_rng(0).permutation(len(X))[:2000]  # doctest: +SKIP
    >>> X_small, y_small = [X[i] for i in keep], y[keep]  # doctest: +SKIP
    """
    return _load("imdb", split, data_home, download_if_missing, return_X_y)


@_documented("mrpc")
def load_mrpc(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the Microsoft Research Paraphrase Corpus, as split by GLUE.

    ``validation`` holds the training pairs that GLUE lists as its dev set;
    ``test`` is the labelled original test file.

    See Also
    --------
    load_rte : Another sentence-pair task.
    load_stsb : Sentence pairs scored for similarity (regression).

    Examples
    --------
    >>> from skbert.datasets import load_mrpc
    >>> X, y = load_mrpc("validation", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y[:3]  # doctest: +SKIP
    ((408, 2), array(['equivalent', 'not_equivalent', 'not_equivalent'], dtype='<U14'))
    """
    return _load("mrpc", split, data_home, download_if_missing, return_X_y)


@_documented("rte")
def load_rte(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the GLUE Recognizing Textual Entailment pairs (RTE 1, 2, 3 and 5).

    GLUE's test split has no public labels and is not included.

    See Also
    --------
    load_mrpc : Another sentence-pair task.

    Examples
    --------
    >>> from skbert.datasets import load_rte
    >>> rte = load_rte("validation")  # doctest: +SKIP
    >>> premises, hypotheses = rte.data[:, 0], rte.data[:, 1]  # doctest: +SKIP
    """
    return _load("rte", split, data_home, download_if_missing, return_X_y)


@_documented("stsb")
def load_stsb(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the GLUE Semantic Textual Similarity Benchmark pairs (regression).

    Each pair has a similarity score from 0 (unrelated) to 5 (same meaning). The
    usual metrics are Pearson and Spearman correlation. GLUE's test split has no
    public scores and is not included.

    See Also
    --------
    load_mrpc : Sentence pairs labelled as paraphrases or not.

    Examples
    --------
    >>> from skbert.datasets import load_stsb
    >>> X, y = load_stsb("validation", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y[:3]  # doctest: +SKIP
    ((1500, 2), array([5.  , 4.75, 5.  ]))
    >>> stsb = load_stsb("validation")  # doctest: +SKIP
    >>> stsb.feature_names, "target_names" in stsb  # doctest: +SKIP
    (['text_a', 'text_b'], False)
    """
    return _load("stsb", split, data_home, download_if_missing, return_X_y)


@_documented("goemotions")
def load_goemotions(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], list[list[str]]]:
    """Load GoEmotions (simplified): Reddit comments with 1 to 5 of 28 labels.

    The labels are 27 emotions and ``neutral``. Each text has a list of label
    names, in GoEmotions' id order. About 84% of the texts have exactly one label;
    keep those for a single-label task (see Examples).

    See Also
    --------
    load_sst2 : A single-label task: binary sentiment of sentences.

    Examples
    --------
    Multi-label indicator matrix, columns in ``target_names`` order:

    >>> from sklearn.preprocessing import MultiLabelBinarizer
    >>> from skbert.datasets import load_goemotions
    >>> emotions = load_goemotions("validation")  # doctest: +SKIP
    >>> mlb = MultiLabelBinarizer(classes=emotions.target_names)  # doctest: +SKIP
    >>> mlb.fit_transform(emotions.target).shape  # doctest: +SKIP
    (5426, 28)

    The single-label subset, as a plain classification task:

    >>> import numpy as np
    >>> X, Y = load_goemotions("validation", return_X_y=True)  # doctest: +SKIP
    >>> keep = [i for i, labels in enumerate(Y) if len(labels) == 1]  # doctest: +SKIP
    >>> X_single = [X[i] for i in keep]  # doctest: +SKIP
    >>> y_single = np.array([Y[i][0] for i in keep])  # doctest: +SKIP
    >>> len(X_single)  # doctest: +SKIP
    4548
    """
    return _load("goemotions", split, data_home, download_if_missing, return_X_y)


# --------------------------------------------------------------------------- reading


def _load(
    name: str,
    split: str,
    data_home: str | os.PathLike[str] | None,
    download_if_missing: bool,
    return_X_y: bool,
) -> Any:
    dataset = DATASETS[name]
    if split not in dataset.splits:
        raise ValueError(
            f"Unknown split {split!r} for {name}: expected one of "
            f"{', '.join(map(repr, dataset.splits))}."
        )
    path = get_data_home(data_home) / name / f"{split}.csv.gz"
    if not path.is_file():
        if not download_if_missing:
            raise FileNotFoundError(
                f"{name} {split} split not found: looked for {path} and "
                f"download_if_missing is False. {dataset.how_to_provide(path)}"
            )
        fetch(dataset, path)
    data, target = _read(dataset, path)
    if return_X_y:
        return data, target
    bunch = Bunch(data=data, target=target)
    if dataset.task != "regression":
        bunch.target_names = list(dataset.classes)
    bunch.DESCR = dataset.descr
    if dataset.pairs:
        bunch.feature_names = list(dataset.columns[:2])
    return bunch


def _read(dataset: Dataset, path: Path) -> tuple[Any, Any]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        header, *rows = csv.reader(handle)
    if tuple(header) != dataset.columns:
        raise ValueError(
            f"{path} has the columns {','.join(header)}; expected a "
            f"{','.join(dataset.columns)} CSV file."
        )
    return _texts(dataset, rows), _target(dataset, path, [row[-1] for row in rows])


def _texts(dataset: Dataset, rows: list[list[str]]) -> list[str] | np.ndarray:
    if not dataset.pairs:
        return [row[0] for row in rows]
    pairs = np.empty((len(rows), 2), dtype=object)
    for i, row in enumerate(rows):
        pairs[i] = row[0], row[1]
    return pairs


def _target(dataset: Dataset, path: Path, cells: list[str]) -> Any:
    if dataset.task == "multilabel":
        return [cell.split(";") for cell in cells]
    if dataset.task == "classification":
        return np.array(cells, dtype=str)
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError as exc:
        column = dataset.columns[-1]
        raise ValueError(
            f"{path}: the {column} column must hold numbers ({exc})."
        ) from exc
