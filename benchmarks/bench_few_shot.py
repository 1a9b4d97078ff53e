"""skbert's defaults on a few labelled texts per class, against SetFit and embeddings.

Learning curves at 8, 16, 32 and 64 training texts per class (``--sizes``), each
on ``--n-seeds`` seeded samples (5 by default), on three single-label datasets:

* ``sst2``: SST-2, 2 classes; evaluated on the 872 validation sentences;
* ``goemotions-ekman``: GoEmotions' comments with exactly one label, mapped to
  Ekman's 6 emotions and ``neutral`` (7 classes) by GoEmotions' published
  ``ekman_mapping.json``;
* ``goemotions-sentiment``: the same comments mapped to ``positive``,
  ``negative``, ``ambiguous`` and ``neutral`` (4 classes) by GoEmotions'
  ``sentiment_mapping.json``.

A training sample takes the first ``size`` texts of every class in a seeded
permutation of the training split (``numpy.random.default_rng(seed)``, classes
in sorted order), so a seed's 8 texts per class are among its 16. The
evaluation sample is the same for every seed and size: the whole validation
split when it has at most ``--n-eval`` texts (SST-2), else ``--n-eval`` texts
(1,000) drawn with ``default_rng(--seed)`` (GoEmotions: 4,548 single-label
validation comments). Seeds are ``--seed``, ``--seed + 1``, ...

Every tool starts from the same model (``--model``, the bundled
all-MiniLM-L6-v2 by default), runs on the same samples, each fit in its own
child process, one after the other (the harness's :class:`~_child.Runner`):

* ``skbert``: ``BertTextClassifier(random_state=seed)``, every other parameter
  at its default (the few-shot recipe: pooling as the checkpoint, a
  linear-probe head, a contrastive stage of at least 20 steps at 1e-4);
* ``embedder-sup``: ``make_pipeline(BertTextEmbedder(epochs="auto",
  random_state=seed), LogisticRegression(max_iter=1000))``, the contrastive
  fine-tuning of the embedder (SetFit as a pipeline);
* ``setfit``: SetFit 1.2, ``SetFitModel.from_pretrained(model)`` and its
  ``Trainer`` with ``TrainingArguments`` at their defaults but the seed (and
  settings that do not change training: no progress bar, logging, reports or
  checkpoints);
* ``setfit-20``: the same with ``num_iterations=20``, as SetFit's README trains;
* ``embedder``: ``make_pipeline(BertTextEmbedder(), LogisticRegression(
  max_iter=1000))``, the pretrained embeddings untouched;
* ``tfidf``: TF-IDF unigrams and bigrams and ``LogisticRegression``.

Scores on the evaluation sample: accuracy and macro-F1. fit s runs from raw texts
to a trained model (loading the model included), predict s from raw texts to
class scores. The parent prints, for every dataset and size, the mean and
sample standard deviation over seeds of each tool, and the issue's quality bars;
``--json`` writes every run and the summaries, ``--plot`` the learning curves.

The SetFit tools need ``pip install setfit`` (not a dependency of skbert). Run
from the repository root::

    HF_HUB_OFFLINE=1 python benchmarks/bench_few_shot.py --sizes 8,16 \
        --threads 2 --json benchmarks/results/few_shot.json \
        --plot benchmarks/results/few_shot.png

``--skip setfit:16`` leaves one tool out at one size (SetFit's defaults draw
pairs that grow with the square of the sample).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _tools
from _child import Runner, resolve_model
from _cli import add_names, benchmark_parser, names
from _report import config_of, environment, machine, machine_line, write_json
from _tools import HF, Data, Job, Tool, fit_predict, measured, timed

DEFAULT_TOOLS = ("skbert", "embedder-sup", "setfit", "setfit-20", "embedder", "tfidf")
SETFIT_TOOLS = ("setfit", "setfit-20")
PACKAGES = (
    "skbert",
    "torch",
    "transformers",
    "setfit",
    "sentence-transformers",
    "scikit-learn",
)
# The bars at 8 and 16 texts per class, in accuracy points.
ABOVE_CHANCE = 20.0
EMBEDDER_SUP_WITHIN = 2.0

# GoEmotions' published data/ekman_mapping.json and data/sentiment_mapping.json.
EKMAN = {
    "anger": ["anger", "annoyance", "disapproval"],
    "disgust": ["disgust"],
    "fear": ["fear", "nervousness"],
    "joy": [
        "joy",
        "amusement",
        "approval",
        "excitement",
        "gratitude",
        "love",
        "optimism",
        "relief",
        "pride",
        "admiration",
        "desire",
        "caring",
    ],
    "sadness": ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
    "surprise": ["surprise", "realization", "confusion", "curiosity"],
    "neutral": ["neutral"],
}
SENTIMENT = {
    "positive": [
        "amusement",
        "excitement",
        "joy",
        "love",
        "desire",
        "optimism",
        "caring",
        "pride",
        "admiration",
        "gratitude",
        "relief",
        "approval",
    ],
    "negative": [
        "fear",
        "nervousness",
        "remorse",
        "embarrassment",
        "disappointment",
        "sadness",
        "grief",
        "disgust",
        "anger",
        "annoyance",
        "disapproval",
    ],
    "ambiguous": ["realization", "surprise", "curiosity", "confusion"],
    "neutral": ["neutral"],
}


# --------------------------------------------------------------------------- tools


def run_skbert(job: Job, data: Data) -> dict[str, Any]:
    """``BertTextClassifier`` with its defaults but the model and the seed."""
    from skbert import BertTextClassifier

    clf = BertTextClassifier(job.model_dir, random_state=job.seed)
    proba, fit_s, predict_s = fit_predict(clf, data, data["train_y"])
    return measured(
        fit_s,
        predict_s,
        clf.classes_,
        proba,
        n_iter=int(clf.n_iter_),
        train_loss=float(clf.loss_curve_[-1]),
        device=str(clf.device_),
    )


def run_embedder(job: Job, data: Data, *, epochs: int | str) -> dict[str, Any]:
    """The embedder (contrastively fine-tuned when ``epochs``) and a linear model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from skbert import BertTextEmbedder

    params = {"epochs": epochs, "random_state": job.seed} if epochs else {}
    pipeline = make_pipeline(
        BertTextEmbedder(job.model_dir, **params), LogisticRegression(max_iter=1000)
    )
    proba, fit_s, predict_s = fit_predict(pipeline, data, data["train_y"])
    return measured(fit_s, predict_s, pipeline.classes_, proba, device="cpu")


