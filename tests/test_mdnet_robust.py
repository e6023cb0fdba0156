"""MDNet's robustness options (update_min_score, keep_first_pos, lookalike_negatives, redetect_region,
redetect_samples, template_samples, size_lr, update_min_template, recover_min_template, motion_lr, failure_box, color_weight) and the int8 fc4, each checked for
what it promises on small synthetic inputs.

Which of them the preset turns on is decided by bench/selection.py (docs/selection.md), not here.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import moving_target_clip
from test_mdnet import CLIP_WH, make_tracker, run
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.geometry import iou, jitter_boxes, xywh_to_cxcywh
from twintrack.tracker.color_prior import bin_index
from twintrack.tracker.mdnet import Int8Linear, use_int8_fc4
from twintrack.tracker.template_prior import TemplatePrior

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(8, CLIP_WH[::-1], 32, (30, 40), (3, 2), background="smooth", seed=3)


def test_keep_first_pos_keeps_the_first_frames_positives_in_every_update(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, keep_first_pos=True, n_frames_long=2)
    tracker.init(frames[0], gt[0])
    anchor = tracker.anchor_pos.clone()
    for frame in frames[1:]:
        tracker.update(frame)
    assert len(tracker.pos_memory) <= 2  # the recent memory is bounded and has moved on
    positives = tracker._positives()
    torch.testing.assert_close(positives[: len(anchor)], anchor)  # the first frame's are still there
    assert len(positives) == len(anchor) + sum(len(p) for p in tracker.pos_memory)


def test_unsure_frames_add_no_samples(clip):
    # An fc6 score never reaches 1e9: no frame is sure enough, the memories keep only the first frame's samples.
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, update_min_score=1e9, keep_first_pos=False)
    run(tracker, frames, gt[0])
    assert len(tracker.pos_memory) == 1 and len(tracker.neg_memory) == 1


def test_lookalikes_are_the_best_scoring_candidates_off_the_target():
    target = np.array([50.0, 50.0, 20.0, 20.0])
    candidates = np.array([
        [50, 50, 20, 20],  # on target, best score: not a look-alike
        [120, 50, 20, 20],  # off target, score 3
        [200, 50, 20, 20],  # off target, score 5
        [51, 51, 20, 20],  # on target
        [10, 150, 20, 20],  # off target but scored as background: not a look-alike
        [150, 150, 20, 20],  # off target, score 1
    ], dtype=np.float64)
    scores = np.array([9.0, 3.0, 5.0, 8.0, -2.0, 1.0])
    inputs = torch.arange(6, dtype=torch.float32)[:, None].repeat(1, 4)  # row i holds i
    fake = SimpleNamespace(config=load_config("mdnet", {"lookalike_negatives": 2}), target=target)
    from twintrack.tracker.mdnet import MDNetTracker

    picked = MDNetTracker._lookalikes(fake, candidates, scores, inputs)
    assert picked[:, 0].tolist() == [2.0, 1.0]  # the two best off-target ones, best first
    fake.config = load_config("mdnet", {"lookalike_negatives": 10})
    assert MDNetTracker._lookalikes(fake, candidates, scores, inputs)[:, 0].tolist() == [2.0, 1.0, 5.0]


def test_template_candidates_surround_the_templates_peak():
    # The first frame's 29x29 map has the target centre at 127.5 region px, where its template (cells 9-19) sits
    # at response cell 9. A later, larger map (a re-detection region) holds the same cells 3 cells right and 5
    # down (at 12 and 14): the target centre is then at 127.5 + (24, 40) px of that region, and the candidates
    # gather there, in frame pixels through the region's origin and scale.
    generator = torch.Generator().manual_seed(0)
    first = torch.randn(1, 16, 29, 29, generator=generator)
    later = torch.randn(1, 16, 45, 45, generator=generator)
    later[:, :, 14:25, 12:23] = first[:, :, 9:20, 9:20]
    template = TemplatePrior(first, target_centre_px=127.5)
    fake = SimpleNamespace(config=load_config("mdnet", {"redetect_samples": 200, "trans": 0.01, "scale": 0.0}),
                           template=template, rng=np.random.default_rng(0), target=np.array([0.0, 0.0, 30, 20]),
                           frame_wh=(1000, 1000))
    region = SimpleNamespace(feature_map=later, origin=np.array([100.0, 200.0]), scale=2.0)
    from twintrack.tracker.mdnet import MDNetTracker

    boxes = MDNetTracker._template_candidates(fake, template.response(later), region, 200)
    assert boxes.shape == (200, 4)
    np.testing.assert_allclose(boxes[:, 2:], np.tile([30, 20], (200, 1)))  # the target's size
    centres = xywh_to_cxcywh(boxes)[:, :2]
    expected = np.array([100.0, 200.0]) + (127.5 + np.array([24.0, 40.0])) / 2.0
    np.testing.assert_allclose(np.median(centres, axis=0), expected, atol=0.5)


def test_a_failure_widens_the_next_conv_pass_to_redetect_region(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=127, redetect_region=191)
    tracker.init(frames[0], gt[0])
    sizes = []
    region = tracker.extractor.region
    tracker.extractor.region = lambda *args: sizes.append(args[3]) or region(*args)
    tracker.update(frames[1])
    tracker.failures = 1  # as if frame 1 had failed
    tracker.update(frames[2])
    assert sizes == [127, 191]


def test_redetect_samples_add_candidates_after_a_failure_and_still_track(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, redetect_samples=32, redetect_region=255, keep_first_pos=True,
                           lookalike_negatives=8, update_min_score=0.5)
    boxes, scores = run(tracker, frames, gt[0])
    assert iou(boxes[1:], gt[1:]).mean() > 0.5
    assert np.isfinite(scores).all()


def test_template_samples_propose_candidates_on_every_frame_and_redetect_samples_after_a_failure(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, template_samples=16, redetect_samples=32)
    tracker.init(frames[0], gt[0])
    counts = []
    propose = tracker._template_candidates
    tracker._template_candidates = lambda response, region, count: counts.append(count) or propose(
        response, region, count)
    tracker.failures = 0
    tracker.update(frames[1])
    tracker.failures = 1  # as if frame 1 had failed: the larger of the two counts
    tracker.update(frames[2])
    assert counts == [16, 32]
    plain = make_tracker(seed=0, region_size=191, template_samples=0, redetect_samples=32)
    plain.init(frames[0], gt[0])
    plain._template_candidates = lambda response, region, count: counts.append(count)
    plain.failures = 0
    plain.update(frames[1])
    assert counts == [16, 32]  # no failure, no template_samples: no template candidates


def test_template_samples_still_track(clip):
    frames, gt = clip
    boxes, scores = run(make_tracker(seed=0, region_size=191, template_samples=32), frames, gt[0])
    assert iou(boxes[1:], gt[1:]).mean() > 0.5
    assert np.isfinite(scores).all()


def test_size_lr_moves_the_size_part_way_and_keeps_the_centre():
    tracker = make_tracker(seed=0, size_lr=0.25)
    tracker.frame_wh = (640, 480)
    tracker.target = np.array([100.0, 100.0, 40.0, 20.0])
    # The top-k mean: centre (150, 130), size 80 x 60. Size: 40 + 0.25 * (80 - 40) = 50, 20 + 0.25 * 40 = 30.
    smoothed = tracker._smoothed(np.array([110.0, 100.0, 80.0, 60.0]))
    np.testing.assert_allclose(smoothed, [125.0, 115.0, 50.0, 30.0])
    plain = make_tracker(seed=0)  # size_lr 1: MDNet's box, untouched
    plain.frame_wh, plain.target = tracker.frame_wh, tracker.target
    np.testing.assert_allclose(plain._smoothed(np.array([110.0, 100.0, 80.0, 60.0])), [110, 100, 80, 60])


def test_size_lr_still_tracks(clip):
    frames, gt = clip
    boxes, _ = run(make_tracker(seed=0, region_size=191, size_lr=0.5), frames, gt[0])
    assert iou(boxes[1:], gt[1:]).mean() > 0.5


def test_update_min_template_reads_the_template_at_the_targets_centre():
    tracker = make_tracker(seed=0, region_size=191, update_min_template=0.5)
    tracker.target = np.array([40.0, 30.0, 20.0, 10.0])  # centre (50, 35)
    region = SimpleNamespace(origin=np.array([10.0, 5.0]), scale=2.0)
    read = []

    def at(response, centres_px):
        read.append(centres_px.copy())
        return np.array([response])

    tracker.template = SimpleNamespace(at=at)
    assert tracker._template_agrees(0.5, region) and not tracker._template_agrees(0.49, region)
    np.testing.assert_allclose(read[0], [[80.0, 60.0]])  # ((50, 35) - (10, 5)) x 2 region pixels
    off = make_tracker(seed=0, region_size=191)
    assert off._template_agrees(0.0, region)  # 0: every frame may teach, without reading a template


def test_update_min_template_still_tracks_and_learns_on_a_visible_target(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, update_min_template=0.5)
    boxes, _ = run(tracker, frames, gt[0])
    assert iou(boxes[1:], gt[1:]).mean() > 0.5
    assert len(tracker.pos_memory) > 1  # the template agreed on some frames: they were learnt


def test_recover_min_template_keeps_a_lost_target_lost_until_the_template_agrees(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, recover_min_template=0.7)
    tracker.init(frames[0], gt[0])
    tracker.update(frames[1])
    assert tracker.failures == 0
    classifier = tracker._scores
    tracker._scores = lambda inputs: -np.ones(len(inputs), dtype=np.float32)  # the target vanishes: a failure
    tracker.update(frames[2])
    assert tracker.failures == 1
    tracker._scores = classifier  # it is back: the classifier scores the box above 0 again ...
    agreement = [0.69]  # ... but the template does not respond enough there
    tracker._template_response_at = lambda box, response, region: agreement[0]
    learnt = tracker.pos_memory[-1]
    result = tracker.update(frames[3])
    assert tracker.raw_score > 0 and tracker.failures == 2
    assert result.lost and result.score == pytest.approx(tracker.calibrated(0.0))  # reported as a failed frame
    assert tracker.pos_memory[-1] is learnt  # and not learnt
    agreement[0] = 0.7
    tracker.update(frames[4])
    assert tracker.raw_score > 0 and tracker.failures == 0 and tracker.pos_memory[-1] is not learnt
    # While the target is found, the gate stands aside: a frame that scores above 0 is learnt whatever the template.
    agreement[0] = 0.0
    tracker.update(frames[5])
    assert tracker.failures == 0


def test_recover_min_template_at_zero_is_mdnet(clip):
    frames, gt = clip
    plain, _ = run(make_tracker(seed=0, region_size=191), frames, gt[0])
    off, _ = run(make_tracker(seed=0, region_size=191, recover_min_template=0.0), frames, gt[0])
    np.testing.assert_array_equal(plain, off)


def test_motion_lr_centres_the_region_and_candidates_on_the_last_box_moved_by_the_velocity(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, motion_lr=0.5)
    tracker.init(frames[0], gt[0])
    regions, plain_region = [], tracker.extractor.region

    def region(frame, box, *args):
        regions.append(np.array(box, dtype=np.float64))
        return plain_region(frame, box, *args)

    tracker.extractor.region = region
    velocity, moved = np.zeros(2), False
    for frame in frames[1:]:
        before = tracker.target.copy()
        tracker.update(frame)
        np.testing.assert_allclose(regions[-1], before + np.r_[velocity, 0, 0], atol=1e-9)  # inside the frame
        centre = lambda box: box[:2] + box[2:] / 2  # noqa: E731
        assert tracker.failures == 0  # a clip the tracker follows: every frame teaches the velocity
        velocity = 0.5 * velocity + 0.5 * (centre(tracker.target) - centre(before))
        np.testing.assert_allclose(tracker.velocity, velocity, atol=1e-9)
        moved = moved or np.abs(velocity).max() > 0.5
    assert moved
    # A failure (every candidate scored as background) resets it: the box's motion on a failed frame is not the
    # target's.
    tracker._scores = lambda inputs: -np.ones(len(inputs), dtype=np.float32)
    tracker.update(frames[-1])
    assert tracker.failures == 1
    np.testing.assert_array_equal(tracker.velocity, [0.0, 0.0])


def test_motion_lr_at_zero_is_mdnet(clip):
    frames, gt = clip
    plain, _ = run(make_tracker(seed=0, region_size=191), frames, gt[0])
    off, _ = run(make_tracker(seed=0, region_size=191, motion_lr=0.0), frames, gt[0])
    np.testing.assert_array_equal(plain, off)


@pytest.mark.parametrize("mode", ["move", "hold_size", "hold_box", "coast"])
def test_failure_box_decides_what_the_top_k_mean_of_a_failed_frame_moves(clip, monkeypatch, mode):
    import twintrack.tracker.mdnet as mdnet_module

    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, failure_box=mode, redetect_samples=0)
    tracker.init(frames[0], gt[0])
    first = tracker.target.copy()
    tracker.update(frames[1])
    before = tracker.target.copy()
    velocity = tracker.velocity.copy()
    if mode == "coast":  # learnt at COAST_LR = 0.5 from the successful frame 1 (without motion_lr)
        np.testing.assert_allclose(velocity, 0.5 * (before[:2] + before[2:] / 2 - first[:2] - first[2:] / 2))
        assert np.abs(velocity).max() > 0.1
    drawn = []

    def recording_jitter(*args, **kwargs):
        boxes = jitter_boxes(*args, **kwargs)
        drawn.append(boxes)
        return boxes

    monkeypatch.setattr(mdnet_module, "jitter_boxes", recording_jitter)
    # Every candidate scored as background, the first drawn best: a failed frame whose top 5 are candidates 0-4.
    tracker._scores = lambda inputs: -1.0 - np.arange(len(inputs), dtype=np.float32)
    result = tracker.update(frames[2])
    assert tracker.failures == 1
    top_mean = drawn[0][:5].mean(axis=0)  # the frame's candidates: the first jitter_boxes call
    centre = top_mean[:2] + top_mean[2:] / 2
    expected = {"move": top_mean,
                "hold_size": np.concatenate([centre - before[2:] / 2, before[2:]]),
                "hold_box": before,
                "coast": before + np.r_[velocity, 0, 0]}[mode]
    np.testing.assert_allclose(tracker.target, expected, atol=1e-9)  # the clip keeps these inside the frame
    np.testing.assert_allclose(result.box, expected, atol=1e-9)  # no box regression on a failed frame
    if mode == "move":  # the case the option is for: the candidates' mean size is not the target's
        assert not np.allclose(tracker.target[2:], before[2:])
    if mode == "coast":  # a failure does not stop the coasting box
        np.testing.assert_array_equal(tracker.velocity, velocity)


def test_redetect_options_are_checked():
    with pytest.raises(UserError, match="redetect_region"):
        load_config("mdnet", {"redetect_region": 200})
    with pytest.raises(UserError, match="redetect_samples"):
        load_config("mdnet", {"redetect_samples": 10, "region_size": 107})
    with pytest.raises(UserError, match="template_samples"):
        load_config("mdnet", {"template_samples": 10, "redetect_samples": 0, "region_size": 107})
    with pytest.raises(UserError, match="fc4_int8"):
        load_config("mdnet", {"fc4_int8": "yes"})
    with pytest.raises(UserError, match="update_min_template"):
        load_config("mdnet", {"update_min_template": 1.5})
    with pytest.raises(UserError, match="update_min_template"):
        load_config("mdnet", {"update_min_template": 0.5, "redetect_samples": 0, "region_size": 107})
    with pytest.raises(UserError, match="recover_min_template"):
        load_config("mdnet", {"recover_min_template": -0.1})
    with pytest.raises(UserError, match="recover_min_template"):
        load_config("mdnet", {"recover_min_template": 0.5, "redetect_samples": 0, "region_size": 107})
    for rate in (0.0, 1.5):
        with pytest.raises(UserError, match="size_lr"):
            load_config("mdnet", {"size_lr": rate})
    with pytest.raises(UserError, match="failure_box"):
        load_config("mdnet", {"failure_box": "hold"})
    for rate in (-0.1, 1.5):
        with pytest.raises(UserError, match="motion_lr"):
            load_config("mdnet", {"motion_lr": rate})
    with pytest.raises(UserError, match="color_weight"):
        load_config("mdnet", {"color_weight": -0.1})
    with pytest.raises(UserError, match="color_foreground"):
        load_config("mdnet", {"color_foreground": "mask"})


# ------------------------------------------------------------------------------------- color_weight (DAT's model)
RED, BLUE = (200, 10, 10), (10, 10, 200)


def red_and_blue_frame() -> np.ndarray:
    """160x160 grey with a red 20x20 target at (40, 60) and a blue one of its shape at (80, 60)."""
    frame = np.full((160, 160, 3), 128, dtype=np.uint8)
    frame[60:80, 40:60] = RED
    frame[60:80, 80:100] = BLUE
    return frame


def test_colour_crop_boxes_map_the_region_square_onto_the_crop():
    region = SimpleNamespace(origin=np.array([10.0, 20.0]), side=64.0)
    from twintrack.tracker.color_prior import COLOR_CROP
    from twintrack.tracker.mdnet import MDNetTracker

    factor = COLOR_CROP / region.side  # 2 crop pixels per frame pixel
    boxes = MDNetTracker._in_color_crop(np.array([[10.0, 20.0, 64.0, 64.0], [26.0, 36.0, 8.0, 4.0]]), region, factor)
    np.testing.assert_allclose(boxes, [[0, 0, 128, 128], [32, 32, 16, 8]])


def test_colour_term_is_off_until_a_lookalike_is_seen_then_prefers_the_targets_colour():
    frame = red_and_blue_frame()
    target = np.array([40.0, 60.0, 20.0, 20.0])
    tracker = make_tracker(seed=0, region_size=191, target_pixels=32.0, color_weight=0.5)
    tracker.init(frame, target)
    assert not tracker.color_model.active
    region = tracker.extractor.region(frame, target, tracker.avg_color)
    assert region.side > 100  # the blue square (its right edge 50 px from the target's centre) is in the region
    view = tracker._color_view(frame, region)
    candidates = np.array([target, [80.0, 60.0, 20.0, 20.0], [40.0, 20.0, 20.0, 20.0]])
    # The blue square scored as the target (above 0) off it: a look-alike; the grey one scored as background.
    tracker._learn_lookalike_colors(view, region, candidates, np.array([3.0, 2.0, -1.0]))
    assert tracker.color_model.active
    term = tracker._color_term(view, region, candidates, np.array([3.0, 2.0, -1.0]))
    # red box: probability 1; blue: 0; grey: unseen by either model, 0.5. Scaled by weight x range (4) x gate.
    assert term[0] > term[2] > term[1] >= 0
    assert term[1] == pytest.approx(0.0, abs=1e-3)
    probability = tracker.color_model.pixel_map(view[0])
    gate = (1.0 - float(probability.mean())) / 1.0
    assert term[0] == pytest.approx(0.5 * 4.0 * gate * 1.0, rel=0.02)


def test_colour_foreground_reaches_the_colour_model():
    frame = red_and_blue_frame()
    target = np.array([36.0, 56.0, 28.0, 28.0])  # loose: the red square and a grey margin
    models = {}
    for foreground in ("box", "contrast"):
        tracker = make_tracker(seed=0, region_size=191, target_pixels=32.0, color_weight=0.5,
                               color_foreground=foreground)
        tracker.init(frame, target)
        models[foreground] = tracker.color_model
    assert models["contrast"].foreground_mode == "contrast"
    grey, red = (int(b) for b in bin_index(np.array([[(128, 128, 128), RED]], dtype=np.uint8))[0])
    # Grey fills the margin and the surroundings, so contrast weighs it down in the target's colours; red gains.
    assert models["contrast"].foreground[grey] < models["box"].foreground[grey]
    assert models["contrast"].foreground[red] > models["box"].foreground[red]


def test_colour_weight_still_tracks(clip):
    frames, gt = clip
    boxes, _ = run(make_tracker(seed=0, region_size=191, color_weight=0.3), frames, gt[0])
    assert iou(boxes[1:], gt[1:]).mean() > 0.5


@pytest.mark.skipif(not use_int8_fc4("auto", torch.device("cpu")), reason="no x86 quantized kernels")
def test_int8_fc4_stays_within_two_percent_of_fp32():
    # Unit-RMS, non-negative inputs like RoIAlign's pooled boxes; measured relative error 1.2 %.
    generator = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(4608, 512)
    inputs = torch.randn(300, 4608, generator=generator).relu()
    inputs = inputs * torch.rsqrt(inputs.pow(2).mean(dim=1, keepdim=True))
    with torch.no_grad():
        reference = linear(inputs)
        out = Int8Linear(linear.weight, linear.bias)(inputs)
    assert out.shape == reference.shape and out.dtype == torch.float32
    assert ((out - reference).norm() / reference.norm()).item() < 0.02


@pytest.mark.skipif(not use_int8_fc4("auto", torch.device("cpu")), reason="no x86 quantized kernels")
def test_int8_fc4_tracker_follows_the_texture_like_fp32(clip):
    frames, gt = clip
    fp32, _ = run(make_tracker(seed=0, region_size=191), frames, gt[0])
    int8, _ = run(make_tracker(seed=0, region_size=191, fc4_int8=True), frames, gt[0])
    assert iou(int8[1:], gt[1:]).mean() > 0.6
    assert iou(int8[1:], fp32[1:]).mean() > 0.7
    assert use_int8_fc4("auto", torch.device("cuda")) is False
