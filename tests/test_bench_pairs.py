"""The sentence-pair benchmark runs end to end, so it cannot rot between measured runs.

``benchmarks/bench_pairs.py`` runs on the tiny test model with the tools that need
nothing beyond the test install (skbert, TF-IDF, the untrained embeddings), on 32
training and 16 validation pairs of STS-B, MRPC and RTE, in child processes as in a
real run. The Trainer needs the ``bench`` extra and is not run here.
"""

from __future__ import annotations

import json

import pytest

from conftest import run_benchmark, shared_data

TOOLS = ["skbert", "tfidf", "embed"]


@pytest.mark.slow
def test_pair_benchmark_runs_end_to_end(tiny_model, tmp_path):
    data = shared_data(
        *(
            f"{name}/{split}.csv.gz"
            for name in ("stsb", "mrpc", "rte")
            for split in ("train", "validation")
        )
    )
    done = run_benchmark(
        "bench_pairs.py",
        *("--model", tiny_model, "--data-dir", str(data)),
        *("--tools", ",".join(TOOLS), "--n-train", "32", "--n-test", "16"),
        *("--json", str(tmp_path / "pairs.json")),
    )
    settings = json.loads((tmp_path / "pairs.json").read_text())["settings"]
    stsb, mrpc, rte = settings
    assert [s["dataset"] for s in settings] == ["STS-B", "MRPC", "RTE"]
    for setting in settings:
        assert (setting["n_train"], setting["n_eval"]) == (32, 16)
        for result in setting["results"]:
            assert result["fit_s"] > 0 and result["predict_s"] > 0
    # The embeddings are scored on STS-B only, the one regression task.
    assert [r["tool"] for r in stsb["results"]] == TOOLS
    assert [r["tool"] for r in mrpc["results"]] == ["skbert", "tfidf"]
    assert [r["tool"] for r in rte["results"]] == ["skbert", "tfidf"]
    assert [r["estimator"] for r in stsb["results"][:2]] == [
        "BertTextRegressor",
        "Ridge",
    ]
    assert mrpc["results"][0]["estimator"] == "BertTextClassifier"
    for result in stsb["results"]:
        assert -1 <= result["pearson"] <= 1 and -1 <= result["spearman"] <= 1
    for result in mrpc["results"]:
        assert 0 <= result["accuracy"] <= 1
        assert result["f1"] == result["f1_by_class"].get("equivalent", 0.0)
    assert set(stsb["skbert_ratios"]) == {"tfidf", "embed"}
    assert set(stsb["skbert_ratios"]["embed"]) == {
        "fit_ratio",
        "predict_ratio",
        "pearson_diff_points",
        "spearman_diff_points",
        "peak_rss_ratio",
    }
    assert set(mrpc["skbert_ratios"]["tfidf"]) >= {
        "accuracy_diff_points",
        "f1_diff_points",
    }
    assert done.stdout.startswith("Machine: ")
    for header in (
        "| tool | Pearson | Spearman | fit s | predict s | peak RSS MiB |",
        "| tool | accuracy | F1 | fit s | predict s | peak RSS MiB |",
        "| tool | accuracy | fit s | predict s | peak RSS MiB |",
        "| skbert / peer | fit time ratio | predict time ratio | Pearson difference "
        "(points) | Spearman difference (points) | peak RSS ratio |",
    ):
        assert header in done.stdout