def run_setfit(job: Job, data: Data, *, num_iterations: int | None) -> dict[str, Any]:
    """SetFit's ``Trainer`` at its defaults, but the seed and ``num_iterations``."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from skbert._hub import quiet_transformers

    output_dir = tempfile.TemporaryDirectory(prefix="bench_setfit_")
    args = TrainingArguments(
        output_dir=output_dir.name,
        seed=job.seed,
        num_iterations=num_iterations,
        # Quiet, and nothing written: none of these changes training.
        show_progress_bar=False,
        report_to="none",
        logging_strategy="no",
        save_strategy="no",
    )

    def fit() -> Any:
        with quiet_transformers():
            model = SetFitModel.from_pretrained(job.model_dir)
        train = Dataset.from_dict({"text": data["train_x"], "label": data["train_y"]})
        trainer = Trainer(model=model, args=args, train_dataset=train)
        trainer.train()
        return model

    model, fit_s = timed(fit)
    proba, predict_s = timed(lambda: model.predict_proba(data["eval_x"], as_numpy=True))
    output_dir.cleanup()
    return measured(
        fit_s,
        predict_s,
        model.model_head.classes_,
        proba,
        device=str(model.device),
    )


def embedder_tool(label: str, epochs: int | str) -> Tool:
    modules = (*HF, "skbert", "sklearn.linear_model")
    return Tool(label, modules, functools.partial(run_embedder, epochs=epochs))


def setfit_tool(label: str, num_iterations: int | None) -> Tool:
    run = functools.partial(run_setfit, num_iterations=num_iterations)
    return Tool(label, (*HF, "setfit", "datasets"), run)


TOOLS: dict[str, Tool] = {
    "skbert": Tool("skbert BertTextClassifier()", (*HF, "skbert"), run_skbert),
    "embedder-sup": embedder_tool(
        'BertTextEmbedder(epochs="auto") + LogisticRegression', "auto"
    ),
    "setfit": setfit_tool("SetFit, defaults", None),
    "setfit-20": setfit_tool("SetFit, num_iterations=20", 20),
    "embedder": embedder_tool("BertTextEmbedder() + LogisticRegression, untrained", 0),
    "tfidf": _tools.TOOLS["tfidf"],
}


def score(job: Job, predicted: list[Any], expected: list[Any]) -> dict[str, Any]:
    """Accuracy and macro-F1 of predicted labels."""
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(expected, predicted)),
        "macro_f1": float(f1_score(expected, predicted, average="macro")),
    }


# --------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A single-label dataset: its title, its loader, and a label mapping."""

    title: str
    folder: str
    loader: str
    splits: tuple[str, str]
    mapping: dict[str, list[str]] | None = None

    def load(self, split: str, data_dir: Path) -> tuple[list[str], list[str]]:
        """The texts and labels of a split; for a mapping, single-label texts only."""
        import skbert.datasets

        load = getattr(skbert.datasets, self.loader)
        try:
            texts, labels = load(
                split, data_home=data_dir, download_if_missing=False, return_X_y=True
            )
        except FileNotFoundError as error:
            raise SystemExit(f"{error}\nPass --data-dir or set SKBERT_DATA.") from None
        texts = list(texts)
        if self.mapping is None:
            return texts, [str(label) for label in labels]
        group = {old: new for new, olds in self.mapping.items() for old in olds}
        single = [i for i, row in enumerate(labels) if len(row) == 1]
        return [texts[i] for i in single], [group[labels[i][0]] for i in single]


