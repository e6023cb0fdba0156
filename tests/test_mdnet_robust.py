"""MDNet's re-detection after a failure (redetect_region, redetect_samples) and the int8 fc4, each checked for
what it promises on small synthetic inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import moving_target_clip
from test_mdnet import CLIP_WH, make_tracker, run
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.geometry import iou, xywh_to_cxcywh
from twintrack.tracker.mdnet import Int8Linear, use_int8_fc4
from twintrack.tracker.template_prior import TemplatePrior

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(8, CLIP_WH[::-1], 32, (30, 40), (3, 2), background="smooth", seed=3)


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
    tracker = make_tracker(seed=0, region_size=191, redetect_samples=32, redetect_region=255)
    boxes, scores = run(tracker, frames, gt[0])
    assert iou(boxes[1:], gt[1:]).mean() > 0.5
    assert np.isfinite(scores).all()


def test_redetect_samples_are_proposed_only_after_a_failure(clip):
    frames, gt = clip
    tracker = make_tracker(seed=0, region_size=191, redetect_samples=32)
    tracker.init(frames[0], gt[0])
    counts = []
    propose = tracker._template_candidates
    tracker._template_candidates = lambda response, region, count: counts.append(count) or propose(
        response, region, count)
    tracker.failures = 0
    tracker.update(frames[1])
    assert counts == []  # no failure: the Gaussian candidates only
    tracker.failures = 1  # as if frame 1 had failed
    tracker.update(frames[2])
    assert counts == [32]


def test_config_values_are_checked():
    with pytest.raises(UserError, match="feature_path"):
        load_config("mdnet", {"feature_path": "crops"})
    with pytest.raises(UserError, match="redetect_region"):
        load_config("mdnet", {"redetect_region": 200})
    with pytest.raises(UserError, match="redetect_samples"):
        load_config("mdnet", {"redetect_samples": 10, "region_size": 107})
    with pytest.raises(UserError, match="fc4_int8"):
        load_config("mdnet", {"fc4_int8": "yes"})


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
