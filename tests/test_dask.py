"""Searches on a ``dask.distributed`` cluster: the recipe of ``docs/scaling.md``.

``GridSearchCV``, ``RandomizedSearchCV`` and ``HalvingGridSearchCV`` over epochs run
their folds on a ``LocalCluster`` of two worker processes on 127.0.0.1 inside
``joblib.parallel_config(backend="dask")``. The workers find the tiny model by its
path, a folder every worker can read. Each search must give the ``cv_results_`` of a
sequential run, and every fold's fit must show up in the cluster's task stream as
run on a worker (nothing there if the search ran in this process).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

distributed = pytest.importorskip(
    "distributed",
    reason="the Dask recipe needs dask.distributed: pip install 'skbert[dask]'",
)

import joblib  # noqa: E402
from scipy.stats import loguniform  # noqa: E402
from sklearn.experimental import enable_halving_search_cv  # noqa: E402, F401
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    HalvingGridSearchCV,
    RandomizedSearchCV,
)

from skbert import BertTextClassifier  # noqa: E402
from skbert.exceptions import ModelNotFoundError  # noqa: E402

POSITIVE = ["good", "great", "nice", "love", "best", "fun"]
NEGATIVE = ["bad", "awful", "poor", "hate", "worst", "dull"]
TOPICS = ["film", "movie", "plot", "story", "acting", "scene", "music"]
# A fold's fit is one joblib call; joblib names each dask task after its batch of
# calls ("batch_of__fit_and_score_2_calls-<uuid>", with "mixed_" before it at times).
FIT_BATCH = re.compile(r"(?:mixed_)?batch_of__fit_and_score_(\d+)_calls-")


def make_texts(n: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    labels = ["pos" if i % 2 == 0 else "neg" for i in range(n)]
    texts = [
        f"{rng.choice(TOPICS)} {rng.choice(POSITIVE if y == 'pos' else NEGATIVE)}"
        f" {rng.choice(TOPICS)}"
        for y in labels
    ]
    return texts, labels


TEXTS, LABELS = make_texts(32)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes on 127.0.0.1, no dashboard."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def estimator(tiny_model: str) -> BertTextClassifier:
    # n_jobs=1: one torch thread here and in each worker, so the fits are identical.
    return BertTextClassifier(
        tiny_model, batch_size=8, epochs=1, random_state=0, n_jobs=1
    )


def on_workers(client: Any, search: Any) -> dict[str, int]:
    """Fit ``search`` with the dask backend; fold fits run per worker address."""
    with (
        distributed.get_task_stream(client) as stream,
        joblib.parallel_config(backend="dask"),
    ):
        search.fit(TEXTS, LABELS)
    fits: dict[str, int] = {}
    for task in stream.data:
        match = FIT_BATCH.match(task["key"])
        if match:
            fits[task["worker"]] = fits.get(task["worker"], 0) + int(match[1])
    return fits


SEARCHES: dict[str, Callable[[BertTextClassifier], Any]] = {
    "grid": lambda est: GridSearchCV(
        est,
        {"learning_rate": [1e-3, 3e-3], "epochs": [1, 2]},
        cv=2,
        scoring="neg_log_loss",
    ),
    "randomized": lambda est: RandomizedSearchCV(
        est,
        {"learning_rate": loguniform(1e-4, 1e-2), "epochs": [1, 2]},
        n_iter=4,
        cv=2,
        scoring="neg_log_loss",
        random_state=0,
    ),
    "halving over epochs": lambda est: HalvingGridSearchCV(
        est,
        {"learning_rate": [3e-4, 1e-3, 3e-3, 1e-2]},
        resource="epochs",
        min_resources=1,
        max_resources=4,
        factor=2,
        cv=2,
        scoring="neg_log_loss",
    ),
}


@pytest.mark.parametrize("kind", SEARCHES)
def test_search_on_dask_workers_matches_a_sequential_run(
    kind: str, client: Any, tiny_model: str
) -> None:
    sequential = SEARCHES[kind](estimator(tiny_model)).fit(TEXTS, LABELS)
    distributed_search = SEARCHES[kind](estimator(tiny_model))
    fits = on_workers(client, distributed_search)

    expected, got = sequential.cv_results_, distributed_search.cv_results_
    assert got["params"] == expected["params"]
    np.testing.assert_allclose(
        got["mean_test_score"], expected["mean_test_score"], rtol=0, atol=1e-6
    )
    # The scores differ between candidates, so equal scores mean equal fits.
    assert len(set(np.round(expected["mean_test_score"], 6))) > 1
    assert got["params"][distributed_search.best_index_] == sequential.best_params_

    # Every fold's fit ran on a worker, and both workers took some.
    n_fits = len(expected["params"]) * 2
    assert set(fits) == set(client.scheduler_info()["workers"])
    assert sum(fits.values()) == n_fits


def test_halving_gives_more_epochs_to_fewer_candidates(
    client: Any, tiny_model: str
) -> None:
    search = SEARCHES["halving over epochs"](estimator(tiny_model))
    on_workers(client, search)
    assert search.n_candidates_ == [4, 2, 1]
    assert search.n_resources_ == [1, 2, 4]
    assert sorted(set(search.cv_results_["n_resources"])) == [1, 2, 4]
    assert search.best_estimator_.n_iter_ == 4


# --- faults: a worker killed mid-search, a worker without the model ------------------


def _executing_fits(dask_worker: Any) -> list[str]:
    """Run on a worker by ``client.run``: the fold fits it is computing now."""
    return [
        str(key)
        for key, task in dask_worker.state.tasks.items()
        if task.state == "executing" and FIT_BATCH.match(str(key))
    ]


def _kill_a_worker_during_a_fit(client: Any) -> tuple[int, str]:
    """SIGKILL a worker process 0.1 s into a fold's fit: its pid and the task."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for address, fits in client.run(_executing_fits).items():
            if fits:
                time.sleep(0.1)  # into the fit
                os.kill(pids[address], signal.SIGKILL)
                return pids[address], fits[0]
        time.sleep(0.02)
    raise AssertionError("no fold's fit started on a worker in time")


