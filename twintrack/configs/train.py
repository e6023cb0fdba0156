"""Training configs (values and each key's meaning in train_siamfc.yaml and train_mdnet.yaml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SiamFCTrainConfig:
    """siamfc-pytorch's recipe: SGD with momentum and exponential LR decay, balanced logistic loss."""

    exemplar_size: int
    search_size: int
    context: float
    r_pos: float
    r_neg: float
    epochs: int
    pairs_per_epoch: int
    batch_size: int
    max_frame_gap: int
    optimizer: str
    lr: float
    lr_final: float
    lr_schedule: str
    lr_step_epochs: int
    lr_step_gamma: float
    switch_epoch: int
    sgd_lr: float
    conv1_lr_mult: float
    conv2_lr_mult: float
    conv3_lr_mult: float
    head_lr_mult: float
    momentum: float
    weight_decay: float
    init: str
    stretch: float
    max_shift: int
    color_jitter: float
    gray_prob: float
    flip_prob: float
    image_pair_prob: float
    autocast_bf16: bool
    num_threads: int
    seed: int
    checkpoint_every: int
    log_every: int
    workers: int
    val_data: str
    val_every: int
    max_minutes: float


@dataclass(frozen=True)
class MDNetTrainConfig:
    """Multi-domain training: one fc6 branch per sequence; py-MDNet's sampling (8 frames, 32 pos / 96 neg)."""

    region_size: int
    target_pixels: float
    frames_per_iter: int
    batch_pos: int
    batch_neg: int
    pos_iou_min: float
    neg_iou_max: float
    region_jitter: float
    iterations: int
    optimizer: str
    lr: float
    lr_schedule: str
    lr_final: float
    lr_step_epochs: int
    lr_step_gamma: float
    switch_epoch: int
    sgd_lr: float
    conv_lr_mult: float
    fc6_lr_mult: float
    momentum: float
    weight_decay: float
    dropout: float
    init: str
    autocast_bf16: bool
    seed: int
    checkpoint_every: int
    log_every: int
    val_data: str
    val_every: int
    max_minutes: float
