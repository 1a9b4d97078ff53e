"""From the original files to cleaned rows: text cleaning and one converter a format.

A converter maps the downloaded files (by file name) to the rows of every split,
each row the CSV cells in the dataset's column order.
"""

from __future__ import annotations

import csv
import io
import re
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

Rows = list[tuple[str, ...]]
Converter = Callable[[Mapping[str, Path]], dict[str, Rows]]

_BINARY = {"0": "negative", "1": "positive"}
_IMDB = {"neg": "negative", "pos": "positive"}
_MRPC = {"0": "not_equivalent", "1": "equivalent"}
# goemotions/data/emotions.txt, in id order.
GOEMOTIONS = tuple(
    (
        "admiration amusement anger annoyance approval caring confusion curiosity "
        "desire disappointment disapproval disgust embarrassment excitement fear "
        "gratitude grief joy love nervousness optimism pride realization relief "
        "remorse sadness surprise neutral"
    ).split()
)

# --------------------------------------------------------------------------- cleaning

_MOJIBAKE = re.compile(
    "[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_C1 = re.compile("[\x80-\x9f]")
_C0 = re.compile("[\x00-\x08\x0b-\x1f]")


def clean(text: str) -> str:
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


# --------------------------------------------------------------------------- formats


def _text(handle: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")


def _glue_tsv(handle: IO[bytes]) -> csv.DictReader[str]:
    """GLUE's TSV files have a header and take quotes literally."""
    return csv.DictReader(_text(handle), delimiter="\t", quoting=csv.QUOTE_NONE)


def glue_zip(
    archive_name: str,
    folder: str,
    make_row: Callable[[dict[str, str]], tuple[str, ...]],
) -> Converter:
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


def sst2_row(record: dict[str, str]) -> tuple[str, ...]:
    return clean(record["sentence"]), _BINARY[record["label"]]


def rte_row(record: dict[str, str]) -> tuple[str, ...]:
    return clean(record["sentence1"]), clean(record["sentence2"]), record["label"]


def stsb_row(record: dict[str, str]) -> tuple[str, ...]:
    """The score is kept as the source writes it (``5.000``, ``3.8``, ``0``)."""
    return clean(record["sentence1"]), clean(record["sentence2"]), record["score"]


def _mrpc_row(record: dict[str, str]) -> tuple[str, ...]:
    return (
        clean(record["#1 String"]),
        clean(record["#2 String"]),
        _MRPC[record["Quality"]],
    )


def convert_mrpc(files: Mapping[str, Path]) -> dict[str, Rows]:
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


def convert_imdb(files: Mapping[str, Path]) -> dict[str, Rows]:
    """Labelled reviews ``aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt``."""
    pattern = re.compile(r"aclImdb/(train|test)/(neg|pos)/(\d+)_\d+\.txt")
    reviews = []
    with tarfile.open(files["aclImdb_v1.tar.gz"], "r:gz") as archive:
        for member in archive:
            match = pattern.fullmatch(member.name)
            review = archive.extractfile(member) if match else None
            if match and review is not None:
                split, label, review_id = match.groups()
                text = clean(review.read().decode("utf-8"))
                reviews.append((split, label, int(review_id), text))
    reviews.sort()  # by split, then neg before pos, then review id
    return {
        split: [(text, _IMDB[label]) for s, label, _, text in reviews if s == split]
        for split in ("train", "test")
    }


def convert_goemotions(files: Mapping[str, Path]) -> dict[str, Rows]:
    """Rows ``text<TAB>label ids<TAB>comment id``, no header, CSV quoting."""
    splits = {}
    for split, source in (("train", "train"), ("validation", "dev"), ("test", "test")):
        with open(files[f"{source}.tsv"], "rb") as handle:
            reader = csv.reader(_text(handle), delimiter="\t")
            splits[split] = [
                (clean(text), ";".join(GOEMOTIONS[int(i)] for i in ids.split(",")))
                for text, ids, _ in reader
            ]
    return splits
