"""Where `twintrack track` writes: symlink loops and FIFOs as outputs, standard output for the boxes (`-`,
/dev/stdout) with the summary on stderr, box-file suffixes and headers, and the one tracking loop that the CLI and
``track_video`` share (same boxes, same files)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from faults.harness import assert_one_error_line, run_cli, run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

BOX = "20,24,24,24"


def symlink_loop(folder: Path, name: str) -> Path:
    """``name`` -> ``name.other`` -> ``name``: any open or resolve of it fails with ELOOP."""
    os.symlink(folder / f"{name}.other", folder / name)
    os.symlink(folder / name, folder / f"{name}.other")
    return folder / name


# ------------------------------------------------------------------------------- symlink loops and FIFOs


@pytest.mark.parametrize("option, name", [("--output", "loop.mp4"), ("--boxes", "loop.txt")])
def test_a_symlink_loop_as_an_output_is_one_line(capsys, tmp_path, synthetic_video, random_weights, option, name):
    target = symlink_loop(tmp_path, name)
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, option, target)
    assert_one_error_line(result, option, "symbolic link loop", name)
    assert "tracking" not in result.stderr  # refused before anything was tracked


def test_a_symlink_loop_as_the_source_is_one_line(capsys, tmp_path, random_weights):
    source = symlink_loop(tmp_path, "clip.mp4")
    result = run_main(capsys, "track", source, "--box", BOX, "--weights", random_weights,
                      "--boxes", tmp_path / "b.txt")
    assert_one_error_line(result, "clip.mp4")


@pytest.mark.parametrize("name", ["fifo.mp4", "fifo.avi"])
def test_a_fifo_as_the_video_output_is_refused_up_front(tmp_path, synthetic_video, random_weights, name):
    """A video's index is written when it closes (a seek back): no FIFO can take it. No reader: no hang either."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    result = run_cli("track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                     "--output", fifo, timeout=120)
    assert_one_error_line(result, "--output", "named pipe")
    assert "tracking" not in result.stderr


def test_a_fifo_without_a_reader_as_the_boxes_file_is_one_line_not_a_hang(tmp_path, synthetic_video, random_weights):
    fifo = tmp_path / "boxes.txt"
    os.mkfifo(fifo)
    result = run_cli("track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                     "--boxes", fifo, timeout=120)
    assert_one_error_line(result, "boxes.txt", "no reader")


def test_a_fifo_with_a_reader_gets_the_boxes(tmp_path, synthetic_video, random_weights):
    fifo = tmp_path / "boxes.txt"
    os.mkfifo(fifo)
    received = []

    def read() -> None:
        with open(fifo) as pipe:  # blocks until the writer opens it
            received.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = run_cli("track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                     "--boxes", fifo, timeout=120)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    lines = received[0].splitlines()
    assert len(lines) == 12 and lines[0] == "20.00,24.00,24.00,24.00"


# ------------------------------------------------------------------------------- boxes on standard output


@pytest.mark.parametrize("target", ["-", "/dev/stdout"])
def test_boxes_on_standard_output_hold_only_box_rows(tmp_path, synthetic_video, random_weights, target):
    result = run_cli("track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                     "--boxes", target, "--max-frames", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert len(rows) == 4 and rows[0] == "20.00,24.00,24.00,24.00", result.stdout
    assert all(len(row.split(",")) == 4 for row in rows)
    assert "tracked 4 frames" in result.stderr  # the summary is on stderr
    assert not (tmp_path / "-").exists()  # `-` is standard output, not a file named "-"


def test_several_objects_on_standard_output_are_mot_rows(tmp_path, synthetic_video, random_weights):
    result = run_cli("track", synthetic_video, "--box", BOX, "--box", "50,50,20,20", "--weights", random_weights,
                     "--device", "cpu", "--boxes", "-", "--max-frames", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [row.split(",") for row in result.stdout.splitlines()]
    assert len(rows) == 6 and all(len(row) == 7 for row in rows)
    assert rows[0][:2] == ["1", "1"] and rows[1][:2] == ["1", "2"]


# -------------------------------------------------------------------------------------- box-file formats


@pytest.mark.parametrize("name", ["boxes.xyz", "boxes.tx", "boxes.JSONL"])
def test_an_unknown_box_file_suffix_is_refused_naming_the_known_ones(capsys, tmp_path, synthetic_video,
                                                                    random_weights, name):
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights,
                      "--boxes", tmp_path / name)
    assert_one_error_line(result, "--boxes", name, ".txt", ".csv", ".json")
    assert "tracking" not in result.stderr and not (tmp_path / name).exists()


def test_track_video_refuses_an_unknown_box_file_suffix(tmp_path, synthetic_video, random_weights):
    from twintrack import UserError, track_video

    with pytest.raises(UserError, match=r"\.txt, \.csv or \.json"):
        track_video(synthetic_video, [20, 24, 24, 24], weights=random_weights, device="cpu", progress=False,
                    boxes_file=tmp_path / "b.xyz")
    assert not (tmp_path / "b.xyz").exists()


def test_several_objects_in_csv_have_a_header(capsys, tmp_path, synthetic_video, random_weights):
    boxes = tmp_path / "boxes.csv"
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--box", "50,50,20,20", "--weights",
                      random_weights, "--device", "cpu", "--boxes", boxes, "--max-frames", "3")
    assert result.returncode == 0, result.stderr
    lines = boxes.read_text().splitlines()
    assert lines[0] == "frame,id,x,y,w,h,score"
    assert lines[1].startswith("1,1,20.00,24.00,24.00,24.00,") and len(lines) == 1 + 3 * 2


# --------------------------------------------------------------------------------------- one tracking loop


def test_the_cli_and_track_video_run_one_loop_and_write_the_same_boxes(capsys, tmp_path, synthetic_video,
                                                                      random_weights):
    from twintrack import track_video

    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                      "--boxes", tmp_path / "cli.json")
    assert result.returncode == 0, result.stderr
    tracked = track_video(synthetic_video, [20, 24, 24, 24], weights=random_weights, device="cpu", progress=False,
                          boxes_file=tmp_path / "api.json")
    assert (tmp_path / "cli.json").read_text() == (tmp_path / "api.json").read_text()
    assert tracked.boxes.shape == (12, 4)
    np.testing.assert_allclose(tracked.boxes[0], [20, 24, 24, 24])
