"""DSST's scale filter (tracker/scale_filter.py) and SiamFC's ``scale_filter`` option (issue 11)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import twintrack
from conftest import smooth_background, textured_patch
from twintrack.errors import UserError
from twintrack.tracker.scale_filter import BINS, CELL, ScaleFilter, hog_features, model_size


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


def ramp(angle: float, side: int = 16) -> np.ndarray:
    """A (1, side, side, 3) patch whose brightness grows along ``angle`` (radians): one gradient direction."""
    ys, xs = np.mgrid[0:side, 0:side]
    values = 100 + 4 * (np.cos(angle) * xs + np.sin(angle) * ys)
    return np.repeat(values[None, ..., None], 3, axis=3).astype(np.float32)


def test_hog_shape_is_cells_by_bins_plus_four():
    patches = np.zeros((5, 18, 13, 3), np.uint8)  # 18 x 13 pixels -> 4 x 3 whole cells
    assert hog_features(patches).shape == (5, 18 // CELL, 13 // CELL, BINS + 4)


@pytest.mark.parametrize("angle, votes", [
    (0.0, {0: 0.5, BINS - 1: 0.5}),         # bin centres at 10, 30, ... degrees: 0 lies halfway between 170 and 10
    (np.pi / 4, {1: 0.25, 2: 0.75}),        # 45 degrees: 1.75 bins -> 0.25 to bin 1, 0.75 to bin 2
    (np.pi + np.pi / 4, {1: 0.25, 2: 0.75}),  # unsigned: the opposite direction votes the same
])
def test_hog_splits_each_pixel_between_the_two_nearest_orientation_bins(angle, votes):
    # Cells whose four 2x2 blocks lie inside a pure ramp (away from the edge-replicated border): every cell holds
    # the same histogram h, each block's energy is 4 |h|^2, so each normalization is h / (2 |h|) truncated at 0.2;
    # the bins are the four normalizations' sum, the texture features 0.2357 x each one's total.
    features = hog_features(ramp(angle, side=32))[0, 2:-2, 2:-2]
    shares = np.zeros(BINS)
    for index, share in votes.items():
        shares[index] = share
    normalized = np.minimum(shares / (2 * np.linalg.norm(shares)), 0.2)
    expected = np.concatenate([4 * 0.5 * normalized, np.full(4, 0.2357 * normalized.sum())])
    for cell in features.reshape(-1, BINS + 4):
        np.testing.assert_allclose(cell, expected, atol=1e-4)


def test_hog_is_contrast_invariant_inside_its_truncation():
    patch = ramp(np.pi / 3)
    np.testing.assert_allclose(hog_features(patch), hog_features(patch * 3), rtol=1e-4, atol=1e-6)


def test_model_size_shrinks_large_targets_to_dsst_s_area_and_keeps_whole_cells():
    assert model_size((32, 16)) == (32, 16)
    assert model_size((128, 64)) == (32, 16)       # sqrt(512 / 8192) = 1/4
    assert model_size((30, 10)) == (28, 8)         # small: as is, cut to whole cells
    assert model_size((3, 200)) == (8, 184)        # x sqrt(512 / 600) = 0.924: 2.8 -> 8 (two cells), 184.8 -> 184
    for w, h in [(7, 9), (500, 20), (41, 333)]:
        mw, mh = model_size((w, h))
        assert mw % CELL == 0 and mh % CELL == 0 and mw >= 2 * CELL and mh >= 2 * CELL


def textured_frame(seed: int = 0, size=(240, 320)) -> tuple[np.ndarray, np.ndarray]:
    """A textured 60x40 target on a smooth background, and its box."""
    rng = np.random.default_rng(seed)
    frame = smooth_background(*size)
    frame[100:140, 130:190] = textured_patch(rng, 60)[:40]
    return frame, np.array([130.0, 100.0, 60.0, 40.0])


def zoom_about(frame: np.ndarray, center, factor: float) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), 0, factor)
    return cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]), flags=cv2.INTER_LINEAR)


@pytest.mark.parametrize("zoom", [0.88, 0.94, 1.0, 1.06, 1.12])
def test_the_filter_measures_a_zoom_of_the_frame_to_within_one_scale_step(zoom):
    frame, box = textured_frame()
    center, size = box[:2] + box[2:] / 2, box[2:]
    scale_filter = ScaleFilter(frame, center, size, num=33, step=1.02)
    estimate = scale_filter.estimate(zoom_about(frame, center, zoom), center, size)
    assert estimate in scale_filter.factors
    assert abs(np.log(estimate / zoom)) <= np.log(1.02) + 1e-9


def test_learning_blends_the_model_at_the_rate_and_one_replaces_it():
    frame, box = textured_frame()
    center, size = box[:2] + box[2:] / 2, box[2:]
    scale_filter = ScaleFilter(frame, center, size, lr=0.25)
    first_num, first_den = scale_filter.numerator.copy(), scale_filter.denominator.copy()
    other = zoom_about(frame, center, 1.1)
    fresh = ScaleFilter(other, center, size)
    scale_filter.learn(other, center, size)
    np.testing.assert_allclose(scale_filter.numerator, 0.75 * first_num + 0.25 * fresh.numerator, rtol=1e-6)
    np.testing.assert_allclose(scale_filter.denominator, 0.75 * first_den + 0.25 * fresh.denominator, rtol=1e-6)
    scale_filter.learn(other, center, size, rate=1.0)
    np.testing.assert_allclose(scale_filter.numerator, fresh.numerator, rtol=1e-6)


def growing_clip(count: int = 10, growth: float = 1.04):
    """The textured target zoomed by ``growth`` more on each frame, about its centre."""
    frame, box = textured_frame()
    center = box[:2] + box[2:] / 2
    frames = [zoom_about(frame, center, growth ** i) for i in range(count)]
    sizes = np.array([box[2:] * growth ** i for i in range(count)])
    return frames, box, sizes


def test_siamfc_with_the_filter_takes_its_size_change_whole_on_located_frames():
    frames, box, sizes = growing_clip()
    tracker = twintrack.create_tracker("siamfc", device="cpu", scale_filter=True)
    tracker.init(frames[0], box)
    assert tracker.scale_filter is not None
    said = []
    estimate = tracker.scale_filter.estimate

    def recording(frame, center, size):
        said.append((np.array(center), np.array(size), estimate(frame, center, size)))
        return said[-1][2]

    tracker.scale_filter.estimate = recording
    for frame in frames[1:]:
        before = tracker.target_size.copy()
        result = tracker.update(frame)
        assert not result.lost
        center, size, factor = said[-1]
        # Read at the frame's new centre with the size before it; the factor taken whole, not at scale_lr.
        np.testing.assert_array_equal(center, tracker.center)
        np.testing.assert_array_equal(size, before)
        np.testing.assert_allclose(tracker.target_size, before * factor, rtol=1e-12)
    assert len(said) == len(frames) - 1
    # 1.04 a frame for 9 frames (1.42x): the filter follows to within 10%.
    assert abs(np.log(tracker.target_size[0] / sizes[-1][0])) < np.log(1.1)


def test_siamfc_without_the_filter_has_none_and_keeps_the_paper_s_scale_update():
    frames, box, _ = growing_clip(count=3)
    tracker = twintrack.create_tracker("siamfc", device="cpu")
    tracker.init(frames[0], box)
    assert tracker.scale_filter is None
    tracker.update(frames[1])
    ratio = tracker.target_size[0] / box[2]
    step, lr = tracker.config.scale_step, tracker.config.scale_lr
    assert any(np.isclose(ratio, (1 - lr) + lr * f) for f in (1 / step, 1.0, step))


@pytest.mark.parametrize("key, value", [("scale_filter_num", 2), ("scale_filter_step", 1.0),
                                        ("scale_filter_lr", 0.0), ("scale_filter_lr", 1.5)])
def test_bad_scale_filter_values_are_one_line_errors(key, value):
    with pytest.raises(UserError, match=key):
        twintrack.create_tracker("siamfc", device="cpu", scale_filter=True, **{key: value})


def test_scale_min_score_keeps_the_size_on_frames_scored_below_it():
    frames, box, _ = growing_clip(count=6, growth=1.05)
    held = twintrack.create_tracker("siamfc", device="cpu", scale_min_score=1.0)  # no frame scores above 1
    held.init(frames[0], box)
    paper = twintrack.create_tracker("siamfc", device="cpu")  # 0.5: every located frame, as the paper
    paper.init(frames[0], box)
    for frame in frames[1:]:
        assert not held.update(frame).lost
        paper.update(frame)
        np.testing.assert_array_equal(held.target_size, box[2:])
    assert paper.target_size[0] > box[2] * 1.03  # the paper's tracker grew with the target


@pytest.mark.parametrize("value", [0.4, 1.1])
def test_scale_min_score_outside_its_range_is_a_one_line_error(value):
    with pytest.raises(UserError, match="scale_min_score"):
        twintrack.create_tracker("siamfc", device="cpu", scale_min_score=value)
