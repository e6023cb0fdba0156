"""The `twintrack track` command and `create_tracker`: happy paths, and one clear line for every bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import twintrack
from conftest import CLIP_FRAMES, CLIP_SIZE, require_shared_data
from twintrack.cli import main
from twintrack.errors import UserError

FRAME_H, FRAME_W = CLIP_SIZE
INIT_BOX = "20,24,24,24"  # the clip's first ground-truth box


def run_cli(argv) -> int:
    """main(argv)'s exit status; argparse's own errors leave through SystemExit, so catch that too."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("twintrack: error:")]


def assert_one_error_line(stderr: str) -> str:
    """The whole of stderr is one line, `twintrack: error: ...`, and no traceback."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"stderr should be one line, got {len(lines)}: {stderr!r}"
    assert lines[0].startswith("twintrack: error:"), stderr
    return lines[0]


def read_boxes(path: Path) -> np.ndarray:
    rows = [[float(v) for v in line.split(",")] for line in path.read_text().splitlines()]
    assert all(len(r) == 4 for r in rows)
    return np.array(rows)


def assert_boxes_inside(boxes: np.ndarray, width: int, height: int) -> None:
    assert np.isfinite(boxes).all()
    assert (boxes[:, 2] > 0).all() and (boxes[:, 3] > 0).all()
    # Box files hold 2 decimals: allow their rounding.
    assert (boxes[:, 0] >= -0.01).all() and (boxes[:, 1] >= -0.01).all()
    assert (boxes[:, 0] + boxes[:, 2] <= width + 0.01).all()
    assert (boxes[:, 1] + boxes[:, 3] <= height + 0.01).all()


def count_video_frames(path: Path) -> tuple[int, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    count, size = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count += 1
        size = frame.shape[:2]
    capture.release()
    return count, size


# ------------------------------------------------------------------------------------------------- happy paths


def test_track_video_writes_boxes_and_video(synthetic_video, random_weights, tmp_path, capsys):
    boxes_path, video_path = tmp_path / "boxes.txt", tmp_path / "annotated.mp4"
    status = run_cli(["track", synthetic_video, "--box", INIT_BOX, "--weights", random_weights, "--device", "cpu",
                      "--boxes", boxes_path, "--output", video_path])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"tracked {CLIP_FRAMES} frames" in captured.err  # the summary is on stderr, stdout stays for data
    assert not error_lines(captured.err)

    boxes = read_boxes(boxes_path)
    assert boxes.shape == (CLIP_FRAMES, 4)
    np.testing.assert_allclose(boxes[0], [20, 24, 24, 24])
    assert_boxes_inside(boxes, FRAME_W, FRAME_H)

    count, size = count_video_frames(video_path)
    assert count == CLIP_FRAMES
    assert size == (FRAME_H, FRAME_W)


def test_track_image_folder(image_folder, random_weights, tmp_path, capsys):
    boxes_path = tmp_path / "boxes.txt"
    status = run_cli(["track", image_folder, "--box", INIT_BOX, "--weights", random_weights, "--device", "cpu",
                      "--boxes", boxes_path])
    assert status == 0, capsys.readouterr().err
    boxes = read_boxes(boxes_path)
    assert boxes.shape == (CLIP_FRAMES, 4)
    np.testing.assert_allclose(boxes[0], [20, 24, 24, 24])
    assert_boxes_inside(boxes, FRAME_W, FRAME_H)


def test_track_max_frames_overrides_and_negative_box_corner(synthetic_video, random_weights, tmp_path, capsys):
    # A box partly left of the frame is valid; `--box=` keeps argparse from reading "-5,..." as an option.
    boxes_path = tmp_path / "boxes.txt"
    status = run_cli(["track", synthetic_video, "--box=-5,24,30,24", "--weights", random_weights, "--device", "cpu",
                      "--boxes", boxes_path, "--max-frames", "3", "window_influence=0.3", "scale_num=5"])
    assert status == 0, capsys.readouterr().err
    boxes = read_boxes(boxes_path)
    assert boxes.shape == (3, 4)
    np.testing.assert_allclose(boxes[0], [-5, 24, 30, 24])  # the first line is the given box, as given
    assert_boxes_inside(boxes[1:], FRAME_W, FRAME_H)


def test_track_as_a_subprocess(synthetic_video, random_weights, tmp_path):
    boxes_path = tmp_path / "boxes.txt"
    result = subprocess.run(
        [sys.executable, "-m", "twintrack.cli", "track", str(synthetic_video), "--box", INIT_BOX,
         "--weights", str(random_weights), "--device", "cpu", "--boxes", str(boxes_path), "--max-frames", "4"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "tracked 4 frames" in result.stderr and result.stdout == ""
    boxes = read_boxes(boxes_path)
    assert boxes.shape == (4, 4)
    np.testing.assert_allclose(boxes[0], [20, 24, 24, 24])


def test_subprocess_user_error_exit_status(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "twintrack.cli", "track", str(tmp_path / "missing.mp4"), "--box", "1,1,5,5"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "does not exist" in assert_one_error_line(result.stderr)


def test_shared_video_source_reads_every_frame():
    """The real FMP4 clip in ../shared/data (README: 196 frames, 480x360) decodes to RGB frames."""
    from twintrack.app.sources import open_source

    source = open_source(str(require_shared_data("video", "bag.avi")))
    frames = list(source)
    assert len(frames) == 196
    assert frames[0].shape == (360, 480, 3) and frames[0].dtype == np.uint8


# ------------------------------------------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    text_as_video = root / "notes.mp4"
    text_as_video.write_text("this is not a video\n" * 20)
    empty = root / "empty_folder"
    empty.mkdir()
    corrupt = root / "corrupt.safetensors"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    foreign = root / "foo.safetensors"
    save_file({"foo": torch.zeros(3)}, str(foreign))
    mdnet = root / "mdnet.safetensors"
    save_file({"conv.weight": torch.zeros(2, 2)}, str(mdnet), metadata={"arch": "mdnet_vggm"})
    return {"notes": text_as_video, "empty": empty, "corrupt": corrupt, "foreign": foreign, "mdnet": mdnet,
            "missing": root / "missing.mp4", "nofolder": root / "no" / "such" / "boxes.txt"}


def no_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


# (id, source key or "video", extra arguments, expected words in the message); "{x}" fills in a bad file.
BAD_INPUTS = [
    ("missing-video", "missing", ["--box", "1,1,10,10"], "does not exist"),
    ("text-file-named-mp4", "notes", ["--box", "1,1,10,10"], "notes.mp4"),
    ("empty-folder", "empty", ["--box", "1,1,10,10"], "holds no images"),
    ("box-zero-width", "video", ["--box", "10,10,0,20"], "positive width and height"),
    ("box-negative-height", "video", ["--box", "10,10,20,-5"], "positive width and height"),
    ("box-non-numeric", "video", ["--box", "a,b,c,d"], "four numbers"),
    ("box-short", "video", ["--box", "10,10,20"], "10,10,20"),
    ("box-infinite", "video", ["--box", "10,10,inf,20"], "four numbers"),
    ("no-box-no-select", "video", [], "--box"),
    ("select-without-display", "video", ["--select"], "display"),
    ("show-without-display", "video", ["--box", INIT_BOX, "--show"], "display"),
    ("unknown-tracker", "video", ["--box", INIT_BOX, "--tracker", "nosuch"], "unknown tracker 'nosuch'"),
    ("missing-weights", "video", ["--box", INIT_BOX, "--weights", "{missing}"], "does not exist"),
    ("corrupt-weights", "video", ["--box", INIT_BOX, "--weights", "{corrupt}"], "not a readable safetensors"),
    ("foreign-tensor-weights", "video", ["--box", INIT_BOX, "--weights", "{foreign}"], "does not fit"),
    ("mdnet-arch-weights", "video", ["--box", INIT_BOX, "--weights", "{mdnet}"], "mdnet_vggm"),
    ("unknown-config-key", "video", ["--box", INIT_BOX, "window_influense=0.2"], "window_influense"),
    ("bad-config-type", "video", ["--box", INIT_BOX, "scale_num=many"], "scale_num"),
    ("boxes-folder-missing", "video", ["--box", INIT_BOX, "--boxes", "{nofolder}"], "does not exist"),
    ("unknown-option", "video", ["--box", INIT_BOX, "--bogus"], "--bogus"),
]


@pytest.mark.parametrize("source_key, extra, expected", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_one_error_line_and_status_2(source_key, extra, expected, synthetic_video, random_weights,
                                                  bad_files, monkeypatch, capsys):
    if sys.platform in ("win32", "darwin") and ("--select" in extra or "--show" in extra):
        pytest.skip("has_display() is always true on Windows and macOS")
    no_display(monkeypatch)
    source = synthetic_video if source_key == "video" else bad_files[source_key]
    extra = [str(bad_files[a[1:-1]]) if a.startswith("{") else a for a in extra]
    if "--weights" not in extra:
        extra += ["--weights", str(random_weights)]
    status = run_cli(["track", source, *extra, "--device", "cpu"])
    line = assert_one_error_line(capsys.readouterr().err)
    assert status == 2
    assert expected in line


def test_box_outside_the_frame_is_refused_with_status_2(synthetic_video, random_weights, capsys):
    status = run_cli(["track", synthetic_video, "--box", "200,200,10,10", "--weights", random_weights,
                      "--device", "cpu"])
    err = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in err
    [line] = error_lines(err)
    assert "outside" in line and "96x96" in line


@pytest.mark.parametrize("extra", [["--box", "200,200,10,10"], ["--box", INIT_BOX, "--output", "clip.txt"]],
                         ids=["box-outside-frame", "output-not-a-video-name"])
def test_errors_found_while_tracking_are_one_line(extra, synthetic_video, random_weights, tmp_path, capsys):
    extra = [str(tmp_path / a) if a.endswith(".txt") else a for a in extra]
    status = run_cli(["track", synthetic_video, *extra, "--weights", random_weights, "--device", "cpu"])
    assert status == 2
    assert_one_error_line(capsys.readouterr().err)


def test_text_file_named_mp4_prints_only_our_line_at_fd_level(bad_files, random_weights, capfd):
    status = run_cli(["track", bad_files["notes"], "--box", "1,1,10,10", "--weights", random_weights,
                      "--device", "cpu"])
    assert status == 2
    assert_one_error_line(capfd.readouterr().err)


def test_malformed_override_value_is_one_error_line(synthetic_video, random_weights, capsys):
    status = run_cli(["track", synthetic_video, "--box", INIT_BOX, "--weights", random_weights, "--device", "cpu",
                      "window_influence=["])
    assert status == 2
    assert_one_error_line(capsys.readouterr().err)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_cuda_device_without_cuda_is_one_error_line(synthetic_video, random_weights, capsys):
    status = run_cli(["track", synthetic_video, "--box", INIT_BOX, "--weights", random_weights, "--device", "cuda"])
    assert status == 2
    assert "CUDA is not available" in assert_one_error_line(capsys.readouterr().err)


# ----------------------------------------------------------------------------------------------- create_tracker


@pytest.fixture
def api_tracker(random_weights):
    return twintrack.create_tracker("siamfc", weights=random_weights, device="cpu")


def test_create_tracker_follows_the_protocol(api_tracker):
    assert isinstance(api_tracker, twintrack.Tracker)
    assert api_tracker.name == "siamfc"


@pytest.mark.parametrize("kind", ["gray2d", "gray3d", "rgba"])
def test_create_tracker_accepts_grayscale_and_rgba_frames(api_tracker, clip, kind):
    frames, boxes = clip
    converted = []
    for frame in frames[:3]:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if kind == "gray2d":
            converted.append(gray)
        elif kind == "gray3d":
            converted.append(gray[:, :, None])
        else:
            converted.append(np.dstack([frame, np.full(gray.shape, 255, np.uint8)]))
    api_tracker.init(converted[0], boxes[0])
    for frame in converted[1:]:
        result = api_tracker.update(frame)
        assert isinstance(result, twintrack.TrackResult)
        assert result.box.shape == (4,)
        assert_boxes_inside(result.box[None], FRAME_W, FRAME_H)
        assert 0.0 <= result.score <= 1.0


def test_create_tracker_rejects_bad_frames_and_boxes(api_tracker, clip):
    frames, boxes = clip
    with pytest.raises(UserError, match="HxW"):
        api_tracker.init(np.zeros((8, 8, 5), np.uint8), [1, 1, 4, 4])
    with pytest.raises(UserError, match="outside"):
        api_tracker.init(frames[0], [500, 500, 10, 10])
    with pytest.raises(UserError, match="w=0"):
        api_tracker.init(frames[0], [10, 10, 0, 10])


def test_create_tracker_errors_and_overrides(random_weights):
    with pytest.raises(UserError, match="unknown tracker"):
        twintrack.create_tracker("nosuch", weights=random_weights)
    with pytest.raises(UserError, match="window_influense"):
        twintrack.create_tracker("siamfc", weights=random_weights, device="cpu", window_influense=0.1)
    with pytest.raises(UserError, match="unknown device"):
        twintrack.create_tracker("siamfc", weights=random_weights, device="tpu")
    a = twintrack.create_tracker("siamfc", weights=random_weights, device="cpu", window_influence=0.3)
    b = twintrack.create_tracker("siamfc", weights=random_weights, device="cpu")
    assert a.config.window_influence == pytest.approx(0.3)
    assert b.config.window_influence == pytest.approx(0.176)
