"""MultiTracker: ids, add/remove mid-video, object 1 tracks as a single tracker does, shared feature windows."""

from __future__ import annotations

import numpy as np
import pytest

import twintrack
import twintrack.app.multi as multi_module
from twintrack.errors import UserError
from twintrack.geometry import iou
from twintrack.app.multi import MultiTracker, read_windows, search_regions

from conftest import smooth_background, textured_patch

PATCH = 24


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def two_target_clip(count: int = 6, size=(120, 160)):
    """Two textured squares: A moves right/down, B moves left; returns frames and each target's true boxes."""
    rng = np.random.default_rng(3)
    patch_a, patch_b = textured_patch(rng, PATCH), textured_patch(rng, PATCH)
    frames, boxes_a, boxes_b = [], [], []
    for i in range(count):
        frame = smooth_background(*size)
        ax, ay, bx, by = 20 + 3 * i, 20 + 2 * i, 110 - 3 * i, 70
        frame[ay:ay + PATCH, ax:ax + PATCH] = patch_a
        frame[by:by + PATCH, bx:bx + PATCH] = patch_b
        frames.append(frame)
        boxes_a.append([ax, ay, PATCH, PATCH])
        boxes_b.append([bx, by, PATCH, PATCH])
    return frames, np.array(boxes_a, float), np.array(boxes_b, float)


def single_run(frames, box, start=0, **overrides):
    tracker = twintrack.create_tracker("siamfc", device="cpu", **overrides)
    tracker.init(frames[start], box)
    return np.array([tracker.update(frame).box for frame in frames[start + 1:]])


def test_ids_count_up_from_one_and_are_never_reused():
    frames, boxes_a, boxes_b = two_target_clip(3)
    multi = MultiTracker("siamfc", device="cpu")
    assert multi.update(frames[1]) == {}
    first = multi.add(frames[0], boxes_a[0])
    second = multi.add(frames[0], boxes_b[0])
    assert (first, second) == (1, 2) and multi.ids == [1, 2] and len(multi) == 2
    multi.remove(first)
    assert multi.ids == [2] and 1 not in multi
    assert multi.add(frames[1], boxes_a[1]) == 3
    with pytest.raises(UserError, match="no object 1"):
        multi.remove(1)


def test_a_bad_box_is_one_error_and_takes_no_id():
    frames, boxes_a, _ = two_target_clip(2)
    multi = MultiTracker("siamfc", device="cpu")
    with pytest.raises(UserError):
        multi.add(frames[0], (10, 10, 0, 5))
    assert multi.ids == [] and multi.add(frames[0], boxes_a[0]) == 1


def test_object_one_tracks_as_a_single_tracker():
    frames, boxes_a, boxes_b = two_target_clip()
    expected = single_run(frames, boxes_a[0])
    multi = MultiTracker("siamfc", device="cpu")
    a = multi.add(frames[0], boxes_a[0])
    b = multi.add(frames[0], boxes_b[0])
    tracked_a, tracked_b = [], []
    for frame in frames[1:]:
        results = multi.update(frame)
        assert set(results) == {a, b}
        tracked_a.append(results[a].box)
        tracked_b.append(results[b].box)
    tracked_a, tracked_b = np.array(tracked_a), np.array(tracked_b)
    np.testing.assert_allclose(tracked_a, expected, atol=1e-6)
    # Both objects are really tracked (the synthetic targets are easy; floors well below what SiamFC reaches).
    assert iou(tracked_a, boxes_a[1:]).mean() > 0.6
    assert iou(tracked_b, boxes_b[1:]).mean() > 0.6


def test_object_one_reading_a_shared_feature_map_tracks_as_a_single_tracker(monkeypatch):
    """Three objects close together ask for one scale: one canvas is cheaper than their crops, so their features
    are windows of one map; object 1's boxes stay those of a single tracker up to the bilinear reads."""
    frames, boxes_a, _ = two_target_clip()
    expected = single_run(frames, boxes_a[0])
    shared_reads = []
    real_read = multi_module.read_windows
    monkeypatch.setattr(multi_module, "read_windows",
                        lambda *args: shared_reads.append(len(args[3])) or real_read(*args))
    multi = MultiTracker("siamfc", device="cpu", share_features=True)
    first = multi.add(frames[0], boxes_a[0])
    for shift in ((4, 0, 0, 0), (0, 4, 0, 0)):
        multi.add(frames[0], boxes_a[0] + shift)
    tracked = np.array([multi.update(frame)[first].box for frame in frames[1:]])
    assert shared_reads and max(shared_reads) == 3
    assert iou(tracked, expected).min() > 0.9


