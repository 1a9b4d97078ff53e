"""LoRA adapters against full fine-tuning, each at skbert's defaults.

On SST-2 (a seeded sample of 2,000 training sentences, all 872 validation
sentences), MRPC and STS-B (whole training split, validation split), each tool
fits and predicts in its own child process, one after the other (the harness's
:class:`~_child.Runner`):

* ``full``: ``BertTextClassifier`` (``BertTextRegressor`` for STS-B) at its
  defaults, every weight trained;
* ``lora``: the same with ``adapter="lora"`` and the adapter's defaults (rank 8);
* ``lora-r4``, ``lora-r16``: ranks 4 and 16.

``--learning-rate`` sets every tool's rate (skbert's default when omitted),
``--lora-learning-rate`` the adapters' alone and ``--lora-modules`` the layers
they adapt ("attention" or "all-linear"). Each row reports the score (accuracy
for SST-2 and MRPC, Pearson and Spearman for STS-B), fit and predict seconds, peak
RSS growth, trainable parameters and the bytes of the pickled fitted estimator
(``pickle.dumps``: for an adapter model the adapter, head, tokenizer and base
reference, for full fine-tuning the whole model); then each adapter tool's ratios
against full fine-tuning. ``--json`` writes everything.

Run from the repository root::

    HF_HUB_OFFLINE=1 python benchmarks/bench_adapters.py \
        --json benchmarks/results/adapters.json

``--datasets sst2 --tools full,lora`` is the reduced run; ``--n-train 64
--n-test 32`` checks quickly that everything runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _child import Runner, resolve_model
from _cli import add_common_arguments, add_names, names
from _report import (
    SCORE_NAMES,
    machine,
    machine_line,
    number,
    ratios,
    report_settings,
    result_rows,
)
from _tools import Data, Job, Tool, timed
from bench_pairs import (  # noqa: F401 (score: children)
    Dataset,
    pair_array,
    score,
    write_sample,
)

DATASETS = {
    "sst2": Dataset("SST-2", "load_sst2", "classification", ("accuracy",)),
    "mrpc": Dataset("MRPC", "load_mrpc", "classification", ("accuracy",)),
    "stsb": Dataset("STS-B", "load_stsb", "regression", ("pearson", "spearman")),
}
# Training sentences of SST-2's seeded sample; the pair tasks train on all.
SST2_TRAIN = 2000
SPLITS = ("train", "validation")
PACKAGES = ("skbert", "torch", "transformers", "peft", "scikit-learn", "scipy")


def run_skbert(job: Job, data: Data) -> dict[str, Any]:
    import pickle

    import numpy as np

    import skbert

    regression = job.task == "regression"
    Estimator = skbert.BertTextRegressor if regression else skbert.BertTextClassifier
    estimator = Estimator(job.model_dir, random_state=job.seed, **job.options)
    pairs = isinstance(data["train_x"][0], list)
    X_train, X_eval = (
        (pair_array(data["train_x"]), pair_array(data["eval_x"]))
        if pairs
        else (data["train_x"], data["eval_x"])
    )
    y = np.asarray(data["train_y"], dtype=float if regression else object)
    _, fit_s = timed(lambda: estimator.fit(X_train, y))
    predicted, predict_s = timed(lambda: estimator.predict(X_eval))
    model = estimator.model_
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "predicted": predicted.tolist(),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "pickle_bytes": len(pickle.dumps(estimator)),
        "learning_rate": estimator._learning_rate(),  # "auto" resolved
        "n_iter": estimator.n_iter_,
        "train_loss": float(estimator.loss_curve_[-1]),
        "device": str(estimator.device_),
    }


def run_grid(job: Job, data: Data) -> dict[str, Any]:
    """A 12-candidate ``GridSearchCV`` (2 folds, ``n_jobs=1``) around the tool's
    default learning rate: its time, the bytes of the pickled search (the refitted
    best estimator inside) and, through the child, its peak memory."""
    import pickle

    import numpy as np
    from sklearn.model_selection import GridSearchCV

    import skbert

    options = dict(job.options)
    rate = options.pop("learning_rate")
    search = GridSearchCV(
        skbert.BertTextClassifier(job.model_dir, random_state=job.seed, **options),
        {
            "learning_rate": [rate / 2, rate, rate * 2],
            "epochs": [1, 2],
            "warmup_ratio": [0.0, 0.1],
        },
        cv=2,
        n_jobs=1,
    )
    y = np.asarray(data["train_y"], dtype=object)
    _, fit_s = timed(lambda: search.fit(data["train_x"], y))
    predicted, predict_s = timed(lambda: search.predict(data["eval_x"]))
    model = search.best_estimator_.model_
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "predicted": predicted.tolist(),
        "candidates": len(search.cv_results_["params"]),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "pickle_bytes": len(pickle.dumps(search)),
        "learning_rate": search.best_params_["learning_rate"],
        "n_iter": search.best_estimator_.n_iter_,
    }


HF = ("torch", "transformers", "skbert")
ADAPTERS = {"lora": 8, "lora-r4": 4, "lora-r16": 16}
TOOLS: dict[str, Tool] = {
    "full": Tool("full fine-tuning", HF, run_skbert),
    **{
        name: Tool(f"LoRA rank {rank}", (*HF, "peft"), run_skbert)
        for name, rank in ADAPTERS.items()
    },
}
# The grid-search memory setting: the centre of each grid is the documented
# default rate of ``learning_rate="auto"`` (full 1e-4, LoRA 2e-3).
GRID_TOOLS: dict[str, Tool] = {
    "grid-full": Tool("GridSearchCV, full fine-tuning", HF, run_grid),
    "grid-lora": Tool("GridSearchCV, LoRA rank 8", (*HF, "peft"), run_grid),
}
GRID_RATES = {"grid-full": 1e-4, "grid-lora": 2e-3}
# Training sentences of the grid's SST-2 sample: memory, not the score, is the point.
GRID_TRAIN = 400
FITS = tuple(TOOLS)  # what --tools chooses from
TOOLS.update(GRID_TOOLS)


def options_of(args: argparse.Namespace, tool: str) -> dict[str, Any]:
    """The estimator parameters of ``tool`` besides the model and the seed."""
    if tool in GRID_TOOLS:
        adapter = {"adapter": "lora"} if tool == "grid-lora" else {}
        return {"learning_rate": GRID_RATES[tool], **adapter}
    options: dict[str, Any] = {}
    if args.learning_rate is not None:
        options["learning_rate"] = args.learning_rate
    if tool in ADAPTERS:
        options.update(adapter="lora", adapter_rank=ADAPTERS[tool])
        if args.lora_learning_rate is not None:
            options["learning_rate"] = args.lora_learning_rate
        if args.lora_modules is not None:
            options["adapter_modules"] = args.lora_modules
    return options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_common_arguments(
        parser, "folder holding sst2/, mrpc/ and stsb/", hyperparameters=False
    )
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--lora-learning-rate", type=float, default=None)
    parser.add_argument(
        "--lora-modules",
        choices=("attention", "all-linear"),
        default=None,
        help="the adapters' adapter_modules (skbert's default when omitted)",
    )
    add_names(parser, "--datasets", DATASETS)
    add_names(
        parser, "--tools", {k: v for k, v in TOOLS.items() if k not in GRID_TOOLS}
    )
    parser.add_argument(
        "--grid",
        action="store_true",
        help=f"also a 12-candidate GridSearchCV both ways on {GRID_TRAIN} SST-2 "
        "sentences: time, peak memory, pickled size",
    )
    quick = parser.add_argument_group("quick checks")
    quick.add_argument("--n-train", type=int, help="training sample of every task")
    quick.add_argument("--n-test", type=int, help="validation sample of every task")
    return parser.parse_args(argv)


def run_datasets(
    args: argparse.Namespace, tools: list[str]
) -> Iterator[dict[str, Any]]:
    model_dir = resolve_model(args.model)
    with Runner(Path(__file__).stem) as runner:
        for key in names(args.datasets, DATASETS, "dataset"):
            dataset = DATASETS[key]
            n_train = args.n_train or (SST2_TRAIN if key == "sst2" else None)
            data, data_path = write_sample(runner, args, dataset, n_train)
            results = [
                runner.run(job(args, dataset, tool, model_dir), data_path)
                for tool in tools
            ]
            yield {
                "dataset": dataset.title,
                "scores": list(dataset.scores),
                "n_train": len(data["train_x"]),
                "n_eval": len(data["eval_x"]),
                "results": results,
            }
        if args.grid:
            dataset = DATASETS["sst2"]
            data, data_path = write_sample(
                runner, args, dataset, args.n_train or GRID_TRAIN
            )
            yield {
                "dataset": f"{dataset.title}, GridSearchCV",
                "grid": True,
                "scores": list(dataset.scores),
                "n_train": len(data["train_x"]),
                "n_eval": len(data["eval_x"]),
                "results": [
                    runner.run(job(args, dataset, tool, model_dir), data_path)
                    for tool in GRID_TOOLS
                ],
            }


def job(args: argparse.Namespace, dataset: Dataset, tool: str, model_dir: str) -> Job:
    return Job(
        tool=tool,
        model_dir=model_dir,
        seed=args.seed,
        threads=args.threads,
        task=dataset.task,
        options=options_of(args, tool),
    )


def section(setting: dict[str, Any]) -> str:
    """One dataset's Markdown: scores and costs, then LoRA against full."""
    scores = tuple(setting["scores"])
    results = setting["results"]
    if setting.get("grid"):
        return grid_section(setting)
    lines = [
        f"#### {setting['dataset']}: {setting['n_train']:,} train / "
        f"{setting['n_eval']:,} validation",
        "",
        *result_rows(results, scores, TOOLS),
        "",
        "| tool | learning rate | epochs | trainable parameters | pickle MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {TOOLS[r['tool']].label} | {r['learning_rate']:g} | {r['n_iter']} | "
            f"{r['trainable']:,} | {r['pickle_bytes'] / 1e6:.2f} |"
        )
    full = next((r for r in results if r["tool"] == "full"), None)
    adapters = [r for r in results if r["tool"] in ADAPTERS]
    if full is not None and adapters:
        diffs = "".join(f" {SCORE_NAMES[key]} difference (points) |" for key in scores)
        lines += [
            "",
            f"| LoRA / full | fit time ratio | predict time ratio |{diffs} "
            "peak RSS ratio |",
            "|---|" + "---:|" * (len(scores) + 3),
        ]
        for r in adapters:
            share = ratios(r, full, scores)
            values = "".join(f" {share[f'{k}_diff_points']:+.2f} |" for k in scores)
            lines.append(
                f"| {TOOLS[r['tool']].label} | {number(share['fit_ratio'], '.2f')} | "
                f"{number(share['predict_ratio'], '.2f')} |{values} "
                f"{number(share['peak_rss_ratio'], '.2f')} |"
            )
    return "\n".join(lines)


def grid_section(setting: dict[str, Any]) -> str:
    """The grid search both ways: time, peak memory, pickled search."""
    results = setting["results"]
    lines = [
        f"#### {setting['dataset']}: {results[0]['candidates']} candidates x 2 "
        f"folds, {setting['n_train']:,} train / {setting['n_eval']:,} validation",
        "",
        *result_rows(results, tuple(setting["scores"]), TOOLS),
        "",
        "| search | best learning rate | trainable parameters | pickled search MB |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {TOOLS[r['tool']].label} | {r['learning_rate']:g} | "
            f"{r['trainable']:,} | {r['pickle_bytes'] / 1e6:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tools = names(args.tools, FITS, "tool")
    names(args.datasets, DATASETS, "dataset")
    started = time.perf_counter()
    host = machine(args.threads)
    print(
        f"{machine_line(host)}\nEvery tool at skbert's defaults (3 epochs, "
        "batch 32, max_length 128) unless the options say otherwise; seed "
        f"{args.seed}. fit s includes loading and tokenising.",
        flush=True,
    )
    report_settings(args, host, PACKAGES, run_datasets(args, tools), section, started)


if __name__ == "__main__":
    main(sys.argv[1:])
