"""The network's arithmetic, done by the grader on harvested parameters.

Accuracies and losses that count are computed here, outside the sandbox, with the
reference architecture (ReLU hidden layer, affine scores), never taken from what
the student's code reported.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["correct_count", "data_loss", "rel_error", "scores"]


def scores(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """relu(X W1^T + b1) W2^T + b2, in row blocks so that a large X stays cheap in memory."""
    out = []
    for start in range(0, len(X), 4096):
        hidden = np.maximum(0, X[start : start + 4096] @ params["W1"].T + params["b1"])
        out.append(hidden @ params["W2"].T + params["b2"])
    return np.concatenate(out) if out else np.zeros((0, params["W2"].shape[0]))


def correct_count(params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> int:
    """How many rows of X the net labels right (an integer: the rubric counts, not rates)."""
    return int(np.sum(np.argmax(scores(params, X), axis=1) == y))


def data_loss(params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """The MSE data loss 1/(2N) * sum((scores - onehot(y))**2), without regularisation."""
    s = scores(params, X)
    targets = np.zeros_like(s)
    targets[np.arange(len(y)), y.astype(int)] = 1
    return float(np.sum((s - targets) ** 2) / (2 * len(y)))


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """The notebook's relative error: max |x - y| / max(1e-8, |x| + |y|); inf when either
    holds a value that is not finite (an overflow is as wrong as can be)."""
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("inf")
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)), initial=0.0))
