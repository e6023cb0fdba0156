"""Configs are data: frozen dataclasses loaded from YAML presets, then ``key=value`` overrides.

Every load returns a fresh object, so two trackers with different configs live side by side in one process.
Unknown keys are an error that names the valid ones.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from twintrack.errors import UserError


@dataclass(frozen=True)
class SiamFCConfig:
    """SiamFC-3s inference (Bertinetto et al. 2016); defaults are the paper's values."""

    exemplar_size: int = 127
    search_size: int = 255
    context: float = 0.5
    scale_num: int = 3
    scale_step: float = 1.0375
    scale_penalty: float = 0.9745
    scale_lr: float = 0.59
    window_influence: float = 0.176
    response_up: int = 16
    total_stride: int = 8
    # Smallest target side kept by the scale update, as a fraction of the initial size (guards against collapse).
    min_scale: float = 0.2
    max_scale: float = 5.0
    # Smallest exemplar region side in frame pixels (0: the paper's context only). Tiny targets (drone footage)
    # otherwise get a search region of a few dozen pixels, smaller than their motion between frames.
    min_exemplar_side: float = 0.0
    # Inference speed-ups: fold BatchNorm into conv weights, channels_last memory layout.
    fold_bn: bool = True
    channels_last: bool = True
    bf16: bool = False


@dataclass(frozen=True)
class SiamFCTrainConfig:
    """siamfc-pytorch's recipe: SGD with momentum and exponential LR decay, balanced logistic loss."""

    exemplar_size: int = 127
    # Search crop used in training; the network is fully convolutional, so tracking can use 255.
    search_size: int = 239
    context: float = 0.5
    total_stride: int = 8
    # Label map: cells within r_pos pixels (in search-crop pixels) of the centre are positives.
    r_pos: float = 16.0
    r_neg: float = 0.0
    epochs: int = 50
    pairs_per_epoch: int = 2000
    batch_size: int = 8
    max_frame_gap: int = 100
    optimizer: str = "momentum"  # see twintrack.train.optim.OPTIMIZERS
    lr: float = 1.0e-2
    lr_final: float = 1.0e-5
    lr_schedule: str = "exponential"  # exponential | step | cosine | constant (per epoch)
    lr_step_epochs: int = 10  # step: multiply by lr_step_gamma every this many epochs
    lr_step_gamma: float = 0.1
    switch_epoch: int = 5  # adam_then_sgd: Adam for this many epochs, then SGD with momentum
    sgd_lr: float = 0.0  # adam_then_sgd: SGD rate at the switch; 0 = the SWATS projection estimate
    # Per-layer learning-rate multipliers (group lr = lr x mult; 0 keeps a layer where init put it).
    conv1_lr_mult: float = 1.0
    conv2_lr_mult: float = 1.0
    conv3_lr_mult: float = 1.0
    head_lr_mult: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 5.0e-4
    init: str = "kaiming"  # kaiming | xavier (backbone conv layers)
    # Augmentation (siamfc-pytorch): stretch, shift, plus colour / grayscale / flip.
    stretch: float = 0.05
    max_shift: int = 8
    color_jitter: float = 0.2
    gray_prob: float = 0.1
    flip_prob: float = 0.5
    # Sequence pairs vs still-image pairs: a still image set is drawn with this probability (if given).
    image_pair_prob: float = 0.2
    autocast_bf16: bool = False
    num_threads: int = 0
    seed: int = 0
    checkpoint_every: int = 1
    log_every: int = 10
    # Loading: DataLoader worker processes (0: pairs are cut in the training process), pinned memory on CUDA.
    workers: int = 0
    # Validation: track the sequences of this folder every val_every epochs (0: never) and log AUC/precision.
    val_data: str = ""
    val_every: int = 0
    # Stop (and save) after the first epoch that ends past this many minutes (0: no limit).
    max_minutes: float = 0.0


