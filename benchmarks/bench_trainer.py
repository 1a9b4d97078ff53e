"""skbert's BertTextClassifier against transformers' Trainer, in one run.

Both tools fine-tune the same model on the same seeded SST-2 sample with the same
hyperparameters, then predict the SST-2 validation sentences. Each tool runs in its
own child process (one after the other, never in parallel) so that its peak memory
is its own. The parent prints a Markdown table, the skbert/Trainer ratios and the
targets, and can write everything to JSON.

What is timed, identically for both tools:

* fit: from raw texts and labels to a trained model: loading the tokenizer and
  the model, tokenising, building the trainer (Trainer only) and training.
* predict: from raw texts to class scores: ``clf.predict_proba(texts)`` against
  tokenising the texts and ``Trainer.predict`` (logits).

The Trainer runs as a user would run it: ``DataCollatorWithPadding`` (dynamic
padding), the default random sampler (no length grouping), the default optimizer,
no evaluation, logging or checkpoints during training.

Run from the repository root (on two CPU cores a full run
takes several minutes per tool)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_trainer.py \
        --json benchmarks/results/trainer.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from _harness import (
    Runner,
    add_common_arguments,
    check_tools,
    config_of,
    environment,
    job_of,
    ratios,
    resolve_model,
    result_rows,
    sample,
    write_json,
)

TOOLS = ("skbert", "trainer")
TARGETS = {"fit_ratio": 0.6, "predict_ratio": 0.6, "accuracy_diff_points": 1.5}


# --------------------------------------------------------------------------- args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_common_arguments(
        parser,
        "folder holding sst2/train.csv.gz and sst2/validation.csv.gz: "
        "$SKBERT_DATA, else ../shared/data beside the repository",
    )
    parser.add_argument(
        "--n-train", type=int, default=2000, help="seeded sample of the training split"
    )
    parser.add_argument(
        "--n-eval",
        type=int,
        default=None,
        help="seeded sample of the validation split, for quick tests; all 872 "
        "sentences when omitted",
    )
    parser.add_argument(
        "--max-length", type=int, default=128, help="truncation length in tokens"
    )
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="comma-separated tools to run, in this order",
    )
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- parent


def run_tools(args: argparse.Namespace) -> list[dict[str, Any]]:
    from skbert.datasets import load_sst2

    tools = [name.strip() for name in args.tools.split(",") if name.strip()]
    for tool in tools:
        if tool not in TOOLS:
            raise SystemExit(f"Unknown tool {tool!r}; choose from {TOOLS}.")
    check_tools(tools)
    splits = ("train", "validation")
    data = sample(
        load_sst2, splits, args.data_dir, args.n_train, args.n_eval, args.seed
    )
    model_dir = resolve_model(args.model)
    with Runner() as runner:
        data_path = runner.write_data(data)
        return [
            runner.run(job_of(args, tool, model_dir, args.max_length), data_path)
            for tool in tools
        ]


def compare(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_tool = {result["tool"]: result for result in results}
    if set(TOOLS) - set(by_tool):
        return {}
    all_ratios = ratios(by_tool["skbert"], by_tool["trainer"])
    values = {key: all_ratios[key] for key in TARGETS}
    passed = {
        "fit_ratio": values["fit_ratio"] <= TARGETS["fit_ratio"],
        "predict_ratio": values["predict_ratio"] <= TARGETS["predict_ratio"],
        "accuracy_diff_points": abs(values["accuracy_diff_points"])
        <= TARGETS["accuracy_diff_points"],
    }
    return {"values": values, "targets": TARGETS, "passed": passed}


def markdown(results: list[dict[str, Any]], comparison: dict[str, Any]) -> str:
    lines = list(result_rows(results))
    if not comparison:
        return "\n".join(lines)
    values, passed = comparison["values"], comparison["passed"]
    lines += [
        "",
        "| skbert / Trainer | value | target | result |",
        "|---|---:|---:|---|",
        f"| fit time ratio | {values['fit_ratio']:.2f} | <= {TARGETS['fit_ratio']} | "
        f"{'PASS' if passed['fit_ratio'] else 'FAIL'} |",
        f"| predict time ratio | {values['predict_ratio']:.2f} | "
        f"<= {TARGETS['predict_ratio']} | "
        f"{'PASS' if passed['predict_ratio'] else 'FAIL'} |",
        f"| accuracy difference (points) | {values['accuracy_diff_points']:+.2f} | "
        f"within ±{TARGETS['accuracy_diff_points']} | "
        f"{'PASS' if passed['accuracy_diff_points'] else 'FAIL'} |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # The children load local files only, unless the caller set HF_HUB_OFFLINE=0.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    results = run_tools(args)
    comparison = compare(results)
    first = results[0]
    print(
        f"\nSST-2: {first['n_train']} training sentences (seed {args.seed}), "
        f"{first['n_eval']} validation sentences; {args.epochs} epoch(s), "
        f"lr {args.learning_rate}, batch {args.batch_size}, max_length "
        f"{args.max_length}; device {first['device']}, "
        f"{first['torch_threads']} torch threads.\n"
        "fit s includes loading the tokenizer and model and tokenising; predict s "
        "includes tokenising. Peak RSS MiB is the growth of each child's peak RSS "
        "over its RSS before loading the model.\n"
    )
    print(markdown(results, comparison))
    if args.json is not None:
        packages = ("skbert", "torch", "transformers", "accelerate", "scikit-learn")
        report = {
            "config": config_of(args),
            "environment": environment(packages),
            "results": results,
            "comparison": comparison,
            "total_s": time.perf_counter() - started,
        }
        write_json(args.json, report)


if __name__ == "__main__":
    main(sys.argv[1:])
