"""SiamFC training: pairs -> balanced logistic loss -> optimizer, in the shared loop of ``trainer.Trainer``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from twintrack.configs import SiamFCTrainConfig
from twintrack.data.sequences import Sequence
from twintrack.models import SiamFCNet
from twintrack.models import init_weights as init_backbone
from twintrack.train.loader import make_loader
from twintrack.train.losses import balanced_logistic_loss
from twintrack.train.optim import build_optimization, check_train_config, lr_groups
from twintrack.train.pairs import PairSampler
from twintrack.train.trainer import CHECKPOINT, Trainer, TrainState  # noqa: F401 (CHECKPOINT, TrainState: API)
from twintrack.weights import load_weights

WEIGHTS = "siamfc_vggm.safetensors"


class SiamFCTrainer(Trainer):
    """An epoch is ``pairs_per_epoch`` pairs (split across torchrun processes); the run is ``epochs`` epochs."""

    WEIGHTS = WEIGHTS
    ARCH = "siamfc_vggm"

    def __init__(self, config: SiamFCTrainConfig, sequences: list[Sequence], run_dir: str | Path, device,
                 validator=None, init_weights=None):
        """``validator(net) -> {"val_auc": ..., "val_prec": ...}`` runs every ``val_every`` epochs (see
        ``twintrack.app.validate.TrackingValidator``); needed when the config asks for validation.
        ``init_weights``: SiamFC weights to start from (fine-tuning) instead of the ``init`` scheme."""
        check_train_config(config)
        super().__init__(config, run_dir, device, validator)
        self.sampler = PairSampler(sequences, config)
        torch.manual_seed(config.seed)
        self.model = SiamFCNet()
        if init_weights is None:
            init_backbone(self.model.backbone, config.init)
        else:
            load_weights(self.model, init_weights, arch=self.ARCH)
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
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        # Under torchrun every process trains a replica on its shard of each epoch; gradients are all-reduced.
        if self.world > 1:
            self.net = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
        else:
            self.net = self.model
        self.samples_per_step = config.batch_size
        self._loader = None

    @property
    def steps_per_epoch(self) -> int:
        return self.config.pairs_per_epoch // (self.config.batch_size * self.world)

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    def epoch_batches(self, epoch: int, skip: int):
        cfg = self.config
        if self._loader is None:  # built once: its worker processes persist across epochs
            self._loader, self._shard = make_loader(self.sampler, cfg.seed, cfg.pairs_per_epoch, cfg.batch_size,
                                                    cfg.workers, pin_memory=self.device.type == "cuda",
                                                    rank=self.rank, world=self.world)
        # Pairs are seeded by their index in the run, so skipping the first batches of an epoch is exact.
        self._shard.set_epoch(epoch, skip_pairs=skip * cfg.batch_size * self.world)
        return self._loader

    def next_batch(self):
        """The arguments of one ``train_step``: a batch of augmented pairs."""
        return self.sampler.batch(self.rng, self.config.batch_size)

    def step_loss(self, exemplars, searches, labels, weights) -> torch.Tensor:
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
        return loss.detach()
