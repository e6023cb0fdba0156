"""SiamFC's tracking config (values in siamfc.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

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
