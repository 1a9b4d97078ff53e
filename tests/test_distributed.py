"""Data-parallel ``fit`` under torchrun: two CPU processes (gloo, 127.0.0.1).

Each test launches ``python -m torch.distributed.run --nproc_per_node=2`` on a
small script with the tiny model (three launches, 20 to 40 s each on 2 busy
cores). The ranks fit on the same texts with
*different* labels or targets, so ranks that trained alone would end apart; with
gradients all-reduced they must end with identical weights and fitted
attributes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import skbert
from skbert import BertTextClassifier
from skbert._data import TrainBatches

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch built without distributed"
)

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import torch
    from skbert import BertTextClassifier, BertTextRegressor

    model, out, kind = sys.argv[1:4]
    rank = int(os.environ["RANK"])
    if kind == "regressor":  # the caller starts the group; skbert must use it
        torch.distributed.init_process_group("gloo")
    texts = [f"text {i} {'good' if i % 3 else 'bad'} words" * (1 + i % 4)
             for i in range(40)]
    result = {}
    if kind == "classifier":
        y = np.array(["a", "b"])[(np.arange(40) % 2) ^ (rank % 2)]
        # Mean pooling, as the bundled model's: the pooler gets no gradient,
        # which DDP refused before it was told to look for unused parameters.
        est = BertTextClassifier(model, epochs=2, batch_size=4, random_state=0,
                                 verbose=1, early_stopping=True, n_iter_no_change=5,
                                 pooling="mean")
        est.fit(texts, y)
        result["classes"] = est.classes_.tolist()
        result["validation_scores"] = est.validation_scores_
        result["predict"] = est.predict_proba(texts[:5]).tolist()
    elif kind == "regressor":  # a bi-encoder: rank 0's probe head starts both
        y = np.arange(40.0) * (1 + rank)  # rank 1's targets are twice rank 0's
        pairs = list(zip(texts, texts[::-1]))
        est = BertTextRegressor(model, epochs=2, batch_size=4, random_state=0,
                                pair_encoding="bi")
        est.fit(pairs, y)
        est.partial_fit(pairs, y)
        result["target_mean"] = est.target_mean_.tolist()
        result["target_scale"] = est.target_scale_.tolist()
    elif kind == "adapter":  # LoRA: only the adapters and the head train
        y = np.array(["a", "b"])[(np.arange(40) % 2) ^ (rank % 2)]
        est = BertTextClassifier(model, adapter="lora", adapter_rank=4,
                                 learning_rate=2e-2, epochs=2, batch_size=4,
                                 random_state=0)
        est.fit(texts, y)
        result["predict"] = est.predict_proba(texts[:5]).tolist()
    elif kind == "bad_labels":
        y = ["a", "b"] * 20 if rank == 0 else ["a", "b"] * 19  # 38 labels
        try:
            BertTextClassifier(model, epochs=1, random_state=0).fit(texts, y)
        except ValueError as exc:
            result["error"] = str(exc)
        json.dump(result, open(f"{out}/rank{rank}.json", "w"))
        sys.exit(0)
    result["loss_curve"] = est.loss_curve_
    result["n_iter"] = est.n_iter_
    np.savez(f"{out}/rank{rank}.npz",
             **{k: v.detach().numpy() for k, v in est.model_.state_dict().items()})
    json.dump(result, open(f"{out}/rank{rank}.json", "w"))
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(
    script: str, tmp_path: Path, *args: str, options: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node 2 <script> <args>`` (gloo, 127.0.0.1).

    The ranks import skbert from this checkout (PYTHONPATH), not whichever
    copy is installed: the script's own folder is first on their path.
    """
    path = tmp_path / "fit.py"
    path.write_text(script)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--nnodes=1",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        *options,
        str(path),
        *args,
    ]
    # A session of its own, so that a timeout ends the ranks too, not only torchrun
    # (a stopped rank outlived it once).
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    ) as job:
        try:
            out, err = job.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.communicate()
            raise
    return subprocess.CompletedProcess(command, job.returncode, out, err)


