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


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


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
