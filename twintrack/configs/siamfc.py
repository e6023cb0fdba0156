"""SiamFC's tracking config (values in siamfc.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from twintrack.errors import UserError


@dataclass(frozen=True)
class SiamFCConfig:
    """SiamFC inference (tracker/siamfc.py): the paper's SiamFC-3s (Bertinetto et al. 2016), plus MDNet's box
    regression on SiamFC's features (use_bbreg)."""

    exemplar_size: int  # exemplar crop side (pixels)
    search_size: int  # search crop side (pixels)
    context: float  # context margin p = context * (w + h) around the target in the exemplar region
    # The scale search: scale_num scales scale_step apart; a scale change multiplies its peak by scale_penalty, and
    # the size moves scale_lr of the way to the best scale's.
    scale_num: int
    scale_step: float
    scale_penalty: float
    scale_lr: float
    window_influence: float  # weight of the cosine window (against large displacements) blended into the response
    response_up: int  # upsampling of the coarse response map for sub-cell localisation
    # The tracked size stays within min_scale..max_scale x the first frame's (guards against collapse).
    min_scale: float
    max_scale: float
    # Backbone precision (twintrack/runtime, docs/runtime.md): auto | fp32 | bf16 | int8. auto: int8 (ONNX Runtime,
    # calibrated model) on CPUs with VNNI/AMX, else bf16 where the CPU has native bf16, else fp32; GPUs fp32.
    precision: str
    # An int8 model calibrated for your own weights (twintrack export --int8); "" = the shipped calibration.
    int8_model: str
    # search3: scale_num search crops per frame, one backbone pass each (the paper). pyramid: one search crop per
    # frame against the exemplar embedded at scale_num scales once in init(): about twice the frame rate, for less
    # accuracy; for many objects at once (MultiTracker) or a slow CPU. Measured with scale_num=5 scale_step=1.025.
    scale_mode: str
    # MDNet's bounding-box regression on SiamFC's own features (tracker/bbreg.py): a ridge regression from the
    # RoIAlign-pooled search features of a box to the target's box, fitted on n_bbreg boxes of the first frame
    # (IoU >= bbreg_iou_min, sizes 1.05 ** U(-bbreg_scale, bbreg_scale), aspect ** U(-1, 1) per side), refines the
    # reported box on located frames; the tracked centre and size stay SiamFC's. false = the paper.
    use_bbreg: bool
    n_bbreg: int
    bbreg_iou_min: float
    bbreg_lambda: float
    bbreg_scale: float
    bbreg_aspect: float
    # A regression fitted offline across training videos (bench/fit_box_regressor.py) that the first-frame ridge
    # pulls towards instead of towards zero: a file, auto (the shipped one, for the shipped backbone only; none for
    # other weights) or "" (none).
    bbreg_prior: str

    def __post_init__(self) -> None:
        if self.scale_mode not in ("pyramid", "search3"):
            raise UserError(f"config key 'scale_mode' needs pyramid or search3 (got {self.scale_mode!r})")
        checks = {
            "n_bbreg": (self.n_bbreg >= 10, ">= 10"),
            "bbreg_iou_min": (0 < self.bbreg_iou_min < 1, "in (0, 1)"),
            "bbreg_lambda": (self.bbreg_lambda > 0, "> 0"),
            "bbreg_scale": (self.bbreg_scale >= 0, ">= 0"),
            "bbreg_aspect": (self.bbreg_aspect >= 1, ">= 1"),
        }
        for key, (ok, allowed) in checks.items():
            if not ok:
                raise UserError(f"config key '{key}' needs a value {allowed} (got {getattr(self, key)!r})")
