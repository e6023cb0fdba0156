"""The compute device, resolved once from ``auto | cpu | cuda[:N]`` and passed down.

``auto`` (CUDA when available, else the CPU) is the default of every entry point: create_tracker, every command,
the TraX server.
"""

from __future__ import annotations

import torch

from twintrack.errors import UserError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device '{name}': CUDA is not available on this machine; use device cpu or auto")
        return torch.device(name)
    raise UserError(f"unknown device '{name}'; use auto, cpu or cuda")
