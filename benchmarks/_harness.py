"""What skbert's benchmark scripts share: the tools, the child process, the memory.

A benchmark script samples the data, writes it and one :class:`Job` per tool to
JSON files, and runs each tool in its own child process, one after the other
(:func:`run_job`), so that a tool's peak memory is its own and no two tools
compete for cores. The child is this module run as a script; it imports what its
tool needs, notes its resident memory, runs the tool and writes the measurements.

Every tool is timed the same way:

* fit: from raw texts and labels to a trained model, including loading the
  tokenizer and the model and tokenising;
* predict: from raw texts to class scores, including tokenising.

The tools (:data:`TOOLS`):

* ``skbert``: ``skbert.BertTextClassifier`` (length-grouped, dynamically padded
  batches, fused AdamW);
* ``trainer``: transformers' ``Trainer`` as a user runs it
  (``DataCollatorWithPadding``, random batches, its default optimizer);
* ``padded``: a plain PyTorch loop that pads every text to ``max_length``, as
  bert-sklearn, skorch's Hugging Face tokenizer, simpletransformers and ktrain
  batch, with ``torch.optim.AdamW`` and transformers' linear warm-up schedule;
* ``skorch``: a skorch ``Pipeline`` of ``HuggingfacePretrainedTokenizer`` and
  ``NeuralNetClassifier``, as skorch's Hugging Face example builds it;
* ``tfidf``: TF-IDF unigrams and bigrams and ``LogisticRegression``.

A script with tools of its own (``bench_pairs.py``) defines ``TOOLS`` and
``score`` as this module does and names itself to :class:`Runner`; its children
then run its tools and score with its ``score``.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path(
    os.environ.get("SKBERT_DATA", REPO_ROOT.parent / "shared" / "data")
)
MIB = 1024 * 1024
Data = dict[str, list[Any]]


@dataclasses.dataclass(frozen=True)
class Job:
    """One tool on one data sample with one set of hyperparameters."""

    tool: str
    model_dir: str
    max_length: int = 128
    batch_size: int = 32
    learning_rate: float = 5e-5
    epochs: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 0
    threads: int | None = None
    # "classification" or "regression"; this module's tools only classify.
    task: str = "classification"


def add_common_arguments(parser: Any, data_help: str) -> None:
    """The options every benchmark script takes: data, model, training, output."""
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=data_help
    )
    parser.add_argument(
        "--model",
        default="sentence-transformers/all-MiniLM-L6-v2",
        help="hub id or local directory of the model to fine-tune",
    )
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


# --------------------------------------------------------------------------- data


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
    original order. One generator draws the training rows, then the evaluation
    rows, so a sample depends only on the sizes and the seed. A text pair becomes
    a list of two strings; ``target`` converts each label (``float`` for scores).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    data: Data = {}
    for split, n, prefix in zip(
        splits, (n_train, n_eval), ("train", "eval"), strict=True
    ):
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


# --------------------------------------------------------------------------- memory


def current_rss() -> int:
    """Resident set size now, in bytes (falls back to the peak off Linux)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss()


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# --------------------------------------------------------------------------- tools


@dataclasses.dataclass(frozen=True)
class Tool:
    """A tool: its table label, the modules imported before RSS is read, its run."""

    label: str
    modules: tuple[str, ...]
    run: Callable[[Job, Data], dict[str, Any]]


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = function()
    return value, time.perf_counter() - started


def fit_predict(estimator: Any, data: Data, y: Any) -> tuple[Any, float, float]:
    """``(predict_proba of the test texts, fit s, predict s)`` of an estimator."""
    _, fit_s = timed(lambda: estimator.fit(data["train_x"], y))
    proba, predict_s = timed(lambda: estimator.predict_proba(data["eval_x"]))
    return proba, fit_s, predict_s


def measured(
    fit_s: float, predict_s: float, classes: Any, scores: Any, **details: Any
) -> dict[str, Any]:
    """A runner's result: the times, the predicted labels and tool details."""
    import numpy as np

    predicted = [str(classes[i]) for i in np.asarray(scores).argmax(axis=1)]
    return {"fit_s": fit_s, "predict_s": predict_s, "predicted": predicted, **details}


def skbert_params(job: Job) -> dict[str, Any]:
    """The parameters of a skbert estimator for ``job``."""
    return {
        "model_name_or_path": job.model_dir,
        "max_length": job.max_length,
        "batch_size": job.batch_size,
        "learning_rate": job.learning_rate,
        "epochs": job.epochs,
        "weight_decay": job.weight_decay,
        "warmup_ratio": job.warmup_ratio,
        "max_grad_norm": job.max_grad_norm,
        "random_state": job.seed,
    }