def test_objects_added_and_removed_mid_video():
    frames, boxes_a, boxes_b = two_target_clip()
    multi = MultiTracker("siamfc", device="cpu", share_features=False)
    a = multi.add(frames[0], boxes_a[0])
    multi.update(frames[1])
    multi.update(frames[2])
    b = multi.add(frames[2], boxes_b[2])  # B joins on frame 2
    tracked_b = []
    for index, frame in enumerate(frames[3:], 3):
        results = multi.update(frame)
        tracked_b.append(results[b].box)
        if index == 4:
            multi.remove(a)
        assert set(results) == ({a, b} if index <= 4 else {b})
    # B, added on frame 2, tracks exactly as a single tracker started on frame 2.
    np.testing.assert_allclose(np.array(tracked_b), single_run(frames, boxes_b[2], start=2), atol=1e-6)


def test_shared_window_equals_the_crop_features_where_the_grid_aligns():
    frames, boxes_a, _ = two_target_clip(2)
    tracker = twintrack.create_tracker("siamfc", device="cpu")
    tracker.init(frames[0], boxes_a[0])
    regions = search_regions(tracker)
    crops = tracker.search_crop(frames[1])
    assert len(regions) == len(crops)
    k = len(regions) // 2
    cx, cy, side = regions[k]
    scale = tracker.config.search_size / side
    # A canvas that is exactly region k's crop: its map must be that crop's features, cell for cell.
    canvas = (cx - side / 2, cy - side / 2, scale, tracker.config.search_size, tracker.config.search_size)
    window = read_windows(tracker, frames[1], canvas, [regions[k]], tracker.config.search_size, tracker.avg_color)[0]
    expected = tracker.embed(crops[k:k + 1])
    np.testing.assert_allclose(window.numpy(), expected.numpy(), atol=1e-4)


def test_mdnet_runs_one_tracker_per_object_and_seeds_object_one_like_a_single_tracker():
    frames, boxes_a, boxes_b = two_target_clip(2)
    multi = MultiTracker("mdnet", device="cpu", seed=5)
    assert not multi.batched
    a = multi.add(frames[0], boxes_a[0])
    multi.add(frames[0], boxes_b[0])
    single = twintrack.create_tracker("mdnet", device="cpu", seed=5)
    single.init(frames[0], boxes_a[0])
    for frame in frames[1:]:
        np.testing.assert_allclose(multi.update(frame)[a].box, single.update(frame).box, atol=1e-4)


def test_device_crops_cut_every_object_in_one_call_and_track_as_cv2_crops(monkeypatch):
    """The path MultiTracker takes off the CPU (frame uploaded once, all objects' crops in one grid_sample), run
    here on CPU tensors: one crop call per frame for both objects, and the boxes of cv2's crops within a pixel."""
    frames, boxes_a, boxes_b = two_target_clip()
    pyramid = {"scale_mode": "pyramid", "scale_num": 5, "scale_step": 1.025}  # one search crop per object
    reference = MultiTracker("siamfc", device="cpu", **pyramid)
    for box in (boxes_a[0], boxes_b[0]):
        reference.add(frames[0], box)
    expected = [reference.update(frame) for frame in frames[1:]]

    calls = []
    real_crop = multi_module.crop_resize
    monkeypatch.setattr(multi_module, "crop_resize", lambda *args: calls.append(len(args[1])) or real_crop(*args))
    multi = MultiTracker("siamfc", device="cpu", **pyramid)
    multi.device_crops = True
    for box in (boxes_a[0], boxes_b[0]):
        multi.add(frames[0], box)
    for frame, want in zip(frames[1:], expected):
        got = multi.update(frame)
        for object_id in want:
            np.testing.assert_allclose(got[object_id].box, want[object_id].box, atol=1.0)
    assert calls == [2] * (len(frames) - 1)  # one call per frame, one crop per object (pyramid mode)


@pytest.mark.gpu
def test_multitracker_on_cuda_cuts_crops_on_the_device():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    frames, boxes_a, boxes_b = two_target_clip()
    multi = MultiTracker("siamfc", device="cuda")
    assert multi.device_crops
    a, b = multi.add(frames[0], boxes_a[0]), multi.add(frames[0], boxes_b[0])
    tracked = [multi.update(frame) for frame in frames[1:]]
    assert iou(np.array([r[a].box for r in tracked]), boxes_a[1:]).mean() > 0.6
    assert iou(np.array([r[b].box for r in tracked]), boxes_b[1:]).mean() > 0.6