def _torchrun(tmp_path: Path, model: str, kind: str) -> tuple[dict, dict, str]:
    run = _launch(SCRIPT, tmp_path, model, str(tmp_path), kind)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    return ranks[0], ranks[1], run.stdout + run.stderr


def _weights(tmp_path: Path, rank: int) -> dict[str, np.ndarray]:
    with np.load(tmp_path / f"rank{rank}.npz") as saved:
        return {name: saved[name] for name in saved.files}


def _assert_same_weights(tmp_path: Path) -> None:
    first, second = _weights(tmp_path, 0), _weights(tmp_path, 1)
    assert first.keys() == second.keys() and len(first) > 10
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_ranks_with_different_labels_end_with_the_same_weights(tiny_model, tmp_path):
    zero, one, output = _torchrun(tmp_path, tiny_model, "classifier")
    _assert_same_weights(tmp_path)
    assert zero == one  # classes, loss curve, validation scores, predictions
    assert zero["classes"] == ["a", "b"]
    assert zero["n_iter"] == 2 and len(zero["validation_scores"]) == 2
    # verbose=1 on both ranks, but only rank 0 reports its epochs
    assert output.count("Epoch 1/2: loss") == 1
    assert output.count("Epoch 2/2: loss") == 1


def test_alone_the_two_label_sets_give_different_weights(tiny_model):
    """The control: without the process group the ranks' data trains apart."""
    texts = [
        f"text {i} {'good' if i % 3 else 'bad'} words" * (1 + i % 4) for i in range(40)
    ]
    fits = [
        BertTextClassifier(
            tiny_model, epochs=2, batch_size=4, random_state=0, contrastive=False
        ).fit(texts, np.array(["a", "b"])[(np.arange(40) % 2) ^ rank])
        for rank in (0, 1)
    ]
    weight = "classifier.weight"
    first, second = (fit.model_.state_dict()[weight] for fit in fits)
    assert not torch.equal(first, second)


def test_regressor_ranks_share_rank_zeros_target_scaling(tiny_model, tmp_path):
    """Here the script starts the process group itself: skbert uses it."""
    zero, one, _ = _torchrun(tmp_path, tiny_model, "regressor")
    _assert_same_weights(tmp_path)
    assert zero == one
    assert zero["target_mean"] == pytest.approx([19.5])  # rank 0's 0..39
    assert zero["n_iter"] == 3  # two epochs of fit, one of partial_fit


def test_lora_adapters_train_in_step_on_every_rank(tiny_model, tmp_path):
    """With adapter="lora" only the adapters have gradients to all-reduce (40
    texts: the contrastive stage, then rank 0's probe head); the ranks still
    end identical, and the adapters moved."""
    zero, one, _ = _torchrun(tmp_path, tiny_model, "adapter")
    _assert_same_weights(tmp_path)
    assert zero == one and zero["n_iter"] == 2
    weights = _weights(tmp_path, 0)
    moved = [name for name in weights if "lora_B" in name and weights[name].any()]
    assert len(moved) == 8  # query, key, value, output of both layers


def test_an_error_on_one_rank_is_raised_on_every_rank(tiny_model, tmp_path):
    """Rank 1 passes 38 labels for 40 texts: both ranks raise instead of rank 0
    waiting forever for a rank that left."""
    zero, one, _ = _torchrun(tmp_path, tiny_model, "bad_labels")
    assert "y has 38 labels" in one["error"]
    assert zero["error"].startswith("Rank 1 of 2 failed during data-parallel fit")
    assert "y has 38 labels" in zero["error"]


