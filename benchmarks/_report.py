"""What the benchmark scripts report: tables, ratios, the machine, the JSON file.

The parent process of a benchmark script turns its children's measurements into
Markdown tables (:func:`result_rows`), skbert's ratios against each peer
(:func:`ratios`, :func:`skbert_ratios`), the medians of repeated rounds
(:func:`median_of`, :func:`round_lines`), a description of the machine
(:func:`machine`, :func:`machine_line`, :func:`environment`) and a JSON file
(:func:`write_json`).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

# Table headers of the scores a ``score`` function may return.
SCORE_NAMES = {
    "accuracy": "accuracy",
    "f1": "F1",
    "macro_f1": "macro-F1",
    "pearson": "Pearson",
    "spearman": "Spearman",
}
TIMES = (("fit_s", "fit"), ("predict_s", "predict"))


def number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def progress_line(result: dict[str, Any]) -> str:
    """One child's result in a line: its scores, its times, its process time."""
    scores = "".join(
        f"{key} {result[key]:.4f}, " for key in SCORE_NAMES if key in result
    )
    times = ", ".join(
        f"{name} {result[key]:.2f} s" for key, name in TIMES if key in result
    )
    return f"{result['tool']}: {scores}{times}; done in {result['process_s']:.1f} s"


def result_rows(
    results: list[dict[str, Any]], scores: tuple[str, ...], tools: Mapping[str, Any]
) -> Iterator[str]:
    """The Markdown table of scores, times and memory, one row per tool.

    ``tools``: the registry of the results' tools, for their labels.
    """
    names = "".join(f" {SCORE_NAMES[key]} |" for key in scores)
    yield f"| tool |{names} fit s | predict s | peak RSS MiB |"
    yield "|---|" + "---:|" * (len(scores) + 3)
    for r in results:
        values = "".join(f" {r[key]:.4f} |" for key in scores)
        yield (
            f"| {tools[r['tool']].label} |{values} {r['fit_s']:.1f} | "
            f"{r['predict_s']:.2f} | {r['peak_rss_growth_mib']:.0f} |"
        )


def ratios(
    ours: dict[str, Any],
    theirs: dict[str, Any],
    scores: tuple[str, ...] = ("accuracy",),
) -> dict[str, float | None]:
    """skbert's time and memory as a share of a peer's, and its score gains.

    A gain is in points (100 x the difference), under ``<score>_diff_points``.
    """

    def share(key: str) -> float | None:
        return ours[key] / theirs[key] if theirs[key] > 0 else None

    gains = {f"{key}_diff_points": 100 * (ours[key] - theirs[key]) for key in scores}
    return {
        "fit_ratio": share("fit_s"),
        "predict_ratio": share("predict_s"),
        **gains,
        "peak_rss_ratio": share("peak_rss_growth_mib"),
    }


def skbert_ratios(
    results: list[dict[str, Any]], scores: tuple[str, ...] = ("accuracy",)
) -> dict[str, dict[str, Any]]:
    """skbert's ratios against every other tool of one setting, keyed by tool."""
    by_tool = {result["tool"]: result for result in results}
    ours = by_tool.get("skbert")
    if ours is None:
        return {}
    return {
        tool: ratios(ours, theirs, scores)
        for tool, theirs in by_tool.items()
        if tool != "skbert"
    }


def median_of(runs: Sequence[dict[str, Any]], scores: tuple[str, ...]) -> dict:
    """One tool's result over its rounds: the median scores, times and memory."""
    result = dict(runs[0])
    for key in (*scores, "fit_s", "predict_s", "peak_rss_growth_mib"):
        result[key] = statistics.median(run[key] for run in runs)
    return result


def round_lines(
    round_ratios: list[dict[str, dict[str, Any]]], tools: Mapping[str, Any]
) -> Iterator[str]:
    """skbert's fit-time ratio against each peer in every round."""
    yield f"Medians of {len(round_ratios)} rounds. skbert's fit time ratio by round:"
    yield ""
    for tool in round_ratios[0]:
        values = ", ".join(number(r[tool]["fit_ratio"], ".2f") for r in round_ratios)
        yield f"* against {tools[tool].label}: {values}"


def machine(threads: int | None) -> dict[str, Any]:
    """The CPU, torch's view of it and the torch threads of every child."""
    import torch

    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as handle:
            lines = handle.readlines()
        models = [line for line in lines if line.startswith("model name")]
        cpu = models[0].split(":", 1)[1].strip() if models else cpu
        flags = {
            flag
            for line in lines
            if line.startswith("flags")
            for flag in line.split(":", 1)[1].split()
        }
    except OSError:
        pass
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "amx": bool(amx),
        "avx512_bf16": "avx512_bf16" in flags,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch_threads": threads or torch.get_num_threads(),
    }


def machine_line(host: dict[str, Any]) -> str:
    gpu = f", GPU {host['cuda']}" if host["cuda"] else ", no GPU"
    return (
        f"Machine: {host['cpu']}, {host['cpu_count']} logical CPUs, torch CPU "
        f"capability {host['cpu_capability']}, {host['torch_threads']} torch "
        f"threads{gpu}."
    )


def environment(packages: tuple[str, ...]) -> dict[str, Any]:
    versions = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def write_json(path: Path, report: dict[str, Any], quiet: bool = False) -> None:
    """Write ``report``; say so on stdout unless ``quiet`` (a file rewritten as a
    long run goes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    if not quiet:
        print(f"\nWrote {path}")


def config_of(args: Any) -> dict[str, Any]:
    """The command-line options as JSON values."""
    return {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in vars(args).items()
        if key != "json"
    }


def report_settings(
    args: Any,
    host: dict[str, Any],
    packages: tuple[str, ...],
    settings: Iterable[dict[str, Any]],
    section: Callable[[dict[str, Any]], str],
    started: float,
) -> None:
    """Print each setting's ``section`` as soon as it is done (a late failure
    keeps the tables printed), then the wall time since ``started``; write
    everything to ``args.json`` when given."""
    done = []
    for setting in settings:
        print(f"\n{section(setting)}", flush=True)
        done.append(setting)
    total_s = time.perf_counter() - started
    print(f"\nTotal wall time: {total_s / 60:.1f} min")
    if args.json is not None:
        report = {
            "config": config_of(args),
            "environment": {**environment(packages), "machine": host},
            "settings": done,
            "total_s": total_s,
        }
        write_json(args.json, report)
