"""Configs are data: frozen dataclasses loaded from YAML presets, then ``key=value`` overrides.

Every load returns a fresh object, so two trackers with different configs live side by side in one process.
Unknown keys are an error that names the valid ones.

The YAML presets are the only defaults: the dataclasses below declare each key's type and meaning but no value
(tests/test_config_defaults.py keeps it so). Adding a key is two lines: the field here, its value in the preset.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import MISSING, dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from twintrack.errors import UserError


@dataclass(frozen=True)
class SiamFCConfig:
    """SiamFC-3s inference (Bertinetto et al. 2016); the preset's values are the paper's, plus MDNet's box regression on
    SiamFC's features (use_bbreg, on since session 14)."""

    exemplar_size: int
    search_size: int
    context: float
    scale_num: int
    scale_step: float
    scale_penalty: float
    scale_lr: float
    window_influence: float
    response_up: int
    total_stride: int
    # Smallest target side kept by the scale update, as a fraction of the initial size (guards against collapse).
    min_scale: float
    max_scale: float
    # Smallest exemplar region side in frame pixels (0: the paper's context only). Tiny targets (drone footage)
    # otherwise get a search region of a few dozen pixels, smaller than their motion between frames.
    min_exemplar_side: float
    # Inference speed-ups: fold BatchNorm into conv weights, channels_last memory layout.
    fold_bn: bool
    channels_last: bool
    # Backbone precision (twintrack/runtime, docs/runtime.md): auto | fp32 | bf16 | int8. auto: int8 (ONNX Runtime,
    # calibrated model) on CPUs with VNNI/AMX, else bf16 where the CPU has native bf16, else fp32; GPUs fp32.
    precision: str
    # An int8 model calibrated for your own weights (twintrack export --int8); "" = the shipped calibration.
    int8_model: str
    # pyramid: one search crop per frame against exemplars at scale_num scales; search3: the paper's scale_num
    # search crops per frame (scale_num backbone passes). See tracker/siamfc.py.
    scale_mode: str
    # search3: estimate the scale (scale_num crops) on every N-th frame only; the frames between search the
    # middle scale alone (one crop). 1 = every frame (the paper).
    scale_interval: int
    # pyramid: compare exemplar scales by their peaks relative to each one's peak on the first frame (zoomed).
    pyramid_norm: bool
    # Lost-target score = sigmoid(score_bias + score_peak * peak logit + score_ratio * peak correlation relative
    # to the first frame's + score_psr * peak-to-sidelobe ratio); fitted on training sequences by
    # bench/siamfc_lost.py for the shipped weights. Below 0.5 the tracker reports the target lost.
    score_bias: float
    score_peak: float
    score_ratio: float
    score_psr: float
    # While lost: hold_size keeps the size and follows the peak; hold_box keeps the whole box where it was.
    while_lost: str
    # Inference-time options (issue 11), all off in the preset; tracker/siamfc.py checks their ranges.
    # Distractor-aware response (DaSiamRPN, Zhu et al. 2018): subtract distractor_weight x the weighted mean
    # correlation of look-alike peaks (local maxima above distractor_threshold x the target's peak, outside the
    # target), remembered with rate distractor_lr, at most distractor_max per frame. 0 = off.
    distractor_weight: float
    distractor_threshold: float
    distractor_lr: float
    distractor_max: int
    # Gated template update: z_t = (1 - template_lr) z_{t-1} + template_lr x features at the peak, on frames whose
    # score >= template_min_score; the located response is (1 - template_weight) x first frame's + template_weight
    # x z_t's. template_lr 0 = off.
    template_lr: float
    template_weight: float
    template_min_score: float
    # While lost, the next search region is lost_search_scale x larger at the same crop size (coarser), matched
    # against a first-frame exemplar zoomed out by the same factor; lost_window_influence (-1 = window_influence)
    # there. 1 = off. lost_search_mode: wide = the wider region instead of the normal one; both = both regions
    # (two backbone passes while lost), the wider one taken only where it finds the target and the normal does not.
    lost_search_scale: float
    lost_window_influence: float
    lost_search_mode: str
    # both: the wider region's score needed to take it (its exemplar is zoomed out; the score was fitted at 1x).
    lost_wide_min_score: float
    # Staple's colour cue (tracker/color_prior.py): the located response gains color_weight x its range x the mean
    # foreground probability of a target-sized box at each cell; the colour model follows confident frames at
    # color_lr (0: the first frame's only). color_weight 0 = off.
    color_weight: float
    color_lr: float
    color_max_score: float  # the cue only on frames whose lost-target score is below this (1: every frame)
    # The colour model's background: surroundings (Staple: all of the search region around the target) or
    # lookalikes (DAT: the boxes of look-alike peaks, found as distractor_cells; the cue is off until one is seen).
    color_background: str
    # lookalikes: learn the look-alikes' colours only on frames whose lost-target score is at least this (0.5: every
    # located frame); a frame located on the wrong object teaches the returning target as a look-alike.
    color_learn_min_score: float
    # The target's colours: box (every pixel of the box) or contrast (each pixel weighted by its colour's foreground
    # probability against the surroundings, so a loose box's background counts little; tracker/color_prior.py).
    color_foreground: str
    # A constant-velocity motion model: the next search region is centred at the box's centre plus a velocity, each
    # located frame's displacement blended into it at motion_lr (reset while lost). 0 = off (the paper: the search
    # is centred on the last box).
    motion_lr: float
    # MDNet's bounding-box regression on SiamFC's own features (tracker/siamfc.py): a ridge regression from the
    # RoIAlign-pooled search features of a box to the target's box, fitted on n_bbreg boxes of the first frame
    # (IoU >= bbreg_iou_min, sizes 1.05 ** U(-bbreg_scale, bbreg_scale), aspect ** U(-1, 1) per side), refines the
    # reported box on located frames; the tracked box (centre, scale) is SiamFC's. false = the paper.
    use_bbreg: bool
    n_bbreg: int
    bbreg_iou_min: float
    bbreg_lambda: float
    bbreg_scale: float
    bbreg_aspect: float
    # The tracked size follows the regressed box's at this rate per located frame (log size, per side); 0 = the
    # regression refines the reported box only.
    bbreg_size_lr: float
    # The regression applied this many times per frame, each step from the last step's box and its own features
    # (iterative refinement: a ridge shrinks large corrections); 1 = once.
    bbreg_steps: int
    # A regression fitted offline across training videos (bench/fit_box_regressor.py; "" = none): the first-frame
    # ridge pulls towards it instead of towards zero.
    bbreg_prior: str
    # The size follows the search scales' change only on frames whose lost-target score is at least this (an
    # occluder's part or a look-alike beside the target makes another scale peak higher); 0.5 = every located frame.
    scale_min_score: float
    # DSST's scale filter (tracker/scale_filter.py) sets the size on located frames instead of the search scales'
    # smoothed factor (which still locate the centre): a 1-D correlation filter over scale_filter_num scales
    # scale_filter_step apart, HOG of the target's box, learnt at scale_filter_lr. false = the paper.
    scale_filter: bool
    scale_filter_num: int
    scale_filter_step: float
    scale_filter_lr: float

    def __post_init__(self) -> None:
        if self.scale_mode not in ("pyramid", "search3"):
            raise UserError(f"config key 'scale_mode' needs pyramid or search3 (got {self.scale_mode!r})")
        if not isinstance(self.scale_interval, int) or self.scale_interval < 1:
            raise UserError(f"config key 'scale_interval' needs a whole number >= 1 (got {self.scale_interval!r})")
        if self.color_background not in ("surroundings", "lookalikes"):
            raise UserError(f"config key 'color_background' needs surroundings or lookalikes (got "
                            f"{self.color_background!r})")
        if self.color_foreground not in ("box", "contrast"):
            raise UserError(f"config key 'color_foreground' needs box or contrast (got {self.color_foreground!r})")
        if self.while_lost not in ("hold_size", "hold_box"):
            raise UserError(f"config key 'while_lost' needs hold_size or hold_box (got {self.while_lost!r})")
        # The inference-time options' ranges (tracker/siamfc.py, issue 11).
        checks = {
            "distractor_weight": self.distractor_weight >= 0,
            "distractor_threshold": 0 < self.distractor_threshold <= 1,
            "distractor_lr": 0 < self.distractor_lr <= 1,
            "distractor_max": self.distractor_max >= 1,
            "template_lr": 0 <= self.template_lr <= 1,
            "template_weight": 0 < self.template_weight <= 1,
            "template_min_score": 0 <= self.template_min_score <= 1,
            "lost_search_scale": self.lost_search_scale >= 1,
            "lost_window_influence": self.lost_window_influence == -1 or 0 <= self.lost_window_influence <= 1,
            "lost_search_mode": self.lost_search_mode in ("wide", "both"),
            "lost_wide_min_score": 0.5 <= self.lost_wide_min_score <= 1,
            "color_weight": self.color_weight >= 0,
            "color_lr": 0 <= self.color_lr <= 1,
            "color_max_score": 0 < self.color_max_score <= 1,
            "color_learn_min_score": 0.5 <= self.color_learn_min_score <= 1,
            "motion_lr": 0 <= self.motion_lr <= 1,
            "n_bbreg": self.n_bbreg >= 10,
            "bbreg_iou_min": 0 < self.bbreg_iou_min < 1,
            "bbreg_lambda": self.bbreg_lambda > 0,
            "bbreg_scale": self.bbreg_scale >= 0,
            "bbreg_aspect": self.bbreg_aspect >= 1,
            "bbreg_size_lr": 0 <= self.bbreg_size_lr <= 1,
            "bbreg_steps": self.bbreg_steps >= 1,
            "scale_min_score": 0.5 <= self.scale_min_score <= 1,
            "scale_filter_num": self.scale_filter_num >= 3,
            "scale_filter_step": self.scale_filter_step > 1,
            "scale_filter_lr": 0 < self.scale_filter_lr <= 1,
        }
        ranges = {"distractor_weight": ">= 0", "distractor_threshold": "in (0, 1]", "distractor_lr": "in (0, 1]",
                  "distractor_max": ">= 1", "template_lr": "in [0, 1]", "template_weight": "in (0, 1]",
                  "template_min_score": "in [0, 1]", "lost_search_scale": ">= 1",
                  "lost_window_influence": "-1 (= window_influence) or in [0, 1]", "lost_search_mode": "wide or both",
                  "lost_wide_min_score": "in [0.5, 1]", "color_weight": ">= 0", "color_lr": "in [0, 1]",
                  "color_max_score": "in (0, 1]", "color_learn_min_score": "in [0.5, 1]", "motion_lr": "in [0, 1]",
                  "n_bbreg": ">= 10", "bbreg_iou_min": "in (0, 1)", "bbreg_lambda": "> 0", "bbreg_scale": ">= 0",
                  "bbreg_aspect": ">= 1", "bbreg_size_lr": "in [0, 1]", "bbreg_steps": ">= 1",
                  "scale_min_score": "in [0.5, 1]", "scale_filter_num": ">= 3", "scale_filter_step": "> 1",
                  "scale_filter_lr": "in (0, 1]"}
        for key, ok in checks.items():
            if not ok:
                raise UserError(f"config key '{key}' needs a value {ranges[key]} (got {getattr(self, key)!r})")


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
class MDNetConfig:
    """MDNet online tracking; values from py-MDNet's options (tracking/options.yaml) unless noted."""

    feature_path: str  # roi: one conv pass + RoIAlign (RT-MDNet); crop: a 107x107 crop per box (MDNet)
    region_size: int  # search-region side (pixels) for the single conv pass
    target_pixels: float  # the target's mean side in the search region (sets the region's scale)
    crop_size: int  # per-crop path input size
    crop_padding: float  # per-crop path context, in pixels of the 107 crop (py-MDNet's padding)
    # First-frame fine-tuning.
    n_pos_init: int
    n_neg_init: int
    pos_iou_init_min: float
    neg_iou_init_max: float
    maxiter_init: int
    lr_init: float
    # Online updates.
    n_pos_update: int
    n_neg_update: int
    pos_iou_update_min: float
    neg_iou_update_max: float
    maxiter_update: int
    lr_update: float
    long_interval: int
    n_frames_long: int
    n_frames_short: int
    # Mini-batches and hard negative mining.
    batch_pos: int
    batch_neg: int
    batch_neg_cand: int
    fc6_lr_mult: float
    online_fc4: bool  # py-MDNet also tunes fc4 online; fixing it lets us cache its outputs (9x cheaper)
    momentum: float
    weight_decay: float
    # Candidates.
    n_samples: int
    trans: float
    scale: float
    trans_limit: float
    trans_neg_init: float
    trans_neg: float
    scale_neg: float
    pos_scale: float
    top_k: int
    size_lr: float  # the box's size follows the top-k mean's at this rate per frame (1: MDNet; SiamFC's scale_lr)
    motion_lr: float  # candidates and region around the last box moved by a velocity learnt at this rate (0: MDNet)
    # On a failed frame: move (MDNet: the top-k mean), hold_size (its centre, the last size), hold_box, or coast (the
    # last box moved on at the successful frames' velocity).
    failure_box: str
    template_weight: float
    # DAT's colour model (tracker/color_prior.py, LookalikeColorModel): candidates ranked by MDNet's score + this x the
    # scores' range x the mean probability that a target-sized box's pixels have the target's colours rather than
    # the look-alikes' (candidates scored above 0 off the target on found frames). 0 = off.
    color_weight: float
    color_foreground: str  # the target's colours: box or contrast, as SiamFC's key of the same name
    # Bounding-box regression.
    use_bbreg: bool
    n_bbreg: int
    bbreg_iou_min: float
    bbreg_lambda: float
    bbreg_feedback: bool
    bbreg_scale: float
    bbreg_aspect: float
    # A regression fitted offline across training videos that the first-frame ridge pulls towards (SiamFC's key of
    # the same name; auto: the shipped SiamFC one where MDNet's conv layers are that backbone and feature_path is
    # roi; "" = none).
    bbreg_prior: str
    dropout: float
    # Robustness (ours): learn only from frames scoring above update_min_score; keep the first frame's positives
    # in every update; learn up to lookalike_negatives high-scoring off-target candidates per frame as negatives;
    # after a failure, a redetect_region conv pass (0: off) and redetect_samples candidates at the SiamFC template's
    # peak; template_samples such candidates on every frame.
    update_min_score: float
    update_min_template: float  # learn from a frame only where SiamFC's first-frame template responds this much
    # After a failure, a frame counts as found only where the template responds this much at the new box too
    # (0: off): a look-alike the box settled on while the target was hidden is not taken for the target.
    recover_min_template: float
    keep_first_pos: bool
    lookalike_negatives: int
    redetect_region: int
    redetect_samples: int
    template_samples: int
    # Calibrated score: sigmoid(score_scale * fc6 score + score_shift); below 0.5 the target is reported lost.
    score_scale: float
    score_shift: float
    # Conv pass precision (twintrack/runtime, docs/runtime.md): auto | fp32 | bf16 | int8, as for SiamFC; fc4 runs
    # in bf16 when the conv pass does, or with int8 on CPUs with native bf16.
    precision: str
    int8_model: str  # an int8 model calibrated for your own weights; "" = the shipped calibration
    # fc4 as an int8 product (fbgemm): true, false, or auto (on x86 CPUs).
    fc4_int8: bool | str

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "fp32", "bf16", "int8"):
            raise UserError(f"config key 'precision' needs auto, fp32, bf16 or int8 (got {self.precision!r})")
        for key in ("fc4_int8",):
            value = getattr(self, key)
            if not (isinstance(value, bool) or value == "auto"):
                raise UserError(f"config key '{key}' needs true, false or auto (got {value!r})")
        if not 0 < self.size_lr <= 1:
            raise UserError(f"config key 'size_lr' needs a rate in (0, 1] (got {self.size_lr})")
        if self.failure_box not in ("move", "hold_size", "hold_box", "coast"):
            raise UserError(f"config key 'failure_box' needs move, hold_size, hold_box or coast "
                            f"(got {self.failure_box!r})")
        if not 0 <= self.motion_lr <= 1:
            raise UserError(f"config key 'motion_lr' needs a rate in [0, 1] (got {self.motion_lr})")
        if self.color_foreground not in ("box", "contrast"):
            raise UserError(f"config key 'color_foreground' needs box or contrast (got {self.color_foreground!r})")
        if self.color_weight < 0:
            raise UserError(f"config key 'color_weight' needs a value >= 0 (got {self.color_weight})")
        # The template is SiamFC's 127-pixel exemplar.
        for key in ("update_min_template", "recover_min_template"):
            if not 0 <= getattr(self, key) <= 1:
                raise UserError(f"config key '{key}' needs a value in [0, 1] (got {getattr(self, key)})")
        for key in ("template_weight", "redetect_samples", "template_samples", "update_min_template",
                    "recover_min_template"):
            if getattr(self, key) > 0 and self.region_size < 127:
                raise UserError(f"config key '{key}' needs region_size >= 127 (got {self.region_size})")
        if 0 < self.redetect_region < self.region_size:
            raise UserError(f"config key 'redetect_region' needs 0 (off) or at least region_size "
                            f"{self.region_size} (got {self.redetect_region})")


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


