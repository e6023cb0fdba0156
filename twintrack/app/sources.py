"""Frame sources (video file, image folder, webcam, stream URL) and sinks (annotated video, box file).

Sources yield HxWx3 RGB uint8 frames: OpenCV's BGR is converted here, at the edge. Image files are read by
``twintrack.data.images.read_image``.

A source never ends early in silence (docs/reliability.md): a video that stops before the frame count in its header
(cut short, or a frame that cannot be decoded) and a frame whose size differs from the first frame's raise a
UserError naming the frame, after every good frame before it has been yielded.

Where a file cannot be opened or written, our one-line UserError says so: OpenCV's and FFmpeg's own log lines
(``[ WARN:0@...]``, ``moov atom not found``) are kept quiet there (``quiet_opencv``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from twintrack.data.images import IMAGE_SUFFIXES, list_images, read_image
from twintrack.errors import UserError
from twintrack.geometry import to_rgb_uint8
from twintrack.optional import available

# rtsp://, rtmp://, http(s)://, udp://, file://, ...: anything OpenCV's FFmpeg backend opens by URL.
URL_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# How long to wait for a stream to open or deliver a frame before giving up (OpenCV's FFmpeg default is 30 s).
STREAM_TIMEOUT_MS = 10_000


# Containers whose PyAV muxer takes ``movflags`` (the MP4 family).
MP4_FAMILY = (".mp4", ".mov", ".m4v")


@contextmanager
def quiet_opencv():
    """OpenCV's log (``[ WARN ]`` lines) off while it opens a file or device whose failure we report ourselves.

    FFmpeg's own log (inside OpenCV) is set once, from OPENCV_FFMPEG_LOGLEVEL, when OpenCV first opens a file
    with it: set here unless the user chose a level.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def link_problem(path) -> str | None:
    """``"a symbolic link loop"`` or ``"a broken symbolic link"`` when ``path`` cannot be followed, else None."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symbolic link loop (it leads back to itself through links)"
        if os.path.islink(path):
            return "a broken symbolic link (it points to nothing)"
    return None


def special_file(path) -> str | None:
    """What an existing file that is not a regular file is (a FIFO, a device, a socket); None otherwise."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def video_output_problem(path) -> str | None:
    """Why an annotated video cannot be written at ``path`` (None when it can be tried)."""
    problem = link_problem(path)
    if problem:
        return f"'{path}' is {problem}; remove the link or choose another name"
    kind = special_file(path)
    if kind:
        return (f"'{path}' is {kind}, not a regular file: a video's index is written when it closes, so it needs a "
                "regular file; give a file name")
    return None


def is_url(spec: str) -> bool:
    return bool(URL_PATTERN.match(spec))


def redact_url(url: str) -> str:
    """A URL fit for messages and logs: the password of ``user:password@host`` is hidden."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/:@]*):[^/@]*@", r"\1:***@", url)


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


def check_same_size(frame: np.ndarray, first: np.ndarray, where: str) -> np.ndarray:
    """Every frame of a source has the first frame's size: boxes, crops and the output video assume one size."""
    if frame.shape[:2] != first.shape[:2]:
        raise UserError(f"{where} is {frame.shape[1]}x{frame.shape[0]} but the first frame is "
                        f"{first.shape[1]}x{first.shape[0]}; every frame of a source must have one size "
                        "(resize the images or split the sequence)")
    return frame


class VideoSource(FrameSource):
    def __init__(self, target: str | int) -> None:
        self.target = target
        self.stream = isinstance(target, str) and is_url(target)
        self.name = f"camera {target}" if isinstance(target, int) else redact_url(target) if self.stream else target
        capture = self._open()
        with quiet_opencv():
            ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            if isinstance(target, int):
                raise UserError(f"webcam {target}: cannot read a frame; check the camera index or permissions")
            if self.stream:
                raise UserError(f"stream '{self.name}' opened but sent no frame within {STREAM_TIMEOUT_MS // 1000} s; "
                                "check that it is a video stream and that it is playing")
            raise UserError(f"'{target}' is not a readable video (no frame could be decoded); pass a video file, "
                            "an image folder or a webcam index")
        self.fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        if not np.isfinite(self.fps) or self.fps <= 0 or self.fps > 240:
            self.fps = 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        # Cameras and streams have no length (a live stream's header count means nothing).
        self.count = count if count > 0 and isinstance(target, str) and not self.stream else None
        self._first = frame
        self._capture = capture

    def _open(self) -> cv2.VideoCapture:
        with quiet_opencv():
            return self._open_capture()

    def _open_capture(self) -> cv2.VideoCapture:
        if self.stream:
            # Bounded waits: a dead camera or a wrong address is an error after seconds, not a hang.
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                                                                     cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
            if not capture.isOpened():
                raise UserError(f"cannot open stream '{self.name}': check the address, that the server or camera is "
                                "reachable from here, and the user name/password in the URL")
            return capture
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
            first_rgb, index, frame = None, 0, first
            while frame is not None:
                rgb = to_rgb_uint8(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if frame.ndim == 3 else frame)
                first_rgb = rgb if first_rgb is None else first_rgb
                yield check_same_size(rgb, first_rgb, f"'{self.name}': frame {index + 1}")
                index += 1
                ok, frame = capture.read()
                if not ok:
                    self._check_complete(index)
                    break
        finally:
            capture.release()

    def _check_complete(self, frames_read: int) -> None:
        """A video that ends before its header's frame count was cut short or holds a frame that cannot be decoded
        (OpenCV's read() fails at the first bad frame): an error, not a silently short run."""
        if self.count is not None and frames_read < self.count:
            raise UserError(f"'{self.name}': frame {frames_read + 1} of the {self.count} in its header cannot be "
                            f"decoded (file cut short or corrupt); {frames_read} frames were read. Re-encode it "
                            f"(e.g. ffmpeg -i IN -c:v libx264 OUT.mp4) or stop before it with --max-frames {frames_read}")


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
        first = None
        for path in self.paths:
            frame = read_image(path)
            first = frame if first is None else first
            yield check_same_size(frame, first, f"image '{path}'")


