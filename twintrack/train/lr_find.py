"""The learning-rate range test (Smith 2017; fastai), run by `twintrack lr-find` (twintrack/cli/lr_find.py).

The rate grows exponentially from ``lr_min`` to ``lr_max`` over ``steps`` optimizer steps on fresh batches;
the loss is smoothed (bias-corrected exponential average, 0.98) and the test stops once it exceeds 4x its best.
The suggestion is the rate of steepest descent of the smoothed loss against log(lr), the usual fastai pick: the
rate where training makes the fastest progress, well below the blow-up. When the curve is too short to
differentiate (fewer than 5 points before divergence) it falls back to (rate of the lowest loss) / 10.

Rates here are the config's ``lr``: every param group gets ``lr x`` its layer multiplier (``*_lr_mult``), so the
suggestion goes straight into ``lr=``. The trainer works in a temporary folder: the run folder's checkpoint and
weights are never touched; only lr_find.csv and lr_find.png are written (``write_outputs``).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.errors import UserError
from twintrack.optional import require

SMOOTHING = 0.98
DIVERGENCE = 4.0


@dataclass
class RangeTest:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    method: str  # "steepest" or "min/10"


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float, str]:
    # Points after the best loss are the blow-up: the steepest descent is looked for before it.
    best = int(np.argmin(smoothed))
    if best >= 4:
        slopes = np.gradient(np.asarray(smoothed[: best + 1]), np.log(lrs[: best + 1]))
        return float(lrs[int(np.argmin(slopes))]), "steepest"
    return max(float(lrs[best]) / 10.0, float(lrs[0])), "min/10"  # kept inside the tested range


def check_range(lr_min: float, lr_max: float, steps: int) -> None:
    if not 0 < lr_min < lr_max:
        raise UserError(f"lr-find needs 0 < lr-min < lr-max (got lr-min {lr_min:g}, lr-max {lr_max:g})")
    if steps < 2:
        raise UserError(f"lr-find needs at least 2 steps (got {steps})")


def lr_range_test(trainer, lr_min: float = 1e-6, lr_max: float = 1.0, steps: int = 100, echo=None) -> RangeTest:
    """Runs on ``trainer`` (its model and optimizer change: use a throwaway trainer)."""
    check_range(lr_min, lr_max, steps)
    ratio = lr_max / lr_min
    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    for i in range(steps):
        lr = lr_min * ratio ** (i / (steps - 1))
        set_lr(trainer.optimizer, lr)
        loss = trainer.train_step(*trainer.next_batch())
        if not math.isfinite(loss):
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        value = average / (1 - SMOOTHING ** (i + 1))
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(value)
        best = min(best, value)
        if echo and (i % 10 == 0 or i == steps - 1):
            echo(f"lr-find step {i + 1:4d}/{steps}: lr {lr:.2e} loss {loss:.4f} (smoothed {value:.4f})")
        if value > DIVERGENCE * best:
            break
    if not lrs:
        raise UserError(f"lr-find: the first loss is not finite at lr {lr_min:g}; check the data and model")
    rate, method = suggest(lrs, smoothed)
    return RangeTest(lrs, losses, smoothed, rate, method)


def write_outputs(result: RangeTest, out_dir: str | Path) -> tuple[Path, Path]:
    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "lr_find.png", extra="train").FigureCanvasAgg
    Figure = require("matplotlib.figure", "lr_find.png", extra="train").Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "lr_find.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "lr", "loss", "smoothed_loss"])
        for i, (lr, loss, smooth) in enumerate(zip(result.lrs, result.losses, result.smoothed), start=1):
            writer.writerow([i, f"{lr:.6g}", f"{loss:.6g}", f"{smooth:.6g}"])
    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(result.lrs, result.losses, color="tab:blue", alpha=0.3, label="loss")
    axes.plot(result.lrs, result.smoothed, color="tab:blue", label="smoothed loss")
    axes.axvline(result.suggestion, color="tab:red", linestyle="--",
                 label=f"suggested lr {result.suggestion:.2g} ({result.method})")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate (config lr)")
    axes.set_ylabel("training loss")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    png_path = out / "lr_find.png"
    figure.savefig(png_path)
    return csv_path, png_path
