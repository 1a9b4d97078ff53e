"""skbert.datasets: the shipped files, the returned forms, errors and downloads.

The shipped files are read from $SKBERT_DATA, else from ../shared/data beside the
repository; their counts are those of ../shared/data/README.md. Downloads are
tested against an HTTP server on 127.0.0.1 serving small archives built here in
the format of the originals; no test reaches the internet.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from conftest import shared_data
from skbert import datasets
from skbert.datasets import (
    _registry,
    get_data_home,
    load_goemotions,
    load_imdb,
    load_mrpc,
    load_rte,
    load_sst2,
    load_stsb,
)

LOADERS: dict[str, Callable[..., object]] = {
    "sst2": load_sst2,
    "imdb": load_imdb,
    "mrpc": load_mrpc,
    "rte": load_rte,
    "stsb": load_stsb,
    "goemotions": load_goemotions,
}
PAIRS = ("mrpc", "rte", "stsb")

# ../shared/data/README.md: rows per label.
LABEL_COUNTS = {
    ("sst2", "train"): {"negative": 29780, "positive": 37569},
    ("sst2", "validation"): {"negative": 428, "positive": 444},
    ("imdb", "train"): {"negative": 12500, "positive": 12500},
    ("imdb", "test"): {"negative": 12500, "positive": 12500},
    ("mrpc", "train"): {"equivalent": 2474, "not_equivalent": 1194},
    ("mrpc", "validation"): {"equivalent": 279, "not_equivalent": 129},
    ("mrpc", "test"): {"equivalent": 1147, "not_equivalent": 578},
    ("rte", "train"): {"entailment": 1249, "not_entailment": 1241},
    ("rte", "validation"): {"entailment": 146, "not_entailment": 131},
}
# STS-B: rows, the mean and standard deviation of the scores, and the first and
# last rows of each split.
STSB = {
    "train": (
        5749,
        2.70,
        1.46,
        ("A plane is taking off.", "An air plane is taking off.", 5.0),
        (
            "Putin spokesman: Doping charges appear unfounded",
            "The Latest on Severe Weather: 1 Dead in Texas After Tornado",
            0.0,
        ),
    ),
    "validation": (
        1500,
        2.36,
        1.50,
        (
            "A man with a hard hat is dancing.",
            "A man wearing a hard hat is dancing.",
            5.0,
        ),
        (
            "New video shows US police officers beating mentally-ill man",
            "New York police officer critically wounded in hatchet attack",
            0.0,
        ),
    ),
}
# GoEmotions: rows, rows per number of labels, and occurrences per label
# (train, validation, test).
GOEMOTIONS_ROWS = {"train": 43410, "validation": 5426, "test": 5427}
GOEMOTIONS_LABELS_PER_ROW = {
    "train": {1: 36308, 2: 6541, 3: 532, 4: 28, 5: 1},
    "validation": {1: 4548, 2: 809, 3: 62, 4: 7},
    "test": {1: 4590, 2: 774, 3: 61, 4: 2},
}
GOEMOTIONS_OCCURRENCES = {
    "neutral": (14219, 1766, 1787),
    "admiration": (4130, 488, 504),
    "approval": (2939, 397, 351),
    "gratitude": (2662, 358, 352),
    "annoyance": (2470, 303, 320),
    "amusement": (2328, 303, 264),
    "curiosity": (2191, 248, 284),
    "love": (2086, 252, 238),
    "disapproval": (2022, 292, 267),
    "optimism": (1581, 209, 186),
    "anger": (1567, 195, 198),
    "joy": (1452, 172, 161),
    "confusion": (1368, 152, 153),
    "sadness": (1326, 143, 156),
    "disappointment": (1269, 163, 151),
    "realization": (1110, 127, 145),
    "caring": (1087, 153, 135),
    "surprise": (1060, 129, 141),
    "excitement": (853, 96, 103),
    "disgust": (793, 97, 123),
    "desire": (641, 77, 83),
    "fear": (596, 90, 78),
    "remorse": (545, 68, 56),
    "embarrassment": (303, 35, 37),
    "nervousness": (164, 21, 23),
    "relief": (153, 18, 11),
    "pride": (111, 15, 16),
    "grief": (77, 13, 6),
}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch) -> None:
    """Reach 127.0.0.1 directly even where a proxy is configured."""
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture(scope="module")
def shipped() -> Path:
    return shared_data()


@pytest.fixture(scope="module")
def shipped_stsb() -> Path:
    return shared_data("stsb/train.csv.gz", "stsb/validation.csv.gz")


def read_rows(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


# --------------------------------------------------------------------------- shipped


@pytest.mark.parametrize(("name", "split"), list(LABEL_COUNTS))
def test_shipped_split_matches_readme(shipped, name, split):
    bunch = LOADERS[name](split, data_home=shipped, download_if_missing=False)
    expected = LABEL_COUNTS[name, split]
    assert isinstance(bunch, Bunch)
    assert set(bunch) >= {"data", "target", "target_names", "DESCR"}
    assert Counter(bunch.target.tolist()) == expected
    assert bunch.target_names == sorted(expected)
    assert bunch.target.dtype.kind == "U"
    assert len(bunch.data) == len(bunch.target) == sum(expected.values())
    if name in ("mrpc", "rte"):
        assert bunch.data.shape == (len(bunch.target), 2)
        assert bunch.data.dtype == object
        assert bunch.feature_names == ["text_a", "text_b"]
        assert all(type(text) is str for text in bunch.data.ravel())
    else:
        assert isinstance(bunch.data, list)
        assert all(type(text) is str for text in bunch.data)
        assert "feature_names" not in bunch


@pytest.mark.parametrize("split", list(STSB))
def test_shipped_stsb_matches_readme(shipped_stsb, split):
    rows, mean, std, first, last = STSB[split]
    X, y = load_stsb(split, data_home=shipped_stsb, return_X_y=True)
    assert X.shape == (rows, 2)
    assert X.dtype == object
    assert all(type(text) is str for text in X.ravel())
    assert y.shape == (rows,)
    assert y.dtype == np.float64
    assert 0.0 <= y.min() and y.max() <= 5.0
    assert (round(y.mean(), 2), round(y.std(ddof=1), 2)) == (mean, std)
    assert (*X[0], y[0]) == first
    assert (*X[-1], y[-1]) == last


def test_stsb_bunch_is_a_regression_dataset(shipped_stsb):
    bunch = load_stsb("validation", data_home=shipped_stsb)
    assert isinstance(bunch, Bunch)
    assert list(bunch) == ["data", "target", "DESCR", "feature_names"]
    assert bunch.feature_names == ["text_a", "text_b"]
    assert bunch.data.shape == (1500, 2)
    assert bunch.target.dtype == np.float64
    assert "STS-B" in bunch.DESCR
    assert "Cer et al." in bunch.DESCR


@pytest.mark.parametrize("split", list(GOEMOTIONS_ROWS))
def test_shipped_goemotions_matches_readme(shipped, split):
    X, Y = load_goemotions(split, data_home=shipped, return_X_y=True)
    assert len(X) == len(Y) == GOEMOTIONS_ROWS[split]
    assert all(type(text) is str for text in X)
    assert all(isinstance(labels, list) for labels in Y)
    assert Counter(map(len, Y)) == GOEMOTIONS_LABELS_PER_ROW[split]
    column = list(GOEMOTIONS_ROWS).index(split)
    occurrences = Counter(label for labels in Y for label in labels)
    assert occurrences == {k: v[column] for k, v in GOEMOTIONS_OCCURRENCES.items()}
    # The single-label subset, as the docstring shows it.
    single = [labels[0] for labels in Y if len(labels) == 1]
    assert len(single) == GOEMOTIONS_LABELS_PER_ROW[split][1]


def test_goemotions_target_names_in_id_order(shipped):
    emotions = load_goemotions("validation", data_home=shipped)
    assert len(emotions.target_names) == 28
    assert emotions.target_names[:3] == ["admiration", "amusement", "anger"]
    assert emotions.target_names[-2:] == ["surprise", "neutral"]
    order = {name: i for i, name in enumerate(emotions.target_names)}
    assert all(
        [order[label] for label in labels] == sorted(order[label] for label in labels)
        for labels in emotions.target
    )


@pytest.mark.parametrize("name", list(LOADERS))
def test_return_X_y_is_the_bunch_data_and_target(shipped, name):
    split = _registry.DATASETS[name].splits[-1]
    bunch = LOADERS[name](split, data_home=shipped)
    X, y = LOADERS[name](split, data_home=shipped, return_X_y=True)
    assert type(X) is type(bunch.data)
    assert type(y) is type(bunch.target)
    if name in PAIRS:
        assert np.array_equal(X, bunch.data)
    else:
        assert X == bunch.data
    if name == "goemotions":
        assert y == bunch.target
    else:
        assert np.array_equal(y, bunch.target)
    spelled = {"sst2": "sst-2", "stsb": "sts-b"}.get(name, name)
    assert spelled in bunch.DESCR.lower()


def test_split_is_first_positional_and_defaults_to_train(shipped, monkeypatch):
    monkeypatch.setenv("SKBERT_DATA", str(shipped))
    X_default, _ = load_rte(return_X_y=True)
    X_train, _ = load_rte("train", return_X_y=True)
    assert len(X_default) == len(X_train) == 2490


# --------------------------------------------------------------------------- errors


def test_get_data_home_prefers_argument_then_environment_then_home(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SKBERT_DATA", raising=False)
    assert get_data_home() == tmp_path / "home" / "skbert_data"
    monkeypatch.setenv("SKBERT_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home("~/x") == tmp_path / "home" / "x"
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("name", list(LOADERS))
def test_unknown_split_is_refused_before_any_file_access(tmp_path, name):
    splits = ", ".join(map(repr, _registry.DATASETS[name].splits))
    message = f"Unknown split 'dev' for {name}: expected one of {splits}."
    with pytest.raises(ValueError, match=message):
        LOADERS[name]("dev", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_without_download_names_the_path(tmp_path):
    expected = tmp_path / "rte" / "validation.csv.gz"
    with pytest.raises(FileNotFoundError) as info:
        load_rte("validation", data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    assert f"looked for {expected}" in message
    assert "text_a,text_b,label" in message
    assert "SKBERT_DATA" in message
    assert list(tmp_path.iterdir()) == []


def test_stsb_missing_file_without_download_names_the_path(tmp_path):
    expected = tmp_path / "stsb" / "train.csv.gz"
    with pytest.raises(FileNotFoundError) as info:
        load_stsb(data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    assert message.startswith(f"stsb train split not found: looked for {expected}")
    assert "put the 'text_a,text_b,score' gzip CSV" in message
    assert "stsb/train.csv.gz" in message
    assert list(tmp_path.iterdir()) == []


def test_stsb_score_that_is_not_a_number_names_the_file(tmp_path):
    path = tmp_path / "stsb" / "validation.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(b"text_a,text_b,score\na,b,4.2\nc,d,high\n"))
    message = f"{path}: the score column must hold numbers"
    with pytest.raises(ValueError, match=message):
        load_stsb("validation", data_home=tmp_path)


def test_unreachable_source_fails_fast_and_names_file_and_url(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a local port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/SST-2.zip"
    (remote,) = _registry.DATASETS["sst2"].remote
    patch_remote(monkeypatch, "sst2", [dataclasses.replace(remote, url=url)])
    expected = tmp_path / "sst2" / "train.csv.gz"
    with pytest.raises(OSError, match="failed") as info:
        load_sst2("train", data_home=tmp_path)
    message = str(info.value)
    assert str(expected) in message
    assert url in message
    assert "put the 'text,label' gzip CSV" in message
    assert list((tmp_path / "sst2").iterdir()) == []


# --------------------------------------------------------------------------- download


@dataclasses.dataclass
class Server:
    url: str
    files: dict[str, bytes]
    hits: list[str]


@pytest.fixture
def server() -> Iterator[Server]:
    """An HTTP server on 127.0.0.1 that serves ``files`` and records each GET."""
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", files, hits)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def patch_remote(monkeypatch, name: str, remote: list) -> None:
    dataset = dataclasses.replace(_registry.DATASETS[name], remote=tuple(remote))
    monkeypatch.setitem(_registry.DATASETS, name, dataset)


def publish(monkeypatch, server: Server, name: str, files: dict[str, bytes]) -> None:
    """Serve ``files`` and point the dataset's registry at them, with their digests."""
    remote = []
    for original in _registry.DATASETS[name].remote:
        body = files[original.filename]
        server.files[original.filename] = body
        remote.append(
            dataclasses.replace(
                original,
                url=f"{server.url}/{original.filename}",
                sha256=hashlib.sha256(body).hexdigest(),
                size=len(body),
            )
        )
    patch_remote(monkeypatch, name, remote)


