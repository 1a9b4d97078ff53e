"""Loaders for the public text-classification datasets used in skbert's examples.

Each dataset is a folder of gzip CSV files, ``<data_home>/<name>/<split>.csv.gz``
(the layout of ``../shared/data`` beside the skbert repository):

* single texts (SST-2, IMDB): header ``text,label``;
* sentence pairs (MRPC, RTE): header ``text_a,text_b,label``;
* multi-label (GoEmotions): header ``text,label``, the label names ``;``-joined.

Labels are the original class names (``negative``, ``equivalent``, ...). The
folder is ``data_home``, else ``$SKBERT_DATA``, else ``~/skbert_data``
(:func:`get_data_home`).

When a file is missing, the loader downloads the dataset's original files from
their official source (GLUE, Stanford, google-research), checks their size and
sha256 against the published values, converts every split to the CSV form above,
caches the splits that were missing and deletes the downloads. The conversion
cleans the text as the shipped files were cleaned (``../shared/data/README.md``):
UTF-8 mis-decoded as Latin-1 is repaired, U+0080-U+009F become the cp1252
characters they stand for, other control characters except tab and newline are
removed, and leading and trailing whitespace is stripped; nothing else changes.
To work offline, copy the CSV files into ``<data_home>/<name>/`` by hand.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import http.client
import io
import os
import re
import struct
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from sklearn.utils import Bunch

__all__ = [
    "get_data_home",
    "load_goemotions",
    "load_imdb",
    "load_mrpc",
    "load_rte",
    "load_sst2",
]

_TIMEOUT_S = 30.0  # a download gives up after this long without data
_CHUNK = 1 << 20

Rows = list[tuple[str, ...]]


@dataclass(frozen=True)
class _RemoteFile:
    """One original file: where to get it and what it must hash to."""

    filename: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class _Dataset:
    """A dataset: its splits, CSV columns, classes, sources and converter.

    ``convert`` maps the downloaded files (by ``_RemoteFile.filename``) to the
    cleaned rows of every split.
    """

    name: str
    splits: tuple[str, ...]
    columns: tuple[str, ...]
    classes: tuple[str, ...]
    remote: tuple[_RemoteFile, ...]
    convert: Callable[[Mapping[str, Path]], dict[str, Rows]]
    descr: str
    multilabel: bool = False


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

    Examples
    --------
    >>> from skbert.datasets import get_data_home
    >>> get_data_home("/srv/data")
    PosixPath('/srv/data')
    """
    if data_home is None:
        data_home = os.environ.get("SKBERT_DATA") or Path.home() / "skbert_data"
    return Path(data_home).expanduser()