@dataclass(frozen=True)
class TwinConfig:
    """SiamFC and MDNet side by side on every frame; the reported box is chosen by their lost-target scores."""

    rule: str  # siamfc_first: SiamFC's answer unless it is lost and MDNet's is not; max: the higher score's
    siamfc_weights: str  # SiamFC's weights file; "" = the shipped ones
    mdnet_weights: str  # MDNet's weights file; "" = the shipped ones
    siamfc_follows: bool  # on frames that report MDNet's answer, SiamFC continues from that box (centre and size)
    siamfc: dict  # SiamFC's config keys that differ from its preset, e.g. {scale_num: 5}; {} = the preset
    mdnet: dict  # MDNet's, likewise

    def __post_init__(self) -> None:
        if self.rule not in ("siamfc_first", "max"):
            raise UserError(f"config key 'rule' needs siamfc_first or max (got {self.rule!r})")
        for key in ("siamfc", "mdnet"):
            if not isinstance(getattr(self, key), dict):
                raise UserError(f"config key '{key}' needs a mapping of {key} config keys, e.g. {key}={{key: value}} "
                                f"(got {getattr(self, key)!r})")


PRESETS = {
    "siamfc": (SiamFCConfig, "siamfc.yaml"),
    "train_siamfc": (SiamFCTrainConfig, "train_siamfc.yaml"),
    "mdnet": (MDNetConfig, "mdnet.yaml"),
    "train_mdnet": (MDNetTrainConfig, "train_mdnet.yaml"),
    "twin": (TwinConfig, "twin.yaml"),
}


