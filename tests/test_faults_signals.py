"""`twintrack track` stopped by SIGTERM (kill, timeout, docker stop), SIGINT (Ctrl-C) or SIGHUP (a closed terminal):
every output is complete and valid (a .json boxes file with its closing bracket, an H.264 .mp4 with its index), it
holds every tracked frame, and the exit status is 128 + the signal's number. One object and several."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import cv2
import pytest
from conftest import moving_target_clip, write_video

from faults.harness import kill_when

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

BOX = "20,24,24,24"
SECOND_BOX = "50,50,24,24"


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """200 frames: long enough that a run is still tracking when the signal arrives."""
    frames, _ = moving_target_clip(200, (96, 96), 24, (20, 24), (0, 0), background="noise", seed=5)
    return write_video(tmp_path_factory.mktemp("long") / "long.mp4", frames)


def json_records(path: Path) -> int:
    """How many records a .json boxes file being written holds so far (one per line)."""
    return path.read_text().count('"frame"') if path.exists() else 0


def decoded_frames(path: Path) -> int:
    """Frames a player gets out of the video (decoded one by one, not the header's count)."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.mark.parametrize("objects", [1, 2], ids=["one-object", "two-objects"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_leaves_every_output_complete(tmp_path, long_video, random_weights, sig, objects):
    pytest.importorskip("av")  # the .mp4 is PyAV's H.264, whose index is written when it closes
    boxes, video = tmp_path / "boxes.json", tmp_path / "out.mp4"
    box_args = ["--box", BOX] + (["--box", SECOND_BOX] if objects == 2 else [])
    result = kill_when(["track", long_video, *box_args, "--weights", random_weights, "--device", "cpu",
                        "--boxes", boxes, "--output", video], ready=lambda: json_records(boxes) >= 5 * objects,
                       sig=sig)
    assert result.returncode == 128 + sig, result.stderr
    assert "Traceback" not in result.stderr
    records = json.loads(boxes.read_text())  # the closing bracket is there
    frames = len(records) // objects
    assert 5 <= frames < 200 and len(records) == frames * objects
    assert records[0]["box"] == [20, 24, 24, 24] and records[0]["frame"] == 1
    assert decoded_frames(video) == frames  # playable, every tracked frame in it
    # One message, on a line of its own (not glued to the progress bar), naming what was kept; no second one.
    lines = [line for line in result.stderr.split("\n")
             if "twintrack:" in line and not line.startswith("twintrack: backbone engine")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("twintrack: ") and f"after {frames} frames" in lines[0], lines
    assert str(boxes) in lines[0] and str(video) in lines[0]
    word = "interrupted" if sig == signal.SIGINT else f"stopped by {signal.Signals(sig).name}"
    assert word in lines[0]


def test_a_second_signal_while_closing_does_not_break_the_outputs(tmp_path, long_video, random_weights):
    """SIGTERM then SIGINT at once (an impatient user, or a supervisor's repeated stop): outputs still whole."""
    pytest.importorskip("av")
    boxes, video = tmp_path / "boxes.json", tmp_path / "out.mp4"

    def ready() -> bool:
        return json_records(boxes) >= 5

    result = kill_when(["track", long_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                        "--boxes", boxes, "--output", video], ready=ready, sig=signal.SIGTERM,
                       then=signal.SIGINT)
    assert result.returncode in (128 + signal.SIGTERM, 128 + signal.SIGINT), result.stderr
    assert "Traceback" not in result.stderr
    frames = len(json.loads(boxes.read_text()))
    assert decoded_frames(video) == frames >= 5