def test_shards_split_each_epochs_plan_evenly_and_cover_it():
    ids = [np.arange(2 + i % 7) for i in range(50)]  # 50 texts, 13 batches of 4
    whole = TrainBatches(ids, np.zeros(50, dtype=np.int64), 4, 0, seed=3)
    plan = [batch[0]["input_ids"].shape for batch in whole.epoch(1)]
    parts = [whole.shard(rank, 2) for rank in (0, 1)]
    assert len(whole) == 13 and [len(part) for part in parts] == [7, 7]
    firsts = [[batch[0]["input_ids"] for batch in part.epoch(1)] for part in parts]
    assert len(firsts[0]) == len(firsts[1]) == 7
    # rank 0 takes batches 0, 2, ..., 12; rank 1 takes 1, 3, ..., 11 and wraps to 0
    order = [firsts[r][i] for i in range(7) for r in (0, 1)]
    assert [tuple(t.shape) for t in order[:13]] == [tuple(s) for s in plan]
    assert torch.equal(order[13], order[0])
    assert len(whole) == 13  # sharding leaves the whole plan as it was


# --- faults: a rank killed or hung mid-fit, a restarted job --------------------------

FAULT_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from skbert import BertTextClassifier, _hub

    model, out, target, fault = sys.argv[1:5]
    rank = int(os.environ["RANK"])
    attempt = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
    real_load = _hub.load_model

    def load(*args, **kwargs):  # rank 1's first attempt dies at training step 3
        loaded = real_load(*args, **kwargs)
        steps = [0]

        def fault_at_step_3(module, inputs, output):
            steps[0] += module.training
            if rank == 1 and attempt == 0 and steps[0] == 3:
                with open(f"{out}/fault", "w") as marker:
                    marker.write(str(time.time()))
                os.kill(os.getpid(), getattr(signal, fault))
            return output

        loaded.register_forward_hook(fault_at_step_3)
        return loaded

    _hub.load_model = load
    texts = [f"text {i} {'good' if i % 3 else 'bad'} words" * (1 + i % 4)
             for i in range(40)]
    report = {}
    try:
        est = BertTextClassifier(model, epochs=2, batch_size=4, random_state=0)
        est.fit(texts, ["a", "b"] * 20)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    else:
        report["n_iter"] = est.n_iter_
        if rank == 0:
            est.save(target)
    report["at"] = time.time()
    path = f"{out}/rank{rank}-attempt{attempt}.json"
    with open(f"{path}.part", "w") as handle:  # whole or absent, if torchrun
        json.dump(report, handle)              # stops this rank while it writes
    os.replace(f"{path}.part", path)
    sys.exit(1 if "error" in report else 0)
    """
)
PROBE = ["good words", "bad text", "text 3 good words"]


@pytest.fixture
def previous_save(tiny_model: str, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A model saved where the torchrun job will save: path and predictions."""
    target = tmp_path / "model"
    clf = BertTextClassifier(tiny_model, epochs=1, random_state=1)
    clf.fit(["good film", "bad film"], ["a", "b"]).save(target)
    return target, skbert.load(target).predict_proba(PROBE)


def _fault_run(
    tmp_path: Path, model: str, target: Path, fault: str, *options: str, **env: str
) -> tuple[subprocess.CompletedProcess, float]:
    """A torchrun job whose rank 1 gets ``fault`` at step 3: the run, the time."""
    args = (model, str(tmp_path), str(target), fault)
    run = _launch(FAULT_SCRIPT, tmp_path, *args, options=options, **env)
    return run, float((tmp_path / "fault").read_text())


def _report(tmp_path: Path, rank: int, attempt: int = 0) -> dict:
    return json.loads((tmp_path / f"rank{rank}-attempt{attempt}.json").read_text())


