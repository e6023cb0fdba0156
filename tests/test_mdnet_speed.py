"""MDNet's fast paths against the plain computations they replace, and the opt-in stage timer.

The fast paths (RoIAlign as one embedding_bag, channels_last conv pass, one fc4 for positives and negatives) must
compute what the plain versions compute, to float rounding; the timer must see every stage and change nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align as torchvision_roi_align

from conftest import moving_target_clip
from test_mdnet import SMALL, make_net, make_tracker, run
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.geometry import crop_and_resize
from twintrack.models import VGGM
from twintrack.models.backbone import fold_batchnorm
from twintrack.models.mdnet import FEATURE_ORIGIN, POOLED_SIZE, MDNet, cells_first_weight, normalize, roi_align
from twintrack.tracker.mdnet import MDNetTracker
from twintrack.tracker.timing import StageTimer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_rois(count: int, images: int, size: float, seed: int) -> torch.Tensor:
    """Boxes of every kind RoIAlign's edge rules care about: inside, across the border, fully outside, tiny, empty."""
    g = torch.Generator().manual_seed(seed)
    rois = torch.zeros(count, 5)
    rois[:, 0] = torch.randint(0, images, (count,), generator=g).float()
    rois[:, 1:3] = torch.rand(count, 2, generator=g) * 1.6 * size - 0.3 * size
    rois[:, 3:5] = rois[:, 1:3] + torch.rand(count, 2, generator=g) * 0.8 * size
    rois[:4, 3:5] = rois[:4, 1:3]  # empty boxes
    rois[4:8, 3:5] = rois[4:8, 1:3] + 0.5  # sub-pixel boxes
    return rois


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_roi_align_equals_torchvision(channels_last):
    # Measured max difference 6e-6 on values of ~3 (float rounding of the sample positions).
    feat = torch.randn(3, 32, 27, 27, generator=torch.Generator().manual_seed(0))
    if channels_last:
        feat = feat.contiguous(memory_format=torch.channels_last)
    rois = random_rois(300, 3, 27 * 8, seed=1)
    for sampling_ratio in (1, 2):
        expected = torchvision_roi_align(feat, rois, POOLED_SIZE, spatial_scale=1 / 8,
                                         sampling_ratio=sampling_ratio, aligned=True)
        got = roi_align(feat, rois, POOLED_SIZE, spatial_scale=1 / 8, sampling_ratio=sampling_ratio)
        torch.testing.assert_close(got, expected, rtol=0, atol=5e-5)


def test_roi_align_gradient_equals_torchvision():
    # The trainer back-propagates through pool() into the conv layers when conv_lr_mult > 0.
    feat = torch.randn(2, 16, 20, 20, generator=torch.Generator().manual_seed(2), requires_grad=True)
    rois = random_rois(100, 2, 20 * 8, seed=3)
    upstream = torch.randn(100, 16, POOLED_SIZE, POOLED_SIZE, generator=torch.Generator().manual_seed(4))
    (expected,) = torch.autograd.grad((torchvision_roi_align(feat, rois, POOLED_SIZE, 1 / 8, 2, True) * upstream).sum(),
                                      feat)
    (got,) = torch.autograd.grad((roi_align(feat, rois, POOLED_SIZE, 1 / 8, 2) * upstream).sum(), feat)
    torch.testing.assert_close(got, expected, rtol=0, atol=5e-5)


def test_roi_align_of_no_boxes_is_empty():
    feat = torch.randn(1, 8, 10, 10)
    assert roi_align(feat, torch.zeros(0, 5), POOLED_SIZE, 1 / 8, 2).shape == (0, 8, POOLED_SIZE, POOLED_SIZE)


def test_tracker_features_equal_the_plain_computation():
    """The tracker's region pass (BN folded, channels_last, embedding_bag RoIAlign, bin-major features into a
    reordered fc4, one fc4 for all boxes) against the unfolded NCHW network with torchvision's RoIAlign and the
    head's own fc4, box by box."""
    # fp32 conv pass and fc4 here (fc4_int8 is compared in test_mdnet_robust.py); bf16 is compared below
    config = load_config("mdnet", {**SMALL, "precision": "fp32", "fc4_int8": False})
    tracker = MDNetTracker(make_net(0), config, torch.device("cpu"), seed=0)
    plain = make_net(0).eval()
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = np.array([50.0, 40.0, 32.0, 24.0])
    boxes = np.array([box, box + [5, -3, 2, 1], box + [-40, 30, 10, 10], [0.0, 0.0, 160.0, 120.0]])

    tracker.init(frame, box)  # reorders fc4's weights for the tracker's bin-major pooled features
    region = tracker.extractor.region(frame, box, frame.reshape(-1, 3).mean(axis=0))
    fast = tracker._inputs(region.pool(boxes))

    with torch.no_grad():
        crop = crop_and_resize(frame, box[:2] + box[2:] / 2, config.region_size / region.scale,
                               config.region_size, frame.reshape(-1, 3).mean(axis=0))
        image = torch.from_numpy(crop).permute(2, 0, 1)[None].float().contiguous()  # plain NCHW
        feature_map = plain.features(image)
        x1y1 = (boxes[:, :2] - region.origin) * region.scale
        rois = torch.from_numpy(np.concatenate([np.zeros((4, 1)), x1y1, x1y1 + boxes[:, 2:] * region.scale], 1)).float()
        rois[:, 1:] -= FEATURE_ORIGIN - VGGM.total_stride / 2
        pooled = torchvision_roi_align(feature_map, rois, POOLED_SIZE, 1 / VGGM.total_stride, 2, True)
        slow = torch.cat([plain.head.fc4(normalize(F.relu(p[None]).flatten(1))) for p in pooled])
    assert region.feature_map.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)


