"""SiamFC's one-pass scale estimation (exemplar pyramid) against the paper's three search passes, the split
per-frame interface (search_crop / embed / locate), and the constructor's inference copy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import twintrack
from conftest import make_random_net, moving_target_clip, smooth_background, textured_patch
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.geometry import iou
from twintrack.tracker.siamfc import SiamFCTracker

CPU = torch.device("cpu")
PAPER_SCALES = {"scale_num": 3, "scale_step": 1.0375}  # SiamFC-3s as published


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


def scaling_clip(count: int, side: float, growth: float, frame_size=(200, 200), seed: int = 0):
    """A textured square centred in the frame whose side is multiplied by ``growth`` every frame."""
    texture = textured_patch(np.random.default_rng(seed), 96)
    height, width = frame_size
    frames, boxes = [], []
    for i in range(count):
        n = int(round(side * growth**i))
        frame = smooth_background(height, width)
        x0, y0 = (width - n) // 2, (height - n) // 2
        frame[y0 : y0 + n, x0 : x0 + n] = cv2.resize(texture, (n, n), interpolation=cv2.INTER_AREA)
        frames.append(frame)
        boxes.append([x0, y0, n, n])
    return frames, np.array(boxes, dtype=np.float64)


def track(tracker, frames, init_box) -> np.ndarray:
    tracker.init(frames[0], init_box)
    return np.array([init_box] + [tracker.update(frame).box for frame in frames[1:]])


# The target's side changes by 2% per frame for 24 frames: x1.61 growing, x0.62 shrinking. Measured with the
# shipped weights (precision auto, int8 here), final estimated / true side and mean IoU: growing, 5-scale pyramid
# 0.98 / 0.98, the paper's 3 search scales 0.92 / 0.89; shrinking, pyramid 1.07 / 0.90, search3 1.02 / 0.96. The
# bounds leave room for BLAS and int8/fp32 differences.
@pytest.mark.parametrize("growth, start_side", [(1.02, 48), (1 / 1.02, 80)])
def test_one_pass_pyramid_follows_scale_changes_like_three_passes(growth, start_side):
    frames, truth = scaling_clip(25, start_side, growth)
    final = {}
    for mode, options in (("pyramid", {}), ("search3", PAPER_SCALES)):
        tracker = twintrack.create_tracker("siamfc", device="cpu", scale_mode=mode, **options)
        boxes = track(tracker, frames, truth[0])
        assert iou(boxes, truth).mean() > 0.8, (mode, iou(boxes, truth).mean())
        final[mode] = boxes[-1, 2] / truth[-1, 2]
        assert abs(np.log(final[mode])) < np.log(1.15), (mode, final[mode])
    # Both modes see the same scale change: their final sizes agree within 12%.
    assert abs(np.log(final["pyramid"] / final["search3"])) < np.log(1.12), final


def test_pyramid_runs_one_search_crop_per_frame_and_search3_three():
    frames, truth = moving_target_clip(3, (96, 96), 24, (30, 30), (2, 1), background="smooth", seed=0)
    for mode, count in (("pyramid", 1), ("search3", 3)):
        config = load_config("siamfc", {"scale_mode": mode, **PAPER_SCALES})
        tracker = SiamFCTracker(make_random_net(0), config, CPU)
        tracker.init(frames[0], truth[0])
        assert tracker.exemplar_feat.shape[0] == (3 if mode == "pyramid" else 1)
        crops = tracker.search_crop(frames[1])
        assert crops.shape == (count, 255, 255, 3) and crops.dtype == np.uint8
        regions = tracker.search_regions()
        assert regions.shape == (count, 3)
        np.testing.assert_allclose(regions[:, :2], np.tile(tracker.center, (count, 1)))


def test_update_equals_locate_of_embed_of_search_crop():
    frames, truth = moving_target_clip(8, (128, 128), 32, (30, 40), (3, 2), background="noise", seed=3)
    for mode in ("pyramid", "search3"):
        config = load_config("siamfc", {"scale_mode": mode, **PAPER_SCALES})
        whole = SiamFCTracker(make_random_net(1), config, CPU)
        split = SiamFCTracker(make_random_net(1), config, CPU)
        whole.init(frames[0], truth[0])
        split.init(frames[0], truth[0])
        for frame in frames[1:]:
            expected = whole.update(frame)
            got = split.locate(frame, split.embed(split.search_crop(frame)))
            np.testing.assert_array_equal(got.box, expected.box)
            assert got.score == expected.score and got.lost == expected.lost


def test_embed_batches_crops_of_several_trackers():
    # MultiTracker's use: one backbone call for several objects' crops gives each the features of its own call.
    frames, truth = moving_target_clip(2, (128, 128), 24, (20, 20), (2, 2), background="noise", seed=4)
    tracker = SiamFCTracker(make_random_net(2), load_config("siamfc", {"scale_mode": "pyramid"}), CPU)
    tracker.init(frames[0], truth[0])
    one = tracker.search_crop(frames[1])
    other = np.ascontiguousarray(one[:, ::-1])
    both = tracker.embed(np.concatenate([one, other]))
    np.testing.assert_allclose(both[:1].numpy(), tracker.embed(one).numpy(), rtol=1e-4, atol=1e-3)
    assert both.dtype == torch.float32 and both.shape[0] == 2


def test_constructor_leaves_the_given_network_untouched():
    net = make_random_net(5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    tracker = SiamFCTracker(net, load_config("siamfc"), CPU)
    assert net.training  # still in training mode
    after = net.state_dict()
    assert set(after) == set(before)  # BatchNorm layers still there
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)
    assert all(p.requires_grad for p in net.parameters())
    assert tracker.net is not net
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in tracker.net.modules())  # folded in the copy


@pytest.mark.parametrize("exemplars, searches", [(3, 1), (1, 3), (2, 2)])
def test_all_pairs_correlation_equals_a_convolution(exemplars, searches):
    # The slow obvious version is torch's convolution with the exemplars as kernels.
    from twintrack.models import SiamFCHead

    torch.manual_seed(0)
    head = SiamFCHead()
    with torch.no_grad():
        head.gain.fill_(1.7)
        head.bias.fill_(-0.3)
    exemplar_feats = torch.randn(exemplars, 64, 11, 11)
    search_feats = torch.randn(searches, 64, 27, 25).contiguous(memory_format=torch.channels_last)
    expected = torch.nn.functional.conv2d(search_feats, exemplar_feats) * (1e-4 * 1.7) - 0.3
    with torch.no_grad():
        got = head.all_pairs(exemplar_feats, search_feats)
    assert got.shape == (searches, exemplars, 17, 15)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_unknown_scale_mode_is_a_config_error():
    with pytest.raises(UserError, match="scale_mode"):
        load_config("siamfc", {"scale_mode": "five"})
