"""`twintrack lr-find siamfc|mdnet --data DIR ... --out DIR`: the learning-rate range test (Smith 2017; fastai).

The rate grows exponentially from ``--lr-min`` to ``--lr-max`` over ``--steps`` optimizer steps on fresh batches;
the loss is smoothed (bias-corrected exponential average, 0.98) and the test stops once it exceeds 4x its best.
The suggestion is the rate of steepest descent of the smoothed loss against log(lr), the usual fastai pick: the
rate where training makes the fastest progress, well below the blow-up. When the curve is too short to
differentiate (fewer than 5 points before divergence) it falls back to (rate of the lowest loss) / 10.

Rates here are the config's ``lr``: every param group gets ``lr x`` its layer multiplier (``*_lr_mult``), so the
suggestion goes straight into ``lr=``. The trainer works in a temporary folder: the run folder's checkpoint and
weights are never touched; only lr_find.csv and lr_find.png are written, to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.errors import UserError

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
        raise UserError(f"lr-find needs 0 < --lr-min < --lr-max (got {lr_min:g}, {lr_max:g})")
    if steps < 2:
        raise UserError(f"lr-find needs --steps >= 2 (got {steps})")


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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


# ---------------------------------------------------------------------------------------------------------- CLI


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: loss against an exponentially growing lr",
        description="Train briefly with the learning rate growing from --lr-min to --lr-max; writes lr_find.csv and "
        "lr_find.png to --out and prints a suggested lr (steepest descent of the smoothed loss; min/10 when the "
        "curve is too short). Nothing in a run folder is changed. Config keys as for `twintrack train`.",
    )
    parser.add_argument("tracker", choices=["siamfc", "mdnet"])
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="as for `twintrack train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for lr_find.csv and lr_find.png")
    parser.add_argument("--config", metavar="YAML", help="a training config file (default: the preset)")
    parser.add_argument("--backbone", metavar="FILE", help="mdnet: SiamFC weights for the conv layers")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--lr-min", type=float, default=1e-6)
    parser.add_argument("--lr-max", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from twintrack.configs import load_config
    from twintrack.device import resolve_device
    from twintrack.train.cli import load_data

    check_range(args.lr_min, args.lr_max, args.steps)  # before any data is read
    overrides = list(args.overrides) + [item for item in args.data if "=" in item]
    data = [item for item in args.data if "=" not in item]
    device = resolve_device(args.device)
    sequences = [seq for spec in data for seq in load_data(spec)]
    with tempfile.TemporaryDirectory(prefix="twintrack-lr-find-") as scratch:
        if args.tracker == "siamfc":
            from twintrack.train.siamfc_trainer import SiamFCTrainer

            config = load_config("train_siamfc", overrides, path=args.config)
            if config.num_threads > 0:
                torch.set_num_threads(config.num_threads)
            trainer = SiamFCTrainer(config, sequences, scratch, device)
        else:
            from twintrack.train.mdnet_trainer import MDNetTrainer
            from twintrack.weights import default_weights

            config = load_config("train_mdnet", overrides, path=args.config)
            trainer = MDNetTrainer(config, sequences, scratch, device,
                                   backbone_weights=args.backbone or default_weights("siamfc"))
        result = lr_range_test(trainer, args.lr_min, args.lr_max, args.steps, echo=print)
    csv_path, png_path = write_outputs(result, args.out)
    print(f"twintrack: {len(result.lrs)} steps written to {csv_path} and {png_path}")
    how = "steepest descent of the smoothed loss" if result.method == "steepest" else "lowest-loss lr / 10"
    print(f"twintrack: suggested lr {result.suggestion:.3g} ({how})")
    return 0
