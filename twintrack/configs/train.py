"""Training configs (values in train_siamfc.yaml and train_mdnet.yaml)."""

from __future__ import annotations

from dataclasses import dataclass



@dataclass(frozen=True)
class SiamFCTrainConfig:
    """siamfc-pytorch's recipe: SGD with momentum and exponential LR decay, balanced logistic loss."""

    exemplar_size: int
    # Search crop used in training; the network is fully convolutional, so tracking can use 255.
    search_size: int
    context: float
    total_stride: int
    # Label map: cells within r_pos pixels (in search-crop pixels) of the centre are positives.
    r_pos: float
    r_neg: float
    epochs: int
    pairs_per_epoch: int
    batch_size: int
    max_frame_gap: int
    optimizer: str  # see twintrack.train.optim.OPTIMIZERS
    lr: float
    lr_final: float
    lr_schedule: str  # exponential | step | cosine | constant (per epoch)
    lr_step_epochs: int  # step: multiply by lr_step_gamma every this many epochs
    lr_step_gamma: float
    switch_epoch: int  # adam_then_sgd: Adam for this many epochs, then SGD with momentum
    sgd_lr: float  # adam_then_sgd: SGD rate at the switch; 0 = the SWATS projection estimate
    # Per-layer learning-rate multipliers (group lr = lr x mult; 0 keeps a layer where init put it).
    conv1_lr_mult: float
    conv2_lr_mult: float
    conv3_lr_mult: float
    head_lr_mult: float
    momentum: float
    weight_decay: float
    init: str  # kaiming | xavier (backbone conv layers)
    # Augmentation (siamfc-pytorch): stretch, shift, plus colour / grayscale / flip.
    stretch: float
    max_shift: int
    color_jitter: float
    gray_prob: float
    flip_prob: float
    # Sequence pairs vs still-image pairs: a still image set is drawn with this probability (if given).
    image_pair_prob: float
    # DaSiamRPN's negative pairs: the search crop comes from another sequence (or still set), every cell a
    # negative, so the network learns that "an object" is not "this object".
    negative_pair_prob: float
    # Motion blur of the search crop (a line kernel of random length and angle), as in fast motion.
    motion_blur_prob: float
    motion_blur_max: int  # longest blur kernel, pixels (>= 3)
    # Distillation (train/teacher.py): NanoTrack v2's score map on each positive pair, mixed into the labels with
    # this weight; the teacher's two ONNX files (or their folder; "" reads $TWINTRACK_NANOTRACK) are read only here.
    distill_weight: float
    distill_teacher: str
    # BatchNorm in eval mode while training (pysot's fine-tuning): its running statistics stay those of the
    # starting weights; its scale and shift still learn.
    freeze_bn: bool
    autocast_bf16: bool
    num_threads: int
    seed: int
    checkpoint_every: int
    log_every: int
    # Loading: DataLoader worker processes (0: pairs are cut in the training process), pinned memory on CUDA.
    workers: int
    # Validation: track the sequences of this folder every val_every epochs (0: never) and log AUC/precision.
    val_data: str
    val_every: int
    # Stop (and save) after the first epoch that ends past this many minutes (0: no limit).
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
    region_jitter: float  # region centre moved by up to this fraction of the target side (tracking drift)
    iterations: int
    optimizer: str  # see twintrack.train.optim.OPTIMIZERS
    lr: float
    # An epoch is one cycle over the domains (train/mdnet_trainer.py): the schedule keys and checkpoint_every
    # count epochs, iterations is the run's length.
    lr_schedule: str  # exponential | step | cosine | constant
    lr_final: float  # exponential / cosine: the rate after the last epoch
    lr_step_epochs: int  # step: epochs between drops
    lr_step_gamma: float
    switch_epoch: int  # adam_then_sgd: Adam for this many epochs, then SGD with momentum
    sgd_lr: float  # adam_then_sgd: SGD rate at the switch; 0 = the SWATS projection estimate
    conv_lr_mult: float  # 0 freezes the SiamFC-trained conv layers (the transfer-learning choice)
    fc6_lr_mult: float
    momentum: float
    weight_decay: float
    dropout: float
    init: str  # kaiming | xavier (fc4 / fc5; fc6 branches always start at N(0, 0.01))
    # RT-MDNet's instance embedding loss: a domain's positives must score higher on its own branch than on any
    # other domain's, weighted by this against the classification loss (0: off; RT-MDNet 0.1).
    instance_weight: float
    # Stochastic weight averaging (Izmailov et al. 2018): the exported shared layers are the mean of their values
    # after every iteration past this fraction of the run, not the last iteration's (0: off, the last iteration's).
    average_from: float
    autocast_bf16: bool
    seed: int
    checkpoint_every: int
    log_every: int
    # Validation: track the sequences of this folder every val_every epochs (0: never) and log AUC/precision.
    val_data: str
    val_every: int
    # Stop (and save) after the first epoch that ends past this many minutes (0: no limit).
    max_minutes: float
