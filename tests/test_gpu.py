"""CUDA: both trackers track and both trainers train on a GPU (``pytest -m gpu``; skipped without CUDA).

Each test compares with the CPU path on the same synthetic clip where it can: float rounding differs between the
devices (cuDNN, TF32), so boxes are compared by overlap, not for equality. The MultiTracker GPU test lives with
MultiTracker (tests/test_multi.py); MDNet's RoIAlign on CUDA in tests/test_mdnet_device.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import twintrack
from conftest import moving_target_clip, write_training_set
from twintrack.configs import load_config
from twintrack.data import discover
from twintrack.geometry import iou

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

MDNET_SMALL = {"region_size": 191, "n_pos_init": 50, "n_neg_init": 200, "maxiter_init": 10, "n_samples": 64,
               "batch_neg_cand": 128, "n_bbreg": 100, "maxiter_update": 5}


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(12, (160, 192), 32, (30, 40), (3, 2), background="smooth", seed=4)


def track(name, device, clip, **overrides):
    frames, gt = clip
    tracker = twintrack.create_tracker(name, device=device, seed=0, **overrides)
    tracker.init(frames[0], gt[0])
    return np.array([tracker.update(frame).box for frame in frames[1:]])


@pytest.mark.parametrize("name,overrides", [("siamfc", {}), ("mdnet", MDNET_SMALL),
                                            ("siamfc", {"scale_mode": "pyramid"})])
def test_shipped_tracker_on_cuda_agrees_with_cpu(name, overrides, clip):
    cuda_boxes = track(name, "cuda", clip, **overrides)
    cpu_boxes = track(name, "cpu", clip, **overrides)
    _, gt = clip
    assert np.isfinite(cuda_boxes).all()
    assert iou(cuda_boxes, gt[1:]).mean() > 0.6, name
    assert iou(cuda_boxes, cpu_boxes).mean() > 0.8, name


def test_auto_device_picks_cuda():
    tracker = twintrack.create_tracker("siamfc")
    assert next(tracker.net.parameters()).device.type == "cuda"


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    root = write_training_set(tmp_path_factory.mktemp("gpu_data"), count=2, frames=6, frame_size=(96, 96),
                              target=24, start=(20, 24))
    return discover(root)


def test_siamfc_trains_one_step_on_cuda(sequences, tmp_path):
    from twintrack.train.siamfc_trainer import SiamFCTrainer

    config = load_config("train_siamfc", {"batch_size": 4, "pairs_per_epoch": 4, "epochs": 1, "search_size": 143})
    trainer = SiamFCTrainer(config, sequences, tmp_path, torch.device("cuda"))
    before = trainer.model.head.gain.detach().clone()
    losses = trainer.fit(progress=False)
    assert len(losses) == 1 and np.isfinite(losses).all()
    assert trainer.weights_path.exists() and trainer.state.step == 1
    assert not torch.equal(trainer.model.head.gain.detach(), before)


def test_mdnet_trains_one_step_on_cuda(sequences, tmp_path):
    from twintrack.train.mdnet_trainer import MDNetTrainer

    config = load_config("train_mdnet", {"iterations": 1, "frames_per_iter": 2, "batch_pos": 4, "batch_neg": 8,
                                         "region_size": 127, "conv_lr_mult": 0.1})
    trainer = MDNetTrainer(config, sequences, tmp_path, torch.device("cuda"))
    before = trainer.model.head.branches[0].weight.detach().clone()
    losses = trainer.fit(progress=False)
    assert len(losses) == 1 and np.isfinite(losses).all()
    assert not torch.equal(trainer.model.head.branches[0].weight.detach(), before)
    trainer.save()  # the exported single-branch network is written from GPU tensors
    assert trainer.weights_path.exists()
