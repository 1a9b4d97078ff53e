"""Each tool in its own child process, one after the other, and its memory.

A benchmark script writes its data sample once (:meth:`Runner.write_data`) and
runs one :class:`~_tools.Job` per tool (:meth:`Runner.run`), each in a child
process, so that a tool's peak memory is its own and no two tools compete for
cores. The child is this module run as a script: it imports what its tool
needs, notes its resident memory, runs the tool, scores what it predicted and
writes the measurements as JSON.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _report import progress_line
from _tools import Data, Job

MIB = 1024 * 1024
TOOLS_MODULE = "_tools"


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


def child(
    job_path: Path, data_path: Path, output_path: Path, registry: str | None = None
) -> None:
    """Run one job in this process; write its measurements to ``output_path``.

    The tool and the scoring come from the module named ``registry`` (its
    ``TOOLS`` and ``score``), from ``_tools`` when None.
    """
    job = Job(**json.loads(job_path.read_text()))
    owner = importlib.import_module(registry or TOOLS_MODULE)
    tool = owner.TOOLS[job.tool]
    for module in tool.modules:
        importlib.import_module(module)
    if "transformers" in tool.modules:
        import_model_code(job.model_dir)
    torch = sys.modules.get("torch")
    if torch is not None and job.threads is not None:
        torch.set_num_threads(job.threads)
    data = json.loads(data_path.read_text())
    gc.collect()
    load_before = os.getloadavg()[0]
    rss_before = current_rss()
    result = tool.run(job, data)
    peak = peak_rss()
    scores = owner.score(job, result.pop("predicted"), data["eval_y"])
    result.update(
        tool=job.tool,
        **scores,
        n_train=len(data["train_x"]),
        n_eval=len(data["eval_y"]),
        rss_before_mib=rss_before / MIB,
        peak_rss_mib=peak / MIB,
        peak_rss_growth_mib=(peak - rss_before) / MIB,
        torch_threads=None if torch is None else torch.get_num_threads(),
        load_average=[load_before, os.getloadavg()[0]],
    )
    output_path.write_text(json.dumps(result))


def import_model_code(model_dir: str) -> None:
    """Import the transformers code of ``model_dir``'s architecture.

    Every tool that loads the model pays this import (about 1.7 s for BERT on 2
    cores) once per process, and where it falls depends on the tool: SetFit's
    package imports it with itself, skbert and the ``Trainer`` in their first
    ``from_pretrained``. Doing it before any timing makes every tool's fit time
    its work on the texts and the model, not its import order.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    MODEL_MAPPING[type(AutoConfig.from_pretrained(model_dir))]


def resolve_model(model: str) -> str:
    """The model's directory, its files read once so no child pays a cold disk."""
    from skbert._hub import resolve

    model_dir, local = resolve(model)
    if local:
        for path in Path(model_dir).iterdir():
            if path.is_file():
                with open(path, "rb") as handle:
                    while handle.read(1 << 24):
                        pass
    return model_dir


class Runner:
    """Runs jobs in child processes, one at a time, on data written once.

    ``registry``: the module (a script in this folder) whose ``TOOLS`` and
    ``score`` the children use; ``_tools`` when None.
    """

    def __init__(self, registry: str | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="skbert_bench_")
        self._count = 0
        self._registry = registry

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def write_data(self, data: Data) -> Path:
        self._count += 1
        path = Path(self._tmp.name) / f"data{self._count}.json"
        path.write_text(json.dumps(data))
        return path

    def run(self, job: Job, data_path: Path) -> dict[str, Any]:
        self._count += 1
        job_path = Path(self._tmp.name) / f"job{self._count}.json"
        output = Path(self._tmp.name) / f"result{self._count}.json"
        job_path.write_text(json.dumps(dataclasses.asdict(job)))
        command = [sys.executable, __file__, str(job_path), str(data_path), str(output)]
        if self._registry is not None:
            command.append(self._registry)
        print(f"Running {job.tool} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        # The child's stdout (such as the Trainer's final metrics) goes to stderr,
        # so that stdout holds only the report.
        subprocess.run(command, check=True, stdout=sys.stderr)
        result = json.loads(output.read_text())
        result["process_s"] = time.perf_counter() - started
        print(f"  {progress_line(result)}", file=sys.stderr, flush=True)
        return result


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    child(*(Path(arg) for arg in sys.argv[1:4]), *sys.argv[4:5])
