"""SiamFC's colour cue (``color_weight``, Staple's colour histograms; tracker/color_prior.py): the model's
probabilities and box scores against hand-computed values, and the cue turning a tie between two peaks towards the
target's colour. Whether the preset turns it on is decided by bench/selection.py (docs/selection.md), not here."""

from __future__ import annotations

import numpy as np
import pytest

import twintrack
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.tracker.color_prior import ColorModel, LookalikeColorModel, bin_index, target_density

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


# ------------------------------------------------------------------ DAT's look-alike background (color_background)
def test_lookalike_model_says_nothing_until_a_lookalike_is_seen_then_weighs_the_target_against_it():
    crop = red_square_on_blue()
    model = LookalikeColorModel(crop, np.array([5.0, 5.0, 6.0, 6.0]))
    assert not model.active and model.probability is None
    # A look-alike box at rows/columns 12..17 (blue) that overlaps nothing of the target; blue surrounds the target
    # too, but only the look-alike's pixels count as background.
    seen = crop.copy()
    seen[12:18, 12:15] = GREEN  # columns 12..14 green, 15..17 blue: half and half
    model.add_lookalikes(seen, np.array([5.0, 5.0, 6.0, 6.0]), np.array([[12.0, 12.0, 6.0, 6.0]]), rate=0.5)
    assert model.active
    probability = model.pixel_map(seen)
    assert probability[7, 7] == pytest.approx(1.0, abs=1e-4)  # red: the target's only
    assert probability[13, 13] == pytest.approx(0.0, abs=1e-4)  # green: the look-alike's only
    assert probability[0, 0] == pytest.approx(0.0, abs=1e-4)  # blue: in the look-alike, not in the target


def test_lookalike_model_blends_later_lookalikes_and_leaves_the_targets_own_pixels_out():
    crop = red_square_on_blue()
    target = np.array([5.0, 5.0, 6.0, 6.0])
    model = LookalikeColorModel(crop, target)
    green = np.empty((20, 20, 3), dtype=np.uint8)
    green[:] = GREEN
    green[5:11, 5:11] = RED
    # A look-alike box covering the target's (rows/columns 5..10) and green beyond it: only the green counts.
    model.add_lookalikes(green, target, np.array([[3.0, 3.0, 10.0, 10.0]]), rate=0.5)
    assert model.pixel_map(crop)[7, 7] == pytest.approx(1.0, abs=1e-4)  # red stays the target's
    blue = crop.copy()
    model.add_lookalikes(blue, target, np.array([[12.0, 12.0, 6.0, 6.0]]), rate=0.25)  # all blue
    probability = model.pixel_map(np.array([[GREEN, BLUE]], dtype=np.uint8))[0]
    # Look-alike densities: green 0.75, blue 0.25; the target has neither: both 0 (not 0.5: seen as look-alikes).
    np.testing.assert_allclose(probability, [0.0, 0.0], atol=1e-4)
    mixed = LookalikeColorModel(crop, np.array([5.0, 5.0, 6.0, 12.0]))  # rows 5..16: 6x6 red + 6x6 blue
    mixed.add_lookalikes(crop, np.array([5.0, 5.0, 6.0, 6.0]), np.array([[12.0, 0.0, 6.0, 6.0]]), rate=1.0)
    # Blue: 0.5 of the target's pixels, 1.0 of the look-alike's -> 0.5 / 1.5.
    assert mixed.pixel_map(crop)[0, 0] == pytest.approx(1 / 3, abs=1e-4)


