"""MDNet's tracking config (values and each key's meaning in mdnet.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from twintrack.errors import UserError


@dataclass(frozen=True)
class MDNetConfig:
    """MDNet online tracking; values from py-MDNet's options (tracking/options.yaml) unless mdnet.yaml says ours."""

    feature_path: str
    region_size: int
    target_pixels: float
    n_pos_init: int
    n_neg_init: int
    pos_iou_init_min: float
    neg_iou_init_max: float
    maxiter_init: int
    lr_init: float
    n_pos_update: int
    n_neg_update: int
    pos_iou_update_min: float
    neg_iou_update_max: float
    maxiter_update: int
    lr_update: float
    long_interval: int
    n_frames_long: int
    n_frames_short: int
    batch_pos: int
    batch_neg: int
    batch_neg_cand: int
    fc6_lr_mult: float
    momentum: float
    weight_decay: float
    n_samples: int
    trans: float
    scale: float
    trans_limit: float
    trans_neg_init: float
    trans_neg: float
    scale_neg: float
    pos_scale: float
    top_k: int
    use_bbreg: bool
    n_bbreg: int
    bbreg_iou_min: float
    bbreg_lambda: float
    dropout: float
    redetect_region: int
    redetect_samples: int
    precision: str
    int8_model: str
    fc4_int8: bool | str

    def __post_init__(self) -> None:
        if self.feature_path not in ("roi", "crop"):
            raise UserError(f"config key 'feature_path' needs roi or crop (got {self.feature_path!r})")
        if self.precision not in ("auto", "fp32", "bf16", "int8"):
            raise UserError(f"config key 'precision' needs auto, fp32, bf16 or int8 (got {self.precision!r})")
        if not (isinstance(self.fc4_int8, bool) or self.fc4_int8 == "auto"):
            raise UserError(f"config key 'fc4_int8' needs true, false or auto (got {self.fc4_int8!r})")
        # The re-detection's template is SiamFC's 127-pixel exemplar, cut from the first frame's region.
        if self.redetect_samples > 0 and self.region_size < 127:
            raise UserError(f"config key 'redetect_samples' needs region_size >= 127 (got {self.region_size})")
        if 0 < self.redetect_region < self.region_size:
            raise UserError(f"config key 'redetect_region' needs 0 (off) or at least region_size "
                            f"{self.region_size} (got {self.redetect_region})")
