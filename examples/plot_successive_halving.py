"""
Successive halving over epochs: each candidate's score per round
================================================================

``HalvingGridSearchCV`` with ``resource="epochs"`` gives every learning rate one
epoch, keeps the better half, gives those two epochs, and so on: the candidates
that learn nothing are dropped after a cheap round instead of being trained for
the full budget. Each round fits from the pretrained model again with the round's
``epochs`` (the schedule's warm-up and decay follow the new length). The picture
shows each candidate's mean cross-validated accuracy per round, and where it was
dropped. From the repository root::

    python examples/plot_successive_halving.py

Data comes from ``$SKBERT_DATA``, else ``../shared/data``.
``SKBERT_EXAMPLES_SMALL=1`` runs 4 learning rates on 80 sentences, as the
documentation build does; its numbers say little.

The default run: 6 learning rates, 600 sentences, 3 folds, rounds of 1, 2 and 4
epochs (6, 3 and 2 candidates), then the best refitted for 4 epochs and scored on
all 872 validation sentences. It trains 6 x 1 + 3 x 2 + 2 x 4 = 20 epochs per
fold where a grid search of the same 6 rates at 4 epochs trains 24; more
candidates or a larger ``factor`` save more: about 26,000 sentence-epochs with the
refit, 4 to 5 times the README's default fit (not timed yet). The same search runs
its folds on a Dask cluster unchanged: see the "Scaling out" page.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV

from skbert import BertTextClassifier
from skbert.datasets import load_sst2

data_home = os.environ.get("SKBERT_DATA", "../shared/data")
if os.environ.get("SKBERT_EXAMPLES_SMALL") == "1":
    n_train, n_test, cv = 80, 100, 2
    rates = [3e-5, 1e-4, 3e-4, 1e-3]
else:
    n_train, n_test, cv = 600, 0, 3
    rates = [2e-5, 5e-5, 1e-4, 2e-4, 4e-4, 8e-4]

X, y = load_sst2("train", data_home=data_home, return_X_y=True)
keep = np.random.default_rng(0).choice(len(X), n_train, replace=False)
X_train, y_train = [X[i] for i in keep], y[keep]
X_test, y_test = load_sst2("validation", data_home=data_home, return_X_y=True)
if n_test:
    X_test, y_test = X_test[:n_test], y_test[:n_test]

# %%
# The search
# ----------
# ``epochs`` is the resource: round ``i`` trains ``min_resources * factor**i``
# epochs, and ``max_resources`` caps it. The search overwrites the estimator's own
# ``epochs``. With ``factor=2`` half the candidates go on to each next round.
search = HalvingGridSearchCV(
    BertTextClassifier(random_state=0),
    {"learning_rate": rates},
    resource="epochs",
    min_resources=1,
    max_resources=4,
    factor=2,
    cv=cv,
)
search.fit(X_train, y_train)

results = search.cv_results_
print(f"{len(X_train)} sentences, {cv}-fold cross-validation")
print("round epochs learning_rate  CV accuracy  fit s")
for i, params in enumerate(results["params"]):
    print(
        f"{results['iter'][i]:>5} {results['n_resources'][i]:>6} "
        f"{params['learning_rate']:>13g} "
        f"{results['mean_test_score'][i]:>8.3f} ± {results['std_test_score'][i]:.2f} "
        f"{results['mean_fit_time'][i]:>6.1f}"
    )
print(f"candidates per round: {search.n_candidates_}, epochs: {search.n_resources_}")
print(f"best: {search.best_params_} (mean CV accuracy {search.best_score_:.3f})")
test_accuracy = search.score(X_test, y_test)
print(f"accuracy on {len(X_test)} validation sentences: {test_accuracy:.4f}")

# %%
# Each candidate's score per round
# --------------------------------
# A line per learning rate, ending at the last round it took part in; the best
# candidate's line is thick.
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
rounds = np.asarray(results["iter"])
for rate in rates:
    mine = np.array([params["learning_rate"] == rate for params in results["params"]])
    best = rate == search.best_params_["learning_rate"]
    ax.plot(
        rounds[mine],
        results["mean_test_score"][mine],
        "o-",
        linewidth=3 if best else 1.5,
        label=f"{rate:g}" + (" (best)" if best else ""),
    )
ax.set_xticks(
    range(search.n_iterations_),
    [
        f"round {i}\n{epochs} epoch{'s' * (epochs > 1)}, {n} candidates"
        for i, (epochs, n) in enumerate(
            zip(search.n_resources_, search.n_candidates_, strict=True)
        )
    ],
)
ax.set_xmargin(0.12)
ax.set_ylabel(f"mean {cv}-fold CV accuracy")
ax.set_title(f"HalvingGridSearchCV over epochs, SST-2 ({len(X_train)} sentences)")
ax.legend(title="learning_rate", loc="best")
plt.show()
