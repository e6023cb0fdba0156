"""train/mdnet_trainer.py: domains, a few multi-domain steps on tiny synthetic sequences, export and resume."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import yaml

from conftest import moving_target_clip, write_training_set
from twintrack.configs import config_to_dict, load_config
from twintrack.errors import UserError
from twintrack.models.mdnet import MDNet
from twintrack.data import Sequence, discover
from twintrack.train.mdnet_trainer import CHECKPOINT, WEIGHTS, MDNetTrainer, group_domains
from twintrack.train.checkpoint import load_checkpoint
from twintrack.weights import load_weights

CPU = torch.device("cpu")

# Six steps of two frames, 4 positives and 8 negatives each, on the smallest region: ~0.1 s a step on one core.
# With two domains an epoch is two steps: checkpoints after steps 2, 4 and 6.
OVERRIDES = {
    "iterations": 6,
    "frames_per_iter": 2,
    "batch_pos": 4,
    "batch_neg": 8,
    "region_size": 127,
    "autocast_bf16": False,
    "checkpoint_every": 1,
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """Two 6-frame OTB-style sequences (JPEG + 1-based groundtruth_rect.txt): a 24x24 texture moving on noise."""
    return write_training_set(tmp_path_factory.mktemp("mdnet_data"), count=2, frames=6, seed=10, frame_size=(96, 96),
                              target=24, start=(20, 24))


@pytest.fixture(scope="module")
def sequences(data_root):
    found = discover(data_root)
    assert [s.name for s in found] == ["seq0", "seq1"] and all(len(s) == 6 for s in found)
    np.testing.assert_allclose(found[0].boxes[0], [20, 24, 24, 24])  # 1-based file -> 0-based boxes
    return found


def make_trainer(sequences, run_dir, **changes) -> MDNetTrainer:
    return MDNetTrainer(load_config("train_mdnet", {**OVERRIDES, **changes}), sequences, run_dir, CPU)


def state_copy(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------------------------------------- domains


def test_group_domains_one_per_video_and_one_per_still_image_set():
    box = np.array([[1.0, 2.0, 10.0, 10.0]])
    videos = [Sequence("walk", ("a.jpg", "b.jpg"), np.repeat(box, 2, axis=0)), Sequence("run", ("c.jpg",), box)]
    stills = [Sequence(f"{name}/{i}", (f"{name}{i}.jpg",), box, still=True)
              for name, count in [("raccoon", 3), ("kangaroo", 2)] for i in range(count)]
    domains = group_domains([stills[0], videos[0], stills[3], videos[1], *stills[1:3], stills[4]])
    assert [[s.name for s in d] for d in domains] == [
        ["walk"],
        ["run"],
        ["raccoon/0", "raccoon/1", "raccoon/2"],
        ["kangaroo/0", "kangaroo/1"],
    ]
    assert group_domains([]) == []


def test_group_domains_on_discovered_folders(data_root, tmp_path):
    # The two sequences plus a still-image set (img/ + boxes.csv, 0-based): three domains.
    import shutil

    root = tmp_path / "mixed"
    shutil.copytree(data_root, root)
    (root / "animals" / "img").mkdir(parents=True)
    rows = ["filename,x,y,w,h"]
    for i in range(2):
        frames, boxes = moving_target_clip(1, (64, 64), 16, (10 + 5 * i, 12), (0, 0), seed=50 + i)
        cv2.imwrite(str(root / "animals" / "img" / f"{i}.png"), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
        rows.append(f"{i}.png," + ",".join(f"{v:g}" for v in boxes[0]))
    (root / "animals" / "boxes.csv").write_text("\n".join(rows) + "\n")
    domains = group_domains(discover(root))
    assert [[s.name for s in d] for d in domains] == [["seq0"], ["seq1"], ["animals/0", "animals/1"]]


def test_trainer_refuses_an_empty_sequence_list(tmp_path):
    with pytest.raises(UserError):
        make_trainer([], tmp_path / "run")


# -------------------------------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def trained(sequences, tmp_path_factory):
    """A full 6-step run (checkpoints at steps 2, 4 and 6), with the weights it started from."""
    run_dir = tmp_path_factory.mktemp("mdnet_run")
    trainer = make_trainer(sequences, run_dir)
    initial = state_copy(trainer.model)
    losses = trainer.fit(progress=False)
    return trainer, run_dir, initial, losses


def test_fit_writes_checkpoint_weights_and_config(trained):
    trainer, run_dir, _, losses = trained
    assert len(losses) == 6 and np.isfinite(losses).all() and trainer.step == 6
    assert len(trainer.domains) == 2 and len(trainer.model.head.branches) == 2
    for name in (CHECKPOINT, WEIGHTS, "config.yaml", "metrics.csv"):
        assert (run_dir / name).exists(), name
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved == config_to_dict(load_config("train_mdnet", OVERRIDES))


def test_exported_weights_load_into_a_single_branch_mdnet(trained):
    trainer, run_dir, _, _ = trained
    net = MDNet(num_branches=1)
    load_weights(net, run_dir / WEIGHTS, arch="mdnet_vggm")
    trained_state = trainer.model.state_dict()
    for key, value in net.state_dict().items():  # shared layers and branch 0, bit for bit
        assert torch.equal(value, trained_state[key]), key
    assert not any(k.startswith("head.branches.1.") for k in net.state_dict())
    with pytest.raises(UserError):  # the arch tag is checked
        load_weights(MDNet(num_branches=1), run_dir / WEIGHTS, arch="siamfc_vggm")


def test_frozen_backbone_keeps_conv_weights_and_trains_the_head(trained):
    trainer, _, initial, _ = trained
    assert trainer.freeze_conv and all(not p.requires_grad for p in trainer.model.backbone.parameters())
    now = trainer.model.state_dict()
    backbone_keys = [k for k in initial if k.startswith("backbone.")]
    assert any("conv1.0.weight" in k for k in backbone_keys)
    for key in backbone_keys:  # conv weights and the BatchNorm statistics (kept in eval mode) alike
        assert torch.equal(now[key], initial[key]), key
    for key in ("head.fc4.0.weight", "head.fc5.1.weight", "head.branches.0.weight", "head.branches.1.weight"):
        assert not torch.equal(now[key], initial[key]), key


def test_conv_lr_mult_above_zero_trains_the_backbone(sequences, tmp_path):
    trainer = make_trainer(sequences, tmp_path / "run", conv_lr_mult=0.1, iterations=2)
    before = trainer.model.backbone.conv1[0].weight.detach().clone()
    statistics = {k: v.clone() for k, v in trainer.model.backbone.state_dict().items() if "running" in k}
    trainer.fit(progress=False)
    assert not trainer.freeze_conv
    assert not torch.equal(trainer.model.backbone.conv1[0].weight, before)
    # BatchNorm keeps its statistics while the convs learn (8 regions a step are too few for batch statistics).
    assert len(statistics) == 4
    for key, value in statistics.items():
        assert torch.equal(trainer.model.backbone.state_dict()[key], value), key


def test_exported_weights_drive_the_tracker(trained, data_root):
    from twintrack import create_tracker
    from twintrack.data import read_image

    _, run_dir, _, _ = trained
    sequence = discover(data_root / "seq0")[0]
    tracker = create_tracker("mdnet", weights=run_dir / WEIGHTS, device="cpu", seed=0, region_size=127,
                             n_pos_init=30, n_neg_init=100, maxiter_init=5, n_samples=32, batch_neg_cand=64,
                             n_bbreg=50, maxiter_update=3)
    tracker.init(read_image(sequence.frames[0]), sequence.boxes[0])
    for path in sequence.frames[1:3]:
        result = tracker.update(read_image(path))
        assert np.isfinite(result.box).all() and 0 <= result.score <= 1


def test_initial_training_loss_is_near_chance(trained):
    _, _, _, losses = trained
    assert losses[0] < 2.0, losses


# ---------------------------------------------------------------------------------------------------------- resume


@pytest.fixture(scope="module")
def interrupted_run(sequences, tmp_path_factory):
    """The same 6-step run stopped after 5 steps: its checkpoint is the one written after epoch 2 (step 4)."""
    run_dir = tmp_path_factory.mktemp("mdnet_interrupted")
    trainer = make_trainer(sequences, run_dir)
    assert len(trainer.fit(max_steps=5, progress=False)) == 5
    return run_dir


def test_resume_restores_the_step_and_finishes_the_run(sequences, interrupted_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(interrupted_run, run_dir)
    trainer = make_trainer(sequences, run_dir)
    assert trainer.resume() is True
    assert trainer.step == 4 and trainer.state.epoch == 2
    saved = load_checkpoint(run_dir / CHECKPOINT)["model"]
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    losses = trainer.fit(progress=False)
    assert len(losses) == 2 and trainer.step == 6


def test_resume_without_checkpoint_returns_false(sequences, tmp_path):
    assert make_trainer(sequences, tmp_path / "fresh").resume() is False


def test_resume_with_different_config_is_a_user_error(sequences, interrupted_run):
    with pytest.raises(UserError, match="resume"):
        make_trainer(sequences, interrupted_run, lr=0.5).resume()


def test_resumed_training_matches_an_uninterrupted_run(sequences, interrupted_run, trained, tmp_path):
    import shutil

    straight, _, _, straight_losses = trained
    run_dir = tmp_path / "copy"
    shutil.copytree(interrupted_run, run_dir)
    resumed = make_trainer(sequences, run_dir)
    assert resumed.resume()
    resumed_losses = resumed.fit(progress=False)
    np.testing.assert_allclose(resumed_losses, straight_losses[4:], rtol=1e-4, atol=1e-6)
    for (name, a), (_, b) in zip(resumed.model.state_dict().items(), straight.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
