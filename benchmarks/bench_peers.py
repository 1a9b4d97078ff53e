"""skbert's BertTextClassifier against the tools users would pick instead, in one run.

On SST-2 and IMDB, each tool fits a seeded training sample and predicts a seeded
test sample, in its own child process, one tool after the other:

* skbert: ``BertTextClassifier`` (length-grouped, dynamically padded batches);
* transformers' ``Trainer`` (dynamic padding, random batches);
* a plain PyTorch loop that pads every text to ``max_length``, as bert-sklearn,
  skorch's Hugging Face tokenizer, simpletransformers and ktrain do;
* skorch: ``HuggingfacePretrainedTokenizer`` + ``NeuralNetClassifier``;
* TF-IDF + ``LogisticRegression``, the non-neural baseline.

The four neural tools fine-tune the same model with the same hyperparameters
(1 epoch, lr 5e-5, batch 32, weight decay 0.01 except on biases and LayerNorm,
linear schedule with 10% warm-up, gradient clipping at 1.0, fp32, seed 0). The
parent prints, for each dataset and ``max_length``, a Markdown table of accuracy,
fit and predict seconds and peak RSS growth, and skbert's ratios against each
tool; where a setting has targets against the Trainer (SST-2: fit and predict
time at most 0.6x the Trainer's, accuracy within 1.5 points), a table of them.
``--json`` writes everything.

Run from the repository root (about 25 minutes on two idle CPU cores)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_peers.py \
        --json benchmarks/results/peers.json

skbert against the Trainer alone on SST-2 (what ``bench_trainer.py`` did;
``--n-train``, ``--n-eval`` and ``--max-length`` work as they did there)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_peers.py --datasets sst2 \
        --tools skbert,trainer --json benchmarks/results/trainer.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from _child import Runner, resolve_model
from _cli import benchmark_parser, job_of, names, sample
from _report import (
    machine,
    machine_line,
    median_of,
    number,
    report_settings,
    result_rows,
    round_lines,
    skbert_ratios,
)
from _tools import TOOLS, check_tools

DEFAULT_TOOLS = ("skbert", "trainer", "padded", "skorch", "tfidf")
# skbert / Trainer targets of a setting: time ratios at most, accuracy within.
TRAINER_TARGETS = {"fit_ratio": 0.6, "predict_ratio": 0.6, "accuracy_diff_points": 1.5}
PACKAGES = (
    "skbert",
    "torch",
    "transformers",
    "accelerate",
    "skorch",
    "scikit-learn",
    "tokenizers",
)


@dataclass(frozen=True)
class Dataset:
    """A dataset as the benchmark samples it."""

    title: str
    loader: str
    splits: tuple[str, str]
    n_train: int | None
    n_eval: int | None
    max_lengths: tuple[int, ...]
    targets: dict[str, float] | None = None  # against the Trainer


# --------------------------------------------------------------------------- args


def lengths(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__, "sst2/ and imdb/")
    parser.add_argument(
        "--datasets", default="sst2,imdb", help="comma-separated: sst2, imdb"
    )
    parser.add_argument(
        "--tools",
        default=",".join(DEFAULT_TOOLS),
        help=f"comma-separated tools to run, in this order: {', '.join(TOOLS)}",
    )
    sst2 = parser.add_argument_group("SST-2")
    sst2.add_argument(
        "--sst2-train",
        type=int,
        default=2000,
        help="seeded sample of the 67,349 training sentences",
    )
    sst2.add_argument(
        "--sst2-full",
        action="store_true",
        help="train on all 67,349 training sentences instead (hours on two CPU "
        "cores: about an hour for each padded tool)",
    )
    sst2.add_argument(
        "--sst2-eval",
        type=int,
        default=None,
        help="seeded sample of the 872 validation sentences; all when omitted",
    )
    sst2.add_argument(
        "--sst2-max-lengths", type=lengths, default="128", help="comma-separated"
    )
    imdb = parser.add_argument_group("IMDB")
    imdb.add_argument(
        "--imdb-train",
        type=int,
        default=1000,
        help="seeded sample of the 25,000 training reviews",
    )
    imdb.add_argument(
        "--imdb-test",
        type=int,
        default=1000,
        help="seeded sample of the 25,000 test reviews",
    )
    imdb.add_argument(
        "--imdb-max-lengths", type=lengths, default="128,256", help="comma-separated"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every tool this many times per setting, the order reversed on "
        "every other round; tables show each tool's median and the ratios of "
        "every round",
    )
    quick = parser.add_argument_group("quick checks")
    quick.add_argument(
        "--n-train", type=int, help="training sample of every dataset, overriding"
    )
    quick.add_argument(
        "--n-test",
        "--n-eval",
        dest="n_test",
        type=int,
        help="test sample of every dataset, overriding",
    )
    quick.add_argument(
        "--max-length",
        type=int,
        help="the one max_length of every dataset, overriding the lists above",
    )
    return parser.parse_args(argv)


def datasets(args: argparse.Namespace) -> list[Dataset]:
    def size(override: int | None, default: int | None) -> int | None:
        return default if override is None else override

    def max_lengths(default: tuple[int, ...]) -> tuple[int, ...]:
        return default if args.max_length is None else (args.max_length,)

    known = {
        "sst2": Dataset(
            "SST-2",
            "load_sst2",
            ("train", "validation"),
            size(args.n_train, None if args.sst2_full else args.sst2_train),
            size(args.n_test, args.sst2_eval),
            max_lengths(args.sst2_max_lengths),
            TRAINER_TARGETS,
        ),
        "imdb": Dataset(
            "IMDB",
            "load_imdb",
            ("train", "test"),
            size(args.n_train, args.imdb_train),
            size(args.n_test, args.imdb_test),
            max_lengths(args.imdb_max_lengths),
        ),
    }
    return [known[name] for name in names(args.datasets, known, "dataset")]


# --------------------------------------------------------------------------- run


def run_settings(
    args: argparse.Namespace, tools: list[str]
) -> Iterator[dict[str, Any]]:
    """Every tool on every dataset and max_length; one entry per setting."""
    import skbert.datasets

    model_dir = resolve_model(args.model)
    with Runner() as runner:
        for dataset in datasets(args):
            loader = getattr(skbert.datasets, dataset.loader)
            data = sample(
                loader,
                dataset.splits,
                args.data_dir,
                dataset.n_train,
                dataset.n_eval,
                args.seed,
            )
            data_path = runner.write_data(data)
            for max_length in dataset.max_lengths:
                print(
                    f"{dataset.title}, max_length {max_length}:",
                    file=sys.stderr,
                    flush=True,
                )
                rounds = []
                for round_ in range(args.repeat):
                    order = tools if round_ % 2 == 0 else tools[::-1]
                    by_tool = {
                        tool: runner.run(
                            job_of(args, tool, model_dir, max_length), data_path
                        )
                        for tool in order
                    }
                    rounds.append([by_tool[tool] for tool in tools])
                results = [
                    median_of(runs, ("accuracy",)) for runs in zip(*rounds, strict=True)
                ]
                against = skbert_ratios(results)
                yield {
                    "dataset": dataset.title,
                    "splits": list(dataset.splits),
                    "max_length": max_length,
                    "n_train": len(data["train_x"]),
                    "n_eval": len(data["eval_x"]),
                    "results": results,
                    "skbert_ratios": against,
                    "trainer_targets": trainer_targets(against, dataset.targets),
                    "rounds": rounds,
                    "round_ratios": [skbert_ratios(r) for r in rounds],
                }


def trainer_targets(
    against: dict[str, dict[str, Any]], targets: dict[str, float] | None
) -> dict[str, Any]:
    """skbert's ratios to the Trainer, the targets and whether each was met."""
    if targets is None or "trainer" not in against:
        return {}
    values = {key: against["trainer"][key] for key in targets}
    passed = {
        key: value is not None
        and (abs(value) if key.endswith("_points") else value) <= targets[key]
        for key, value in values.items()
    }
    return {"values": values, "targets": targets, "passed": passed}