def _coerce(value, annotation, key: str):
    """Turn a YAML or ``key=value`` value into the dataclass field's type, or say why not."""
    target = {"int": int, "float": float, "bool": bool, "str": str}.get(
        annotation if isinstance(annotation, str) else getattr(annotation, "__name__", ""), None
    )
    if target is None:
        return value
    if target is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"config key '{key}' needs true or false (got {value!r})")
    if target is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if target is float and isinstance(value, str):
        # YAML 1.1 reads "5e-07" (no dot) as a string; Python's float() reads it as people mean it.
        try:
            return float(value)
        except ValueError:
            pass
    if target is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if target is str and isinstance(value, str):
        return value
    if target is str and value is None:  # `key=` on a command line, `key:` in YAML: empty, as for int8_model=""
        return ""
    raise UserError(f"config key '{key}' needs a {target.__name__} (got {value!r})")


def build_config(cls, values: dict, source: str = "config"):
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise UserError(
            f"unknown config key(s) {', '.join(unknown)} in {source}; valid keys: {', '.join(sorted(names))}"
        )
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in values]
    if missing:
        raise UserError(f"config key(s) {', '.join(missing)} missing in {source}; every key needs a value (the "
                        "presets in twintrack/configs/ list them all)")
    hints = typing.get_type_hints(cls)
    coerced = {k: _coerce(v, hints[k], k) for k, v in values.items()}
    return cls(**coerced)


