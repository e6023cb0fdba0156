"""Loading configs: a preset YAML file, a user's YAML file, then ``key=value`` overrides, checked and typed."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import MISSING, fields
from importlib import resources
from pathlib import Path

import yaml

from twintrack.errors import UserError


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
    packaged = resources.files("twintrack.configs").joinpath(str(path_or_name))
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
