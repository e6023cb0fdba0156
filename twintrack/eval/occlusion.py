"""The occlusion stress split: sequences with the target hidden for a stretch of frames (bench/occlusion.py builds
it from val and the fold; the selection protocol reads it as the split ``occlusion``).

In each sequence of N frames, from frame round(0.3 N) (at least 2) for min(20, max(3, round(0.15 N))) frames, the
target's box (its ground truth, enlarged 1.3x about its centre) is covered by one fixed patch: the frame's own
pixels at the occlusion's first frame, one and a half enlarged boxes to the side with more room. So an object of
constant appearance sits exactly on the target and moves with it for up to 20 frames, then is gone, and the target
reappears where it has moved to. Those frames' ground truth is NaN: the score counts only frames where the target
can be seen, so a tracker is judged on what it does before the occlusion and whether it finds the target after.
Frames outside the occlusion are links to the originals (identical pixels); occluded frames are PNG (lossless).

The absence split (bench/absence.py builds it; twintrack/eval/absence.py measures it) hides the target for longer,
15 to 30 frames where the sequence allows (``absence_window``), in two variants, each a folder of its own:

- ``cover``: the occlusion split's patch over the target, for the longer stretch;
- ``away``: the camera looks away: every frame of the stretch shows one fixed part of that same frame, clear of
  the target's enlarged box on all of them, enlarged to the whole frame (``away_view``). Nothing moves with the
  target, so a tracker cannot follow the occluder to where the target comes back.

Each sequence's folder holds ABSENCE.json (variant, first absent frame, frames absent) and the variant folder holds
absence.json with every sequence's stretch. A sequence too short for a stretch of MIN_EVENT_FRAMES is left out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from twintrack.eval.absence import MIN_EVENT_FRAMES
from twintrack.eval.paths import RUNS

OCCLUSION_SPLIT = RUNS / "occlusion"  # where bench/occlusion.py writes the split and the selection reads it
ABSENCE_SPLIT = RUNS / "absence"  # where bench/absence.py writes the absence split: one folder per variant
ABSENCE_VARIANTS = ("cover", "away")
ENLARGE = 1.3  # the occluder's side over the target's: covers a box that is a little off, as real occluders do
MAX_FRAMES = 20
ABSENCE_FRAMES = (15, 30)  # the absent stretch's length, where the sequence allows
ABSENCE_AFTER = 10  # frames kept after the stretch where the sequence allows: the recovery goal's 10 frames
MIN_AWAY_SCALE = 0.2  # the smallest view the away variant enlarges (5x); a sequence with none is left out of it


def occlusion_window(count: int) -> tuple[int, int]:
    """(first frame, number of frames) hidden in a sequence of ``count`` frames."""
    start = max(2, round(0.3 * count))
    length = min(MAX_FRAMES, max(3, round(0.15 * count)))
    return start, max(0, min(length, count - start - 1))  # at least one frame after it to find the target in


def absence_window(count: int) -> tuple[int, int]:
    """(first frame, number of frames) absent in the absence split: from round(0.3 N) (at least 2), round(0.15 N)
    frames clipped to 15..30, leaving ABSENCE_AFTER frames after it; a short sequence splits what follows its
    start in half between the stretch and the frames after it."""
    start = max(2, round(0.3 * count))
    wanted = min(ABSENCE_FRAMES[1], max(ABSENCE_FRAMES[0], round(0.15 * count)))
    room = count - start
    return start, max(0, min(wanted, max(room - ABSENCE_AFTER, room // 2)))


def cover_box(box: np.ndarray, frame_wh) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of the box enlarged ENLARGE x about its centre, clipped to the frame."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    half_w, half_h = box[2] * ENLARGE / 2, box[3] * ENLARGE / 2
    x0, y0 = int(np.floor(max(cx - half_w, 0))), int(np.floor(max(cy - half_h, 0)))
    x1 = int(np.ceil(min(cx + half_w, frame_wh[0])))
    y1 = int(np.ceil(min(cy + half_h, frame_wh[1])))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def occluder_patch(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The occluder: the frame's pixels one and a half enlarged boxes beside the target, on the side with more
    room (clipped to the frame), at the enlarged box's size."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = cover_box(box, (width, height))
    w, h = x1 - x0, y1 - y0
    shift = int(round(1.5 * w))
    sx = x0 + shift if width - x1 >= x0 else x0 - shift
    sx = int(np.clip(sx, 0, max(width - w, 0)))
    patch = frame[y0 : y0 + h, sx : sx + w]
    return cv2.resize(patch, (w, h), interpolation=cv2.INTER_NEAREST) if patch.shape[:2] != (h, w) else patch.copy()


def away_view(boxes, frame_wh, min_scale: float = MIN_AWAY_SCALE) -> tuple[int, int, int, int] | None:
    """The away variant's view: integer (x0, y0, x1, y1) of the largest window of the frame's shape clear of every
    one of ``boxes`` enlarged (``cover_box``): in the strip left, right, above or below their union, centred in it.
    None when the largest is under ``min_scale`` of the frame's side."""
    width, height = frame_wh
    covers = np.array([cover_box(box, frame_wh) for box in boxes])
    ux0, uy0 = covers[:, :2].min(axis=0)
    ux1, uy1 = covers[:, 2:].max(axis=0)
    strips = [(0, 0, ux0, height), (ux1, 0, width, height), (0, 0, width, uy0), (0, uy1, width, height)]
    best, best_scale = None, 0.0
    for sx0, sy0, sx1, sy1 in strips:
        scale = min((sx1 - sx0) / width, (sy1 - sy0) / height)
        if scale > best_scale:
            best, best_scale = (sx0, sy0, sx1, sy1), scale
    if best is None or best_scale < min_scale:
        return None
    sx0, sy0, sx1, sy1 = best
    # The frame's shape inside the strip, in integers (a float scale can land a hair under a whole pixel).
    view_w = min(sx1 - sx0, (sy1 - sy0) * width // height)
    view_h = min(sy1 - sy0, (sx1 - sx0) * height // width)
    x0, y0 = sx0 + (sx1 - sx0 - view_w) // 2, sy0 + (sy1 - sy0 - view_h) // 2
    return int(x0), int(y0), int(x0 + view_w), int(y0 + view_h)


class _Cover:
    """Hides the target under one patch of nearby background, cut at the first hidden frame (``occluder_patch``)."""

    def __init__(self) -> None:
        self.patch = None

    def __call__(self, bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
        height, width = bgr.shape[:2]
        if self.patch is None:
            self.patch = occluder_patch(bgr, box)
        x0, y0, x1, y1 = cover_box(box, (width, height))
        bgr[y0:y1, x0:x1] = cv2.resize(self.patch, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        return bgr


class _Away:
    """Replaces the frame by its ``view`` (x0, y0, x1, y1) enlarged to the whole frame."""

    def __init__(self, view) -> None:
        self.view = view

    def __call__(self, bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.view
        height, width = bgr.shape[:2]
        return cv2.resize(bgr[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_LINEAR)


def _write_hidden(sequence, folder: Path, start: int, length: int, hide) -> np.ndarray:
    """Write ``sequence`` into ``folder`` (img/, groundtruth_rect.txt) with frames start .. start+length-1 passed
    through ``hide(bgr, box)`` where they have a box; returns the written ground truth (NaN where hidden)."""
    frames, truth = sequence.frames, sequence.ground_truth
    image_dir = folder / "img"
    image_dir.mkdir(parents=True, exist_ok=True)
    hidden = truth.copy()
    for index, source in enumerate(frames):
        source = Path(source)
        if start <= index < start + length and np.all(np.isfinite(truth[index])):
            bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
            cv2.imwrite(str(image_dir / f"{source.stem}.png"), hide(bgr, truth[index]))
            hidden[index] = np.nan
        else:
            os.symlink(source.resolve(), image_dir / source.name)
    one_based = hidden + np.array([1, 1, 0, 0])  # OTB's convention in the file
    lines = [",".join("nan" if not np.isfinite(v) else f"{v:.4f}" for v in row) for row in one_based]
    (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return hidden


def write_sequence(sequence, out: Path) -> dict:
    """Write the occluded copy of ``sequence`` (an EvalSequence) as OUT/<name>/ (img/, groundtruth_rect.txt,
    OCCLUSION.json); returns its record: source frames, first hidden frame, frames hidden."""
    start, length = occlusion_window(len(sequence.frames))
    hidden = _write_hidden(sequence, Path(out) / sequence.name, start, length, _Cover())
    record = {"source_frames": len(sequence.frames), "first_hidden": start,
              "hidden": int(np.sum(~np.isfinite(hidden[:, 0])))}
    (Path(out) / sequence.name / "OCCLUSION.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def write_absence_sequence(sequence, out: Path, variant: str) -> dict | None:
    """Write the absence split's copy of ``sequence`` in ``variant`` ("cover" or "away") as OUT/<name>/ (img/,
    groundtruth_rect.txt, ABSENCE.json); returns its record (variant, source frames, first absent frame, frames
    absent), or None, writing nothing, when the sequence is too short for a stretch of MIN_EVENT_FRAMES (the
    shortest absence measured) or the away variant finds no view clear of the target."""
    start, length = absence_window(len(sequence.frames))
    if length < MIN_EVENT_FRAMES:
        return None
    if variant == "cover":
        hide = _Cover()
    elif variant == "away":
        first = cv2.imread(str(sequence.frames[0]), cv2.IMREAD_COLOR)
        stretch = sequence.ground_truth[start : start + length]
        stretch = stretch[np.all(np.isfinite(stretch), axis=1)]
        view = away_view(stretch, (first.shape[1], first.shape[0])) if len(stretch) else None
        if view is None:
            return None
        hide = _Away(view)
    else:
        raise ValueError(f"unknown absence variant {variant!r}: choose from {', '.join(ABSENCE_VARIANTS)}")
    hidden = _write_hidden(sequence, Path(out) / sequence.name, start, length, hide)
    absent = ~np.isfinite(hidden[:, 0]) & np.isfinite(sequence.ground_truth[:, 0])
    record = {"variant": variant, "source_frames": len(sequence.frames), "first_absent": start,
              "absent": int(absent.sum())}
    if variant == "away":
        record["view"] = list(hide.view)
    (Path(out) / sequence.name / "ABSENCE.json").write_text(json.dumps(record, indent=1) + "\n")
    return record
