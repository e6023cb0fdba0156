"""The occlusion stress split: sequences with the target hidden for a stretch of frames (bench/occlusion.py builds
it from val and the fold; the selection protocol reads it as the split ``occlusion``).

In each sequence of N frames, from frame round(0.3 N) (at least 2) for min(20, max(3, round(0.15 N))) frames, the
target's box (its ground truth, enlarged 1.3x about its centre) is covered by one fixed patch: the frame's own
pixels at the occlusion's first frame, one and a half enlarged boxes to the side with more room. So an object of
constant appearance sits exactly on the target and moves with it for up to 20 frames, then is gone, and the target
reappears where it has moved to. Those frames' ground truth is NaN: the score counts only frames where the target
can be seen, so a tracker is judged on what it does before the occlusion and whether it finds the target after.
Frames outside the occlusion are links to the originals (identical pixels); occluded frames are PNG (lossless).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from twintrack.eval.paths import RUNS

OCCLUSION_SPLIT = RUNS / "occlusion"  # where bench/occlusion.py writes the split and the selection reads it
ENLARGE = 1.3  # the occluder's side over the target's: covers a box that is a little off, as real occluders do
MAX_FRAMES = 20


def occlusion_window(count: int) -> tuple[int, int]:
    """(first frame, number of frames) hidden in a sequence of ``count`` frames."""
    start = max(2, round(0.3 * count))
    length = min(MAX_FRAMES, max(3, round(0.15 * count)))
    return start, max(0, min(length, count - start - 1))  # at least one frame after it to find the target in


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


def write_sequence(sequence, out: Path) -> dict:
    """Write the occluded copy of ``sequence`` (an EvalSequence) as OUT/<name>/ (img/, groundtruth_rect.txt,
    OCCLUSION.json); returns its record: source frames, first hidden frame, frames hidden."""
    frames, truth = sequence.frames, sequence.ground_truth
    start, length = occlusion_window(len(frames))
    image_dir = Path(out) / sequence.name / "img"
    image_dir.mkdir(parents=True, exist_ok=True)
    hidden = truth.copy()
    patch = None
    for index, source in enumerate(frames):
        source = Path(source)
        if start <= index < start + length and np.all(np.isfinite(truth[index])):
            bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
            height, width = bgr.shape[:2]
            if patch is None:
                patch = occluder_patch(bgr, truth[index])
            x0, y0, x1, y1 = cover_box(truth[index], (width, height))
            bgr[y0:y1, x0:x1] = cv2.resize(patch, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            cv2.imwrite(str(image_dir / f"{source.stem}.png"), bgr)
            hidden[index] = np.nan
        else:
            os.symlink(source.resolve(), image_dir / source.name)
    one_based = hidden + np.array([1, 1, 0, 0])  # OTB's convention in the file
    lines = [",".join("nan" if not np.isfinite(v) else f"{v:.4f}" for v in row) for row in one_based]
    (Path(out) / sequence.name / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    record = {"source_frames": len(frames), "first_hidden": start, "hidden": int(np.sum(~np.isfinite(hidden[:, 0])))}
    (Path(out) / sequence.name / "OCCLUSION.json").write_text(json.dumps(record, indent=1) + "\n")
    return record
