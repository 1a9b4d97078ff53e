"""The tools the benchmark scripts fine-tune and time, and how each is timed.

A tool (:class:`Tool`) runs one :class:`Job` on one data sample in a child
process (see ``_child.py``) and returns its measurements. Every fine-tuning tool
is timed the same way:

* fit: from raw texts and labels to a trained model, including loading the
  tokenizer and the model and tokenising (not importing the model's
  transformers code, which the child does first for every tool that uses
  transformers: see :func:`~_child.import_model_code`);
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

A script with tools of its own (``bench_pairs.py``, ``bench_inference.py``)
defines ``TOOLS`` and ``score`` as this module does and names itself to
:class:`~_child.Runner`; its children then run its tools and score with its
``score``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import tempfile
import time
from collections.abc import Callable
from typing import Any

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
    # Settings of one script's own tools (JSON values), such as timing repeats.
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


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
    return fitted_skbert(job, data)[1]


def fitted_skbert(job: Job, data: Data) -> tuple[Any, dict[str, Any]]:
    """``BertTextClassifier`` fitted for ``job``, and its measured result."""
    from skbert import BertTextClassifier

    clf = BertTextClassifier(**skbert_params(job))
    proba, fit_s, predict_s = fit_predict(clf, data, data["train_y"])
    return clf, measured(
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


def training_arguments(job: Job, output_dir: str, cpu: bool = False) -> Any:
    """The Trainer's arguments for ``job``, as a user sets them: no evaluation,
    checkpoints or logging during training; the CPU when ``cpu`` or when there is
    no GPU."""
    import torch
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir,
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
        use_cpu=cpu or not torch.cuda.is_available(),
        dataloader_num_workers=0,
        fp16=False,
        bf16=False,
    )


def trainer_predict(
    trainer: Any, tokenizer: Any, texts: list[Any], max_length: int
) -> Any:
    """The logits of ``Trainer.predict`` on ``texts`` tokenised, in their order."""
    from torch.utils.data import SequentialSampler

    eval_set = DictDataset(encode(tokenizer, texts, max_length))
    # Trainer.predict keeps the input order only with a sequential sampler.
    assert isinstance(trainer._get_eval_sampler(eval_set), SequentialSampler)
    return trainer.predict(eval_set).predictions


def trainer_fit_predict(
    job: Job, data: Data, classes: list[str] | None
) -> tuple[Any, float, float, dict[str, Any]]:
    """``(test logits, fit s, predict s, details)`` of the Trainer on ``data``.

    ``classes=None`` fits the raw targets with one output and a mean squared error
    loss, as a Trainer user does for regression.
    """
    from transformers import DataCollatorWithPadding, Trainer, set_seed

    output_dir = tempfile.TemporaryDirectory(prefix="bench_trainer_")
    training_args = training_arguments(job, output_dir.name)

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

    logits, predict_s = timed(
        lambda: trainer_predict(trainer, tokenizer, data["eval_x"], job.max_length)
    )
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


def score(job: Job, predicted: list[Any], expected: list[Any]) -> dict[str, Any]:
    """The accuracy of predicted labels."""
    correct = sum(p == y for p, y in zip(predicted, expected, strict=True))
    return {"accuracy": correct / len(expected)}


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
