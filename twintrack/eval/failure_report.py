"""The evaluation report's failure-awareness section: for each tracker, how well its per-frame score and its ``lost``
verdict tell its own failures from its successes (``failure.py``), from the per-frame scores its jobs kept
(``frame_scores.py``), with a table and two plots (ROC curves, score against IoU); and, when the ground truth has
absent stretches, how each tracker says the target is gone and finds it again (``absence.py``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from twintrack.eval import absence
from twintrack.eval.baselines import SCORED_BASELINES
from twintrack.eval.failure import FAILURE_IOU, counted_ious, failure_awareness, roc_curve
from twintrack.eval.frame_scores import read_frame_scores, scores_file

HEADER = ["tracker", "frames", f"failures (IoU < {FAILURE_IOU})", "score ROC AUC", "lost frames", "lost precision",
          "lost recall"]


def pooled_frames(protocol: str, results_dir: Path, tracker: str, runs, sequences):
    """(IoU, score, lost) over the counted frames of every sequence, or None when a sequence's per-frame scores are
    missing. ``runs`` are the tracker's SequenceRuns (0-based boxes), in the order of ``sequences``."""
    ious, scores, lost = [], [], []
    for run, sequence in zip(runs, sequences):
        kept = read_frame_scores(scores_file(protocol, results_dir, tracker, sequence.name), len(run.boxes))
        if kept is None:
            return None
        frame_ious = counted_ious(run.boxes, sequence.ground_truth)
        counted = np.isfinite(frame_ious)
        ious.append(frame_ious[counted])
        scores.append(kept[0][: len(frame_ious)][counted])
        lost.append(kept[1][: len(frame_ious)][counted])
    return np.concatenate(ious), np.concatenate(scores), np.concatenate(lost)


def failure_section(protocol: str, specs, results: dict, sequences, results_dir: Path, out: Path):
    """The report section (heading, items): ``results`` maps each tracker to its SequenceRuns; ``specs`` say which
    trackers are OpenCV baselines (CSRT, KCF and MIL give no score, only their ok flag)."""
    from twintrack.eval.plots import plot_failure_roc, plot_score_iou

    unscored = [s.name for s in specs if s.baseline and s.name not in SCORED_BASELINES]
    rows, missing, curves, scatter = [], [], {}, {}
    for name, runs in results.items():
        frames = pooled_frames(protocol, results_dir, name, runs, sequences)
        if frames is None:
            missing.append(name)
            continue
        ious, scores, lost = frames
        measured = failure_awareness(ious, scores, lost)
        has_score = name not in unscored
        rows.append([name, str(measured.frames), _count(measured.failures, measured.frames),
                     _number(measured.score_auc) if has_score else "- (no score)", str(measured.lost_frames),
                     _number(measured.lost_precision), _number(measured.lost_recall)])
        if has_score:
            scatter[name] = (ious, scores, lost)
            if not math.isnan(measured.score_auc):
                failed = ious < FAILURE_IOU
                curves[name] = (*roc_curve(scores, failed), measured.score_auc)
    items = [_explanation(unscored, [n for n in results if n in SCORED_BASELINES])]
    if rows:
        items.append((HEADER, rows))
    if missing:
        items.append(f"No per-frame scores stored for {', '.join(missing)} (results written before twintrack kept "
                     "them, or damaged): rerun with --overwrite to measure them.")
    images = []
    if curves:
        plot_failure_roc(curves, out)
        images.append("![failure ROC](failure_roc.png)")
    if scatter:
        plot_score_iou(scatter, out)
        images.append("![score against IoU](score_iou.png)")
    if images:
        items.append(" ".join(images))
    return "Failure-awareness", items


