"""SiamFC's inference-time options (issue 11): the distractor-aware response, the gated template update and the
wider search while lost; the preset (all off) tracks exactly as before; the fp32 conv layers are freed (issue 10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import twintrack
from conftest import moving_target_clip, noise_background, textured_patch
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.geometry import iou

# Boxes and scores of the code before the options (commit 8921648), precision fp32, one torch thread, the shipped
# weights, on moving_target_clip(16, (160, 200), 40, (30, 50), (6, 3), background="noise", seed=3): frames 1-15.
BEFORE = {
    "pyramid": {
        "boxes": [[35.2294, 52.7097, 41.1947, 41.1947], [40.2906, 55.176, 42.4252, 42.4252],
                  [46.4707, 57.6814, 42.4252, 42.4252], [52.6507, 61.5231, 42.4252, 42.4252],
                  [58.1626, 63.3604, 42.4252, 42.4252], [64.3427, 67.5361, 42.4252, 42.4252],
                  [70.5227, 69.3734, 42.4252, 42.4252], [76.3687, 73.215, 42.4252, 42.4252],
                  [82.5488, 75.7205, 42.4252, 42.4252], [88.3948, 79.2281, 42.4252, 42.4252],
                  [94.5748, 81.7335, 42.4252, 42.4252], [100.4208, 85.2411, 42.4252, 42.4252],
                  [106.2668, 87.4125, 42.4252, 42.4252], [112.4468, 91.2541, 42.4252, 42.4252],
                  [118.2928, 93.7595, 42.4252, 42.4252]],
        "scores": [0.99045, 0.97301, 0.9682, 0.97733, 0.97951, 0.98888, 0.9796, 0.9888, 0.96625, 0.97988, 0.96452,
                   0.96501, 0.96414, 0.97031, 0.9546],
    },
    "search3": {
        "boxes": [[35.7391, 53.3105, 39.147, 39.147], [42.2471, 56.8475, 38.3122, 38.3122],
                  [48.6163, 60.0183, 37.4951, 37.4951], [54.6687, 63.4135, 37.4951, 37.4951],
                  [60.9021, 66.2321, 36.6956, 36.6956], [67.8381, 70.1046, 35.913, 35.913],
                  [73.3523, 72.791, 35.913, 35.913], [79.7148, 76.043, 35.913, 35.913],
                  [85.229, 78.7294, 35.913, 35.913], [91.8743, 81.9813, 35.913, 35.913],
                  [97.3885, 84.9505, 35.913, 35.913], [103.7511, 87.9197, 35.913, 35.913],
                  [109.2653, 90.8889, 35.913, 35.913], [115.6278, 93.8581, 35.913, 35.913],
                  [121.4248, 96.8273, 35.913, 35.913]],
        "scores": [0.99256, 0.98708, 0.99123, 0.99239, 0.98656, 0.99323, 0.99438, 0.99225, 0.99208, 0.99142, 0.99382,
                   0.98672, 0.99193, 0.98374, 0.99024],
    },
}
# The paper's tracker: BEFORE was recorded before the box regression (on in the preset since session 14).
SEARCH3 = {"scale_mode": "search3", "scale_num": 3, "scale_step": 1.0375, "use_bbreg": False}
# The one-pass exemplar pyramid as it was the preset until 2026-11-27 (BEFORE["pyramid"] was recorded with it).
PYRAMID = {"scale_mode": "pyramid", "scale_num": 5, "scale_step": 1.025, "use_bbreg": False}
ALL_ON = {"distractor_weight": 0.3, "template_lr": 0.2, "template_min_score": 0.5, "lost_search_scale": 1.6}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


def clip():
    return moving_target_clip(16, (160, 200), 40, (30, 50), (6, 3), background="noise", seed=3)


def run(frames, box, **overrides):
    tracker = twintrack.create_tracker("siamfc", device="cpu", **overrides)
    tracker.init(frames[0], box)
    return tracker, [tracker.update(frame) for frame in frames[1:]]


def lookalike_clip(count=14):
    """200x260 noise; the target (a 36-px texture) still at (60, 50), an identical copy 27 px right and 27 px lower
    (three quarters of its side: SiamFC's 17 x 17 response reaches about one target side from the centre)."""
    rng = np.random.default_rng(5)
    patch = textured_patch(np.random.default_rng(11), 36)
    frames = []
    for _ in range(count):
        frame = noise_background(rng, 200, 260)
        frame[77:113, 87:123] = patch
        frame[50:86, 60:96] = patch
        frames.append(frame)
    return frames, np.tile(np.array([60, 50, 36, 36], dtype=np.float64), (count, 1))


# ------------------------------------------------------------------------------------------ preset unchanged
@pytest.mark.parametrize("mode", ["pyramid", "search3"])
def test_the_preset_tracks_as_before_the_options(mode):
    frames, truth = clip()
    _, results = run(frames, truth[0], precision="fp32", **(SEARCH3 if mode == "search3" else PYRAMID))
    np.testing.assert_allclose([r.box for r in results], BEFORE[mode]["boxes"], atol=2e-3)
    np.testing.assert_allclose([r.score for r in results], BEFORE[mode]["scores"], atol=2e-4)


def test_the_preset_has_every_option_off():
    config = load_config("siamfc")
    assert config.distractor_weight == 0 and config.template_lr == 0 and config.lost_search_scale == 1


@pytest.mark.parametrize("off", [
    {"template_lr": 0.0, "template_weight": 0.9, "template_min_score": 0.1},  # lr 0: no update, no blend
    {"distractor_weight": 0.0, "distractor_threshold": 0.2, "distractor_lr": 1.0, "distractor_max": 9},
    {"lost_search_scale": 1.0, "lost_window_influence": 0.0},
])
def test_an_option_at_its_off_value_changes_nothing_whatever_its_other_keys(off):
    frames, truth = clip()
    _, expected = run(frames, truth[0])
    tracker, got = run(frames, truth[0], **off)
    assert tracker.extra_template is None and not tracker.wide
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a.box, b.box)
        assert a.score == b.score and a.lost == b.lost


