"""Training curves from a run's metrics.csv: loss, and validation AUC when the run measured it.

Reads the trainers' columns (epoch, step, loss, lr, samples_per_s, data_wait, val_auc, val_prec; val_* may be
empty) and older MDNet runs' (step, loss). Matplotlib's Agg canvas is used directly, so no window opens and no
global backend is set.
"""

from __future__ import annotations

import csv
from pathlib import Path

from twintrack.errors import UserError
from twintrack.optional import require


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def read_metrics(metrics_csv: str | Path) -> dict[str, list[float | None]]:
    """Column name -> values (None for empty or non-numeric cells)."""
    path = Path(metrics_csv)
    if not path.is_file():
        raise UserError(f"metrics file '{path}' does not exist")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        # From the header, so a run stopped before its first row still has its columns (an empty plot).
        columns: dict[str, list[float | None]] = {name.strip(): [] for name in reader.fieldnames or []}
    for row in rows:
        for key, value in row.items():
            if key is not None:
                columns.setdefault(key.strip(), []).append(_number(value))
    return columns


def plot_training_curves(metrics_csv: str | Path, out_png: str | Path) -> Path:
    """Loss against epoch (or step when there is no epoch column); val AUC on a second axis when present."""
    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "curves.png", extra="train").FigureCanvasAgg
    Figure = require("matplotlib.figure", "curves.png", extra="train").Figure

    columns = read_metrics(metrics_csv)
    if "loss" not in columns:
        raise UserError(f"{metrics_csv} has no 'loss' column")
    x_name = "epoch" if "epoch" in columns else "step"
    xs = columns.get(x_name) or list(range(1, len(columns["loss"]) + 1))
    loss = [(x, y) for x, y in zip(xs, columns["loss"]) if x is not None and y is not None]
    auc = [(x, y) for x, y in zip(xs, columns.get("val_auc", [])) if x is not None and y is not None]

    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    if loss:
        axes.plot(*zip(*loss), color="tab:blue", marker="." if len(loss) < 50 else None, label="training loss")
    axes.set_xlabel(x_name)
    axes.set_ylabel("loss", color="tab:blue")
    axes.grid(True, alpha=0.3)
    if auc:
        # AUC lives in [0, 1] and loss does not: a second y axis keeps both readable.
        right = axes.twinx()
        right.plot(*zip(*auc), color="tab:orange", marker="o", label="val AUC")
        right.set_ylabel("val success AUC", color="tab:orange")
        right.set_ylim(0.0, 1.0)
    axes.set_title(f"{Path(metrics_csv).parent.name or 'run'}: training curves")
    figure.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    return out