def make_zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, text in members.items():
            archive.writestr(member, text.encode("utf-8"))
    return buffer.getvalue()


def make_tar_gz(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tsv(header: str | None, rows: list[tuple[str, ...]], end: str = "\n") -> str:
    lines = ([header] if header else []) + ["\t".join(row) for row in rows]
    return "".join(line + end for line in lines)


def tiny_sst2() -> tuple[dict[str, bytes], dict[str, list[tuple[str, ...]]]]:
    archive = make_zip(
        {
            "SST-2/train.tsv": tsv(
                "sentence\tlabel",
                [('it \'s a "gem" ', "1"), ("awful , just awful ", "0")],
            ),
            "SST-2/dev.tsv": tsv("sentence\tlabel", [("charming and affecting ", "1")]),
            "SST-2/test.tsv": tsv("index\tsentence", [("0", "no label ")]),
            "SST-2/original/README.txt": "the treebank\n",
        }
    )
    expected = {
        "train": [('it \'s a "gem"', "positive"), ("awful , just awful", "negative")],
        "validation": [("charming and affecting", "positive")],
    }
    return {"SST-2.zip": archive}, expected


def tiny_rte() -> tuple[dict[str, bytes], dict[str, list[tuple[str, ...]]]]:
    header = "index\tsentence1\tsentence2\tlabel"
    archive = make_zip(
        {
            "RTE/train.tsv": tsv(
                header,
                [
                    ("0", "Iraqâ\x80\x99s output rose.", "Output rose.", "entailment"),
                    ("1", 'A "Â£35" PrzekrÃ³j.', "It is free. ", "not_entailment"),
                ],
            ),
            "RTE/dev.tsv": tsv(header, [("0", "Café\x96bar.", "A bar.", "entailment")]),
            "RTE/test.tsv": tsv("index\tsentence1\tsentence2", [("0", "a", "b")]),
        }
    )
    expected = {
        "train": [
            ("Iraq\u2019s output rose.", "Output rose.", "entailment"),
            ('A "£35" Przekrój.', "It is free.", "not_entailment"),
        ],
        "validation": [("Café\u2013bar.", "A bar.", "entailment")],
    }
    return {"RTE.zip": archive}, expected


def tiny_mrpc() -> tuple[dict[str, bytes], dict[str, list[tuple[str, ...]]]]:
    header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"
    train = [
        ("1", "101", "102", 'He said "yes" .', "He agreed ."),
        ("0", "103", "104", "Shares fell .", "Shares rose . "),
        ("1", "105", "106", "A cat .", "A feline ."),
    ]
    test = [("0", "201", "202", "North .", "South .")]
    files = {
        "msr_paraphrase_train.txt": tsv(header, train, "\r\n").encode("utf-8"),
        "msr_paraphrase_test.txt": tsv(header, test, "\r\n").encode("utf-8"),
        "mrpc_dev_ids.tsv": b"103\t104\r\n",
    }
    expected = {
        "train": [
            ('He said "yes" .', "He agreed .", "equivalent"),
            ("A cat .", "A feline .", "equivalent"),
        ],
        "validation": [("Shares fell .", "Shares rose .", "not_equivalent")],
        "test": [("North .", "South .", "not_equivalent")],
    }
    return files, expected


def tiny_imdb() -> tuple[dict[str, bytes], dict[str, list[tuple[str, ...]]]]:
    archive = make_tar_gz(
        {
            "aclImdb/README": "Large Movie Review Dataset v1.0\n",
            "aclImdb/train/pos/1_9.txt": "Great.<br /><br />Loved it\x96really.",
            "aclImdb/train/neg/10_1.txt": "Bad\x08 film :\x8d",
            "aclImdb/train/neg/2_3.txt": "  Dull\x85 ",
            "aclImdb/train/unsup/0_0.txt": "unlabelled",
            "aclImdb/train/urls_pos.txt": "http://www.imdb.com/title/tt0/\n",
            "aclImdb/test/pos/0_10.txt": "A tab\there.",
            "aclImdb/test/neg/0_4.txt": "Meh.",
        }
    )
    expected = {
        "train": [
            ("Dull…", "negative"),
            ("Bad film :", "negative"),
            ("Great.<br /><br />Loved it\u2013really.", "positive"),
        ],
        "test": [("Meh.", "negative"), ("A tab\there.", "positive")],
    }
    return {"aclImdb_v1.tar.gz": archive}, expected


def tiny_goemotions() -> tuple[dict[str, bytes], dict[str, list[tuple[str, ...]]]]:
    files = {
        "train.tsv": 'Good luck! \t13\tee1\n"""More."" ""OK."""\t27\tee2\n',
        "dev.tsv": "[NAME] crossed it.\t3,10\tee3\n",
        "test.tsv": '"A ""reveal"". "\t0,7,27\tee4\n',
    }
    expected = {
        "train": [("Good luck!", "excitement"), ('"More." "OK."', "neutral")],
        "validation": [("[NAME] crossed it.", "annoyance;disapproval")],
        "test": [('A "reveal".', "admiration;curiosity;neutral")],
    }
    return {name: text.encode("utf-8") for name, text in files.items()}, expected


STSB_HEADER = (
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
    "sentence1\tsentence2\tscore"
)


def stsb_tsv(rows: list[tuple[str, str, str]]) -> str:
    """Rows (sentence1, sentence2, score) in GLUE's STS-B format."""
    return tsv(
        STSB_HEADER,
        [
            (
                str(i),
                "main-news",
                "2012",
                "test",
                f"{i:04}",
                "none",
                "none",
                a,
                b,
                score,
            )
            for i, (a, b, score) in enumerate(rows)
        ],
    )


def tiny_stsb() -> tuple[dict[str, bytes], dict[str, list[tuple[str, ...]]]]:
    archive = make_zip(
        {
            "STS-B/train.tsv": stsb_tsv(
                [
                    ("A plane is taking off. ", "An air plane is taking off.", "5.000"),
                    ('He said "no".', "Iraqâ\x80\x99s output\x96rose.", "0.500"),
                    ("Cats.", "Dogs.", "0"),
                ]
            ),
            "STS-B/dev.tsv": stsb_tsv([("A man.", " A woman.", "3.8")]),
            "STS-B/test.tsv": "index\tgenre\tsentence1\tsentence2\n0\tx\ta\tb\n",
            "STS-B/LICENSE.txt": "CC BY-SA 4.0\n",
        }
    )
    expected = {
        "train": [
            ("A plane is taking off.", "An air plane is taking off.", "5.000"),
            ('He said "no".', "Iraq\u2019s output\u2013rose.", "0.500"),
            ("Cats.", "Dogs.", "0"),
        ],
        "validation": [("A man.", "A woman.", "3.8")],
    }
    return {"STS-B.zip": archive}, expected


TINY = {
    "sst2": tiny_sst2,
    "stsb": tiny_stsb,
    "rte": tiny_rte,
    "mrpc": tiny_mrpc,
    "imdb": tiny_imdb,
    "goemotions": tiny_goemotions,
}


@pytest.mark.parametrize("name", list(TINY))
def test_download_verifies_converts_and_caches(tmp_path, monkeypatch, server, name):
    files, expected = TINY[name]()
    publish(monkeypatch, server, name, files)
    first, *others = _registry.DATASETS[name].splits

    bunch = LOADERS[name](first, data_home=tmp_path)

    assert sorted(server.hits) == sorted(f"/{filename}" for filename in files)
    folder = tmp_path / name
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{split}.csv.gz" for split in expected
    )
    for split, rows in expected.items():
        assert [tuple(row) for row in read_rows(folder / f"{split}.csv.gz")] == rows
    if name == "goemotions":
        assert bunch.target == [label.split(";") for _, label in expected[first]]
    elif name == "stsb":
        assert bunch.target.tolist() == [float(row[-1]) for row in expected[first]]
    else:
        assert bunch.target.tolist() == [row[-1] for row in expected[first]]

    for split in (first, *others):  # now served from the cache
        LOADERS[name](split, data_home=tmp_path)
    assert len(server.hits) == len(files)


