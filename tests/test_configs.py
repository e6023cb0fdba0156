"""configs/: YAML presets -> frozen dataclasses, key=value overrides, clear errors."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import yaml

from twintrack.configs import SiamFCConfig, SiamFCTrainConfig, config_to_dict, load_config, parse_overrides, replace
from twintrack.errors import UserError


def test_siamfc_preset_has_the_papers_values():
    cfg = load_config("siamfc")
    assert isinstance(cfg, SiamFCConfig)
    assert cfg.exemplar_size == 127
    assert cfg.search_size == 255
    # The paper's SiamFC-3s: three search crops 1.0375 apart (the one-pass pyramid lost on the second opinion).
    assert cfg.scale_mode == "search3"
    assert cfg.scale_num == 3
    assert cfg.scale_step == pytest.approx(1.0375)
    assert cfg.scale_penalty == pytest.approx(0.9745)
    assert cfg.scale_lr == pytest.approx(0.59)
    assert cfg.window_influence == pytest.approx(0.176)
    assert cfg.response_up == 16
    assert cfg.context == pytest.approx(0.5)


def test_train_preset_loads_with_declared_types():
    cfg = load_config("train_siamfc")
    assert isinstance(cfg, SiamFCTrainConfig)
    for name, annotation in typing.get_type_hints(SiamFCTrainConfig).items():
        assert type(getattr(cfg, name)) is annotation, (name, getattr(cfg, name))


def test_overrides_as_key_value_list():
    cfg = load_config("siamfc", ["window_influence=0.3", "scale_num=7", "use_bbreg=false"])
    assert cfg.window_influence == pytest.approx(0.3)
    assert cfg.scale_num == 7
    assert cfg.use_bbreg is False
    # Untouched keys keep the preset's values.
    assert cfg.scale_step == pytest.approx(1.0375)


def test_overrides_as_dict_and_int_for_float_is_accepted():
    cfg = load_config("siamfc", {"response_up": 8, "scale_lr": 1})
    assert cfg.response_up == 8
    assert cfg.scale_lr == 1.0 and isinstance(cfg.scale_lr, float)


def test_parse_overrides_types_values_with_yaml():
    assert parse_overrides(["a=1", "b=0.5", "c=true", "d=adam", "e = x=y"]) == {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "adam",
        "e": "x=y",  # split at the first '=', keys stripped
    }
    assert parse_overrides(None) == {}
    assert parse_overrides({"lr": 0.1}) == {"lr": 0.1}


def test_override_without_equals_sign_is_a_user_error():
    with pytest.raises(UserError, match="key=value"):
        load_config("siamfc", ["window_influence"])


def test_unknown_key_names_the_key_and_lists_valid_keys():
    with pytest.raises(UserError) as info:
        load_config("siamfc", ["window_influense=0.2"])
    message = str(info.value)
    assert "window_influense" in message
    assert "valid keys" in message
    for name in ("window_influence", "scale_step", "exemplar_size"):
        assert name in message


def test_unknown_key_in_dict_overrides_is_a_user_error():
    with pytest.raises(UserError, match="bogus"):
        load_config("train_siamfc", {"bogus": 1})


@pytest.mark.parametrize(
    "override, key",
    [
        ("scale_num=three", "scale_num"),
        ("exemplar_size=127.5", "exemplar_size"),
        ("use_bbreg=1", "use_bbreg"),
        ("window_influence=high", "window_influence"),
        ("window_influence=true", "window_influence"),
    ],
)
def test_wrong_type_is_a_user_error_naming_the_key(override, key):
    with pytest.raises(UserError, match=key):
        load_config("siamfc", [override])


def test_an_empty_value_is_the_empty_string_for_text_keys_only():
    # `bbreg_prior=` turns the prior off as `bbreg_prior=""` does; a number key still needs a number.
    assert load_config("siamfc", ["bbreg_prior="]).bbreg_prior == ""
    assert load_config("siamfc", {"int8_model": None}).int8_model == ""
    with pytest.raises(UserError, match="scale_num"):
        load_config("siamfc", ["scale_num="])


def test_wrong_type_in_train_config():
    with pytest.raises(UserError, match="optimizer"):
        load_config("train_siamfc", {"optimizer": 3})


def test_config_is_frozen():
    cfg = load_config("siamfc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.window_influence = 0.5  # type: ignore[misc]


def test_two_loads_with_different_overrides_coexist():
    a = load_config("siamfc", {"window_influence": 0.3})
    b = load_config("siamfc", ["window_influence=0.1"])
    c = load_config("siamfc")
    assert a.window_influence == pytest.approx(0.3)
    assert b.window_influence == pytest.approx(0.1)
    assert c.window_influence == pytest.approx(0.176)
    assert a is not c and a != b


def test_replace_returns_a_new_checked_config():
    base = load_config("siamfc")
    changed = replace(base, scale_num=7)
    assert changed.scale_num == 7 and base.scale_num == 3
    with pytest.raises(UserError, match="nope"):
        replace(base, nope=1)


def test_config_file_path_and_to_dict_round_trip(tmp_path):
    cfg = load_config("train_siamfc", {"epochs": 3})
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(cfg)))
    again = load_config("train_siamfc", path=path)
    assert again == cfg
    # Overrides apply on top of a file.
    assert load_config("train_siamfc", ["lr=0.5"], path=path).lr == pytest.approx(0.5)


def test_config_file_that_is_not_a_mapping_is_a_user_error(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(UserError, match="mapping"):
        load_config("train_siamfc", path=path)


def test_config_file_with_unknown_key_names_the_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("epochz: 3\n")
    with pytest.raises(UserError, match="epochz") as info:
        load_config("train_siamfc", path=path)
    assert "typo.yaml" in str(info.value)


def test_missing_config_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError):
        load_config("train_siamfc", path=tmp_path / "missing.yaml")


@pytest.mark.parametrize("where", ["override", "file"])
def test_malformed_yaml_is_a_user_error(tmp_path, where):
    with pytest.raises(UserError):
        if where == "override":
            load_config("siamfc", ["window_influence=["])
        else:
            path = tmp_path / "broken.yaml"
            path.write_text("lr: [\n")
            load_config("train_siamfc", path=path)
