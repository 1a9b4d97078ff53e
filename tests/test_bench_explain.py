"""``benchmarks/bench_explain.py`` runs end to end on the tiny model, so it cannot rot.

It fine-tunes the tiny random BERT on 100 SST-2 sentences, explains 4 validation
sentences with every method (and 4 GoEmotions comments with a classifier fitted
there) and measures calibration on SST-2 and GoEmotions.
LIME is a benchmark peer, not a dependency of skbert: where ``lime`` is installed
it explains 1 sentence, elsewhere (CI) the script runs with ``--n-lime 0`` and the
test checks that it leaves LIME's rows out rather than failing.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import run_benchmark, shared_data


@pytest.mark.slow
def test_explain_benchmark_runs_end_to_end(tiny_model, tmp_path):
    has_lime = importlib.util.find_spec("lime") is not None
    data = shared_data(
        "sst2/train.csv.gz",
        "sst2/validation.csv.gz",
        "goemotions/train.csv.gz",
        "goemotions/test.csv.gz",
    )
    done = run_benchmark(
        "bench_explain.py",
        *("--model", tiny_model, "--data-dir", str(data), "--epochs", "1"),
        *("--n-train", "100", "--n-explain", "4", "--n-lime", str(int(has_lime))),
        *("--n-steps", "8", "--n-calibration", "400", "--n-eval", "60"),
        *("--json", str(tmp_path / "explain.json")),
    )
    report = json.loads((tmp_path / "explain.json").read_text())
    deletion = 'skbert, method="deletion"'
    for key in ("faithfulness", "goemotions_faithfulness"):  # SST-2, GoEmotions
        methods = report[key]["methods"]
        assert set(methods) >= {
            "skbert",
            'skbert, output="probability"',
            deletion,
            "attention",
            "random",
        }
        assert methods[deletion]["n_steps"] == 20  # explain's default rounds
        gaps = report[key]["lime_comprehensiveness_minus"]
        if has_lime:
            assert methods["lime"]["n_texts"] == 1
            assert methods["lime, 500 samples"]["n_texts"] == 1
            assert set(gaps) == {
                "skbert on LIME's texts",
                f"{deletion} on LIME's texts",
                "lime, 500 samples",
            }
            lime = methods["lime"]["comprehensiveness_per_text"]
            for name in ("skbert on LIME's texts", f"{deletion} on LIME's texts"):
                own = methods[name]["comprehensiveness_per_text"]
                assert gaps[name]["mean"] == pytest.approx(lime[0] - own[0])
        else:
            assert not any("lime" in name.lower() for name in methods)
            assert gaps == {}
        for name, row in methods.items():
            on_limes = name.startswith("lime") or "LIME's texts" in name
            assert len(row["comprehensiveness_per_text"]) == (1 if on_limes else 4)
        for row in methods.values():
            assert -1 <= row["comprehensiveness"] <= 1
            assert -1 <= row["sufficiency"] <= 1
        completeness = report[key]["completeness"]
        assert list(completeness) == ["log-odds", "probability"]
        assert all(c["median_error"] >= 0 for c in completeness.values())
    for rows in report["calibration"].values():
        kinds = ["uncalibrated", "CalibratedClassifierCV", "calibrate=True"]
        kinds.append("shift check")
        assert list(rows) == kinds
        for row in rows.values():
            assert 0 <= row["ece"] <= 1 and 0 <= row["accuracy"] <= 1
        # temperature scaling never changes the predicted class
        assert rows["CalibratedClassifierCV"]["accuracy"] == pytest.approx(
            rows["uncalibrated"]["accuracy"]
        )
    assert "| skbert |" in done.stdout and "Calibration on SST-2" in done.stdout
    assert "Faithfulness on 4 GoEmotions test comments" in done.stdout


def test_aopc_measures_drops_from_the_full_texts_probability(monkeypatch):
    """A classifier whose probability of "pos" is 0.9 with "good" in the text
    and 0.5 without: removing "good" first drops 0.4 at every k, keeping only
    "good" drops nothing; the explained output plays no part."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_explain

    class Fake:
        classes_ = np.array(["neg", "pos"])

        def predict_proba(self, texts):
            p = np.array([0.9 if "good" in t.split() else 0.5 for t in texts])
            return np.c_[1 - p, p]

    text = "a good film"
    item = SimpleNamespace(
        text=text,
        words=text.split(),
        spans=np.array([[0, 1], [2, 6], [7, 11]]),
        prediction="pos",
        output=123.0,  # log-odds or anything: not what the drops are from
    )
    good_first = bench_explain.aopc(Fake(), [item], [np.array([1, 0, 2])])
    assert good_first.pop("comprehensiveness_per_text") == pytest.approx([0.4])
    assert good_first == pytest.approx({"comprehensiveness": 0.4, "sufficiency": 0.0})
    good_last = bench_explain.aopc(Fake(), [item], [np.array([0, 2, 1])])
    # k = 1, 5, 10, 20, 50% of 3 words: 1, 1, 1, 1, 2 words; "good" never among them
    assert good_last.pop("comprehensiveness_per_text") == pytest.approx([0.0])
    assert good_last == pytest.approx({"comprehensiveness": 0.0, "sufficiency": 0.4})
