"""``create_tracker``: the one public way to build a tracker, by its name in the registry (tracker/registry.py)."""

from __future__ import annotations

from twintrack.device import resolve_device
from twintrack.tracker.registry import get_tracker, list_trackers
from twintrack.weights import load_weights

__all__ = ["create_tracker", "list_trackers"]


def create_tracker(name: str, weights=None, device="auto", seed=None, **overrides):
    """Build a registered tracker by name (``twintrack.list_trackers()`` lists them).

    ``weights``: a .safetensors path (default: the tracker's default, for the built-ins the shipped weights).
    ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``. ``seed``: makes stochastic trackers
    repeatable (SiamFC is deterministic and ignores it). ``overrides``: config keys of the tracker's preset,
    e.g. ``window_influence=0.2``.
    """
    entry = get_tracker(name)
    torch_device = resolve_device(device)
    config = entry.load_config(overrides)
    net = entry.resolve_model(config)
    path = entry.weights_file(weights)
    if path is not None and entry.weights_arch is not None:
        load_weights(net, path, arch=entry.weights_arch)
    return entry.build_tracker(net, config, torch_device, seed=seed)
