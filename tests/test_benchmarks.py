"""The peer and inference benchmarks run end to end, so they cannot rot.

``benchmarks/bench_peers.py`` runs on the tiny test model with the tools that need
nothing beyond the test install (skbert, the padded PyTorch loop, TF-IDF), on 32
SST-2 sentences, twice, in child processes as in a real run. The Trainer and skorch
need the ``bench`` extra and are not run here; the table of skbert's targets
against the Trainer is checked on made-up ratios.

``benchmarks/bench_inference.py`` fine-tunes the tiny model on 16 SST-2 sentences
and runs every prediction variant on 8 SST-2 and 4 IMDB texts (the Trainer only
where ``accelerate`` is installed).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import run_benchmark, shared_data

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ["skbert", "padded", "tfidf"]


@pytest.mark.slow
def test_peer_benchmark_runs_end_to_end(tiny_model, tmp_path):
    data = shared_data("sst2/train.csv.gz", "sst2/validation.csv.gz")
    done = run_benchmark(
        "bench_peers.py",
        *("--model", tiny_model, "--data-dir", str(data), "--datasets", "sst2"),
        # --n-eval and --max-length are bench_trainer.py's options, kept.
        *("--tools", ",".join(TOOLS), "--n-train", "32", "--n-eval", "16"),
        *("--max-length", "64"),
        *("--repeat", "2", "--json", str(tmp_path / "peers.json")),
    )
    setting = json.loads((tmp_path / "peers.json").read_text())["settings"][0]
    assert (setting["n_train"], setting["n_eval"]) == (32, 16)
    assert setting["max_length"] == 64
    assert [r["tool"] for r in setting["results"]] == TOOLS
    assert [[r["tool"] for r in round_] for round_ in setting["rounds"]] == [TOOLS] * 2
    for result in setting["results"]:
        assert 0 <= result["accuracy"] <= 1
        assert result["fit_s"] > 0 and result["predict_s"] > 0
    assert set(setting["skbert_ratios"]) == {"padded", "tfidf"}
    assert setting["trainer_targets"] == {}  # no Trainer in this run
    # The second round runs the tools in reverse order.
    started = [
        line.split()[1]
        for line in done.stderr.splitlines()
        if line.startswith("Running ")
    ]
    assert started == [*TOOLS, *TOOLS[::-1]]
    assert done.stdout.startswith("Machine: ")
    assert "| skbert / peer |" in done.stdout
    assert "skbert's fit time ratio by round" in done.stdout


def test_peer_benchmark_checks_the_trainer_targets(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_peers

    against = {
        "trainer": {
            "fit_ratio": 0.5,
            "predict_ratio": 0.7,
            "accuracy_diff_points": -1.2,
        }
    }
    found = bench_peers.trainer_targets(against, bench_peers.TRAINER_TARGETS)
    assert found["passed"] == {
        "fit_ratio": True,
        "predict_ratio": False,
        "accuracy_diff_points": True,
    }
    rows = list(bench_peers.target_rows(found))
    assert rows[2] == "| fit time ratio | 0.50 | <= 0.6 | PASS |"
    assert rows[3] == "| predict time ratio | 0.70 | <= 0.6 | FAIL |"
    assert rows[4] == "| accuracy difference (points) | -1.20 | within ±1.5 | PASS |"
    # No targets for the setting, or no Trainer in the run: no table.
    assert bench_peers.trainer_targets(against, None) == {}
    assert bench_peers.trainer_targets({}, bench_peers.TRAINER_TARGETS) == {}


@pytest.mark.slow
def test_inference_benchmark_runs_end_to_end(tiny_model, tmp_path):
    data = shared_data(
        "sst2/train.csv.gz", "sst2/validation.csv.gz", "imdb/test.csv.gz"
    )
    variants = ["fp32", "bf16", "int8", "onnx", "onnx_int8", "pipeline"]
    if importlib.util.find_spec("accelerate") is not None:
        variants.append("trainer")
    out = tmp_path / "inference.json"
    done = run_benchmark(
        "bench_inference.py",
        *("--model", tiny_model, "--data-dir", str(data), "--variants"),
        *(",".join(variants), "--n-train", "16", "--sst2-eval", "8"),
        *("--imdb-test", "4", "--rounds", "1", "--repeat", "2"),
        *("--latency-calls", "3"),
        *("--warmup-calls", "1", "--json", str(out)),
    )
    report = json.loads(out.read_text())
    assert report["variants"] == variants
    assert {"amx", "avx512_bf16", "cpu_capability"} <= set(
        report["environment"]["machine"]
    )
    assert report["finetune"]["n_train"] == 16
    sst2, imdb = report["settings"]
    assert (sst2["dataset"], sst2["n_eval"]) == ("SST-2", 8)
    assert (imdb["dataset"], imdb["n_eval"]) == ("IMDB", 4)
    for setting in (sst2, imdb):
        assert [r["variant"] for r in setting["results"]] == variants
        fp32 = setting["results"][0]
        assert fp32["ratio_to_fp32"] == 1 and fp32["agreement"] == 1
        for result in setting["results"]:
            assert 0 <= result["agreement"] <= 1 and 0 <= result["accuracy"] <= 1
            assert result["ratio_to_fp32"] > 0 and result["texts_per_s"] > 0
            assert result["rounds"] == 1 and len(result["predict_times_s"]) == 2
            assert result["predict_s"] == min(result["predict_times_s"])
            assert "labels" not in result
            # The ONNX predictor runs without torch.
            assert result["torch_imported"] == (
                result["variant"] not in {"onnx", "onnx_int8"}
            )
    # Single-text latency on SST-2 only, for every variant but the Trainer; the
    # bare forward pass beside fp32's.
    latency = {r["variant"]: r.get("latency") for r in sst2["results"]}
    assert set(latency["fp32"]) == {"predict", "forward"}
    for variant in variants:
        if variant == "trainer":
            assert latency[variant] is None
        else:
            stats = latency[variant]["predict"]
            assert stats["calls"] == 3 and 0 < stats["p50_ms"] <= stats["p95_ms"]
    assert all("latency" not in r for r in imdb["results"])
    started = [
        line.split()[1]
        for line in done.stderr.splitlines()
        if line.startswith("Running ")
    ]
    assert started == ["finetune", *variants * 2]
    goals = {(g["dataset"], g["goal"].split(" ")[0]) for g in report["goals"]}
    assert {("SST-2", 'quantize="int8"'), ("IMDB", "onnxruntime")} <= goals
    assert all(isinstance(g["met"], bool) and g["value"] > 0 for g in report["goals"])
    for header in (
        "| variant | texts/s | time / skbert fp32 | agreement with fp32 |",
        "| one text | p50 ms | p95 ms | p50 / bare forward |",
        "| dataset | goal | measured | target | result |",
    ):
        assert header in done.stdout


def test_inference_goals_pick_the_fastest_agreeing_variant(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_inference

    def result(variant, seconds, agreement, accuracy=0.8):
        return {
            "variant": variant,
            "predict_s": seconds,
            "ratio_to_fp32": seconds / 10,
            "agreement": agreement,
            "accuracy": accuracy,
        }

    fp32 = result("fp32", 10, 1.0)
    fp32["latency"] = {"predict": {"p50_ms": 9.0}, "forward": {"p50_ms": 6.0}}
    setting = {
        "dataset": "SST-2",
        "results": [
            fp32,
            result("int8", 4, 0.96, 0.79),  # fastest, but too few labels agree
            result("onnx", 6, 0.99),
            result("trainer", 20, 1.0),
        ],
    }
    goals = {g["goal"].split(" ")[0]: g for g in bench_inference.goals([setting])}
    assert goals["fastest"]["value"] == 6 / 20 and goals["fastest"]["met"]
    assert "ONNX export, fp32" in goals["fastest"]["goal"]
    # int8 is fast enough but agrees on 96% of the labels only.
    assert goals['quantize="int8"']["value"] == 0.4
    assert not goals['quantize="int8"']["met"]
    assert goals["onnxruntime"]["value"] == 0.6 and goals["onnxruntime"]["met"]
    assert goals["one-text"]["value"] == 1.5 and goals["one-text"]["met"]


def test_inference_rounds_keep_each_variant_fastest_pass(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_inference

    def run(times, p50):
        latency = {"predict": {"p50_ms": p50}, "forward": {"p50_ms": 1.0}}
        return {"predict_s": min(times), "predict_times_s": times, "latency": latency}

    first, second = run([3.0, 2.5], 9.0), run([2.0, 2.2], 11.0)
    best = bench_inference.best_of([first, second])
    assert best["predict_s"] == 2.0 and best["rounds"] == 2
    assert best["predict_times_s"] == [3.0, 2.5, 2.0, 2.2]
    # The latency of the round with the lowest one-text median, whole.
    assert best["latency"] is first["latency"]