def _search_losing_a_worker(
    client: Any, search: Any, X: list[str], y: list[str], **config: Any
) -> tuple[Any, str]:
    """Fit ``search`` on Dask while a worker is killed mid-fit: the search's
    outcome ("done" or its error) and the lost task. Fails if it hangs."""
    outcome: list[Any] = []

    def fit() -> None:
        try:
            with joblib.parallel_config(backend="dask", **config):
                search.fit(X, y)
            outcome.append("done")
        except BaseException as error:  # returned to the test, not lost
            outcome.append(error)

    runner = threading.Thread(target=fit, daemon=True)
    runner.start()
    killed, task = _kill_a_worker_during_a_fit(client)
    runner.join(timeout=300)
    assert not runner.is_alive(), "the search hung after its worker was killed"
    # The nanny starts a new worker process in place of the killed one.
    client.wait_for_workers(2, timeout=120)
    assert killed not in client.run(os.getpid).values()
    return outcome[0], task


def test_search_survives_a_worker_killed_mid_fit(client: Any, tiny_model: str) -> None:
    """With the data on every worker (``scatter=[X, y]``), Dask runs the lost
    fold again on a live worker: the same cv_results_ as a sequential run.

    Without ``scatter``, joblib sends X and y to one worker each; killing that
    worker before the other fetched a copy lost the data, and the search ended
    with distributed's FutureCancelledError (an error, not a hang). So the
    recipe in docs/scaling.md passes ``scatter=[X, y]``.
    """
    texts, labels = make_texts(320)  # fits of about a second, to kill one midway
    sequential = SEARCHES["grid"](estimator(tiny_model)).fit(texts, labels)
    search = SEARCHES["grid"](estimator(tiny_model))
    outcome, task = _search_losing_a_worker(
        client, search, texts, labels, scatter=[texts, labels]
    )
    assert outcome == "done", repr(outcome)
    expected, got = sequential.cv_results_, search.cv_results_
    assert got["params"] == expected["params"]
    for split in ("split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(got[split], expected[split], rtol=0, atol=1e-6)
    # The scheduler took the task back from the dead worker and ran it again.
    story = [entry for entry in client.story(task) if entry[0] == "scheduler"]
    states = [(entry[2], entry[3]) for entry in story]
    lost = [entry for entry in story if entry[-2].startswith("handle-worker-cleanup")]
    assert lost and ("processing", "memory") in states, story


def test_a_worker_without_the_model_says_how_workers_find_it(
    client: Any, tiny_model: str, tmp_path: Any
) -> None:
    # A path that only the client could see: to the workers it does not exist.
    missing = str(tmp_path / "only-on-the-client")
    search = GridSearchCV(
        estimator(tiny_model).set_params(model_name_or_path=missing),
        {"epochs": [1]},
        cv=2,
        error_score="raise",
    )
    with (
        pytest.raises(ModelNotFoundError) as caught,
        joblib.parallel_config(backend="dask"),
    ):
        search.fit(TEXTS, LABELS)
    message = str(caught.value)
    assert f"Model directory {missing!r} does not exist" in message
    workers = client.scheduler_info()["workers"]
    worker = re.search(r"This ran on Dask worker (tcp://\S+), which", message)
    assert worker is not None and worker[1] in workers
    assert "a path that every worker can read" in message
    assert "'How the workers find the model' in docs/scaling.md" in message


def test_the_hint_is_only_for_remote_processes(monkeypatch: Any) -> None:
    from skbert import _hub

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert _hub._remote_hint() == ""  # here: the client, not a worker
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert _hub._remote_hint().startswith("\nThis ran on torchrun rank 1 on ")
