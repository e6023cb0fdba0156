"""MDNet and devices: the constructor works on its own inference copy, and the tracker runs on CUDA.

The CUDA tests (``pytest -m gpu``) skip without a GPU; they compare with the CPU path on the same synthetic clip
(random-init network, as tests/test_mdnet.py), so they need no shared data.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import moving_target_clip
from twintrack.configs import load_config
from twintrack.geometry import iou
from twintrack.models import init_weights
from twintrack.models.mdnet import MDNet
from twintrack.tracker.mdnet import MDNetTracker

SMALL = {"region_size": 191, "n_pos_init": 50, "n_neg_init": 200, "maxiter_init": 10, "n_samples": 64,
         "batch_neg_cand": 128, "n_bbreg": 100, "maxiter_update": 5}

pytestmark = pytest.mark.usefixtures("one_torch_thread")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def make_net() -> MDNet:
    torch.manual_seed(0)
    net = MDNet(num_branches=1)
    init_weights(net)
    return net


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(10, (160, 160), 32, (30, 40), (3, 2), background="smooth", seed=3)


def track(device: torch.device, clip, net=None):
    frames, gt = clip
    tracker = MDNetTracker(net if net is not None else make_net(), load_config("mdnet", SMALL), device, seed=0)
    tracker.init(frames[0], gt[0])
    results = [tracker.update(frame) for frame in frames[1:]]
    return np.array([r.box for r in results]), np.array([r.score for r in results])


def test_constructor_and_tracking_leave_the_given_net_unchanged(clip):
    net = make_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    track(torch.device("cpu"), clip, net)
    after = net.state_dict()
    assert before.keys() == after.keys()  # BatchNorm not folded away
    assert all(torch.equal(before[k], after[k]) for k in before)  # nor fc layers tuned online
    assert net.training  # train/eval mode untouched
    assert net.backbone.conv1[0].weight.is_contiguous()  # no channels_last conversion of the caller's weights


def test_two_trackers_from_one_net_give_the_same_answers(clip):
    net = make_net()
    first = track(torch.device("cpu"), clip, net)
    second = track(torch.device("cpu"), clip, net)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.gpu
@needs_cuda
def test_roi_pool_on_cuda_equals_the_cpu_kernel():
    torch.manual_seed(0)
    feature_map = torch.randn(1, 512, 29, 29)
    boxes = torch.rand(40, 2) * 150
    rois = torch.cat([torch.zeros(40, 1), boxes, boxes + 20 + torch.rand(40, 2) * 80], dim=1)
    cpu = MDNet.pool(feature_map, rois)
    cuda = MDNet.pool(feature_map.cuda(), rois.cuda()).cpu()
    torch.testing.assert_close(cuda, cpu, atol=1e-4, rtol=1e-4)
    cpu_cells = MDNet.pool(feature_map, rois, cells_first=True)
    cuda_cells = MDNet.pool(feature_map.cuda(), rois.cuda(), cells_first=True).cpu()
    torch.testing.assert_close(cuda_cells, cpu_cells, atol=1e-4, rtol=1e-4)


@pytest.mark.gpu
@needs_cuda
def test_roi_pool_on_cuda_without_torchvision_runs_our_kernel_there(monkeypatch):
    import sys

    torch.manual_seed(0)
    feature_map = torch.randn(1, 512, 29, 29)
    boxes = torch.rand(40, 2) * 150
    rois = torch.cat([torch.zeros(40, 1), boxes, boxes + 20 + torch.rand(40, 2) * 80], dim=1)
    cpu = MDNet.pool(feature_map, rois)
    monkeypatch.setitem(sys.modules, "torchvision.ops", None)  # torchvision is not a core dependency
    cuda = MDNet.pool(feature_map.cuda(), rois.cuda())
    assert cuda.device.type == "cuda"
    torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-4, rtol=1e-4)


@pytest.mark.gpu
@needs_cuda
def test_mdnet_tracks_on_cuda_like_on_cpu(clip):
    # Same seed, same clip: float rounding differs between the devices (cuDNN, TF32 off or on), so the boxes are
    # compared by overlap, not for equality. On CPU this clip tracks at mean IoU > 0.8.
    cpu_boxes, _ = track(torch.device("cpu"), clip)
    cuda_boxes, cuda_scores = track(torch.device("cuda"), clip)
    _, gt = clip
    assert np.isfinite(cuda_boxes).all() and ((cuda_scores >= 0) & (cuda_scores <= 1)).all()
    assert iou(cuda_boxes, gt[1:]).mean() > 0.6
    assert iou(cuda_boxes, cpu_boxes).mean() > 0.7
