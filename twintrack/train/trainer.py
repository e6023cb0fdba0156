"""The one training loop (``Trainer.fit``) that every tracker's trainer plugs into, and its contract.

A trainer subclass builds its network, data and optimizer in ``__init__`` and provides:

- ``model``, ``optimizer``, ``scheduler`` (an ``optim.EpochSchedule``), ``config``, ``run_dir``, ``device``;
  ``WEIGHTS`` (file name in the run folder) and ``ARCH`` (architecture tag of that safetensors file);
- ``steps_per_epoch`` and ``total_steps``: the length of an epoch and of the run, in optimizer steps;
- ``epoch_batches(epoch, skip)``: the batches of one epoch, without its first ``skip`` (a resumed run), each a
  tuple of ``step_loss`` arguments;
- ``step_loss(*batch) -> loss tensor``: one optimizer step (the loss stays on the device: reading it waits);
- ``next_batch()``: the arguments of one step outside ``fit`` (lr-find, --overfit-batch);
- ``tracking_network()``: the network in the form its tracker runs (saved as ``WEIGHTS``, given to validation);
- optionally ``extra_state()`` / ``load_extra_state(payload)``: more for the checkpoint.

``fit`` then owns everything else, the same way for every tracker:

- schedules: at the start of every epoch the learning rate is placed at that epoch (a pure function of the epoch,
  so resume is exact) and adam_then_sgd switches once ``epoch >= switch_epoch``. Epochs are the unit of
  ``lr_schedule``, ``lr_step_epochs``, ``switch_epoch``, ``val_every`` and ``checkpoint_every`` for every tracker;
- logging: one row per epoch in ``metrics.csv`` (epoch, step, loss, lr, samples_per_s, data_wait, val_auc,
  val_prec; their meanings in ``runlog.COLUMN_MEANINGS``) and the same numbers as TensorBoard scalars in ``tb/``;
  ``curves.png`` when the run ends; a progress bar with the running loss (``progress.TrainingProgress``): one per
  epoch, or one for the run where ``progress_per_epoch`` is False (MDNet's epochs of a few iterations);
- validation: ``validator(tracking_network())`` every ``val_every`` epochs and after the last (configs that have
  ``val_every``/``val_data``; the CLI builds the validator, see ``twintrack.app.validate``);
- checkpoints: every ``checkpoint_every`` epochs, after the last, and when ``max_minutes`` runs out: the
  checkpoint (model, optimizer, schedule, step, random state, config, the metrics rows so far and the losses of
  an unfinished epoch; atomic and durable) and the weights. A metrics row reaches ``metrics.csv`` only after the
  checkpoint that holds it is written, so a kill or a full disk never leaves a row for an epoch that was not saved;
- resume: ``resume()`` continues from the checkpoint at its exact step (mid-epoch too), refusing one trained with
  other settings, and rewrites ``metrics.csv`` from the checkpoint's rows (a row is never lost or repeated).

``fit(max_steps=N)`` stops after N more steps without saving (the CLI saves after ``fit``), for smoke runs.
Under torchrun every process runs ``fit``; process 0 alone writes files and validates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml

from twintrack.configs import config_to_dict
from twintrack.errors import UserError
from twintrack.train.checkpoint import load_for_resume, restore_rng, rng_state, save_checkpoint
from twintrack.train.curves import plot_training_curves
from twintrack.train.optim import on_epoch_start
from twintrack.train.progress import TrainingProgress
from twintrack.fileio import write_atomic, write_text_atomic
from twintrack.train.runlog import COLUMNS, RunLog, format_value
from twintrack.weights import save_weights

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed


class Trainer:
    WEIGHTS = ""
    ARCH = ""
    samples_per_step = 1  # for samples_per_s in metrics.csv (SiamFC: pairs per step; MDNet: frames per step)
    progress_per_epoch = True  # one progress bar per epoch; False: one for the run (epochs of a few steps)

    def __init__(self, config, run_dir, device, validator=None) -> None:
        self.config = config
        self.device = device
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state = TrainState()
        self.metrics_rows: list[dict] = []  # every epoch's row so far (saved in the checkpoint)
        self._rows_logged = 0  # how many of them metrics.csv holds
        self._log: RunLog | None = None
        self._epoch_losses: list[float] = []  # losses of the epoch in progress when fit stopped (max_steps)
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        wants_validation = getattr(config, "val_every", 0) > 0 and getattr(config, "val_data", "")
        if wants_validation and self.rank == 0 and validator is None:
            raise UserError("val_every > 0 needs a validator: pass validator=TrackingValidator(tracker, val_data, "
                            "device) from twintrack.app.validate (`twintrack train` builds it from val_data)")
        self.validator = validator if wants_validation and self.rank == 0 else None

    # ----------------------------------------------------------------------------------- what subclasses give
    steps_per_epoch: int
    total_steps: int

    def epoch_batches(self, epoch: int, skip: int):
        raise NotImplementedError

    def step_loss(self, *batch) -> torch.Tensor:
        raise NotImplementedError

    def next_batch(self):
        raise NotImplementedError

    def tracking_network(self) -> torch.nn.Module:
        return self.model

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, payload: dict) -> None:
        pass

    # ------------------------------------------------------------------------------------------ the loop
    @property
    def epochs(self) -> int:
        """Epochs in the run (the last one may be partial when total_steps is not a multiple)."""
        return -(-self.total_steps // self.steps_per_epoch)

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def weights_path(self) -> Path:
        return self.run_dir / self.WEIGHTS

    def train_step(self, *batch) -> float:
        """One optimizer step outside ``fit`` (lr-find, --overfit-batch); returns the loss."""
        loss = float(self.step_loss(*batch))
        self.state.step += 1
        return loss

    def fit(self, max_steps: int | None = None, progress: bool = True) -> list[float]:
        """Train to ``total_steps`` (or ``max_steps`` more steps, or ``max_minutes``); returns per-step losses."""
        cfg = self.config
        if self.rank == 0:
            # A run killed (kill -9, power cut) while writing leaves its temp file: one run writes a folder at a time.
            for stale in self.run_dir.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
            # Written here, not in __init__: a refused resume must leave the run's config as it was.
            self._write_files("config.yaml", lambda: write_text_atomic(
                self.run_dir / "config.yaml", yaml.safe_dump(config_to_dict(cfg), sort_keys=False)))
        losses: list[float] = []
        started = time.perf_counter()
        max_minutes = getattr(cfg, "max_minutes", 0.0)
        bars = TrainingProgress(self.epochs, self.steps_per_epoch, self.total_steps, self.state.step,
                                per_epoch=self.progress_per_epoch, log_every=cfg.log_every,
                                enabled=progress and self.rank == 0)
        with RunLog(self.run_dir, enabled=self.rank == 0) as log, bars:
            self._log = log
            while self.state.step < self.total_steps:
                epoch = self.state.step // self.steps_per_epoch
                on_epoch_start(self.optimizer, epoch, cfg.switch_epoch, self.scheduler)
                epoch_losses, stopped, seconds, wait = self._run_epoch(epoch, max_steps, len(losses), bars)
                new_losses = torch.stack(epoch_losses).float().cpu().tolist() if epoch_losses else []
                losses += new_losses
                # A resumed epoch's row averages its steps before the stop too (they are in the checkpoint).
                epoch_values, self._epoch_losses = self._epoch_losses + new_losses, []
                bars.end_epoch(float(np.mean(epoch_values)) if epoch_values else None)
                epoch_end = min((epoch + 1) * self.steps_per_epoch, self.total_steps)
                if stopped and self.state.step < epoch_end:
                    self._epoch_losses = epoch_values  # kept for the checkpoint
                    break
                # before the schedule moves on
                row = self._epoch_row(epoch + 1, epoch_values, len(new_losses), seconds, wait)
                self.state.epoch = epoch + 1
                self.scheduler.set_epoch(self.state.epoch)
                last = self.state.step >= self.total_steps
                out_of_time = max_minutes > 0 and time.perf_counter() - started > max_minutes * 60
                if self.validator and (self.state.epoch % cfg.val_every == 0 or last or out_of_time):
                    row.update(self.validator(self.tracking_network()))
                    self._keep_if_best(row)
                self.metrics_rows.append(row)  # logged with the checkpoint that holds it
                if self.state.epoch % cfg.checkpoint_every == 0 or last or out_of_time:
                    self.save()
                if out_of_time:
                    print(f"twintrack: max_minutes={max_minutes} reached after epoch {self.state.epoch}")
                    break
                if stopped:
                    break
            self._log = None
        if self.rank == 0 and (self.run_dir / "metrics.csv").exists():
            plot_training_curves(self.run_dir / "metrics.csv", self.run_dir / "curves.png")
        return losses

    def _run_epoch(self, epoch: int, max_steps, done_before: int, bars: TrainingProgress):
        """One epoch's steps (from where a resumed run left off). Returns (losses, stopped by max_steps,
        seconds, seconds spent waiting for batches)."""
        skip = self.state.step - epoch * self.steps_per_epoch
        steps = min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch) - skip
        bars.start_epoch(epoch, steps + skip, skip)
        epoch_losses, wait = [], 0.0
        start = time.perf_counter()
        # Waiting for data: taking each batch, and starting the epoch's batches (loader workers). With workers=0 the
        # batch is loaded here, in this process, so the loading is the wait, as in Lightning's dataloader profiling.
        batches = iter(self.epoch_batches(epoch, skip))
        wait += time.perf_counter() - start
        for _ in range(steps):
            wait_start = time.perf_counter()
            batch = next(batches, None)
            wait += time.perf_counter() - wait_start
            if batch is None:
                break
            epoch_losses.append(self.step_loss(*batch))
            self.state.step += 1
            bars.step(epoch_losses)
            if max_steps is not None and done_before + len(epoch_losses) >= max_steps:
                return epoch_losses, True, time.perf_counter() - start, wait
        return epoch_losses, False, time.perf_counter() - start, wait

    def _epoch_row(self, epoch: int, loss_values: list[float], steps_run: int, seconds: float, wait: float) -> dict:
        values = np.asarray(loss_values, dtype=np.float64) if loss_values else np.array([np.nan])
        return {
            "epoch": epoch, "step": self.state.step, "loss": float(values.mean()),
            "lr": self.optimizer.param_groups[0]["lr"],
            "samples_per_s": steps_run * self.samples_per_step * self.world / max(seconds, 1e-9),
            # The share of the epoch's time spent waiting for batches (see runlog.COLUMNS).
            "data_wait": min(1.0, wait / seconds) if seconds > 0 else 0.0,
        }

    @property
    def best_weights_path(self) -> Path:
        return self.run_dir / f"best_{self.WEIGHTS}"

    def _keep_if_best(self, row: dict) -> None:
        """Early stopping on val AUC, not train loss: the epoch with the best val AUC so far is kept beside the
        last one as ``best_<weights>`` (its epoch in the metadata), so a run that overfits late loses nothing."""
        auc = row.get("val_auc")
        earlier = [float(r["val_auc"]) for r in self.metrics_rows if r.get("val_auc") not in (None, "")]
        if self.rank != 0 or auc is None or (earlier and float(auc) <= max(earlier)):
            return
        self._write_files(self.best_weights_path.name, lambda: save_weights(
            self.tracking_network(), self.best_weights_path, arch=self.ARCH,
            extra={"epoch": self.state.epoch, "step": self.state.step, "val_auc": float(auc)}))

    # ------------------------------------------------------------------------------------------ checkpoints
    def checkpoint_payload(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.state.epoch,
            "step": self.state.step,
            **rng_state(self.rng),
            **self.extra_state(),
            "config": config_to_dict(self.config),
            "metrics_rows": [dict(row) for row in self.metrics_rows],
            "epoch_losses": list(self._epoch_losses),
        }

    def save(self) -> None:
        """The checkpoint and the weights, atomically and durably (process 0 only); then the metrics rows they
        hold go to metrics.csv. A failed write (disk full) is one UserError and leaves no temp file."""
        if self.rank != 0:
            return
        self._write_files(CHECKPOINT, lambda: save_checkpoint(self.run_dir / CHECKPOINT, self.checkpoint_payload()))
        self._write_files(self.WEIGHTS, lambda: save_weights(
            self.tracking_network(), self.weights_path, arch=self.ARCH,
            extra={"epoch": self.state.epoch, "step": self.state.step}))
        self._write_files("metrics.csv", self._log_rows)

    def _log_rows(self) -> None:
        pending = self.metrics_rows[self._rows_logged:]
        if not pending:
            return
        if self._log is not None:
            for row in pending:
                self._log.write(row)
        else:  # save() after fit (the CLI saves a run stopped by --max-steps)
            with RunLog(self.run_dir) as log:
                for row in pending:
                    log.write(row)
        self._rows_logged = len(self.metrics_rows)

    def _write_files(self, name: str, write) -> None:
        try:
            write()
        except UserError:
            raise
        except Exception as err:  # torch.save reports a full disk as RuntimeError, safetensors as its own type
            detail = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
            raise UserError(f"cannot write '{self.run_dir / name}' ({detail}): is the disk full or the folder "
                            f"read-only? Free space, then continue from the last checkpoint with --resume") from None

    def resume(self) -> bool:
        """Continue from the run folder's checkpoint (False when there is none)."""
        payload = load_for_resume(self.run_dir / CHECKPOINT, self.config)
        if payload is None:
            return False
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.state = TrainState(payload["epoch"], payload["step"])
        self.scheduler.load_state_dict(payload["scheduler"])
        restore_rng(payload, self.rng)
        self.load_extra_state(payload)
        self._epoch_losses = [float(v) for v in payload.get("epoch_losses", [])]
        self._restore_metrics(payload)
        return True

    def _restore_metrics(self, payload: dict) -> None:
        """metrics.csv as the checkpoint saw it: rows of epochs replayed after a kill go, saved rows stay."""
        if "metrics_rows" in payload:
            self.metrics_rows = [dict(row) for row in payload["metrics_rows"]]
        else:  # a checkpoint from before rows were saved in it: keep the file's rows up to its step
            self.metrics_rows = [row for row in _read_rows(self.run_dir / "metrics.csv")
                                 if int(float(row["step"])) <= self.state.step]
        self._rows_logged = len(self.metrics_rows)
        if self.rank == 0:
            lines = [",".join(COLUMNS)] + [",".join(format_value(row.get(k)) for k in COLUMNS)
                                           for row in self.metrics_rows]
            self._write_files("metrics.csv", lambda: write_atomic(
                self.run_dir / "metrics.csv", lambda tmp: tmp.write_text("\n".join(lines) + "\n")))


def _read_rows(path: Path) -> list[dict]:
    import csv

    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("step")]
