"""skbert's ways of reading long texts on IMDB: truncate, head_tail and chunk.

Most IMDB reviews are longer than 128 tokens. Each tool fits a seeded sample of
1,000 training reviews and predicts a seeded sample of 1,000 test reviews at
``max_length`` 128, in its own child process, one after the other (the harness's
:class:`~_child.Runner`):

* ``truncate``: ``BertTextClassifier(long_text="truncate")``, the default: the
  first 126 tokens of each review;
* ``head_tail``: ``long_text="head_tail"``: the first quarter of the room
  (``head_ratio=0.25``) from the start of the review, the rest from its end;
* ``chunk``: ``long_text="chunk"``: the whole review in windows of 128 tokens
  overlapping by ``stride=32``; every window is trained on with the review's label,
  weighted so that a review counts once, and a review's prediction is the mean of
  its windows' logits;
* ``tfidf``: TF-IDF unigrams and bigrams and ``LogisticRegression``, which reads
  every word of every review, for scale.

The three skbert runs share every other parameter, skbert's defaults: 3 epochs,
lr 1e-4, batch 32, weight decay 0.01, linear schedule with 10% warm-up, gradient
clipping at 1.0, fp32, seed 0. The parent prints the share of reviews longer than
``max_length`` tokens, a Markdown table of accuracy, fit and predict seconds, peak
RSS growth, each way's fit- and predict-time ratio to ``truncate`` and its
accuracy gain, and the issue's target; ``--json`` writes everything.

Run from the repository root (about 30 to 40 minutes on two CPU cores; chunk
trains on about 3.5 windows per review)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_long_text.py \
        --json benchmarks/results/long_text.json

``--n-train 32 --n-test 16`` checks quickly that everything runs.
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
    result_rows,
    write_json,
)
from _tools import (
    HF,
    Data,
    Job,
    Tool,
    check_tools,
    fit_predict,
    measured,
    skbert_params,
)

READINGS = ("truncate", "head_tail", "chunk")
DEFAULT_TOOLS = (*READINGS, "tfidf")
PACKAGES = ("skbert", "torch", "transformers", "scikit-learn", "tokenizers")
SPLITS = ("train", "test")
# The target: head_tail or chunk this many accuracy points above truncate.
GAIN_TARGET = 3.0


# --------------------------------------------------------------------------- tools


def run_skbert(job: Job, data: Data, *, long_text: str) -> dict[str, Any]:
    from skbert import BertTextClassifier

    clf = BertTextClassifier(**skbert_params(job), long_text=long_text)
    proba, fit_s, predict_s = fit_predict(clf, data, data["train_y"])
    # What training read, after the timing: rows (windows) and real tokens.
    rows = clf._tokenize(clf.tokenizer_, data["train_x"], clf.max_length_)
    return measured(
        fit_s,
        predict_s,
        clf.classes_,
        proba,
        long_text=long_text,
        train_rows=len(rows),
        train_tokens=int(rows.lengths.sum()),
        train_loss=float(clf.loss_curve_[-1]),
        device=str(clf.device_),
        predict_batch_size=2 * job.batch_size,
    )


TOOLS: dict[str, Tool] = {
    **{
        reading: Tool(
            f'skbert, long_text="{reading}"',
            (*HF, "skbert"),
            functools.partial(run_skbert, long_text=reading),
        )
        for reading in READINGS
    },
    "tfidf": _tools.TOOLS["tfidf"],
}
score = _tools.score


# --------------------------------------------------------------------------- args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__, "imdb/")
    parser.add_argument("--out", dest="json", type=Path, help="the same as --json")
    parser.set_defaults(epochs=3, learning_rate=1e-4)
    parser.add_argument(
        "--max-length",
        type=int,
        default=128,
        help="tokens per text (per window for chunk)",
    )
    parser.add_argument(
        "--tools",
        default=",".join(DEFAULT_TOOLS),
        help=f"comma-separated tools to run, in this order: {', '.join(TOOLS)}",
    )
    sizes = parser.add_argument_group("sample sizes")
    sizes.add_argument(
        "--n-train", type=int, default=1000, help="seeded sample of IMDB train"
    )
    sizes.add_argument(
        "--n-test", type=int, default=1000, help="seeded sample of IMDB test"
    )
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- run


def token_counts(model_dir: str, texts: list[str]) -> list[int]:
    """Tokens of each text with the model's special tokens, untruncated."""
    from skbert import _hub

    with _hub.quiet_transformers():
        tokenizer = _hub.load_tokenizer(*_hub.resolve(model_dir))
        ids = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    return [len(row) for row in ids]


