"""Bounding-box regression (R-CNN style), fitted once on first-frame samples by ridge regression."""

from __future__ import annotations

import numpy as np

from twintrack.geometry import xywh_to_cxcywh, cxcywh_to_xywh


def regression_targets(boxes: np.ndarray, target) -> np.ndarray:
    """(dx, dy, dw, dh) that move each box onto ``target``: centre shift over size, log size ratio."""
    b = xywh_to_cxcywh(boxes)
    t = xywh_to_cxcywh(np.asarray(target, dtype=np.float64).reshape(1, 4))
    return np.concatenate([(t[:, :2] - b[:, :2]) / b[:, 2:], np.log(t[:, 2:] / b[:, 2:])], axis=1)


def apply_deltas(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    b = xywh_to_cxcywh(boxes)
    centres = b[:, :2] + deltas[:, :2] * b[:, 2:]
    sizes = b[:, 2:] * np.exp(np.clip(deltas[:, 2:], -1, 1))
    return cxcywh_to_xywh(np.concatenate([centres, sizes], axis=1))


class BoxRegressor:
    """Ridge regression from box features to (dx, dy, dw, dh), solved in its dual form.

    Features have thousands of dimensions and samples number ~1000, so ``X^T (X X^T + l I)^-1 Y`` solves an
    N x N system instead of a D x D one.
    """

    def __init__(self, ridge_lambda: float = 1000.0) -> None:
        self.ridge_lambda = ridge_lambda
        self.weights: np.ndarray | None = None
        self.mean: np.ndarray | None = None

    def fit(self, features: np.ndarray, boxes: np.ndarray, target) -> "BoxRegressor":
        x = np.asarray(features, dtype=np.float32)
        self.mean = x.mean(axis=0)
        x = x - self.mean
        y = regression_targets(boxes, target)
        self.target_mean = y.mean(axis=0)
        gram = (x @ x.T).astype(np.float64) + self.ridge_lambda * np.eye(len(x))
        self.weights = x.T.astype(np.float64) @ np.linalg.solve(gram, y - self.target_mean)
        return self

    def predict(self, features: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if self.weights is None:
            return np.asarray(boxes, dtype=np.float64)
        deltas = (np.asarray(features, dtype=np.float64) - self.mean) @ self.weights + self.target_mean
        return apply_deltas(np.asarray(boxes, dtype=np.float64), deltas)