DATASETS = {
    "sst2": Dataset("SST-2", "sst2", "load_sst2", ("train", "validation")),
    "goemotions-ekman": Dataset(
        "GoEmotions, Ekman",
        "goemotions",
        "load_goemotions",
        ("train", "validation"),
        EKMAN,
    ),
    "goemotions-sentiment": Dataset(
        "GoEmotions, sentiment",
        "goemotions",
        "load_goemotions",
        ("train", "validation"),
        SENTIMENT,
    ),
}


def per_class_sample(labels: list[str], size: int, seed: int) -> list[int]:
    """``size`` row indices of every class: the first of a seeded permutation each."""
    import numpy as np

    rng = np.random.default_rng(seed)
    by_class = np.asarray(labels)
    rows = []
    for label in sorted(set(labels)):
        members = np.flatnonzero(by_class == label)
        if len(members) < size:
            raise SystemExit(f"Class {label!r} has {len(members)} texts, not {size}.")
        rows.extend(rng.permutation(members)[:size].tolist())
    return [rows[i] for i in rng.permutation(len(rows))]


def eval_sample(labels: list[str], n_eval: int, seed: int) -> list[int]:
    """All rows in order when there are at most ``n_eval``, else a seeded sample."""
    import numpy as np

    if len(labels) <= n_eval:
        return list(range(len(labels)))
    return np.random.default_rng(seed).choice(len(labels), n_eval, False).tolist()


# --------------------------------------------------------------------------- args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__, "sst2/ and goemotions/", hyperparameters=False)
    add_names(parser, "--datasets", DATASETS)
    add_names(parser, "--tools", TOOLS, DEFAULT_TOOLS)
    parser.add_argument(
        "--sizes", default="8,16,32,64", help="comma-separated texts per class"
    )
    parser.add_argument(
        "--n-seeds", type=int, default=5, help="seeded training samples per size"
    )
    parser.add_argument(
        "--n-eval",
        type=int,
        default=1000,
        help="most evaluation texts: a seeded sample of a larger validation split",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated TOOL:SIZE pairs left out, such as setfit:16",
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="write the learning curves here (PNG)"
    )
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    pairs = [f"{tool}:{size}" for tool in TOOLS for size in args.sizes]
    args.skip = sorted(names(args.skip, pairs, "TOOL:SIZE pair"))
    return args


def check_packages(tools: list[str]) -> None:
    """Exit naming what to install when a SetFit tool cannot run here."""
    wanted = [tool for tool in tools if tool in SETFIT_TOOLS]
    if wanted and importlib.util.find_spec("setfit") is None:
        raise SystemExit(
            f"The {', '.join(wanted)} tools need SetFit: pip install setfit, or "
            "leave them out of --tools."
        )


# --------------------------------------------------------------------------- run


@dataclasses.dataclass(frozen=True)
class Pool:
    """One dataset's training split and its evaluation sample, loaded once."""

    key: str
    train_x: list[str]
    train_y: list[str]
    evaluation: Data


def load_pool(args: argparse.Namespace, key: str) -> Pool:
    dataset = DATASETS[key]
    train_x, train_y = dataset.load(dataset.splits[0], args.data_dir)
    eval_x, eval_y = dataset.load(dataset.splits[1], args.data_dir)
    keep = eval_sample(eval_y, args.n_eval, args.seed)
    evaluation = {
        "eval_x": [eval_x[i] for i in keep],
        "eval_y": [eval_y[i] for i in keep],
    }
    return Pool(key, train_x, train_y, evaluation)


