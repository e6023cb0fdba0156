"""Failure-awareness: how well a tracker's own per-frame score and ``lost`` verdict tell the frames where it has
lost the target from those where it has not.

A frame counts when the tracker updated on it (every frame after the first) and its ground-truth box is valid
(finite, positive width and height). A counted frame is a *failure* when the IoU of the tracker's box with the
ground truth is below ``FAILURE_IOU`` (0.1), else a *success*.

- ``roc_auc``: the probability that a success's score is above a failure's, ties counted half (the Mann-Whitney
  rank statistic divided by the number of pairs). 1 = the score ranks every failure below every success, 0.5 = no
  better than chance. NaN when the frames hold no failure or no success (nothing to rank).
- ``lost_precision_recall``: the ``lost`` verdict against the failures. Precision = failures among the frames said
  lost, NaN when the tracker never said lost; recall = failures said lost among all failures, NaN when there is no
  failure. NaN means "undefined", never 0 or 1: a report shows it as "-".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twintrack.geometry import iou

FAILURE_IOU = 0.1


def counted_ious(boxes, ground_truth) -> np.ndarray:
    """Per-frame IoU of ``boxes`` with ``ground_truth``, NaN where a frame does not count (frame 0, the init; an
    invalid ground-truth box)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    truth = np.asarray(ground_truth, dtype=np.float64).reshape(-1, 4)[: len(boxes)]
    valid = np.all(np.isfinite(truth), axis=1) & (truth[:, 2] > 0) & (truth[:, 3] > 0)
    valid[:1] = False
    ious = np.full(len(truth), np.nan)
    ious[valid] = iou(boxes[: len(truth)][valid], truth[valid])
    return ious


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` in ascending order; tied values share the mean of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1
    return (first_rank + (counts - 1) / 2.0)[inverse]


def roc_auc(scores, failed) -> float:
    """Area under the ROC curve of ``scores`` for telling successes (high score) from failures (``failed``):
    P(success's score > failure's score) + P(equal) / 2. NaN without both classes."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    failed = np.asarray(failed, dtype=bool).ravel()
    successes, failures = int((~failed).sum()), int(failed.sum())
    if successes == 0 or failures == 0:
        return float("nan")
    rank_sum = _average_ranks(scores)[~failed].sum()
    u_statistic = rank_sum - successes * (successes + 1) / 2.0
    return float(u_statistic / (successes * failures))


def roc_curve(scores, failed) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve of flagging a frame as failed when its score is at or below a threshold, over every threshold:
    (false alarm rate = successes flagged / successes, detection rate = failures flagged / failures), from (0, 0) to
    (1, 1). Its trapezoid area equals ``roc_auc``. Needs both classes."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    failed = np.asarray(failed, dtype=bool).ravel()
    thresholds, inverse = np.unique(scores, return_inverse=True)
    failures_at = np.bincount(inverse, weights=failed.astype(float), minlength=len(thresholds))
    successes_at = np.bincount(inverse, weights=(~failed).astype(float), minlength=len(thresholds))
    detection = np.concatenate([[0.0], np.cumsum(failures_at) / failed.sum()])
    false_alarm = np.concatenate([[0.0], np.cumsum(successes_at) / (~failed).sum()])
    return false_alarm, detection


def lost_precision_recall(lost, failed) -> tuple[float, float]:
    """(precision, recall) of the ``lost`` verdicts against the failures; NaN where undefined (module docstring)."""
    lost = np.asarray(lost, dtype=bool).ravel()
    failed = np.asarray(failed, dtype=bool).ravel()
    caught = int((lost & failed).sum())
    precision = caught / lost.sum() if lost.any() else float("nan")
    recall = caught / failed.sum() if failed.any() else float("nan")
    return float(precision), float(recall)


@dataclass(frozen=True)
class FailureAwareness:
    frames: int  # counted frames
    failures: int
    score_auc: float
    lost_frames: int  # counted frames the tracker said lost
    lost_precision: float
    lost_recall: float


def failure_awareness(ious, scores, lost) -> FailureAwareness:
    """Failure-awareness over frames pooled from any number of sequences: per-frame IoU (NaN = not counted, as
    ``counted_ious`` gives), the tracker's score and its lost verdict."""
    ious = np.asarray(ious, dtype=np.float64).ravel()
    counted = np.isfinite(ious)
    failed = ious[counted] < FAILURE_IOU
    scores = np.asarray(scores, dtype=np.float64).ravel()[counted]
    lost = np.asarray(lost, dtype=bool).ravel()[counted]
    precision, recall = lost_precision_recall(lost, failed)
    return FailureAwareness(frames=int(counted.sum()), failures=int(failed.sum()), score_auc=roc_auc(scores, failed),
                            lost_frames=int(lost.sum()), lost_precision=precision, lost_recall=recall)
