"""train/: SiamFC training on tiny synthetic sequences: the loss falls, checkpoints resume exactly."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml

from conftest import write_training_set
from twintrack.cli import main
from twintrack.configs import config_to_dict, load_config
from twintrack.errors import UserError
from twintrack.models import SiamFCNet
from twintrack.train.checkpoint import load_checkpoint, save_checkpoint
from twintrack.data import discover
from twintrack.train.siamfc_trainer import CHECKPOINT, WEIGHTS, SiamFCTrainer
from twintrack.weights import load_weights

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """Three 8-frame sequences: 64x64 noise frames, a 16x16 textured target moving 2 px / 1 px per frame."""
    return write_training_set(tmp_path_factory.mktemp("train_data"), count=3, frames=8, seed=100)


@pytest.fixture(scope="module")
def sequences(data_root):
    found = discover(data_root)
    assert len(found) == 3 and all(len(s) == 8 for s in found)
    return found


# A 3x3 response (search 143). The preset's r_pos 16 would make nearly every cell of such a small map positive;
# r_pos 6 keeps one to four positives per map, so the balanced loss has something to separate.
FALL_OVERRIDES = {
    "batch_size": 4,
    "search_size": 143,
    "r_pos": 6.0,
    "autocast_bf16": False,
    "epochs": 1,
    "pairs_per_epoch": 4000,
    "optimizer": "momentum",
    "lr": 0.01,
    "seed": 0,
}


def test_training_loss_falls(sequences, tmp_path):
    # Measured on this data with seeds 0-3: first-5 mean 0.79-0.84, last-10 mean 0.54-0.55.
    config = load_config("train_siamfc", FALL_OVERRIDES)
    trainer = SiamFCTrainer(config, sequences, tmp_path / "run", CPU)
    assert trainer.sampler.response_size == 3
    losses = trainer.fit(max_steps=30, progress=False)
    assert len(losses) == 30 and trainer.state.step == 30
    assert all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 0.1, np.round(losses, 3)


# Two optimizer steps per epoch (8 pairs / batch 4) on the smallest search crop: resume tests need only bookkeeping.
RESUME_OVERRIDES = {
    "batch_size": 4,
    "search_size": 143,
    "autocast_bf16": False,
    "epochs": 3,
    "pairs_per_epoch": 8,
    "seed": 1,
}


def make_trainer(sequences, run_dir, **changes):
    config = load_config("train_siamfc", {**RESUME_OVERRIDES, **changes})
    return SiamFCTrainer(config, sequences, run_dir, CPU)


@pytest.fixture(scope="module")
def interrupted_run(sequences, tmp_path_factory):
    """A 3-epoch run stopped one step into epoch 3: its checkpoint is the one written after epoch 2."""
    run_dir = tmp_path_factory.mktemp("interrupted")
    trainer = make_trainer(sequences, run_dir)
    losses = trainer.fit(max_steps=5, progress=False)
    assert len(losses) == 5
    return run_dir


def test_checkpoint_files_and_metrics(interrupted_run):
    assert (interrupted_run / CHECKPOINT).exists()
    assert (interrupted_run / WEIGHTS).exists()
    rows = (interrupted_run / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].split(",")[:3] == ["epoch", "step", "loss"]
    assert [r.split(",")[:2] for r in rows[1:]] == [["1", "2"], ["2", "4"]]
    saved = yaml.safe_load((interrupted_run / "config.yaml").read_text())
    assert saved == config_to_dict(load_config("train_siamfc", RESUME_OVERRIDES))
    # The weights file loads into a fresh network with the right architecture tag.
    load_weights(SiamFCNet(), interrupted_run / WEIGHTS, arch="siamfc_vggm")


def test_resume_restores_epoch_and_step(sequences, interrupted_run):
    trainer = make_trainer(sequences, interrupted_run)
    assert trainer.resume() is True
    assert trainer.state.epoch == 2
    assert trainer.state.step == 4


def test_resume_without_checkpoint_returns_false(sequences, tmp_path):
    assert make_trainer(sequences, tmp_path / "fresh").resume() is False


def test_resumed_training_matches_an_uninterrupted_run(sequences, interrupted_run, tmp_path):
    straight = make_trainer(sequences, tmp_path / "straight")
    straight_losses = straight.fit(progress=False)
    assert len(straight_losses) == 6 and straight.state.epoch == 3

    resumed = make_trainer(sequences, interrupted_run)
    assert resumed.resume()
    resumed_losses = resumed.fit(progress=False)
    assert resumed.state.epoch == 3 and resumed.state.step == 6
    # Same model, optimizer, schedule and data RNG after the checkpoint: the last epoch repeats exactly.
    np.testing.assert_allclose(resumed_losses, straight_losses[4:], rtol=1e-4, atol=1e-6)
    for (name, a), (_, b) in zip(resumed.model.state_dict().items(), straight.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_resume_with_different_config_is_a_user_error(sequences, interrupted_run):
    trainer = make_trainer(sequences, interrupted_run, lr=0.5)
    with pytest.raises(UserError, match="lr"):
        trainer.resume()


def test_refused_resume_leaves_the_run_config_alone(sequences, tmp_path):
    run_dir = tmp_path / "run"
    make_trainer(sequences, run_dir, epochs=1).fit(progress=False)
    before = (run_dir / "config.yaml").read_text()
    with pytest.raises(UserError):
        make_trainer(sequences, run_dir, epochs=1, lr=0.5).resume()
    assert (run_dir / "config.yaml").read_text() == before


def cli_overrides(values: dict) -> list[str]:
    return [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items()]


def assert_one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert len(lines) == 1 and lines[0].startswith("twintrack: error:"), stderr
    return lines[0]


def test_cli_resume_with_different_config_exits_2(data_root, interrupted_run, capsys):
    argv = ["train", "siamfc", "--data", str(data_root), "--out", str(interrupted_run), "--device", "cpu",
            "--resume", *cli_overrides({**RESUME_OVERRIDES, "lr": 0.5})]
    assert main(argv) == 2
    line = assert_one_error_line(capsys.readouterr().err)
    assert "--resume" in line and "lr" in line


def test_cli_resume_without_checkpoint_exits_2(data_root, tmp_path, capsys):
    argv = ["train", "siamfc", "--data", str(data_root), "--out", str(tmp_path / "none"), "--device", "cpu",
            "--resume", *cli_overrides(RESUME_OVERRIDES)]
    assert main(argv) == 2
    assert "no checkpoint" in assert_one_error_line(capsys.readouterr().err)


def test_cli_train_smoke_writes_loadable_weights(data_root, tmp_path, capsys):
    run_dir = tmp_path / "cli_run"
    # Overrides may follow --data's folders: the CLI splits them back out.
    argv = ["train", "siamfc", "--out", str(run_dir), "--device", "cpu", "--max-steps", "2",
            "--data", str(data_root), *cli_overrides({**RESUME_OVERRIDES, "epochs": 1})]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 sequences" in out and "weights written" in out
    load_weights(SiamFCNet(), run_dir / WEIGHTS, arch="siamfc_vggm")


def test_cli_train_missing_data_folder_exits_2(tmp_path, capsys):
    argv = ["train", "siamfc", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run"), "--device", "cpu"]
    assert main(argv) == 2
    assert "does not exist" in assert_one_error_line(capsys.readouterr().err)


def test_cli_train_missing_config_file_exits_2(data_root, tmp_path, capsys):
    argv = ["train", "siamfc", "--data", str(data_root), "--out", str(tmp_path / "run"), "--device", "cpu",
            "--config", str(tmp_path / "missing.yaml")]
    assert main(argv) == 2
    assert_one_error_line(capsys.readouterr().err)


def test_resume_from_an_older_checkpoint_names_the_missing_keys(sequences, interrupted_run, tmp_path):
    """A checkpoint written before a config key existed is refused with that key named, not with an empty list."""
    run_dir = tmp_path / "old"
    shutil.copytree(interrupted_run, run_dir)
    payload = load_checkpoint(run_dir / CHECKPOINT)
    del payload["config"]["max_minutes"]
    save_checkpoint(run_dir / CHECKPOINT, payload)
    with pytest.raises(UserError, match="max_minutes"):
        make_trainer(sequences, run_dir).resume()


