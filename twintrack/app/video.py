"""The one tracking loop: ``TrackingRun`` drives a tracker over a frame source for ``track_video`` (Python) and for
``twintrack track`` / ``twintrack demo`` (the CLI adds its annotated video and window through ``TrackingHooks``).
Also the box-file formats both write.

Box files, 0-based ``x, y, w, h`` pixels everywhere; the suffix picks the format (``-`` is standard output, and a
name without a suffix, such as ``/dev/stdout``, is ``.txt``):
- one object: ``.txt`` one ``x,y,w,h`` line per frame (the format since the first release); ``.csv`` a header and
  ``frame,x,y,w,h,score,lost`` rows (frame 1-based); ``.json`` a list of ``{"frame", "box", "score", "lost"}``.
- several objects: MOTChallenge-style rows ``frame,id,x,y,w,h,score`` (frame and id 1-based; ``.csv`` with a header
  line), or a ``.json`` list of ``{"frame", "id", "box", "score", "lost"}``.
The given first-frame box is written with score 1.0. Rows are flushed as they are written, so a run stopped by an
error or a kill keeps every frame tracked before it.

Stopping: Ctrl-C (KeyboardInterrupt) or a ``Stopped`` raised from a signal handler ends the loop, and every output
is closed whole on the way out (a ``.json`` list gets its closing bracket, an ``.mp4`` its index). A handler that
calls ``request_stop`` while a frame's outputs are being written is answered right after that frame, so a stop
never falls between a frame's box row and its video frame.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import signal
import stat
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult

FIRST_FRAME_SCORE = 1.0  # the given box: certain by definition
STANDARD_OUTPUT = "-"  # as a box-file name: write the rows to standard output
BOX_SUFFIXES = (".txt", ".csv", ".json")


# ------------------------------------------------------------------------------------------------ box files


def box_file_kind(path, several_objects: bool = False) -> str:
    """The format a box-file name asks for: ``txt``, ``csv``, ``json``, ``mot`` or ``mot_csv`` (several objects).
    An unknown suffix is a UserError naming the known ones."""
    suffix = "" if str(path) == STANDARD_OUTPUT else Path(path).suffix.lower()
    if suffix not in ("", *BOX_SUFFIXES):
        raise UserError(f"box file '{path}' has the suffix '{Path(path).suffix}'; box files end in .txt, .csv or "
                        f".json (or are {STANDARD_OUTPUT} for standard output)")
    if suffix == ".json":
        return "json"
    if several_objects:
        return "mot_csv" if suffix == ".csv" else "mot"
    return "csv" if suffix == ".csv" else "txt"


def open_text_output(path):
    """A text file to write: standard output for ``-``; a FIFO only when its reader is there (no silent wait)."""
    if str(path) == STANDARD_OUTPUT:
        return sys.stdout
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):
            return _open_fifo(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise UserError(f"cannot write box file '{path}' ({describe_os_error(err)})") from None
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write box file '{path}' ({describe_os_error(err)})") from None


def _open_fifo(path):
    import fcntl  # POSIX, as FIFOs are

    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # fails at once, not hangs, without a reader
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise UserError(f"box file '{path}' is a named pipe (FIFO) with no reader; start its reader first "
                            f"(e.g. cat {path} &) or give a regular file") from None
        raise UserError(f"cannot write box file '{path}' ({describe_os_error(err)})") from None
    # Blocking writes from here on: a slow reader slows the run down instead of failing it.
    fcntl.fcntl(descriptor, fcntl.F_SETFL, fcntl.fcntl(descriptor, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return os.fdopen(descriptor, "w", encoding="utf-8")


def describe_os_error(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "a symbolic link loop: the link leads back to itself"
    return err.strerror or str(err)


class BoxWriter:
    """Writes one frame's rows at a time: ``write(frame_number, [(object_id, TrackResult), ...])``."""

    def __init__(self, path: str | Path, several_objects: bool = False) -> None:
        self.kind = box_file_kind(path, several_objects)
        self.path = Path(path)
        self.name = output_name(path)
        self.several_objects = several_objects
        self.handle = open_text_output(path)
        # Only a regular file this writer created may be removed when nothing was written to it.
        self.removable = self.handle is not sys.stdout and self.path.is_file()
        self._rows = 0
        if self.kind == "csv":
            self._emit("frame,x,y,w,h,score,lost\n")
        elif self.kind == "mot_csv":
            self._emit("frame,id,x,y,w,h,score\n")
        elif self.kind == "json":
            self._emit("[")

    def write(self, frame_number: int, results) -> None:
        """``results``: ``(object_id, TrackResult)`` pairs of one frame (``frame_number`` is 1-based)."""
        lines = []
        for object_id, result in results:
            x, y, w, h = (float(v) for v in np.asarray(result.box, dtype=np.float64).reshape(4))
            score, lost = float(result.score), bool(result.lost)
            if self.kind == "txt":
                lines.append(f"{x:.2f},{y:.2f},{w:.2f},{h:.2f}\n")
            elif self.kind == "csv":
                lines.append(f"{frame_number},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{score:.4f},{int(lost)}\n")
            elif self.kind in ("mot", "mot_csv"):
                lines.append(f"{frame_number},{object_id},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{score:.4f}\n")
            else:
                record = {"frame": frame_number, "box": [round(v, 2) for v in (x, y, w, h)],
                          "score": round(score, 4), "lost": lost}
                if self.several_objects:
                    record = {"frame": frame_number, "id": object_id, **{k: v for k, v in record.items()
                                                                         if k != "frame"}}
                lines.append(("," if self._rows + len(lines) else "") + "\n  " + json.dumps(record))
        self._rows += len(lines)
        self._emit("".join(lines))

    def _emit(self, text: str) -> None:
        try:
            self.handle.write(text)
            self.handle.flush()
        except BrokenPipeError:
            self._drop_closed_pipe()
            raise UserError(f"the reader of {self.name} closed it (broken pipe)") from None

    def _drop_closed_pipe(self) -> None:
        """Point a closed pipe's descriptor at /dev/null: Python's exit-time flush then has nowhere to fail."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.handle.fileno())
        os.close(devnull)

    def close(self) -> None:
        if self.handle is None:
            return
        try:
            if self.kind == "json":
                self._emit("\n]\n")
        finally:
            if self.handle is sys.stdout:
                self.handle.flush()
            else:
                self.handle.close()
            self.handle = None

    def remove(self) -> None:
        """Close and delete the file: for a run that stopped before its first frame was written."""
        self.close()
        if self.removable:
            self.path.unlink(missing_ok=True)


def first_frame_result(box) -> TrackResult:
    return TrackResult(box=np.asarray(box, dtype=np.float64).reshape(4), score=FIRST_FRAME_SCORE)


# ------------------------------------------------------------------------------------------- the tracking loop


@dataclass
class TrackedVideo:
    """A whole video's track: ``boxes`` (frames, 4) or (frames, objects, 4) 0-based x, y, w, h; ``scores`` and
    ``lost`` per frame (and object). Row 0 is the given box with score 1.

    ``source_fps`` is the video's own frame rate (25 for image folders); ``tracking_fps`` is how fast the tracker
    went: frames tracked after the first per second spent in ``update`` (0.0 when there was only the first frame).
    """

    boxes: np.ndarray
    scores: np.ndarray
    lost: np.ndarray
    source_fps: float
    tracking_fps: float

    @property
    def fps(self) -> float:
        """The source's frame rate (the older name of ``source_fps``)."""
        return self.source_fps