def _explanation(unscored: list[str], scored_baselines: list[str]) -> str:
    text = ("How well each tracker knows it has lost the target, over its updated frames (every frame after the "
            "first) with a ground-truth box, pooled over all sequences. A failure is a frame whose box overlaps the "
            f"truth with IoU < {FAILURE_IOU}. Score ROC AUC: the chance that a success scores above a failure (ties "
            "count half; 0.5 = chance, 1 = every failure scores below every success). Lost precision: the share of "
            "the frames the tracker said lost that are failures; lost recall: the share of failures it said lost. "
            "'-' is undefined: no failures (AUC, recall), no successes (AUC) or never said lost (precision).")
    if unscored:
        text += (f" {', '.join(unscored)} give no score (theirs is OpenCV's ok flag as 1 or 0): only their lost "
                 "verdict counts.")
    if scored_baselines:
        text += (f" {', '.join(scored_baselines)}: the score is the network's own confidence (not calibrated to "
                 "twintrack's 0.5); lost is OpenCV's ok flag (VitTrack: score below 0.2).")
    return text


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def _count(count: int, total: int) -> str:
    return f"{count} ({100.0 * count / total:.1f}%)" if total else str(count)


def absence_sections(protocol: str, results: dict, sequences, results_dir: Path) -> list:
    """The report's absence-and-recovery section (absence.py), as a list of zero or one sections: none when no
    sequence has an absent stretch of MIN_EVENT_FRAMES or more. ``results`` maps each tracker to its SequenceRuns."""
    stretches = sum(len(absence.absent_stretches(s.ground_truth)) for s in sequences)
    if not stretches:
        return []
    rows, missing = [], []
    for name, runs in results.items():
        events = tracker_events(protocol, results_dir, name, runs, sequences)
        if events is None:
            missing.append(name)
        else:
            rows.append(_absence_row(name, absence.summarize(events)))
    items = [_absence_explanation(stretches)]
    if rows:
        items.append((ABSENCE_HEADER, rows))
    if missing:
        items.append(f"No per-frame lost verdicts stored for {', '.join(missing)}: rerun with --overwrite to "
                     "measure them.")
    return [("Absence and recovery", items)]


def tracker_events(protocol: str, results_dir: Path, tracker: str, runs, sequences):
    """The absence events of one tracker over every sequence, or None when a sequence's per-frame verdicts are
    missing."""
    events = []
    for run, sequence in zip(runs, sequences):
        kept = read_frame_scores(scores_file(protocol, results_dir, tracker, sequence.name), len(run.boxes))
        if kept is None:
            return None
        events += absence.sequence_events(run.boxes, sequence.ground_truth, kept[1])
    return events


def _absence_explanation(stretches: int) -> str:
    return (f"{stretches} stretches of {absence.MIN_EVENT_FRAMES} or more frames where the ground truth has no box "
            "(the target is gone), each one event. Said lost: the absent frame on which the tracker first says lost "
            "(1 = the first frame without the target; 'never' = it claims a target throughout). Back: the frame "
            "after the target's return (1 = the first) on which the tracker is on it again (IoU >= "
            f"{absence.ON_TARGET_IOU} and not saying lost), looked for over at most {absence.RECOVERY_CAP} frames. "
            "Medians count 'never' as later than any frame. False presence: the share of absent frames on which the "
            f"tracker still claims a target. Goals: said lost by frame {absence.LOST_GOAL} in "
            f"{absence.LOST_TARGET_SHARE:.0%} of events, back by frame {absence.RECOVERY_GOAL} in "
            f"{absence.RECOVERY_TARGET_SHARE:.0%}. On before: events where the tracker was on the target on the frame "
            "before it vanished.")


def _absence_row(name: str, summary: absence.AbsenceSummary) -> list[str]:
    def share(value: float, count: int) -> str:
        return "-" if math.isnan(value) else f"{value:.0%} ({round(value * count)}/{count})"

    def median(value: float) -> str:
        return "-" if math.isnan(value) else "never" if math.isinf(value) else f"{value:g}"

    return [name, f"{summary.events} ({summary.on_before} on before)",
            share(summary.lost_within, summary.events), median(summary.lost_median),
            share(summary.back_within, summary.returns), median(summary.back_median),
            _number(summary.false_presence)]


ABSENCE_HEADER = ["tracker", "events", f"said lost by frame {absence.LOST_GOAL}", "median frame said lost",
                  f"back by frame {absence.RECOVERY_GOAL}", "median frame back", "false presence"]
