"""``create_tracker``: the one public way to build a tracker, by its name in the registry (app/registry.py)."""

from __future__ import annotations

from twintrack.device import resolve_device
from twintrack.app.registry import get_tracker, list_trackers

__all__ = ["create_tracker", "list_trackers"]


def create_tracker(name: str, weights=None, device="auto", seed=None, **overrides):
    """Build a registered tracker by name (``twintrack.list_trackers()`` lists them).

    ``weights``: a .safetensors path (default: the tracker's default, for the built-ins the shipped weights).
    ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``. ``seed``: makes stochastic trackers
    repeatable (SiamFC is deterministic and ignores it). ``overrides``: config keys of the tracker's preset,
    e.g. ``window_influence=0.2``.
    """
    return get_tracker(name).create(resolve_device(device), weights=weights, seed=seed, overrides=overrides)
