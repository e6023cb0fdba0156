"""Per-frame scores and lost verdicts of an evaluation job, kept in a side file beside its got10k result files
(which hold boxes and times only), so that reports can measure failure-awareness (``failure.py``).

Layout under ``results/`` (one line per frame, ``score,lost`` with lost 1 or 0; frame 0, the init, is ``1,0``):

- OTB protocol: ``<tracker>/scores/<seq>_scores.txt`` (beside ``times/``)
- GOT-10k: ``<tracker>/<seq>/<seq>_scores.txt`` (got10k's report reads only ``<seq>_<number>.txt`` and ``_time.txt``)
- VOT (supervised, re-initialised after failures): none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twintrack.fileio import write_text_atomic

HEADER = "# score,lost (one line per frame; frame 0 is the init)"


def scores_file(protocol: str, results: Path, tracker: str, sequence: str) -> Path | None:
    """Where one job's per-frame scores are; None for the VOT protocol, which keeps none."""
    if protocol == "ope":
        return results / tracker / "scores" / f"{sequence}_scores.txt"
    if protocol == "got10k":
        return results / tracker / sequence / f"{sequence}_scores.txt"
    return None


class FrameScores:
    """Builds trackers with ``make_tracker`` and records the score and lost verdict of every frame the latest one
    tracked (its init starts the record afresh, as got10k builds a tracker per init)."""

    def __init__(self, make_tracker) -> None:
        self._make_tracker = make_tracker
        self.scores: list[float] = []
        self.lost: list[bool] = []

    def build(self):
        return _Recording(self._make_tracker(), self)


class _Recording:
    def __init__(self, tracker, record: FrameScores) -> None:
        self._tracker = tracker
        self._record = record

    def init(self, frame, box) -> None:
        self._tracker.init(frame, box)
        self._record.scores[:] = [1.0]
        self._record.lost[:] = [False]

    def update(self, frame):
        result = self._tracker.update(frame)
        self._record.scores.append(float(result.score))
        self._record.lost.append(bool(getattr(result, "lost", False)))
        return result


def write_frame_scores(path: Path | None, record: FrameScores) -> None:
    """Write ``record`` to ``path`` atomically (nothing when ``path`` is None)."""
    if path is None:
        return
    lines = [f"{score:.6g},{int(lost)}" for score, lost in zip(record.scores, record.lost)]
    write_text_atomic(path, "\n".join([HEADER, *lines]) + "\n")


def read_frame_scores(path: Path | None, frames: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(scores, lost) of one job, or None when its file is missing, unreadable or not ``frames`` long (results
    written before twintrack kept scores, or damaged)."""
    if path is None or not path.is_file():
        return None
    try:
        table = np.loadtxt(path, delimiter=",", ndmin=2, comments="#")
    except ValueError:
        return None
    if table.shape != (frames, 2):
        return None
    return table[:, 0], table[:, 1] > 0.5
