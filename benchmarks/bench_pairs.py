"""skbert on sentence pairs (STS-B, MRPC, RTE) against the Trainer and two baselines.

On the GLUE pair tasks, each tool fits the training split and predicts the
validation split, in its own child process, one tool after the other (the
harness's :class:`~_child.Runner`):

* ``skbert``: ``BertTextRegressor`` (STS-B) or ``BertTextClassifier`` (MRPC, RTE)
  on an ``(n, 2)`` array of text pairs, default parameters except those the job
  sets;
* ``trainer``: transformers' ``Trainer`` on ``AutoModelForSequenceClassification``,
  pairs tokenised as pairs (``tokenizer(a, b, truncation=True)``),
  ``DataCollatorWithPadding``; for STS-B one output with ``problem_type=
  "regression"`` (mean squared error) on the raw 0-5 scores, as a Trainer user
  would write it, for MRPC and RTE two labels;
* ``tfidf``: no neural network. A ``TfidfVectorizer`` (unigrams and bigrams,
  sublinear tf) fitted on both texts of every training pair; a pair's features are
  the elementwise product of its two TF-IDF vectors, their absolute difference and
  their cosine similarity; ``Ridge`` on them for STS-B, ``LogisticRegression`` for
  MRPC and RTE;
* ``embed`` (STS-B only): no training at all. The cosine similarity of the model's
  mean-pooled, L2-normalised token embeddings of the two texts (the mean of
  ``AutoModel``'s last hidden state over the attention mask, as
  sentence-transformers pools ``all-MiniLM-L6-v2``), scored against the gold
  scores. Its fit s is loading the tokenizer and the model. The published figure
  for this model, about 0.82 Spearman, is on STS-B's test split; on the
  validation split it scores 0.867 (Pearson 0.870).

skbert and the Trainer fine-tune the same model with the same hyperparameters:
3 epochs, lr 1e-4, batch 32, ``max_length`` 128, weight decay 0.01 except on
biases and LayerNorm, linear schedule with 10% warm-up, gradient clipping at 1.0,
fp32, seed 0. Scores on the validation split: Pearson and Spearman correlation for
STS-B, accuracy and F1 of ``equivalent`` for MRPC, accuracy for RTE. For each
dataset the parent prints a Markdown table of the scores, fit and predict seconds
and peak RSS growth, and skbert's ratios and score differences against each tool;
``--json`` writes everything.

Run from the repository root (roughly 40 to 70 minutes on two idle CPU cores,
estimated from the token counts: the Trainer pushes about 3.0 million token slots
through training, skbert about 1.7 million)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_pairs.py \
        --json benchmarks/results/pairs.json

``--n-train 64 --n-test 32`` checks quickly that everything runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _tools
from _child import Runner, resolve_model
from _cli import add_names, benchmark_parser, job_of, names, sample
from _report import (
    SCORE_NAMES,
    machine,
    machine_line,
    median_of,
    number,
    report_settings,
    result_rows,
    round_lines,
    skbert_ratios,
)
from _tools import (
    HF,
    Data,
    Job,
    Tool,
    check_tools,
    skbert_params,
    timed,
    trainer_fit_predict,
)

DEFAULT_TOOLS = ("skbert", "trainer", "tfidf", "embed")
PACKAGES = (
    "skbert",
    "torch",
    "transformers",
    "accelerate",
    "scikit-learn",
    "scipy",
    "tokenizers",
)


@dataclass(frozen=True)
class Dataset:
    """A pair task: its loader, its task and the scores reported for it."""

    title: str
    loader: str
    task: str
    scores: tuple[str, ...]
    positive: str | None = None  # the positive class of F1


DATASETS = {
    "stsb": Dataset("STS-B", "load_stsb", "regression", ("pearson", "spearman")),
    "mrpc": Dataset(
        "MRPC", "load_mrpc", "classification", ("accuracy", "f1"), "equivalent"
    ),
    "rte": Dataset("RTE", "load_rte", "classification", ("accuracy",)),
}
SPLITS = ("train", "validation")


# --------------------------------------------------------------------------- tools


def pair_array(pairs: list[list[str]]) -> Any:
    """The ``(n, 2)`` object array of str that skbert's estimators take."""
    import numpy as np

    array = np.empty((len(pairs), 2), dtype=object)
    array[:] = pairs
    return array


