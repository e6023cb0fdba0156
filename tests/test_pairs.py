"""train/pairs.py and train/datasets.py: label maps, training pairs, sequence discovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import moving_target_clip, require_shared_data, write_image_folder, write_sequence_folder
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.data import Sequence, discover, from_got10k, read_box_file
from twintrack.train.pairs import PRECROP_SIZE, PairSampler, label_map

# ---------------------------------------------------------------------------------------------------- label maps


def test_label_map_hand_computed_cross():
    # Cell offsets from the centre are (-16, -8, 0, 8, 16) px; within 8 px: the centre and its 4 neighbours.
    labels, weights = label_map(5, 8, 8.0, 0.0)
    expected = np.zeros((5, 5), np.float32)
    expected[2, 1:4] = 1
    expected[1:4, 2] = 1
    np.testing.assert_array_equal(labels, expected)
    assert labels.shape == weights.shape == (5, 5)
    np.testing.assert_allclose(weights[labels == 1], 0.5 / 5)
    np.testing.assert_allclose(weights[labels == 0], 0.5 / 20)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[labels == 1].sum() == pytest.approx(0.5)


def test_label_map_offset_moves_the_positive_centre():
    # Target 8 px right and 8 px down of the crop centre: the cross is centred on cell (row 3, col 3).
    labels, weights = label_map(5, 8, 8.0, 0.0, offset_xy=(8.0, 8.0))
    expected = np.zeros((5, 5), np.float32)
    expected[3, 2:5] = 1
    expected[2:5, 3] = 1
    np.testing.assert_array_equal(labels, expected)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[labels == 1].sum() == pytest.approx(0.5)
    # A horizontal-only offset of 16 px puts the centre on the right edge (row 2, col 4): the cross is cut off.
    labels, weights = label_map(5, 8, 8.0, 0.0, offset_xy=(16.0, 0.0))
    expected = np.zeros((5, 5), np.float32)
    expected[1:4, 4] = 1
    expected[2, 3] = 1
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_allclose(weights[labels == 1], 0.5 / 4)


def test_label_map_ignores_the_band_between_r_pos_and_r_neg():
    # Diagonal neighbours (11.3 px) fall between r_pos 8 and r_neg 12: label 0, weight 0.
    labels, weights = label_map(5, 8, 8.0, 12.0)
    diagonals = [(1, 1), (1, 3), (3, 1), (3, 3)]
    for cell in diagonals:
        assert labels[cell] == 0 and weights[cell] == 0
    assert labels.sum() == 5
    np.testing.assert_allclose(weights[weights > 0].sum(), 1.0)
    negatives = (labels == 0) & (weights > 0)
    assert negatives.sum() == 25 - 5 - 4
    np.testing.assert_allclose(weights[negatives], 0.5 / 16)


def test_label_map_is_symmetric_without_offset():
    labels, weights = label_map(17, 8, 16.0, 0.0)
    for arr in (labels, weights):
        np.testing.assert_array_equal(arr, arr[::-1, :])
        np.testing.assert_array_equal(arr, arr[:, ::-1])
        np.testing.assert_array_equal(arr, arr.T)
    assert weights.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------ tiny datasets


def tiny_sequences(root: Path, count: int = 2, frames: int = 5) -> list[Sequence]:
    """Sequences of small JPEGs built directly as Sequence objects (0-based boxes)."""
    sequences = []
    for s in range(count):
        clip_frames, boxes = moving_target_clip(frames, (64, 80), 16, (20, 18), (2, 1), background="noise", seed=s)
        folder = write_image_folder(root / f"seq{s}", clip_frames, suffix=".jpg")
        paths = tuple(str(p) for p in sorted(folder.iterdir()))
        sequences.append(Sequence(f"seq{s}", paths, boxes))
    return sequences


def small_train_config(**changes):
    values = {"search_size": 127 + 16, "batch_size": 3, "autocast_bf16": False}
    values.update(changes)
    return load_config("train_siamfc", values)


def test_pair_sampler_batch_shapes(tmp_path):
    config = small_train_config()
    sampler = PairSampler(tiny_sequences(tmp_path), config)
    assert sampler.response_size == 3  # (143 -> 13 cells) - (127 -> 11 cells) + 1
    exemplars, searches, labels, weights = sampler.batch(np.random.default_rng(0), 3)
    assert exemplars.shape == (3, 3, 127, 127)
    assert searches.shape == (3, 3, 143, 143)
    assert labels.shape == weights.shape == (3, 1, 3, 3)
    for t in (exemplars, searches, labels, weights):
        assert t.dtype == torch.float32 and torch.isfinite(t).all()
    assert exemplars.min() >= 0 and exemplars.max() <= 255
    assert searches.min() >= 0 and searches.max() <= 255
    torch.testing.assert_close(weights.sum(dim=(1, 2, 3)), torch.ones(3))
    assert set(labels.unique().tolist()) <= {0.0, 1.0}


def test_pair_sampler_is_repeatable_for_a_seed(tmp_path):
    sequences = tiny_sequences(tmp_path)
    config = small_train_config()
    first = PairSampler(sequences, config).batch(np.random.default_rng(7), 2)
    second = PairSampler(sequences, config).batch(np.random.default_rng(7), 2)
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b)


def test_pair_sampler_with_stills_only(tmp_path):
    rng = np.random.default_rng(0)
    folder = write_image_folder(tmp_path / "stills", [rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)])
    path = str(next(folder.iterdir()))
    still = Sequence("still/0", (path,), np.array([[10.0, 12.0, 20.0, 16.0]]), still=True)
    sampler = PairSampler([still], small_train_config())
    exemplars, searches, labels, weights = sampler.batch(rng, 2)
    assert exemplars.shape == (2, 3, 127, 127) and searches.shape == (2, 3, 143, 143)


def test_pair_sampler_needs_sequences():
    with pytest.raises(ValueError):
        PairSampler([], small_train_config())


def test_pick_frames_differs_and_respects_max_gap(tmp_path):
    sequences = tiny_sequences(tmp_path, count=1, frames=6)
    sampler = PairSampler(sequences, small_train_config(max_frame_gap=2))
    rng = np.random.default_rng(0)
    for _ in range(200):
        _, first, second = sampler._pick_frames(rng)
        assert first != second
        assert abs(first - second) <= 2
        assert 0 <= first < 6 and 0 <= second < 6


@pytest.mark.parametrize("flip", [False, True])
def test_cut_reports_where_the_target_lands(flip):
    """The offset used for the label map must be where the target really is in the cut crop."""
    config = small_train_config(stretch=0.05, color_jitter=0.0)
    sampler = PairSampler.__new__(PairSampler)  # only _cut and its config are needed
    sampler.config = config
    crop = np.zeros((PRECROP_SIZE, PRECROP_SIZE, 3), np.uint8)
    c = PRECROP_SIZE // 2  # the target (a bright 9x9 square) is centred at PRECROP_SIZE / 2 = 127.5
    crop[c - 4 : c + 5, c - 4 : c + 5] = 255
    rng = np.random.default_rng(3)
    for _ in range(10):
        image, offset = sampler._cut(rng, crop, 143, 8, flip, False)
        bright = image[:, :, 0] > 127
        ys, xs = np.nonzero(bright)
        centroid = np.array([xs.mean() + 0.5, ys.mean() + 0.5]) - 143 / 2
        np.testing.assert_allclose(centroid, offset, atol=0.75)


# -------------------------------------------------------------------------------------------------- datasets


def test_discover_sequence_folder_converts_one_based_boxes(tmp_path):
    frames, boxes = moving_target_clip(4, (40, 50), 10, (5, 6), (1, 1), seed=0)
    write_sequence_folder(tmp_path / "root" / "walk", frames, boxes)
    [sequence] = discover(tmp_path / "root")
    assert sequence.name == "walk" and len(sequence) == 4 and not sequence.still
    np.testing.assert_allclose(sequence.boxes, boxes)  # written 1-based, read back 0-based
    assert all(Path(f).exists() for f in sequence.frames)


def test_discover_drops_invalid_rows(tmp_path):
    frames, _ = moving_target_clip(4, (40, 50), 10, (5, 6), (1, 1), seed=0)
    folder = tmp_path / "seq"
    write_image_folder(folder / "img", frames, suffix=".jpg")
    (folder / "groundtruth_rect.txt").write_text("1,1,10,10\nNaN,NaN,NaN,NaN\n3\t3\t1\t10\n4 4 10 10\n")
    [sequence] = discover(folder)
    assert len(sequence) == 2
    np.testing.assert_allclose(sequence.boxes, [[0, 0, 10, 10], [3, 3, 10, 10]])
    assert [Path(f).name for f in sequence.frames] == ["0001.jpg", "0004.jpg"]


def test_discover_image_set(tmp_path):
    rng = np.random.default_rng(0)
    write_image_folder(tmp_path / "set" / "img", [rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)] * 2)
    (tmp_path / "set" / "boxes.csv").write_text("filename,x,y,w,h\n0001.png,1,2,10,12\n0002.png,0,0,0.5,9\n")
    sequences = discover(tmp_path / "set")
    assert len(sequences) == 1 and sequences[0].still
    np.testing.assert_allclose(sequences[0].boxes, [[1, 2, 10, 12]])


def test_discover_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        discover(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no sequences"):
        discover(tmp_path / "empty")


def test_read_box_file_rejects_bad_lines(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,2,3\n")
    with pytest.raises(UserError, match="four numbers"):
        read_box_file(path)
    path.write_text("1,2,x,4\n")
    with pytest.raises(UserError, match="cannot read"):
        read_box_file(path)


def test_from_got10k_wraps_any_indexable_dataset(tmp_path):
    write_image_folder(tmp_path, [np.zeros((40, 50, 3), np.uint8)] * 4, suffix=".jpg")  # 50 wide, 40 high
    a, b, c, d = (str(tmp_path / f"{i:04d}.jpg") for i in range(1, 5))
    dataset = [
        ([a, b, c, d], [[1, 1, 10, 10], [2, 2, 0, 10], [3, 3, 10, 10], [60, 3, 10, 10]]),  # b absent, d outside
        ([d], [[np.nan, 0, 1, 1]]),  # nothing valid: dropped
    ]
    sequences = from_got10k(dataset, one_based=True, name="toy")
    assert len(sequences) == 1
    assert sequences[0].frames == (a, c)
    np.testing.assert_allclose(sequences[0].boxes, [[0, 0, 10, 10], [2, 2, 10, 10]])


def test_discover_shared_training_data():
    """The shared train split (its README: 61 sequences, 6,978 frames) loads with valid 0-based boxes."""
    root = require_shared_data("sot", "train")
    sequences = discover(root)
    assert len(sequences) == 61
    assert sum(len(s) for s in sequences) == 6978
    for sequence in sequences:
        assert len(sequence) > 0 and len(sequence.frames) == len(sequence.boxes)
        assert np.isfinite(sequence.boxes).all() and (sequence.boxes[:, 2:] > 1).all()
    raccoon = discover(require_shared_data("images", "raccoon"))
    assert len(raccoon) == 217 and all(s.still for s in raccoon)
