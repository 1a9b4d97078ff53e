"""Temperature scaling of a classifier's logits, fitted on held-out outputs.

Guo et al. (2017), "On Calibration of Modern Neural Networks": one positive
temperature ``T`` divides the logits before the softmax, chosen to minimise the
(weighted) log-loss on held-out data. Dividing by ``T`` keeps each row's order, so
the predicted class never changes. A multi-label model gets one temperature per
label, each fitted on that label's binary log-loss (a label whose held-out column
has a single value keeps ``T = 1``: its best temperature would be 0 or infinite).
NumPy and SciPy only, as scikit-learn's ``method="temperature"``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._outputs import log_softmax

# log(1 / T) is searched in this interval: T from about 0.007 to 148.
_LOG_BETA_BOUNDS = (-5.0, 5.0)


def fit_temperature(
    logits: np.ndarray, targets: np.ndarray, weights: np.ndarray, multilabel: bool
) -> float | np.ndarray:
    """The temperature(s) with the least weighted log-loss on ``logits``.

    ``targets`` are class indices (single-label) or a 0/1 matrix (multi-label);
    returns a float, or one temperature per label.
    """
    logits = logits.astype(np.float64)
    weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    if not multilabel:
        picked = np.arange(len(logits)), np.asarray(targets, dtype=np.int64)

        def loss(beta: float) -> float:
            return -float(weights @ log_softmax(beta * logits)[picked])

        return 1.0 / _best_beta(loss)
    return per_label(_label_temperature, logits, targets, weights)


def per_label(
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], float],
    scores: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """``fit(scores[:, j], positives of label j, weights)`` of every label ``j``
    of a multi-label model."""
    return np.array(
        [fit(scores[:, j], targets[:, j] > 0.5, weights) for j in range(len(scores.T))]
    )


def _label_temperature(
    logits: np.ndarray, positive: np.ndarray, weights: np.ndarray
) -> float:
    if positive.all() or not positive.any():
        return 1.0
    signs = np.where(positive, 1.0, -1.0)

    def loss(beta: float) -> float:
        return float(weights @ np.logaddexp(0.0, -signs * beta * logits))

    return 1.0 / _best_beta(loss)


def _best_beta(loss: Callable[[float], float]) -> float:
    """``beta = 1 / T`` minimising ``loss``, searched over ``log(beta)``."""
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(
        lambda log_beta: loss(float(np.exp(log_beta))),
        bounds=_LOG_BETA_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(found.x))