def test_folded_channels_last_backbone_equals_the_plain_one():
    net = make_net(1).eval()
    fast = make_net(1).eval()
    fold_batchnorm(fast.backbone).to(memory_format=torch.channels_last)
    image = torch.rand(1, 3, 127, 127, generator=torch.Generator().manual_seed(5)) * 255
    with torch.no_grad():
        expected = net.features(image)
        got = fast.features(image.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3 * expected.abs().max().item())


STAGES = {"sampling", "crop", "conv", "pool", "fc4", "scoring", "bbreg", "train"}


def test_stage_timer_sees_every_stage_and_changes_nothing():
    frames, gt = moving_target_clip(12, (120, 120), 32, (30, 30), (2, 1), background="smooth", seed=3)
    timed = make_tracker(seed=0, long_interval=5)
    timer = StageTimer(timed.device)
    timed.timer = timer
    timed_boxes, timed_scores = run(timed, frames, gt[0])
    assert set(timer.seconds) == STAGES, sorted(timer.seconds)
    assert all(v >= 0 for v in timer.seconds.values()) and all(timer.calls[k] > 0 for k in STAGES)
    assert timer.calls["conv"] == len(frames) and timer.calls["train"] >= 1 + 2  # init + long-term updates
    assert 0 < timer.total() == pytest.approx(sum(timer.seconds.values()))

    plain_boxes, plain_scores = run(make_tracker(seed=0, long_interval=5), frames, gt[0])
    assert np.array_equal(timed_boxes, plain_boxes) and np.array_equal(timed_scores, plain_scores)
    timer.reset()
    assert timer.total() == 0 and not timer.calls


def test_cells_first_pool_and_weight_give_the_same_fc4_output():
    feat = torch.randn(1, 512, 27, 27, generator=torch.Generator().manual_seed(6))
    rois = random_rois(50, 1, 27 * 8, seed=7)
    fc4 = make_net(2).head.fc4[0]
    with torch.no_grad():
        standard = fc4(MDNet.pool(feat, rois))
        reordered = F.linear(MDNet.pool(feat, rois, cells_first=True), cells_first_weight(fc4.weight), fc4.bias)
        crops = torch.rand(3, 3, 107, 107, generator=torch.Generator().manual_seed(8)) * 255
        net = make_net(3).eval()
        crop_standard = fc4(net.crop_pool(crops))
        crop_reordered = F.linear(net.crop_pool(crops, cells_first=True), cells_first_weight(fc4.weight), fc4.bias)
    torch.testing.assert_close(reordered, standard, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(crop_reordered, crop_standard, rtol=1e-4, atol=1e-5)


def test_precision_setting_accepts_auto_fp32_bf16_int8_only():
    assert load_config("mdnet").precision == "auto"
    for value in ("fp32", "bf16", "int8"):
        assert load_config("mdnet", [f"precision={value}"]).precision == value
    for bad in (["precision=fp16"], ["precision=true"]):
        with pytest.raises(UserError, match="precision"):
            load_config("mdnet", bad)


def test_bf16_features_stay_close_to_fp32():
    # bfloat16 keeps 8 bits of mantissa: measured relative difference of the fc4 outputs 0.6% (random weights).
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = np.array([50.0, 40.0, 32.0, 24.0])
    boxes = box + np.array([[0, 0, 0, 0], [4, -3, 2, 1], [-20, 10, 5, 5]])
    outputs = []
    for bf16 in (False, True):
        tracker = make_tracker(seed=0, precision="bf16" if bf16 else "fp32")
        assert tracker.extractor.bf16 is bf16
        tracker.init(frame, box)
        region = tracker.extractor.region(frame, box, frame.reshape(-1, 3).mean(axis=0))
        outputs.append(tracker._inputs(region.pool(boxes)))
    fp32, bf16 = outputs
    assert bf16.dtype == torch.float32
    assert ((bf16 - fp32).norm() / fp32.norm()).item() < 0.03


def test_bf16_tracking_is_deterministic_with_a_seed():
    frames, gt = moving_target_clip(5, (120, 120), 32, (30, 30), (2, 1), background="smooth", seed=3)
    first, _ = run(make_tracker(seed=0, precision="bf16"), frames, gt[0])
    second, _ = run(make_tracker(seed=0, precision="bf16"), frames, gt[0])
    assert np.array_equal(first, second)


def test_tracker_times_nothing_by_default():
    assert make_tracker().timer is None


def test_without_torchvision_pooling_falls_back_to_our_roi_align_on_any_device(monkeypatch):
    # torchvision is not a core dependency; off the CPU its kernel is used only where it is installed.
    import sys

    from twintrack.models import mdnet as model

    monkeypatch.setitem(sys.modules, "torchvision.ops", None)  # `from torchvision.ops import ...` raises ImportError
    assert model._torchvision_roi_align() is None
    monkeypatch.undo()
    assert model._torchvision_roi_align() is torchvision_roi_align
