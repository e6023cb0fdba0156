"""``create_tracker``: the one public way to build a tracker."""

from __future__ import annotations

from twintrack.configs import load_config
from twintrack.device import resolve_device
from twintrack.errors import UserError
from twintrack.weights import default_weights, load_weights

TRACKERS = ("siamfc", "mdnet")


def create_tracker(name: str, weights=None, device="auto", seed=None, **overrides):
    """Build a tracker by name.

    ``weights``: a .safetensors path (default: the shipped weights). ``device``: ``auto``, ``cpu`` or ``cuda``.
    ``seed``: makes stochastic trackers repeatable (SiamFC is deterministic). ``overrides``: config keys of the
    tracker's preset, e.g. ``window_influence=0.2``.
    """
    if name not in TRACKERS:
        raise UserError(f"unknown tracker '{name}'; choose one of {', '.join(TRACKERS)}")
    torch_device = resolve_device(device)
    if name == "siamfc":
        from twintrack.models import SiamFCNet
        from twintrack.tracker.siamfc import SiamFCTracker

        config = load_config("siamfc", overrides)
        net = SiamFCNet()
        load_weights(net, weights if weights is not None else default_weights("siamfc"), arch="siamfc_vggm")
        return SiamFCTracker(net, config, torch_device)
    if name == "mdnet":
        from twintrack.models.mdnet import MDNet
        from twintrack.tracker.mdnet import MDNetTracker

        config = load_config("mdnet", overrides)
        net = MDNet(num_branches=1, dropout=config.dropout)
        load_weights(net, weights if weights is not None else default_weights("mdnet"), arch="mdnet_vggm")
        return MDNetTracker(net, config, torch_device, seed=seed)
    raise AssertionError(name)
