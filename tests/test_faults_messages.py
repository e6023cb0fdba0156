"""What `twintrack track` and ``track_video`` say: counts in words that agree with the number, the two frame rates
of a tracked video named apart, and no OpenCV log lines before our own one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from faults.harness import cli_env, run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

BOX = "20,24,24,24"


def test_one_frame_is_one_frame_without_a_made_up_speed(capsys, synthetic_video, random_weights):
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                      "--max-frames", "1")
    assert result.returncode == 0, result.stderr
    assert "tracked 1 frame" in result.stderr and "1 frames" not in result.stderr and "0.0 fps" not in result.stderr


def test_several_frames_report_the_tracking_speed(capsys, synthetic_video, random_weights):
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                      "--max-frames", "3")
    summary = [line for line in result.stderr.split("\n") if "tracked 3 frames at" in line]
    assert len(summary) == 1 and float(summary[0].split(" at ")[1].split()[0]) > 0


def test_tracked_video_names_the_source_rate_and_the_tracking_rate(synthetic_video, random_weights):
    from twintrack import track_video

    tracked = track_video(synthetic_video, [20, 24, 24, 24], weights=random_weights, device="cpu", progress=False)
    assert tracked.source_fps == pytest.approx(10.0)  # conftest writes its clips at 10 fps
    assert tracked.tracking_fps > 0 and tracked.tracking_fps != tracked.source_fps
    assert tracked.fps == tracked.source_fps  # the older name, kept: the source's rate


LIBRARY_FAULTS = """
import numpy as np
from twintrack import UserError
from twintrack.app.sources import VideoSink, open_source
for attempt in ({notes!r}, "7"):
    try:
        open_source(attempt)
    except UserError as err:
        print("caught", err)
try:
    VideoSink("/proc/such.avi", 10, (64, 64))
except UserError as err:
    print("caught", err)
"""


def test_opencv_and_ffmpeg_log_nothing_where_we_handle_the_fault(tmp_path):
    """A fresh process with no log settings: only our errors, not OpenCV's [ WARN ] or FFmpeg's complaints."""
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 20)
    env = cli_env()
    for name in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", LIBRARY_FAULTS.format(notes=str(notes))], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("caught") == 3
    assert done.stderr == "", done.stderr