def lengths_of(counts: list[int], max_length: int) -> dict[str, Any]:
    import numpy as np

    array = np.asarray(counts)
    return {
        "median_tokens": float(np.median(array)),
        "mean_tokens": float(array.mean()),
        "longer_than_max_length": float((array > max_length).mean()),
        "longer_than_512": float((array > 512).mean()),
    }


def run_tools(args: argparse.Namespace, tools: list[str]) -> dict[str, Any]:
    import skbert.datasets

    data = sample(
        skbert.datasets.load_imdb,
        SPLITS,
        args.data_dir,
        args.n_train,
        args.n_test,
        args.seed,
    )
    model_dir = resolve_model(args.model)
    lengths = {
        split: lengths_of(token_counts(model_dir, data[f"{prefix}_x"]), args.max_length)
        for split, prefix in zip(SPLITS, ("train", "eval"), strict=True)
    }
    with Runner(Path(__file__).stem) as runner:
        data_path = runner.write_data(data)
        results = [
            runner.run(job_of(args, tool, model_dir, args.max_length), data_path)
            for tool in tools
        ]
    by_tool = {result["tool"]: result for result in results}
    base = by_tool.get("truncate")
    return {
        "dataset": "IMDB",
        "splits": list(SPLITS),
        "n_train": len(data["train_x"]),
        "n_eval": len(data["eval_x"]),
        "max_length": args.max_length,
        "lengths": lengths,
        "results": results,
        "truncate_ratios": {
            tool: ratios(by_tool[tool], base)
            for tool in READINGS[1:]
            if tool in by_tool and base is not None
        },
    }


# --------------------------------------------------------------------------- report


def preamble(args: argparse.Namespace, host: dict[str, Any]) -> str:
    return (
        f"{machine_line(host)}\n"
        f"Model: {args.model}. skbert: {args.epochs} epoch(s), lr "
        f"{args.learning_rate}, batch {args.batch_size}, max_length "
        f"{args.max_length}, weight decay {args.weight_decay}, warm-up ratio "
        f"{args.warmup_ratio}, max grad norm {args.max_grad_norm}, seed "
        f"{args.seed}; head_ratio 0.25, stride 32 (the defaults).\n"
        "fit s includes loading the tokenizer and model and tokenising; predict s "
        "includes tokenising. Peak RSS MiB is the growth of each child's peak RSS "
        "over its RSS before loading the model."
    )


def length_lines(setting: dict[str, Any]) -> Iterator[str]:
    for split, stats in setting["lengths"].items():
        yield (
            f"* {split}: {stats['longer_than_max_length']:.1%} of the reviews are "
            f"longer than {setting['max_length']} tokens "
            f"({stats['longer_than_512']:.1%} longer than 512); median "
            f"{stats['median_tokens']:.0f} tokens, mean {stats['mean_tokens']:.0f}"
        )


def reading_rows(setting: dict[str, Any]) -> Iterator[str]:
    """Each way of reading against truncate: time ratios, gain, what was read."""
    by_tool = {r["tool"]: r for r in setting["results"]}
    yield (
        "| long_text | training rows | training tokens | fit time / truncate | "
        "predict time / truncate | accuracy gain (points) |"
    )
    yield "|---|" + "---:|" * 5
    for tool in READINGS:
        if tool not in by_tool:
            continue
        r = by_tool[tool]
        against = setting["truncate_ratios"].get(tool)
        if against is None:
            fit, predict, gain = "1", "1", "0"
        else:
            fit = number(against["fit_ratio"], ".2f")
            predict = number(against["predict_ratio"], ".2f")
            gain = f"{against['accuracy_diff_points']:+.2f}"
        yield (
            f"| {tool} | {r['train_rows']:,} | {r['train_tokens']:,} | {fit} | "
            f"{predict} | {gain} |"
        )


def target_lines(setting: dict[str, Any]) -> Iterator[str]:
    gains = {
        tool: r["accuracy_diff_points"]
        for tool, r in setting["truncate_ratios"].items()
    }
    if not gains:
        return
    best = max(gains, key=gains.__getitem__)
    met = "met" if gains[best] >= GAIN_TARGET else "MISSED"
    yield (
        f"* best of head_tail and chunk against truncate: {best}, "
        f"{gains[best]:+.2f} accuracy points (target >= +{GAIN_TARGET:.0f}): {met}"
    )


def section(setting: dict[str, Any]) -> str:
    lines = [
        f"#### IMDB, max_length {setting['max_length']}: {setting['n_train']:,} "
        f"train / {setting['n_eval']:,} test reviews",
        "",
        *length_lines(setting),
        "",
        *result_rows(setting["results"], ("accuracy",), TOOLS),
        "",
        *reading_rows(setting),
    ]
    targets = list(target_lines(setting))
    if targets:
        lines += ["", "Target:", "", *targets]
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
