"""The SiamFC training loop: pairs -> balanced logistic loss -> optimizer, with checkpoints and resume."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from twintrack.configs import SiamFCTrainConfig, config_to_dict
from twintrack.models import SiamFCNet, init_weights
from twintrack.train.checkpoint import load_for_resume, restore_rng, rng_state, save_checkpoint
from twintrack.train.datasets import Sequence
from twintrack.train.losses import balanced_logistic_loss
from twintrack.train.optim import build_optimizer, exponential_gamma
from twintrack.train.pairs import PairSampler
from twintrack.weights import save_weights

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "siamfc_vggm.safetensors"


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed


class SiamFCTrainer:
    def __init__(self, config: SiamFCTrainConfig, sequences: list[Sequence], run_dir: str | Path, device):
        self.config = config
        self.device = device
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.sampler = PairSampler(sequences, config)
        torch.manual_seed(config.seed)
        self.model = SiamFCNet()
        init_weights(self.model.backbone, config.init)
        self.model.to(device)
        self.optimizer = build_optimizer(
            config.optimizer, self.model.parameters(), config.lr, config.momentum, config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(
            self.optimizer, exponential_gamma(config.lr, config.lr_final, config.epochs)
        )
        self.rng = np.random.default_rng(config.seed)
        self.state = TrainState()

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
        self.model.train()
        use_bf16 = self.config.autocast_bf16
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = self.model(exemplars.to(self.device), searches.to(self.device))
        loss = balanced_logistic_loss(logits, labels.to(self.device), weights.to(self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.state.step += 1
        return float(loss.detach())

    def fit(self, max_steps: int | None = None, progress: bool = True) -> list[float]:
        """Train until ``config.epochs`` (or ``max_steps`` more steps); returns the per-step losses."""
        # Written here, not in __init__: a refused --resume must leave the run's config as it was.
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(self.config), sort_keys=False))
        cfg = self.config
        steps_per_epoch = max(1, cfg.pairs_per_epoch // cfg.batch_size)
        losses: list[float] = []
        metrics_path = self.run_dir / "metrics.csv"
        new_file = not metrics_path.exists()
        with open(metrics_path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(["epoch", "step", "loss", "lr", "pairs_per_s"])
            while self.state.epoch < cfg.epochs:
                bar = tqdm(
                    range(steps_per_epoch),
                    desc=f"epoch {self.state.epoch + 1}/{cfg.epochs}",
                    disable=not progress,
                    dynamic_ncols=True,
                )
                epoch_losses = []
                start = time.perf_counter()
                for _ in bar:
                    batch = self.next_batch()
                    loss = self.train_step(*batch)
                    losses.append(loss)
                    epoch_losses.append(loss)
                    bar.set_postfix(loss=f"{np.mean(epoch_losses[-cfg.log_every:]):.4f}")
                    if max_steps is not None and len(losses) >= max_steps:
                        return losses
                elapsed = time.perf_counter() - start
                lr = self.optimizer.param_groups[0]["lr"]
                self.scheduler.step()
                self.state.epoch += 1
                pairs_per_s = steps_per_epoch * cfg.batch_size / elapsed
                writer.writerow([self.state.epoch, self.state.step, f"{np.mean(epoch_losses):.5f}", lr,
                                 f"{pairs_per_s:.2f}"])
                handle.flush()
                if self.state.epoch % cfg.checkpoint_every == 0 or self.state.epoch == cfg.epochs:
                    self.save()
        return losses

    def save(self) -> None:
        save_checkpoint(self.run_dir / CHECKPOINT, self.checkpoint_payload())
        save_weights(self.model, self.run_dir / WEIGHTS, arch="siamfc_vggm",
                     extra={"epoch": self.state.epoch, "step": self.state.step})
