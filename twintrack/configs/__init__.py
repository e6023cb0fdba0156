"""Configs are data: frozen dataclasses loaded from YAML presets, then ``key=value`` overrides.

Every load returns a fresh object, so two trackers with different configs live side by side in one process.
Unknown keys are an error that names the valid ones.

The YAML presets are the only defaults: the dataclasses below declare each key's type and meaning but no value
(tests/test_config_defaults.py keeps it so). Adding a key is two lines: the field here, its value in the preset.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path

from twintrack.configs.loading import build_config, config_to_dict, load_preset, load_yaml, parse_overrides, replace
from twintrack.configs.mdnet import MDNetConfig
from twintrack.configs.siamfc import SiamFCConfig
from twintrack.configs.train import MDNetTrainConfig, SiamFCTrainConfig
from twintrack.configs.twin import TwinConfig

PRESETS = {
    "siamfc": (SiamFCConfig, "siamfc.yaml"),
    "train_siamfc": (SiamFCTrainConfig, "train_siamfc.yaml"),
    "mdnet": (MDNetConfig, "mdnet.yaml"),
    "train_mdnet": (MDNetTrainConfig, "train_mdnet.yaml"),
    "twin": (TwinConfig, "twin.yaml"),
}


def load_config(preset: str, overrides=None, path: str | Path | None = None):
    """A named preset, then the keys of a YAML file of the same kind (``path``: a user's ``--config``), then
    ``key=value`` overrides."""
    cls, preset_file = PRESETS[preset]
    return load_preset(cls, preset_file, overrides, path)


__all__ = ["SiamFCConfig", "SiamFCTrainConfig", "MDNetConfig", "MDNetTrainConfig", "TwinConfig", "load_config",
           "load_preset", "load_yaml", "build_config", "parse_overrides", "config_to_dict", "replace", "field"]
