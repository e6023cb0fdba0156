"""OpenCV's CSRT / KCF / MIL trackers behind the twintrack Tracker protocol (RGB frames, 0-based xywh boxes)."""

from __future__ import annotations

import cv2
import numpy as np

from twintrack.errors import UserError
from twintrack.geometry import clip_box
from twintrack.tracker.base import TrackResult, check_frame, check_init_box

# opencv-contrib-python provides these; the plain opencv-python wheel lacks CSRT and KCF.
_FACTORIES = {
    "csrt": lambda: cv2.TrackerCSRT.create(),
    "kcf": lambda: cv2.TrackerKCF.create(),
    "mil": lambda: cv2.TrackerMIL.create(),
}
BASELINES = tuple(_FACTORIES)


class OpenCVTracker:
    def __init__(self, name: str) -> None:
        if name not in _FACTORIES:
            raise UserError(f"unknown baseline '{name}'; choose one of {', '.join(BASELINES)}")
        self.name = name
        self._tracker = None
        self._last_box = None

    def init(self, frame, box) -> None:
        frame = check_frame(frame)
        box = check_init_box(box, frame)
        self._tracker = _FACTORIES[self.name]()
        self._tracker.init(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), tuple(int(round(v)) for v in box))
        self._last_box = box

    def update(self, frame) -> TrackResult:
        if self._tracker is None:
            raise RuntimeError("call init(frame, box) before update(frame)")
        frame = check_frame(frame)
        ok, box = self._tracker.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if ok:  # on failure OpenCV returns no box: keep the last one, score 0
            self._last_box = np.asarray(box, dtype=np.float64)
        height, width = frame.shape[:2]
        return TrackResult(box=clip_box(self._last_box, width, height), score=1.0 if ok else 0.0)
