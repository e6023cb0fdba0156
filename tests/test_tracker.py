"""tracker/siamfc.py on synthetic clips, with a random-init network (no trained weights needed).

Random VGG-M features already separate a high-contrast texture from a smooth background, so following one is a
real end-to-end check of the crop / correlate / upsample / displacement / scale-update arithmetic: a sign or
scale error in any of them loses the target within a few frames.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_random_net, moving_target_clip
from twintrack.configs import load_config
from twintrack.geometry import iou
from twintrack.tracker.base import TrackResult
from twintrack.tracker.siamfc import SiamFCTracker

CPU = torch.device("cpu")


def make_tracker(seed: int = 0, **overrides) -> SiamFCTracker:
    return SiamFCTracker(make_random_net(seed), load_config("siamfc", overrides), CPU)


def run(tracker, frames, init_box) -> np.ndarray:
    tracker.init(frames[0], init_box)
    boxes = [np.asarray(init_box, dtype=np.float64)]
    for frame in frames[1:]:
        result = tracker.update(frame)
        assert isinstance(result, TrackResult)
        assert 0.0 <= result.score <= 1.0
        boxes.append(result.box)
    return np.array(boxes)


def assert_inside(boxes, width, height):
    assert np.isfinite(boxes).all()
    assert (boxes[:, 2] > 0).all() and (boxes[:, 3] > 0).all()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= width + 1e-6).all()
    assert (boxes[:, 1] + boxes[:, 3] <= height + 1e-6).all()


def test_siamfc_follows_a_moving_texture():
    # 30 frames 160x160: a 32x32 random texture moving 3 px right and 2 px down per frame over a grey gradient.
    # Measured with seeds 0-4 of the network: mean IoU 0.96-0.99, min 0.94; the floor leaves a wide margin.
    frames, truth = moving_target_clip(30, (160, 160), 32, (20, 30), (3, 2), background="smooth", seed=0)
    boxes = run(make_tracker(seed=0), frames, truth[0])
    overlaps = iou(boxes, truth)
    assert overlaps.mean() > 0.7, np.round(overlaps, 2)
    assert_inside(boxes[1:], 160, 160)
    # It moved with the target rather than staying put: the last box is near the last true box.
    assert np.abs(boxes[-1, :2] - truth[-1, :2]).max() < 16


def test_update_before_init_raises():
    tracker = make_tracker()
    with pytest.raises(RuntimeError, match="init"):
        tracker.update(np.zeros((64, 64, 3), np.uint8))


def test_boxes_stay_inside_when_the_target_leaves_the_frame():
    # The texture runs out through the right edge at 9 px per frame and is gone for the last frames.
    frames, _ = moving_target_clip(14, (96, 128), 24, (70, 36), (9, 1), background="smooth", seed=2)
    boxes = run(make_tracker(seed=1), frames, [70, 36, 24, 24])
    assert_inside(boxes[1:], 128, 96)


def test_boxes_stay_inside_for_a_target_leaving_through_a_corner():
    frames, _ = moving_target_clip(10, (80, 80), 20, (40, 40), (-9, -9), background="smooth", seed=3)
    boxes = run(make_tracker(seed=2), frames, [40, 40, 20, 20])
    assert_inside(boxes[1:], 80, 80)


def test_init_box_partly_outside_the_frame_is_accepted():
    frames, _ = moving_target_clip(4, (80, 80), 20, (0, 0), (1, 1), background="smooth", seed=4)
    boxes = run(make_tracker(), frames, [-8, -6, 24, 24])
    assert_inside(boxes[1:], 80, 80)


def test_tracking_is_deterministic():
    frames, truth = moving_target_clip(5, (128, 128), 32, (30, 40), (3, 2), background="smooth", seed=5)
    reference = run(make_tracker(seed=3), frames, truth[0])
    np.testing.assert_array_equal(run(make_tracker(seed=3), frames, truth[0]), reference)


def test_scale_stays_within_configured_limits():
    # With scale_lr 1 and a large scale step every frame may change the size; min/max_scale bound the drift.
    frames, truth = moving_target_clip(12, (96, 96), 24, (36, 36), (0, 0), background="smooth", seed=6)
    tracker = make_tracker(seed=4, scale_step=1.5, scale_lr=1.0, scale_penalty=1.0, min_scale=0.5, max_scale=2.0)
    boxes = run(tracker, frames, truth[0])
    ratio = tracker.target_size / tracker.initial_size
    assert 0.5 - 1e-9 <= ratio[0] <= 2.0 + 1e-9
    assert ratio[0] == pytest.approx(ratio[1])
    assert_inside(boxes[1:], 96, 96)
