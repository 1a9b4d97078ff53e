"""skbert on multi-label GoEmotions: tuned thresholds against 0.5, the Trainer, TF-IDF.

GoEmotions gives each Reddit comment 1 to 5 of 28 labels (27 emotions and
``neutral``). Each tool fits a seeded sample of the training split (8,000 of
43,410 comments) as a 0/1 indicator matrix (``MultiLabelBinarizer`` with the
dataset's ``target_names``) and predicts the whole test split (5,427 comments),
in its own child process, one tool after the other (the harness's
:class:`~_child.Runner`):

* ``skbert_auto``: ``BertTextClassifier(threshold="auto", class_weight="balanced")``:
  a sigmoid per label, binary cross-entropy with each label's positive term
  weighted ``n_negatives / n_positives``, and per-label thresholds with the best
  F1 on the 10% of the sample that ``validation_fraction`` holds out (so it
  trains on 90%). The same fitted model is then scored again after
  ``set_params(threshold=0.5)``, with no retraining;
* ``skbert_defaults``: ``BertTextClassifier(threshold="auto")`` with every other
  parameter at skbert's own default (not the fixed settings below), then the
  same model at 0.5;
* ``skbert``: ``BertTextClassifier()`` on the whole sample: plain binary
  cross-entropy, threshold 0.5;
* ``trainer``: transformers' ``Trainer`` on ``AutoModelForSequenceClassification``
  with ``problem_type="multi_label_classification"`` (float 0/1 label vectors,
  ``BCEWithLogitsLoss``), ``DataCollatorWithPadding``, threshold 0.5 (a logit of
  at least 0);
* ``tfidf``: ``TfidfVectorizer`` (unigrams and bigrams, sublinear tf) and
  ``OneVsRestClassifier(LogisticRegression(class_weight="balanced"))``, its
  ``predict`` (probability 0.5).

skbert and the Trainer fine-tune the same model with skbert's defaults: 3 epochs,
lr 1e-4, batch 32, ``max_length`` 128, weight decay 0.01 except on biases and
LayerNorm, linear schedule with 10% warm-up, gradient clipping at 1.0, fp32,
seed 0. Scores on the test split: macro-F1 (the mean F1 of the 28 labels, a label
never predicted and never present counting 0), micro-F1, subset accuracy and the
share of comments given no label at all (every gold comment has one). The parent
prints Markdown tables (scores and times, skbert's ratios to the Trainer, the
issue's targets, F1 by label); ``--json`` writes everything.

Run from the repository root (about 20 to 30 minutes on two CPU cores)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_multilabel.py \
        --json benchmarks/results/multilabel.json

``--n-train 64 --n-test 32`` checks quickly that everything runs.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import _tools
from _child import Runner, resolve_model
from _cli import benchmark_parser, job_of, names, sample
from _report import (
    config_of,
    environment,
    machine,
    machine_line,
    number,
    ratios,
    write_json,
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

DEFAULT_TOOLS = ("skbert_auto", "skbert", "trainer", "tfidf")
PACKAGES = (
    "skbert",
    "torch",
    "transformers",
    "accelerate",
    "scikit-learn",
    "tokenizers",
)
SPLITS = ("train", "test")
# The targets, in macro-F1 points.
AUTO_GAIN_TARGET = 5.0


# --------------------------------------------------------------------------- tools


def indicator(rows: list[list[int]]) -> Any:
    import numpy as np

    return np.asarray(rows, dtype=np.int64)


def run_skbert(
    job: Job, data: Data, *, tuned: bool, defaults: bool = False
) -> dict[str, Any]:
    """skbert at 0.5; ``tuned``: balanced, at "auto", then the same model at 0.5;
    ``defaults``: every parameter at skbert's default but ``threshold="auto"``
    (and the model and seed), then the same model at 0.5."""
    from skbert import BertTextClassifier

    if defaults:
        params = {
            "model_name_or_path": job.model_dir,
            "random_state": job.seed,
            "threshold": "auto",
        }
    elif tuned:
        params = {**skbert_params(job), "threshold": "auto", "class_weight": "balanced"}
    else:
        params = skbert_params(job)
    clf = BertTextClassifier(**params)
    _, fit_s = timed(lambda: clf.fit(data["train_x"], indicator(data["train_y"])))
    predicted, predict_s = timed(lambda: clf.predict(data["eval_x"]))
    result: dict[str, Any] = {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "threshold": str(clf.threshold),
        "predicted": {str(clf.threshold): predicted.tolist()},
        "train_loss": float(clf.loss_curve_[-1]),
        "device": str(clf.device_),
        "predict_batch_size": 2 * job.batch_size,
    }
    if tuned or defaults:
        result["thresholds"] = clf.thresholds_.tolist()
        clf.set_params(threshold=0.5)
        at_half, half_s = timed(lambda: clf.predict(data["eval_x"]))
        result["predicted"]["0.5"] = at_half.tolist()
        result["predict_at_0.5_s"] = half_s
    return result


def run_trainer(job: Job, data: Data) -> dict[str, Any]:
    """The harness's Trainer run with a multi-label head.

    ``trainer_fit_predict`` with ``classes=None`` passes each text's target to the
    Trainer as it is; its regression head is swapped here for one output per
    label and ``problem_type="multi_label_classification"``, so the targets are
    float 0/1 vectors and the loss is ``BCEWithLogitsLoss``, as a Trainer user
    writes multi-label classification.
    """
    labels = data["labels"]

    def multilabel_head(job: Job, classes: None) -> tuple[Any, Any]:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from skbert._hub import quiet_transformers

        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(job.model_dir)
            model = AutoModelForSequenceClassification.from_pretrained(
                job.model_dir,
                num_labels=len(labels),
                problem_type="multi_label_classification",
                id2label=dict(enumerate(labels)),
                label2id={label: i for i, label in enumerate(labels)},
                ignore_mismatched_sizes=True,
            )
        return tokenizer, model

    floats = {**data, "train_y": [[float(v) for v in row] for row in data["train_y"]]}
    with mock.patch.object(_tools, "load_hf", multilabel_head):
        logits, fit_s, predict_s, details = trainer_fit_predict(job, floats, None)
    predicted = (logits >= 0).astype(int).tolist()  # sigmoid(logit) >= 0.5
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "threshold": "0.5",
        "predicted": {"0.5": predicted},
        **details,
    }


def run_tfidf(job: Job, data: Data) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        OneVsRestClassifier(
            LogisticRegression(
                class_weight="balanced", max_iter=1000, random_state=job.seed
            )
        ),
    )
    _, fit_s = timed(lambda: pipeline.fit(data["train_x"], indicator(data["train_y"])))
    predicted, predict_s = timed(lambda: pipeline.predict(data["eval_x"]))
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "threshold": "0.5",
        "predicted": {"0.5": predicted.tolist()},
        "train_loss": None,
        "device": "cpu",
        "predict_batch_size": None,
    }


TOOLS: dict[str, Tool] = {
    "skbert_auto": Tool(
        'skbert, class_weight="balanced"',
        (*HF, "skbert"),
        functools.partial(run_skbert, tuned=True),
    ),
    "skbert": Tool(
        "skbert, plain BCE", (*HF, "skbert"), functools.partial(run_skbert, tuned=False)
    ),
    "skbert_defaults": Tool(
        'skbert, every default, threshold="auto"',
        (*HF, "skbert"),
        functools.partial(run_skbert, tuned=False, defaults=True),
    ),
    "trainer": Tool("transformers Trainer", (*HF, "transformers.trainer"), run_trainer),
    "tfidf": Tool(
        "TF-IDF + one-vs-rest LogisticRegression (balanced)",
        (
            "sklearn.feature_extraction.text",
            "sklearn.linear_model",
            "sklearn.multiclass",
        ),
        run_tfidf,
    ),
}


def score(
    job: Job, predicted: dict[str, list[list[int]]], expected: list[list[int]]
) -> dict[str, Any]:
    """The scores at every threshold a tool predicted at; its own one on top.

    ``predicted`` maps a threshold ("auto", "0.5") to an indicator matrix; the
    first is the tool's own.
    """
    from sklearn.metrics import accuracy_score, f1_score

    truth = indicator(expected)
    by_threshold = {}
    for threshold, rows in predicted.items():
        guess = indicator(rows)

        def f1(average: str | None, guess: Any = guess) -> Any:
            return f1_score(truth, guess, average=average, zero_division=0)

        by_threshold[threshold] = {
            "macro_f1": float(f1("macro")),
            "micro_f1": float(f1("micro")),
            "subset_accuracy": float(accuracy_score(truth, guess)),
            "no_label_share": float((guess.sum(axis=1) == 0).mean()),
            "labels_per_text": float(guess.sum(axis=1).mean()),
            "f1_by_label": f1(None).tolist(),
        }
    own = next(iter(by_threshold.values()))
    return {**own, "by_threshold": by_threshold}


# --------------------------------------------------------------------------- args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__, "goemotions/")
    parser.add_argument("--out", dest="json", type=Path, help="the same as --json")
    parser.set_defaults(epochs=3, learning_rate=1e-4)
    parser.add_argument("--max-length", type=int, default=128, help="tokens per text")
    parser.add_argument(
        "--tools",
        default=",".join(DEFAULT_TOOLS),
        help=f"comma-separated tools to run, in this order: {', '.join(TOOLS)}",
    )
    sizes = parser.add_argument_group("sample sizes")
    sizes.add_argument(
        "--n-train",
        type=int,
        default=8000,
        help="seeded sample of the training split",
    )
    sizes.add_argument(
        "--n-test",
        type=int,
        default=None,
        help="seeded sample of the test split; all 5,427 comments when omitted",
    )
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- run


def goemotions(args: argparse.Namespace) -> Data:
    """The seeded sample, targets as indicator rows, and the label names."""
    from sklearn.preprocessing import MultiLabelBinarizer

    from skbert.datasets import load_goemotions

    data = sample(
        load_goemotions,
        SPLITS,
        args.data_dir,
        args.n_train,
        args.n_test,
        args.seed,
        list,
    )
    labels = load_goemotions(
        SPLITS[1], data_home=args.data_dir, download_if_missing=False
    ).target_names
    binarizer = MultiLabelBinarizer(classes=labels)
    for key in ("train_y", "eval_y"):
        data[key] = binarizer.fit_transform(data[key]).tolist()
    data["labels"] = list(labels)
    return data


def run_tools(args: argparse.Namespace, tools: list[str]) -> dict[str, Any]:
    data = goemotions(args)
    model_dir = resolve_model(args.model)
    with Runner(Path(__file__).stem) as runner:
        data_path = runner.write_data(data)
        results = [
            runner.run(job_of(args, tool, model_dir, args.max_length), data_path)
            for tool in tools
        ]
    by_tool = {result["tool"]: result for result in results}
    trainer = by_tool.get("trainer")
    return {
        "dataset": "GoEmotions",
        "splits": list(SPLITS),
        "n_train": len(data["train_x"]),
        "n_eval": len(data["eval_x"]),
        "labels": data["labels"],
        "train_positives": indicator(data["train_y"]).sum(axis=0).tolist(),
        "test_positives": indicator(data["eval_y"]).sum(axis=0).tolist(),
        "results": results,
        "skbert_ratios": {
            tool: ratios(by_tool[tool], trainer, ("macro_f1", "micro_f1"))
            for tool in ("skbert_auto", "skbert")
            if tool in by_tool and trainer is not None
        },
    }


# --------------------------------------------------------------------------- report


def preamble(args: argparse.Namespace, host: dict[str, Any]) -> str:
    return (
        f"{machine_line(host)}\n"
        f"Model: {args.model}. Fine-tuned tools: {args.epochs} epoch(s), lr "
        f"{args.learning_rate}, batch {args.batch_size}, max_length "
        f"{args.max_length}, weight decay {args.weight_decay}, warm-up ratio "
        f"{args.warmup_ratio}, max grad norm {args.max_grad_norm}, seed "
        f"{args.seed}.\n"
        'skbert with threshold="auto" trains on 90% of the sample and picks each '
        "label's threshold on the other 10%; its 0.5 row is the same fitted model "
        "after set_params(threshold=0.5). fit s includes loading the tokenizer and "
        "model and tokenising; predict s includes tokenising. Peak RSS MiB is the "
        "growth of each child's peak RSS over its RSS before loading the model."
    )


def score_rows(results: list[dict[str, Any]]) -> Iterator[str]:
    """One row per tool and threshold: the scores, times and memory."""
    yield (
        "| tool | threshold | macro-F1 | micro-F1 | subset accuracy | no label | "
        "fit s | predict s | peak RSS MiB |"
    )
    yield "|---|---|" + "---:|" * 7
    for r in results:
        label = TOOLS[r["tool"]].label
        for threshold, s in r["by_threshold"].items():
            own = threshold == r["threshold"]
            fit = f"{r['fit_s']:.1f}" if own else "(same model)"
            predict = r["predict_s"] if own else r["predict_at_0.5_s"]
            memory = f"{r['peak_rss_growth_mib']:.0f}" if own else ""
            yield (
                f"| {label} | {threshold} | {s['macro_f1']:.4f} | "
                f"{s['micro_f1']:.4f} | {s['subset_accuracy']:.4f} | "
                f"{s['no_label_share']:.1%} | {fit} | {predict:.2f} | {memory} |"
            )


def ratio_rows(table: dict[str, dict[str, Any]]) -> Iterator[str]:
    yield (
        "| skbert / Trainer | fit time ratio | predict time ratio | macro-F1 "
        "difference (points) | micro-F1 difference (points) | peak RSS ratio |"
    )
    yield "|---|" + "---:|" * 5
    for tool, r in table.items():
        yield (
            f"| {TOOLS[tool].label} | {number(r['fit_ratio'], '.2f')} | "
            f"{number(r['predict_ratio'], '.2f')} | "
            f"{r['macro_f1_diff_points']:+.2f} | {r['micro_f1_diff_points']:+.2f} | "
            f"{number(r['peak_rss_ratio'], '.2f')} |"
        )


def target_lines(by_tool: dict[str, dict[str, Any]]) -> Iterator[str]:
    """The issues' quality targets, where the run has the tools to check them:
    for each tuned-threshold tool, "auto" against 0.5 on the same model and
    against TF-IDF."""
    for tool in ("skbert_auto", "skbert_defaults"):
        tuned = by_tool.get(tool)
        if tuned is None:
            continue
        label = TOOLS[tool].label
        auto = tuned["by_threshold"]["auto"]["macro_f1"]
        gain = 100 * (auto - tuned["by_threshold"]["0.5"]["macro_f1"])
        met = "met" if gain >= AUTO_GAIN_TARGET else "MISSED"
        yield (
            f"* {label}: auto against 0.5, same model: {gain:+.2f} macro-F1 "
            f"points (target >= +{AUTO_GAIN_TARGET:.0f}): {met}"
        )
        if "tfidf" in by_tool:
            gain = 100 * (auto - by_tool["tfidf"]["macro_f1"])
            met = "met" if gain > 0 else "MISSED"
            yield (
                f"* {label}: auto against TF-IDF + logistic regression: "
                f"{gain:+.2f} macro-F1 points (target > 0): {met}"
            )


def label_rows(setting: dict[str, Any]) -> Iterator[str]:
    """F1 of every label, for every tool and threshold."""
    columns = [
        (r, threshold) for r in setting["results"] for threshold in r["by_threshold"]
    ]
    heads = "".join(f" {r['tool']} at {threshold} |" for r, threshold in columns)
    tuned = next((r for r in setting["results"] if "thresholds" in r), None)
    auto_head = " auto threshold |" if tuned else ""
    yield f"| label | train positives | test positives |{auto_head}{heads}"
    yield "|---|---:|---:|" + "---:|" * (len(columns) + bool(tuned))
    for j, label in enumerate(setting["labels"]):
        auto = f" {tuned['thresholds'][j]:.3f} |" if tuned else ""
        values = "".join(
            f" {r['by_threshold'][threshold]['f1_by_label'][j]:.3f} |"
            for r, threshold in columns
        )
        yield (
            f"| {label} | {setting['train_positives'][j]} | "
            f"{setting['test_positives'][j]} |{auto}{values}"
        )


def section(setting: dict[str, Any]) -> str:
    by_tool = {r["tool"]: r for r in setting["results"]}
    lines = [
        f"#### GoEmotions: {setting['n_train']:,} train / {setting['n_eval']:,} "
        f"test comments, {len(setting['labels'])} labels",
        "",
        *score_rows(setting["results"]),
    ]
    if setting["skbert_ratios"]:
        lines += ["", *ratio_rows(setting["skbert_ratios"])]
    targets = list(target_lines(by_tool))
    if targets:
        lines += ["", "Targets:", "", *targets]
    lines += ["", "F1 by label:", "", *label_rows(setting)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # The children load local files only, unless the caller set HF_HUB_OFFLINE=0.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tools = names(args.tools, TOOLS, "tool")
    check_tools(tools, TOOLS)
    started = time.perf_counter()
    host = machine(args.threads)
    print(preamble(args, host), flush=True)
    setting = run_tools(args, tools)
    print(f"\n{section(setting)}", flush=True)
    total_s = time.perf_counter() - started
    print(f"\nTotal wall time: {total_s / 60:.1f} min")
    if args.json is not None:
        report = {
            "config": config_of(args),
            "environment": {**environment(PACKAGES), "machine": host},
            "settings": [setting],
            "total_s": total_s,
        }
        write_json(args.json, report)


if __name__ == "__main__":
    main(sys.argv[1:])
