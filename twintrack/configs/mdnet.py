"""MDNet's tracking config (values in mdnet.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from twintrack.errors import UserError


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
