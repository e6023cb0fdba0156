"""The tracker protocol every twintrack tracker (and baseline) follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from twintrack.errors import UserError
from twintrack.geometry import box_is_valid, to_rgb_uint8


@dataclass(frozen=True)
class TrackResult:
    """One frame's answer: a 0-based ``x, y, w, h`` box inside the frame and a confidence score.

    ``score`` is calibrated so that 0.5 is the boundary between "target present" and "target lost"; ``lost`` is
    the tracker's own verdict (OpenCV's ``ok`` is ``not lost``). While lost, ``box`` is the last position the
    tracker believes in, not a fresh detection.
    """

    box: np.ndarray
    score: float
    lost: bool = False


@runtime_checkable
class Tracker(Protocol):
    name: str

    def init(self, frame: np.ndarray, box) -> None:
        """Start tracking ``box`` (0-based x, y, w, h) in ``frame`` (HxWx3 RGB uint8)."""

    def update(self, frame: np.ndarray) -> TrackResult:
        """Locate the target in the next frame."""


def check_frame(frame) -> np.ndarray:
    """Frames as HxWx3 RGB uint8; grayscale, RGBA and 16-bit are converted, anything else is one clear UserError."""
    if frame is None:
        raise UserError("the frame is None (a video that ended or an image that could not be read?); "
                        "pass an HxWx3 RGB uint8 numpy array")
    try:
        return to_rgb_uint8(frame)
    except (ValueError, TypeError) as err:
        raise UserError(f"bad frame: {err}") from None


# How much larger than the frame a first box may be, per side: a box may reach past the frame's edges (a target
# entering the view), but one many times the frame's size is a mistake (pixels of another image, a unit slip),
# and the trackers' crops and sampling overflow on it.
MAX_BOX_TO_FRAME = 10


def check_init_box(box, frame: np.ndarray) -> np.ndarray:
    """The first box as a float64 (4,) array, checked against the frame for every tracker: four finite numbers, a
    positive size, overlapping the frame, and at most ``MAX_BOX_TO_FRAME`` times the frame's width and height.
    Anything else is a one-line UserError."""
    if isinstance(box, (str, bytes)):
        raise UserError(f"the box must be four numbers x,y,w,h, not a string ({box!r}); "
                        "split it first, e.g. [float(v) for v in text.split(',')]")
    try:
        values = np.asarray(box, dtype=np.float64).reshape(-1)
    except (ValueError, TypeError):
        raise UserError(f"the box must be four numbers x,y,w,h; got {box!r}") from None
    height, width = frame.shape[:2]
    problem = box_is_valid(values, width, height)
    if problem:
        raise UserError(problem)
    x, y, w, h = values
    if w > MAX_BOX_TO_FRAME * width or h > MAX_BOX_TO_FRAME * height:
        raise UserError(f"the box ({x:g},{y:g},{w:g},{h:g}) is far larger than the {width}x{height} frame (at most "
                        f"{MAX_BOX_TO_FRAME} times its width and height); give the target's box in this frame's pixels")
    return values.reshape(4)
