"""``benchmarks/bench_explain.py`` runs end to end on the tiny model, so it cannot rot.

It fine-tunes the tiny random BERT on 100 SST-2 sentences, explains 4 validation
sentences with every method (LIME on 1, where ``lime`` is installed: it is no
dependency of skbert) and measures calibration on SST-2 and GoEmotions.
"""

from __future__ import annotations

import json

import pytest

from conftest import run_benchmark, shared_data


@pytest.mark.slow
def test_explain_benchmark_runs_end_to_end(tiny_model, tmp_path):
    pytest.importorskip("lime")
    data = shared_data(
        "sst2/train.csv.gz",
        "sst2/validation.csv.gz",
        "goemotions/train.csv.gz",
        "goemotions/test.csv.gz",
    )
    done = run_benchmark(
        "bench_explain.py",
        *("--model", tiny_model, "--data-dir", str(data), "--epochs", "1"),
        *("--n-train", "100", "--n-explain", "4", "--n-lime", "1"),
        *("--n-steps", "8", "--n-calibration", "400", "--n-eval", "60"),
        *("--json", str(tmp_path / "explain.json")),
    )
    report = json.loads((tmp_path / "explain.json").read_text())
    methods = report["faithfulness"]["methods"]
    assert set(methods) >= {"skbert", "lime", "attention", "random"}
    assert methods["lime"]["n_texts"] == 1
    for row in methods.values():
        assert -1 <= row["comprehensiveness"] <= 1 and -1 <= row["sufficiency"] <= 1
    assert report["faithfulness"]["completeness"]["median_error"] >= 0
    for rows in report["calibration"].values():
        kinds = ["uncalibrated", "CalibratedClassifierCV", "calibrate=True"]
        assert list(rows) == kinds
        for row in rows.values():
            assert 0 <= row["ece"] <= 1 and 0 <= row["accuracy"] <= 1
        # temperature scaling never changes the predicted class
        assert rows["CalibratedClassifierCV"]["accuracy"] == pytest.approx(
            rows["uncalibrated"]["accuracy"]
        )
    assert "| skbert |" in done.stdout and "Calibration on SST-2" in done.stdout
