"""A hyperparameter search three ways on the same cores: in turn, loky, Dask.

One ``GridSearchCV`` of 4 candidates (``learning_rate`` 1e-4 and 3e-4 x ``epochs``
1 and 2) x 3 folds, accuracy and log-loss, ``refit=False``, on a seeded SST-2 sample
(``numpy.random.default_rng(0)``, ``--n-train`` training sentences), the bundled
MiniLM-L6 with ``random_state=0``. With ``--workers N`` (default 2, the cores of
the development machine):

* ``sequential``: ``GridSearchCV(n_jobs=1)``, each fit on N torch threads
  (``BertTextClassifier(n_jobs=N)``): one fit at a time on every core;
* ``loky``: ``GridSearchCV(n_jobs=N)``, joblib's default process pool, each fit on
  one thread (``n_jobs=1``): N fits at a time;
* ``dask``: a ``dask.distributed.LocalCluster`` of N worker processes x 1 thread on
  127.0.0.1, the search inside ``joblib.parallel_config(backend="dask")``, each fit
  on one thread: N fits at a time.

Before each timed search the mode's processes are started and warmed with one tiny
fit each (imports, the model read from disk); ``start s`` is that, ``wall s`` the
search alone. The table also gives the processes that ran fits (a fold's "score"
is its process id; loky replaces a worker whose memory grew by 300 MB), each mode's
mean CV accuracy per candidate and the largest differences of the accuracies and
log-losses from the sequential run's (fits on one thread and on N threads add
floating-point numbers in different orders, so a sentence near the boundary may
flip), and the load average before and after (this benchmark cannot tell its own
work from other processes'). Timings are not asserted anywhere.

Run from the repository root (2 minutes 20 s on two idle cores; 18 minutes on two
cores shared with other jobs, load average 5 to 7, most of it the sequential mode)::

    HF_HUB_OFFLINE=1 python benchmarks/bench_search.py \
        --json benchmarks/results/search.json

``--n-train 48`` checks quickly that everything runs; ``--modes`` picks modes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import logging
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV

from skbert import BertTextClassifier
from skbert.datasets import load_sst2

GRID = {"learning_rate": [1e-4, 3e-4], "epochs": [1, 2]}
CV = 3


def warm() -> int:
    """Import everything and read the model once, in whichever process runs it."""
    BertTextClassifier(epochs=1, n_jobs=1, random_state=0).fit(
        ["good", "bad", "fine", "awful"], [1, 0, 1, 0]
    )
    return os.getpid()


def process_id(estimator: Any, X: Any, y: Any) -> int:
    """A "score" that tells which process fitted and scored the fold."""
    return os.getpid()


def search(threads: int, n_jobs: int | None) -> GridSearchCV:
    estimator = BertTextClassifier(random_state=0, n_jobs=threads)
    scoring = {"accuracy": "accuracy", "log_loss": "neg_log_loss", "pid": process_id}
    return GridSearchCV(
        estimator, GRID, scoring=scoring, cv=CV, n_jobs=n_jobs, refit=False
    )


@contextlib.contextmanager
def sequential(workers: int) -> Iterator[GridSearchCV]:
    warm()
    yield search(threads=workers, n_jobs=1)


@contextlib.contextmanager
def loky(workers: int) -> Iterator[GridSearchCV]:
    # A joblib call with the same n_jobs starts the pool that the search reuses.
    pids = joblib.Parallel(n_jobs=workers)(
        joblib.delayed(warm)() for _ in range(2 * workers)
    )
    assert len(set(pids)) == workers, f"warm-up reached {len(set(pids))} workers"
    yield search(threads=1, n_jobs=workers)


@contextlib.contextmanager
def dask(workers: int) -> Iterator[GridSearchCV]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(warm)
        with joblib.parallel_config(backend="dask"):
            yield search(threads=1, n_jobs=None)


MODES = {"sequential": sequential, "loky": loky, "dask": dask}


def run_mode(mode: str, workers: int, X: list[str], y: np.ndarray) -> dict[str, Any]:
    load_before = os.getloadavg()
    started = time.perf_counter()
    with MODES[mode](workers) as grid:
        ready = time.perf_counter()
        grid.fit(X, y)
        done = time.perf_counter()
    results = grid.cv_results_
    return {
        "mode": mode,
        "search_n_jobs": grid.n_jobs,
        "estimator_n_jobs": grid.estimator.n_jobs,
        "start_seconds": ready - started,
        "wall_seconds": done - ready,
        "params": [str(p) for p in grid.cv_results_["params"]],
        "mean_test_score": results["mean_test_accuracy"].tolist(),
        "mean_test_log_loss": (-results["mean_test_log_loss"]).tolist(),
        "mean_fit_time": results["mean_fit_time"].tolist(),
        "processes": len(
            {int(pid) for k in range(CV) for pid in results[f"split{k}_test_pid"]}
        ),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def machine() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        names = [line for line in handle if line.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    versions = {}
    for package in ("torch", "transformers", "scikit-learn", "joblib", "distributed"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "versions": versions,
    }


def largest_difference(row: dict, reference: dict | None, key: str) -> str:
    if reference is None:
        return "-"
    return f"{np.max(np.abs(np.subtract(row[key], reference[key]))):.2g}"


def print_table(host: dict[str, Any], n_train: int, rows: list[dict]) -> None:
    print(
        f"\nMachine: {host['cpu']}, {host['usable_cores']} usable cores, torch CPU "
        f"capability {host['cpu_capability']}. GridSearchCV, {len(rows[0]['params'])}"
        f" candidates x {CV} folds, {n_train} SST-2 sentences, refit=False.\n"
    )
    reference = next((r for r in rows if r["mode"] == "sequential"), None)
    print(
        "| mode | search n_jobs | estimator n_jobs | processes | start s | wall s "
        "| sequential / this | mean CV accuracy per candidate | largest difference: "
        "accuracy, log-loss | load before -> after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = (
            f"{reference['wall_seconds'] / r['wall_seconds']:.2f}" if reference else "-"
        )
        scores = " ".join(f"{s:.3f}" for s in r["mean_test_score"])
        print(
            f"| {r['mode']} | {r['search_n_jobs']} | {r['estimator_n_jobs']} | "
            f"{r['processes']} | {r['start_seconds']:.1f} | "
            f"{r['wall_seconds']:.1f} | {ratio} | {scores} | "
            f"{largest_difference(r, reference, 'mean_test_score')}, "
            f"{largest_difference(r, reference, 'mean_test_log_loss')} | "
            f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f} |"
        )
    print(f"\nCandidates in that order: {'; '.join(rows[0]['params'])}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--data-dir", default=os.environ.get("SKBERT_DATA", "../shared/data")
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    X, y = load_sst2("train", data_home=args.data_dir, return_X_y=True)
    keep = np.random.default_rng(0).choice(len(X), args.n_train, replace=False)
    X_train, y_train = [X[i] for i in keep], y[keep]

    host = machine()
    rows = []
    for mode in args.modes:
        rows.append(run_mode(mode, args.workers, X_train, y_train))
        print(f"{mode}: {rows[-1]['wall_seconds']:.1f} s", flush=True)
    print_table(host, args.n_train, rows)
    report = {
        "machine": host,
        "config": {"n_train": args.n_train, "workers": args.workers, "cv": CV},
        "grid": GRID,
        "rows": rows,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nWrote {args.json}")
    return report


if __name__ == "__main__":
    main()
