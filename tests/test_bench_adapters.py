"""The LoRA benchmark runs end to end, so it cannot rot between measured runs.

``benchmarks/bench_adapters.py`` runs on the tiny test model (the ``test`` extra
installs peft) with full fine-tuning and LoRA on 32 training and 16 validation
items of MRPC and STS-B, in child processes as in a real run.
"""

from __future__ import annotations

import argparse
import json

import pytest

from conftest import run_benchmark, shared_data


@pytest.mark.slow
def test_adapter_benchmark_runs_end_to_end(tiny_model, tmp_path):
    data = shared_data(
        *(
            f"{name}/{split}.csv.gz"
            for name in ("mrpc", "stsb")
            for split in ("train", "validation")
        )
    )
    run_benchmark(
        "bench_adapters.py",
        *("--model", tiny_model, "--data-dir", str(data)),
        *("--datasets", "mrpc,stsb", "--tools", "full,lora"),
        *("--lora-modules", "all-linear", "--n-train", "32", "--n-test", "16"),
        *("--json", str(tmp_path / "adapters.json")),
    )
    report = json.loads((tmp_path / "adapters.json").read_text())
    assert report["config"]["lora_modules"] == "all-linear"
    mrpc, stsb = report["settings"]
    assert [s["dataset"] for s in (mrpc, stsb)] == ["MRPC", "STS-B"]
    for setting in (mrpc, stsb):
        assert (setting["n_train"], setting["n_eval"]) == (32, 16)
        full, lora = setting["results"]
        assert (full["tool"], lora["tool"]) == ("full", "lora")
        assert 0 < lora["trainable"] < full["trainable"]
        assert lora["pickle_bytes"] < full["pickle_bytes"]
        assert lora["learning_rate"] == pytest.approx(2e-3)  # LoRA's "auto"
        assert full["learning_rate"] == pytest.approx(1e-4)
    assert all(0 <= r["accuracy"] <= 1 for r in mrpc["results"])
    assert all(-1 <= r["pearson"] <= 1 for r in stsb["results"])


def test_adapter_options_reach_only_the_adapter_tools(monkeypatch):
    monkeypatch.syspath_prepend("benchmarks")
    import bench_adapters

    args = argparse.Namespace(
        learning_rate=None, lora_learning_rate=3e-3, lora_modules="all-linear"
    )
    assert bench_adapters.options_of(args, "full") == {}
    assert bench_adapters.options_of(args, "lora-r4") == {
        "adapter": "lora",
        "adapter_rank": 4,
        "learning_rate": 3e-3,
        "adapter_modules": "all-linear",
    }
    args.lora_modules = args.lora_learning_rate = None
    assert bench_adapters.options_of(args, "lora") == {
        "adapter": "lora",
        "adapter_rank": 8,
    }
