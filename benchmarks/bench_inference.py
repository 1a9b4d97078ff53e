"""skbert's ways to predict against transformers' pipeline and Trainer.predict.

Fine-tunes the model once (a child process: ``BertTextClassifier`` on a seeded
sample of 1,000 SST-2 training sentences, 1 epoch, skbert's defaults otherwise),
saves it with ``clf.save`` and exports it with ``clf.export_onnx`` (fp32 and
int8). Then each variant loads that same model in its own child process, one
after the other, and predicts the SST-2 validation sentences and a seeded sample
of 500 IMDB test reviews, all at the ``max_length`` of fine-tuning (128):

* ``fp32``: ``skbert.BertTextClassifier.load(dir).predict``, the baseline;
* ``bf16``: the same after ``set_params(precision="bf16")`` (autocast), run by
  default only where the CPU has bf16 instructions (AMX or AVX512_BF16);
* ``int8``: the same after ``set_params(quantize="int8")`` (dynamic int8 Linear
  layers);
* ``onnx``, ``onnx_int8``: ``skbert.onnx.load(export).predict`` on the fp32 and
  the int8 export, onnxruntime without torch;
* ``pipeline``: ``transformers.pipeline("text-classification", model=dir)`` called
  on the list of texts with ``batch_size``, ``truncation=True`` and ``max_length``;
* ``trainer``: ``AutoModelForSequenceClassification`` from the saved directory,
  ``Trainer(..., data_collator=DataCollatorWithPadding(tokenizer))`` and
  ``Trainer.predict`` on the tokenised texts, labels by argmax (needs
  ``accelerate``).

Every variant predicts in batches of the same size (skbert's default, 2 x the
training ``batch_size``: 64) with dynamic padding. predict s is from raw texts
to labels, tokenising included: one warm-up call on the first batch, then
``--repeat`` timed passes over all texts. ``--rounds`` runs every variant that
many times per dataset, in reverse order on every other round, and keeps each
variant's fastest pass of all, so that a burst of load on a shared machine
while one child runs does not decide its ratio. ``--threads N`` sets torch's
threads and onnxruntime's intra-op threads in every child. Each variant's
labels are compared with skbert fp32's (agreement) and with the gold labels
(accuracy). On SST-2, each skbert variant and the pipeline also predict single
sentences, one call each (``--latency-calls``, after warm-up), for the median
(p50) and 95th-percentile latency; the fp32 child also times the bare forward
pass, ``model(**inputs)`` under ``torch.inference_mode`` on the same sentences
tokenised beforehand, the two calls alternating.

The parent prints the tables and the issue's goals:

* the fastest skbert variant with at least 97% agreement at <= 0.33x the time
  of ``Trainer.predict``;
* ``quantize="int8"`` at <= 0.5x fp32's time with >= 97% identical labels and
  accuracy within 1 point;
* onnxruntime (fp32 export) at <= 0.9x PyTorch fp32's time;
* one-text ``predict`` median latency <= 2x the bare forward pass.

Run from the repository root (16 minutes on two CPU cores shared with other
work; one thread per child keeps a busy machine from stalling torch's threads)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_inference.py --threads 1 \\
        --json benchmarks/results/inference.json
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _child import Runner, resolve_model
from _cli import benchmark_parser, job_of, names, sample
from _report import (
    config_of,
    environment,
    machine,
    machine_line,
    number,
    write_json,
)
from _tools import (
    HF,
    Data,
    Job,
    Tool,
    check_tools,
    fitted_skbert,
    timed,
    trainer_predict,
    training_arguments,
)

# Sub-directories of the work directory: the saved model and its two exports.
MODEL, ONNX, ONNX_INT8 = "model", "onnx", "onnx_int8"
SKBERT_VARIANTS = ("fp32", "bf16", "int8", "onnx", "onnx_int8")
VARIANTS = (*SKBERT_VARIANTS, "pipeline", "trainer")
PACKAGES = (
    "skbert",
    "torch",
    "transformers",
    "accelerate",
    "onnxruntime",
    "tokenizers",
    "scikit-learn",
)
# The goals.
AGREEMENT = 0.97  # share of labels identical to skbert fp32's
BEST_VS_TRAINER = 0.33  # fastest agreeing skbert variant / Trainer.predict
INT8_RATIO, INT8_POINTS = 0.5, 1.0  # int8 / fp32 time; accuracy difference
ONNX_RATIO = 0.9  # onnxruntime fp32 / PyTorch fp32 time
LATENCY_RATIO = 2.0  # one-text predict p50 / bare forward pass p50


# --------------------------------------------------------------------------- tools


@dataclass
class Predictor:
    """How a variant predicts: many texts, one text, and details for the report.

    ``forward``: for a text, a call of the bare model on it tokenised (fp32 only).
    """

    batch: Callable[[list[str]], Any]
    one: Callable[[str], Any] | None = None
    forward: Callable[[str], Callable[[], Any]] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def load_skbert(job: Job, **params: Any) -> Predictor:
    import torch

    from skbert import BertTextClassifier

    clf = BertTextClassifier.load(Path(job.model_dir) / MODEL)
    clf.set_params(**params)

    def forward(text: str) -> Callable[[], Any]:
        inputs = clf.tokenizer_(
            [text], truncation=True, max_length=clf.max_length_, return_tensors="pt"
        ).to(clf.device_)

        def call() -> Any:
            with torch.inference_mode():
                return clf.model_(**inputs).logits

        return call

    return Predictor(
        clf.predict,
        lambda text: clf.predict([text]),
        None if params else forward,
        {"predict_batch_size": 2 * clf.batch_size, "device": str(clf.device_)},
    )


def load_onnx(job: Job, export: str) -> Predictor:
    import onnxruntime

    import skbert.onnx

    options = onnxruntime.SessionOptions()
    if job.threads is not None:  # as torch.set_num_threads for the others
        options.intra_op_num_threads = job.threads
    model = skbert.onnx.load(Path(job.model_dir) / export, session_options=options)
    return Predictor(
        model.predict,
        lambda text: model.predict([text]),
        details={
            "predict_batch_size": model._meta["batch_size"],
            "device": "cpu",
            "onnx_threads": job.threads or "onnxruntime's default",
        },
    )


def load_pipeline(job: Job) -> Predictor:
    from transformers import pipeline

    from skbert._hub import quiet_transformers

    with quiet_transformers():
        pipe = pipeline(
            "text-classification", model=str(Path(job.model_dir) / MODEL), device="cpu"
        )
    options = {"truncation": True, "max_length": job.max_length}

    def batch(texts: list[str]) -> list[str]:
        return [r["label"] for r in pipe(texts, batch_size=job.batch_size, **options)]

    return Predictor(
        batch,
        lambda text: pipe(text, **options)[0]["label"],
        details={"predict_batch_size": job.batch_size, "device": str(pipe.device)},
    )


def load_trainer(job: Job) -> Predictor:
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
    )

    from skbert._hub import quiet_transformers

    directory = Path(job.model_dir) / MODEL
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForSequenceClassification.from_pretrained(directory)
    args = training_arguments(job, str(Path(job.model_dir) / "trainer"), cpu=True)
    trainer = Trainer(
        model=model,
        args=args,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
    )
    labels = model.config.id2label

    def batch(texts: list[str]) -> list[str]:
        logits = trainer_predict(trainer, tokenizer, texts, job.max_length)
        return [labels[int(i)] for i in logits.argmax(axis=1)]

    return Predictor(
        batch,
        details={"predict_batch_size": job.batch_size, "device": str(args.device)},
    )


LOADERS: dict[str, Callable[[Job], Predictor]] = {
    "fp32": load_skbert,
    "bf16": functools.partial(load_skbert, precision="bf16"),
    "int8": functools.partial(load_skbert, quantize="int8"),
    "onnx": functools.partial(load_onnx, export=ONNX),
    "onnx_int8": functools.partial(load_onnx, export=ONNX_INT8),
    "pipeline": load_pipeline,
    "trainer": load_trainer,
}


def latencies(
    calls: dict[str, list[Callable[[], Any]]], warmup: int
) -> dict[str, dict[str, float]]:
    """Milliseconds per call of each kind, the kinds alternating call by call."""
    import numpy as np

    for row in calls.values():
        for call in row[:warmup]:
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(len(next(iter(calls.values())))):
        for name, row in calls.items():
            started = time.perf_counter()
            row[i]()
            samples[name].append(1000 * (time.perf_counter() - started))
    return {
        name: {
            "p50_ms": float(np.percentile(values, 50)),
            "p95_ms": float(np.percentile(values, 95)),
            "mean_ms": float(np.mean(values)),
            "calls": len(values),
        }
        for name, values in samples.items()
    }


def run_variant(job: Job, data: Data, *, variant: str) -> dict[str, Any]:
    """Load the variant, then time its predictions: many texts, then one."""
    predictor, load_s = timed(lambda: LOADERS[variant](job))
    texts = data["eval_x"]
    _, warmup_s = timed(lambda: predictor.batch(texts[: job.batch_size]))
    times = []
    for _ in range(job.options["repeat"]):
        labels, seconds = timed(lambda: predictor.batch(texts))
        times.append(seconds)
    result = {
        "variant": variant,
        "load_s": load_s,
        "warmup_s": warmup_s,
        "predict_s": min(times),
        "predict_times_s": times,
        "texts_per_s": len(texts) / min(times),
        "predicted": [str(label) for label in labels],
        "torch_imported": "torch" in sys.modules,
        **predictor.details,
    }
    n = job.options["latency_calls"]
    if n and predictor.one is not None:
        chosen = [texts[i % len(texts)] for i in range(n)]
        calls = {"predict": [functools.partial(predictor.one, t) for t in chosen]}
        if predictor.forward is not None:
            calls["forward"] = [predictor.forward(t) for t in chosen]
        result["latency"] = latencies(calls, job.options["warmup_calls"])
    return result


def run_finetune(job: Job, data: Data) -> dict[str, Any]:
    """Fine-tune, predict the validation texts, save and export the model."""
    clf, result = fitted_skbert(job, data)
    work_dir = Path(job.options["work_dir"])
    _, save_s = timed(lambda: clf.save(work_dir / MODEL))
    _, onnx_s = timed(lambda: clf.export_onnx(work_dir / ONNX))
    _, onnx_int8_s = timed(lambda: clf.export_onnx(work_dir / ONNX_INT8, "int8"))
    return {
        **result,
        "max_length": clf.max_length_,
        "save_s": save_s,
        "export_onnx_s": onnx_s,
        "export_onnx_int8_s": onnx_int8_s,
    }


# Imported before the child notes its memory: the library a variant runs on. What
# else it needs is imported while it loads, and counts in its load s and memory.
TORCH_MODULES = ("torch",)
ONNX_MODULES = ("onnxruntime",)
LABELS = {
    "fp32": "skbert, fp32",
    "bf16": 'skbert, precision="bf16"',
    "int8": 'skbert, quantize="int8"',
    "onnx": "skbert ONNX export, fp32 (onnxruntime)",
    "onnx_int8": 'skbert ONNX export, quantize="int8" (onnxruntime)',
    "pipeline": 'transformers pipeline("text-classification")',
    "trainer": "transformers Trainer.predict",
}
TOOLS: dict[str, Tool] = {
    "finetune": Tool("skbert fine-tuning", (*HF, "skbert"), run_finetune),
    **{
        variant: Tool(
            LABELS[variant],
            ONNX_MODULES if variant.startswith("onnx") else TORCH_MODULES,
            functools.partial(run_variant, variant=variant),
        )
        for variant in VARIANTS
    },
}


def score(job: Job, predicted: list[str], expected: list[str]) -> dict[str, Any]:
    """Accuracy, and the labels themselves for the agreement between variants."""
    correct = sum(p == y for p, y in zip(predicted, expected, strict=True))
    return {"accuracy": correct / len(expected), "labels": predicted}


# --------------------------------------------------------------------------- args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__, "sst2/ and imdb/")
    parser.set_defaults(learning_rate=1e-4)
    parser.add_argument(
        "--n-train",
        type=int,
        default=1000,
        help="seeded sample of SST-2 train to fine-tune on",
    )
    parser.add_argument(
        "--sst2-eval",
        type=int,
        default=None,
        help="seeded sample of the 872 SST-2 validation sentences; all when omitted",
    )
    parser.add_argument(
        "--imdb-test",
        type=int,
        default=500,
        help="seeded sample of the 25,000 IMDB test reviews; 0 skips IMDB",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=128,
        help="tokens per text, in fine-tuning and in every variant's prediction",
    )
    parser.add_argument(
        "--variants",
        default=None,
        help=f"comma-separated, in this order (fp32 is the baseline and always "
        f"runs): {', '.join(VARIANTS)}; all when omitted, bf16 only where the CPU "
        "has AMX or AVX512_BF16",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed passes per variant and round"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of every variant per dataset, the order reversed on every other "
        "round; each variant's fastest pass is kept",
    )
    parser.add_argument(
        "--latency-calls",
        type=int,
        default=200,
        help="single-sentence predict calls per variant on SST-2; 0 skips them",
    )
    parser.add_argument(
        "--warmup-calls",
        type=int,
        default=10,
        help="untimed single-sentence calls before the latency calls",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the fine-tuned model and its exports are written (kept); a "
        "temporary directory when omitted",
    )
    return parser.parse_args(argv)


def chosen_variants(args: argparse.Namespace, host: dict[str, Any]) -> list[str]:
    """The variants to run, fp32 first; bf16 by default only with bf16 hardware."""
    if args.variants is None:
        bf16 = host["amx"] or host["avx512_bf16"]
        chosen = [v for v in VARIANTS if v != "bf16" or bf16]
    else:
        chosen = names(args.variants, VARIANTS, "variant")
    return ["fp32", *(v for v in chosen if v != "fp32")]


# --------------------------------------------------------------------------- run


def finetune(
    args: argparse.Namespace, runner: Runner, work_dir: Path, sst2: Data
) -> dict[str, Any]:
    job = dataclasses.replace(
        job_of(args, "finetune", resolve_model(args.model), args.max_length),
        options={"work_dir": str(work_dir)},
    )
    result = runner.run(job, runner.write_data(sst2))
    result.pop("labels")
    return result


def run_dataset(
    args: argparse.Namespace,
    runner: Runner,
    work_dir: Path,
    variants: list[str],
    title: str,
    data: Data,
) -> dict[str, Any]:
    """Every variant on one dataset's texts; their ratios to skbert fp32."""
    print(f"{title}:", file=sys.stderr, flush=True)
    data_path = runner.write_data({**data, "train_x": [], "train_y": []})
    rounds: list[dict[str, dict[str, Any]]] = []
    for round_ in range(args.rounds):
        order = variants if round_ % 2 == 0 else variants[::-1]
        rounds.append(
            {
                v: runner.run(variant_job(args, work_dir, v, title), data_path)
                for v in order
            }
        )
    results = [best_of([r[variant] for r in rounds]) for variant in variants]
    base = results[0]
    for result in results:
        same = sum(
            a == b for a, b in zip(result["labels"], base["labels"], strict=True)
        )
        result["agreement"] = same / len(base["labels"])
        result["ratio_to_fp32"] = result["predict_s"] / base["predict_s"]
    for result in results:
        result.pop("labels")
    return {"dataset": title, "n_eval": len(data["eval_x"]), "results": results}


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One variant over its rounds: its fastest round, with every round's times.

    The latency is the round's with the lowest one-text median.
    """
    best = dict(min(runs, key=lambda r: r["predict_s"]))
    best["predict_times_s"] = [t for r in runs for t in r["predict_times_s"]]
    latencies_ = [r["latency"] for r in runs if "latency" in r]
    if latencies_:
        best["latency"] = min(latencies_, key=lambda x: x["predict"]["p50_ms"])
    best["rounds"] = len(runs)
    return best


def variant_job(
    args: argparse.Namespace, work_dir: Path, variant: str, title: str
) -> Job:
    """The job of one variant on one dataset."""
    return dataclasses.replace(
        job_of(args, variant, str(work_dir), args.max_length),
        # Every variant predicts in batches of skbert's default size.
        batch_size=2 * args.batch_size,
        options={
            "repeat": args.repeat,
            "latency_calls": args.latency_calls if title == "SST-2" else 0,
            "warmup_calls": args.warmup_calls,
        },
    )


# --------------------------------------------------------------------------- goals


def goals(settings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's goals on every dataset where the run has what they compare."""
    found = []
    for setting in settings:
        by_variant = {r["variant"]: r for r in setting["results"]}
        for check in (best_vs_trainer, int8_goal, onnx_goal, latency_goal):
            goal = check(by_variant)
            if goal is not None:
                found.append({"dataset": setting["dataset"], **goal})
    return found