def run_skbert(job: Job, data: Data) -> dict[str, Any]:
    import skbert

    regression = job.task == "regression"
    Estimator = skbert.BertTextRegressor if regression else skbert.BertTextClassifier
    estimator = Estimator(**skbert_params(job))
    X_train, X_eval = pair_array(data["train_x"]), pair_array(data["eval_x"])
    _, fit_s = timed(lambda: estimator.fit(X_train, data["train_y"]))
    predicted, predict_s = timed(lambda: estimator.predict(X_eval))
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "predicted": predicted.tolist(),
        "estimator": type(estimator).__name__,
        "train_loss": float(estimator.loss_curve_[-1]),
        "device": str(estimator.device_),
        "predict_batch_size": 2 * job.batch_size,
    }


def run_trainer(job: Job, data: Data) -> dict[str, Any]:
    if job.task == "classification":
        return _tools.run_trainer(job, data)
    logits, fit_s, predict_s, details = trainer_fit_predict(job, data, None)
    predicted = logits[:, 0].tolist()
    return {"fit_s": fit_s, "predict_s": predict_s, "predicted": predicted, **details}


def run_tfidf(job: Job, data: Data) -> dict[str, Any]:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    model = (
        Ridge()
        if job.task == "regression"
        else LogisticRegression(max_iter=1000, random_state=job.seed)
    )

    def features(pairs: list[list[str]]) -> Any:
        a = vectorizer.transform([pair[0] for pair in pairs])
        b = vectorizer.transform([pair[1] for pair in pairs])
        product = a.multiply(b)
        # TF-IDF rows have unit length: the cosine is the sum of the product.
        cosine = sparse.csr_matrix(product.sum(axis=1))
        return sparse.hstack([product, abs(a - b), cosine], format="csr")

    def fit() -> None:
        vectorizer.fit([text for pair in data["train_x"] for text in pair])
        model.fit(features(data["train_x"]), data["train_y"])

    _, fit_s = timed(fit)
    predicted, predict_s = timed(lambda: model.predict(features(data["eval_x"])))
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "predicted": predicted.tolist(),
        "estimator": type(model).__name__,
        "n_features": len(vectorizer.vocabulary_),
        "train_loss": None,
        "device": "cpu",
        "predict_batch_size": None,
    }


def run_embed(job: Job, data: Data) -> dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from skbert._hub import quiet_transformers

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def load() -> tuple[Any, Any]:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(job.model_dir)
            model = AutoModel.from_pretrained(job.model_dir)
        return tokenizer, model.to(device).eval()

    (tokenizer, model), load_s = timed(load)

    def embed(texts: list[str]) -> Any:
        """Mean-pooled, L2-normalised embeddings, in batches sorted by length."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = torch.empty(len(texts), model.config.hidden_size)
        for start in range(0, len(texts), job.batch_size):
            rows = order[start : start + job.batch_size]
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=job.max_length,
                return_tensors="pt",
            ).to(device)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[rows] = torch.nn.functional.normalize(pooled, dim=1).float().cpu()
        return out

    def predict() -> list[float]:
        with torch.inference_mode():
            a = embed([pair[0] for pair in data["eval_x"]])
            b = embed([pair[1] for pair in data["eval_x"]])
        return (a * b).sum(dim=1).tolist()

    predicted, predict_s = timed(predict)
    return {
        "fit_s": load_s,
        "predict_s": predict_s,
        "predicted": predicted,
        "train_loss": None,
        "device": str(device),
        "predict_batch_size": job.batch_size,
    }


TOOLS: dict[str, Tool] = {
    "skbert": Tool("skbert", (*HF, "skbert"), run_skbert),
    "trainer": Tool("transformers Trainer", (*HF, "transformers.trainer"), run_trainer),
    "tfidf": Tool(
        "TF-IDF pair features",
        ("scipy.sparse", "sklearn.feature_extraction.text", "sklearn.linear_model"),
        run_tfidf,
    ),
    "embed": Tool(
        "mean-pooled embeddings, cosine (no training)",
        (*HF, "transformers.models.auto.modeling_auto"),
        run_embed,
    ),
}
# Table labels that depend on the task.
TASK_LABELS = {
    ("skbert", "classification"): "skbert BertTextClassifier",
    ("skbert", "regression"): "skbert BertTextRegressor",
    ("trainer", "regression"): "transformers Trainer (MSE on raw scores)",
    ("tfidf", "classification"): "TF-IDF pair features + LogisticRegression",
    ("tfidf", "regression"): "TF-IDF pair features + Ridge",
}


def score(job: Job, predicted: list[Any], expected: list[Any]) -> dict[str, Any]:
    """Pearson and Spearman for scores; accuracy and every class's F1 for labels."""
    if job.task == "regression":
        from scipy.stats import pearsonr, spearmanr

        return {
            "pearson": float(pearsonr(predicted, expected)[0]),
            "spearman": float(spearmanr(predicted, expected)[0]),
        }
    from sklearn.metrics import f1_score

    classes = sorted(set(expected) | set(predicted))
    f1 = f1_score(expected, predicted, labels=classes, average=None, zero_division=0)
    return {
        **_tools.score(job, predicted, expected),
        "f1_by_class": dict(zip(classes, f1.tolist(), strict=True)),
    }


