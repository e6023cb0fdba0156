"""Inputs and outputs: stream URLs, box files with scores (txt/csv/json, MOT rows), H.264 output, track_video."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import cv2
import numpy as np
import pytest

import twintrack.app.sources as sources
from twintrack.errors import UserError
from twintrack.geometry import iou
from twintrack.tracker.base import TrackResult
from twintrack.app.sources import VideoSink, open_source, redact_url
from twintrack.app.video import BoxWriter, track_video

from conftest import moving_target_clip, write_video


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def write_avi(path, count=7, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for i in range(count):
        writer.write(np.full((size[1], size[0], 3), 30 * i, np.uint8))
    writer.release()
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path; stopped when the test ends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_http_url_is_a_source(tmp_path, http_server):
    write_avi(tmp_path / "clip.avi")
    source = open_source(f"{http_server}/clip.avi")
    frames = list(source)
    assert len(frames) == 7 and frames[0].shape == (48, 64, 3)
    assert source.count is None  # a stream has no length
    assert abs(int(frames[3].mean()) - 90) <= 3


def test_file_url_is_a_source(tmp_path):
    write_avi(tmp_path / "clip.avi", count=4)
    assert len(list(open_source(f"file://{tmp_path / 'clip.avi'}"))) == 4


def test_unreachable_stream_is_one_line_without_the_password(http_server):
    with pytest.raises(UserError) as caught:
        open_source(http_server.replace("http://", "http://user:secret@") + "/missing.avi")
    message = str(caught.value)
    assert "\n" not in message and "cannot open stream" in message
    assert "secret" not in message and "user:***@" in message


def test_redact_url():
    assert redact_url("rtsp://admin:pw@10.0.0.1:554/live") == "rtsp://admin:***@10.0.0.1:554/live"
    assert redact_url("http://host/a:b@c") == "http://host/a:b@c"


def results(*boxes_scores):
    return [(k + 1, TrackResult(np.array(box, float), score, lost)) for k, (box, score, lost) in enumerate(boxes_scores)]


def test_box_files_keep_the_txt_format_and_add_scores_in_csv_and_json(tmp_path):
    frames = [results(([1, 2, 3, 4], 1.0, False)), results(([1.5, 2.25, 3, 4], 0.75, False)),
              results(([2, 2, 3, 4], 0.2, True))]
    for name in ("b.txt", "b.csv", "b.json"):
        writer = BoxWriter(tmp_path / name)
        for number, rows in enumerate(frames, 1):
            writer.write(number, rows)
        writer.close()
    assert (tmp_path / "b.txt").read_text().splitlines() == ["1.00,2.00,3.00,4.00", "1.50,2.25,3.00,4.00",
                                                            "2.00,2.00,3.00,4.00"]
    csv = (tmp_path / "b.csv").read_text().splitlines()
    assert csv[0] == "frame,x,y,w,h,score,lost" and csv[2] == "2,1.50,2.25,3.00,4.00,0.7500,0" and csv[3].endswith(",1")
    records = json.loads((tmp_path / "b.json").read_text())
    assert records[1] == {"frame": 2, "box": [1.5, 2.25, 3.0, 4.0], "score": 0.75, "lost": False}
    assert records[2]["lost"] is True and len(records) == 3


def test_several_objects_write_mot_rows_or_json_with_ids(tmp_path):
    rows = results(([1, 2, 3, 4], 0.9, False), ([10, 20, 30, 40], 0.5, False))
    for name in ("m.txt", "m.json"):
        writer = BoxWriter(tmp_path / name, several_objects=True)
        writer.write(1, rows)
        writer.write(2, rows[1:])
        writer.close()
    assert (tmp_path / "m.txt").read_text().splitlines() == [
        "1,1,1.00,2.00,3.00,4.00,0.9000", "1,2,10.00,20.00,30.00,40.00,0.5000", "2,2,10.00,20.00,30.00,40.00,0.5000"]
    records = json.loads((tmp_path / "m.json").read_text())
    assert [(r["frame"], r["id"]) for r in records] == [(1, 1), (1, 2), (2, 2)]


def test_h264_output_with_pyav_and_mp4v_without(tmp_path, monkeypatch):
    pytest.importorskip("av")
    frames = [np.full((47, 63, 3), 40 * i, np.uint8) for i in range(5)]  # odd sides: padded to even for yuv420p
    for name, have_av, codec in (("a.mp4", True, "h264"), ("b.mp4", False, "mp4v")):
        monkeypatch.setattr(sources, "available", lambda module, have=have_av: have)
        sink = VideoSink(tmp_path / name, 10, (63, 47))
        assert sink.codec == codec
        for frame in frames:
            sink.write(frame)
        sink.close()
        capture = cv2.VideoCapture(str(tmp_path / name))
        fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
        read = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            read.append(frame)
        capture.release()
        assert fourcc in (("h264", "avc1") if codec == "h264" else ("mp4v", "fmp4")), fourcc
        assert len(read) == 5 and abs(int(read[2].mean()) - 80) <= 4


def test_track_video_returns_boxes_and_scores_and_writes_them(tmp_path):
    frames, truth = moving_target_clip(8, (96, 128), 24, (20, 30), (4, 2))
    video = write_video(tmp_path / "clip.mp4", frames)
    tracked = track_video(video, truth[0], tracker="siamfc", device="cpu", progress=False,
                          boxes_file=tmp_path / "boxes.csv")
    assert tracked.boxes.shape == (8, 4) and tracked.scores.shape == (8,) and tracked.lost.shape == (8,)
    np.testing.assert_allclose(tracked.boxes[0], truth[0])
    assert tracked.scores[0] == 1.0 and np.all((tracked.scores >= 0) & (tracked.scores <= 1))
    assert iou(tracked.boxes, truth).mean() > 0.6
    rows = (tmp_path / "boxes.csv").read_text().splitlines()
    assert len(rows) == 9 and rows[1].startswith("1,20.00,30.00,24.00,24.00,1.0000")
    several = track_video(video, [truth[0], truth[0] + [40, 30, 0, 0]], device="cpu", progress=False, max_frames=4)
    assert several.boxes.shape == (4, 2, 4) and several.scores.shape == (4, 2)
    np.testing.assert_allclose(several.boxes[:, 0], tracked.boxes[:4], atol=1e-6)


def test_track_video_refuses_a_bad_box(tmp_path):
    with pytest.raises(UserError, match="box must be"):
        track_video(tmp_path, (1, 2, 3), progress=False)
