"""Failure-awareness: ROC AUC of a tracker's score against its own failures (Mann-Whitney, ties half) and its lost
verdict's precision and recall, checked against hand-computed values; the per-frame scores side file; the report
section from real eval jobs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import moving_target_clip, write_sequence_folder
from twintrack.cli import main
from twintrack.eval.failure import (counted_ious, failure_awareness, lost_precision_recall, roc_auc, roc_curve)
from twintrack.eval.frame_scores import FrameScores, read_frame_scores, scores_file, write_frame_scores
from twintrack.tracker.base import TrackResult

# Successes score 0.9, 0.8, 0.3; failures 0.3, 0.1. Of the 3 x 2 pairs the success is above in 5, tied in one:
# AUC = (5 + 0.5) / 6.
SCORES = [0.9, 0.8, 0.3, 0.3, 0.1]
FAILED = [False, False, True, False, True]


def test_roc_auc_is_the_mann_whitney_statistic_with_ties_counted_half():
    assert roc_auc(SCORES, FAILED) == pytest.approx(5.5 / 6)
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5], [False, True, False]) == 0.5  # a constant score: every pair tied
    # Only the order matters: any increasing transform leaves it unchanged.
    assert roc_auc(np.exp(SCORES) * 7, FAILED) == pytest.approx(5.5 / 6)


def test_roc_auc_without_both_classes_is_nan():
    assert math.isnan(roc_auc([0.9, 0.2], [False, False]))  # no failures
    assert math.isnan(roc_auc([0.9, 0.2], [True, True]))  # no successes
    assert math.isnan(roc_auc([], []))


def test_roc_curve_points_and_its_area_equal_the_auc():
    false_alarm, detection = roc_curve(SCORES, FAILED)
    # Thresholds 0.1, 0.3, 0.8, 0.9: flagging score <= 0.1 catches one failure and no success, <= 0.3 both failures
    # and one success (the tie), then the other successes.
    np.testing.assert_allclose(false_alarm, [0, 0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(detection, [0, 0.5, 1, 1, 1])
    area = np.sum(np.diff(false_alarm) * (detection[1:] + detection[:-1]) / 2)
    assert area == pytest.approx(roc_auc(SCORES, FAILED))
    rng = np.random.default_rng(0)
    scores, failed = rng.integers(0, 5, 200) / 4, rng.random(200) < 0.3  # many ties
    false_alarm, detection = roc_curve(scores, failed)
    area = np.sum(np.diff(false_alarm) * (detection[1:] + detection[:-1]) / 2)
    assert area == pytest.approx(roc_auc(scores, failed))


def test_lost_precision_and_recall_with_their_edge_cases():
    lost = [True, False, True, False, False]
    assert lost_precision_recall(lost, FAILED) == (0.5, 0.5)  # one of two lost frames failed; one of two failures
    precision, recall = lost_precision_recall([False] * 5, FAILED)  # never said lost: precision undefined
    assert math.isnan(precision) and recall == 0.0
    precision, recall = lost_precision_recall(lost, [False] * 5)  # no failures: recall undefined
    assert precision == 0.0 and math.isnan(recall)
    assert lost_precision_recall([True, True], [True, True]) == (1.0, 1.0)


def test_counted_frames_leave_out_the_first_and_invalid_truth():
    truth = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 0, 10], [0, 0, 10, 10]], dtype=float)
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 5, 5]], dtype=float)
    ious = counted_ious(boxes, truth)
    assert np.isnan(ious[[0, 2, 3]]).all()
    np.testing.assert_allclose(ious[[1, 4]], [50 / 150, 0.0])
    measured = failure_awareness(ious, [1.0, 0.7, 0.0, 0.0, 0.2], [False, False, True, True, True])
    assert (measured.frames, measured.failures, measured.lost_frames) == (2, 1, 1)
    assert measured.score_auc == 1.0 and (measured.lost_precision, measured.lost_recall) == (1.0, 1.0)


def test_frame_scores_record_and_round_trip(tmp_path):
    class Scripted:
        def init(self, frame, box):
            self.calls = 0

        def update(self, frame):
            self.calls += 1
            return TrackResult(box=np.zeros(4), score=0.1 * self.calls, lost=self.calls == 2)

    record = FrameScores(Scripted)
    tracker = record.build()
    tracker.init(None, None)
    for _ in range(3):
        tracker.update(None)
    assert record.scores == pytest.approx([1.0, 0.1, 0.2, 0.3]) and record.lost == [False, False, True, False]
    path = scores_file("ope", tmp_path, "toy", "seq_a")
    assert path == tmp_path / "toy" / "scores" / "seq_a_scores.txt"
    assert scores_file("got10k", tmp_path, "toy", "seq_a") == tmp_path / "toy" / "seq_a" / "seq_a_scores.txt"
    assert scores_file("vot", tmp_path, "toy", "seq_a") is None
    write_frame_scores(path, record)
    scores, lost = read_frame_scores(path, 4)
    np.testing.assert_allclose(scores, [1.0, 0.1, 0.2, 0.3])
    assert lost.tolist() == [False, False, True, False]
    assert read_frame_scores(path, 5) is None  # not this sequence's length
    assert read_frame_scores(tmp_path / "nope.txt", 4) is None
    assert not list(path.parent.glob(".*.tmp"))


# ------------------------------------------------------------------------------------ through twintrack eval

STEP = np.array([3.0, 2.0])
SCRIPT_SCORES = [0.9, 0.4, 0.7, 0.4, 0.2]  # frames 1..5
SCRIPT_LOST = [False, True, False, False, True]


class ScriptedTracker:
    """Follows the clip's known motion on frames 1-3 (IoU 1) and jumps away on frames 4-5 (IoU 0)."""

    def __init__(self) -> None:
        self.config = None

    def init(self, frame, box):
        self.box, self.index = np.asarray(box, dtype=float), 0

    def update(self, frame):
        self.index += 1
        box = self.box.copy()
        box[:2] += self.index * STEP
        if self.index >= 4:
            box = np.array([70.0, 70.0, 10.0, 10.0])
        return TrackResult(box=box, score=SCRIPT_SCORES[self.index - 1], lost=SCRIPT_LOST[self.index - 1])


