"""MDNet multi-domain training: shared fc4/fc5, one fc6 branch per training sequence (domain).

Each iteration takes 8 frames of one domain, one conv pass per frame over a search region around the target
(jittered, as tracking drift would place it), and RoIAlign-pooled features of 32 positives (IoU >= 0.7) and 96
negatives (IoU <= 0.5) in all. The conv layers start from the SiamFC-trained backbone and are frozen by default
(``conv_lr_mult: 0``) or fine-tuned at a lower learning rate.

An epoch is one cycle over the domains (py-MDNet's "cycle"): ``len(domains)`` iterations, each domain once, in a
seeded order. The run is ``iterations`` iterations (its last epoch may be partial). Epochs are the unit of the
schedule keys (``lr_schedule``, ``lr_step_epochs``, ``switch_epoch``) and of ``checkpoint_every``, as for SiamFC.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from twintrack.configs import MDNetTrainConfig
from twintrack.errors import UserError
from twintrack.geometry import crop_and_resize, jitter_boxes, sample_by_iou, uniform_boxes, xywh_to_cxcywh
from twintrack.models import SiamFCNet
from twintrack.models.mdnet import MDNet
from twintrack.data.images import read_image
from twintrack.data.sequences import Sequence
from twintrack.train.optim import build_optimization, check_train_config, lr_groups
from twintrack.train.trainer import CHECKPOINT, Trainer  # noqa: F401 (CHECKPOINT: API)
from twintrack.weights import load_weights

WEIGHTS = "mdnet_vggm.safetensors"


def group_domains(sequences: list[Sequence]) -> list[list[Sequence]]:
    """One domain per video; the boxes of one still-image set (``set/index`` names) form one domain together."""
    videos = [[s] for s in sequences if not s.still]
    stills: dict[str, list[Sequence]] = defaultdict(list)
    for s in sequences:
        if s.still:
            stills[s.name.split("/")[0]].append(s)
    return videos + list(stills.values())


def init_head(head, scheme: str = "kaiming") -> None:
    """fc4/fc5: Kaiming (fan-in, ReLU) so that unit-RMS pooled features keep their scale through the ReLUs, or
    Xavier (uniform) when asked; fc6 branches: py-MDNet's N(0, 0.01), so the first logits are ~0 and the loss
    starts at ln 2. (py-MDNet's N(0, 0.01) on every layer shrinks the signal ~15x per layer here, and 60 steps did
    not move the loss.)"""
    for module in (head.fc4, head.fc5):
        for layer in module:
            if isinstance(layer, torch.nn.Linear) and scheme == "xavier":
                torch.nn.init.xavier_uniform_(layer.weight)
                torch.nn.init.zeros_(layer.bias)
            elif isinstance(layer, torch.nn.Linear):
                torch.nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
                torch.nn.init.zeros_(layer.bias)
    for branch in head.branches:
        torch.nn.init.normal_(branch.weight, std=0.01)
        torch.nn.init.zeros_(branch.bias)


class MDNetTrainer(Trainer):
    WEIGHTS = WEIGHTS
    ARCH = "mdnet_vggm"
    progress_per_epoch = False  # an epoch is one cycle over the domains, a few iterations: one bar for the run

    def __init__(self, config: MDNetTrainConfig, sequences: list[Sequence], run_dir, device, validator=None,
                 init_weights=None) -> None:
        """``init_weights``: SiamFC weights whose conv layers start MDNet (None: random conv layers)."""
        check_train_config(config)
        super().__init__(config, run_dir, device, validator)
        self.domains = group_domains(sequences)
        if not self.domains:
            raise UserError("no training sequences for MDNet")
        torch.manual_seed(config.seed)
        self.model = MDNet(num_branches=len(self.domains), dropout=config.dropout)
        init_head(self.model.head, config.init)
        if init_weights is not None:
            siamfc = SiamFCNet()
            load_weights(siamfc, init_weights, arch="siamfc_vggm")
            self.model.backbone.load_state_dict(siamfc.backbone.state_dict())
        self.freeze_conv = config.conv_lr_mult == 0
        for p in self.model.backbone.parameters():
            p.requires_grad_(not self.freeze_conv)
        self.model.to(device)
        head = self.model.head
        # A frozen backbone has no trainable parameters: lr_groups drops its empty group.
        groups = lr_groups(config.lr, [
            (list(head.fc4.parameters()) + list(head.fc5.parameters()), 1.0),
            (head.branches.parameters(), config.fc6_lr_mult),
            (self.model.backbone.parameters(), config.conv_lr_mult),
        ])
        self.steps_per_epoch = len(self.domains)
        self.total_steps = config.iterations
        self.samples_per_step = config.frames_per_iter
        self.optimizer, self.scheduler = build_optimization(config, groups, self.epochs)
        self.rng = np.random.default_rng(config.seed)

    # ------------------------------------------------------------------------------------------------- samples
    def _frame_samples(self, sequence: Sequence, index: int):
        """One region crop around a frame's target, with positive and negative boxes in region pixels."""
        cfg = self.config
        image = read_image(sequence.frames[index])
        box = sequence.boxes[index]
        frame_wh = (image.shape[1], image.shape[0])
        cx, cy, w, h = xywh_to_cxcywh(box)
        mean_side = np.sqrt(w * h)
        centre = np.array([cx, cy]) + self.rng.uniform(-1, 1, 2) * cfg.region_jitter * mean_side
        scale = cfg.target_pixels / mean_side * 1.1 ** self.rng.uniform(-1, 1)
        side = cfg.region_size / scale
        crop = crop_and_resize(image, centre, side, cfg.region_size)
        n_pos = cfg.batch_pos // cfg.frames_per_iter
        n_neg = cfg.batch_neg // cfg.frames_per_iter
        pos = sample_by_iou(self.rng, jitter_boxes, box, n_pos, (cfg.pos_iou_min, 1.0), translate=0.1, scale=1.0,
                            frame_wh=frame_wh)
        neg = np.concatenate([
            sample_by_iou(self.rng, uniform_boxes, box, n_neg - n_neg // 2, (0.0, cfg.neg_iou_max), translate=1.0,
                          scale=5.0, frame_wh=frame_wh),
            sample_by_iou(self.rng, jitter_boxes, box, n_neg // 2, (0.0, cfg.neg_iou_max), translate=1.0,
                          scale=5.0, frame_wh=frame_wh),
        ])
        origin = centre - side / 2

        def to_region(boxes):
            x1y1 = (boxes[:, :2] - origin) * scale
            return np.concatenate([x1y1, x1y1 + boxes[:, 2:] * scale], axis=1)

        return crop, to_region(pos), to_region(neg)

    def batch(self, domain_index: int):
        cfg = self.config
        domain = self.domains[domain_index]
        crops, pos_rois, neg_rois = [], [], []
        for i in range(cfg.frames_per_iter):
            sequence = domain[self.rng.integers(len(domain))]
            crop, pos, neg = self._frame_samples(sequence, int(self.rng.integers(len(sequence))))
            crops.append(crop)
            pos_rois.append(np.concatenate([np.full((len(pos), 1), i), pos], axis=1))
            neg_rois.append(np.concatenate([np.full((len(neg), 1), i), neg], axis=1))
        images = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
        return (images, torch.from_numpy(np.concatenate(pos_rois)).float(),
                torch.from_numpy(np.concatenate(neg_rois)).float())

    def next_batch(self):
        """The arguments of one ``train_step``: the next domain in the seeded order and its samples."""
        # The domain order depends on the seed only, so a resumed run visits the same domains as an uninterrupted one.
        order = np.random.default_rng(self.config.seed).permutation(len(self.domains))
        domain_index = int(order[self.step % len(order)])
        return (domain_index, *self.batch(domain_index))

    def epoch_batches(self, epoch: int, skip: int):
        # next_batch() reads the step count, which the loop advances after each step: one batch at a time.
        return (self.next_batch() for _ in range(self.steps_per_epoch - skip))

    # ------------------------------------------------------------------------------------------------ training
    def step_loss(self, domain_index: int, images, pos_rois, neg_rois) -> torch.Tensor:
        model = self.model
        model.head.train()
        # BatchNorm keeps the SiamFC-trained statistics even when the conv weights learn: 8 regions per step are
        # too few for batch statistics, and the tracker folds the running ones into the convs.
        model.backbone.eval()
        with torch.set_grad_enabled(not self.freeze_conv), torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.config.autocast_bf16
        ):
            feature_map = model.features(images.to(self.device))
        feature_map = feature_map.float()
        rois = torch.cat([pos_rois, neg_rois]).to(self.device)
        logits = model.classify(model.pool(feature_map, rois), domain_index)
        labels = torch.cat([torch.ones(len(pos_rois)), torch.zeros(len(neg_rois))]).long().to(self.device)
        loss = F.cross_entropy(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.head.parameters(), 10.0)
        self.optimizer.step()
        return loss.detach()

    def tracking_network(self) -> MDNet:
        return self.export()

    def export(self) -> MDNet:
        """The tracking network: shared layers and one branch (tracking replaces it with a fresh one per video)."""
        with torch.random.fork_rng(devices=[]):  # building a module draws init weights: keep training's RNG intact
            single = MDNet(num_branches=1, dropout=self.config.dropout)
        state = {k: v for k, v in self.model.state_dict().items() if not k.startswith("head.branches.")}
        state.update({f"head.branches.0.{k}": v for k, v in self.model.head.branches[0].state_dict().items()})
        single.load_state_dict(state)
        return single
