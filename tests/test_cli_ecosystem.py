"""The track command's ecosystem options: several --box (MOT rows, one colour per id), box files with scores,
stream URLs, the one-line answer when OpenCV has no GUI, --version."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import twintrack.cli.track as track_cli
from twintrack.cli import main
from twintrack.app.multi import MultiTracker

from conftest import smooth_background, textured_patch, write_video

PATCH = 20


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture
def two_object_video(tmp_path):
    rng = np.random.default_rng(1)
    a, b = textured_patch(rng, PATCH), textured_patch(rng, PATCH)
    frames = []
    for i in range(6):
        frame = smooth_background(96, 128)
        frame[20 + i:20 + i + PATCH, 10 + 3 * i:10 + 3 * i + PATCH] = a
        frame[60:60 + PATCH, 100 - 3 * i:100 - 3 * i + PATCH] = b
        frames.append(frame)
    return write_video(tmp_path / "two.mp4", frames)


def test_several_boxes_write_mot_rows_and_colour_each_id(tmp_path, two_object_video, capsys):
    out_video, out_boxes = tmp_path / "out.mp4", tmp_path / "mot.txt"
    status = main(["track", str(two_object_video), "--box", "10,20,20,20", "--box", "100,60,20,20",
                   "--output", str(out_video), "--boxes", str(out_boxes), "--device", "cpu"])
    assert status == 0
    rows = [line.split(",") for line in out_boxes.read_text().splitlines()]
    assert len(rows) == 12 and all(len(r) == 7 for r in rows)
    assert [(int(r[0]), int(r[1])) for r in rows[:4]] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert rows[0][2:6] == ["10.00", "20.00", "20.00", "20.00"] and rows[1][2:6] == ["100.00", "60.00", "20.00", "20.00"]
    assert all(0.0 <= float(r[6]) <= 1.0 for r in rows)
    capture = cv2.VideoCapture(str(out_video))
    ok, first = capture.read()
    capture.release()
    first = cv2.cvtColor(first, cv2.COLOR_BGR2RGB).astype(int)
    # Box edges in each id's colour (video compression blurs them: compare with a margin).
    assert np.abs(first[30, 10] - track_cli.ID_COLOURS[0]).max() < 60
    assert np.abs(first[70, 100] - track_cli.ID_COLOURS[1]).max() < 60


def test_one_box_keeps_the_txt_format_and_csv_json_carry_scores(tmp_path, two_object_video):
    for name in ("b.txt", "b.csv", "b.json"):
        assert main(["track", str(two_object_video), "--box", "10,20,20,20", "--boxes", str(tmp_path / name),
                     "--device", "cpu"]) == 0
    assert (tmp_path / "b.txt").read_text().splitlines()[0] == "10.00,20.00,20.00,20.00"
    csv = (tmp_path / "b.csv").read_text().splitlines()
    assert csv[0] == "frame,x,y,w,h,score,lost" and len(csv) == 7 and csv[1].startswith("1,10.00,20.00")
    records = json.loads((tmp_path / "b.json").read_text())
    assert len(records) == 6 and records[0]["score"] == 1.0 and set(records[0]) == {"frame", "box", "score", "lost"}


def test_track_multi_tracker_is_used_only_for_several_boxes(monkeypatch, tmp_path, two_object_video):
    built = []
    real_init = MultiTracker.__init__

    def spy(self, *args, **kwargs):
        built.append(args)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(MultiTracker, "__init__", spy)
    assert main(["track", str(two_object_video), "--box", "10,20,20,20", "--max-frames", "2", "--device", "cpu"]) == 0
    assert built == []
    assert main(["track", str(two_object_video), "--box", "10,20,20,20", "--box", "100,60,20,20",
                 "--max-frames", "2", "--device", "cpu"]) == 0
    assert len(built) == 1


@pytest.mark.parametrize("option", ["--show", "--select"])
def test_show_and_select_say_in_one_line_that_opencv_has_no_gui(option, monkeypatch, two_object_video, capsys):
    monkeypatch.setattr(track_cli, "opencv_has_gui", lambda: False)
    monkeypatch.setattr(track_cli, "has_display", lambda: True)
    argv = ["track", str(two_object_video), option] + (["--box", "10,20,20,20"] if option == "--show" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{option} needs an OpenCV build with a GUI" in err[0]
    assert "pip install opencv-contrib-python" in err[0]


def test_headless_build_is_detected():
    # The declared wheel is opencv-contrib-python-headless: no GUI backend.
    assert track_cli.opencv_has_gui() == ("NONE" not in cv2.getBuildInformation().split("GUI:")[1].splitlines()[0])


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("twintrack 0.")
