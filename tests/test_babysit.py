"""train/babysit.py and `twintrack train --overfit-batch`: a healthy model memorises one batch, lr=0 cannot."""

from __future__ import annotations

import math

import pytest

from conftest import write_training_set
from twintrack.cli import main
from twintrack.train.babysit import overfit_batch, verdict

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("babysit_data"), count=2, frames=6, seed=300)


class FakeTrainer:
    """Replays given losses; counts how often a batch was drawn."""

    def __init__(self, losses):
        self.losses = list(losses)
        self.batches = 0

    def next_batch(self):
        self.batches += 1
        return ("the", "batch")

    def train_step(self, *batch):
        assert batch == ("the", "batch")
        return self.losses.pop(0)


def test_one_batch_is_drawn_and_the_threshold_is_relative_or_absolute():
    trainer = FakeTrainer([0.7] + [0.06] * 19)  # 8.6% of the first loss
    success, losses = overfit_batch(trainer, 20, echo=lambda line: None)
    assert success and trainer.batches == 1 and len(losses) == 20
    assert not overfit_batch(FakeTrainer([0.7] + [0.2] * 19), 20, echo=lambda line: None)[0]
    assert overfit_batch(FakeTrainer([0.3] + [0.04] * 19), 20, echo=lambda line: None)[0]  # < 0.05 absolute


def test_a_diverging_loss_fails_early():
    trainer = FakeTrainer([0.7, 5.0, math.nan, 0.0])
    success, losses = overfit_batch(trainer, 4, echo=lambda line: None)
    assert not success and len(losses) == 3
    assert "cannot fit one batch" in verdict(success, losses)


def test_cli_siamfc_fits_one_batch(data_root, tmp_path, capsys):
    # lr 0.05 memorises the batch in ~40 steps (measured: loss 0.96 -> 0.007 by step 50); 1e-2 needs ~100.
    argv = ["train", "siamfc", "--data", str(data_root), "--out", str(tmp_path / "run"), "--device", "cpu",
            "--overfit-batch", "--overfit-steps", "50", "batch_size=2", "search_size=143", "r_pos=6.0",
            "autocast_bf16=false", "lr=0.05"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "overfit step   50/50" in out and "overfit-batch passed" in out
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_cli_mdnet_with_lr_0_cannot_fit_and_exits_1(data_root, random_weights, tmp_path, capsys):
    argv = ["train", "mdnet", "--data", str(data_root), "--out", str(tmp_path / "run"), "--device", "cpu",
            "--backbone", str(random_weights), "--overfit-batch", "--overfit-steps", "15", "lr=0.0",
            "frames_per_iter=2", "batch_pos=4", "batch_neg=8", "region_size=127", "autocast_bf16=false"]
    assert main(argv) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("twintrack: overfit-batch FAILED: the model cannot fit one batch")
    assert "check lr" in lines[-1]
