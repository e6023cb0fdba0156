"""The twin tracker: SiamFC and MDNet on every frame, side by side; the reported answer is chosen per frame.

Each runs as it would alone (its own preset with the twin's ``siamfc`` and ``mdnet`` keys over it, its own network
and state; neither is told what the other found), so the twin's boxes on a video are, frame by frame, one of the
two trackers' own boxes on it. ``rule: siamfc_first``
(the preset) reports SiamFC's answer unless SiamFC says the target is lost and MDNet says it is not: MDNet's online
classifier and its re-detection then stand in while SiamFC, which holds its size and waits near where it lost the
target, can take it back. ``rule: max`` reports the answer with the higher score. Both trackers' scores are
calibrated so that 0.5 separates present from lost (tracker/base.py), which is what makes them comparable.

Why (session 17, docs/selection.md): per sequence the two fail in different places. SiamFC loses small and fast
targets that MDNet keeps (val: S0601, uav123_bike1, uavdt_S1001, davis16_parkour); MDNet loses targets behind
occluders and long videos that SiamFC keeps (the occlusion split, the fold's S0310 and building5).
"""

from __future__ import annotations

import torch

from twintrack.configs import TwinConfig
from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult, check_frame, check_init_box
from twintrack.tracker.registry import get_tracker


class TwinTracker:
    name = "twin"

    def __init__(self, net: None, config: TwinConfig, device: torch.device, seed: int | None = None) -> None:
        self.config = config
        self.device = device
        self.siamfc = _part("siamfc", device, config.siamfc_weights, None, config.siamfc)
        self.mdnet = _part("mdnet", device, config.mdnet_weights, seed, config.mdnet)
        self.chosen = "siamfc"  # whose answer the last update() reported: siamfc or mdnet

    def init(self, frame, box) -> None:
        frame = check_frame(frame)
        box = check_init_box(box, frame)
        self.siamfc.init(frame, box)
        self.mdnet.init(frame, box)
        self.chosen = "siamfc"

    def update(self, frame) -> TrackResult:
        frame = check_frame(frame)
        siamfc = self.siamfc.update(frame)
        mdnet = self.mdnet.update(frame)
        self.chosen = choose(self.config.rule, siamfc, mdnet)
        if self.chosen == "siamfc":
            return siamfc
        if self.config.siamfc_follows:
            self.siamfc.continue_from(mdnet.box)  # instead of waiting where it lost the target
        return mdnet


def choose(rule: str, siamfc: TrackResult, mdnet: TrackResult) -> str:
    """Which answer to report, "siamfc" or "mdnet", by ``rule`` (TwinConfig)."""
    if rule == "max":
        return "mdnet" if mdnet.score > siamfc.score else "siamfc"
    return "mdnet" if siamfc.lost and not mdnet.lost else "siamfc"


def _part(name: str, device: torch.device, weights: str, seed: int | None, overrides: dict):
    """One of the twin's trackers; its config errors name the twin's key they came from."""
    try:
        return get_tracker(name).create(device, weights=weights or None, seed=seed, overrides=overrides)
    except UserError as err:
        raise UserError(f"twin's '{name}' keys: {err}") from None
