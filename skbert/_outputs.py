"""From a model's raw outputs to predictions: NumPy only.

Shared by the estimators and by the torch-free ONNX predictor
(:mod:`skbert.onnx`), so both turn the same logits into the same answers.
"""

from __future__ import annotations

import numpy as np


def decision_scores(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    """Logits; for two single-label classes, the margin of the second (1-D)."""
    if logits.shape[1] == 2 and not multilabel:
        return logits[:, 1] - logits[:, 0]
    return logits


def probabilities(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    """A sigmoid per label (multi-label), else the softmax of each row."""
    if multilabel:
        return sigmoid(logits)
    return np.exp(log_softmax(logits))


def labels(
    logits: np.ndarray,
    classes: np.ndarray,
    multilabel: bool,
    thresholds: float | np.ndarray = 0.5,
) -> np.ndarray:
    """The most likely class of each row, or a 0/1 matrix of the labels whose
    probability reaches its threshold."""
    if multilabel:
        return (sigmoid(logits) >= thresholds).astype(np.int64)
    return classes[np.argmax(logits, axis=1)]


def label_thresholds(
    threshold: float | str, tuned: np.ndarray | None, fix: str
) -> float | np.ndarray:
    """The multi-label thresholds in use: a float ``threshold``, or the ``tuned``
    ones for "auto"; ``fix`` says what to do when none were tuned."""
    if not isinstance(threshold, str):
        return float(threshold)
    if tuned is None:
        raise ValueError(f"threshold='auto', but no thresholds_ were tuned: {fix}")
    return tuned


def temperature_in_use(
    calibrate: bool, temperature: float | np.ndarray | None, fix: str
) -> float | np.ndarray | None:
    """The fitted ``temperature`` when ``calibrate`` is on (None when off); ``fix``
    says what to do when none was fitted."""
    if not calibrate:
        return None
    if temperature is None:
        raise ValueError(f"calibrate=True, but no temperature_ was fitted: {fix}")
    return temperature


def calibrated(
    logits: np.ndarray, temperature: float | np.ndarray | None
) -> np.ndarray:
    """``logits`` divided by ``temperature`` (one per column for a vector), as
    temperature scaling does; None leaves them as they are."""
    if temperature is None:
        return logits
    return (logits / np.asarray(temperature)).astype(logits.dtype)


def in_units(
    standardised: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Standardised regression outputs in the units of ``y`` (1-D for one target)."""
    values = standardised.astype(np.float64).reshape(len(standardised), -1)
    values = values * scale + mean
    return values.ravel() if np.size(mean) == 1 else values


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function in float64, without overflow for large logits."""
    x = logits.astype(np.float64)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp = np.exp(x[~positive])
    out[~positive] = exp / (1.0 + exp)
    return out


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities, computed in float64 without overflow."""
    shifted = logits.astype(np.float64)
    shifted -= shifted.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
