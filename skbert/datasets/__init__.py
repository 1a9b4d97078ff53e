"""Loaders for the public text datasets used in skbert's examples.

Each dataset is a folder of gzip CSV files, ``<data_home>/<name>/<split>.csv.gz``
(the layout of ``../shared/data`` beside the skbert repository):

* single texts (SST-2, IMDB): header ``text,label``;
* sentence pairs (MRPC, RTE): header ``text_a,text_b,label``;
* scored sentence pairs (STS-B): header ``text_a,text_b,score``, the score a
  number from 0 to 5 as written in the source;
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

The package: ``_registry`` is the one table of datasets (splits, columns, targets,
original files with their checksums); ``_convert`` cleans text and turns each
original format into rows; ``_fetch`` downloads, verifies and caches;
``_loaders`` holds the public loaders, whose docstrings share one template.
"""

from ._loaders import (
    get_data_home,
    load_goemotions,
    load_imdb,
    load_mrpc,
    load_rte,
    load_sst2,
    load_stsb,
)

__all__ = [
    "get_data_home",
    "load_goemotions",
    "load_imdb",
    "load_mrpc",
    "load_rte",
    "load_sst2",
    "load_stsb",
]