class Stopped(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP, SIGINT) turned into the clean stop Ctrl-C makes; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class TrackingHooks:
    """What a front end adds to the loop (the CLI: an annotated video and a live window). The base adds nothing.

    ``start(first_frame)`` opens outputs once the tracker has accepted the first box; ``frame(index, frame, rows)``
    takes each frame's rows (index 0-based; rows ``[(object_id, TrackResult), ...]``) and returns False to stop;
    ``close()`` runs however the loop ends. ``outputs`` names the files the hooks write, for messages.
    """

    outputs: tuple = ()

    def start(self, first_frame: np.ndarray) -> None:
        pass

    def frame(self, index: int, frame: np.ndarray, rows) -> bool:
        return True

    def close(self) -> None:
        pass


class TrackingRun:
    """One pass of a tracker (or a ``MultiTracker``, then ``box`` is a list of boxes) over a frame source.

    ``run(source, box, max_frames)`` returns a ``TrackedVideo``. ``rows`` (each frame's ``[(id, TrackResult)]``) and
    ``update_seconds`` hold what was done so far, also after an error or a stop. A UserError met after the first
    frame (a damaged frame, a full pipe) says which files keep the frames tracked before it.
    """

    def __init__(self, tracker, boxes_file=None, hooks: TrackingHooks | None = None, progress: bool = True) -> None:
        from twintrack.app.multi import MultiTracker

        self.tracker = tracker
        self.several = isinstance(tracker, MultiTracker)
        self.boxes_file = boxes_file
        if boxes_file is not None:
            box_file_kind(boxes_file, self.several)  # an unknown suffix is refused before any tracking
        self.hooks = hooks or TrackingHooks()
        self.progress = progress
        self.rows: list = []
        self.update_seconds = 0.0
        self._writer: BoxWriter | None = None
        self._writing = False
        self._pending_stop: int | None = None

    # ------------------------------------------------------------------------------------------------ stopping
    def request_stop(self, signum: int) -> None:
        """For a signal handler: stop as Ctrl-C does, now, or right after the frame whose outputs are being
        written (so that no output is left half-written)."""
        if self._writing:
            self._pending_stop = self._pending_stop or signum
            return
        raise Stopped(signum)

    @contextmanager
    def _writing_outputs(self, stop_after: bool = True):
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
        if self._pending_stop is not None and stop_after:
            raise Stopped(self._pending_stop)

    # ---------------------------------------------------------------------------------------------------- loop
    def run(self, source, box, max_frames: int | None = None) -> TrackedVideo:
        frames = itertools.islice(iter(source), max_frames)  # never pulls a frame past max_frames
        first = next(frames, None)
        if first is None:
            raise UserError(f"{getattr(source, 'name', source)}: holds no frames")
        # Everything that can refuse the input runs before anything is written or a progress bar is drawn.
        first_rows = self._init(first, box)
        bar, finished = None, False
        try:
            with self._writing_outputs():
                self._open_outputs(first)
                self._emit(0, first, first_rows)
            bar = tqdm(total=self._total(source, max_frames), unit="frame", desc="tracking", dynamic_ncols=True,
                       disable=not self.progress, file=sys.stderr)
            bar.update(1)
            for index, frame in enumerate(frames, 1):
                rows = self._update(frame)
                with self._writing_outputs():
                    keep_going = self._emit(index, frame, rows)
                bar.update(1)
                if not keep_going:
                    break
            finished = True
        except UserError as err:
            if not self.rows:
                raise
            raise UserError(f"{err} ({self.kept_note()})") from None
        finally:
            with self._writing_outputs(stop_after=finished):
                if bar is not None:
                    bar.close()
                self._close_outputs()
        return self.result(source)

    def _init(self, frame, box) -> list:
        if self.several:
            return [(self.tracker.add(frame, one), first_frame_result(one)) for one in box]
        self.tracker.init(frame, box)
        return [(1, first_frame_result(box))]

    def _update(self, frame) -> list:
        start = time.perf_counter()
        rows = sorted(self.tracker.update(frame).items()) if self.several else [(1, self.tracker.update(frame))]
        self.update_seconds += time.perf_counter() - start
        return rows

    def _open_outputs(self, first_frame) -> None:
        if self.boxes_file is not None:
            self._writer = BoxWriter(self.boxes_file, several_objects=self.several)
        self.hooks.start(first_frame)

    def _emit(self, index: int, frame, rows) -> bool:
        if self._writer is not None:
            self._writer.write(index + 1, rows)
        self.rows.append(rows)
        return self.hooks.frame(index, frame, rows) is not False

    def _close_outputs(self) -> None:
        try:
            self.hooks.close()
        finally:
            if self._writer is not None:
                # Nothing tracked (an output refused at opening, a stop before the first frame): leave nothing.
                self._writer.close() if self.rows else self._writer.remove()

    @staticmethod
    def _total(source, max_frames):
        count = getattr(source, "count", None)
        return min(count, max_frames) if count and max_frames else (count or max_frames)

    # ------------------------------------------------------------------------------------------------- results
    def outputs(self) -> list[str]:
        named = [] if self.boxes_file is None else [output_name(self.boxes_file)]
        return named + [str(p) for p in self.hooks.outputs]

    def kept_note(self) -> str:
        kept = self.outputs()
        if not kept:
            return "nothing was written"
        return f"the {frames_phrase(len(self.rows))} tracked before it {'are' if len(self.rows) != 1 else 'is'} in " \
               f"{' and '.join(kept)}"

    @property
    def tracking_fps(self) -> float:
        tracked = len(self.rows) - 1  # the first frame is given, not tracked
        return tracked / self.update_seconds if tracked > 0 and self.update_seconds > 0 else 0.0

    def result(self, source) -> TrackedVideo:
        boxes = np.array([[r.box for _, r in frame_rows] for frame_rows in self.rows])
        scores = np.array([[r.score for _, r in frame_rows] for frame_rows in self.rows])
        lost = np.array([[r.lost for _, r in frame_rows] for frame_rows in self.rows])
        if not self.several:
            boxes, scores, lost = boxes[:, 0], scores[:, 0], lost[:, 0]
        return TrackedVideo(boxes=boxes, scores=scores, lost=lost, source_fps=float(getattr(source, "fps", 0.0)),
                            tracking_fps=self.tracking_fps)


