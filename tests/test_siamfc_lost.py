"""SiamFC's calibrated lost-target score (TrackResult.score / .lost) on videos with the target removed, the
response features it reads, and the local peak search against the full upsampled map."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import twintrack
from conftest import make_random_net, moving_target_clip, noise_background, require_shared_data
from twintrack.configs import load_config
from twintrack.data.images import read_image
from twintrack.eval.sequences import load_folder_sequences
from twintrack.geometry import xywh_to_cxcywh
from twintrack.tracker.siamfc import SiamFCTracker


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


def target_removed_clip():
    """30 frames 200x240: a 40-pixel texture moving 3 px right, 1 px down per frame over noise; in frames 12-21
    it is gone (noise only), then it is back, 30 px further on."""
    frames, truth = moving_target_clip(30, (200, 240), 40, (40, 60), (3, 1), background="noise", seed=0)
    rng = np.random.default_rng(9)
    for i in range(12, 22):
        frames[i] = noise_background(rng, 200, 240)
    return frames, truth


def track(tracker, frames, init_box):
    tracker.init(frames[0], init_box)
    return [tracker.update(frame) for frame in frames[1:]]


# Measured with the shipped weights and preset: present frames score 0.99-1.0 (none lost), removed frames 0.10-0.16
# (all lost).
def test_a_removed_target_is_reported_lost_and_the_box_does_not_run_away():
    frames, truth = target_removed_clip()
    results = track(twintrack.create_tracker("siamfc", device="cpu"), frames, truth[0])
    lost = np.array([r.lost for r in results])
    scores = np.array([r.score for r in results])
    np.testing.assert_array_equal(lost, scores < 0.5)
    assert not lost[:11].any(), np.round(scores, 2)  # frames 1-11: present
    assert lost[11:21].mean() >= 0.8, np.round(scores, 2)  # frames 12-21: removed
    gone = np.array([r.box for r in results[11:21]])
    # The size never changes while lost (SiamFC's tracked size: the box regression refines located frames only).
    np.testing.assert_allclose(gone[:, 2:], np.tile(gone[0, 2:], (10, 1)))


def paint_out(frame: np.ndarray, box) -> np.ndarray:
    """The box (enlarged 25%) covered by the equal-sized region to its left or right (bench/siamfc_lost.py's way)."""
    cx, cy, w, h = xywh_to_cxcywh(np.asarray(box, dtype=np.float64))
    x0, y0 = max(int(cx - 0.625 * w), 0), max(int(cy - 0.625 * h), 0)
    x1, y1 = min(int(cx + 0.625 * w) + 1, frame.shape[1]), min(int(cy + 0.625 * h) + 1, frame.shape[0])
    dx = -(x1 - x0) if x0 - (x1 - x0) >= 0 else x1 - x0
    out = frame.copy()
    out[y0:y1, x0:x1] = frame[y0:y1, x0 + dx : x1 + dx]
    return out


def test_target_painted_out_of_a_real_sequence_is_reported_lost():
    # val/bag: frames 1-39 as they are, then frames 40-69 with the bag painted out. Measured: no present frame
    # lost (scores 0.66-0.97), 30 of 30 painted frames lost (scores 0.02-0.44).
    sequence = load_folder_sequences(require_shared_data("sot", "val", "bag"))[0]
    frames = [read_image(path) for path in sequence.frames[:70]]
    frames = frames[:40] + [paint_out(f, b) for f, b in zip(frames[40:], sequence.ground_truth[40:70])]
    results = track(twintrack.create_tracker("siamfc", device="cpu"), frames, sequence.ground_truth[0])
    lost = np.array([r.lost for r in results])
    assert lost[:39].mean() <= 0.1, np.round([r.score for r in results], 2)
    assert lost[39:].mean() >= 0.8, np.round([r.score for r in results], 2)


def test_score_features_by_hand():
    tracker = SiamFCTracker(make_random_net(0), load_config("siamfc"), torch.device("cpu"))
    tracker.self_peak = tracker.head_bias + 8.0
    response = np.zeros((17, 17), np.float32)
    response[::2, ::2] = 1.0  # sidelobe: 0 and 1 in a checkerboard
    response[8, 8] = tracker.head_bias + 4.0
    peak, ratio, psr = tracker.score_features(response)
    assert peak == pytest.approx(tracker.head_bias + 4.0)
    assert ratio == pytest.approx(0.5)  # (peak - bias) / (first frame's peak - bias)
    mask = np.ones((17, 17), bool)
    mask[6:11, 6:11] = False
    expected = (peak - response[mask].mean()) / (response[mask].std() + 1e-6)
    assert psr == pytest.approx(expected, rel=1e-5)
    weights = tracker.calibration  # the shipped weights' (a random network carries none of its own)
    logit = weights.bias + weights.peak * peak + weights.ratio * ratio + weights.psr * psr
    assert tracker.score(np.array([peak, ratio, psr])) == pytest.approx(1 / (1 + np.exp(-logit)))


def test_local_peak_search_equals_the_full_upsampled_map_on_single_peaks():
    # The slow obvious version: upsample the whole map, normalise, add the window, argmax (the paper's code).
    tracker = SiamFCTracker(make_random_net(0), load_config("siamfc"), torch.device("cpu"))
    cfg = tracker.config
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:17, 0:17]
    for _ in range(200):
        cy, cx = rng.uniform(0, 16, 2)
        response = (rng.uniform(1, 5) * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / rng.uniform(1, 8))
                    + rng.normal(0, 0.05, (17, 17)) - rng.uniform(0, 5)).astype(np.float32)
        full = cv2.resize(response, (272, 272), interpolation=cv2.INTER_CUBIC)
        full -= full.min()
        full = (1 - cfg.window_influence) * full / full.sum() + cfg.window_influence * tracker.window
        expected = np.unravel_index(int(np.argmax(full)), full.shape)
        # Equal to within one upsampled pixel: the local search normalises with the coarse map's sum and minimum.
        assert np.abs(np.subtract(tracker._peak(response), expected)).max() <= 1
