"""bench/twin_replay.py: the twin's boxes follow, frame by frame, from SiamFC's and MDNet's own run records."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import twin_replay  # noqa: E402


def record(boxes, scores):
    return {"boxes": boxes, "scores": scores, "lost": [s < 0.5 for s in scores]}


def test_replay_takes_mdnets_box_only_where_siamfc_is_lost_and_mdnet_is_not():
    siamfc = record([[0, 0, 10, 10], [1, 0, 10, 10], [2, 0, 10, 10], [3, 0, 10, 10]], [1.0, 0.9, 0.2, 0.1])
    mdnet = record([[0, 0, 10, 10], [5, 5, 12, 12], [6, 6, 12, 12], [7, 7, 12, 12]], [1.0, 0.99, 0.8, 0.3])
    boxes = twin_replay.replay("siamfc_first", siamfc, mdnet)
    # Frame 1: SiamFC found (0.9), so its box however sure MDNet is; frame 2: SiamFC lost, MDNet found; frame 3:
    # both lost, SiamFC's.
    np.testing.assert_array_equal(boxes, [[0, 0, 10, 10], [1, 0, 10, 10], [6, 6, 12, 12], [3, 0, 10, 10]])
    by_score = twin_replay.replay("max", siamfc, mdnet)
    np.testing.assert_array_equal(by_score, [[0, 0, 10, 10], [5, 5, 12, 12], [6, 6, 12, 12], [7, 7, 12, 12]])


def test_wins_counts_sequences_won_and_lost_beyond_rounding():
    assert twin_replay.wins([0.5, 0.6, 0.7], [0.5, 0.5, 0.8]) == "1 / 1"
