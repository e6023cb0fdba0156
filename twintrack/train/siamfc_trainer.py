"""The SiamFC training loop: pairs -> balanced logistic loss -> optimizer, with checkpoints and resume."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from twintrack.configs import SiamFCTrainConfig, config_to_dict
from twintrack.errors import UserError
from twintrack.models import SiamFCNet, init_weights
from twintrack.train.checkpoint import load_for_resume, restore_rng, rng_state, save_checkpoint
from twintrack.train.curves import plot_training_curves
from twintrack.data.sequences import Sequence
from twintrack.train.losses import balanced_logistic_loss
from twintrack.train.optim import build_optimization, check_train_config, lr_groups, on_epoch_start
from twintrack.train.loader import make_loader
from twintrack.train.pairs import PairSampler
from twintrack.train.runlog import RunLog
from twintrack.weights import save_weights

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "siamfc_vggm.safetensors"


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed


class SiamFCTrainer:
    def __init__(self, config: SiamFCTrainConfig, sequences: list[Sequence], run_dir: str | Path, device,
                 validator=None):
        """``validator(model) -> {"val_auc": ..., "val_prec": ...}`` runs every ``val_every`` epochs (see
        ``twintrack.eval.validate.SiamFCValidator``); needed when the config asks for validation."""
        check_train_config(config)
        self.config = config
        self.device = device
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.sampler = PairSampler(sequences, config)
        torch.manual_seed(config.seed)
        self.model = SiamFCNet()
        init_weights(self.model.backbone, config.init)
        self.model.to(device)
        backbone = self.model.backbone
        groups = lr_groups(config.lr, [
            (backbone.conv1.parameters(), config.conv1_lr_mult),
            (backbone.conv2.parameters(), config.conv2_lr_mult),
            (backbone.conv3.parameters(), config.conv3_lr_mult),
            (self.model.head.parameters(), config.head_lr_mult),
        ])
        self.optimizer, self.scheduler = build_optimization(config, groups, config.epochs)
        self.rng = np.random.default_rng(config.seed)
        self.state = TrainState()
        # Under torchrun every process trains a replica on its shard of each epoch; gradients are all-reduced.
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        if self.world > 1:
            self.net = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
        else:
            self.net = self.model
        if config.val_every > 0 and config.val_data and validator is None:
            raise UserError("val_every > 0 needs a validator: pass validator=SiamFCValidator(val_data, device) "
                            "from twintrack.eval.validate (`twintrack train` builds it from val_data)")
        self.validator = validator if config.val_every > 0 and config.val_data and self.rank == 0 else None

    # --------------------------------------------------------------------------------------------- checkpoints
    def checkpoint_payload(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.state.epoch,
            "step": self.state.step,
            **rng_state(self.rng),
            "config": config_to_dict(self.config),
        }

    def resume(self) -> bool:
        payload = load_for_resume(self.run_dir / CHECKPOINT, self.config)
        if payload is None:
            return False
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.state = TrainState(payload["epoch"], payload["step"])
        restore_rng(payload, self.rng)
        return True

    # ------------------------------------------------------------------------------------------------ training
    def next_batch(self):
        """The arguments of one ``train_step``: a batch of augmented pairs."""
        return self.sampler.batch(self.rng, self.config.batch_size)

    def train_step(self, exemplars, searches, labels, weights) -> float:
        return float(self._step(exemplars, searches, labels, weights))

    def _step(self, exemplars, searches, labels, weights) -> torch.Tensor:
        """One optimizer step; returns the loss as a device tensor (reading it would wait for the GPU)."""
        self.net.train()
        device = self.device
        exemplars = exemplars.to(device, non_blocking=True).float().contiguous(memory_format=self.memory_format)
        searches = searches.to(device, non_blocking=True).float().contiguous(memory_format=self.memory_format)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.config.autocast_bf16):
            logits = self.net(exemplars, searches)
        loss = balanced_logistic_loss(logits.float(), labels.to(device, non_blocking=True),
                                      weights.to(device, non_blocking=True))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.state.step += 1
        return loss.detach()

    def fit(self, max_steps: int | None = None, progress: bool = True) -> list[float]:
        """Train until ``config.epochs`` (or ``max_steps`` more steps, or ``max_minutes``); returns per-step losses."""
        cfg = self.config
        if self.rank == 0:
            # Written here, not in __init__: a refused --resume must leave the run's config as it was.
            (self.run_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
        loader, shard = make_loader(self.sampler, cfg.seed, cfg.pairs_per_epoch, cfg.batch_size, cfg.workers,
                                    pin_memory=self.device.type == "cuda", rank=self.rank, world=self.world)
        losses: list[float] = []
        started = time.perf_counter()
        with RunLog(self.run_dir, enabled=self.rank == 0) as log:
            while self.state.epoch < cfg.epochs:
                on_epoch_start(self.optimizer, self.state.epoch, cfg.switch_epoch, self.scheduler)
                shard.set_epoch(self.state.epoch)
                epoch_losses, waits = [], []
                bar = tqdm(total=len(loader), desc=f"epoch {self.state.epoch + 1}/{cfg.epochs}",
                           disable=not progress or self.rank != 0, dynamic_ncols=True)
                epoch_start = time.perf_counter()
                batches = iter(loader)
                while True:
                    wait_start = time.perf_counter()
                    batch = next(batches, None)
                    if batch is None:
                        break
                    waits.append(time.perf_counter() - wait_start)
                    epoch_losses.append(self._step(*batch))
                    bar.update()
                    if len(epoch_losses) % cfg.log_every == 0:  # reading a loss syncs with the GPU: not every step
                        bar.set_postfix(loss=f"{float(torch.stack(epoch_losses[-cfg.log_every:]).mean()):.4f}")
                    if max_steps is not None and len(losses) + len(epoch_losses) >= max_steps:
                        bar.close()
                        return losses + torch.stack(epoch_losses).float().cpu().tolist()
                bar.close()
                epoch_values = torch.stack(epoch_losses).float().cpu().tolist()
                losses += epoch_values
                elapsed = time.perf_counter() - epoch_start
                lr = self.optimizer.param_groups[0]["lr"]
                self.scheduler.step()
                self.state.epoch += 1
                row = {
                    "epoch": self.state.epoch, "step": self.state.step, "loss": float(np.mean(epoch_values)),
                    "lr": lr, "pairs_per_s": len(epoch_values) * cfg.batch_size * self.world / elapsed,
                    # A step "waited" when its batch was not ready: ~0.1 ms to take a prefetched one.
                    "data_wait": float(np.mean(np.array(waits) > 1e-3)),
                }
                last = self.state.epoch == cfg.epochs
                out_of_time = cfg.max_minutes > 0 and time.perf_counter() - started > cfg.max_minutes * 60
                if self.validator and (self.state.epoch % cfg.val_every == 0 or last or out_of_time):
                    row.update(self.validator(self.model))
                log.write(row)
                if self.state.epoch % cfg.checkpoint_every == 0 or last or out_of_time:
                    self.save()
                if out_of_time:
                    print(f"twintrack: max_minutes={cfg.max_minutes} reached after epoch {self.state.epoch}")
                    break
        if self.rank == 0:
            plot_training_curves(self.run_dir / "metrics.csv", self.run_dir / "curves.png")
        return losses

    def save(self) -> None:
        if self.rank != 0:
            return
        save_checkpoint(self.run_dir / CHECKPOINT, self.checkpoint_payload())
        save_weights(self.model, self.run_dir / WEIGHTS, arch="siamfc_vggm",
                     extra={"epoch": self.state.epoch, "step": self.state.step})
