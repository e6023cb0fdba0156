"""The data layer: one reader of sequence folders for training and evaluation, one image reader and suffix list."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from twintrack.cli import main
from twintrack.data import (
    GROUND_TRUTH_FILES, IMAGE_SUFFIXES, discover, image_size, is_sequence_folder, list_images, read_image,
    read_sequence_folder,
)
from twintrack.errors import UserError
from twintrack.eval.sequences import load_folder_sequences
from twintrack.geometry import from_one_based

from conftest import moving_target_clip, write_sequence_folder


def write_groundtruth_txt_sequence(folder, seed=0, n=6):
    """A VOT/UAV-style folder: img/*.jpg + groundtruth.txt (1-based)."""
    frames, boxes = moving_target_clip(n, (96, 96), 24, (20, 30), (3, 2), seed=seed)
    write_sequence_folder(folder, frames, boxes)
    (folder / "groundtruth_rect.txt").rename(folder / "groundtruth.txt")
    return boxes


def test_both_ground_truth_names_read_the_same_boxes(tmp_path):
    boxes = write_groundtruth_txt_sequence(tmp_path / "a")
    frames, gt = read_sequence_folder(tmp_path / "a")
    assert len(frames) == 6 and GROUND_TRUTH_FILES == ("groundtruth_rect.txt", "groundtruth.txt")
    np.testing.assert_allclose(gt, np.asarray(boxes, dtype=np.float64), atol=1e-6)
    # Training and evaluation read the same folder to the same frames and boxes.
    (train_seq,) = discover(tmp_path / "a")
    (eval_seq,) = load_folder_sequences(tmp_path / "a")
    assert train_seq.frames == eval_seq.frames
    np.testing.assert_array_equal(train_seq.boxes, eval_seq.ground_truth)


def test_eval_cli_on_a_groundtruth_txt_folder(tmp_path):
    for name, seed in (("seq_a", 0), ("seq_b", 1)):
        write_groundtruth_txt_sequence(tmp_path / "data" / name, seed)
    out = tmp_path / "out"
    assert main(["eval", "--baseline", "kcf", "--dataset", f"folder:{tmp_path / 'data'}", "--out", str(out)]) == 0
    rows = np.loadtxt(out / "results" / "kcf" / "seq_a.txt", delimiter=",", ndmin=2)
    assert rows.shape == (6, 4)
    first = load_folder_sequences(tmp_path / "data")[0].ground_truth[0]
    np.testing.assert_allclose(from_one_based(rows[0]), first, atol=1e-3)


def test_eval_keeps_unknown_rows_and_training_drops_them(tmp_path):
    write_sequence_folder(tmp_path / "s", *moving_target_clip(4, (64, 64), 16, (10, 10), (2, 2), seed=3))
    lines = (tmp_path / "s" / "groundtruth_rect.txt").read_text().splitlines()
    lines[2] = "NaN,NaN,NaN,NaN"
    (tmp_path / "s" / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    (eval_seq,) = load_folder_sequences(tmp_path / "s")
    (train_seq,) = discover(tmp_path / "s")
    assert len(eval_seq.frames) == 4 and np.isnan(eval_seq.ground_truth[2]).all()
    assert len(train_seq.frames) == 3 and np.isfinite(train_seq.boxes).all()


@pytest.mark.parametrize("suffix", IMAGE_SUFFIXES)
def test_every_listed_suffix_is_read_as_rgb(tmp_path, suffix):
    image = np.zeros((8, 10, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    path = tmp_path / f"frame{suffix}"
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert list_images(tmp_path) == [path]
    frame = read_image(path)
    assert frame.shape == (8, 10, 3) and frame.dtype == np.uint8
    assert abs(int(frame[..., 0].mean()) - 200) <= 3 and frame[..., 2].max() <= 3


@pytest.mark.parametrize("suffix", IMAGE_SUFFIXES)
def test_image_size_from_the_header_equals_the_decoded_size(tmp_path, suffix):
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), np.uint8)
    path = tmp_path / f"frame{suffix}"
    assert cv2.imwrite(str(path), image)
    assert image_size(path) == (53, 37)
    if suffix == ".jpg":  # a progressive JPEG with an EXIF-sized segment before its frame header
        data = path.read_bytes()
        app1 = b"\xff\xe1" + (2 + 3000).to_bytes(2, "big") + bytes(3000)
        path.write_bytes(data[:2] + app1 + data[2:])
        assert image_size(path) == (53, 37) and read_image(path).shape == (37, 53, 3)
        assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
        assert image_size(path) == (53, 37)


def test_a_folder_without_images_or_boxes_is_not_a_sequence(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "groundtruth.txt").write_text("1,1,5,5\n")
    assert not is_sequence_folder(tmp_path)  # no frames
    with pytest.raises(UserError, match="groundtruth_rect.txt or groundtruth.txt"):
        read_sequence_folder(tmp_path / "img")
    with pytest.raises(UserError, match="no OTB-style sequences"):
        load_folder_sequences(tmp_path)


def test_unreadable_image_is_one_user_error(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(UserError, match="cannot read image"):
        read_image(tmp_path / "broken.jpg")