def parse_overrides(overrides) -> dict:
    """``["lr=0.01", "epochs=3"]`` or a dict -> dict with YAML-typed values."""
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    out = {}
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override '{item}' must look like key=value")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise UserError(f"override '{item}': the value is not valid YAML (quote strings, close brackets)") from None
    return out


def load_yaml(path_or_name: str | Path) -> dict:
    path = Path(path_or_name)
    packaged = resources.files(__name__).joinpath(str(path_or_name))
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:  # a folder, a binary file, no permission
            reason = "not a text file" if isinstance(err, UnicodeDecodeError) else err.strerror or str(err)
            raise UserError(f"config file '{path_or_name}' cannot be read ({reason})") from None
    elif packaged.is_file():
        text = packaged.read_text()
    else:
        raise UserError(f"config file '{path_or_name}' does not exist")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise UserError(f"config file '{path_or_name}' is not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"config file {path_or_name} must hold a mapping of key: value")
    return data


def load_config(preset: str, overrides=None, path: str | Path | None = None):
    """A named preset, then the keys of a YAML file of the same kind (``path``: a user's ``--config``), then
    ``key=value`` overrides."""
    cls, preset_file = PRESETS[preset]
    return load_preset(cls, preset_file, overrides, path)


def load_preset(cls, preset_file: str | Path, overrides=None, path: str | Path | None = None):
    """``cls`` from its preset file, a user's YAML file and overrides, each over the one before.

    The preset is the one source of defaults (the dataclasses have none): a user's file may give only the keys it
    changes, and every other key is the preset's. The resolved config, all keys, is saved in every run folder.
    """
    values = load_yaml(preset_file)
    source = str(preset_file)
    if path is not None:
        values.update(load_yaml(path))
        source = str(path)
    values.update(parse_overrides(overrides))
    return build_config(cls, values, source=source)


def config_to_dict(config) -> dict:
    return dataclasses.asdict(config)


def replace(config, **changes):
    return build_config(type(config), {**config_to_dict(config), **changes})


__all__ = [
    "SiamFCConfig",
    "SiamFCTrainConfig",
    "MDNetConfig",
    "MDNetTrainConfig",
    "load_config",
    "load_preset",
    "build_config",
    "parse_overrides",
    "config_to_dict",
    "replace",
    "field",
]