def run_setting(
    args: argparse.Namespace,
    runner: Runner,
    pool: Pool,
    size: int,
    tools: list[str],
    model_dir: str,
    done: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Every seed and tool at ``size`` texts per class on one dataset; ``done``
    gets each run's result as it comes."""
    chosen = [tool for tool in tools if f"{tool}:{size}" not in args.skip]
    results = []
    for seed in range(args.seed, args.seed + args.n_seeds):
        rows = per_class_sample(pool.train_y, size, seed)
        data = {
            "train_x": [pool.train_x[i] for i in rows],
            "train_y": [pool.train_y[i] for i in rows],
            **pool.evaluation,
        }
        path = runner.write_data(data)
        for tool in chosen:
            job = Job(tool=tool, model_dir=model_dir, seed=seed, threads=args.threads)
            result = {**runner.run(job, path), "seed": seed}
            done({"dataset": pool.key, "size": size, **result})
            results.append(result)
    eval_y = pool.evaluation["eval_y"]
    classes = sorted(set(pool.train_y))
    return {
        "dataset": pool.key,
        "title": DATASETS[pool.key].title,
        "size": size,
        "classes": classes,
        "n_eval": len(eval_y),
        "chance": 1 / len(classes),
        "majority_share": max(map(eval_y.count, classes)) / len(eval_y),
        "skipped": [tool for tool in tools if tool not in chosen],
        "results": results,
        "summary": summarise(results, chosen),
    }


def summarise(results: list[dict[str, Any]], tools: list[str]) -> dict[str, Any]:
    """Each tool's mean and sample standard deviation over seeds."""
    summary = {}
    for tool in tools:
        runs = [r for r in results if r["tool"] == tool]
        summary[tool] = {"n_seeds": len(runs)}
        for key in ("accuracy", "macro_f1", "fit_s", "predict_s"):
            values = [r[key] for r in runs]
            summary[tool][key] = statistics.mean(values)
            summary[tool][f"{key}_std"] = (
                statistics.stdev(values) if len(values) > 1 else 0.0
            )
    return summary


# --------------------------------------------------------------------------- bars


def bars(setting: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's bars for skbert's defaults in one setting, where measurable.

    Each bar maps to its measured value (points or seconds), its target and
    whether it was met: skbert's mean accuracy above each SetFit tool's and the
    untrained embeddings', at least 20 points above chance (1 / classes), its
    mean fit time at most each SetFit tool's, and
    the supervised embedder pipeline at most 2 points below SetFit's defaults.
    """
    summary = setting["summary"]
    ours = summary.get("skbert")
    found: dict[str, dict[str, Any]] = {}

    def add(name: str, value: float, target: str, met: bool) -> None:
        found[name] = {"value": value, "target": target, "met": met}

    if ours is not None:
        accuracy = ours["accuracy"]
        for tool in (*SETFIT_TOOLS, "embedder"):
            if tool in summary:
                gain = 100 * (accuracy - summary[tool]["accuracy"])
                add(f"accuracy above {tool}", gain, "> 0 points", gain > 0)
        gain = 100 * (accuracy - setting["chance"])
        add(
            "accuracy above chance",
            gain,
            f">= {ABOVE_CHANCE:.0f} points",
            gain >= ABOVE_CHANCE,
        )
        for tool in SETFIT_TOOLS:
            if tool in summary:
                ratio = ours["fit_s"] / summary[tool]["fit_s"]
                add(f"fit time / {tool}", ratio, "<= 1", ratio <= 1)
    if "embedder-sup" in summary and "setfit" in summary:
        gap = 100 * (
            summary["embedder-sup"]["accuracy"] - summary["setfit"]["accuracy"]
        )
        add(
            "embedder-sup accuracy against setfit",
            gap,
            f">= -{EMBEDDER_SUP_WITHIN:.0f} points",
            gap >= -EMBEDDER_SUP_WITHIN,
        )
    return found


# --------------------------------------------------------------------------- report


def preamble(args: argparse.Namespace, host: dict[str, Any]) -> str:
    seeds = f"{args.seed}..{args.seed + args.n_seeds - 1}"
    return (
        f"{machine_line(host)}\n"
        f"Model: {args.model}. Texts per class: "
        f"{', '.join(map(str, args.sizes))}; seeds {seeds}; evaluation: at most "
        f"{args.n_eval:,} validation texts (seeded sample, the same for every seed "
        "and size). Mean ± sample standard deviation over seeds. fit s includes "
        "loading the model; predict s includes tokenising."
    )


def summary_rows(setting: dict[str, Any]) -> Iterator[str]:
    yield "| tool | accuracy | macro-F1 | fit s | predict s |"
    yield "|---|---:|---:|---:|---:|"
    for tool, s in setting["summary"].items():
        cells = " | ".join(
            f"{s[key]:{spec}} ± {s[f'{key}_std']:{spec}}"
            for key, spec in (
                ("accuracy", ".4f"),
                ("macro_f1", ".4f"),
                ("fit_s", ".1f"),
                ("predict_s", ".1f"),
            )
        )
        yield f"| {TOOLS[tool].label} | {cells} |"


def bar_rows(setting: dict[str, Any]) -> Iterator[str]:
    found = bars(setting)
    if not found:
        return
    yield "| bar | measured | target | result |"
    yield "|---|---:|---|---|"
    for name, bar in found.items():
        spec = ".2f" if name.startswith("fit") else "+.2f"
        result = "met" if bar["met"] else "MISSED"
        yield f"| {name} | {bar['value']:{spec}} | {bar['target']} | {result} |"


def section(setting: dict[str, Any]) -> str:
    n_seeds = max((s["n_seeds"] for s in setting["summary"].values()), default=0)
    lines = [
        f"#### {setting['title']}, {setting['size']} texts per class "
        f"({len(setting['classes'])} classes), {setting['n_eval']:,} evaluation "
        f"texts, {n_seeds} seeds",
        "",
        f"Chance (1 / classes): {setting['chance']:.4f}; the majority class's "
        f"share of the evaluation texts: {setting['majority_share']:.4f}.",
    ]
    if setting["skipped"]:
        lines.append(f"Not run at this size: {', '.join(setting['skipped'])}.")
    lines += ["", *summary_rows(setting)]
    bar_lines = list(bar_rows(setting))
    if bar_lines:
        lines += ["", *bar_lines]
    return "\n".join(lines)


def plot(settings: list[dict[str, Any]], path: Path) -> None:
    """Mean accuracy against texts per class, one line per tool, a panel a dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(s["dataset"] for s in settings))
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False
    )
    for ax, key in zip(axes[0], datasets, strict=True):
        mine = [s for s in settings if s["dataset"] == key]
        tools = list(dict.fromkeys(t for s in mine for t in s["summary"]))
        for tool in tools:
            points = [
                (s["size"], s["summary"][tool]) for s in mine if tool in s["summary"]
            ]
            ax.errorbar(
                [size for size, _ in points],
                [p["accuracy"] for _, p in points],
                yerr=[p["accuracy_std"] for _, p in points],
                marker="o",
                capsize=3,
                label=tool,
            )
        ax.axhline(mine[0]["chance"], color="grey", linestyle="--", label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks([s["size"] for s in mine], [str(s["size"]) for s in mine])
        ax.set_title(mine[0]["title"])
        ax.set_xlabel("training texts per class")
        ax.set_ylabel("accuracy (mean ± std over seeds)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nWrote {path}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # The children load local files only, unless the caller set HF_HUB_OFFLINE=0.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    datasets = names(args.datasets, DATASETS, "dataset")
    tools = names(args.tools, TOOLS, "tool")
    check_packages(tools)
    started = time.perf_counter()
    host = machine(args.threads)
    print(preamble(args, host), flush=True)
    model_dir = resolve_model(args.model)
    settings: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []

    def save() -> None:
        """The JSON file so far: a long run stopped early keeps what it measured."""
        if args.json is not None:
            report = {
                "config": config_of(args),
                "environment": {**environment(PACKAGES), "machine": host},
                "settings": settings,
                "unfinished_runs": runs,
                "total_s": time.perf_counter() - started,
            }
            write_json(args.json, report, quiet=True)

    def done(run: dict[str, Any]) -> None:
        runs.append(run)
        save()

    def finished(setting: dict[str, Any]) -> None:
        settings.append(setting)
        runs.clear()
        print(f"\n{section(setting)}", flush=True)
        save()

    pools = [load_pool(args, key) for key in datasets]
    with Runner(Path(__file__).stem) as runner:
        for size in args.sizes:
            for pool in pools:
                finished(run_setting(args, runner, pool, size, tools, model_dir, done))
    print(f"\nTotal wall time: {(time.perf_counter() - started) / 60:.1f} min")
    if args.json is not None:
        print(f"\nWrote {args.json}")
    if args.plot is not None:
        plot(settings, args.plot)


if __name__ == "__main__":
    main(sys.argv[1:])
