"""Distillation from NanoTrack v2 (train/teacher.py): the grid mapping and padding by hand, the label mixing as the
two-term loss it stands for, the sampler's use of it, one-line errors, and a real teacher run where
../shared/models/nanotrack holds the files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import textured_patch
from test_pairs import constant_sequence, small_train_config, tiny_sequences
from twintrack.errors import UserError
from twintrack.train.losses import balanced_logistic_loss
from twintrack.train.pairs import PairSampler, label_map
from twintrack.train.teacher import NanoTeacher, pad_to_teacher, resample_scores
from twintrack.weights.nanotrack import NANOTRACK_ENV, NANOTRACK_FILES

NANO_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "nanotrack"


def test_resample_hits_teacher_cells_and_interpolates_between_them():
    # A map linear in its cell indices: bilinear sampling reproduces it exactly at any point.
    rows, cols = np.mgrid[0:16, 0:16].astype(np.float64)
    teacher_map = cols + 100 * rows
    # Student stride 8, 15 cells: cell k is (k - 7) * 8 px from the centre, i.e. teacher cell 8 + (k - 7) / 2.
    out = resample_scores(teacher_map, 15, 8)
    expected_1d = 8 + (np.arange(15) - 7) / 2  # 4.5, 5.0, ..., 11.5
    np.testing.assert_allclose(out, expected_1d[None, :] + 100 * expected_1d[:, None])
    assert out[7, 7] == teacher_map[8, 8]  # the crop centre is the teacher's cell 8


def test_resample_beyond_the_teacher_grid_takes_its_edge():
    teacher_map = np.tile(np.arange(16, dtype=np.float64), (16, 1))
    # Stride 16, 19 cells: offsets -144..144 px -> teacher cells -1..17, clipped to 0..15.
    out = resample_scores(teacher_map, 19, 16)
    assert out[0, 0] == 0 and out[0, 1] == 0 and out[0, -1] == 15 and out[0, -2] == 15
    np.testing.assert_allclose(out[3, 1:18], np.clip(np.arange(17.0), 0, 15))


def test_pad_to_teacher_keeps_the_centre_and_pads_with_the_mean():
    search = np.zeros((239, 239, 3), np.uint8)
    search[:, :, 0] = 90
    search[100, 120] = (10, 20, 30)
    padded = pad_to_teacher(search)
    assert padded.shape == (255, 255, 3)
    np.testing.assert_array_equal(padded[8:247, 8:247], search)
    mean = np.round(search.reshape(-1, 3).mean(axis=0))
    np.testing.assert_array_equal(padded[0, 0], mean)
    np.testing.assert_array_equal(padded[254, 3], mean)
    full = np.zeros((255, 255, 3), np.uint8)
    assert pad_to_teacher(full) is full
    for bad in (240, 271):
        with pytest.raises(ValueError, match="search_size"):
            pad_to_teacher(np.zeros((bad, bad, 3), np.uint8))


def test_mixed_labels_equal_the_two_term_loss():
    # BCE is linear in its target, so one loss on (1-a)*truth + a*teacher is (1-a)*BCE(truth) + a*BCE(teacher).
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 1, 15, 15, generator=gen) * 3
    labels, weights = label_map(15, 8, 16, 0, (5.0, -3.0))
    truth = torch.from_numpy(labels)[None, None].expand(4, 1, 15, 15)
    weight = torch.from_numpy(weights)[None, None].expand(4, 1, 15, 15)
    teacher = torch.rand(4, 1, 15, 15, generator=gen)
    a = 0.3
    mixed = balanced_logistic_loss(logits, (1 - a) * truth + a * teacher, weight)
    separate = (1 - a) * balanced_logistic_loss(logits, truth, weight) + a * balanced_logistic_loss(
        logits, teacher, weight)
    torch.testing.assert_close(mixed, separate)


class FixedTeacher:
    """A stand-in teacher whose soft labels are one constant map."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def soft_labels(self, exemplar, search, response_size, stride):
        self.calls += 1
        assert exemplar.shape == (127, 127, 3) and search.shape[0] == search.shape[1]
        return np.full((response_size, response_size), self.value, np.float32)


