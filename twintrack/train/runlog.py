"""A run folder's per-epoch log: metrics.csv (appended, so resumed runs continue it) and TensorBoard events in tb/
(torch.utils.tensorboard; the tensorboard package comes with the ``train`` extra)."""

from __future__ import annotations

import csv
from pathlib import Path

from twintrack.optional import require

COLUMN_MEANINGS = {
    "epoch": "epochs completed",
    "step": "optimizer steps completed",
    "loss": "the epoch's mean training loss",
    "lr": "the learning rate of the first parameter group at the epoch's end",
    "samples_per_s": "training samples per second over the epoch, all processes together (SiamFC: pairs; "
                     "MDNet: frames)",
    "data_wait": "the share (0 to 1) of the epoch's time spent waiting for batches, as Lightning's profiler counts "
                 "dataloader time: with workers=0 the batches are loaded in the training process, so this is the "
                 "share spent loading them; with workers > 0, the share spent waiting on batches the workers had not "
                 "yet made. Near 0: the loading keeps up",
    "val_auc": "success AUC on val_data (empty in epochs without validation)",
    "val_prec": "precision at 20 px on val_data (empty in epochs without validation)",
}
COLUMNS = tuple(COLUMN_MEANINGS)


class RunLog:
    """``write(row)`` appends one epoch's row to metrics.csv and its numbers to ``tb/`` as scalars.

    Disabled (``enabled=False``) on every DDP process but the first, so one process writes the files.
    """

    def __init__(self, run_dir, enabled: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled

    def __enter__(self) -> "RunLog":
        if self.enabled:
            path = self.run_dir / "metrics.csv"
            new_file = not path.exists()
            self.handle = open(path, "a", newline="")
            self.writer = csv.DictWriter(self.handle, fieldnames=COLUMNS)
            if new_file:
                self.writer.writeheader()
            require("tensorboard", "training logs (TensorBoard events in tb/)", extra="train")
            from torch.utils.tensorboard import SummaryWriter

            self.events = SummaryWriter(log_dir=str(self.run_dir / "tb"))
        return self

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        self.writer.writerow({k: format_value(row.get(k)) for k in COLUMNS})
        self.handle.flush()
        for key, value in row.items():
            if key not in ("epoch", "step") and value is not None:
                self.events.add_scalar(f"train/{key}" if not key.startswith("val_") else f"val/{key[4:]}",
                                       float(value), global_step=int(row["step"]))
        self.events.flush()

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.handle.close()
            self.events.close()


def format_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
