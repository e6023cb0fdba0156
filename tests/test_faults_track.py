"""`twintrack track` never overwrites an input, refuses an unwritable --boxes before it
tracks, and keeps every tracked box on Ctrl-C, kill -9 or a late error. Real files; the CLI's main() in this
process, or a subprocess where a signal is sent."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import moving_target_clip, write_image_folder, write_video

from faults.harness import assert_one_error_line, kill_when, run_cli, run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

BOX = "20,24,24,24"


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """200 frames: long enough that a run is still tracking when the test interrupts it."""
    frames, _ = moving_target_clip(200, (96, 96), 24, (20, 24), (0, 0), background="noise", seed=5)
    return write_video(tmp_path_factory.mktemp("long") / "long.mp4", frames)


def boxes_lines(path: Path) -> list[list[float]]:
    if not path.exists():
        return []
    return [[float(v) for v in line.split(",")] for line in path.read_text().splitlines()]


# ------------------------------------------------------------------------------ row 1: an output is an input


def test_output_or_boxes_onto_the_source_video_is_refused(capsys, tmp_path, synthetic_video,
                                                           random_weights):
    video = tmp_path / "v.mp4"
    video.write_bytes(synthetic_video.read_bytes())
    before = digest(video)
    for option in ("--output", "--boxes"):
        result = run_main(capsys, "track", video, "--box", BOX, "--weights", random_weights, option, video)
        assert_one_error_line(result, option, "the source", "destroy")
        assert digest(video) == before  # the run overwrote the 40-frame source with 4 frames


def test_outputs_that_reach_the_source_through_links_or_spelling_are_refused(capsys, tmp_path,
                                                                             synthetic_video,
                                                                             random_weights):
    video = tmp_path / "v.mp4"
    video.write_bytes(synthetic_video.read_bytes())
    before = digest(video)
    (tmp_path / "sub").mkdir()
    os.symlink(video, tmp_path / "link.mp4")
    os.link(video, tmp_path / "hard.mp4")
    for target in (tmp_path / "link.mp4", tmp_path / "hard.mp4", tmp_path / "sub" / ".." / "v.mp4"):
        result = run_main(capsys, "track", video, "--box", BOX, "--weights", random_weights, "--output", target)
        assert_one_error_line(result, "--output", "destroy")
    # and the other way round: the source given through a link, the output by its real name
    result = run_main(capsys, "track", tmp_path / "link.mp4", "--box", BOX, "--weights", random_weights,
                      "--boxes", video)
    assert_one_error_line(result, "--boxes", "destroy")
    assert digest(video) == before


def test_boxes_onto_an_image_of_the_source_folder_or_the_weights_is_refused(capsys, tmp_path, image_folder,
                                                                            random_weights):
    frame = sorted(image_folder.iterdir())[0]
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(random_weights.read_bytes())
    before = digest(frame), digest(weights)
    assert_one_error_line(run_main(capsys, "track", image_folder, "--box", BOX, "--weights", weights,
                                   "--boxes", frame),
                          "--boxes", "an image of the source")
    assert_one_error_line(run_main(capsys, "track", image_folder, "--box", BOX, "--weights", weights,
                                   "--boxes", weights),
                          "--boxes", "--weights")
    assert (digest(frame), digest(weights)) == before


def test_same_file_for_output_and_boxes_is_refused(capsys, tmp_path, synthetic_video, random_weights):
    out = tmp_path / "out.avi"
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, "--output", out,
                     "--boxes", out)
    assert_one_error_line(result, "--boxes", "--output")
    assert not out.exists()


def test_refused_before_the_source_is_opened(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = run_main(capsys, "track", notes, "--box", BOX, "--boxes", notes)
    assert_one_error_line(result, "--boxes", "the source")  # not "not a readable video": nothing was opened
    assert notes.read_text() == "my notes\n"


# ---------------------------------------------------------------------------- row 6: boxes as tracking goes


@pytest.mark.parametrize("where", ["a folder", "under a file", "missing folder"])
def test_unwritable_boxes_path_is_refused_before_tracking(capsys, tmp_path, synthetic_video, random_weights,
                                                          where):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    boxes = {"a folder": tmp_path / "folder", "under a file": tmp_path / "file" / "b.txt",
             "missing folder": tmp_path / "nope" / "b.txt"}[where]
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, "--boxes", boxes,
                     "--output", tmp_path / "out.mp4")
    assert_one_error_line(result, "--boxes")
    assert "tracking" not in result.stderr  # refused before the first frame was tracked (no progress bar)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: permissions cannot make a path unwritable")
def test_read_only_folder_for_boxes_is_refused(capsys, tmp_path, synthetic_video, random_weights):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights,
                      "--boxes", locked / "b.txt")
    assert_one_error_line(result, "--boxes", "not writable")


def test_ctrl_c_keeps_every_tracked_box_and_a_playable_video(tmp_path, long_video, random_weights):
    boxes, out = tmp_path / "boxes.txt", tmp_path / "out.avi"
    result = kill_when(["track", long_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                        "--boxes", boxes, "--output", out], ready=lambda: len(boxes_lines(boxes)) >= 5,
                       sig=signal.SIGINT)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "interrupted after" in result.stderr
    kept = boxes_lines(boxes)
    assert 5 <= len(kept) < 200 and all(len(b) == 4 for b in kept)
    np.testing.assert_allclose(kept[0], [20, 24, 24, 24])
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == len(kept)


def test_kill_9_keeps_every_flushed_box(tmp_path, long_video, random_weights):
    boxes = tmp_path / "boxes.txt"
    seen = []

    def ready() -> bool:
        seen.append(len(boxes_lines(boxes)))
        return seen[-1] >= 8

    result = kill_when(["track", long_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                        "--boxes", boxes], ready=ready)
    assert result.returncode == -signal.SIGKILL
    kept = boxes_lines(boxes)  # every line whole: each is one flushed write
    assert len(kept) >= max(seen) and all(len(b) == 4 for b in kept)


def test_a_late_error_keeps_the_tracked_boxes(capsys, tmp_path, random_weights):
    """A folder whose 7th image is unreadable: one error line naming it, and the 6 boxes before it kept."""
    frames, _ = moving_target_clip(10, (96, 96), 24, (20, 24), (1, 0), background="noise", seed=6)
    folder = write_image_folder(tmp_path / "seq", frames)
    (folder / "0007.png").write_bytes(b"not a png")
    boxes = tmp_path / "boxes.txt"
    result = run_main(capsys, "track", folder, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                      "--boxes", boxes)
    assert_one_error_line(result, "0007.png", "6 frames tracked", str(boxes))
    assert len(boxes_lines(boxes)) == 6
