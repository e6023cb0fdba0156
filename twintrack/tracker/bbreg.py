"""Bounding-box regression (R-CNN style), fitted once on first-frame samples by ridge regression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from twintrack.errors import UserError
from twintrack.geometry import cxcywh_to_xywh, sample_by_iou, uniform_boxes, xywh_to_cxcywh
from twintrack.models.mdnet import POOLED_SIZE
from twintrack.runtime.calibration import fingerprint
from twintrack.weights import shipped_for_backbone


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


def sample_regression_boxes(rng: np.random.Generator, box, count: int, iou_min: float, scale: float, aspect: float,
                            frame_wh) -> np.ndarray:
    """The boxes a first-frame regression is fitted on: ``count`` boxes around ``box`` with IoU at least ``iou_min``
    (centres within 0.3 x the mean side, sizes 1.05 ** U(-scale, scale), aspect ``aspect`` ** U(-1, 1) per side)."""
    return sample_by_iou(rng, uniform_boxes, box, count, (iou_min, 1.0), translate=0.3, scale=scale, aspect=aspect,
                         frame_wh=frame_wh)


def regression_samples(rng: np.random.Generator, box, config, frame_wh) -> np.ndarray:
    """``sample_regression_boxes`` with a config's ``n_bbreg``, ``bbreg_iou_min``, ``bbreg_scale`` and
    ``bbreg_aspect``."""
    return sample_regression_boxes(rng, box, config.n_bbreg, config.bbreg_iou_min, config.bbreg_scale,
                                   config.bbreg_aspect, frame_wh)


class BoxRegressor:
    """Ridge regression from box features to (dx, dy, dw, dh), solved in its dual form.

    Features have thousands of dimensions and samples number ~1000, so ``X^T (X X^T + l I)^-1 Y`` solves an
    N x N system instead of a D x D one. With a ``prior`` (a regression fitted elsewhere, e.g. offline across
    training videos) the ridge pulls the weights towards the prior's instead of towards zero: this one is fitted on
    what the prior leaves, and its deltas are added to the prior's.
    """

    def __init__(self, ridge_lambda: float = 1000.0, prior: "BoxRegressor | None" = None) -> None:
        self.ridge_lambda = ridge_lambda
        self.prior = prior
        self.weights: np.ndarray | None = None
        self.mean: np.ndarray | None = None

    @classmethod
    def from_arrays(cls, weights, feature_mean, target_mean) -> "BoxRegressor":
        """A fitted regression from its arrays (weights (D, 4), feature mean (D,), target mean (4,))."""
        regressor = cls()
        regressor.weights = np.asarray(weights, dtype=np.float64)
        regressor.mean = np.asarray(feature_mean, dtype=np.float64)
        regressor.target_mean = np.asarray(target_mean, dtype=np.float64)
        return regressor

    def fit(self, features: np.ndarray, boxes: np.ndarray, target) -> "BoxRegressor":
        x = np.asarray(features, dtype=np.float32)
        y = regression_targets(boxes, target)
        if self.prior is not None:
            y = y - self.prior.deltas(x)
        self.mean = x.mean(axis=0)
        x = x - self.mean
        self.target_mean = y.mean(axis=0)
        gram = (x @ x.T).astype(np.float64) + self.ridge_lambda * np.eye(len(x))
        self.weights = x.T.astype(np.float64) @ np.linalg.solve(gram, y - self.target_mean)
        return self

    def deltas(self, features: np.ndarray) -> np.ndarray:
        """(N, 4) predicted (dx, dy, dw, dh) of (N, D) box features, the prior's included."""
        own = (np.asarray(features, dtype=np.float64) - self.mean) @ self.weights + self.target_mean
        return own if self.prior is None else own + self.prior.deltas(features)

    def predict(self, features: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if self.weights is None:
            return np.asarray(boxes, dtype=np.float64)
        return apply_deltas(np.asarray(boxes, dtype=np.float64), self.deltas(features))


def load_prior(config, backbone) -> BoxRegressor | None:
    """``config.bbreg_prior``'s offline regression (None with ``use_bbreg`` off), read once (every init() fits its
    first frame on top of it): "" none; a file; or auto, the shipped one where ``backbone`` is the one it was fitted
    for (by fingerprint; None for others). Its features are channel-major RoIAlign vectors (``MDNet.pool``) of a
    255-pixel crop with the target's mean side about 64 pixels: SiamFC's search crop."""
    setting = config.bbreg_prior if config.use_bbreg else ""
    if not setting:
        return None
    path = setting
    if setting == "auto":
        path = shipped_for_backbone("bbreg_prior.json", fingerprint(backbone), "box regression",
                                    "reinstall twintrack or set bbreg_prior to \"\"")
        if path is None:
            return None
    prior = load_regressor(path)
    features = backbone.out_channels * POOLED_SIZE**2
    if len(prior.mean) != features:
        raise UserError(f"box regression file '{path}' reads {len(prior.mean)} features per box, these weights pool "
                        f"{features}; fit one for them with bench/fit_box_regressor.py or set bbreg_prior to \"\"")
    return prior


def load_regressor(path) -> BoxRegressor:
    """A regression saved by bench/fit_box_regressor.py (safetensors: weights, feature_mean, target_mean)."""
    if not Path(path).is_file():
        raise UserError(f"box regression file '{path}' does not exist; make one with bench/fit_box_regressor.py "
                        f"or leave bbreg_prior empty")
    try:
        arrays = load_file(str(path))
        return BoxRegressor.from_arrays(arrays["weights"], arrays["feature_mean"], arrays["target_mean"])
    except (KeyError, OSError, ValueError, SafetensorError) as error:
        raise UserError(f"box regression file '{path}' is not one bench/fit_box_regressor.py wrote ({error})") \
            from None
