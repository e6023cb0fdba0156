"""SiamFC's motion model (``motion_lr``, issue 11): the search region follows a smoothed velocity, reset while lost."""

from __future__ import annotations

import numpy as np
import pytest

import twintrack
from conftest import moving_target_clip, noise_background, textured_patch
from twintrack.errors import UserError
from twintrack.geometry import iou


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


def accelerating_clip(count=14, side=30):
    """200x640 noise; a 30-px texture moving right by 12, 16, 20, ... px per frame: by frame 8 it moves further than
    SiamFC's search region reaches around the last box, but only 4 px more than on the frame before."""
    rng = np.random.default_rng(2)
    patch = textured_patch(rng, side)
    frames, boxes, x = [], [], 10
    for i in range(count):
        frame = noise_background(rng, 200, 640)
        frame[80 : 80 + side, x : x + side] = patch
        frames.append(frame)
        boxes.append([x, 80, side, side])
        x += 12 + 4 * i
    return frames, np.array(boxes, dtype=np.float64)


def track(frames, box, **overrides):
    tracker = twintrack.create_tracker("siamfc", device="cpu", **overrides)
    tracker.init(frames[0], box)
    return tracker, [tracker.update(frame) for frame in frames[1:]]


def test_the_velocity_blends_each_located_frame_s_displacement_and_centres_the_next_search():
    frames, truth = moving_target_clip(10, (160, 240), 30, (30, 50), (9, 4), background="noise", seed=3)
    tracker = twintrack.create_tracker("siamfc", device="cpu", motion_lr=0.25)
    tracker.init(frames[0], truth[0])
    velocity, center = np.zeros(2), tracker.center.copy()
    np.testing.assert_array_equal(tracker.velocity, velocity)
    for frame in frames[1:]:
        result = tracker.update(frame)
        assert not result.lost
        velocity = 0.75 * velocity + 0.25 * (tracker.center - center)
        center = tracker.center.copy()
        np.testing.assert_allclose(tracker.velocity, velocity, atol=1e-12)
        regions = tracker.search_regions()
        np.testing.assert_allclose(regions[:, :2], np.tile(center + velocity, (len(regions), 1)), atol=1e-12)
    # The target moves (9, 4) px a frame: after nine frames the velocity has learnt most of it.
    assert np.allclose(tracker.velocity, [9, 4], atol=2.5)


def test_the_velocity_is_reset_on_a_lost_frame():
    frames, truth = moving_target_clip(8, (160, 240), 30, (30, 50), (6, 3), background="noise", seed=3)
    tracker, _ = track(frames[:6], truth[0], motion_lr=0.5)
    assert np.linalg.norm(tracker.velocity) > 2
    blank = noise_background(np.random.default_rng(9), 160, 240)  # the target is gone
    result = tracker.update(blank)
    assert result.lost
    np.testing.assert_array_equal(tracker.velocity, [0.0, 0.0])


def test_a_target_that_speeds_up_beyond_the_search_s_reach_is_kept_with_the_motion_model():
    frames, truth = accelerating_clip()
    _, without = track(frames, truth[0])
    _, with_motion = track(frames, truth[0], motion_lr=0.5)
    assert all(float(iou(np.array(r.box), t)) > 0.8 for r, t in zip(with_motion, truth[1:]))
    assert float(iou(np.array(without[-1].box), truth[-1])) < 0.1  # the paper's search, centred on the last box


def test_multitracker_searches_where_each_object_s_motion_model_says():
    frames, truth = accelerating_clip()
    multi = twintrack.MultiTracker("siamfc", device="cpu", motion_lr=0.5)
    index = multi.add(frames[0], truth[0])
    for frame in frames[1:]:
        results = multi.update(frame)
    assert float(iou(np.array(results[index].box), truth[-1])) > 0.8


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_motion_lr_out_of_range_is_a_config_error(value):
    with pytest.raises(UserError, match="motion_lr"):
        twintrack.create_tracker("siamfc", device="cpu", motion_lr=value)