def test_sampler_mixes_the_teacher_into_positive_pairs_only(tmp_path):
    sequences = tiny_sequences(tmp_path)
    plain = PairSampler(sequences, small_train_config())
    distilled = PairSampler(sequences, small_train_config())
    distilled.config = small_train_config(distill_weight=0.25)  # the config's teacher files are not needed here
    distilled.teacher = FixedTeacher(0.8)
    for seed in range(3):
        *_, truth, truth_weights = plain.sample(np.random.default_rng(seed))
        *_, labels, weights = distilled.sample(np.random.default_rng(seed))
        np.testing.assert_allclose(labels, 0.75 * truth + 0.25 * 0.8, rtol=1e-6)
        np.testing.assert_array_equal(weights, truth_weights)
    negatives = PairSampler([constant_sequence(tmp_path, "a", 40), constant_sequence(tmp_path, "b", 200)],
                            small_train_config(negative_pair_prob=1.0))
    negatives.config = small_train_config(negative_pair_prob=1.0, distill_weight=0.5)
    negatives.teacher = FixedTeacher(0.9)
    *_, labels, _ = negatives.sample(np.random.default_rng(0))
    assert not labels.any() and negatives.teacher.calls == 0


def test_distillation_without_teacher_files_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(NANOTRACK_ENV, raising=False)
    with pytest.raises(UserError, match="distill_weight > 0 needs NanoTrack v2's two ONNX files") as err:
        PairSampler(tiny_sequences(tmp_path), small_train_config(distill_weight=0.5))
    assert "distill_teacher=PATH" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UserError, match="does not exist"):
        PairSampler(tiny_sequences(tmp_path), small_train_config(distill_weight=0.5, distill_teacher=str(tmp_path)))


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_distill_weight_outside_zero_one_is_a_user_error(tmp_path, value):
    from twintrack.train.siamfc_trainer import SiamFCTrainer

    with pytest.raises(UserError, match="distill_weight"):
        SiamFCTrainer(small_train_config(distill_weight=value), tiny_sequences(tmp_path), tmp_path / "run",
                      torch.device("cpu"))


def require_nano() -> Path:
    if not all((NANO_DIR / name).is_file() for name in NANOTRACK_FILES):
        pytest.skip(f"NanoTrack v2 ONNX files not found in {NANO_DIR}")
    return NANO_DIR


def test_real_teacher_finds_a_shifted_target_and_survives_pickling():
    folder = require_nano()
    teacher = NanoTeacher(folder / NANOTRACK_FILES[0], folder / NANOTRACK_FILES[1])
    rng = np.random.default_rng(5)
    patch = textured_patch(rng, 48)
    exemplar = np.full((127, 127, 3), 128, np.uint8)
    exemplar[40:88, 40:88] = patch  # the target fills the exemplar's centre, as context 0.5 makes it
    search = np.full((239, 239, 3), 128, np.uint8)
    dx, dy = 24, -16  # target centre offset in the search crop (pixels)
    cy, cx = 119 + dy, 119 + dx
    search[cy - 24:cy + 24, cx - 24:cx + 24] = patch
    soft = teacher.soft_labels(exemplar, search, 15, 8)
    assert soft.shape == (15, 15) and soft.dtype == np.float32
    assert 0 <= soft.min() and soft.max() <= 1
    row, col = np.unravel_index(np.argmax(soft), soft.shape)
    # Student cell k lies (k - 7) * 8 px from the centre; the teacher's stride is 16, so allow one of its cells.
    assert abs((col - 7) * 8 - dx) <= 16 and abs((row - 7) * 8 - dy) <= 16
    assert soft.max() > 0.5 and soft[0, 0] < 0.5
    copy = pickle.loads(pickle.dumps(teacher))  # as the loader sends the sampler to its worker processes
    np.testing.assert_allclose(copy.soft_labels(exemplar, search, 15, 8), soft, atol=1e-5)
