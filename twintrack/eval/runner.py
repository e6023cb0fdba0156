"""Run a tracker over evaluation sequences with the OTB one-pass protocol (init on frame 1 ground truth)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from twintrack.eval.metrics import SequenceScore, score_sequence
from twintrack.eval.sequences import EvalSequence
from twintrack.data.images import read_image


@dataclass(frozen=True)
class SequenceRun:
    sequence: str
    boxes: np.ndarray
    update_seconds: float  # time spent in update() only (no image decoding), for fps
    frames: int
    score: SequenceScore

    @property
    def fps(self) -> float:
        return (self.frames - 1) / self.update_seconds if self.update_seconds > 0 else 0.0


@dataclass(frozen=True)
class TrackedFrames:
    """Per-frame output of one tracked sequence; frame 0 holds the initial box, score 1 and not lost."""

    boxes: np.ndarray  # (frames, 4) 0-based x, y, w, h
    scores: list[float]
    lost: list[bool]
    raw_scores: list  # the tracker's raw_score attribute after each update, where it has one (MDNet's fc6), else None
    update_seconds: float  # time spent in update() only (no image decoding)


def track_sequence(tracker, sequence: EvalSequence) -> TrackedFrames:
    boxes, scores, lost, raw = [sequence.ground_truth[0].copy()], [1.0], [False], [None]
    seconds = 0.0
    for index, path in enumerate(sequence.frames):
        frame = read_image(path)
        if index == 0:
            tracker.init(frame, sequence.ground_truth[0])
            continue
        start = time.perf_counter()
        result = tracker.update(frame)
        seconds += time.perf_counter() - start
        boxes.append(np.asarray(result.box, dtype=np.float64))
        scores.append(float(result.score))
        lost.append(bool(getattr(result, "lost", False)))
        raw.append(getattr(tracker, "raw_score", None))
    return TrackedFrames(np.array(boxes), scores, lost, raw, seconds)


def run_sequence(tracker, sequence: EvalSequence) -> SequenceRun:
    tracked = track_sequence(tracker, sequence)
    boxes = tracked.boxes
    return SequenceRun(sequence.name, boxes, tracked.update_seconds, len(boxes),
                       score_sequence(boxes, sequence.ground_truth))
