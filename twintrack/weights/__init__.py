"""Shipped weights and their registry (file name + sha256), loaded with safetensors (no pickle)."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from twintrack.errors import UserError
from twintrack.fileio import write_atomic


def registry() -> dict:
    return json.loads(resources.files(__name__).joinpath("registry.json").read_text())


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_weights(tracker: str) -> Path:
    """The shipped weights file for a tracker, checked against the registry's sha256."""
    entry = registry().get(tracker)
    if entry is None:
        raise UserError(f"no shipped weights for tracker '{tracker}'; pass weights=PATH")
    path = Path(str(resources.files(__name__).joinpath(entry["file"])))
    if not path.exists():
        raise UserError(f"shipped weights {path} are missing; reinstall twintrack")
    if sha256_of(path) != entry["sha256"]:
        raise UserError(f"shipped weights {path} do not match their sha256 in the registry; reinstall twintrack")
    return path


def shipped_for_backbone(table: str, backbone_fingerprint: str, what: str, remedy: str) -> Path | None:
    """The file that a fingerprint-keyed table of this folder (int8.json: the int8 model; bbreg_prior.json: SiamFC's
    offline box regression) lists for the backbone with this fingerprint (runtime.calibration.fingerprint), checked
    against its sha256; None where the table or its entry is absent: another backbone's features are not the ones
    the file was made for."""
    table_file = Path(str(resources.files(__name__).joinpath(table)))
    if not table_file.exists():
        return None
    try:  # a damaged table (empty, cut, not JSON, a folder in its place) is one line, like a damaged file it lists
        entry = json.loads(table_file.read_text()).get(backbone_fingerprint)
        if entry is None:
            return None
        file_name, sha256 = entry["file"], entry["sha256"]
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as err:
        raise UserError(f"'{table_file}', the list of shipped {what}s, is damaged ({type(err).__name__}); "
                        f"{remedy}") from None
    path = Path(str(resources.files(__name__).joinpath(file_name)))
    if not path.is_file() or sha256_of(path) != sha256:
        raise UserError(f"shipped {what} {file_name} is missing or does not match its sha256 in {table}; "
                        f"{remedy}")
    return path


def save_weights(model: torch.nn.Module, path: str | Path, arch: str, extra: dict | None = None) -> Path:
    """Write a state dict as safetensors, atomically, with the architecture name in its metadata."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"arch": arch, **{k: str(v) for k, v in (extra or {}).items()}}
    return write_atomic(path, lambda tmp: save_file(state, str(tmp), metadata=metadata))


def weights_metadata(path: str | Path) -> dict:
    """The string metadata of a safetensors file (``arch``, training step, ``calibration`` ...); {} when none."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(f"weights file '{path}' is not a readable safetensors file ({err}); re-export or retrain it")


def calibration_of(path: str | Path) -> dict[str, float] | None:
    """The lost-target score calibration fitted for these weights (metadata ``calibration``: a JSON object of
    numbers), or None when the file carries none (weights trained but not yet calibrated)."""
    text = weights_metadata(path).get("calibration")
    if text is None:
        return None
    try:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("not a mapping")
        return {str(key): float(value) for key, value in values.items()}
    except (ValueError, TypeError) as err:
        raise UserError(f"weights file '{path}' has a damaged 'calibration' entry ({err}); recalibrate it or use "
                        "the shipped weights") from None


def shipped_calibration(tracker: str) -> dict[str, float]:
    """The calibration stored in a tracker's shipped weights: the map a tracker uses for weights that carry none
    of their own (newly trained weights: their scores are then only roughly calibrated until they are fitted)."""
    calibration = calibration_of(default_weights(tracker))
    if calibration is None:
        raise UserError(f"the shipped {tracker} weights carry no lost-target calibration; reinstall twintrack")
    return calibration


def write_calibration(path: str | Path, calibration: dict[str, float], out: str | Path | None = None) -> Path:
    """Store ``calibration`` in the metadata of the weights at ``path`` (or of a copy at ``out``), atomically; the
    tensors and the other metadata are kept as they are."""
    state = load_file(str(path))
    metadata = {**weights_metadata(path), "calibration": json.dumps({k: float(v) for k, v in calibration.items()})}
    return write_atomic(out or path, lambda tmp: save_file(state, str(tmp), metadata=metadata))


def load_weights(model: torch.nn.Module, path: str | Path, arch: str, strict: bool = True) -> None:
    """Load safetensors weights into ``model``; every failure is one clear UserError."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"weights file '{path}' does not exist")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(f"weights file '{path}' is not a readable safetensors file ({err}); re-export or retrain it")
    file_arch = weights_metadata(path).get("arch")
    if file_arch is not None and file_arch != arch:
        raise UserError(f"weights file '{path}' holds a '{file_arch}' network, not '{arch}'; pass matching weights")
    expected = model.state_dict()
    if strict:
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        bad_shapes = [k for k in expected if k in state and state[k].shape != expected[k].shape]
        if missing or unexpected or bad_shapes:
            detail = (missing or unexpected or bad_shapes)[:3]
            raise UserError(
                f"weights file '{path}' does not fit the {arch} architecture (mismatched: {', '.join(detail)})"
            )
    not_finite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if not_finite:
        raise UserError(f"weights file '{path}' holds NaN or infinite values (in {', '.join(not_finite[:3])}); "
                        "the run that wrote it diverged: use an earlier checkpoint or retrain")
    model.load_state_dict(state, strict=strict)
