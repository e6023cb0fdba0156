"""A whole video from Python (``track_video``) and the box-file formats the CLI and library write.

Box files, 0-based ``x, y, w, h`` pixels everywhere:
- one object: ``.txt`` one ``x,y,w,h`` line per frame (the format since the first release); ``.csv`` a header and
  ``frame,x,y,w,h,score,lost`` rows (frame 1-based); ``.json`` a list of ``{"frame", "box", "score", "lost"}``.
- several objects: MOTChallenge-style rows ``frame,id,x,y,w,h,score`` (frame and id 1-based; any suffix but
  ``.json``), or a ``.json`` list of ``{"frame", "id", "box", "score", "lost"}``.
The given first-frame box is written with score 1.0. Rows are flushed as they are written, so an interrupted run
keeps every frame tracked before it (a ``.json`` file then lacks its closing bracket).
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult

FIRST_FRAME_SCORE = 1.0  # the given box: certain by definition


class BoxWriter:
    """Writes one frame's rows at a time: ``write(frame_number, [(object_id, TrackResult), ...])``."""

    def __init__(self, path: str | Path, several_objects: bool = False) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        self.kind = "json" if suffix == ".json" else "mot" if several_objects else "csv" if suffix == ".csv" else "txt"
        self.several_objects = several_objects
        try:
            self.handle = open(self.path, "w", encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write box file '{path}' ({err.strerror})") from None
        self._rows = 0
        if self.kind == "csv":
            self._emit("frame,x,y,w,h,score,lost\n")
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
            elif self.kind == "mot":
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
        self.handle.write(text)
        self.handle.flush()

    def close(self) -> None:
        if self.kind == "json":
            self._emit("\n]\n")
        self.handle.close()


def first_frame_result(box) -> TrackResult:
    return TrackResult(box=np.asarray(box, dtype=np.float64).reshape(4), score=FIRST_FRAME_SCORE)


@dataclass
class TrackedVideo:
    """A whole video's track: ``boxes`` (frames, 4) or (frames, objects, 4) 0-based x, y, w, h; ``scores`` and
    ``lost`` per frame (and object). Row 0 is the given box with score 1."""

    boxes: np.ndarray
    scores: np.ndarray
    lost: np.ndarray
    fps: float  # the source's frame rate


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
    frames_source = open_source(str(source)) if not hasattr(source, "__iter__") or isinstance(source, str) else source
    step = _tracking_step(tracker, several, weights=weights, device=device, seed=seed, **overrides)
    writer = BoxWriter(boxes_file, several_objects=several) if boxes_file is not None else None
    total = getattr(frames_source, "count", None)
    total = min(total, max_frames) if total and max_frames else (total or max_frames)
    rows = []
    try:
        frames = itertools.islice(iter(frames_source), max_frames)
        bar = tqdm(frames, total=total, unit="frame", desc="tracking", disable=not progress, file=sys.stderr)
        for index, frame in enumerate(bar):
            results = step(frame, boxes_in if index == 0 else None)
            rows.append(results)
            if writer is not None:
                writer.write(index + 1, results)
    finally:
        if writer is not None:
            writer.close()
    if not rows:
        raise UserError(f"{getattr(frames_source, 'name', source)}: holds no frames")
    boxes = np.array([[r.box for _, r in frame_rows] for frame_rows in rows])
    scores = np.array([[r.score for _, r in frame_rows] for frame_rows in rows])
    lost = np.array([[r.lost for _, r in frame_rows] for frame_rows in rows])
    if not several:
        boxes, scores, lost = boxes[:, 0], scores[:, 0], lost[:, 0]
    return TrackedVideo(boxes=boxes, scores=scores, lost=lost, fps=float(getattr(frames_source, "fps", 0.0)))


def _tracking_step(tracker, several: bool, **create_args):
    """``step(frame, init_boxes_or_None) -> [(object_id, TrackResult), ...]`` for one tracker or a MultiTracker."""
    from twintrack.app.api import create_tracker  # above the tracker layer: imported when called
    from twintrack.app.multi import MultiTracker

    if several:
        if not isinstance(tracker, str):
            raise UserError("track_video: several boxes need a tracker name (a MultiTracker is built from it)")
        multi = MultiTracker(tracker, **create_args)

        def step(frame, init_boxes):
            if init_boxes is not None:
                return [(multi.add(frame, b), first_frame_result(b)) for b in init_boxes]
            return sorted(multi.update(frame).items())
        return step

    single = create_tracker(tracker, **create_args) if isinstance(tracker, str) else tracker

    def step(frame, init_box):
        if init_box is not None:
            single.init(frame, init_box)
            return [(1, first_frame_result(init_box))]
        return [(1, single.update(frame))]
    return step