def tools_for(task: str) -> dict[str, Tool]:
    """The tools, labelled for ``task``."""
    return {
        name: dataclasses.replace(tool, label=TASK_LABELS.get((name, task), tool.label))
        for name, tool in TOOLS.items()
    }


# --------------------------------------------------------------------------- args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__, "stsb/, mrpc/ and rte/")
    parser.set_defaults(epochs=3, learning_rate=1e-4)
    parser.add_argument(
        "--max-length", type=int, default=128, help="tokens per pair, both texts"
    )
    add_names(parser, "--datasets", DATASETS)
    add_names(parser, "--tools", TOOLS, DEFAULT_TOOLS, " (embed runs on STS-B only)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every tool this many times per dataset, the order reversed on "
        "every other round; tables show each tool's median and the fit time "
        "ratios of every round",
    )
    quick = parser.add_argument_group("quick checks")
    quick.add_argument(
        "--n-train",
        type=int,
        help="seeded sample of every training split; all of it when omitted",
    )
    quick.add_argument(
        "--n-test",
        type=int,
        help="seeded sample of every validation split; all of it when omitted",
    )
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- run


def write_sample(
    runner: Runner, args: argparse.Namespace, dataset: Dataset, n_train: int | None
) -> tuple[Data, Path]:
    """The seeded sample of ``dataset`` that every tool of a run reads (``n_train``
    training rows, all when None; ``--n-test`` validation rows), and where the
    children find it."""
    import skbert.datasets

    data = sample(
        getattr(skbert.datasets, dataset.loader),
        SPLITS,
        args.data_dir,
        n_train,
        args.n_test,
        args.seed,
        float if dataset.task == "regression" else str,
    )
    print(f"{dataset.title}:", file=sys.stderr, flush=True)
    return data, runner.write_data(data)


def run_datasets(
    args: argparse.Namespace, tools: list[str]
) -> Iterator[dict[str, Any]]:
    """Every tool on every dataset; one entry per dataset."""
    model_dir = resolve_model(args.model)
    with Runner(Path(__file__).stem) as runner:
        for key in names(args.datasets, DATASETS, "dataset"):
            dataset = DATASETS[key]
            run = [t for t in tools if t != "embed" or dataset.task == "regression"]
            if not run:
                continue
            data, data_path = write_sample(runner, args, dataset, args.n_train)
            rounds = []
            for round_ in range(args.repeat):
                order = run if round_ % 2 == 0 else run[::-1]
                by_tool = {
                    tool: with_f1(
                        runner.run(job(args, dataset, tool, model_dir), data_path),
                        dataset,
                    )
                    for tool in order
                }
                rounds.append([by_tool[tool] for tool in run])
            results = [
                median_of(runs, dataset.scores) for runs in zip(*rounds, strict=True)
            ]
            yield {
                "dataset": dataset.title,
                "task": dataset.task,
                "scores": list(dataset.scores),
                "splits": list(SPLITS),
                "n_train": len(data["train_x"]),
                "n_eval": len(data["eval_x"]),
                "results": results,
                "skbert_ratios": skbert_ratios(results, dataset.scores),
                "rounds": rounds,
                "round_ratios": [skbert_ratios(r, dataset.scores) for r in rounds],
            }


