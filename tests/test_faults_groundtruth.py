"""The fault suite, ground-truth files: one reader (twintrack/data), one rule. Every line of a box file is a frame:
a box, or absent (a blank line, a NaN row, zero or negative size), so a blank line never shifts the boxes after
it. Training (train, precrop, MDNet) leaves out absent, tiny and wholly-outside rows and prints how many; eval keeps
absent frames (not scored); a bad line is one error naming the file and the line; eval's first frame without a box
names the sequence and the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import moving_target_clip, write_sequence_folder

from faults.harness import assert_one_error_line, run_main
from twintrack.data import discover, read_box_file, read_sequence_folder
from twintrack.errors import UserError
from twintrack.eval.sequences import load_folder_sequences

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

FRAMES = 8
SIZE = (64, 64)  # H, W


def sequence(folder: Path, lines: dict[int, str] | None = None, seed: int = 0) -> np.ndarray:
    """An 8-frame OTB-style folder; ``lines`` replaces lines of its box file (0-based line index -> text).
    Returns the clip's true 0-based boxes."""
    clip, boxes = moving_target_clip(FRAMES, SIZE, 16, (10, 12), (2, 1), background="noise", seed=seed)
    write_sequence_folder(folder, clip, boxes)
    if lines:
        path = folder / "groundtruth_rect.txt"
        text = path.read_text().splitlines()
        for index, line in lines.items():
            text[index] = line
        path.write_text("\n".join(text) + "\n")
    return np.asarray(boxes, dtype=np.float64)


def test_a_blank_line_is_an_absent_frame_not_a_shift(tmp_path):
    truth = sequence(tmp_path / "seq", {2: ""})
    frames, boxes = read_sequence_folder(tmp_path / "seq")
    assert len(frames) == FRAMES and len(boxes) == FRAMES  # the last frame is kept
    assert np.isnan(boxes[2]).all()
    np.testing.assert_allclose(np.delete(boxes, 2, axis=0), np.delete(truth, 2, axis=0))
    (evaluated,) = load_folder_sequences(tmp_path / "seq")
    assert len(evaluated.frames) == FRAMES and np.isnan(evaluated.ground_truth[2]).all()
    np.testing.assert_allclose(evaluated.ground_truth[3], truth[3])
    # Training leaves the frame out and keeps every other frame with its own box.
    (trained,) = discover(tmp_path / "seq")
    assert [Path(f).name for f in trained.frames] == [f"{i:04d}.jpg" for i in range(1, FRAMES + 1) if i != 3]
    np.testing.assert_allclose(trained.boxes, np.delete(truth, 2, axis=0))


@pytest.mark.parametrize("line", ["NaN,NaN,NaN,NaN", "nan nan nan nan", "0,0,0,0", "12,14,0,16", "12,14,-5,16",
                                  "12,14,16,-1"])
def test_nan_and_zero_or_negative_size_rows_are_absent_frames(tmp_path, line):
    truth = sequence(tmp_path / "seq", {4: line})
    frames, boxes = read_sequence_folder(tmp_path / "seq")
    assert len(frames) == FRAMES and np.isnan(boxes[4]).all()
    np.testing.assert_allclose(np.delete(boxes, 4, axis=0), np.delete(truth, 4, axis=0))


@pytest.mark.parametrize("line, number", [("1,2,x,4", 3), ("1,2,3", 6), ("1,2,inf,4", 2)])
def test_a_bad_line_is_an_error_naming_the_file_and_the_line(tmp_path, capsys, line, number):
    sequence(tmp_path / "data" / "seq", {number - 1: line})
    path = tmp_path / "data" / "seq" / "groundtruth_rect.txt"
    with pytest.raises(UserError) as caught:
        read_box_file(path)
    assert str(path) in str(caught.value) and f"line {number}" in str(caught.value)
    for command in (["precrop", "--data", tmp_path / "data", "--out", tmp_path / "pack"],
                    ["eval", "--baseline", "kcf", "--dataset", f"folder:{tmp_path / 'data'}", "--out",
                     tmp_path / "eval"]):
        assert_one_error_line(run_main(capsys, *command), str(path), f"line {number}")


@pytest.mark.parametrize("line", ["", "NaN,NaN,NaN,NaN", "0,0,0,0"])
def test_eval_names_the_sequence_and_file_when_the_first_frame_has_no_box(tmp_path, capsys, line):
    pytest.importorskip("got10k")
    sequence(tmp_path / "data" / "walk", {0: line})
    sequence(tmp_path / "data" / "run", seed=1)
    for tracker in (["--baseline", "kcf"], ["--tracker", "siamfc", "--device", "cpu"]):
        result = run_main(capsys, "eval", *tracker, "--dataset", f"folder:{tmp_path / 'data'}", "--out",
                          tmp_path / "out")
        assert_one_error_line(result, "'walk'", str(tmp_path / "data" / "walk" / "groundtruth_rect.txt"), "line 1")
    assert not (tmp_path / "out" / "results").exists()


def test_eval_keeps_absent_frames_and_says_how_many(tmp_path, capsys):
    pytest.importorskip("got10k")
    sequence(tmp_path / "data" / "walk", {2: "", 5: "NaN,NaN,NaN,NaN"})
    result = run_main(capsys, "eval", "--baseline", "kcf", "--dataset", f"folder:{tmp_path / 'data'}", "--out",
                      tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "2 frames marked absent" in result.stdout and "walk" in result.stdout
    assert len((tmp_path / "out" / "results" / "kcf" / "walk.txt").read_text().split()) == FRAMES


# Rows a training reader leaves out: 2 absent (blank, zero size), 1 wholly outside the 64x64 frame, 1 of 1 px.
SKIPPED = {1: "", 3: "0,0,0,0", 5: "70,10,16,16", 6: "12,14,1,16"}


@pytest.fixture
def training_data(tmp_path):
    sequence(tmp_path / "data" / "seq0", SKIPPED)
    sequence(tmp_path / "data" / "seq1", seed=1)
    return tmp_path / "data"


def assert_skips_printed(stdout: str) -> None:
    line = next((line for line in stdout.splitlines() if "left out" in line), "")
    for fragment in ("4 ground-truth rows", "2 marked absent", "1 wholly outside the frame", "1 at most 1 px wide or high",
                     "seq0"):
        assert fragment in line, (fragment, stdout)


def test_precrop_leaves_out_unusable_rows_and_says_how_many(training_data, tmp_path, capsys):
    import json

    result = run_main(capsys, "precrop", "--data", training_data, "--out", tmp_path / "pack")
    assert result.returncode == 0, result.stderr
    assert_skips_printed(result.stdout)
    index = json.loads((tmp_path / "pack" / "pack.json").read_text())
    assert [len(entry["files"]) for entry in index["sequences"]] == [FRAMES - len(SKIPPED), FRAMES]


@pytest.mark.parametrize("tracker, config", [
    ("siamfc", ["epochs=1", "pairs_per_epoch=2", "batch_size=2", "exemplar_size=63", "search_size=95",
                "autocast_bf16=false", "workers=0"]),
    ("mdnet", ["iterations=2", "frames_per_iter=2", "batch_pos=4", "batch_neg=8", "autocast_bf16=false"])])
def test_training_says_how_many_rows_it_leaves_out(training_data, tmp_path, capsys, tracker, config):
    result = run_main(capsys, "train", tracker, "--data", training_data, "--out", tmp_path / "run", "--device",
                      "cpu", "--max-steps", "1", *config)
    assert result.returncode == 0, result.stderr
    assert_skips_printed(result.stdout)
