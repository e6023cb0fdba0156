"""OTB one-pass metrics (success AUC, precision at 20 px) as the got10k toolkit computes them, and normalized
precision as TrackingNet / LaSOT define it.

IoU and centre error come from ``twintrack.geometry`` (the one place that owns box conventions); the curves use
got10k's thresholds: 21 IoU thresholds in [0, 1] and centre-error thresholds 0..50 px. Normalized precision divides
the centre offset by the ground-truth width and height (so it does not favour large targets) and averages the
curve over 51 thresholds 0..0.5, as the LaSOT toolkit and pytracking do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twintrack.geometry import center_error, iou, xywh_to_cxcywh

IOU_THRESHOLDS = np.linspace(0, 1, 21)
CENTER_THRESHOLDS = np.arange(0, 51)
PRECISION_AT = 20  # pixels
NORMALIZED_THRESHOLDS = np.linspace(0, 0.5, 51)


@dataclass(frozen=True)
class SequenceScore:
    success_auc: float
    precision: float
    success_curve: np.ndarray
    precision_curve: np.ndarray
    mean_iou: float
    normalized_precision: float
    normalized_precision_curve: np.ndarray


def normalized_center_error(predicted, ground_truth) -> np.ndarray:
    """Centre offset measured in ground-truth widths and heights (x offset / w, y offset / h), then its length."""
    pred_c = xywh_to_cxcywh(predicted)
    gt_c = xywh_to_cxcywh(ground_truth)
    offset = (pred_c[..., :2] - gt_c[..., :2]) / gt_c[..., 2:]
    return np.sqrt((offset**2).sum(axis=-1))


def score_sequence(predicted, ground_truth) -> SequenceScore:
    """Score one sequence; frames whose ground truth is missing (NaN) or empty are left out."""
    pred = np.asarray(predicted, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(ground_truth, dtype=np.float64).reshape(-1, 4)
    n = min(len(pred), len(gt))
    pred, gt = pred[:n], gt[:n]
    valid = np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    ious = iou(pred[valid], gt[valid])
    errors = center_error(pred[valid], gt[valid])
    normalized_errors = normalized_center_error(pred[valid], gt[valid])
    success_curve = (ious[:, None] > IOU_THRESHOLDS[None, :]).mean(axis=0)
    precision_curve = (errors[:, None] <= CENTER_THRESHOLDS[None, :]).mean(axis=0)
    normalized_curve = (normalized_errors[:, None] <= NORMALIZED_THRESHOLDS[None, :]).mean(axis=0)
    return SequenceScore(
        success_auc=float(success_curve.mean()),
        precision=float(precision_curve[PRECISION_AT]),
        success_curve=success_curve,
        precision_curve=precision_curve,
        mean_iou=float(ious.mean()) if len(ious) else 0.0,
        normalized_precision=float(normalized_curve.mean()),
        normalized_precision_curve=normalized_curve,
    )