def test_a_lookalike_peak_teaches_the_tracker_its_colour_and_turns_the_cue_on():
    first = two_squares_frame((144, 104), (174, 104))  # the red target centred at (160, 120), blue 30 px right
    tracker = twintrack.create_tracker("siamfc", device="cpu", color_weight=0.5, color_background="lookalikes")
    tracker.init(first, np.array([144.0, 104.0, 32.0, 32.0]))
    assert not tracker.color_model.active
    response = np.full((17, 17), -1.0, dtype=np.float32)
    response = tracker.head_bias + response
    cells = 30 * 255 / tracker.search_side / 8  # the blue square's centre, in cells right of the centre
    right = int(round(8 + cells))
    response[8, 8] = tracker.head_bias + 2.0  # the target, at the centre cell
    response[8, right] = tracker.head_bias + 1.5  # a look-alike peak above distractor_threshold (0.5) x the top
    up = tracker.config.response_up
    tracker._learn_lookalike_colors(first, response, 8 * up + up // 2, 8 * up + up // 2, tracker.center, 1.0, 1.0)
    assert tracker.color_model.active
    probability = tracker.color_model.pixel_map(first)
    assert probability[120, 160] == pytest.approx(1.0, abs=1e-3)  # red: the target's
    assert probability[120, 195] == pytest.approx(0.0, abs=1e-3)  # blue: the look-alike's
    assert probability[10, 10] == pytest.approx(0.5, abs=1e-3)  # grey: in neither box


def test_the_lookalike_cue_tracks_and_is_off_until_a_lookalike_appears():
    frames = [two_squares_frame((100 + 4 * i, 104 + 2 * i), (230, 60)) for i in range(8)]
    truth = [np.array([100 + 4 * i, 104 + 2 * i, 32, 32], dtype=np.float64) for i in range(8)]
    preset = twintrack.create_tracker("siamfc", device="cpu")
    dat = twintrack.create_tracker("siamfc", device="cpu", color_weight=0.3, color_background="lookalikes")
    preset.init(frames[0], truth[0])
    dat.init(frames[0], truth[0])
    for frame, true_box in zip(frames[1:], truth[1:]):
        expected = preset.update(frame).box
        active = dat.color_model.active
        box = dat.update(frame).box
        if not active:  # no look-alike seen yet: the preset's box
            np.testing.assert_array_equal(box, expected)
        centre = box[:2] + box[2:] / 2
        assert np.abs(centre - (true_box[:2] + 16)).max() < 6


def test_lookalike_colours_are_learnt_only_on_frames_scored_at_least_color_learn_min_score(monkeypatch):
    frames = [two_squares_frame((100 + 4 * i, 104 + 2 * i), (150 + 4 * i, 104)) for i in range(6)]
    first_box = np.array([100.0, 104.0, 32.0, 32.0])
    learnt = {}
    for threshold in (0.5, 1.0):  # 1.0: no score reaches it (a probability below 1)
        tracker = twintrack.create_tracker("siamfc", device="cpu", color_weight=0.3, color_background="lookalikes",
                                           color_learn_min_score=threshold)
        calls = []
        monkeypatch.setattr(tracker, "_learn_lookalike_colors", lambda *args, calls=calls: calls.append(args))
        tracker.init(frames[0], first_box)
        located = sum(not tracker.update(frame).lost for frame in frames[1:])
        learnt[threshold] = (len(calls), located)
    assert learnt[0.5][0] == learnt[0.5][1] > 0  # every located frame (score >= 0.5)
    assert learnt[1.0][0] == 0


# ------------------------------------------------------- the target's colours from a loose box (color_foreground)
LOOSE_BOX = np.array([5.0, 5.0, 6.0, 12.0])  # rows 5..16 of red_square_on_blue: 36 red pixels over 36 blue


def test_contrast_foreground_weights_the_boxs_pixels_by_their_colour_against_the_surroundings():
    crop = red_square_on_blue()
    bins = bin_index(crop)
    inside = np.zeros(bins.shape, dtype=bool)
    inside[5:17, 5:11] = True
    red, blue = bin_index(np.array([[RED, BLUE]], dtype=np.uint8))[0]
    box = target_density(bins, inside, "box")
    assert (box[red], box[blue]) == pytest.approx((0.5, 0.5))
    # Outside the box all is blue (density 1). Red's foreground probability: 0.5 / (0.5 + 0) = 1; blue's:
    # 0.5 / (0.5 + 1) = 1/3. Weighted counts: 36 x 1 red, 36 x 1/3 = 12 blue -> densities 36/48, 12/48.
    contrast = target_density(bins, inside, "contrast")
    assert (contrast[red], contrast[blue]) == pytest.approx((0.75, 0.25), abs=1e-5)
    assert contrast.sum() == pytest.approx(1.0)


def test_contrast_foreground_lowers_a_loose_boxs_background_in_both_colour_models():
    crop = red_square_on_blue()
    # Staple's model: blue = fg / (fg + bg) = 0.5 / 1.5 with the whole box, 0.25 / 1.25 with contrast.
    assert ColorModel(crop, LOOSE_BOX).pixel_map(crop)[0, 0] == pytest.approx(1 / 3, abs=1e-4)
    assert ColorModel(crop, LOOSE_BOX, foreground="contrast").pixel_map(crop)[0, 0] == pytest.approx(0.2, abs=1e-4)
    # DAT's model against an all-blue look-alike (density 1): the same two ratios; red stays the target's.
    for foreground, blue in (("box", 1 / 3), ("contrast", 0.2)):
        model = LookalikeColorModel(crop, LOOSE_BOX, foreground=foreground)
        model.add_lookalikes(crop, LOOSE_BOX, np.array([[12.0, 0.0, 6.0, 6.0]]), rate=1.0)
        probability = model.pixel_map(crop)
        assert probability[0, 0] == pytest.approx(blue, abs=1e-4)
        assert probability[7, 7] == pytest.approx(1.0, abs=1e-4)
    # A tight box has no background to weigh down: contrast changes nothing.
    tight = np.array([5.0, 5.0, 6.0, 6.0])
    np.testing.assert_allclose(ColorModel(crop, tight, foreground="contrast").probability,
                               ColorModel(crop, tight).probability, atol=1e-6)


def test_the_tracker_passes_color_foreground_to_its_colour_model():
    frame = two_squares_frame((144, 104), (174, 104))
    for foreground in ("box", "contrast"):
        tracker = twintrack.create_tracker("siamfc", device="cpu", color_weight=0.3, color_background="lookalikes",
                                           color_foreground=foreground)
        tracker.init(frame, np.array([144.0, 104.0, 32.0, 32.0]))
        assert tracker.color_model.foreground_mode == foreground


def test_colour_background_is_checked():
    with pytest.raises(UserError, match="color_foreground"):
        load_config("siamfc", {"color_foreground": "segment"})
    with pytest.raises(UserError, match="color_background"):
        load_config("siamfc", {"color_background": "forest"})
    with pytest.raises(UserError, match="color_learn_min_score"):
        load_config("siamfc", {"color_learn_min_score": 0.4})