def output_name(path) -> str:
    """A box-file name for messages: ``-`` is standard output."""
    return "standard output" if str(path) == STANDARD_OUTPUT else str(path)


def frames_phrase(count: int) -> str:
    return f"{count} frame" if count == 1 else f"{count} frames"


# ---------------------------------------------------------------------------------------------------- the API


def track_video(source, box, tracker="siamfc", weights=None, device="auto", seed=None, max_frames=None,
                progress: bool = True, boxes_file=None, **overrides) -> TrackedVideo:
    """Track ``box`` (0-based x, y, w, h in the first frame) through a video file, image folder, stream URL or
    webcam index. ``box`` may be a list of boxes: then every object is tracked (MultiTracker) and the arrays
    gain an object axis. ``tracker`` is a name (with ``weights``, ``device``, ``seed``, ``overrides`` as for
    ``create_tracker``) or a tracker object. ``boxes_file``: also write the boxes (.txt, .csv, .json).
    """
    from twintrack.app.sources import open_source

    boxes_in = np.asarray(box, dtype=np.float64)
    several = boxes_in.ndim == 2
    if boxes_in.shape[-1:] != (4,) or boxes_in.ndim not in (1, 2):
        raise UserError(f"track_video: box must be x, y, w, h or a list of them (got shape {boxes_in.shape})")
    if boxes_file is not None:
        box_file_kind(boxes_file, several)  # before the tracker is built and the video opened
    frames_source = open_source(str(source)) if not hasattr(source, "__iter__") or isinstance(source, str) else source
    built = _build_tracker(tracker, several, weights=weights, device=device, seed=seed, **overrides)
    return TrackingRun(built, boxes_file=boxes_file, progress=progress).run(frames_source, boxes_in, max_frames)


def _build_tracker(tracker, several: bool, **create_args):
    """A tracker object for one box, a MultiTracker for several."""
    from twintrack.app.api import create_tracker  # above the tracker layer: imported when called
    from twintrack.app.multi import MultiTracker

    if several:
        if isinstance(tracker, MultiTracker):
            return tracker
        if not isinstance(tracker, str):
            raise UserError("track_video: several boxes need a tracker name (a MultiTracker is built from it)")
        return MultiTracker(tracker, **create_args)
    return create_tracker(tracker, **create_args) if isinstance(tracker, str) else tracker
