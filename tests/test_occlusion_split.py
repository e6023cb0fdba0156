"""twintrack/eval/occlusion.py: the occlusion stress split hides the target where and when it says, and reads back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from twintrack.eval import occlusion
from twintrack.eval.sequences import EvalSequence, load_folder_sequences


@pytest.mark.parametrize("count, window", [(13, (4, 3)), (82, (25, 12)), (892, (268, 20)), (4, (2, 1)), (3, (2, 0))])
def test_the_hidden_window_starts_at_30_percent_and_lasts_15_percent_up_to_20_frames(count, window):
    # 13 frames: start round(3.9) = 4, length max(3, round(1.95)) = 3; 892: 268, capped at 20; a frame always follows.
    assert occlusion.occlusion_window(count) == window


def test_the_cover_is_the_box_enlarged_1_3x_about_its_centre_and_clipped():
    # Box 10 x 20 at (50, 40): centre (55, 50), cover 13 x 26 -> x 48.5 .. 61.5 -> 48 .. 62, y 37 .. 63.
    assert occlusion.cover_box(np.array([50.0, 40.0, 10.0, 20.0]), (200, 100)) == (48, 37, 62, 63)
    assert occlusion.cover_box(np.array([-5.0, 90.0, 10.0, 20.0]), (200, 100)) == (0, 87, 7, 100)


def test_a_written_sequence_hides_the_target_with_one_patch_and_keeps_every_other_frame(tmp_path):
    rng = np.random.default_rng(0)
    source = tmp_path / "source"
    source.mkdir()
    frames, boxes = [], []
    for i in range(20):
        image = rng.integers(0, 256, (60, 120, 3), dtype=np.uint8)
        path = source / f"{i + 1:04d}.png"
        cv2.imwrite(str(path), image)
        frames.append(str(path))
        boxes.append([10 + 2 * i, 20, 10, 10])
    truth = np.array(boxes, dtype=np.float64)
    record = occlusion.write_sequence(EvalSequence("toy", tuple(frames), truth), tmp_path / "out")
    assert record == {"source_frames": 20, "first_hidden": 6, "hidden": 3}  # round(6.0), max(3, round(3.0))

    written = load_folder_sequences(tmp_path / "out")[0]
    assert written.name == "toy" and len(written.frames) == 20
    hidden = ~np.isfinite(written.ground_truth[:, 0])
    assert hidden.tolist() == [6 <= i < 9 for i in range(20)]
    np.testing.assert_allclose(written.ground_truth[~hidden], truth[~hidden], atol=1e-4)
    for i, frame in enumerate(written.frames):
        original = cv2.imread(frames[i])
        got = cv2.imread(frame)
        x0, y0, x1, y1 = occlusion.cover_box(truth[i], (120, 60))
        if hidden[i]:
            outside = np.ones(got.shape[:2], dtype=bool)
            outside[y0:y1, x0:x1] = False
            np.testing.assert_array_equal(got[outside], original[outside])  # only the cover changed
            assert not np.array_equal(got[y0:y1, x0:x1], original[y0:y1, x0:x1])
        else:
            assert Path(frame).is_symlink()
            np.testing.assert_array_equal(got, original)
    # One occluder: the same patch (same size here: the box does not change) on every hidden frame.
    covers = [cv2.imread(written.frames[i])[slice(*occlusion.cover_box(truth[i], (120, 60))[1::2]),
                                             slice(*occlusion.cover_box(truth[i], (120, 60))[0::2])]
              for i in range(6, 9)]
    np.testing.assert_array_equal(covers[0], covers[1])
    np.testing.assert_array_equal(covers[0], covers[2])
