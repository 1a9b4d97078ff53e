"""LoRA adapters against full fine-tuning, each at skbert's defaults.

On SST-2 (a seeded sample of 2,000 training sentences, all 872 validation
sentences), MRPC and STS-B (whole training split, validation split), each tool
fits and predicts in its own child process, one after the other (the harness's
:class:`~_child.Runner`):

* ``full``: ``BertTextClassifier`` (``BertTextRegressor`` for STS-B) at its
  defaults, every weight trained;
* ``lora``: the same with ``adapter="lora"`` and the adapter's defaults (rank 8);
* ``lora-r4``, ``lora-r16``: ranks 4 and 16.

``--learning-rate`` sets every tool's rate (skbert's default when omitted) and
``--lora-learning-rate`` the adapters' alone. Each row reports the score (accuracy
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
from _cli import add_common_arguments, add_names, names, sample
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
from bench_pairs import Dataset, pair_array, score  # noqa: F401 (score: children)

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
        "learning_rate": estimator.learning_rate,
        "n_iter": estimator.n_iter_,
        "train_loss": float(estimator.loss_curve_[-1]),
        "device": str(estimator.device_),
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


def options_of(args: argparse.Namespace, tool: str) -> dict[str, Any]:
    """The estimator parameters of ``tool`` besides the model and the seed."""
    options: dict[str, Any] = {}
    if args.learning_rate is not None:
        options["learning_rate"] = args.learning_rate
    if tool in ADAPTERS:
        options.update(adapter="lora", adapter_rank=ADAPTERS[tool])
        if args.lora_learning_rate is not None:
            options["learning_rate"] = args.lora_learning_rate
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
    add_names(parser, "--datasets", DATASETS)
    add_names(parser, "--tools", TOOLS)
    quick = parser.add_argument_group("quick checks")
    quick.add_argument("--n-train", type=int, help="training sample of every task")
    quick.add_argument("--n-test", type=int, help="validation sample of every task")
    return parser.parse_args(argv)


def run_datasets(
    args: argparse.Namespace, tools: list[str]
) -> Iterator[dict[str, Any]]:
    import skbert.datasets

    model_dir = resolve_model(args.model)
    with Runner(Path(__file__).stem) as runner:
        for key in names(args.datasets, DATASETS, "dataset"):
            dataset = DATASETS[key]
            n_train = args.n_train or (SST2_TRAIN if key == "sst2" else None)
            data = sample(
                getattr(skbert.datasets, dataset.loader),
                SPLITS,
                args.data_dir,
                n_train,
                args.n_test,
                args.seed,
                float if dataset.task == "regression" else str,
            )
            data_path = runner.write_data(data)
            print(f"{dataset.title}:", file=sys.stderr, flush=True)
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tools = names(args.tools, TOOLS, "tool")
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