def open_source(spec: str) -> FrameSource:
    """A video file, an image folder, a webcam index ("0") or a stream URL (rtsp://, http://, ...)."""
    if spec.isdigit():
        return VideoSource(int(spec))
    if is_url(spec):
        return VideoSource(spec)
    path = Path(spec)
    problem = link_problem(path)
    if problem:
        raise UserError(f"source '{spec}' is {problem}; pass a video file, an image folder or a webcam index")
    if not path.exists():
        raise UserError(f"source '{spec}' does not exist; pass a video file, an image folder or a webcam index")
    if path.is_dir():
        return FolderSource(path)
    return VideoSource(str(path))


class VideoSink:
    """Writes RGB frames to a video file, headless. ``.mp4``/``.mov``/``.mkv``: H.264 (yuv420p, plays in browsers
    and notebooks) through PyAV when it is installed (``pip install 'twintrack[video]'``), else OpenCV's mp4v;
    ``.avi``: MJPG. ``codec`` says which was used."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.size = tuple(size)
        self.frames_written = 0
        if self.path.parent and not self.path.parent.exists():
            raise UserError(f"output video folder '{self.path.parent}' does not exist")
        problem = video_output_problem(self.path)
        if problem:
            raise UserError(f"cannot write video: {problem}")
        self._av = None
        if self.path.suffix.lower() in (".mp4", ".mov", ".mkv", ".m4v") and available("av"):
            self._av = _H264Writer(self.path, fps, self.size)
        if self._av is not None and self._av.stream is not None:
            self.codec = "h264"
            return
        self._av = None
        self.codec = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        with quiet_opencv():
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), fps, self.size)
        if not self.writer.isOpened():
            raise UserError(f"cannot write video '{path}'; use a .mp4 or .avi name")

    def write(self, frame_rgb: np.ndarray) -> None:
        # OpenCV's writer drops a frame of another size without a word; refuse it instead.
        if (frame_rgb.shape[1], frame_rgb.shape[0]) != tuple(self.size):
            raise UserError(f"cannot write a {frame_rgb.shape[1]}x{frame_rgb.shape[0]} frame to '{self.path}', "
                            f"a {self.size[0]}x{self.size[1]} video")
        if self._av is not None:
            self._av.write(frame_rgb)
        else:
            self.writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        if self._av is not None:
            self._av.close()
        else:
            self.writer.release()
            self._check_written()

    def _check_written(self) -> None:
        """OpenCV's writer reports no write errors (a full disk, a file size limit): read the file back."""
        if not self.frames_written:
            return
        with quiet_opencv():
            capture = cv2.VideoCapture(str(self.path))
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        capture.release()
        if frames < self.frames_written:
            raise UserError(f"video '{self.path}' holds {max(frames, 0)} of the {self.frames_written} frames "
                            "written: is the disk full? Free space and run the command again")


class _H264Writer:
    """H.264 through PyAV (libx264 in its wheels). ``stream`` is None when this PyAV build cannot encode H.264."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        import av

        self.stream = None
        # yuv420p (what players expect) needs even sides: odd ones get one replicated edge row/column.
        self.even_size = (size[0] + size[0] % 2, size[1] + size[1] % 2)
        # faststart (MP4 family): the index goes first, so a browser starts playing before the whole file arrived.
        options = {"movflags": "faststart"} if path.suffix.lower() in MP4_FAMILY else {}
        try:
            self.container = av.open(str(path), mode="w", options=options)
        except (OSError, ValueError) as err:
            raise UserError(f"cannot write video '{path}' ({err})") from None
        for codec in ("libx264", "h264"):
            try:
                stream = self.container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            except (ValueError, av.error.FFmpegError):
                continue
            stream.width, stream.height = self.even_size
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "20", "preset": "veryfast"}
            self.stream = stream
            break
        if self.stream is None:
            self.container.close()
            path.unlink(missing_ok=True)

    def write(self, frame_rgb: np.ndarray) -> None:
        import av

        pad_y, pad_x = self.even_size[1] - frame_rgb.shape[0], self.even_size[0] - frame_rgb.shape[1]
        if pad_x or pad_y:
            frame_rgb = np.pad(frame_rgb, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_rgb), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():  # flush the encoder's delayed frames
            self.container.mux(packet)
        self.container.close()


def draw_box(frame_rgb: np.ndarray, box, score: float | None = None, color=(0, 255, 0), label: str | None = None
             ) -> np.ndarray:
    """A copy of the frame with the box and its label (default: the score, when given) drawn on it."""
    out = np.ascontiguousarray(frame_rgb.copy())
    x, y, w, h = (float(v) for v in box)
    cv2.rectangle(out, (round(x), round(y)), (round(x + w) - 1, round(y + h) - 1), color, 2)
    label = label if label is not None else (f"{score:.2f}" if score is not None else None)
    if label:
        cv2.putText(out, label, (round(x), max(12, round(y) - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    color, 1, cv2.LINE_AA)
    return out


def write_boxes(path: str | Path, boxes) -> None:
    """One ``x,y,w,h`` line (0-based) per frame."""
    lines = [",".join(f"{v:.2f}" for v in box) for box in boxes]
    Path(path).write_text("\n".join(lines) + "\n")
