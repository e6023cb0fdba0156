"""Frame sources (video file, image folder, webcam) and sinks (annotated video, box file).

Sources yield HxWx3 RGB uint8 frames: OpenCV's BGR is converted here, at the edge. Image files are read by
``twintrack.data.images.read_image``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from twintrack.data.images import IMAGE_SUFFIXES, list_images, read_image
from twintrack.errors import UserError
from twintrack.geometry import to_rgb_uint8


class FrameSource:
    """An iterable of RGB frames with ``fps``, ``size`` (w, h) and ``count`` (None when unknown, e.g. webcam)."""

    name: str
    fps: float
    count: int | None

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def first_frame(self) -> np.ndarray:
        for frame in self:
            return frame
        raise UserError(f"{self.name}: holds no frames")


class VideoSource(FrameSource):
    def __init__(self, target: str | int) -> None:
        self.target = target
        self.name = f"camera {target}" if isinstance(target, int) else str(target)
        capture = self._open()
        ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            if isinstance(target, int):
                raise UserError(f"webcam {target}: cannot read a frame; check the camera index or permissions")
            raise UserError(f"'{target}' is not a readable video (no frame could be decoded); pass a video file, "
                            "an image folder or a webcam index")
        self.fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        if not np.isfinite(self.fps) or self.fps <= 0 or self.fps > 240:
            self.fps = 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.count = count if count > 0 and not isinstance(target, int) else None
        self._first = frame
        self._capture = capture

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            kind = "webcam" if isinstance(self.target, int) else "video"
            raise UserError(f"cannot open {kind} '{self.target}': not a readable video file or camera index")
        return capture

    def __iter__(self) -> Iterator[np.ndarray]:
        # The first frame was read to validate the source; replay it, then continue the same capture.
        capture, first = self._capture, self._first
        if capture is None:
            capture = self._open()
            ok, first = capture.read()
            if not ok:
                return
        self._capture = None
        try:
            frame = first
            while frame is not None:
                yield to_rgb_uint8(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if frame.ndim == 3 else frame)
                ok, frame = capture.read()
                if not ok:
                    break
        finally:
            capture.release()


class FolderSource(FrameSource):
    def __init__(self, folder: Path, fps: float = 25.0) -> None:
        self.name = str(folder)
        self.paths = list_images(folder)
        if not self.paths and (folder / "img").is_dir():  # an OTB-style sequence folder
            self.paths = list_images(folder / "img")
        if not self.paths:
            raise UserError(f"image folder '{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.fps = fps
        self.count = len(self.paths)

    def __iter__(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            yield read_image(path)


def open_source(spec: str) -> FrameSource:
    """A video file, an image folder, or a webcam index ("0")."""
    if spec.isdigit():
        return VideoSource(int(spec))
    path = Path(spec)
    if not path.exists():
        raise UserError(f"source '{spec}' does not exist; pass a video file, an image folder or a webcam index")
    if path.is_dir():
        return FolderSource(path)
    return VideoSource(str(path))


class VideoSink:
    """Writes RGB frames to a video file (mp4v), headless."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise UserError(f"output video folder '{self.path.parent}' does not exist")
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
        self.writer = cv2.VideoWriter(str(self.path), fourcc, fps, size)
        if not self.writer.isOpened():
            raise UserError(f"cannot write video '{path}'; use a .mp4 or .avi name")

    def write(self, frame_rgb: np.ndarray) -> None:
        self.writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self.writer.release()


def draw_box(frame_rgb: np.ndarray, box, score: float | None = None, color=(0, 255, 0)) -> np.ndarray:
    """A copy of the frame with the box (and score) drawn on it."""
    out = np.ascontiguousarray(frame_rgb.copy())
    x, y, w, h = (float(v) for v in box)
    cv2.rectangle(out, (round(x), round(y)), (round(x + w) - 1, round(y + h) - 1), color, 2)
    if score is not None:
        cv2.putText(out, f"{score:.2f}", (round(x), max(12, round(y) - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    color, 1, cv2.LINE_AA)
    return out


def write_boxes(path: str | Path, boxes) -> None:
    """One ``x,y,w,h`` line (0-based) per frame."""
    lines = [",".join(f"{v:.2f}" for v in box) for box in boxes]
    Path(path).write_text("\n".join(lines) + "\n")