# ---------------------------------------------------------------------------------------- look-alike windows
def test_a_window_of_the_search_features_is_what_its_response_cell_correlates():
    frames, truth = clip()
    tracker = twintrack.create_tracker("siamfc", device="cpu", precision="fp32")
    tracker.init(frames[0], truth[0])
    feat = tracker.embed(tracker.search_crop(frames[1]))
    head = tracker.net.head
    response = tracker._responses(feat)[len(tracker.exemplar_feat) // 2]
    for row, col in [(0, 0), (8, 8), (3, 12), (16, 16)]:
        window = tracker.window_at(feat, row, col)
        assert window.shape == tracker.exemplar_feat.shape[1:] or window.shape[1:] == tracker.exemplar_feat.shape[1:]
        # cell (row, col) correlates the exemplar with exactly this window
        by_hand = float((tracker.exemplar_feat[len(tracker.exemplar_feat) // 2] * window[0]).sum())
        by_hand = by_hand * head.base_scale * float(head.gain) + float(head.bias)
        assert by_hand == pytest.approx(float(response[row, col]), rel=1e-4, abs=1e-3)
        # and the window correlated with the search map peaks on itself (it is that place's feature)
        own = head.all_pairs(window.contiguous(), feat)[0, 0]
        assert tuple(np.unravel_index(int(own.argmax()), own.shape)) == (row, col)


def test_distractor_cells_are_the_local_maxima_above_the_threshold_outside_the_target():
    tracker = twintrack.create_tracker("siamfc", device="cpu", distractor_weight=0.3, distractor_threshold=0.5,
                                       distractor_max=2)
    frames, truth = clip()
    tracker.init(frames[0], truth[0])  # the target is ~8 response cells wide in the search crop
    bias = tracker.head_bias
    response = np.full((17, 17), bias - 1.0, dtype=np.float32)
    response[8, 8] = bias + 10  # the target
    response[8, 10] = bias + 9  # a local maximum on the target: not a look-alike
    response[3, 8] = bias + 9  # nor one whose window holds the target's centre (5 cells above it)
    response[1, 1] = bias + 6  # look-alikes, highest first
    response[15, 2] = bias + 8
    response[14, 2] = bias + 7  # not a local maximum (its neighbour is higher)
    response[1, 16] = bias + 4  # below 0.5 x the peak
    response[16, 16] = bias + 5.5
    cells = tracker.distractor_cells(response, 8, 8)
    assert [(r, c) for r, c, _ in cells] == [(15, 2), (1, 1)]
    assert [w for _, _, w in cells] == pytest.approx([8, 6])
    tracker_all = twintrack.create_tracker("siamfc", device="cpu", distractor_weight=0.3, distractor_max=9)
    tracker_all.init(frames[0], truth[0])
    assert [(r, c) for r, c, _ in tracker_all.distractor_cells(response, 8, 8)] == [(15, 2), (1, 1), (16, 16)]


def test_the_distractor_aware_response_subtracts_the_look_alikes_weighted_mean_correlation():
    frames, truth = lookalike_clip()
    alpha = 0.3
    tracker = twintrack.create_tracker("siamfc", device="cpu", precision="fp32", distractor_weight=alpha,
                                       distractor_lr=1.0, **PYRAMID)  # one search map: feat is the crop's
    tracker.init(frames[0], truth[0])
    feat = tracker.embed(tracker.search_crop(frames[1]))
    result = tracker.locate(frames[1], feat)
    assert not result.lost
    # The look-alike is found on the first frame: the memory is its window, exactly.
    assert tracker.distractor_active
    response = tracker._responses(feat)[len(tracker.exemplar_feat) // 2]
    found = [cell for cell in tracker.distractor_cells(response, *np.unravel_index(response.argmax(), (17, 17)))]
    assert found, "the look-alike should be a distractor cell"
    weights = np.array([w for _, _, w in found])
    windows = torch.cat([tracker.window_at(feat, r, c) for r, c, _ in found])
    expected = (windows * torch.tensor(weights, dtype=torch.float32).view(-1, 1, 1, 1)).sum(0) / weights.sum()
    torch.testing.assert_close(tracker.distractor[0], expected, rtol=1e-5, atol=1e-5)
    # Next frame: r = corr(z, x) - alpha * corr(d, x), with the convolution as the reference.
    feat2 = tracker.embed(tracker.search_crop(frames[2]))
    raw = tracker._responses(feat2)
    best = tracker._best_scale(raw)
    got = tracker._adjusted(raw[best], feat2)
    head = tracker.net.head
    corr_d = F.conv2d(feat2, tracker.distractor)[0, 0].numpy() * head.base_scale * float(head.gain)
    np.testing.assert_allclose(got, raw[best] - alpha * corr_d, rtol=1e-4, atol=2e-3)
    # At the look-alike's place the located response is lower than the raw one by more than at the target's.
    r, c = found[0][:2]
    target = np.unravel_index(raw[best].argmax(), raw[best].shape)
    assert raw[best][r, c] - got[r, c] > raw[best][target] - got[target]


def test_the_look_alike_does_not_take_the_box_with_distractors_on():
    frames, truth = lookalike_clip()
    _, results = run(frames, truth[0], distractor_weight=0.3)
    assert iou(np.array([r.box for r in results]), truth[1:]).min() > 0.5


# ------------------------------------------------------------------------------------------- template update
def test_the_template_moves_by_lr_towards_the_window_at_the_peak_only_on_confident_frames():
    frames, truth = clip()
    lr = 0.25
    tracker = twintrack.create_tracker("siamfc", device="cpu", template_lr=lr, template_min_score=0.5)
    tracker.init(frames[0], truth[0])
    first = tracker.exemplar_feat[len(tracker.exemplar_feat) // 2][None].clone()
    torch.testing.assert_close(tracker.template, first, rtol=0, atol=0)
    feat = tracker.embed(tracker.search_crop(frames[1]))
    responses = tracker._responses(feat)
    located = tracker._adjusted(responses[tracker._best_scale(responses)], feat)
    row, col = tracker._peak(located)
    cell = (int(round((row + 0.5) / 16 - 0.5)), int(round((col + 0.5) / 16 - 0.5)))
    result = tracker.locate(frames[1], feat)
    assert result.score >= 0.5
    expected = (1 - lr) * first + lr * tracker.window_at(feat, *cell)
    torch.testing.assert_close(tracker.template, expected, rtol=1e-6, atol=1e-6)
    # The extra template is template_weight x z_t (no look-alikes): the located response blends the two.
    torch.testing.assert_close(tracker.extra_template, tracker.config.template_weight * tracker.template)
    # A gate no frame reaches: the template stays the first frame's.
    gated, _ = run(frames, truth[0], template_lr=lr, template_min_score=1.0)
    torch.testing.assert_close(gated.template, gated.exemplar_feat[len(gated.exemplar_feat) // 2][None], rtol=0,
                               atol=0)


def test_the_template_is_not_updated_while_lost():
    from test_siamfc_lost import target_removed_clip

    frames, truth = target_removed_clip()
    tracker = twintrack.create_tracker("siamfc", device="cpu", template_lr=0.5, template_min_score=0.0)
    tracker.init(frames[0], truth[0])
    for frame in frames[1:12]:
        tracker.update(frame)
    before = tracker.template.clone()
    result = tracker.update(frames[14])  # the target is gone
    assert result.lost
    torch.testing.assert_close(tracker.template, before, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------- wider while lost
@pytest.mark.parametrize("mode", ["pyramid", "search3"])
def test_the_wider_search_region_is_used_only_on_the_frame_after_a_lost_one(mode):
    from test_siamfc_lost import target_removed_clip

    frames, truth = target_removed_clip()
    zoom = 1.7
    tracker = twintrack.create_tracker("siamfc", device="cpu", lost_search_scale=zoom, while_lost="hold_box",
                                       **(SEARCH3 if mode == "search3" else PYRAMID))
    tracker.init(frames[0], truth[0])
    factors = tracker.scale_factors if mode == "search3" else np.ones(1)
    previous_lost, lost_seen, found_again = False, 0, False
    for frame in frames[1:]:
        sides = tracker.search_regions()[:, 2]
        np.testing.assert_allclose(sides, tracker.search_side * factors * (zoom if previous_lost else 1.0))
        assert tracker.wide == previous_lost
        result = tracker.update(frame)
        lost_seen += result.lost
        found_again |= previous_lost and not result.lost
        previous_lost = result.lost
    assert lost_seen >= 5 and found_again
    assert iou(np.array(tracker.update(frames[-1]).box), truth[-1]) > 0.5


def test_the_wider_search_finds_a_target_that_jumped_out_of_the_normal_region():
    # The target jumps 70 px (beyond the normal search region's reach) while hidden for one frame.
    frames, truth = moving_target_clip(20, (220, 320), 30, (40, 90), (2, 0), background="noise", seed=2)
    rng = np.random.default_rng(4)
    patch = frames[0][90:120, 40:70].copy()
    for i in range(10, 20):
        frame = noise_background(rng, 220, 320)
        x = 40 + 2 * i + 70
        frame[90:120, x : x + 30] = patch
        frames[i] = frame
        truth[i] = [x, 90, 30, 30]
    frames[9] = noise_background(rng, 220, 320)  # gone for a frame: the tracker is lost
    _, wide = run(frames, truth[0], lost_search_scale=2.0, lost_window_influence=0.0)
    assert float(iou(np.array(wide[-1].box), truth[-1])) > 0.5


# ---------------------------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("key, value", [
    ("distractor_weight", -0.1), ("distractor_threshold", 0.0), ("distractor_threshold", 1.5), ("distractor_lr", 0.0),
    ("distractor_max", 0), ("template_lr", -0.1), ("template_lr", 1.1), ("template_weight", 0.0),
    ("template_min_score", 1.2), ("lost_search_scale", 0.8), ("lost_window_influence", 2.0),
    ("lost_search_mode", "replace"), ("lost_wide_min_score", 0.4),
])
def test_out_of_range_option_values_are_config_errors(key, value):
    with pytest.raises(UserError, match=key):
        twintrack.create_tracker("siamfc", device="cpu", **{key: value})


# ------------------------------------------------------------------------------------- issue 10, MultiTracker
def test_the_fp32_conv_layers_are_freed_and_multitracker_runs_the_options():
    tracker = twintrack.create_tracker("siamfc", device="cpu")
    assert tracker.net.backbone is None and tracker.backbone_engine is not None
    frames, truth = lookalike_clip(8)
    multi = twintrack.MultiTracker("siamfc", device="cpu", **ALL_ON)
    first = multi.add(frames[0], truth[0])
    second = multi.add(frames[0], [87, 77, 36, 36])
    for frame in frames[1:]:
        results = multi.update(frame)
    assert float(iou(np.array(results[first].box), truth[-1])) > 0.5
    assert float(iou(np.array(results[second].box), np.array([87, 77, 36, 36]))) > 0.5


@pytest.mark.parametrize("mode", ["pyramid", "search3"])
@pytest.mark.parametrize("zoom", [1.5, 2.0])
def test_searching_both_regions_while_lost_keeps_the_normal_result_unless_only_the_wider_one_finds_the_target(
        mode, zoom):
    # The rule, checked on every frame: both regions are searched only while lost, and the wider one is taken only
    # where it finds the target and the normal one does not. Which frames that happens on depends on the CPU's
    # int8 kernels: with the shipped weights, at 1.5 the wider region found nothing while the target was gone on
    # the earlier sessions' Intel CPUs, but took noise after 9 lost frames (pyramid) on an AMD EPYC (session 9);
    # at 2.0 it takes noise at once (the zoomed-out exemplar's score is less well calibrated).
    from test_siamfc_lost import target_removed_clip

    frames, truth = target_removed_clip()
    options = SEARCH3 if mode == "search3" else PYRAMID
    both = twintrack.create_tracker("siamfc", device="cpu", lost_search_scale=zoom, lost_search_mode="both",
                                    **options)
    normal = twintrack.create_tracker("siamfc", device="cpu", **options)
    both.init(frames[0], truth[0])
    normal.init(frames[0], truth[0])
    k = len(normal.search_regions())
    kept_normal, took_wide = 0, False
    for frame in frames[1:]:
        regions = both.search_regions()
        searched_both = both.wide
        if searched_both:  # the normal regions first, then the same at zoom x the side
            assert len(regions) == 2 * k
            np.testing.assert_allclose(regions[:k], normal.search_regions())
            np.testing.assert_allclose(regions[k:, 2], zoom * regions[:k, 2])
        else:
            np.testing.assert_array_equal(regions, normal.search_regions())
        got, expected = both.update(frame), normal.update(frame)
        if both.used_wide:
            assert searched_both and got.score >= both.config.lost_wide_min_score and expected.score < 0.5
            took_wide = True
            break  # from here the two trackers are in different places
        np.testing.assert_array_equal(got.box, expected.box)
        assert got.score == expected.score
        kept_normal += searched_both
    assert kept_normal >= 1 or took_wide  # the removed target put the tracker in the lost state: both were searched
    if zoom == 2.0:
        assert took_wide


def test_a_wide_score_bar_no_frame_reaches_leaves_the_normal_search_s_boxes():
    from test_siamfc_lost import target_removed_clip

    frames, truth = target_removed_clip()
    _, expected = run(frames, truth[0])
    tracker, got = run(frames, truth[0], lost_search_scale=2.0, lost_search_mode="both", lost_wide_min_score=1.0)
    assert sum(r.lost for r in got) >= 5
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a.box, b.box)
        assert a.score == b.score


def test_search3_with_a_scale_interval_crops_every_scale_only_on_scale_frames():
    """scale_interval=2: frames 1, 3, 5... (update calls 0, 2, 4...) cut scale_num crops and may change the size;
    the frames between cut the middle scale alone and keep the size; scale_interval=1 is the paper (every frame)."""
    frames, boxes = clip()
    tracker = twintrack.create_tracker("siamfc", device="cpu", precision="fp32", scale_interval=2, **SEARCH3)
    tracker.init(frames[0], boxes[0])
    crops, sizes = [], []
    for frame in frames[1:]:
        crops.append(len(tracker.search_crop(frame)))
        before = tracker.target_size.copy()
        tracker.update(frame)
        sizes.append(not np.allclose(tracker.target_size, before))
    assert crops == [3 if k % 2 == 0 else 1 for k in range(len(frames) - 1)]
    assert not any(changed for k, changed in enumerate(sizes) if k % 2 == 1)
    assert any(sizes)  # the target shrinks over the clip (BEFORE["search3"]): scale frames do change the size
    _, every = run(frames, boxes[0], precision="fp32", scale_interval=1, **SEARCH3)
    np.testing.assert_allclose([r.box for r in every], BEFORE["search3"]["boxes"], atol=1e-3)


def test_scale_interval_must_be_a_whole_number_of_frames():
    for bad in (0, -1, 1.5):
        with pytest.raises(UserError, match="scale_interval"):
            load_config("siamfc", {"scale_interval": bad})