def load_sst2(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the GLUE SST-2 movie-review sentences (binary sentiment).

    =========== =============================
    splits      train 67,349 · validation 872
    classes     negative, positive
    =========== =============================

    Parameters
    ----------
    split : {"train", "validation"}, default="train"
        The split to load. GLUE's test split has no public labels.
    data_home : str or path-like, default=None
        Folder holding ``sst2/<split>.csv.gz``; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        When the file is missing, download GLUE's ``SST-2.zip``, verify and
        convert it. When False, raise :class:`FileNotFoundError` instead.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        ``data``: list of str, the sentences; ``target``: ndarray of str, the
        class names; ``target_names``: list of str, the sorted classes;
        ``DESCR``: str, a description of the dataset.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``split`` is not a split of the dataset.
    FileNotFoundError
        If the file is missing and ``download_if_missing`` is False.
    OSError
        If the download fails or the archive does not match its checksum.

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


def load_imdb(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the IMDB Large Movie Review Dataset v1.0 (binary sentiment).

    =========== ==============================
    splits      train 25,000 · test 25,000
    classes     negative, positive
    =========== ==============================

    Rows are sorted by label, then by review id: shuffle before taking a subset.
    Reviews keep their ``<br />`` tags.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        The split to load (the unlabelled ``unsup`` reviews are not included).
    data_home : str or path-like, default=None
        Folder holding ``imdb/<split>.csv.gz``; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        When the file is missing, download ``aclImdb_v1.tar.gz`` (84 MB) from
        Stanford, verify and convert it. When False, raise
        :class:`FileNotFoundError` instead.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        ``data``: list of str, the reviews; ``target``: ndarray of str, the
        class names; ``target_names``: list of str, the sorted classes;
        ``DESCR``: str, a description of the dataset.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``split`` is not a split of the dataset.
    FileNotFoundError
        If the file is missing and ``download_if_missing`` is False.
    OSError
        If the download fails or the archive does not match its checksum.

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


def load_mrpc(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the Microsoft Research Paraphrase Corpus, as split by GLUE.

    =========== ==========================================
    splits      train 3,668 · validation 408 · test 1,725
    classes     equivalent, not_equivalent
    =========== ==========================================

    Parameters
    ----------
    split : {"train", "validation", "test"}, default="train"
        The split to load. ``test`` is the labelled original test file.
    data_home : str or path-like, default=None
        Folder holding ``mrpc/<split>.csv.gz``; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        When the file is missing, download the original MRPC files and GLUE's
        list of validation ids, verify and convert them. When False, raise
        :class:`FileNotFoundError` instead.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        ``data``: ndarray of shape (n_samples, 2) and dtype object, the sentence
        pairs, one ``str`` per cell (``data[:, 0]`` the first sentences);
        ``target``: ndarray of str, the class names; ``target_names``: list of
        str, the sorted classes; ``feature_names``: ``["text_a", "text_b"]``;
        ``DESCR``: str, a description of the dataset.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``split`` is not a split of the dataset.
    FileNotFoundError
        If the file is missing and ``download_if_missing`` is False.
    OSError
        If the download fails or a file does not match its checksum.

    See Also
    --------
    load_rte : Another sentence-pair task.

    Examples
    --------
    >>> from skbert.datasets import load_mrpc
    >>> X, y = load_mrpc("validation", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y[:3]  # doctest: +SKIP
    ((408, 2), array(['equivalent', 'not_equivalent', 'not_equivalent'], dtype='<U14'))
    """
    return _load("mrpc", split, data_home, download_if_missing, return_X_y)


def load_rte(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the GLUE Recognizing Textual Entailment pairs (RTE 1, 2, 3 and 5).

    =========== =============================
    splits      train 2,490 · validation 277
    classes     entailment, not_entailment
    =========== =============================

    Parameters
    ----------
    split : {"train", "validation"}, default="train"
        The split to load. GLUE's test split has no public labels.
    data_home : str or path-like, default=None
        Folder holding ``rte/<split>.csv.gz``; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        When the file is missing, download GLUE's ``RTE.zip``, verify and
        convert it. When False, raise :class:`FileNotFoundError` instead.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        ``data``: ndarray of shape (n_samples, 2) and dtype object, the
        (premise, hypothesis) pairs, one ``str`` per cell; ``target``: ndarray of
        str, the class names; ``target_names``: list of str, the sorted classes;
        ``feature_names``: ``["text_a", "text_b"]``; ``DESCR``: str, a
        description of the dataset.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``split`` is not a split of the dataset.
    FileNotFoundError
        If the file is missing and ``download_if_missing`` is False.
    OSError
        If the download fails or the archive does not match its checksum.

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


def load_goemotions(
    split: str = "train",
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], list[list[str]]]:
    """Load GoEmotions (simplified): Reddit comments with 1 to 5 of 28 labels.

    =========== =============================================
    splits      train 43,410 · validation 5,426 · test 5,427
    classes     27 emotions and ``neutral``
    =========== =============================================

    Each text has a list of label names, in GoEmotions' id order. About 84% of
    the texts have exactly one label; keep those for a single-label task (see
    Examples).

    Parameters
    ----------
    split : {"train", "validation", "test"}, default="train"
        The split to load.
    data_home : str or path-like, default=None
        Folder holding ``goemotions/<split>.csv.gz``; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        When the file is missing, download the three GoEmotions TSV files from
        the google-research repository, verify and convert them. When False,
        raise :class:`FileNotFoundError` instead.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        ``data``: list of str, the comments; ``target``: list of lists of str,
        the label names of each comment; ``target_names``: list of str, the 28
        labels in GoEmotions' id order (``admiration`` ... ``surprise``,
        ``neutral``); ``DESCR``: str, a description of the dataset.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``split`` is not a split of the dataset.
    FileNotFoundError
        If the file is missing and ``download_if_missing`` is False.
    OSError
        If the download fails or a file does not match its checksum.

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


# --------------------------------------------------------------------------- loading


def _load(
    name: str,
    split: str,
    data_home: str | os.PathLike[str] | None,
    download_if_missing: bool,
    return_X_y: bool,
) -> Any:
    dataset = _DATASETS[name]
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
                f"download_if_missing is False. {_how_to_provide(dataset, path)}"
            )
        _fetch(dataset, path)
    data, target = _read(dataset, path)
    if return_X_y:
        return data, target
    bunch = Bunch(
        data=data,
        target=target,
        target_names=list(dataset.classes),
        DESCR=dataset.descr,
    )
    if len(dataset.columns) == 3:
        bunch.feature_names = list(dataset.columns[:2])
    return bunch


def _read(dataset: _Dataset, path: Path) -> tuple[Any, Any]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        header, *rows = csv.reader(handle)
    if tuple(header) != dataset.columns:
        raise ValueError(
            f"{path} has the columns {','.join(header)}; expected a "
            f"{','.join(dataset.columns)} CSV file."
        )
    labels = [row[-1] for row in rows]
    target = (
        [label.split(";") for label in labels]
        if dataset.multilabel
        else np.array(labels, dtype=str)
    )
    if len(dataset.columns) == 2:
        return [row[0] for row in rows], target
    pairs = np.empty((len(rows), 2), dtype=object)
    for i, row in enumerate(rows):
        pairs[i] = row[0], row[1]
    return pairs, target


def _how_to_provide(dataset: _Dataset, path: Path) -> str:
    return (
        f"To provide it by hand, put the '{','.join(dataset.columns)}' gzip CSV "
        f"at {path}, or point data_home (or the SKBERT_DATA environment variable) "
        f"at a folder that holds {dataset.name}/{path.name}."
    )


# --------------------------------------------------------------------------- download


def _fetch(dataset: _Dataset, wanted: Path) -> None:
    """Download, verify and convert ``dataset``; cache every missing split.

    ``wanted`` is the CSV that the caller looked for; errors name it.
    """
    folder = wanted.parent
    folder.mkdir(parents=True, exist_ok=True)
    downloaded: dict[str, Path] = {}
    try:
        for remote in dataset.remote:
            downloaded[remote.filename] = _download(dataset, remote, wanted)
        for split, rows in dataset.convert(downloaded).items():
            target = folder / f"{split}.csv.gz"
            if not target.is_file():
                _write_csv(target, dataset.columns, rows)
    finally:
        for path in downloaded.values():
            path.unlink(missing_ok=True)


def _download(dataset: _Dataset, remote: _RemoteFile, wanted: Path) -> Path:
    """Stream ``remote`` into a temporary file beside ``wanted``, verify, rename."""
    digest = hashlib.sha256()
    size = 0
    with _temporary(wanted.parent, remote.filename) as (handle, path):
        try:
            with urllib.request.urlopen(remote.url, timeout=_TIMEOUT_S) as response:
                while chunk := response.read(_CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise OSError(
                f"{dataset.name}: {wanted} not found, and downloading "
                f"{remote.filename} from {remote.url} failed: {exc}. "
                f"{_how_to_provide(dataset, wanted)}"
            ) from exc
        if (size, digest.hexdigest()) != (remote.size, remote.sha256):
            raise OSError(
                f"{remote.filename} downloaded from {remote.url} does not match its "
                f"published checksum: expected sha256 {remote.sha256} "
                f"({remote.size} bytes), got sha256 {digest.hexdigest()} ({size} "
                f"bytes). The download was deleted and {wanted} was not written. "
                f"{_how_to_provide(dataset, wanted)}"
            )
        handle.close()
        final = wanted.parent / remote.filename
        os.replace(path, final)
    return final


@contextlib.contextmanager
def _temporary(folder: Path, name: str) -> Iterator[tuple[IO[bytes], Path]]:
    """A binary temporary file in ``folder``, deleted on exit unless moved away."""
    handle = tempfile.NamedTemporaryFile(
        dir=folder, prefix=f".{name}.", suffix=".part", delete=False
    )
    path = Path(handle.name)
    try:
        yield handle, path
    finally:
        handle.close()
        path.unlink(missing_ok=True)


def _write_csv(path: Path, columns: tuple[str, ...], rows: Rows) -> None:
    """Write ``rows`` as a gzip CSV with ``\\n`` line ends, atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    with _temporary(path.parent, path.name) as (handle, temporary):
        handle.write(_gzip(text.getvalue().encode("utf-8")))
        handle.close()
        os.replace(temporary, path)


# deflate, no file name, mtime 0, best compression, OS unknown: what GzipFile writes.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


def _gzip(data: bytes) -> bytes:
    """Gzip ``data`` in one deflate call, so that equal data gives equal bytes.

    The shipped files were written this way; how the gzip module splits its input
    between deflate calls (which changes the output) varies between versions.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    return (
        _GZIP_HEADER
        + body
        + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    )


# --------------------------------------------------------------------------- cleaning

_MOJIBAKE = re.compile(
    "[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_C1 = re.compile("[\x80-\x9f]")
_C0 = re.compile("[\x00-\x08\x0b-\x1f]")


def _clean(text: str) -> str:
    """Apply the cleaning rules of ``../shared/data/README.md``, in their order.

    1. UTF-8 decoded as Latin-1 is repaired (``Iraqâ\\x80\\x99s`` -> ``Iraq\\u2019s``);
    2. U+0080-U+009F become the cp1252 character of that byte, or are dropped
       where cp1252 defines none;
    3. C0 control characters other than tab and newline are removed;
    4. leading and trailing whitespace is stripped.
    """
    text = _MOJIBAKE.sub(_repair_mojibake, text)
    text = _C1.sub(_cp1252, text)
    return _C0.sub("", text).strip()


def _repair_mojibake(match: re.Match[str]) -> str:
    try:
        return match.group().encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


def _cp1252(match: re.Match[str]) -> str:
    return bytes([ord(match.group())]).decode("cp1252", errors="ignore")


# --------------------------------------------------------------------------- converters


def _text(handle: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")


def _glue_tsv(handle: IO[bytes]) -> csv.DictReader[str]:
    """GLUE's TSV files have a header and take quotes literally."""
    return csv.DictReader(_text(handle), delimiter="\t", quoting=csv.QUOTE_NONE)


def _glue_zip(
    archive_name: str,
    folder: str,
    make_row: Callable[[dict[str, str]], tuple[str, ...]],
) -> Callable[[Mapping[str, Path]], dict[str, Rows]]:
    """Converter for a GLUE zip holding ``<folder>/train.tsv`` and ``dev.tsv``."""

    def convert(files: Mapping[str, Path]) -> dict[str, Rows]:
        with zipfile.ZipFile(files[archive_name]) as archive:
            return {
                split: [
                    make_row(record)
                    for record in _glue_tsv(archive.open(f"{folder}/{source}.tsv"))
                ]
                for split, source in (("train", "train"), ("validation", "dev"))
            }

    return convert


def _sst2_row(record: dict[str, str]) -> tuple[str, ...]:
    return _clean(record["sentence"]), _BINARY[record["label"]]


def _rte_row(record: dict[str, str]) -> tuple[str, ...]:
    return _clean(record["sentence1"]), _clean(record["sentence2"]), record["label"]


def _mrpc_row(record: dict[str, str]) -> tuple[str, ...]:
    return (
        _clean(record["#1 String"]),
        _clean(record["#2 String"]),
        _MRPC[record["Quality"]],
    )


def _convert_mrpc(files: Mapping[str, Path]) -> dict[str, Rows]:
    """GLUE's split: the pairs listed in ``mrpc_dev_ids.tsv`` are the validation set."""
    with open(files["mrpc_dev_ids.tsv"], "rb") as handle:
        reader = csv.reader(_text(handle), delimiter="\t", quoting=csv.QUOTE_NONE)
        dev_ids = {(row[0], row[1]) for row in reader if row}
    splits: dict[str, Rows] = {"train": [], "validation": []}
    with open(files["msr_paraphrase_train.txt"], "rb") as handle:
        for record in _glue_tsv(handle):
            pair = record["#1 ID"], record["#2 ID"]
            splits["validation" if pair in dev_ids else "train"].append(
                _mrpc_row(record)
            )
    with open(files["msr_paraphrase_test.txt"], "rb") as handle:
        splits["test"] = [_mrpc_row(record) for record in _glue_tsv(handle)]
    return splits


def _convert_imdb(files: Mapping[str, Path]) -> dict[str, Rows]:
    """Labelled reviews ``aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt``."""
    pattern = re.compile(r"aclImdb/(train|test)/(neg|pos)/(\d+)_\d+\.txt")
    reviews = []
    with tarfile.open(files["aclImdb_v1.tar.gz"], "r:gz") as archive:
        for member in archive:
            match = pattern.fullmatch(member.name)
            review = archive.extractfile(member) if match else None
            if match and review is not None:
                split, label, review_id = match.groups()
                text = _clean(review.read().decode("utf-8"))
                reviews.append((split, label, int(review_id), text))
    reviews.sort()  # by split, then neg before pos, then review id
    return {
        split: [(text, _IMDB[label]) for s, label, _, text in reviews if s == split]
        for split in ("train", "test")
    }


def _convert_goemotions(files: Mapping[str, Path]) -> dict[str, Rows]:
    """Rows ``text<TAB>label ids<TAB>comment id``, no header, CSV quoting."""
    splits = {}
    for split, source in (("train", "train"), ("validation", "dev"), ("test", "test")):
        with open(files[f"{source}.tsv"], "rb") as handle:
            reader = csv.reader(_text(handle), delimiter="\t")
            splits[split] = [
                (_clean(text), ";".join(_GOEMOTIONS[int(i)] for i in ids.split(",")))
                for text, ids, _ in reader
            ]
    return splits


# --------------------------------------------------------------------------- registry

_BINARY = {"0": "negative", "1": "positive"}
_IMDB = {"neg": "negative", "pos": "positive"}
_MRPC = {"0": "not_equivalent", "1": "equivalent"}
# goemotions/data/emotions.txt, in id order.
_GOEMOTIONS = (
    "admiration amusement anger annoyance approval caring confusion curiosity desire "
    "disappointment disapproval disgust embarrassment excitement fear gratitude grief "
    "joy love nervousness optimism pride realization relief remorse sadness surprise "
    "neutral"
).split()

# Sizes and sha256 of the original files, as published by TensorFlow Datasets
# (tensorflow/datasets: tensorflow_datasets/url_checksums/{glue,imdb_reviews,
# goemotions}.txt) and Hugging Face datasets (huggingface/datasets:
# datasets/{glue,go_emotions}/dataset_infos.json); the two agree on every file.
_GLUE = "https://dl.fbaipublicfiles.com/glue/data"
_SENTEVAL = "https://dl.fbaipublicfiles.com/senteval/senteval_data"
_GOEMOTIONS_DATA = (
    "https://raw.githubusercontent.com/google-research/google-research/master/"
    "goemotions/data"
)

_DATASETS: dict[str, _Dataset] = {
    "sst2": _Dataset(
        name="sst2",
        splits=("train", "validation"),
        columns=("text", "label"),
        classes=("negative", "positive"),
        remote=(
            _RemoteFile(
                "SST-2.zip",
                f"{_GLUE}/SST-2.zip",
                "d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa",
                7439277,
            ),
        ),
        convert=_glue_zip("SST-2.zip", "SST-2", _sst2_row),
        descr=(
            "GLUE SST-2: Stanford Sentiment Treebank sentences and phrases from "
            "movie reviews, binary sentiment (negative / positive).\n"
            "Splits: train 67,349, validation 872 (GLUE's dev set; the test set "
            "has no public labels).\n"
            "Source: GLUE, https://dl.fbaipublicfiles.com/glue/data/SST-2.zip.\n"
            "Cite: Socher et al., 'Recursive Deep Models for Semantic "
            "Compositionality Over a Sentiment Treebank', EMNLP 2013; Wang et al., "
            "'GLUE', ICLR 2019."
        ),
    ),
    "imdb": _Dataset(
        name="imdb",
        splits=("train", "test"),
        columns=("text", "label"),
        classes=("negative", "positive"),
        remote=(
            _RemoteFile(
                "aclImdb_v1.tar.gz",
                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                84125825,
            ),
        ),
        convert=_convert_imdb,
        descr=(
            "IMDB Large Movie Review Dataset v1.0: full movie reviews, binary "
            "sentiment (negative: rating <= 4, positive: rating >= 7).\n"
            "Splits: train 25,000, test 25,000, each 12,500 per class; rows sorted "
            "by label, then review id.\n"
            "Source: https://ai.stanford.edu/~amaas/data/sentiment/.\n"
            "Cite: Maas et al., 'Learning Word Vectors for Sentiment Analysis', "
            "ACL 2011."
        ),
    ),
    "mrpc": _Dataset(
        name="mrpc",
        splits=("train", "validation", "test"),
        columns=("text_a", "text_b", "label"),
        classes=("equivalent", "not_equivalent"),
        remote=(
            _RemoteFile(
                "msr_paraphrase_train.txt",
                f"{_SENTEVAL}/msr_paraphrase_train.txt",
                "60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89",
                1047044,
            ),
            _RemoteFile(
                "msr_paraphrase_test.txt",
                f"{_SENTEVAL}/msr_paraphrase_test.txt",
                "a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784",
                441275,
            ),
            _RemoteFile(
                "mrpc_dev_ids.tsv",
                f"{_GLUE}/mrpc_dev_ids.tsv",
                "971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7",
                6222,
            ),
        ),
        convert=_convert_mrpc,
        descr=(
            "MRPC: Microsoft Research Paraphrase Corpus, sentence pairs from news, "
            "labelled equivalent / not_equivalent.\n"
            "Splits: train 3,668, validation 408 (GLUE's dev ids), test 1,725.\n"
            "Source: the original MRPC files as mirrored for SentEval and GLUE.\n"
            "Cite: Dolan & Brockett, 'Automatically Constructing a Corpus of "
            "Sentential Paraphrases', IWP 2005. Microsoft's license terms apply."
        ),
    ),
    "rte": _Dataset(
        name="rte",
        splits=("train", "validation"),
        columns=("text_a", "text_b", "label"),
        classes=("entailment", "not_entailment"),
        remote=(
            _RemoteFile(
                "RTE.zip",
                f"{_GLUE}/RTE.zip",
                "6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee",
                697150,
            ),
        ),
        convert=_glue_zip("RTE.zip", "RTE", _rte_row),
        descr=(
            "GLUE RTE: Recognizing Textual Entailment (RTE1, 2, 3 and 5), "
            "(premise, hypothesis) pairs labelled entailment / not_entailment.\n"
            "Splits: train 2,490, validation 277 (GLUE's dev set; the test set "
            "has no public labels).\n"
            "Source: GLUE, https://dl.fbaipublicfiles.com/glue/data/RTE.zip.\n"
            "Cite: Dagan et al. 2006; Bar-Haim et al. 2006; Giampiccolo et al. "
            "2007; Bentivogli et al. 2009; Wang et al., 'GLUE', ICLR 2019."
        ),
    ),
    "goemotions": _Dataset(
        name="goemotions",
        splits=("train", "validation", "test"),
        columns=("text", "label"),
        classes=tuple(_GOEMOTIONS),
        remote=tuple(
            _RemoteFile(f"{source}.tsv", f"{_GOEMOTIONS_DATA}/{source}.tsv", sha, size)
            for source, sha, size in (
                (
                    "train",
                    "1c254a142be5c00e80d819b9ae1bbd36d94b2eeb8f4b1271846508d57e57d9c5",
                    3519053,
                ),
                (
                    "dev",
                    "575489c079c9de1097062a01738f998590d6b7ead66dd1c9fd1d2ba01fd8bc62",
                    439059,
                ),
                (
                    "test",
                    "0587b2dd8b27b97352adbfc3fb083d46005c8946657fdc2b1ca8b1cc7f1f8be4",
                    436706,
                ),
            )
        ),
        convert=_convert_goemotions,
        descr=(
            "GoEmotions (simplified): English Reddit comments, each labelled with "
            "1 to 5 of 27 emotions or neutral (multi-label); names are masked as "
            "[NAME].\n"
            "Splits: train 43,410, validation 5,426, test 5,427.\n"
            "Source: https://github.com/google-research/google-research/tree/"
            "master/goemotions.\n"
            "Cite: Demszky et al., 'GoEmotions: A Dataset of Fine-Grained "
            "Emotions', ACL 2020."
        ),
        multilabel=True,
    ),
}
