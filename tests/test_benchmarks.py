"""The peer benchmark runs end to end, so it cannot rot between measured runs.

``benchmarks/bench_peers.py`` runs on the tiny test model with the tools that need
nothing beyond the test install (skbert, the padded PyTorch loop, TF-IDF), on 32
SST-2 sentences, twice, in child processes as in a real run. The Trainer and skorch
need the ``bench`` extra and are not run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ["skbert", "padded", "tfidf"]


@pytest.mark.slow
def test_peer_benchmark_runs_end_to_end(tiny_model, tmp_path):
    data = shared_data("sst2/train.csv.gz", "sst2/validation.csv.gz")
    command = [
        sys.executable,
        "benchmarks/bench_peers.py",
        *("--model", tiny_model, "--data-dir", str(data), "--datasets", "sst2"),
        *("--tools", ",".join(TOOLS), "--n-train", "32", "--n-test", "16"),
        *("--repeat", "2", "--threads", "1", "--json", str(tmp_path / "peers.json")),
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    setting = json.loads((tmp_path / "peers.json").read_text())["settings"][0]
    assert (setting["n_train"], setting["n_eval"]) == (32, 16)
    assert [r["tool"] for r in setting["results"]] == TOOLS
    assert [[r["tool"] for r in round_] for round_ in setting["rounds"]] == [TOOLS] * 2
    for result in setting["results"]:
        assert 0 <= result["accuracy"] <= 1
        assert result["fit_s"] > 0 and result["predict_s"] > 0
    assert set(setting["skbert_ratios"]) == {"padded", "tfidf"}
    # The second round runs the tools in reverse order.
    started = [
        line.split()[1]
        for line in done.stderr.splitlines()
        if line.startswith("Running ")
    ]
    assert started == [*TOOLS, *TOOLS[::-1]]
    assert "| skbert / peer |" in done.stdout
    assert "skbert's fit time ratio by round" in done.stdout
