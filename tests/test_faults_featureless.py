"""A uniform picture (a black or grey video, a covered lens) shows no target: SiamFC says so and stays put."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import twintrack
from conftest import make_random_net
from twintrack.configs import load_config
from twintrack.tracker.siamfc import SiamFCTracker

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("fill", [0, 128, 255])
@pytest.mark.parametrize("first_textured", [True, False])
def test_siamfc_reports_a_uniform_picture_lost_and_holds_its_box(fill, first_textured):
    flat = np.full((240, 320, 3), fill, np.uint8)
    first = np.random.default_rng(0).integers(0, 256, flat.shape, dtype=np.uint8) if first_textured else flat
    tracker = twintrack.create_tracker("siamfc", device="cpu")
    tracker.init(first, [100.0, 80.0, 40.0, 30.0])
    for _ in range(4):
        result = tracker.update(flat)
        assert result.lost and result.score == 0.0
        np.testing.assert_allclose(result.box, [100.0, 80.0, 40.0, 30.0])


def test_siamfc_finds_the_target_again_when_the_picture_returns():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    tracker = twintrack.create_tracker("siamfc", device="cpu")
    tracker.init(frame, [100.0, 80.0, 40.0, 30.0])
    assert tracker.update(np.zeros_like(frame)).lost
    back = tracker.update(frame)
    assert not back.lost
    assert np.abs(back.box[:2] - [100.0, 80.0]).max() < 4


def test_a_featureless_first_frame_then_a_picture_scores_without_dividing_by_zero():
    tracker = SiamFCTracker(make_random_net(0), load_config("siamfc"), torch.device("cpu"))
    tracker.init(np.full((120, 160, 3), 128, np.uint8), [60.0, 40.0, 30.0, 30.0])
    tracker.self_peak = tracker.head_bias  # a flat exemplar's own peak: no yardstick for the ratio
    result = tracker.update(np.random.default_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8))
    assert 0.0 <= result.score <= 1.0 and np.isfinite(result.box).all()
