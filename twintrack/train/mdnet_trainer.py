"""MDNet multi-domain training: shared fc4/fc5, one fc6 branch per training sequence (domain).

Each iteration takes 8 frames of one domain, one conv pass per frame over a search region around the target
(jittered, as tracking drift would place it), and RoIAlign-pooled features of 32 positives (IoU >= 0.7) and 96
negatives (IoU <= 0.5) in all. The conv layers start from the SiamFC-trained backbone and are frozen by default
(``conv_lr_mult: 0``) or fine-tuned at a lower learning rate.

An epoch is one cycle over the domains (py-MDNet's "cycle"): ``len(domains)`` iterations, each domain once, in a
seeded order. The run is ``iterations`` iterations (its last epoch may be partial). Epochs are the unit of the
schedule keys (``lr_schedule``, ``lr_step_epochs``, ``switch_epoch``) and of ``checkpoint_every``, as for SiamFC.

``average_from`` exports the mean of the shared layers' weights over the run's later iterations (stochastic weight
averaging, Izmailov et al., UAI 2018) instead of the last iteration's: 4,000 iterations over ~70 domains end
wherever the last few domains pulled the weights, and one training seed's val AUC differs from another's by up to
0.045 (docs/selection.md, session 12). The training itself is unchanged; only what is exported is averaged.
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


def instance_loss(positives: torch.Tensor, branches, domain_index: int) -> torch.Tensor:
    """RT-MDNet's instance embedding loss: softmax over domains of every branch's target logit on one domain's
    positive embeddings (N, 512), cross-entropy towards that domain.

    The classification loss only asks a branch to tell its target from that video's background; this one asks the
    shared fc4/fc5 to map different objects apart, so that the fresh branch of a new video can tell its target from
    a look-alike of another kind.
    """
    target_weights = torch.stack([branch.weight[1] for branch in branches])  # (K, 512)
    target_biases = torch.stack([branch.bias[1] for branch in branches])
    logits = positives @ target_weights.T + target_biases  # (N, K)
    labels = torch.full((len(positives),), domain_index, dtype=torch.long, device=positives.device)
    return F.cross_entropy(logits, labels)


class MDNetTrainer(Trainer):
    WEIGHTS = WEIGHTS
    ARCH = "mdnet_vggm"

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
        # average_from: the running mean of the shared layers (fc4, fc5; the conv layers where they learn) over the
        # iterations past average_start.
        self.average_start = int(config.average_from * config.iterations) if config.average_from > 0 else None
        self.average: dict[str, torch.Tensor] = {}

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
        head = model.head
        embedding = head.embed(model.pool(feature_map, rois))  # one embedding that every branch can score
        logits = head.branches[domain_index](embedding)
        labels = torch.cat([torch.ones(len(pos_rois)), torch.zeros(len(neg_rois))]).long().to(self.device)
        loss = F.cross_entropy(logits, labels)
        if self.config.instance_weight > 0:
            loss = loss + self.config.instance_weight * instance_loss(
                embedding[: len(pos_rois)], head.branches, domain_index)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.head.parameters(), 10.0)
        self.optimizer.step()
        self._add_to_average()
        return loss.detach()

    # ----------------------------------------------------------------------------------------- weight averaging
    def _shared_parameters(self) -> dict[str, torch.Tensor]:
        """The learnt parameters that tracking keeps (not the per-domain fc6 branches), by state-dict name."""
        return {name: p for name, p in self.model.named_parameters()
                if p.requires_grad and not name.startswith("head.branches.")}

    @property
    def average_count(self) -> int:
        """How many iterations the running mean holds: those run past average_start."""
        return 0 if self.average_start is None else max(0, self.step - self.average_start)

    def _add_to_average(self) -> None:
        """After an optimizer step: fold the weights into the running mean once the run is past average_start (the
        step being run is number self.step + 1, the mean's count after it that minus average_start)."""
        if self.average_start is None or self.step + 1 <= self.average_start:
            return
        count = self.step + 1 - self.average_start
        with torch.no_grad():
            for name, param in self._shared_parameters().items():
                if name not in self.average:
                    self.average[name] = param.detach().clone()
                else:
                    self.average[name] += (param.detach() - self.average[name]) / count

    def extra_state(self) -> dict:
        return {"average": dict(self.average)}

    def load_extra_state(self, payload: dict) -> None:
        # Checkpoints load onto the CPU; the running mean is updated against the parameters, on the training device.
        self.average = {name: value.to(self.device) for name, value in payload.get("average", {}).items()}

    def tracking_network(self) -> MDNet:
        return self.export()

    def export(self) -> MDNet:
        """The tracking network: shared layers and one branch (tracking replaces it with a fresh one per video)."""
        with torch.random.fork_rng(devices=[]):  # building a module draws init weights: keep training's RNG intact
            single = MDNet(num_branches=1, dropout=self.config.dropout)
        state = {k: v for k, v in self.model.state_dict().items() if not k.startswith("head.branches.")}
        state.update(self.average)  # average_from: the averaged shared layers (empty until the run is past its start)
        state.update({f"head.branches.0.{k}": v for k, v in self.model.head.branches[0].state_dict().items()})
        single.load_state_dict(state)
        return single
