"""train/: pre-cropped packs, the seeded pair loader (workers, shards), validation during training, and a
2-process DistributedDataParallel run under torchrun with the gloo backend (CPU)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_training_set
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.models import SiamFCNet
from twintrack.data import discover
from twintrack.app.validate import TrackingValidator
from twintrack.train.loader import EpochShardSampler, make_loader
from twintrack.data.packs import PRECROP_SIZE, box_in_crop, precrop_geometry, read_pack, write_pack
from twintrack.train.pairs import CropCache, PairSampler
from twintrack.train.siamfc_trainer import SiamFCTrainer
from twintrack.weights import load_weights

CPU = torch.device("cpu")
SMALL = {"batch_size": 4, "search_size": 143, "r_pos": 6.0, "autocast_bf16": False, "epochs": 1,
         "pairs_per_epoch": 8, "seed": 0}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("scale_data"), count=2, frames=6, seed=200)


@pytest.fixture(scope="module")
def pack(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack")
    write_pack(discover(data_root), out, quality=95)
    return out


def test_box_in_crop_puts_the_target_at_the_crop_centre_with_the_hand_computed_size():
    # A 20x10 box at (40, 30): context p = 15, exemplar side sqrt(35 * 25) = 29.58, pre-crop side x 255/127.
    centre, side = precrop_geometry([40, 30, 20, 10], 127, 0.5)
    assert centre == (50.0, 35.0)
    assert side == pytest.approx(np.sqrt(35 * 25) * 255 / 127)
    x, y, w, h = box_in_crop([40, 30, 20, 10], centre, side)
    scale = PRECROP_SIZE / side
    assert (w, h) == pytest.approx((20 * scale, 10 * scale))
    assert (x + w / 2, y + h / 2) == pytest.approx((PRECROP_SIZE / 2, PRECROP_SIZE / 2))


def test_pack_round_trip_keeps_sequences_and_crops(data_root, pack):
    sequences = read_pack(pack, exemplar_size=127, context=0.5)
    originals = discover(data_root)
    assert [s.name for s in sequences] == [s.name for s in originals]
    assert all(s.precropped and len(s) == 6 for s in sequences)
    # A pack crop is the crop the in-memory cache would have made (up to JPEG loss).
    direct = CropCache(127, 0.5).get(originals[0], 3).astype(float)
    packed = CropCache(127, 0.5).get(sequences[0], 3).astype(float)
    assert packed.shape == (PRECROP_SIZE, PRECROP_SIZE, 3)
    assert np.abs(direct - packed).mean() < 6


def test_pack_max_frames_thins_evenly(data_root, tmp_path):
    index = write_pack(discover(data_root), tmp_path, max_frames=3)
    assert all(len(entry["files"]) == 3 for entry in index["sequences"])


def test_pack_with_other_crop_settings_is_a_user_error(pack):
    with pytest.raises(UserError, match="context"):
        read_pack(pack, exemplar_size=127, context=0.3)


def test_epoch_shards_are_disjoint_and_cover_the_epoch():
    shards = [list(EpochShardSampler(10, rank, 2)) for rank in range(2)]
    assert sorted(shards[0] + shards[1]) == list(range(10))
    sampler = EpochShardSampler(10, 1, 2)
    sampler.set_epoch(3)
    assert list(sampler) == [31, 33, 35, 37, 39]


def test_loader_pairs_do_not_depend_on_worker_count(data_root):
    config = load_config("train_siamfc", SMALL)
    sampler = PairSampler(discover(data_root), config)
    batches = {}
    for workers in (0, 2):
        loader, _ = make_loader(sampler, 0, 8, 4, workers, pin_memory=False)
        batches[workers] = list(loader)
    for a, b in zip(batches[0], batches[2]):
        for x, y in zip(a, b):
            assert torch.equal(x, y)
    exemplars, searches, labels, weights = batches[0][0]
    assert exemplars.dtype == torch.uint8 and exemplars.shape == (4, 3, 127, 127)
    assert searches.shape == (4, 3, 143, 143) and labels.shape == weights.shape == (4, 1, 3, 3)


def test_training_from_a_pack_with_validation_logs_auc(pack, data_root, tmp_path):
    config = load_config("train_siamfc", {**SMALL, "epochs": 2, "val_data": str(data_root), "val_every": 1})
    trainer = SiamFCTrainer(config, read_pack(pack), tmp_path / "run", CPU,
                            validator=TrackingValidator("siamfc", str(data_root), CPU))
    losses = trainer.fit(progress=False)
    assert len(losses) == 4 and all(np.isfinite(losses))
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(0.0 <= float(r["val_auc"]) <= 1.0 and 0.0 <= float(r["data_wait"]) <= 1.0 for r in rows)
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0
    assert any((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))


def test_max_minutes_stops_after_the_first_epoch_and_saves(data_root, tmp_path):
    config = load_config("train_siamfc", {**SMALL, "epochs": 5, "max_minutes": 1e-6})
    trainer = SiamFCTrainer(config, discover(data_root), tmp_path / "run", CPU)
    trainer.fit(progress=False)
    assert trainer.state.epoch == 1 and (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun is not installed beside this Python")
def test_ddp_two_processes_gloo_train_one_model(data_root, tmp_path):
    """torchrun starts 2 CPU processes; each trains on its half of the epoch; rank 0 writes the run folder."""
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    run_dir = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    overrides = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in {**SMALL, "epochs": 2}.items()]
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "twintrack", "train", "siamfc",
         "--data", str(data_root), "--out", str(run_dir), "--device", "cpu", *overrides],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    # 8 pairs per epoch over 2 processes of batch 4: one step per epoch each; 2 x 4 pairs per step in all.
    assert [int(r["step"]) for r in rows] == [1, 2]
    load_weights(SiamFCNet(), run_dir / "siamfc_vggm.safetensors", arch="siamfc_vggm")


def test_the_best_val_epoch_is_kept_beside_the_last(data_root, tmp_path):
    """Early stopping on val AUC: epoch 2 scores best, so best_<weights> holds epoch 2 while the last epoch (3)
    is the run's weights; a validator that never improves after epoch 1 leaves epoch 1 there."""
    from safetensors import safe_open

    scripted = iter([0.30, 0.50, 0.40])
    config = load_config("train_siamfc", {**SMALL, "epochs": 3, "val_data": str(data_root), "val_every": 1})
    trainer = SiamFCTrainer(config, discover(data_root), tmp_path / "run", CPU,
                            validator=lambda net: {"val_auc": next(scripted), "val_prec": 0.0})
    trainer.fit(progress=False)
    with safe_open(str(trainer.best_weights_path), "pt") as best, safe_open(str(trainer.weights_path), "pt") as last:
        assert best.metadata()["epoch"] == "2" and float(best.metadata()["val_auc"]) == 0.5
        assert last.metadata()["epoch"] == "3"
    load_weights(SiamFCNet(), trainer.best_weights_path, arch="siamfc_vggm")  # a loadable SiamFC network