def run_skbert(job: Job, data: Data) -> dict[str, Any]:
    from skbert import BertTextClassifier

    clf = BertTextClassifier(**skbert_params(job))
    proba, fit_s, predict_s = fit_predict(clf, data, data["train_y"])
    return measured(
        fit_s,
        predict_s,
        clf.classes_,
        proba,
        train_loss=float(clf.loss_curve_[-1]),
        device=str(clf.device_),
        predict_batch_size=2 * job.batch_size,
    )


def load_hf(job: Job, classes: list[str] | None) -> tuple[Any, Any]:
    """The tokenizer and a model with a fresh head for ``classes``.

    ``classes=None``: one output and a mean squared error loss (regression); a
    checkpoint's classification head, such as the tiny test model's, is replaced.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from skbert._hub import quiet_transformers

    head: dict[str, Any] = (
        {"num_labels": 1, "problem_type": "regression", "ignore_mismatched_sizes": True}
        if classes is None
        else {
            "num_labels": len(classes),
            "id2label": dict(enumerate(classes)),
            "label2id": {label: i for i, label in enumerate(classes)},
        }
    )
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(job.model_dir)
        model = AutoModelForSequenceClassification.from_pretrained(
            job.model_dir, **head
        )
    return tokenizer, model


class DictDataset:
    """A map-style torch dataset of feature dicts, as users hand to the Trainer."""

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


def encode(tokenizer: Any, texts: list[Any], max_length: int) -> list[dict[str, Any]]:
    """Tokenised texts, or pairs ``[a, b]`` tokenised as pairs, one dict a text."""
    if texts and not isinstance(texts[0], str):
        first, second = zip(*texts, strict=True)
        encoded = tokenizer(
            list(first), list(second), truncation=True, max_length=max_length
        )
    else:
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
    return [
        dict(zip(encoded.keys(), row, strict=True))
        for row in zip(*encoded.values(), strict=True)
    ]


def run_trainer(job: Job, data: Data) -> dict[str, Any]:
    classes = sorted(set(data["train_y"]))
    logits, fit_s, predict_s, details = trainer_fit_predict(job, data, classes)
    return measured(fit_s, predict_s, classes, logits, **details)


def trainer_fit_predict(
    job: Job, data: Data, classes: list[str] | None
) -> tuple[Any, float, float, dict[str, Any]]:
    """``(test logits, fit s, predict s, details)`` of the Trainer on ``data``.

    ``classes=None`` fits the raw targets with one output and a mean squared error
    loss, as a Trainer user does for regression.
    """
    import torch
    from torch.utils.data import SequentialSampler
    from transformers import (
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    output_dir = tempfile.TemporaryDirectory(prefix="bench_trainer_")
    training_args = TrainingArguments(
        output_dir=output_dir.name,
        num_train_epochs=job.epochs,
        learning_rate=job.learning_rate,
        per_device_train_batch_size=job.batch_size,
        per_device_eval_batch_size=job.batch_size,
        weight_decay=job.weight_decay,
        # transformers 5 has no warmup_ratio: a float below 1 is a ratio.
        warmup_steps=job.warmup_ratio,
        max_grad_norm=job.max_grad_norm,
        lr_scheduler_type="linear",
        seed=job.seed,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        fp16=False,
        bf16=False,
    )

    started = time.perf_counter()
    set_seed(job.seed)
    tokenizer, model = load_hf(job, classes)
    loaded_s = time.perf_counter() - started
    features = encode(tokenizer, data["train_x"], job.max_length)
    for row, label in zip(features, data["train_y"], strict=True):
        row["labels"] = label if classes is None else classes.index(label)
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=DictDataset(features),
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
    )
    train_output = trainer.train()
    fit_s = time.perf_counter() - started

    started = time.perf_counter()
    eval_set = DictDataset(encode(tokenizer, data["eval_x"], job.max_length))
    logits = trainer.predict(eval_set).predictions
    predict_s = time.perf_counter() - started

    # Trainer.predict keeps the input order only with a sequential sampler.
    assert isinstance(trainer._get_eval_sampler(eval_set), SequentialSampler)
    output_dir.cleanup()
    return (
        logits,
        fit_s,
        predict_s,
        {
            "train_loss": float(train_output.training_loss),
            "device": str(training_args.device),
            "predict_batch_size": job.batch_size,
            "load_s": loaded_s,
            "optimizer": str(training_args.optim.value),
            "train_sampling_strategy": training_args.train_sampling_strategy,
        },
    )


def decay_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups without decay on biases and LayerNorm weights."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        skip = name.endswith("bias") or "LayerNorm" in name
        (no_decay if skip else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def warmup_steps(job: Job, n_texts: int) -> tuple[int, int]:
    """(warm-up steps, total steps) of ``job`` on ``n_texts`` training texts."""
    total = job.epochs * math.ceil(n_texts / job.batch_size)
    return math.ceil(job.warmup_ratio * total), total


def run_padded(job: Job, data: Data) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from transformers import get_linear_schedule_with_warmup

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    classes = sorted(set(data["train_y"]))

    def padded(texts: list[str]) -> dict[str, Any]:
        return tokenizer(
            texts,
            padding="max_length",
            truncation=True,
            max_length=job.max_length,
            return_tensors="pt",
        )

    started = time.perf_counter()
    torch.manual_seed(job.seed)
    tokenizer, model = load_hf(job, classes)
    model.to(device).train()
    encoded = padded(data["train_x"])
    names = list(encoded.keys())
    labels = torch.tensor([classes.index(label) for label in data["train_y"]])
    loader = DataLoader(
        TensorDataset(*encoded.values(), labels),
        batch_size=job.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(job.seed),
    )
    optimizer = torch.optim.AdamW(
        decay_groups(model, job.weight_decay), lr=job.learning_rate
    )
    warmup, total = warmup_steps(job, len(labels))
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total)
    losses = []
    for _ in range(job.epochs):
        for *tensors, target in loader:
            inputs = {n: t.to(device) for n, t in zip(names, tensors, strict=True)}
            loss = model(**inputs, labels=target.to(device)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), job.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    fit_s = time.perf_counter() - started

    started = time.perf_counter()
    encoded = padded(data["eval_x"])
    model.eval()
    logits = []
    with torch.inference_mode():
        for start in range(0, len(data["eval_x"]), job.batch_size):
            window = slice(start, start + job.batch_size)
            inputs = {n: t[window].to(device) for n, t in encoded.items()}
            logits.append(model(**inputs).logits.float().cpu())
    predict_s = time.perf_counter() - started
    steps_per_epoch = len(losses) // job.epochs
    return measured(
        fit_s,
        predict_s,
        classes,
        torch.cat(logits).numpy(),
        train_loss=sum(losses[-steps_per_epoch:]) / steps_per_epoch,
        device=str(device),
        predict_batch_size=job.batch_size,
        optimizer="torch.optim.AdamW (defaults)",
    )


def skorch_module() -> type:
    """skorch's Hugging Face example module: a classification model returning logits.

    Built on first use so that this module imports without torch.
    """
    import torch

    class HFClassifierModule(torch.nn.Module):
        def __init__(self, name: str, num_labels: int) -> None:
            from transformers import AutoModelForSequenceClassification

            from skbert._hub import quiet_transformers

            super().__init__()
            with quiet_transformers():
                self.bert = AutoModelForSequenceClassification.from_pretrained(
                    name, num_labels=num_labels
                )

        def forward(self, **kwargs: Any) -> Any:
            return self.bert(**kwargs).logits

    return HFClassifierModule


def run_skorch(job: Job, data: Data) -> dict[str, Any]:
    import numpy as np
    import torch
    from sklearn.pipeline import Pipeline
    from skorch import NeuralNetClassifier
    from skorch.callbacks import GradientNormClipping, LRScheduler
    from skorch.hf import HuggingfacePretrainedTokenizer
    from transformers import get_linear_schedule_with_warmup

    device = "cuda" if torch.cuda.is_available() else "cpu"
    classes = sorted(set(data["train_y"]))
    y = np.array([classes.index(label) for label in data["train_y"]], dtype=np.int64)
    warmup, total = warmup_steps(job, len(y))
    pipeline = Pipeline(
        [
            (
                "tokenizer",
                HuggingfacePretrainedTokenizer(
                    job.model_dir, max_length=job.max_length
                ),
            ),
            (
                "net",
                NeuralNetClassifier(
                    skorch_module(),
                    module__name=job.model_dir,
                    module__num_labels=len(classes),
                    criterion=torch.nn.CrossEntropyLoss,
                    optimizer=torch.optim.AdamW,
                    optimizer__weight_decay=job.weight_decay,
                    # As Trainer and skbert: no decay on biases and LayerNorm.
                    optimizer__param_groups=[
                        ("*bias", {"weight_decay": 0.0}),
                        ("*LayerNorm.weight", {"weight_decay": 0.0}),
                    ],
                    lr=job.learning_rate,
                    max_epochs=job.epochs,
                    batch_size=job.batch_size,
                    iterator_train__shuffle=True,
                    train_split=None,
                    device=device,
                    verbose=0,
                    callbacks=[
                        LRScheduler(
                            policy=get_linear_schedule_with_warmup,
                            num_warmup_steps=warmup,
                            num_training_steps=total,
                            step_every="batch",
                        ),
                        GradientNormClipping(gradient_clip_value=job.max_grad_norm),
                    ],
                ),
            ),
        ]
    )
    torch.manual_seed(job.seed)
    proba, fit_s, predict_s = fit_predict(pipeline, data, y)
    return measured(
        fit_s,
        predict_s,
        classes,
        proba,
        train_loss=float(pipeline.named_steps["net"].history[-1, "train_loss"]),
        device=device,
        predict_batch_size=job.batch_size,
        optimizer="torch.optim.AdamW (defaults)",
    )


def run_tfidf(job: Job, data: Data) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(max_iter=1000, random_state=job.seed),
    )
    proba, fit_s, predict_s = fit_predict(pipeline, data, data["train_y"])
    return measured(
        fit_s,
        predict_s,
        pipeline.classes_,
        proba,
        train_loss=None,
        device="cpu",
        predict_batch_size=None,
    )


HF = (
    "torch",
    "transformers",
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
)
TOOLS: dict[str, Tool] = {
    "skbert": Tool("skbert BertTextClassifier", (*HF, "skbert"), run_skbert),
    "trainer": Tool("transformers Trainer", (*HF, "transformers.trainer"), run_trainer),
    "padded": Tool("PyTorch loop, padded to max_length", HF, run_padded),
    "skorch": Tool(
        "skorch + HuggingfacePretrainedTokenizer", (*HF, "skorch.hf"), run_skorch
    ),
    "tfidf": Tool(
        "TF-IDF + LogisticRegression",
        ("sklearn.feature_extraction.text", "sklearn.linear_model"),
        run_tfidf,
    ),
}


# --------------------------------------------------------------------------- child


def score(job: Job, predicted: list[Any], expected: list[Any]) -> dict[str, Any]:
    """The accuracy of predicted labels."""
    correct = sum(p == y for p, y in zip(predicted, expected, strict=True))
    return {"accuracy": correct / len(expected)}


def child(
    job_path: Path, data_path: Path, output_path: Path, registry: str | None = None
) -> None:
    """Run one job in this process; write its measurements to ``output_path``.

    The tool and the scoring come from the module named ``registry`` (its
    ``TOOLS`` and ``score``), from this one when None.
    """
    job = Job(**json.loads(job_path.read_text()))
    owner = (
        sys.modules[__name__] if registry is None else importlib.import_module(registry)
    )
    tool = owner.TOOLS[job.tool]
    for module in tool.modules:
        importlib.import_module(module)
    torch = sys.modules.get("torch")
    if torch is not None and job.threads is not None:
        torch.set_num_threads(job.threads)
    data = json.loads(data_path.read_text())
    gc.collect()
    rss_before = current_rss()
    result = tool.run(job, data)
    peak = peak_rss()
    scores = owner.score(job, result.pop("predicted"), data["eval_y"])
    result.update(
        tool=job.tool,
        **scores,
        n_train=len(data["train_x"]),
        n_eval=len(data["eval_y"]),
        rss_before_mib=rss_before / MIB,
        peak_rss_mib=peak / MIB,
        peak_rss_growth_mib=(peak - rss_before) / MIB,
        torch_threads=None if torch is None else torch.get_num_threads(),
    )
    output_path.write_text(json.dumps(result))


# --------------------------------------------------------------------------- parent


def check_tools(names: list[str], tools: dict[str, Tool] | None = None) -> None:
    """Exit with a message naming what to install if a tool cannot run here.

    ``tools``: the registry the names come from, this module's when None.
    """
    tools = TOOLS if tools is None else tools
    needs = {"trainer": "accelerate", "skorch": "skorch"}
    for name in names:
        if name not in tools:
            raise SystemExit(f"Unknown tool {name!r}; choose from {', '.join(tools)}.")
        package = needs.get(name)
        if package and importlib.util.find_spec(package) is None:
            raise SystemExit(
                f"The {name!r} tool needs {package}: pip install {package} "
                "(or the bench extra), or leave it out of --tools."
            )


def resolve_model(model: str) -> str:
    """The model's directory, its files read once so no child pays a cold disk."""
    from skbert._hub import resolve

    model_dir, local = resolve(model)
    if local:
        for path in Path(model_dir).iterdir():
            if path.is_file():
                with open(path, "rb") as handle:
                    while handle.read(1 << 24):
                        pass
    return model_dir


