"""The twin tracker: SiamFC and MDNet on every frame, side by side; the reported answer is chosen per frame.

Each runs as it would alone (its own config, network and state; neither is told what the other found), so the
twin's boxes on a video are, frame by frame, one of the two trackers' own boxes on it. The twin reports SiamFC's
answer unless SiamFC says the target is lost and MDNet says it is not: MDNet's online classifier and its
re-detection then stand in while SiamFC, which holds its size and waits near where it lost the target, can take it
back. Both trackers' scores are calibrated so that 0.5 separates present from lost (tracker/base.py), which is what
makes them comparable.

Why: the two fail in different places. SiamFC loses small and fast targets that MDNet keeps; MDNet loses targets
behind occluders and in long videos that SiamFC keeps (docs/experiments.md, "The twin").
"""

from __future__ import annotations

from twintrack.tracker.base import TrackResult, check_frame, check_init_box


class TwinTracker:
    """``TwinTracker(siamfc, mdnet)``: two built trackers (app/registry.py builds them from the twin's config)."""

    name = "twin"

    def __init__(self, siamfc, mdnet, config=None) -> None:
        self.siamfc = siamfc
        self.mdnet = mdnet
        self.config = config
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
        self.chosen = choose(siamfc, mdnet)
        return siamfc if self.chosen == "siamfc" else mdnet


def choose(siamfc: TrackResult, mdnet: TrackResult) -> str:
    """Which answer to report, "siamfc" or "mdnet": SiamFC's unless it is lost and MDNet's is not."""
    return "mdnet" if siamfc.lost and not mdnet.lost else "siamfc"
