"""Absence and recovery: how a tracker behaves when the target leaves the picture and when it comes back.

An *absence event* is a stretch of at least ``MIN_EVENT_FRAMES`` consecutive frames without a ground-truth box
(NaN or zero/negative size), after the first frame. Its frames are counted 1-based: absent frame 1 is the first
frame without the target, return frame 1 the first frame with it again. Per event:

- ``lost_at``: the absent frame on which the tracker first says ``lost`` (1 = as soon as the target vanishes);
  None ("never") when it claims a target on every absent frame.
- ``back_at``: the return frame on which the tracker is on the target again: IoU >= ``ON_TARGET_IOU`` with the
  truth *and* not saying lost (a lost tracker's box is the last place it believed in, not a claim: tracker/base.py).
  It is looked for until the next frame without a box or the sequence's end, at most ``RECOVERY_CAP`` frames; None
  ("never") when not found there, and not measured (``returns`` False) when the target never comes back.
- ``claimed``: absent frames on which the tracker still claims a target (does not say lost).
- ``on_before``: whether the tracker was on the target (as above) on the frame before it vanished.

Summaries over events (``summarize``): the share said lost by absent frame ``LOST_GOAL`` and the share back by
return frame ``RECOVERY_GOAL`` (the goals: at least 90% and 70%), the median of each with "never" counted as
later than any frame (so the median is "never" when half the events are misses), and the false-presence
fraction: absent frames claimed over all absent frames, pooled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twintrack.geometry import iou

MIN_EVENT_FRAMES = 5  # shorter gaps in a ground truth (a blink, a bad label) are not an absence to measure
ON_TARGET_IOU = 0.5
RECOVERY_CAP = 30  # return frames searched for the target at most
LOST_GOAL, RECOVERY_GOAL = 5, 10  # "said lost by absent frame 5", "back by return frame 10"
LOST_TARGET_SHARE, RECOVERY_TARGET_SHARE = 0.9, 0.7  # the goals for the shares


@dataclass(frozen=True)
class AbsentStretch:
    start: int  # 0-based index of the first absent frame
    length: int  # frames absent
    returns: bool  # a frame with the target follows


@dataclass(frozen=True)
class AbsenceEvent:
    length: int
    lost_at: int | None  # 1-based absent frame of the first lost verdict; None = never
    back_at: int | None  # 1-based return frame back on the target; None = never (or no return)
    returns: bool
    claimed: int  # absent frames with a target claimed (not lost)
    on_before: bool


@dataclass(frozen=True)
class AbsenceSummary:
    events: int
    on_before: int  # events with the tracker on the target just before it vanished
    lost_within: float  # share of events said lost by absent frame LOST_GOAL
    lost_median: float  # median lost_at, inf = never
    returns: int  # events whose target comes back
    back_within: float  # share of those back on the target by return frame RECOVERY_GOAL
    back_median: float  # median back_at, inf = never
    false_presence: float  # claimed absent frames / absent frames


def _visible(ground_truth) -> np.ndarray:
    truth = np.asarray(ground_truth, dtype=np.float64).reshape(-1, 4)
    return np.all(np.isfinite(truth), axis=1) & (truth[:, 2] > 0) & (truth[:, 3] > 0)


def absent_stretches(ground_truth, min_frames: int = MIN_EVENT_FRAMES) -> list[AbsentStretch]:
    """The runs of at least ``min_frames`` frames without a box, after frame 0 (the init)."""
    visible = _visible(ground_truth)
    stretches, index = [], 1
    while index < len(visible):
        if visible[index]:
            index += 1
            continue
        end = index
        while end < len(visible) and not visible[end]:
            end += 1
        if end - index >= min_frames:
            stretches.append(AbsentStretch(index, end - index, end < len(visible)))
        index = end
    return stretches


def on_target(boxes, ground_truth, lost) -> np.ndarray:
    """Per frame: the tracker claims a target (not lost) and its box has IoU >= ON_TARGET_IOU with a visible truth."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    truth = np.asarray(ground_truth, dtype=np.float64).reshape(-1, 4)
    lost = np.asarray(lost, dtype=bool).ravel()
    visible = _visible(truth)
    on = np.zeros(len(truth), dtype=bool)
    on[visible] = iou(boxes[visible], truth[visible]) >= ON_TARGET_IOU
    return on & ~lost


def measure_event(stretch: AbsentStretch, on: np.ndarray, lost: np.ndarray, visible: np.ndarray) -> AbsenceEvent:
    """One event's numbers from per-frame ``on`` (``on_target``), ``lost`` and ``visible`` (the truth has a box)."""
    absent_lost = np.asarray(lost[stretch.start : stretch.start + stretch.length], dtype=bool)
    lost_at = int(np.argmax(absent_lost)) + 1 if absent_lost.any() else None
    back_at = None
    if stretch.returns:
        first = stretch.start + stretch.length
        end = first
        while end < len(visible) and visible[end] and end - first < RECOVERY_CAP:
            end += 1
        window = on[first:end]
        back_at = int(np.argmax(window)) + 1 if window.any() else None
    return AbsenceEvent(length=stretch.length, lost_at=lost_at, back_at=back_at, returns=stretch.returns,
                        claimed=int((~absent_lost).sum()), on_before=bool(on[stretch.start - 1]))


def sequence_events(boxes, ground_truth, lost, min_frames: int = MIN_EVENT_FRAMES) -> list[AbsenceEvent]:
    """The absence events of one tracked sequence: 0-based ``boxes`` and ``lost`` per frame (frame 0 the init)."""
    lost = np.asarray(lost, dtype=bool).ravel()
    visible = _visible(ground_truth)
    on = on_target(boxes, ground_truth, lost)
    return [measure_event(s, on, lost, visible) for s in absent_stretches(ground_truth, min_frames)]


def _median(values: list[int | None]) -> float:
    if not values:
        return float("nan")
    return float(np.median([math.inf if v is None else v for v in values]))


def summarize(events: list[AbsenceEvent]) -> AbsenceSummary:
    """The summaries over ``events`` (NaN where there is nothing to count)."""
    returning = [e for e in events if e.returns]
    absent = sum(e.length for e in events)

    def share(selected, goal_met) -> float:
        return sum(goal_met(e) for e in selected) / len(selected) if selected else float("nan")

    return AbsenceSummary(
        events=len(events), on_before=sum(e.on_before for e in events),
        lost_within=share(events, lambda e: e.lost_at is not None and e.lost_at <= LOST_GOAL),
        lost_median=_median([e.lost_at for e in events]),
        returns=len(returning),
        back_within=share(returning, lambda e: e.back_at is not None and e.back_at <= RECOVERY_GOAL),
        back_median=_median([e.back_at for e in returning]),
        false_presence=sum(e.claimed for e in events) / absent if absent else float("nan"))
