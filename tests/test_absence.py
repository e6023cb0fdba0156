"""Absence and recovery: the metrics (twintrack/eval/absence.py) against hand-computed values, the absence split's
stretch and views (twintrack/eval/occlusion.py), and the report section (twintrack/eval/failure_report.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from twintrack.eval import absence, occlusion
from twintrack.eval.absence import AbsenceEvent, AbsentStretch
from twintrack.eval.failure_report import absence_sections
from twintrack.eval.frame_scores import scores_file, write_frame_scores
from twintrack.eval.sequences import EvalSequence, load_folder_sequences

NAN = [np.nan] * 4
BOX = [10.0, 10.0, 10.0, 10.0]
FAR = [50.0, 50.0, 10.0, 10.0]


# ------------------------------------------------------------------------------------------------- the metrics
def test_stretches_are_runs_of_at_least_5_absent_frames_after_the_init():
    truth = np.array([BOX] * 22)
    truth[3:8] = np.nan  # 5 frames: an event, the target returns at 8
    truth[10:12] = np.nan  # 2 frames: too short
    truth[13, 2] = 0.0  # zero width is absent too: 13..17 is 5 frames
    truth[14:18] = np.nan
    truth[19:22] = np.nan  # 3 frames at the end: too short at the default, no return
    assert absence.absent_stretches(truth) == [AbsentStretch(3, 5, True), AbsentStretch(13, 5, True)]
    assert absence.absent_stretches(truth, min_frames=3)[-1] == AbsentStretch(19, 3, False)
    truth[0] = np.nan  # the init frame never starts an event
    assert absence.absent_stretches(truth, min_frames=1)[0] == AbsentStretch(3, 5, True)


def test_one_event_said_lost_on_absent_frame_2_and_back_on_return_frame_3():
    truth = np.array([BOX] * 3 + [NAN] * 5 + [BOX] * 4)  # absent frames 3..7, back from 8
    boxes = np.array([BOX] * 12)
    boxes[8] = FAR  # return frame 1: off the target
    lost = np.zeros(12, dtype=bool)
    lost[[4, 6, 7]] = True  # absent frames 2, 4 and 5 said lost; 1 and 3 claim a target
    lost[9] = True  # return frame 2: on the box but saying lost, not back
    (event,) = absence.sequence_events(boxes, truth, lost)
    assert event == AbsenceEvent(length=5, lost_at=2, back_at=3, returns=True, claimed=2, on_before=True)


def test_never_lost_and_never_back_and_a_lost_frame_before_the_absence():
    truth = np.array([BOX] * 3 + [NAN] * 5 + [BOX] * 4)
    boxes = np.array([BOX] * 3 + [FAR] * 9)
    lost = np.zeros(12, dtype=bool)
    lost[2] = True  # lost on the frame before: not on the target before it vanished
    (event,) = absence.sequence_events(boxes, truth, lost)
    assert event == AbsenceEvent(length=5, lost_at=None, back_at=None, returns=True, claimed=5, on_before=False)


@pytest.mark.parametrize("back_frame, expected", [(30, 30), (31, None)])
def test_recovery_is_looked_for_over_at_most_30_return_frames(back_frame, expected):
    truth = np.array([BOX] * 2 + [NAN] * 5 + [BOX] * 40)
    boxes = np.array([FAR] * 47)
    boxes[:2] = BOX
    boxes[7 + back_frame - 1:] = BOX
    (event,) = absence.sequence_events(boxes, truth, np.zeros(47, dtype=bool))
    assert event.back_at == expected


def test_recovery_stops_at_the_next_absent_frame_and_an_event_without_return_is_not_measured():
    truth = np.array([BOX] * 2 + [NAN] * 5 + [BOX] * 2 + [NAN] * 5)  # back for 2 frames, then gone to the end
    boxes = np.array([FAR] * 14)
    boxes[:2] = BOX
    boxes[9:] = BOX  # on the box only where there is no target
    first, last = absence.sequence_events(boxes, truth, np.zeros(14, dtype=bool))
    assert first.back_at is None and first.returns
    assert last.back_at is None and not last.returns and last.lost_at is None


def test_summaries_count_never_as_later_than_any_frame():
    events = [
        AbsenceEvent(length=10, lost_at=1, back_at=12, returns=True, claimed=0, on_before=True),
        AbsenceEvent(length=20, lost_at=6, back_at=2, returns=True, claimed=5, on_before=True),
        AbsenceEvent(length=10, lost_at=None, back_at=None, returns=True, claimed=10, on_before=False),
        AbsenceEvent(length=5, lost_at=5, back_at=None, returns=False, claimed=4, on_before=True),
    ]
    summary = absence.summarize(events)
    assert summary.events == 4 and summary.on_before == 3 and summary.returns == 3
    assert summary.lost_within == 0.5  # lost at 1 and 5 (by frame 5); 6 and never are not
    assert summary.lost_median == 5.5  # 1, 5, 6, never
    assert summary.back_within == pytest.approx(1 / 3)  # of the three that return, only 2 is by frame 10
    assert summary.back_median == 12  # 2, 12, never
    assert summary.false_presence == pytest.approx(19 / 45)  # (0 + 5 + 10 + 4) / (10 + 20 + 10 + 5)
    assert math.isinf(absence.summarize(events[2:3]).lost_median)
    empty = absence.summarize([])
    assert empty.events == 0 and math.isnan(empty.lost_within) and math.isnan(empty.false_presence)


# ------------------------------------------------------------------------------------------- the absence split
@pytest.mark.parametrize("count, window", [(892, (268, 30)), (196, (59, 29)), (82, (25, 15)), (46, (14, 15)),
                                           (27, (8, 9)), (23, (7, 8)), (13, (4, 4))])
def test_the_absent_stretch_is_15_to_30_frames_where_10_frames_can_follow(count, window):
    # 196: round(58.8) = 59, round(29.4) = 29; 27: start 8, 19 frames left, max(19 - 10, 19 // 2) = 9.
    assert occlusion.absence_window(count) == window


def test_the_away_view_is_the_largest_frame_shaped_window_clear_of_the_enlarged_boxes():
    # Box (10, 20, 20, 20) in 200 x 100: cover x 7..33, y 17..43. Right strip 167 x 100: scale 0.835 -> 167 x 83,
    # centred vertically: y0 = (100 - 83) // 2 = 8.
    assert occlusion.away_view([np.array([10.0, 20.0, 20.0, 20.0])], (200, 100)) == (33, 8, 200, 91)
    # Two boxes: their union x 7..93 leaves the right strip 107 wide (scale 0.535); the strip below y 43 is 57 high
    # (0.57) and wins: 114 x 57, centred horizontally: x0 = (200 - 114) // 2 = 43.
    boxes = [np.array([10.0, 20.0, 20.0, 20.0]), np.array([70.0, 20.0, 20.0, 20.0])]
    assert occlusion.away_view(boxes, (200, 100)) == (43, 43, 157, 100)
    assert occlusion.away_view([np.array([5.0, 5.0, 180.0, 85.0])], (200, 100)) is None  # nothing 1/5 the size


def _toy_sequence(tmp_path: Path, count: int = 60) -> EvalSequence:
    rng = np.random.default_rng(0)
    source = tmp_path / "source"
    source.mkdir(parents=True)
    frames = []
    for i in range(count):
        path = source / f"{i + 1:04d}.png"
        cv2.imwrite(str(path), rng.integers(0, 256, (60, 160, 3), dtype=np.uint8))
        frames.append(str(path))
    truth = np.array([[5 + i * 0.5, 20, 12, 12] for i in range(count)], dtype=np.float64)
    return EvalSequence("toy", tuple(frames), truth)


def test_the_away_variant_shows_one_part_of_each_frame_without_the_target(tmp_path):
    sequence = _toy_sequence(tmp_path)
    record = occlusion.write_absence_sequence(sequence, tmp_path / "away", "away")
    start, length = occlusion.absence_window(60)  # (18, 15)
    assert (start, length) == (18, 15)
    assert {k: record[k] for k in ("variant", "source_frames", "first_absent", "absent")} == \
        {"variant": "away", "source_frames": 60, "first_absent": 18, "absent": 15}
    assert json.loads((tmp_path / "away" / "toy" / "ABSENCE.json").read_text()) == record
    x0, y0, x1, y1 = record["view"]
    for box in sequence.ground_truth[start : start + length]:
        cx0, cy0, cx1, cy1 = occlusion.cover_box(box, (160, 60))
        assert cx1 <= x0 or x1 <= cx0 or cy1 <= y0 or y1 <= cy0  # the view holds none of the target

    written = load_folder_sequences(tmp_path / "away")[0]
    absent = ~np.isfinite(written.ground_truth[:, 0])
    assert absent.tolist() == [start <= i < start + length for i in range(60)]
    np.testing.assert_allclose(written.ground_truth[~absent], sequence.ground_truth[~absent], atol=1e-4)
    for i in (start - 1, start, start + length - 1, start + length):
        original, got = cv2.imread(sequence.frames[i]), cv2.imread(written.frames[i])
        if absent[i]:
            expected = cv2.resize(original[y0:y1, x0:x1], (160, 60), interpolation=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(got, expected)
        else:
            assert Path(written.frames[i]).is_symlink()
            np.testing.assert_array_equal(got, original)


def test_the_cover_variant_hides_the_same_stretch_and_a_short_sequence_is_left_out(tmp_path):
    record = occlusion.write_absence_sequence(_toy_sequence(tmp_path), tmp_path / "cover", "cover")
    assert record == {"variant": "cover", "source_frames": 60, "first_absent": 18, "absent": 15}
    short = _toy_sequence(tmp_path / "short", count=13)  # a 4-frame stretch: shorter than an event
    assert occlusion.write_absence_sequence(short, tmp_path / "cover13", "cover") is None
    assert not (tmp_path / "cover13").exists()


# --------------------------------------------------------------------------------------------- the report
def test_the_report_section_has_one_row_per_tracker_and_is_left_out_without_absence(tmp_path):
    truth = np.array([BOX] * 3 + [NAN] * 5 + [BOX] * 4)
    sequence = EvalSequence("seq", tuple(f"{i}.png" for i in range(12)), truth)
    boxes = np.array([BOX] * 12)
    boxes[8] = FAR
    lost = [False] * 12
    for i in (4, 6, 7, 9):
        lost[i] = True
    write_frame_scores(scores_file("ope", tmp_path, "siamfc", "seq"),
                       SimpleNamespace(scores=[1.0] * 12, lost=lost))
    results = {"siamfc": [SimpleNamespace(boxes=boxes)], "kcf": [SimpleNamespace(boxes=boxes)]}
    ((heading, items),) = absence_sections("ope", results, [sequence], tmp_path)
    assert heading == "Absence and recovery"
    header, rows = items[1]
    # One event: said lost on absent frame 2, back on return frame 3, 2 of 5 absent frames claimed.
    assert rows == [["siamfc", "1 (1 on before)", "100% (1/1)", "2", "100% (1/1)", "3", "0.400"]]
    assert "kcf" in items[2]  # no stored verdicts: named, not measured
    visible = EvalSequence("seq", sequence.frames, np.array([BOX] * 12))
    assert absence_sections("ope", results, [visible], tmp_path) == []
