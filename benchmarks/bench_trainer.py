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
import csv
import gc
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("skbert", "trainer")
TARGETS = {"fit_ratio": 0.6, "predict_ratio": 0.6, "accuracy_diff_points": 1.5}
MIB = 1024 * 1024


# --------------------------------------------------------------------------- args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(
            os.environ.get("SKBERT_DATA", REPO_ROOT.parent / "shared" / "data")
        ),
        help="folder holding sst2/train.csv.gz and sst2/validation.csv.gz "
        "(default: $SKBERT_DATA, else ../shared/data from the repository root)",
    )
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument(
        "--n-eval",
        type=int,
        default=None,
        help="seeded sample of the validation split, for quick tests "
        "(default: all 872 sentences)",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads in both children (default: torch's own choice)",
    )
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="comma-separated tools to run, in this order",
    )
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    # Internal: run one tool in this process and write its result to a file.
    parser.add_argument("--tool", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--child-output", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- data


def read_split(data_dir: Path, split: str) -> tuple[list[str], list[str]]:
    path = data_dir / "sst2" / f"{split}.csv.gz"
    if not path.is_file():
        raise SystemExit(
            f"{path} not found. Pass --data-dir (or set SKBERT_DATA) to the folder "
            "that holds sst2/train.csv.gz and sst2/validation.csv.gz."
        )
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def load_data(args: argparse.Namespace) -> dict[str, list[str]]:
    """The seeded training sample and the (optionally sampled) validation split."""
    import numpy as np

    rng = np.random.default_rng(args.seed)
    train_x, train_y = read_split(args.data_dir, "train")
    val_x, val_y = read_split(args.data_dir, "validation")
    take = rng.choice(len(train_x), size=args.n_train, replace=False)
    data = {
        "train_x": [train_x[i] for i in take],
        "train_y": [train_y[i] for i in take],
        "eval_x": val_x,
        "eval_y": val_y,
    }
    if args.n_eval is not None:
        keep = rng.choice(len(val_x), size=args.n_eval, replace=False)
        data["eval_x"] = [val_x[i] for i in keep]
        data["eval_y"] = [val_y[i] for i in keep]
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


def run_skbert(args: argparse.Namespace, data: dict[str, list[str]]) -> dict[str, Any]:
    from skbert import BertTextClassifier

    clf = BertTextClassifier(
        args.model_dir,
        max_length=args.max_length,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio,
        max_grad_norm=args.max_grad_norm,
        random_state=args.seed,
    )
    started = time.perf_counter()
    clf.fit(data["train_x"], data["train_y"])
    fit_s = time.perf_counter() - started

    started = time.perf_counter()
    proba = clf.predict_proba(data["eval_x"])
    predict_s = time.perf_counter() - started

    predicted = clf.classes_[proba.argmax(axis=1)]
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "predicted": [str(label) for label in predicted],
        "train_loss": float(clf.loss_curve_[-1]),
        "device": str(clf.device_),
        "predict_batch_size": 2 * args.batch_size,
    }


class DictDataset(Dataset):
    """A map-style torch dataset of feature dicts, as users hand to the Trainer."""

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


def encode(tokenizer: Any, texts: list[str], max_length: int) -> list[dict[str, Any]]:
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    return [
        dict(zip(encoded.keys(), row, strict=True))
        for row in zip(*encoded.values(), strict=True)
    ]


def run_trainer(args: argparse.Namespace, data: dict[str, list[str]]) -> dict[str, Any]:
    import numpy as np
    import torch
    from torch.utils.data import SequentialSampler
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from skbert._hub import quiet_transformers

    classes = sorted(set(data["train_y"]))
    label2id = {label: i for i, label in enumerate(classes)}
    output_dir = tempfile.TemporaryDirectory(prefix="bench_trainer_")
    training_args = TrainingArguments(
        output_dir=output_dir.name,
        num_train_epochs=args.epochs,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        # transformers 5 has no warmup_ratio: a float below 1 is a ratio.
        warmup_steps=args.warmup_ratio,
        max_grad_norm=args.max_grad_norm,
        lr_scheduler_type="linear",
        seed=args.seed,
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
    set_seed(args.seed)
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
        model = AutoModelForSequenceClassification.from_pretrained(
            args.model_dir,
            num_labels=len(classes),
            id2label=dict(enumerate(classes)),
            label2id=label2id,
        )
    loaded_s = time.perf_counter() - started
    features = encode(tokenizer, data["train_x"], args.max_length)
    for row, label in zip(features, data["train_y"], strict=True):
        row["labels"] = label2id[label]
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
    eval_set = DictDataset(encode(tokenizer, data["eval_x"], args.max_length))
    logits = trainer.predict(eval_set).predictions
    predict_s = time.perf_counter() - started

    # Trainer.predict keeps the input order only with a sequential sampler.
    assert isinstance(trainer._get_eval_sampler(eval_set), SequentialSampler)
    output_dir.cleanup()
    predicted = [classes[i] for i in np.asarray(logits).argmax(axis=1)]
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "predicted": predicted,
        "train_loss": float(train_output.training_loss),
        "device": str(training_args.device),
        "predict_batch_size": args.batch_size,
        "load_s": loaded_s,
        "optimizer": str(training_args.optim.value),
        "train_sampling_strategy": training_args.train_sampling_strategy,
    }


