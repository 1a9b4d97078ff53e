"""Session fixtures shared by tests/ and the doctests in skbert/.

A tiny random BERT (2 layers, hidden 32) with a hand-written WordPiece vocabulary is
built once per session in a temporary directory: loading and fitting it takes
milliseconds, so most tests never touch the bundled pretrained model.
"""

from __future__ import annotations

import os
import string
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
SIBLING_DATA = ROOT.parent / "shared" / "data"


def property_examples(default: int) -> int:
    """How many generated inputs a property test draws: ``default`` per CI run, or
    ``$SKBERT_PROPERTY_EXAMPLES`` for a thorough run (docs/reliability.md records
    one at 10,000)."""
    wanted = os.environ.get("SKBERT_PROPERTY_EXAMPLES")
    if not wanted:
        return default
    if not wanted.isdigit() or int(wanted) < 1:
        raise ValueError(
            f"SKBERT_PROPERTY_EXAMPLES must be a positive integer; got {wanted!r}"
        )
    return int(wanted)


def shared_data(*needed: str) -> Path:
    """The folder of the shipped ``<dataset>/<split>.csv.gz`` files.

    ``$SKBERT_DATA`` when set (CI sets it): then a missing file in ``needed`` is a
    failure. Otherwise ``../shared/data`` beside the repository, and the test is
    skipped when a file is missing there.
    """
    if os.environ.get("SKBERT_DATA"):
        home = Path(os.environ["SKBERT_DATA"])
        missing = [name for name in needed if not (home / name).is_file()]
        assert not missing, f"SKBERT_DATA={home} has no {', '.join(missing)}"
        return home
    missing = [name for name in needed if not (SIBLING_DATA / name).is_file()]
    if missing or not SIBLING_DATA.is_dir():
        pytest.skip(
            f"{', '.join(missing) or 'data'} not found in {SIBLING_DATA}: set "
            "SKBERT_DATA to the folder of the shipped CSV files"
        )
    return SIBLING_DATA


def run_benchmark(script: str, *options: str) -> subprocess.CompletedProcess:
    """Run ``benchmarks/<script>`` offline on one thread; fail with its stderr."""
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *options, "--threads", "1"],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("Machine: ")
    assert "torch CPU capability " in done.stdout
    return done


WORDS = (
    "good great fine nice love loved best fun wonderful excellent happy "
    "bad awful poor hate hated worst boring terrible sad dull "
    "film movie plot story actor acting scene music the a an is was it this that "
    "and or but not very really so too of to in on for with my our"
).split()


def _vocabulary() -> list[str]:
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    return special + WORDS + chars + [f"##{c}" for c in chars]


def build_tiny_model(directory: Path, model_type: str = "bert") -> str:
    """Save a tiny random ``model_type`` model and its tokenizer in ``directory``."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    from skbert._hub import quiet_transformers

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(_vocabulary()) + "\n", encoding="utf-8")
    # Seeded, so every session tests the same tiny model and a failure reproduces.
    with quiet_transformers(), torch.random.fork_rng():
        torch.manual_seed(0)
        tokenizer = BertTokenizerFast(str(vocab_file), do_lower_case=True)
        tokenizer.model_max_length = 128
        size = len(_vocabulary())
        if model_type == "bert":
            config = BertConfig(
                vocab_size=size,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64,
                max_position_embeddings=128,
            )
            model = BertForSequenceClassification(config)
        else:
            config = DistilBertConfig(
                vocab_size=size,
                dim=32,
                n_layers=2,
                n_heads=2,
                hidden_dim=64,
                max_position_embeddings=128,
            )
            model = DistilBertForSequenceClassification(config)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run the tiny models on one thread.

    On a busy 2-core machine two OpenMP threads make these tiny models about 10x
    slower. Tests of the pretrained model use ``all_torch_threads`` instead.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cores_per_worker() -> int:
    """The cores this process may use, shared among pytest-xdist's workers (the
    default test command runs one per core): torch threads beyond it contend."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, len(os.sched_getaffinity(0)) // workers)


@pytest.fixture
def all_torch_threads() -> Iterator[None]:
    """Give a test of the pretrained model every core this worker may use."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(cores_per_worker())
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def train_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every ``(batches, config)`` that fit hands to ``skbert._engine.train``."""
    from skbert import _engine

    calls: list[tuple] = []
    original = _engine.train

    def spy(model, batches, config, *args, **kwargs):
        calls.append((batches, config))
        return original(model, batches, config, *args, **kwargs)

    monkeypatch.setattr(_engine, "train", spy)
    return calls


@pytest.fixture
def sigint_default() -> Iterator[None]:
    """Ctrl-C tests need Python's SIGINT handler; CI may start with SIGINT ignored."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def at_once(predict: Callable[[Any], Any], inputs: list[Any]) -> list[list[Any]]:
    """``predict`` twice on each input, one thread per input, all at once.

    A barrier makes the threads start together, as requests do in a web service;
    an exception in a thread is returned in its place rather than lost.
    """
    import threading

    barrier = threading.Barrier(len(inputs))
    results: list[list[Any]] = [[] for _ in inputs]

    def serve(k: int) -> None:
        try:
            barrier.wait()
            results[k] = [predict(inputs[k]) for _ in range(2)]
        except BaseException as error:
            results[k] = [error]

    threads = [threading.Thread(target=serve, args=(k,)) for k in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def round_trip(estimator: object, how: str, tmp_path: Path) -> object:
    """``estimator`` back from ``save``/``skbert.load``, pickle or joblib."""
    import pickle

    import joblib

    import skbert

    if how == "save":
        estimator.save(tmp_path / "saved")  # type: ignore[attr-defined]
        return skbert.load(tmp_path / "saved")
    if how == "pickle":
        return pickle.loads(pickle.dumps(estimator))
    joblib.dump(estimator, tmp_path / "model.joblib")
    return joblib.load(tmp_path / "model.joblib")


def learning(model: str, cls: type | None = None, **params: object) -> object:
    """A ``cls`` estimator (default the classifier) that learns a few dozen tiny
    texts in a few epochs (a high learning rate), so its outputs move with the
    words; ``params`` override the settings."""
    from skbert import BertTextClassifier

    settings: dict = {
        "epochs": 8,
        "learning_rate": 5e-3,
        "batch_size": 8,
        "random_state": 0,
        "min_steps": 0,  # exactly ``epochs`` passes
        # A linear probe of the random tiny model's features starts the head
        # where the outputs barely move with the words (a pair model's output
        # changed by 9e-6 from its baseline): these tests need outputs that do.
        "head_init": "random",
        **params,
    }
    return (cls or BertTextClassifier)(model, **settings)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of a tiny random BERT with a 2-class head (resized by fit)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-distilbert"), "distilbert")


@pytest.fixture(autouse=True)
def _doctest_tiny_model(doctest_namespace: dict, tiny_model: str) -> None:
    """Doctests in skbert/ refer to the tiny model as ``tiny_model``."""
    doctest_namespace["tiny_model"] = tiny_model