# --------------------------------------------------------------------------- report


def ratio_rows(table: dict[str, dict[str, Any]]) -> Iterator[str]:
    yield (
        "| skbert / peer | fit time ratio | predict time ratio | "
        "accuracy difference (points) | peak RSS ratio |"
    )
    yield "|---|---:|---:|---:|---:|"
    for tool, r in table.items():
        yield (
            f"| {TOOLS[tool].label} | {number(r['fit_ratio'], '.2f')} | "
            f"{number(r['predict_ratio'], '.2f')} | "
            f"{r['accuracy_diff_points']:+.2f} | "
            f"{number(r['peak_rss_ratio'], '.2f')} |"
        )


def target_rows(comparison: dict[str, Any]) -> Iterator[str]:
    """skbert's ratios to the Trainer against their targets."""
    rows = {
        "fit_ratio": ("fit time ratio", ".2f", "<= {}"),
        "predict_ratio": ("predict time ratio", ".2f", "<= {}"),
        "accuracy_diff_points": ("accuracy difference (points)", "+.2f", "within ±{}"),
    }
    yield "| skbert / Trainer | value | target | result |"
    yield "|---|---:|---:|---|"
    for key, (name, spec, target) in rows.items():
        met = "PASS" if comparison["passed"][key] else "FAIL"
        yield (
            f"| {name} | {number(comparison['values'][key], spec)} | "
            f"{target.format(comparison['targets'][key])} | {met} |"
        )


def preamble(args: argparse.Namespace, host: dict[str, Any]) -> str:
    return (
        f"{machine_line(host)}\n"
        f"Neural tools: {args.epochs} epoch(s), lr {args.learning_rate}, batch "
        f"{args.batch_size}, weight decay {args.weight_decay}, warm-up ratio "
        f"{args.warmup_ratio}, max grad norm {args.max_grad_norm}, seed "
        f"{args.seed}.\nfit s includes loading the tokenizer and model and tokenising; "
        "predict s includes tokenising. Peak RSS MiB is the growth of each child's "
        "peak RSS over its RSS before loading the model."
    )


def section(setting: dict[str, Any]) -> str:
    """One setting's Markdown: a heading, the results and skbert's ratios."""
    train, test = setting["splits"]
    lines = [
        f"#### {setting['dataset']}, max_length {setting['max_length']}: "
        f"{setting['n_train']:,} {train} / {setting['n_eval']:,} {test} texts",
        "",
        *result_rows(setting["results"], ("accuracy",), TOOLS),
    ]
    if setting["skbert_ratios"]:
        lines += ["", *ratio_rows(setting["skbert_ratios"])]
    if setting["trainer_targets"]:
        lines += ["", *target_rows(setting["trainer_targets"])]
    if len(setting["rounds"]) > 1:
        lines += ["", *round_lines(setting["round_ratios"], TOOLS)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # The children load local files only, unless the caller set HF_HUB_OFFLINE=0.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tools = names(args.tools, TOOLS, "tool")
    check_tools(tools)
    datasets(args)  # reject an unknown dataset before any child starts
    started = time.perf_counter()
    host = machine(args.threads)
    print(preamble(args, host), flush=True)
    report_settings(args, host, PACKAGES, run_settings(args, tools), section, started)


if __name__ == "__main__":
    main(sys.argv[1:])
