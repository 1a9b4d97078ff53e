"""The multi-label and long-text benchmarks run end to end, so they cannot rot.

``benchmarks/bench_multilabel.py`` runs on the tiny test model with 48 GoEmotions
training and 24 test comments, ``benchmarks/bench_long_text.py`` with 24 IMDB
training and 12 test reviews, every tool in a child process as in a real run.
The Trainer needs ``accelerate`` (the ``bench`` extra) and runs only where it is
installed.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import run_benchmark, shared_data


@pytest.mark.slow
def test_multilabel_benchmark_runs_end_to_end(tiny_model, tmp_path):
    data = shared_data("goemotions/train.csv.gz", "goemotions/test.csv.gz")
    tools = ["skbert_auto", "skbert_defaults", "skbert", "tfidf"]
    if importlib.util.find_spec("accelerate") is not None:
        tools.append("trainer")
    out = tmp_path / "multilabel.json"
    done = run_benchmark(
        "bench_multilabel.py",
        *("--model", tiny_model, "--data-dir", str(data), "--epochs", "1"),
        *("--tools", ",".join(tools), "--n-train", "48", "--n-test", "24"),
        *("--out", str(out)),
    )
    setting = json.loads(out.read_text())["settings"][0]
    assert (setting["n_train"], setting["n_eval"]) == (48, 24)
    assert len(setting["labels"]) == 28 and setting["labels"][0] == "admiration"
    # Every gold comment has at least one label.
    assert sum(setting["test_positives"]) >= 24
    by_tool = {r["tool"]: r for r in setting["results"]}
    assert list(by_tool) == tools
    # One fitted model scored at its tuned thresholds, then at 0.5.
    for tool in ("skbert_auto", "skbert_defaults"):
        tuned = by_tool[tool]
        assert list(tuned["by_threshold"]) == ["auto", "0.5"]
        assert tuned["macro_f1"] == tuned["by_threshold"]["auto"]["macro_f1"]
        assert len(tuned["thresholds"]) == 28
        assert all(0 < t < 1 for t in tuned["thresholds"])
        assert tuned["predict_at_0.5_s"] > 0
    for tool in tools[2:]:
        assert list(by_tool[tool]["by_threshold"]) == ["0.5"]
    for result in setting["results"]:
        assert result["fit_s"] > 0 and result["predict_s"] > 0
        for scores in result["by_threshold"].values():
            assert 0 <= scores["macro_f1"] <= 1 and 0 <= scores["micro_f1"] <= 1
            assert 0 <= scores["no_label_share"] <= 1
            assert len(scores["f1_by_label"]) == 28
    if "trainer" in tools:
        assert set(setting["skbert_ratios"]) == {"skbert_auto", "skbert"}
        assert "| skbert / Trainer | fit time ratio |" in done.stdout
    for label in ('skbert, class_weight="balanced"', "skbert, every default"):
        assert f"* {label}" in done.stdout
    assert "auto against 0.5, same model: " in done.stdout
    assert "auto against TF-IDF + logistic regression: " in done.stdout
    assert "| label | train positives | test positives | auto threshold |" in (
        done.stdout
    )
    assert "| (same model) |" in done.stdout


@pytest.mark.slow
def test_long_text_benchmark_runs_end_to_end(tiny_model, tmp_path):
    data = shared_data("imdb/train.csv.gz", "imdb/test.csv.gz")
    out = tmp_path / "long_text.json"
    done = run_benchmark(
        "bench_long_text.py",
        *("--model", tiny_model, "--data-dir", str(data), "--epochs", "1"),
        *("--n-train", "24", "--n-test", "12", "--json", str(out)),
    )
    setting = json.loads(out.read_text())["settings"][0]
    assert (setting["n_train"], setting["n_eval"]) == (24, 12)
    by_tool = {r["tool"]: r for r in setting["results"]}
    assert list(by_tool) == ["truncate", "head_tail", "chunk", "tfidf"]
    for result in setting["results"]:
        assert 0 <= result["accuracy"] <= 1
        assert result["fit_s"] > 0 and result["predict_s"] > 0
    truncate, head_tail, chunk = (
        by_tool[t] for t in ("truncate", "head_tail", "chunk")
    )
    assert [r["long_text"] for r in (truncate, head_tail, chunk)] == [
        "truncate",
        "head_tail",
        "chunk",
    ]
    # Truncate and head_tail read one row per review, at most max_length tokens
    # each; chunk reads more rows, covering every token.
    assert truncate["train_rows"] == head_tail["train_rows"] == 24
    assert truncate["train_tokens"] == head_tail["train_tokens"]
    assert chunk["train_rows"] > 24 and chunk["train_tokens"] > truncate["train_tokens"]
    train = setting["lengths"]["train"]
    assert 0 < train["longer_than_max_length"] <= 1
    assert set(setting["truncate_ratios"]) == {"head_tail", "chunk"}
    assert "accuracy_diff_points" in setting["truncate_ratios"]["chunk"]
    assert "% of the reviews are longer than 128 tokens" in done.stdout
    assert "| long_text | training rows |" in done.stdout
    assert "* best of head_tail and chunk against truncate: " in done.stdout
