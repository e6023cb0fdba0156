"""Success and precision plots: every tracker on one figure, its score in the legend (OTB style)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: plots are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