def make_scripted(name, **kwargs):
    return ScriptedTracker()


def test_failure_section_from_eval_jobs(tmp_path):
    from twintrack.eval.failure_report import failure_section
    from twintrack.eval.got10k_adapter import open_benchmark
    from twintrack.eval.jobs import TrackerSpec, load_run, run_jobs

    for name, seed in (("seq_a", 0), ("seq_b", 1)):
        write_sequence_folder(tmp_path / "data" / name, *moving_target_clip(6, (96, 96), 24, (20, 30), (3, 2),
                                                                            seed=seed))
    bench = open_benchmark("folder", str(tmp_path / "data"))
    results_dir = tmp_path / "out" / "results"
    spec = TrackerSpec("scripted", factory=make_scripted)
    run_jobs(bench, [(spec, 0), (spec, 1)], results_dir)
    assert scores_file("ope", results_dir, "scripted", "seq_b").is_file()
    results = {"scripted": [load_run("ope", results_dir, "scripted", s) for s in bench.sequences]}
    heading, items = failure_section("ope", [spec], results, bench.sequences, results_dir, tmp_path / "out")
    header, rows = next(item for item in items if isinstance(item, tuple))
    # Per sequence: successes score 0.9, 0.4, 0.7 and failures 0.4, 0.2 (AUC 5.5 / 6); lost on frames 2 and 5
    # (precision 1/2), of the failures 4 and 5 one is said lost (recall 1/2). Pooled over two sequences: the same.
    assert rows == [["scripted", "10", "4 (40.0%)", f"{5.5 / 6:.3f}", "4", "0.500", "0.500"]]
    assert "![failure ROC](failure_roc.png) ![score against IoU](score_iou.png)" in items
    assert (tmp_path / "out" / "failure_roc.png").is_file() and (tmp_path / "out" / "score_iou.png").is_file()
    # Results without their scores file (written before twintrack kept them) are named, not measured.
    scores_file("ope", results_dir, "scripted", "seq_a").unlink()
    heading, items = failure_section("ope", [spec], results, bench.sequences, results_dir, tmp_path / "out")
    assert not any(isinstance(item, tuple) for item in items)
    assert any("No per-frame scores stored for scripted" in item for item in items if isinstance(item, str))


def test_eval_report_has_the_failure_section(tmp_path):
    data = tmp_path / "data"
    frames, boxes = moving_target_clip(6, (96, 96), 24, (20, 30), (3, 2), seed=0)
    write_sequence_folder(data / "seq_a", frames, boxes)
    out = tmp_path / "out"
    assert main(["eval", "--baseline", "kcf", "--dataset", f"folder:{data}", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    section = report.split("## Failure-awareness")[1].split("\n## ")[0]
    assert "| kcf | 5 |" in section and "- (no score)" in section
    assert "kcf give no score" in section
    assert (out / "results" / "kcf" / "scores" / "seq_a_scores.txt").is_file()
    html = (out / "report.html").read_text()
    # Each image line shows its own images, once.
    assert html.count('src="success.png"') == 1 and html.count('src="precision.png"') == 1
    assert "Failure-awareness" in html