@dataclass(frozen=True)
class MDNetConfig:
    """MDNet online tracking; values from py-MDNet's options (tracking/options.yaml) unless noted."""

    feature_path: str = "roi"  # roi: one conv pass + RoIAlign (RT-MDNet); crop: a 107x107 crop per box (MDNet)
    region_size: int = 255  # search-region side (pixels) for the single conv pass
    target_pixels: float = 64.0  # the target's mean side in the search region (sets the region's scale)
    crop_size: int = 107  # per-crop path input size
    crop_padding: float = 16.0  # per-crop path context, in pixels of the 107 crop (py-MDNet's padding)
    # First-frame fine-tuning.
    n_pos_init: int = 500
    n_neg_init: int = 5000
    pos_iou_init_min: float = 0.7
    neg_iou_init_max: float = 0.5
    maxiter_init: int = 50
    lr_init: float = 0.0005
    # Online updates.
    n_pos_update: int = 50
    n_neg_update: int = 200
    pos_iou_update_min: float = 0.7
    neg_iou_update_max: float = 0.3
    maxiter_update: int = 15
    lr_update: float = 0.001
    long_interval: int = 10
    n_frames_long: int = 100
    n_frames_short: int = 30
    # Mini-batches and hard negative mining.
    batch_pos: int = 32
    batch_neg: int = 96
    batch_neg_cand: int = 1024
    fc6_lr_mult: float = 10.0
    online_fc4: bool = False  # py-MDNet also tunes fc4 online; fixing it lets us cache its outputs (9x cheaper)
    momentum: float = 0.9
    weight_decay: float = 0.0005
    # Candidates.
    n_samples: int = 256
    trans: float = 0.6
    scale: float = 1.0
    trans_limit: float = 1.5
    trans_neg_init: float = 1.0
    trans_neg: float = 2.0
    scale_neg: float = 5.0
    pos_scale: float = 1.0
    top_k: int = 5
    template_weight: float = 0.0
    # Bounding-box regression.
    use_bbreg: bool = True
    n_bbreg: int = 1000
    bbreg_iou_min: float = 0.6
    bbreg_lambda: float = 1000.0
    bbreg_feedback: bool = False
    bbreg_scale: float = 3.0
    bbreg_aspect: float = 1.0
    dropout: float = 0.5
    # Robustness (ours): learn only from frames scoring above update_min_score; keep the first frame's positives
    # in every update; learn up to lookalike_negatives high-scoring off-target candidates per frame as negatives;
    # after a failure, a redetect_region conv pass (0: off) and redetect_samples candidates at the SiamFC template's
    # peak.
    update_min_score: float = 0.0
    keep_first_pos: bool = False
    lookalike_negatives: int = 0
    redetect_region: int = 0
    redetect_samples: int = 0
    # Calibrated score: sigmoid(score_scale * fc6 score + score_shift); below 0.5 the target is reported lost.
    score_scale: float = 1.0
    score_shift: float = 0.0
    # bfloat16 conv pass and fc4: true, false, or auto (on CPUs with native bf16 units, AVX512-BF16 or AMX).
    bf16: bool | str = "auto"
    # fc4 as an int8 product (fbgemm): true, false, or auto (on x86 CPUs).
    fc4_int8: bool | str = False

    def __post_init__(self) -> None:
        for key in ("bf16", "fc4_int8"):
            value = getattr(self, key)
            if not (isinstance(value, bool) or value == "auto"):
                raise UserError(f"config key '{key}' needs true, false or auto (got {value!r})")
        for key in ("template_weight", "redetect_samples"):  # the template is SiamFC's 127-pixel exemplar
            if getattr(self, key) > 0 and self.region_size < 127:
                raise UserError(f"config key '{key}' needs region_size >= 127 (got {self.region_size})")
        if 0 < self.redetect_region < self.region_size:
            raise UserError(f"config key 'redetect_region' needs 0 (off) or at least region_size "
                            f"{self.region_size} (got {self.redetect_region})")


@dataclass(frozen=True)
class MDNetTrainConfig:
    """Multi-domain training: one fc6 branch per sequence; py-MDNet's sampling (8 frames, 32 pos / 96 neg)."""

    region_size: int = 255
    target_pixels: float = 64.0
    frames_per_iter: int = 8
    batch_pos: int = 32
    batch_neg: int = 96
    pos_iou_min: float = 0.7
    neg_iou_max: float = 0.5
    region_jitter: float = 0.3  # region centre moved by up to this fraction of the target side (tracking drift)
    iterations: int = 4000
    optimizer: str = "momentum"  # see twintrack.train.optim.OPTIMIZERS
    lr: float = 0.001
    # Schedules and switch_epoch count iterations here (MDNet trains by iterations, not epochs).
    lr_schedule: str = "constant"  # exponential | step | cosine | constant
    lr_final: float = 1.0e-4  # exponential / cosine: the rate at the last iteration
    lr_step_epochs: int = 1000  # step: iterations between drops
    lr_step_gamma: float = 0.1
    switch_epoch: int = 1000  # adam_then_sgd: Adam for this many iterations, then SGD with momentum
    sgd_lr: float = 0.0  # adam_then_sgd: SGD rate at the switch; 0 = the SWATS projection estimate
    conv_lr_mult: float = 0.0  # 0 freezes the SiamFC-trained conv layers (the transfer-learning choice)
    fc6_lr_mult: float = 10.0
    momentum: float = 0.9
    weight_decay: float = 0.0005
    dropout: float = 0.5
    init: str = "kaiming"  # kaiming | xavier (fc4 / fc5; fc6 branches always start at N(0, 0.01))
    autocast_bf16: bool = True
    seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 20


PRESETS = {
    "siamfc": (SiamFCConfig, "siamfc.yaml"),
    "train_siamfc": (SiamFCTrainConfig, "train_siamfc.yaml"),
    "mdnet": (MDNetConfig, "mdnet.yaml"),
    "train_mdnet": (MDNetTrainConfig, "train_mdnet.yaml"),
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
    raise UserError(f"config key '{key}' needs a {target.__name__} (got {value!r})")


def build_config(cls, values: dict, source: str = "config"):
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise UserError(
            f"unknown config key(s) {', '.join(unknown)} in {source}; valid keys: {', '.join(sorted(names))}"
        )
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
    """Load a named preset (or a YAML file of the same kind) and apply overrides."""
    cls, default_file = PRESETS[preset]
    values = load_yaml(path if path is not None else default_file)
    values.update(parse_overrides(overrides))
    return build_config(cls, values, source=str(path or default_file))


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
    "build_config",
    "parse_overrides",
    "config_to_dict",
    "replace",
    "field",
]
