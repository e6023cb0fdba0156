"""The cv2.Tracker-shaped adapter: BGR frames in, (ok, integer box) out, the same track as the RGB API."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import twintrack
from twintrack.tracker.base import TrackResult
from twintrack.app.opencv_compat import OpenCVTracker, TrackerSiamFC_create, bgr_to_rgb

from conftest import moving_target_clip


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def test_bgr_frames_track_as_rgb_frames_do_through_the_rgb_api():
    frames, truth = moving_target_clip(6, (96, 128), 24, (20, 30), (4, 2))
    # A colour target: swapping R and B by mistake would change what the tracker sees.
    frames = [np.ascontiguousarray(f * np.array([1.0, 0.6, 0.3])).astype(np.uint8) for f in frames]
    reference = twintrack.create_tracker("siamfc", device="cpu")
    reference.init(frames[0], truth[0])
    adapter = TrackerSiamFC_create(device="cpu")
    assert adapter.init(cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR), tuple(int(v) for v in truth[0])) is None
    for frame in frames[1:]:
        expected = reference.update(frame)
        ok, box = adapter.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        assert ok is (not expected.lost)
        assert isinstance(box, tuple) and len(box) == 4 and all(type(v) is int for v in box)
        np.testing.assert_array_equal(box, np.floor(expected.box + 0.5).astype(int))
        np.testing.assert_allclose(adapter.last_result.box, expected.box)


class _Scripted:
    """A tracker whose answers are given: to check the adapter's mapping of TrackResult to (ok, box)."""

    def __init__(self, results):
        self.results = list(results)
        self.frames = []

    def init(self, frame, box):
        self.frames.append(frame)

    def update(self, frame):
        self.frames.append(frame)
        return self.results.pop(0)


def test_ok_is_not_lost_and_a_lost_target_gives_no_box():
    scripted = _Scripted([TrackResult(np.array([10.4, 20.5, 30.49, 40.6]), 0.9),
                          TrackResult(np.array([11.0, 21.0, 30.0, 40.0]), 0.1, lost=True)])
    adapter = OpenCVTracker(scripted)
    frame = np.zeros((60, 80, 3), np.uint8)
    adapter.init(frame, np.array([10, 20, 30, 40]))
    assert adapter.update(frame) == (True, (10, 21, 30, 41))
    assert adapter.update(frame) == (False, (0, 0, 0, 0))
    assert adapter.last_result.lost and adapter.last_result.score == pytest.approx(0.1)


def test_colour_orders_convert_to_rgb():
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's order
    assert bgr_to_rgb(bgr)[0, 0].tolist() == [0, 0, 255]
    bgra = np.concatenate([bgr, np.full((2, 2, 1), 7, np.uint8)], axis=2)
    assert bgr_to_rgb(bgra)[0, 0].tolist() == [0, 0, 255]
    gray = np.full((2, 2), 9, np.uint8)
    assert bgr_to_rgb(gray) is not None and bgr_to_rgb(gray).shape == (2, 2)
