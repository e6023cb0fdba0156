"""Training checkpoints: written atomically, read without pickle's arbitrary code (weights_only=True)."""

from __future__ import annotations

from pathlib import Path

import torch

from twintrack.configs import config_to_dict
from twintrack.errors import UserError
from twintrack.fileio import write_atomic


def save_checkpoint(path: Path, payload: dict) -> None:
    """torch.save to a temp file, then rename: a killed run never leaves a half-written checkpoint."""
    write_atomic(path, lambda tmp: torch.save(payload, tmp))


# What every checkpoint holds (trainers add more); a file without them is not one of ours.
REQUIRED_KEYS = ("model", "optimizer", "epoch", "step", "config")


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's payload; a damaged file (empty, truncated, random bytes, a folder in its place, not a
    twintrack checkpoint) is one UserError naming it."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types here (EOFError, RuntimeError, UnpicklingError, OSError ...)
        detail = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise UserError(f"checkpoint '{path}' cannot be read ({detail}); it is damaged or not a twintrack "
                        "checkpoint: restore it, or start the run again with --overwrite") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(payload, dict) or key not in payload]
    if missing:
        raise UserError(f"checkpoint '{path}' is not a twintrack training checkpoint (no {', '.join(missing)}); "
                        "restore it, or start the run again with --overwrite")
    return payload


def load_for_resume(path: Path, config) -> dict | None:
    """The checkpoint to resume from (None when there is none), refused when it was trained with other settings."""
    if not path.exists():
        return None
    payload = load_checkpoint(path)
    current = config_to_dict(config)
    if payload["config"] != current:
        saved = payload["config"]
        # Keys on either side: a checkpoint from an older version lacks the keys added since.
        changed = sorted(k for k in saved.keys() | current.keys()
                         if saved.get(k, "<absent>") != current.get(k, "<absent>"))
        raise UserError(f"cannot resume: {path} was trained with other settings ({', '.join(changed)}); resume "
                        "with those settings or train into a new run folder")
    return payload


def rng_state(rng) -> dict:
    """The random state a checkpoint needs for an exact resume (numpy sampler + torch's global generator)."""
    return {"numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}


def restore_rng(payload: dict, rng) -> None:
    rng.bit_generator.state = payload["numpy_rng"]
    torch.set_rng_state(payload["torch_rng"])
