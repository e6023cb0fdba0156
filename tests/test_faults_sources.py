"""A video cut short, with a corrupt middle or a size change, and an image folder with frames
of two sizes are never a silent short run. Real files, the CLI's main()."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import moving_target_clip, write_image_folder

from faults.harness import assert_one_error_line, run_main
from twintrack.errors import UserError
from twintrack.app.sources import VideoSink, open_source

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

FRAMES = 40
BOX = "20,24,24,24"


def write_clip(path: Path, fourcc: str) -> Path:
    frames, _ = moving_target_clip(FRAMES, (96, 96), 24, (20, 24), (1, 0), background="noise", seed=3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (96, 96))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def cut_in_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_middle(path: Path, span: int = 6000) -> Path:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle - span // 2: middle + span // 2] = np.random.default_rng(0).integers(0, 256, span, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def frames_read(source) -> int:
    count = 0
    try:
        for _ in source:
            count += 1
    except UserError:
        pass
    return count


@pytest.mark.parametrize("damage, fourcc, suffix", [(cut_in_half, "MJPG", ".avi"), (corrupt_middle, "mp4v", ".mp4"),
                                                    (corrupt_middle, "MJPG", ".avi")])
def test_damaged_video_is_an_error_and_keeps_the_tracked_boxes(capsys, tmp_path, random_weights, damage, fourcc,
                                                              suffix):
    video = damage(write_clip(tmp_path / f"clip{suffix}", fourcc))
    readable = frames_read(open_source(str(video)))
    assert 0 < readable < FRAMES  # the damage is real: OpenCV stops early (it used to, silently, with exit 0)
    boxes = tmp_path / "boxes.txt"
    result = run_main(capsys, "track", video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                     "--boxes", boxes, "--output", tmp_path / "out.mp4")
    assert_one_error_line(result, str(video), f"frame {readable + 1} of the {FRAMES}", "cannot be decoded")
    # Everything tracked before the bad frame is kept, flushed as it was tracked.
    assert len(boxes.read_text().splitlines()) == readable
    written = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == readable


def test_stopping_before_the_damage_with_max_frames_is_fine(capsys, tmp_path, random_weights):
    video = cut_in_half(write_clip(tmp_path / "clip.avi", "MJPG"))
    readable = frames_read(open_source(str(video)))
    boxes = tmp_path / "boxes.txt"
    result = run_main(capsys, "track", video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                     "--boxes", boxes, "--max-frames", str(readable))
    assert result.returncode == 0, result.stderr
    assert len(boxes.read_text().splitlines()) == readable


def test_video_whose_frame_size_changes_is_tracked_whole(tmp_path):
    """OpenCV's FFmpeg backend scales every frame of a stream whose size changes to its first size, so none is lost;
    a backend that hands over another size meets the size check (next tests)."""
    av = pytest.importorskip("av")
    path = tmp_path / "sizes.avi"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(20):
            h, w = (48, 64) if i < 10 else (96, 128)
            ok, jpeg = cv2.imencode(".jpg", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            packet = av.Packet(jpeg.tobytes())
            packet.stream, packet.pts, packet.dts = stream, i, i
            container.mux(packet)
    frames = list(open_source(str(path)))
    assert len(frames) == 20 and {f.shape for f in frames} == {(48, 64, 3)}


def test_image_folder_with_two_frame_sizes_is_an_error_naming_the_file(capsys, tmp_path, random_weights):
    frames, _ = moving_target_clip(10, (96, 96), 24, (20, 24), (1, 0), background="noise", seed=4)
    frames[6:] = [cv2.resize(f, (128, 96)) for f in frames[6:]]
    folder = write_image_folder(tmp_path / "seq", frames)
    boxes = tmp_path / "boxes.txt"
    result = run_main(capsys, "track", folder, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                     "--boxes", boxes, "--output", tmp_path / "out.mp4")
    assert_one_error_line(result, "0007.png", "128x96", "96x96")
    assert len(boxes.read_text().splitlines()) == 6
    assert int(cv2.VideoCapture(str(tmp_path / "out.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 6


def test_video_sink_refuses_a_frame_of_another_size(tmp_path):
    sink = VideoSink(tmp_path / "out.avi", 10, (32, 24))
    sink.write(np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(UserError, match="16x16 frame"):
        sink.write(np.zeros((16, 16, 3), np.uint8))
    sink.close()


def test_whole_videos_still_read_in_full(tmp_path):
    for fourcc, suffix in (("MJPG", ".avi"), ("mp4v", ".mp4")):
        assert frames_read(open_source(str(write_clip(tmp_path / f"whole{suffix}", fourcc)))) == FRAMES
