"""SiamFC's colour cue (``color_weight``, Staple's colour histograms; tracker/color_prior.py): the model's
probabilities and box scores against hand-computed values, and the cue turning a tie between two peaks towards the
target's colour. Whether the preset turns it on is decided by bench/selection.py (docs/selection.md), not here."""

from __future__ import annotations

import numpy as np
import pytest

import twintrack
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.tracker.color_prior import ColorModel, bin_index

RED, BLUE, GREEN = (200, 10, 10), (10, 10, 200), (10, 200, 10)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


def red_square_on_blue() -> np.ndarray:
    crop = np.empty((20, 20, 3), dtype=np.uint8)
    crop[:] = BLUE
    crop[5:11, 5:11] = RED  # rows and columns 5..10
    return crop


def test_bins_are_32_levels_per_channel_joint():
    pixels = np.array([[[0, 0, 0], [7, 7, 7], [8, 0, 0], [0, 8, 0], [0, 0, 8], [255, 255, 255]]], dtype=np.uint8)
    assert bin_index(pixels).tolist() == [[0, 0, 1024, 32, 1, 32 ** 3 - 1]]


def test_foreground_probability_is_one_inside_zero_outside_and_half_for_unseen_colours():
    model = ColorModel(red_square_on_blue(), np.array([5.0, 5.0, 6.0, 6.0]))
    probability = model.pixel_map(red_square_on_blue())
    assert probability[5:11, 5:11] == pytest.approx(np.ones((6, 6)), abs=1e-4)  # red: only in the box
    assert probability[0, 0] == pytest.approx(0.0, abs=1e-4)  # blue: only around it
    unseen = np.empty((1, 1, 3), dtype=np.uint8)
    unseen[:] = GREEN
    assert model.pixel_map(unseen)[0, 0] == pytest.approx(0.5)


def test_box_scores_are_the_mean_probability_in_a_box_at_each_centre():
    crop = red_square_on_blue()
    model = ColorModel(crop, np.array([5.0, 5.0, 6.0, 6.0]))
    centres = np.array([[8.0, 8.0], [11.0, 8.0], [16.0, 16.0], [0.0, 0.0]])
    scores = model.box_scores(model.pixel_map(crop), centres, (6.0, 6.0))
    # (8, 8): columns/rows 5..10, all red -> 1. (11, 8): columns 8..13, of which 8..10 red -> 3/6.
    # (16, 16): columns/rows 13..18, all blue -> 0. (0, 0): clipped to columns/rows 0..2, all blue -> 0.
    np.testing.assert_allclose(scores, [1.0, 0.5, 0.0, 0.0], atol=1e-4)


def test_update_blends_the_probabilities_at_its_rate():
    crop = red_square_on_blue()
    model = ColorModel(crop, np.array([5.0, 5.0, 6.0, 6.0]))
    swapped = crop.copy()
    swapped[:] = RED
    swapped[5:11, 5:11] = BLUE  # now blue is the target's colour, red the surroundings'
    model.update(swapped, np.array([5.0, 5.0, 6.0, 6.0]), rate=0.25)
    probability = model.pixel_map(crop)
    assert probability[7, 7] == pytest.approx(0.75, abs=1e-4)  # red: 0.75 x 1 + 0.25 x 0
    assert probability[0, 0] == pytest.approx(0.25, abs=1e-4)  # blue: 0.75 x 0 + 0.25 x 1


def two_squares_frame(target_xy, other_xy, side=32) -> np.ndarray:
    frame = np.full((240, 320, 3), 128, dtype=np.uint8)
    frame[other_xy[1] : other_xy[1] + side, other_xy[0] : other_xy[0] + side] = BLUE
    frame[target_xy[1] : target_xy[1] + side, target_xy[0] : target_xy[0] + side] = RED
    return frame


def test_the_colour_cue_breaks_a_tie_towards_the_targets_colour():
    # The target centred at (160, 120), a blue square in its search region (128 px a side): background colour.
    first = two_squares_frame((144, 104), (186, 150))
    tracker = twintrack.create_tracker("siamfc", device="cpu", color_weight=0.5)
    tracker.init(first, np.array([144.0, 104.0, 32.0, 32.0]))
    # Next frame: the red target 24 px left of the last centre, a blue square 24 px right of it. A response with
    # two equal peaks, at the cells pointing at each; the colour cue must pick the red one.
    frame = two_squares_frame((120, 104), (168, 104))
    search_px_per_frame_px = 255 / tracker.search_side
    cells = 24 * search_px_per_frame_px / 8  # cells from the centre (8 search pixels per cell)
    left, right = int(round(8 - cells)), int(round(8 + cells))
    response = np.zeros((17, 17), dtype=np.float32)
    response[8, left] = response[8, right] = 1.0
    located = tracker._with_color(response, frame, tracker.center, zoom_side=1.0, target_scale=1.0)
    assert located[8, left] > located[8, right] + 0.3
    assert np.all(response[8, [left, right]] == 1.0)  # a new array: the score's response is untouched
    off = twintrack.create_tracker("siamfc", device="cpu")
    off.init(first, np.array([144.0, 104.0, 32.0, 32.0]))
    assert off.color_model is None


def test_the_colour_cue_stands_down_where_the_targets_colour_fills_the_region():
    first = two_squares_frame((144, 104), (186, 150))
    tracker = twintrack.create_tracker("siamfc", device="cpu", color_weight=0.5)
    tracker.init(first, np.array([144.0, 104.0, 32.0, 32.0]))
    all_red = np.empty_like(first)
    all_red[:] = RED  # every box scores 1, as does the region's mean: the gate is 0
    response = np.random.default_rng(0).random((17, 17)).astype(np.float32)
    located = tracker._with_color(response, all_red, tracker.center, zoom_side=1.0, target_scale=1.0)
    np.testing.assert_allclose(located, response, atol=1e-6)


def test_the_colour_cue_still_tracks_and_its_off_value_changes_nothing():
    frames = [two_squares_frame((100 + 4 * i, 104 + 2 * i), (230, 60)) for i in range(8)]
    truth = [np.array([100 + 4 * i, 104 + 2 * i, 32, 32], dtype=np.float64) for i in range(8)]
    boxes = {}
    for name, overrides in {"preset": {}, "off": {"color_weight": 0.0, "color_lr": 0.5},
                            "sure": {"color_weight": 0.3, "color_max_score": 1e-9},  # no frame scores below
                            "on": {"color_weight": 0.3, "color_lr": 0.04}}.items():
        tracker = twintrack.create_tracker("siamfc", device="cpu", **overrides)
        tracker.init(frames[0], truth[0])
        boxes[name] = np.array([tracker.update(frame).box for frame in frames[1:]])
    np.testing.assert_array_equal(boxes["off"], boxes["preset"])
    np.testing.assert_array_equal(boxes["sure"], boxes["preset"])
    centres = boxes["on"][:, :2] + boxes["on"][:, 2:] / 2
    expected = np.array(truth[1:])[:, :2] + 16
    assert np.abs(centres - expected).max() < 6


@pytest.mark.parametrize("key,value", [("color_weight", -0.1), ("color_lr", 1.5), ("color_max_score", 0.0)])
def test_colour_options_are_checked(key, value):
    with pytest.raises(UserError, match=key):
        load_config("siamfc", {key: value})
