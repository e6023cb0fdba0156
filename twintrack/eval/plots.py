"""Success and precision plots: every tracker on one figure, its score in the legend (OTB style); and the
failure-awareness plots (ROC curves of the score against the tracker's own failures, score against IoU)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: plots are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from twintrack.eval.failure import FAILURE_IOU  # noqa: E402
from twintrack.eval.metrics import CENTER_THRESHOLDS, IOU_THRESHOLDS, PRECISION_AT  # noqa: E402


def plot_curves(results: dict, out_dir: str | Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("success", "precision"):
        fig, ax = plt.subplots(figsize=(5, 4))
        for name, runs in results.items():
            if kind == "success":
                curve = np.mean([r.score.success_curve for r in runs], axis=0)
                ax.plot(IOU_THRESHOLDS, curve, label=f"{name} [{curve.mean():.3f}]")
            else:
                curve = np.mean([r.score.precision_curve for r in runs], axis=0)
                ax.plot(CENTER_THRESHOLDS, curve, label=f"{name} [{curve[PRECISION_AT]:.3f}]")
        ax.set_xlabel("overlap threshold" if kind == "success" else "location error threshold (px)")
        ax.set_ylabel("success rate" if kind == "success" else "precision")
        ax.set_title("Success plot of OPE" if kind == "success" else "Precision plot of OPE")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if kind == "success" else "lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / f"{kind}.png", dpi=100)
        plt.close(fig)


def plot_failure_roc(curves: dict, out_dir: str | Path, name: str = "failure_roc.png") -> None:
    """ROC curves of each tracker's score for spotting its own failures: ``curves`` maps a tracker to
    (false alarm rate, detection rate, AUC) as ``failure.roc_curve`` / ``failure.roc_auc`` give them."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for tracker, (false_alarm, detection, auc) in curves.items():
        ax.plot(false_alarm, detection, label=f"{tracker} [{auc:.3f}]")
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1)
    ax.set_xlabel("successes flagged (score at or below threshold)")
    ax.set_ylabel(f"failures flagged (IoU < {FAILURE_IOU})")
    ax.set_title("Failure ROC of the score")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(out_dir) / name, dpi=100)
    plt.close(fig)


def plot_score_iou(frames: dict, out_dir: str | Path, name: str = "score_iou.png") -> None:
    """Each tracker's per-frame score against its IoU with the truth, one panel per tracker: ``frames`` maps a
    tracker to (IoU, score, lost) arrays over its counted frames. Frames it said lost are red; the dotted lines
    mark the failure IoU and twintrack's 0.5 score boundary."""
    columns = min(3, len(frames))
    rows = -(-len(frames) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.0 * rows), squeeze=False)
    for ax, (tracker, (ious, scores, lost)) in zip(axes.flat, frames.items()):
        ax.scatter(ious[~lost], scores[~lost], s=3, alpha=0.25, color="tab:blue", linewidths=0, label="not lost")
        ax.scatter(ious[lost], scores[lost], s=3, alpha=0.5, color="tab:red", linewidths=0, label="lost")
        ax.axvline(FAILURE_IOU, color="0.4", linestyle=":", linewidth=1)
        ax.axhline(0.5, color="0.4", linestyle=":", linewidth=1)
        ax.set_title(tracker, fontsize=9)
        ax.set_xlim(-0.02, 1)  # failures pile up at IoU 0: keep them off the axis
        ax.set_ylim(-0.02, 1.02)  # one scale for every tracker
        ax.set_xlabel("IoU with the truth", fontsize=8)
        ax.set_ylabel("score", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(frames):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right", fontsize=7, markerscale=3)
    fig.tight_layout()
    fig.savefig(Path(out_dir) / name, dpi=100)
    plt.close(fig)