def best_vs_trainer(by_variant: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    trainer = by_variant.get("trainer")
    agreeing = [
        by_variant[v]
        for v in SKBERT_VARIANTS
        if v in by_variant and by_variant[v]["agreement"] >= AGREEMENT
    ]
    if trainer is None or not agreeing:
        return None
    best = min(agreeing, key=lambda r: r["predict_s"])
    value = best["predict_s"] / trainer["predict_s"]
    return {
        "goal": f"fastest skbert variant ({LABELS[best['variant']]}, agreement "
        f"{best['agreement']:.1%}) / Trainer.predict time",
        "value": value,
        "target": f"<= {BEST_VS_TRAINER} at >= {AGREEMENT:.0%} agreement",
        "met": value <= BEST_VS_TRAINER,
    }


def int8_goal(by_variant: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if "int8" not in by_variant:
        return None
    int8, fp32 = by_variant["int8"], by_variant["fp32"]
    points = 100 * (int8["accuracy"] - fp32["accuracy"])
    return {
        "goal": f'quantize="int8" / fp32 time (agreement {int8["agreement"]:.1%}, '
        f"accuracy {points:+.2f} points)",
        "value": int8["ratio_to_fp32"],
        "target": f"<= {INT8_RATIO}, >= {AGREEMENT:.0%} agreement, accuracy within "
        f"{INT8_POINTS:g} point",
        "met": int8["ratio_to_fp32"] <= INT8_RATIO
        and int8["agreement"] >= AGREEMENT
        and abs(points) <= INT8_POINTS,
    }


def onnx_goal(by_variant: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if "onnx" not in by_variant:
        return None
    value = by_variant["onnx"]["ratio_to_fp32"]
    return {
        "goal": "onnxruntime (fp32 export) / PyTorch fp32 time",
        "value": value,
        "target": f"<= {ONNX_RATIO}",
        "met": value <= ONNX_RATIO,
    }


def latency_goal(by_variant: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    latency = by_variant["fp32"].get("latency")
    if latency is None:
        return None
    value = latency["predict"]["p50_ms"] / latency["forward"]["p50_ms"]
    return {
        "goal": "one-text predict p50 / bare forward pass p50 (fp32)",
        "value": value,
        "target": f"<= {LATENCY_RATIO:g}",
        "met": value <= LATENCY_RATIO,
    }


# --------------------------------------------------------------------------- report


def preamble(args: argparse.Namespace, host: dict[str, Any]) -> str:
    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    return (
        f"{machine_line(host)} AMX: {yes(host['amx'])}, AVX512_BF16: "
        f"{yes(host['avx512_bf16'])}.\n"
        f"Model: {args.model}, fine-tuned by skbert on {args.n_train:,} SST-2 "
        f"sentences ({args.epochs} epoch(s), lr {args.learning_rate}, batch "
        f"{args.batch_size}, max_length {args.max_length}, seed {args.seed}).\n"
        f"Every variant predicts in batches of {2 * args.batch_size}, dynamically "
        "padded. predict s: raw texts to labels, tokenising included, best of "
        f"{args.rounds * args.repeat} passes ({args.rounds} rounds of {args.repeat}) "
        "after a warm-up batch. Agreement: labels identical "
        "to skbert fp32's. Peak RSS MiB is the growth of each child's peak RSS "
        "over its RSS before loading the model."
    )


def finetune_line(result: dict[str, Any]) -> str:
    return (
        f"Fine-tuned in {result['fit_s']:.1f} s (SST-2 validation accuracy "
        f"{result['accuracy']:.4f}); saved in {result['save_s']:.1f} s, exported to "
        f"ONNX in {result['export_onnx_s']:.1f} s (int8: "
        f"{result['export_onnx_int8_s']:.1f} s)."
    )


def result_rows(setting: dict[str, Any]) -> Iterator[str]:
    yield (
        "| variant | texts/s | time / skbert fp32 | agreement with fp32 | accuracy | "
        "predict s | load s | peak RSS MiB |"
    )
    yield "|---|" + "---:|" * 7
    for r in setting["results"]:
        yield (
            f"| {LABELS[r['variant']]} | {r['texts_per_s']:.0f} | "
            f"{r['ratio_to_fp32']:.2f} | {r['agreement']:.1%} | "
            f"{r['accuracy']:.4f} | {r['predict_s']:.2f} | {r['load_s']:.1f} | "
            f"{r['peak_rss_growth_mib']:.0f} |"
        )


def latency_rows(setting: dict[str, Any]) -> Iterator[str]:
    timed_ = [r for r in setting["results"] if "latency" in r]
    if not timed_:
        return
    base = timed_[0]["latency"].get("forward")
    yield "| one text | p50 ms | p95 ms | p50 / bare forward |"
    yield "|---|---:|---:|---:|"
    rows = [("bare forward pass, `model(**inputs)` (fp32)", base)] if base else []
    rows += [(LABELS[r["variant"]], r["latency"]["predict"]) for r in timed_]
    for label, stats in rows:
        ratio = stats["p50_ms"] / base["p50_ms"] if base else None
        yield (
            f"| {label} | {stats['p50_ms']:.2f} | {stats['p95_ms']:.2f} | "
            f"{number(ratio, '.2f')} |"
        )


def goal_rows(found: list[dict[str, Any]]) -> Iterator[str]:
    yield "| dataset | goal | measured | target | result |"
    yield "|---|---|---:|---|---|"
    for goal in found:
        yield (
            f"| {goal['dataset']} | {goal['goal']} | {goal['value']:.2f} | "
            f"{goal['target']} | {'met' if goal['met'] else 'MISSED'} |"
        )


def section(setting: dict[str, Any]) -> str:
    kind = "sentences" if setting["dataset"] == "SST-2" else "reviews"
    lines = [
        f"#### {setting['dataset']}: {setting['n_eval']:,} {kind}",
        "",
        *result_rows(setting),
    ]
    latency = list(latency_rows(setting))
    if latency:
        calls = next(r for r in setting["results"] if "latency" in r)["latency"]
        n = calls["predict"]["calls"]
        lines += ["", f"Single-text latency, {n} calls each:", "", *latency]
    return "\n".join(lines)


def datasets(args: argparse.Namespace) -> tuple[Data, dict[str, Data]]:
    """The fine-tuning sample with SST-2 validation, and each dataset's texts."""
    import skbert.datasets

    sst2 = sample(
        skbert.datasets.load_sst2,
        ("train", "validation"),
        args.data_dir,
        args.n_train,
        args.sst2_eval,
        args.seed,
    )
    texts = {"SST-2": sst2}
    if args.imdb_test:
        texts["IMDB"] = sample(
            skbert.datasets.load_imdb,
            ("train", "test"),
            args.data_dir,
            0,
            args.imdb_test,
            args.seed,
        )
    return sst2, texts


def loads(averages: tuple[float, ...]) -> str:
    return ", ".join(f"{x:.2f}" for x in averages)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # The children load local files only, unless the caller set HF_HUB_OFFLINE=0.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    host = machine(args.threads)
    variants = chosen_variants(args, host)
    check_tools(variants, TOOLS)  # the Trainer needs accelerate
    started, load_before = time.perf_counter(), os.getloadavg()
    print(preamble(args, host), flush=True)
    sst2, texts = datasets(args)
    with (
        tempfile.TemporaryDirectory(prefix="bench_inference_") as tmp,
        Runner(Path(__file__).stem) as runner,
    ):
        work_dir = args.work_dir or Path(tmp)
        tuned = finetune(args, runner, work_dir, sst2)
        print(f"\n{finetune_line(tuned)}", flush=True)
        settings = []
        for title, data in texts.items():
            setting = run_dataset(args, runner, work_dir, variants, title, data)
            print(f"\n{section(setting)}", flush=True)
            settings.append(setting)
    found = goals(settings)
    print("\nGoals:\n\n" + "\n".join(goal_rows(found)))
    total_s = time.perf_counter() - started
    load_after = os.getloadavg()
    print(
        f"\nLoad average (1, 5, 15 min) before: {loads(load_before)}; after: "
        f"{loads(load_after)}. "
        f"Total wall time: {total_s / 60:.1f} min"
    )
    if args.json is not None:
        report = {
            "config": config_of(args),
            "environment": {**environment(PACKAGES), "machine": host},
            "variants": variants,
            "finetune": tuned,
            "settings": settings,
            "goals": found,
            "load_average": {"before": load_before, "after": load_after},
            "total_s": total_s,
        }
        write_json(args.json, report)


if __name__ == "__main__":
    main(sys.argv[1:])
