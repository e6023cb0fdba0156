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
    # Inference speed-ups: fold BatchNorm into conv weights, channels_last memory layout.
    fold_bn: bool = True
    channels_last: bool = True


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
    optimizer: str = "momentum"
    lr: float = 1.0e-2
    lr_final: float = 1.0e-5
    momentum: float = 0.9
    weight_decay: float = 5.0e-4
    init: str = "kaiming"
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


PRESETS = {
    "siamfc": (SiamFCConfig, "siamfc.yaml"),
    "train_siamfc": (SiamFCTrainConfig, "train_siamfc.yaml"),
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
        out[key.strip()] = yaml.safe_load(raw)
    return out


def load_yaml(path_or_name: str | Path) -> dict:
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text()
    else:
        text = resources.files(__name__).joinpath(str(path_or_name)).read_text()
    data = yaml.safe_load(text) or {}
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
    "load_config",
    "build_config",
    "parse_overrides",
    "config_to_dict",
    "replace",
    "field",
]