def job(args: argparse.Namespace, dataset: Dataset, tool: str, model_dir: str) -> Job:
    return dataclasses.replace(
        job_of(args, tool, model_dir, args.max_length), task=dataset.task
    )


def with_f1(result: dict[str, Any], dataset: Dataset) -> dict[str, Any]:
    """``result`` with the F1 of the dataset's positive class as ``f1``."""
    if dataset.positive is not None:
        result["f1"] = result["f1_by_class"].get(dataset.positive, 0.0)
    return result


# --------------------------------------------------------------------------- report


def preamble(args: argparse.Namespace, host: dict[str, Any]) -> str:
    return (
        f"{machine_line(host)}\n"
        f"Fine-tuned tools: {args.epochs} epoch(s), lr {args.learning_rate}, batch "
        f"{args.batch_size}, max_length {args.max_length}, weight decay "
        f"{args.weight_decay}, warm-up ratio {args.warmup_ratio}, max grad norm "
        f"{args.max_grad_norm}, seed {args.seed}.\n"
        "fit s includes loading the tokenizer and model and tokenising (for the "
        "embeddings, which train nothing, it is the loading alone); predict s "
        "includes tokenising. Peak RSS MiB is the growth of each child's peak RSS "
        "over its RSS before loading the model. Differences are skbert's score "
        "minus the peer's, in points (100 x)."
    )


def ratio_rows(
    table: dict[str, dict[str, Any]], scores: tuple[str, ...], tools: dict[str, Tool]
) -> Iterator[str]:
    diffs = "".join(f" {SCORE_NAMES[key]} difference (points) |" for key in scores)
    yield (
        f"| skbert / peer | fit time ratio | predict time ratio |{diffs} "
        "peak RSS ratio |"
    )
    yield "|---|" + "---:|" * (len(scores) + 3)
    for tool, r in table.items():
        values = "".join(f" {r[f'{key}_diff_points']:+.2f} |" for key in scores)
        yield (
            f"| {tools[tool].label} | {number(r['fit_ratio'], '.2f')} | "
            f"{number(r['predict_ratio'], '.2f')} |{values} "
            f"{number(r['peak_rss_ratio'], '.2f')} |"
        )


def section(setting: dict[str, Any]) -> str:
    """One dataset's Markdown: a heading, the results and skbert's ratios."""
    scores = tuple(setting["scores"])
    tools = tools_for(setting["task"])
    train, test = setting["splits"]
    lines = [
        f"#### {setting['dataset']}: {setting['n_train']:,} {train} / "
        f"{setting['n_eval']:,} {test} pairs",
        "",
        *result_rows(setting["results"], scores, tools),
    ]
    if setting["skbert_ratios"]:
        lines += ["", *ratio_rows(setting["skbert_ratios"], scores, tools)]
    if len(setting["rounds"]) > 1 and setting["round_ratios"][0]:
        lines += ["", *round_lines(setting["round_ratios"], tools)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # The children load local files only, unless the caller set HF_HUB_OFFLINE=0.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tools = names(args.tools, TOOLS, "tool")
    check_tools(tools, TOOLS)
    names(args.datasets, DATASETS, "dataset")  # before any child starts
    started = time.perf_counter()
    host = machine(args.threads)
    print(preamble(args, host), flush=True)
    report_settings(args, host, PACKAGES, run_datasets(args, tools), section, started)


if __name__ == "__main__":
    main(sys.argv[1:])
