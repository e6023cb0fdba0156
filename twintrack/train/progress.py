"""The progress bar of a training run, with the running loss as its postfix.

SiamFC epochs are thousands of steps: one bar per epoch ("epoch 3/50"). An MDNet epoch is one cycle over the
domains, a handful of iterations: one bar for the whole run, the epoch in its postfix. The loss shown is the mean of
the last ``log_every`` steps while an epoch runs (reading a loss waits for the GPU, so not every step) and the
epoch's mean, the number metrics.csv records, once it ends.
"""

from __future__ import annotations

import torch
from tqdm import tqdm


class TrainingProgress:
    def __init__(self, epochs: int, steps_per_epoch: int, total_steps: int, done_steps: int, per_epoch: bool,
                 log_every: int, enabled: bool) -> None:
        self.epochs, self.steps_per_epoch, self.log_every = epochs, steps_per_epoch, max(1, log_every)
        self.per_epoch, self.enabled = per_epoch, enabled
        self.bar = None if per_epoch else self._bar("train", total_steps, done_steps)
        self.epoch = 0
        self.loss: float | None = None  # the last loss shown: a new epoch keeps it until it has its own

    def _bar(self, desc: str, total: int, done: int):
        return tqdm(total=total, initial=done, desc=desc, disable=not self.enabled, dynamic_ncols=True)

    def start_epoch(self, epoch: int, steps: int, done: int) -> None:
        """``epoch`` (0-based) of ``steps`` steps, ``done`` of them run before (a resumed run)."""
        self.epoch = epoch
        if self.per_epoch:
            self.bar = self._bar(f"epoch {epoch + 1}/{self.epochs}", steps, done)
        self._show()

    def step(self, epoch_losses: list[torch.Tensor]) -> None:
        """One step done; ``epoch_losses`` are the epoch's losses so far (device tensors)."""
        self.bar.update()
        if len(epoch_losses) % self.log_every == 0:
            self._show(float(torch.stack(epoch_losses[-self.log_every:]).mean()))

    def end_epoch(self, mean_loss: float | None) -> None:
        """The epoch's mean loss on the bar; an epoch's own bar closes."""
        if mean_loss is not None:
            self._show(mean_loss)
        if self.per_epoch:
            self.close()

    def _show(self, loss: float | None = None) -> None:
        self.loss = self.loss if loss is None else loss
        postfix = {} if self.per_epoch else {"epoch": f"{self.epoch + 1}/{self.epochs}"}
        if self.loss is not None:
            postfix["loss"] = f"{self.loss:.4f}"
        self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "TrainingProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