def child(args: argparse.Namespace) -> None:
    """Run one tool in this process; write its measurements to --child-output."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: F401

    if args.tool == "trainer":
        from transformers import Trainer  # noqa: F401
    else:
        import skbert  # noqa: F401

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = load_data(args)
    gc.collect()
    rss_before = current_rss()
    runner = run_skbert if args.tool == "skbert" else run_trainer
    result = runner(args, data)
    peak = peak_rss()
    correct = sum(
        p == y for p, y in zip(result.pop("predicted"), data["eval_y"], strict=True)
    )
    result.update(
        tool=args.tool,
        accuracy=correct / len(data["eval_y"]),
        n_train=len(data["train_x"]),
        n_eval=len(data["eval_y"]),
        rss_before_mib=rss_before / MIB,
        peak_rss_mib=peak / MIB,
        peak_rss_growth_mib=(peak - rss_before) / MIB,
        torch_threads=torch.get_num_threads(),
    )
    args.child_output.write_text(json.dumps(result))


# --------------------------------------------------------------------------- parent


def child_argv(argv: list[str], tool: str, model_dir: str, output: Path) -> list[str]:
    script = str(Path(__file__).resolve())
    extra = ["--tool", tool, "--model-dir", model_dir, "--child-output", str(output)]
    return [sys.executable, script, *argv, *extra]


def warm_page_cache(model_dir: str) -> None:
    """Read the model files once so neither child pays for a cold disk."""
    for path in Path(model_dir).iterdir():
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(1 << 24):
                    pass


def run_children(args: argparse.Namespace, argv: list[str]) -> list[dict[str, Any]]:
    from skbert._hub import resolve

    model_dir, local = resolve(args.model)
    if local:
        warm_page_cache(model_dir)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_trainer_") as tmp:
        for tool in [name.strip() for name in args.tools.split(",") if name.strip()]:
            if tool not in TOOLS:
                raise SystemExit(f"Unknown tool {tool!r}; choose from {TOOLS}.")
            output = Path(tmp) / f"{tool}.json"
            print(f"Running {tool} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            subprocess.run(child_argv(argv, tool, model_dir, output), check=True)
            result = json.loads(output.read_text())
            result["process_s"] = time.perf_counter() - started
            print(f"  {tool}: done in {result['process_s']:.1f} s", file=sys.stderr)
            results.append(result)
    return results


def compare(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_tool = {result["tool"]: result for result in results}
    if set(TOOLS) - set(by_tool):
        return {}
    ours, theirs = by_tool["skbert"], by_tool["trainer"]
    values = {
        "fit_ratio": ours["fit_s"] / theirs["fit_s"],
        "predict_ratio": ours["predict_s"] / theirs["predict_s"],
        "accuracy_diff_points": 100 * (ours["accuracy"] - theirs["accuracy"]),
    }
    passed = {
        "fit_ratio": values["fit_ratio"] <= TARGETS["fit_ratio"],
        "predict_ratio": values["predict_ratio"] <= TARGETS["predict_ratio"],
        "accuracy_diff_points": abs(values["accuracy_diff_points"])
        <= TARGETS["accuracy_diff_points"],
    }
    return {"values": values, "targets": TARGETS, "passed": passed}


def markdown(results: list[dict[str, Any]], comparison: dict[str, Any]) -> str:
    lines = [
        "| tool | accuracy | fit s | predict s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    names = {"skbert": "skbert BertTextClassifier", "trainer": "transformers Trainer"}
    for r in results:
        lines.append(
            f"| {names[r['tool']]} | {r['accuracy']:.4f} | {r['fit_s']:.1f} | "
            f"{r['predict_s']:.2f} | {r['peak_rss_growth_mib']:.0f} |"
        )
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


def environment() -> dict[str, Any]:
    import importlib.metadata as metadata

    versions = {}
    for package in ("skbert", "torch", "transformers", "accelerate", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    # Both children load local files only, unless the caller set HF_HUB_OFFLINE=0.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.tool is not None:
        child(args)
        return
    started = time.perf_counter()
    results = run_children(args, argv)
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
        config = {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
            if key not in {"tool", "model_dir", "child_output", "json"}
        }
        report = {
            "config": config,
            "environment": environment(),
            "results": results,
            "comparison": comparison,
            "total_s": time.perf_counter() - started,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()
