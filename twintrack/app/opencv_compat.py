"""twintrack trackers with OpenCV's ``cv2.Tracker`` shape, so switching from CSRT is one line:

    tracker = cv2.TrackerCSRT_create()          # before
    tracker = twintrack.TrackerSiamFC_create()  # after
    tracker.init(frame_bgr, (x, y, w, h))
    ok, (x, y, w, h) = tracker.update(frame_bgr)

As with OpenCV: frames are BGR (or grayscale / BGRA) as ``cv2.VideoCapture`` gives them, boxes are integer pixel
``x, y, w, h``, ``init`` returns None and ``update`` returns ``(ok, box)``. ``ok`` is the tracker's lost-target
verdict (``not TrackResult.lost``); while lost the box is ``(0, 0, 0, 0)``, as OpenCV's trackers give it when they
fail. The full result (float box, score) of the last update is ``last_result``.
"""

from __future__ import annotations

import cv2
import numpy as np

from twintrack.tracker.base import TrackResult


def bgr_to_rgb(image) -> np.ndarray:
    """An OpenCV image (BGR, BGRA or grayscale) as the RGB frame twintrack trackers take."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return image  # grayscale (or anything else): the tracker's own frame check converts or refuses it


class OpenCVTracker:
    """Wraps a twintrack tracker (anything with ``init(frame_rgb, box)`` / ``update(frame_rgb) -> TrackResult``)."""

    def __init__(self, tracker) -> None:
        self.tracker = tracker
        self.last_result: TrackResult | None = None

    def init(self, image, boundingBox) -> None:  # noqa: N803 (OpenCV's argument names)
        self.tracker.init(bgr_to_rgb(image), tuple(float(v) for v in np.asarray(boundingBox).reshape(4)))
        self.last_result = None

    def update(self, image) -> tuple[bool, tuple[int, int, int, int]]:
        result = self.tracker.update(bgr_to_rgb(image))
        self.last_result = result
        if result.lost:
            return False, (0, 0, 0, 0)
        # cv::Rect from a float box, as OpenCV's own trackers convert: each value rounded to the nearest integer.
        x, y, w, h = (int(np.floor(float(v) + 0.5)) for v in result.box)
        return True, (x, y, w, h)


def cv2_tracker(name: str = "siamfc", weights=None, device="auto", seed=None, **overrides) -> OpenCVTracker:
    """``create_tracker``'s arguments, OpenCV's tracker interface."""
    from twintrack.app.api import create_tracker  # above the tracker layer: imported when called

    return OpenCVTracker(create_tracker(name, weights=weights, device=device, seed=seed, **overrides))


def TrackerSiamFC_create(**kwargs) -> OpenCVTracker:  # noqa: N802 (named like cv2.TrackerCSRT_create)
    return cv2_tracker("siamfc", **kwargs)


def TrackerMDNet_create(**kwargs) -> OpenCVTracker:  # noqa: N802
    return cv2_tracker("mdnet", **kwargs)