class Runner:
    """Runs jobs in child processes, one at a time, on data written once.

    ``registry``: the module (a script in this folder) whose ``TOOLS`` and
    ``score`` the children use; this module's when None.
    """

    def __init__(self, registry: str | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="skbert_bench_")
        self._count = 0
        self._registry = registry

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def write_data(self, data: Data) -> Path:
        self._count += 1
        path = Path(self._tmp.name) / f"data{self._count}.json"
        path.write_text(json.dumps(data))
        return path

    def run(self, job: Job, data_path: Path) -> dict[str, Any]:
        self._count += 1
        job_path = Path(self._tmp.name) / f"job{self._count}.json"
        output = Path(self._tmp.name) / f"result{self._count}.json"
        job_path.write_text(json.dumps(dataclasses.asdict(job)))
        command = [sys.executable, __file__, str(job_path), str(data_path), str(output)]
        if self._registry is not None:
            command.append(self._registry)
        print(f"Running {job.tool} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        # The child's stdout (such as the Trainer's final metrics) goes to stderr,
        # so that stdout holds only the report.
        subprocess.run(command, check=True, stdout=sys.stderr)
        result = json.loads(output.read_text())
        result["process_s"] = time.perf_counter() - started
        scores = "".join(
            f"{key} {result[key]:.4f}, " for key in SCORE_NAMES if key in result
        )
        print(
            f"  {job.tool}: {scores}fit "
            f"{result['fit_s']:.1f} s, predict {result['predict_s']:.2f} s; "
            f"done in {result['process_s']:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        return result


# --------------------------------------------------------------------------- report


# Table headers of the scores a ``score`` function may return.
SCORE_NAMES = {
    "accuracy": "accuracy",
    "f1": "F1",
    "pearson": "Pearson",
    "spearman": "Spearman",
}


def result_rows(
    results: list[dict[str, Any]],
    scores: tuple[str, ...] = ("accuracy",),
    tools: dict[str, Tool] | None = None,
) -> Iterator[str]:
    """The Markdown table of scores, times and memory, one row per tool.

    ``tools``: the registry of the results' tools, this module's when None.
    """
    tools = TOOLS if tools is None else tools
    names = "".join(f" {SCORE_NAMES[key]} |" for key in scores)
    yield f"| tool |{names} fit s | predict s | peak RSS MiB |"
    yield "|---|" + "---:|" * (len(scores) + 3)
    for r in results:
        values = "".join(f" {r[key]:.4f} |" for key in scores)
        yield (
            f"| {tools[r['tool']].label} |{values} {r['fit_s']:.1f} | "
            f"{r['predict_s']:.2f} | {r['peak_rss_growth_mib']:.0f} |"
        )


def ratios(
    ours: dict[str, Any],
    theirs: dict[str, Any],
    scores: tuple[str, ...] = ("accuracy",),
) -> dict[str, float | None]:
    """skbert's time and memory as a share of a peer's, and its score gains.

    A gain is in points (100 x the difference), under ``<score>_diff_points``.
    """

    def share(key: str) -> float | None:
        return ours[key] / theirs[key] if theirs[key] > 0 else None

    gains = {f"{key}_diff_points": 100 * (ours[key] - theirs[key]) for key in scores}
    return {
        "fit_ratio": share("fit_s"),
        "predict_ratio": share("predict_s"),
        **gains,
        "peak_rss_ratio": share("peak_rss_growth_mib"),
    }


def environment(packages: tuple[str, ...]) -> dict[str, Any]:
    versions = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWrote {path}")


def config_of(args: Any) -> dict[str, Any]:
    """The command-line options as JSON values."""
    return {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in vars(args).items()
        if key != "json"
    }


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    child(*(Path(arg) for arg in sys.argv[1:4]), *sys.argv[4:5])