def test_a_killed_rank_ends_the_job_and_spares_the_previous_save(
    tiny_model, tmp_path, previous_save
):
    target, expected = previous_save
    # torchrun checks its ranks every 0.1 s and SIGTERMs the survivor as soon as it
    # sees rank 1 dead; on a loaded machine that can land before rank 0's next
    # all-reduce fails, and rank 0 then never reports (CI saw this). Checking every
    # 15 s leaves the survivor's own error to be observed.
    run, killed_at = _fault_run(
        tmp_path, tiny_model, target, "SIGKILL", "--monitor-interval=15"
    )
    assert run.returncode != 0
    assert "exitcode  : -9" in run.stderr  # torchrun names rank 1's SIGKILL
    # The survivor's next all-reduce fails at once: gloo sees the socket close
    # ("closed by peer" when writing, "reset by peer" when reading).
    survivor = _report(tmp_path, 0)
    assert re.search(r"Connection (closed|reset) by peer", survivor["error"])
    assert survivor["at"] - killed_at < 30, survivor["at"] - killed_at
    np.testing.assert_array_equal(skbert.load(target).predict_proba(PROBE), expected)


def test_a_hung_rank_times_out_the_survivor(tiny_model, tmp_path, previous_save):
    """SIGSTOP: rank 1 stays alive with its sockets open, so neither gloo nor
    torchrun notices; rank 0 raises after SKBERT_COLLECTIVE_TIMEOUT seconds."""
    target, expected = previous_save
    run, stopped_at = _fault_run(
        tmp_path, tiny_model, target, "SIGSTOP", SKBERT_COLLECTIVE_TIMEOUT="10"
    )
    assert run.returncode != 0
    survivor = _report(tmp_path, 0)
    assert "RuntimeError" in survivor["error"], survivor["error"]
    assert 9 < survivor["at"] - stopped_at < 40, survivor["at"] - stopped_at
    np.testing.assert_array_equal(skbert.load(target).predict_proba(PROBE), expected)


def test_with_a_restart_the_job_refits_from_the_start_or_fails_in_time(
    tiny_model, tmp_path, previous_save
):
    """--max-restarts 1: torchrun restarts every rank and the script runs again, so
    fit starts again from the pretrained model (skbert keeps no checkpoint): all
    its epochs, then save. The restarted group does not always form: with a static
    rendezvous on gloo, torch 2.13 sometimes hands the new ranks the dead rank's
    old address ("Connection refused") or leaves them waiting on it. Then the job
    fails within SKBERT_COLLECTIVE_TIMEOUT and the previous save is intact."""
    target, expected = previous_save
    run, _ = _fault_run(
        tmp_path,
        tiny_model,
        target,
        "SIGKILL",
        "--max-restarts=1",
        SKBERT_COLLECTIVE_TIMEOUT="30",
    )
    # The first attempt failed: rank 0 reported the error, or torchrun stopped it
    # (restarting the group) before it could write a report.
    first = tmp_path / "rank0-attempt0.json"
    assert not first.exists() or "error" in _report(tmp_path, 0, attempt=0)
    if run.returncode != 0:
        np.testing.assert_array_equal(
            skbert.load(target).predict_proba(PROBE), expected
        )
        return
    assert _report(tmp_path, 0, attempt=1)["n_iter"] == 2  # epochs=2, from the start
    assert _report(tmp_path, 1, attempt=1)["n_iter"] == 2
    refitted = skbert.load(target)
    assert refitted.n_iter_ == 2 and refitted.classes_.tolist() == ["a", "b"]
    assert not np.array_equal(refitted.predict_proba(PROBE), expected)


def test_collective_timeout_comes_from_the_environment(monkeypatch):
    from datetime import timedelta

    from skbert import _distributed

    monkeypatch.delenv("SKBERT_COLLECTIVE_TIMEOUT", raising=False)
    assert _distributed.collective_timeout() == timedelta(minutes=30)
    monkeypatch.setenv("SKBERT_COLLECTIVE_TIMEOUT", "90")
    assert _distributed.collective_timeout() == timedelta(seconds=90)
    for bad in ("0", "-5", "ten", "nan"):
        monkeypatch.setenv("SKBERT_COLLECTIVE_TIMEOUT", bad)
        with pytest.raises(
            ValueError, match=f"SKBERT_COLLECTIVE_TIMEOUT must be .* got '{bad}'"
        ):
            _distributed.collective_timeout()
