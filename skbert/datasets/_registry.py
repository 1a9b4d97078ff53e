"""The one table of datasets: splits, CSV columns, targets, sources and converters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._convert import (
    GOEMOTIONS,
    Converter,
    convert_goemotions,
    convert_imdb,
    convert_mrpc,
    glue_zip,
    rte_row,
    sst2_row,
    stsb_row,
)


@dataclass(frozen=True)
class RemoteFile:
    """One original file: where to get it and what it must hash to."""

    filename: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Dataset:
    """A dataset: its splits, CSV columns, target, sources and converter.

    ``rows`` counts the rows of each split, in the order of ``splits``. ``task``
    says what the last column holds: a class name, ``;``-joined label names
    (``multilabel``, from ``classes`` in their order) or a number. ``texts`` names
    what ``data`` holds, for the docstrings. ``convert`` maps the downloaded files
    (by ``RemoteFile.filename``) to the cleaned rows of every split.
    """

    name: str
    splits: tuple[str, ...]
    rows: tuple[int, ...]
    columns: tuple[str, ...]
    task: Literal["classification", "multilabel", "regression"]
    classes: tuple[str, ...]
    texts: str
    remote: tuple[RemoteFile, ...]
    convert: Converter
    descr: str

    @property
    def pairs(self) -> bool:
        """Whether a row holds two texts (``text_a``, ``text_b``)."""
        return self.columns[:2] == ("text_a", "text_b")

    def how_to_provide(self, path: Path) -> str:
        """The end of an error message: how to put the file there by hand."""
        return (
            f"To provide it by hand, put the '{','.join(self.columns)}' gzip CSV "
            f"at {path}, or point data_home (or the SKBERT_DATA environment "
            f"variable) at a folder that holds {self.name}/{path.name}."
        )


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
_SINGLE = ("text", "label")
_PAIR = ("text_a", "text_b", "label")

DATASETS: dict[str, Dataset] = {
    "sst2": Dataset(
        name="sst2",
        splits=("train", "validation"),
        rows=(67349, 872),
        columns=_SINGLE,
        task="classification",
        classes=("negative", "positive"),
        texts="sentences",
        remote=(
            RemoteFile(
                "SST-2.zip",
                f"{_GLUE}/SST-2.zip",
                "d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa",
                7439277,
            ),
        ),
        convert=glue_zip("SST-2.zip", "SST-2", sst2_row),
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
    "imdb": Dataset(
        name="imdb",
        splits=("train", "test"),
        rows=(25000, 25000),
        columns=_SINGLE,
        task="classification",
        classes=("negative", "positive"),
        texts="reviews",
        remote=(
            RemoteFile(
                "aclImdb_v1.tar.gz",
                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                84125825,
            ),
        ),
        convert=convert_imdb,
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
    "mrpc": Dataset(
        name="mrpc",
        splits=("train", "validation", "test"),
        rows=(3668, 408, 1725),
        columns=_PAIR,
        task="classification",
        classes=("equivalent", "not_equivalent"),
        texts="sentence pairs",
        remote=(
            RemoteFile(
                "msr_paraphrase_train.txt",
                f"{_SENTEVAL}/msr_paraphrase_train.txt",
                "60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89",
                1047044,
            ),
            RemoteFile(
                "msr_paraphrase_test.txt",
                f"{_SENTEVAL}/msr_paraphrase_test.txt",
                "a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784",
                441275,
            ),
            RemoteFile(
                "mrpc_dev_ids.tsv",
                f"{_GLUE}/mrpc_dev_ids.tsv",
                "971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7",
                6222,
            ),
        ),
        convert=convert_mrpc,
        descr=(
            "MRPC: Microsoft Research Paraphrase Corpus, sentence pairs from news, "
            "labelled equivalent / not_equivalent.\n"
            "Splits: train 3,668, validation 408 (GLUE's dev ids), test 1,725.\n"
            "Source: the original MRPC files as mirrored for SentEval and GLUE.\n"
            "Cite: Dolan & Brockett, 'Automatically Constructing a Corpus of "
            "Sentential Paraphrases', IWP 2005. Microsoft's license terms apply."
        ),
    ),
    "rte": Dataset(
        name="rte",
        splits=("train", "validation"),
        rows=(2490, 277),
        columns=_PAIR,
        task="classification",
        classes=("entailment", "not_entailment"),
        texts="(premise, hypothesis) pairs",
        remote=(
            RemoteFile(
                "RTE.zip",
                f"{_GLUE}/RTE.zip",
                "6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee",
                697150,
            ),
        ),
        convert=glue_zip("RTE.zip", "RTE", rte_row),
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
    "stsb": Dataset(
        name="stsb",
        splits=("train", "validation"),
        rows=(5749, 1500),
        columns=("text_a", "text_b", "score"),
        task="regression",
        classes=(),
        texts="sentence pairs",
        remote=(
            RemoteFile(
                "STS-B.zip",
                f"{_GLUE}/STS-B.zip",
                "e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85",
                802872,
            ),
        ),
        convert=glue_zip("STS-B.zip", "STS-B", stsb_row),
        descr=(
            "GLUE STS-B: Semantic Textual Similarity Benchmark, sentence pairs "
            "from captions, news headlines and forums, each scored from 0 "
            "(unrelated) to 5 (same meaning); a regression task, usually scored "
            "by Pearson and Spearman correlation.\n"
            "Splits: train 5,749, validation 1,500 (GLUE's dev set; the test set "
            "has no public scores).\n"
            "Source: GLUE, https://dl.fbaipublicfiles.com/glue/data/STS-B.zip.\n"
            "License: scores CC BY-SA 4.0; the texts keep the licences of their "
            "sources.\n"
            "Cite: Cer et al., 'SemEval-2017 Task 1: Semantic Textual Similarity "
            "Multilingual and Cross-lingual Focused Evaluation', SemEval 2017; "
            "Wang et al., 'GLUE', ICLR 2019."
        ),
    ),
    "goemotions": Dataset(
        name="goemotions",
        splits=("train", "validation", "test"),
        rows=(43410, 5426, 5427),
        columns=_SINGLE,
        task="multilabel",
        classes=GOEMOTIONS,
        texts="comments",
        remote=tuple(
            RemoteFile(f"{source}.tsv", f"{_GOEMOTIONS_DATA}/{source}.tsv", sha, size)
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
        convert=convert_goemotions,
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
    ),
}