def test_written_files_are_byte_reproducible(tmp_path, monkeypatch, server):
    files, _ = tiny_sst2()
    publish(monkeypatch, server, "sst2", files)
    load_sst2("validation", data_home=tmp_path)
    packed = (tmp_path / "sst2" / "validation.csv.gz").read_bytes()
    assert packed[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # mtime 0
    assert gzip.decompress(packed) == b"text,label\ncharming and affecting,positive\n"


def test_download_keeps_a_split_already_there(tmp_path, monkeypatch, server):
    files, _ = tiny_sst2()
    publish(monkeypatch, server, "sst2", files)
    folder = tmp_path / "sst2"
    folder.mkdir()
    mine = gzip.compress(b"text,label\nmy own,positive\n")
    (folder / "train.csv.gz").write_bytes(mine)
    load_sst2("validation", data_home=tmp_path)
    assert (folder / "train.csv.gz").read_bytes() == mine
    assert load_sst2("train", data_home=tmp_path).data == ["my own"]


@pytest.mark.parametrize(
    ("name", "wrong"), [("sst2", {"sha256": "0" * 64}), ("stsb", {"size": 1})]
)
def test_wrong_checksum_names_file_and_digests_and_caches_nothing(
    tmp_path, monkeypatch, server, name, wrong
):
    files, _ = TINY[name]()
    publish(monkeypatch, server, name, files)
    dataset = _registry.DATASETS[name]
    (remote,) = dataset.remote
    published = dataclasses.replace(remote, **wrong)
    patch_remote(monkeypatch, name, [published])
    body = files[remote.filename]
    actual = hashlib.sha256(body).hexdigest()
    split = dataset.splits[-1]
    with pytest.raises(OSError, match="does not match its published checksum") as info:
        LOADERS[name](split, data_home=tmp_path)
    message = str(info.value)
    assert f"{remote.filename} downloaded from {remote.url}" in message
    assert f"expected sha256 {published.sha256} ({published.size} bytes)" in message
    assert f"got sha256 {actual} ({len(body)} bytes)" in message
    assert str(tmp_path / name / f"{split}.csv.gz") in message
    assert f"put the '{','.join(dataset.columns)}' gzip CSV" in message
    assert list((tmp_path / name).iterdir()) == []


def test_failed_second_download_leaves_nothing_behind(tmp_path, monkeypatch, server):
    files, _ = tiny_mrpc()
    publish(monkeypatch, server, "mrpc", files)
    del server.files["msr_paraphrase_test.txt"]  # the server answers 404
    with pytest.raises(OSError, match=r"msr_paraphrase_test\.txt from http") as info:
        load_mrpc("train", data_home=tmp_path)
    assert "404" in str(info.value)
    assert list((tmp_path / "mrpc").iterdir()) == []


# ------------------------------------------------------- shipped files, round trip
# The shipped rows, written back in the format of the original files (with the
# defects the cleaning rules undo), must convert to the same CSV content.


def mojibake(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def roundtrip_rte(rows: list[list[str]]) -> dict[str, bytes]:
    source = [
        (str(i), mojibake(a) if i % 2 else a, b + " ", label)
        for i, (a, b, label) in enumerate(rows)
    ]
    text = tsv("index\tsentence1\tsentence2\tlabel", source)
    return {"RTE.zip": make_zip({"RTE/train.tsv": text, "RTE/dev.tsv": text})}


def roundtrip_sst2(rows: list[list[str]]) -> dict[str, bytes]:
    labels = {"negative": "0", "positive": "1"}
    text = tsv("sentence\tlabel", [(t + " ", labels[label]) for t, label in rows])
    return {"SST-2.zip": make_zip({"SST-2/train.tsv": text, "SST-2/dev.tsv": text})}


def roundtrip_goemotions(rows: list[list[str]]) -> dict[str, bytes]:
    classes = _registry.DATASETS["goemotions"].classes
    ids = {name: str(i) for i, name in enumerate(classes)}
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    for i, (text, labels) in enumerate(rows):
        label_ids = ",".join(ids[label] for label in labels.split(";"))
        writer.writerow((text + " " * (i % 2), label_ids, f"e{i}"))
    body = buffer.getvalue().encode("utf-8")
    return {"train.tsv": body, "dev.tsv": body, "test.tsv": body}


ROUNDTRIP = {
    "rte": ("validation", roundtrip_rte),
    "sst2": ("validation", roundtrip_sst2),
    "goemotions": ("validation", roundtrip_goemotions),
}


@pytest.mark.parametrize("name", list(ROUNDTRIP))
def test_roundtrip_reproduces_shipped_file(
    shipped, tmp_path, monkeypatch, server, name
):
    split, to_source = ROUNDTRIP[name]
    shipped = shipped / name / f"{split}.csv.gz"
    publish(monkeypatch, server, name, to_source(read_rows(shipped)))
    LOADERS[name](split, data_home=tmp_path)
    written = (tmp_path / name / f"{split}.csv.gz").read_bytes()
    assert gzip.decompress(written) == gzip.decompress(shipped.read_bytes())


def test_roundtrip_reproduces_shipped_mrpc(shipped, tmp_path, monkeypatch, server):
    quality = {"not_equivalent": "0", "equivalent": "1"}
    shipped = {
        split: read_rows(shipped / "mrpc" / f"{split}.csv.gz")
        for split in ("train", "validation", "test")
    }

    def source(rows, first_id):
        return [
            (quality[label], str(first_id + 2 * i), str(first_id + 2 * i + 1), a, b)
            for i, (a, b, label) in enumerate(rows)
        ]

    train, validation = (
        source(shipped["train"], 0),
        source(shipped["validation"], 10**6),
    )
    # Interleave the two, each in its own order, as in the original file.
    keyed = [(i / len(train), row) for i, row in enumerate(train)]
    keyed += [(i / len(validation), row) for i, row in enumerate(validation)]
    merged = [row for _, row in sorted(keyed, key=lambda pair: pair[0])]
    header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"
    files = {
        "msr_paraphrase_train.txt": tsv(header, merged, "\r\n").encode("utf-8"),
        "msr_paraphrase_test.txt": tsv(
            header, source(shipped["test"], 2 * 10**6), "\r\n"
        ).encode("utf-8"),
        "mrpc_dev_ids.tsv": tsv(None, [row[1:3] for row in validation]).encode(),
    }
    publish(monkeypatch, server, "mrpc", files)
    load_mrpc("test", data_home=tmp_path)
    for split in shipped:
        written = tmp_path / "mrpc" / f"{split}.csv.gz"
        assert read_rows(written) == shipped[split], split


def dirty_stsb(rows: list[list[str]]) -> str:
    """Shipped STS-B rows in GLUE's format, with defects that the cleaning undoes."""
    return stsb_tsv(
        [
            (mojibake(a) if i % 2 else a, b + " " * (i % 3), score)
            for i, (a, b, score) in enumerate(rows)
        ]
    )


def test_stsb_conversion_writes_the_shipped_files_byte_for_byte(
    shipped_stsb, tmp_path, monkeypatch, server
):
    paths = {
        split: shipped_stsb / "stsb" / f"{split}.csv.gz"
        for split in ("train", "validation")
    }
    rows = {split: read_rows(path) for split, path in paths.items()}
    archive = make_zip(
        {
            "STS-B/train.tsv": dirty_stsb(rows["train"]),
            "STS-B/dev.tsv": dirty_stsb(rows["validation"]),
        }
    )
    publish(monkeypatch, server, "stsb", {"STS-B.zip": archive})
    load_stsb("validation", data_home=tmp_path)
    for split, path in paths.items():
        assert (tmp_path / "stsb" / path.name).read_bytes() == path.read_bytes(), split
    # The scores are written as the source spells them.
    scores = {row[2] for split in rows.values() for row in split}
    assert {"5.000", "5.00", "5", "0.000000", "0"} <= scores


def test_imdb_cleaning_keeps_shipped_reviews(shipped, tmp_path, monkeypatch, server):
    """Shipped reviews, with cp1252 punctuation turned back into C1 controls."""
    rows = read_rows(shipped / "imdb" / "test.csv.gz")
    sample = rows[:150] + rows[-150:]  # negatives, then positives
    c1 = {bytes([b]).decode("cp1252", "ignore"): chr(b) for b in range(0x80, 0xA0)}
    c1.pop("")
    folders = {"negative": "neg", "positive": "pos"}
    members = {}
    for i, (text, label) in enumerate(sample):
        dirty = "".join(c1.get(char, char) for char in text) if i % 2 else text
        members[f"aclImdb/test/{folders[label]}/{i}_1.txt"] = dirty
    members["aclImdb/train/neg/0_1.txt"] = "x"
    publish(monkeypatch, server, "imdb", {"aclImdb_v1.tar.gz": make_tar_gz(members)})
    X, y = load_imdb("test", data_home=tmp_path, return_X_y=True)
    assert X == [text for text, _ in sample]
    assert y.tolist() == [label for _, label in sample]
    assert any(char in text for text in X for char in c1)  # something was restored


def test_package_exports_exactly_the_loaders():
    assert datasets.__all__ == [
        "get_data_home",
        "load_goemotions",
        "load_imdb",
        "load_mrpc",
        "load_rte",
        "load_sst2",
        "load_stsb",
    ]
    assert all(callable(getattr(datasets, name)) for name in datasets.__all__)


def test_stsb_checksum_is_the_published_one():
    """tensorflow/datasets url_checksums/glue.txt and HF glue dataset_infos.json."""
    (remote,) = _registry.DATASETS["stsb"].remote
    assert remote.url == "https://dl.fbaipublicfiles.com/glue/data/STS-B.zip"
    assert remote.size == 802872
    assert remote.sha256 == (
        "e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85"
    )


def test_registry_rows_are_the_readme_counts():
    counts = {key: sum(labels.values()) for key, labels in LABEL_COUNTS.items()}
    counts |= {("goemotions", split): n for split, n in GOEMOTIONS_ROWS.items()}
    counts |= {("stsb", split): values[0] for split, values in STSB.items()}
    registered = {
        (name, split): rows
        for name, dataset in _registry.DATASETS.items()
        for split, rows in zip(dataset.splits, dataset.rows, strict=True)
    }
    assert registered == counts
    for (name, split), rows in registered.items():
        assert f"{split} {rows:,}" in _registry.DATASETS[name].descr


@pytest.mark.parametrize("name", list(LOADERS))
def test_docstring_is_complete_and_filled_from_the_registry(name):
    dataset = _registry.DATASETS[name]
    doc = LOADERS[name].__doc__
    sections = ["Parameters", "Returns", "Raises", "See Also", "Examples"]
    positions = [
        doc.index(f"\n{section}\n{'-' * len(section)}\n") for section in sections
    ]
    assert positions == sorted(positions)
    split_names = ", ".join(f'"{split}"' for split in dataset.splits)
    assert f'split : {{{split_names}}}, default="train"' in doc
    assert f"``{name}/<split>.csv.gz``" in doc
    assert all(
        f"{split} {n:,}" in doc
        for split, n in zip(dataset.splits, dataset.rows, strict=True)
    )
    assert all(f"``{remote.filename}``" in doc for remote in dataset.remote)
    assert ("``target_names``" in doc) == (dataset.task != "regression")
    assert ("``feature_names``" in doc) == (name in PAIRS)
    shared = doc[positions[0] : positions[3]].splitlines()
    assert max(map(len, shared)) <= 79


def test_registry_pins_every_source():
    for name, dataset in _registry.DATASETS.items():
        assert dataset.name == name
        assert dataset.splits[0] == "train"
        assert len({remote.filename for remote in dataset.remote}) == len(
            dataset.remote
        )
        for remote in dataset.remote:
            assert remote.url.startswith("https://")
            assert remote.url.rsplit("/", 1)[1] == remote.filename
            assert len(remote.sha256) == 64
            int(remote.sha256, 16)
            assert remote.size > 0
