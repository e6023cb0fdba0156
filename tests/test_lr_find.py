"""train/lr_find.py and `twintrack lr-find`: the range test on tiny data, its files and its suggestion."""

from __future__ import annotations

import csv

import matplotlib.image
import numpy as np
import pytest
import torch

from conftest import write_training_set
from twintrack.cli import main
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.data import discover
from twintrack.train.lr_find import lr_range_test, suggest, write_outputs
from twintrack.train.mdnet_trainer import MDNetTrainer

CPU = torch.device("cpu")
MDNET_SMALL = {"frames_per_iter": 2, "batch_pos": 4, "batch_neg": 8, "region_size": 127, "autocast_bf16": False}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("lr_find_data"), count=2, frames=6, seed=400)


def test_suggest_picks_the_steepest_descent():
    lrs = list(np.logspace(-5, 0, 51))
    # A loss that falls fastest around 1e-3 (a logistic in log lr), then blows up after 1e-1.
    x = np.log10(lrs)
    smoothed = list(1.0 / (1.0 + np.exp(3.0 * (x + 3.0))) + np.where(x > -1, (x + 1) ** 2 * 5, 0.0))
    rate, method = suggest(lrs, smoothed)
    assert method == "steepest" and 10**-3.2 <= rate <= 10**-2.8


def test_suggest_falls_back_to_min_over_10_inside_the_range():
    rate, method = suggest([1e-4, 1e-3, 1e-2], [1.0, 0.5, 3.0])
    assert method == "min/10" and rate == pytest.approx(1e-4)
    assert suggest([1e-3, 1e-2, 1e-1], [1.0, 2.0, 3.0]) == (1e-3, "min/10")  # never below the first rate


def test_range_test_on_mdnet_writes_csv_png_and_a_rate_in_range(data_root, tmp_path):
    trainer = MDNetTrainer(load_config("train_mdnet", MDNET_SMALL), discover(data_root), tmp_path / "scratch", CPU)
    result = lr_range_test(trainer, lr_min=1e-5, lr_max=10.0, steps=40)
    assert 5 <= len(result.lrs) <= 40
    assert result.lrs[0] == pytest.approx(1e-5)
    assert all(a < b for a, b in zip(result.lrs, result.lrs[1:]))
    assert 1e-5 <= result.suggestion <= 10.0
    # The group multipliers (fc6 x10) are kept while the base rate sweeps.
    groups = trainer.optimizer.param_groups
    assert groups[1]["lr"] == pytest.approx(10 * groups[0]["lr"])
    csv_path, png_path = write_outputs(result, tmp_path / "out")
    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) == len(result.lrs) and set(rows[0]) == {"step", "lr", "loss", "smoothed_loss"}
    assert matplotlib.image.imread(png_path).shape[0] > 100


def test_bad_range_is_a_user_error(data_root, tmp_path):
    trainer = MDNetTrainer(load_config("train_mdnet", MDNET_SMALL), discover(data_root), tmp_path, CPU)
    with pytest.raises(UserError, match="lr-min"):
        lr_range_test(trainer, lr_min=1.0, lr_max=0.1)


def test_cli_lr_find_siamfc_leaves_the_run_folder_alone(data_root, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(b"an existing run's checkpoint")
    argv = ["lr-find", "siamfc", "--data", str(data_root), "--out", str(run_dir), "--device", "cpu",
            "--lr-min", "1e-4", "--lr-max", "1", "--steps", "12", "batch_size=2", "search_size=143",
            "autocast_bf16=false"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "suggested lr" in out
    rate = float(out.split("suggested lr ")[1].split()[0])
    assert 1e-4 <= rate <= 1.0
    assert (run_dir / "checkpoint.pt").read_bytes() == b"an existing run's checkpoint"
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt", "lr_find.csv", "lr_find.png"]


def test_cli_lr_find_bad_range_exits_2(data_root, tmp_path, capsys):
    argv = ["lr-find", "mdnet", "--data", str(data_root), "--out", str(tmp_path), "--device", "cpu",
            "--lr-min", "1", "--lr-max", "0.1", "--steps", "5", "--backbone", "none.safetensors"]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("twintrack: error: lr-find needs 0 < --lr-min < --lr-max")
