"""One source of config defaults: the YAML presets. The dataclasses declare keys and types only, so the two cannot
drift; a user's --config file gives the keys it changes and the rest come from the preset, explicitly."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from twintrack.configs import PRESETS, config_to_dict, load_config, load_yaml
from twintrack.errors import UserError
from twintrack.app.registry import get_tracker, list_trackers


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_dataclasses_hold_no_defaults_and_presets_hold_every_key(preset):
    cls, preset_file = PRESETS[preset]
    with_defaults = [f.name for f in dataclasses.fields(cls)
                     if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
    assert not with_defaults, (f"{cls.__name__} fields with a default {with_defaults}: give the value in "
                               f"twintrack/configs/{preset_file} only (declare the field without '= value')")
    keys = set(load_yaml(preset_file))
    fields = {f.name for f in dataclasses.fields(cls)}
    assert keys == fields, f"{preset_file} vs {cls.__name__}: only in the preset {sorted(keys - fields)}, " \
                           f"only in the dataclass {sorted(fields - keys)}"
    with pytest.raises(TypeError):
        cls()  # nothing to fall back on but the preset


def test_registered_trackers_use_the_presets():
    for name in list_trackers():
        entry = get_tracker(name)
        assert config_to_dict(entry.load_config()) == load_yaml(entry.preset) | config_to_dict(entry.load_config())
        if entry.train_preset:
            assert set(config_to_dict(entry.load_train_config())) == set(load_yaml(entry.train_preset))


def test_a_partial_config_file_takes_the_other_keys_from_the_preset(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("epochs: 3\nlr: 0.02\n")
    config = load_config("train_siamfc", path=path)
    preset = load_config("train_siamfc")
    assert (config.epochs, config.lr) == (3, 0.02)
    assert config_to_dict(config) == {**config_to_dict(preset), "epochs": 3, "lr": 0.02}
    # Overrides go over the file.
    assert load_config("train_siamfc", ["epochs=5"], path=path).epochs == 5


def test_a_config_file_with_an_unknown_key_names_the_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("epoch: 3\n")
    with pytest.raises(UserError, match=f"unknown config key.*epoch.*{path.name}"):
        load_config("train_siamfc", path=path)


def test_a_preset_missing_a_key_is_one_user_error(tmp_path):
    from twintrack.configs import load_preset

    cls, preset_file = PRESETS["siamfc"]
    values = load_yaml(preset_file)
    values.pop("scale_lr")
    short = tmp_path / "short.yaml"
    short.write_text(yaml.safe_dump(values))
    with pytest.raises(UserError, match="scale_lr missing in .*short.yaml"):
        load_preset(cls, short)
