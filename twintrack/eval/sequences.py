"""Evaluation sequences from OTB-style folders: every frame, with its 0-based ground truth (NaN where the box file
marks a frame absent; twintrack/data reads it, one rule for training and evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.data import GROUND_TRUTH_FILES, read_sequence_folder, sequence_folders
from twintrack.data.sequences import ground_truth_file
from twintrack.errors import UserError


@dataclass(frozen=True)
class EvalSequence:
    name: str
    frames: tuple[str, ...]
    ground_truth: np.ndarray  # (N, 4) 0-based xywh; NaN where unknown


def load_folder_sequences(root: str | Path) -> list[EvalSequence]:
    """All sequences under ``root`` (or ``root`` itself when it is one sequence)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder '{root}' does not exist")
    folders = sequence_folders(root)
    if not folders:
        raise UserError(f"no OTB-style sequences (img/ + {' or '.join(GROUND_TRUTH_FILES)}) in '{root}'")
    sequences = []
    for folder in folders:
        frames, ground_truth = read_sequence_folder(folder)
        check_first_box(folder.name, ground_truth, ground_truth_file(folder))
        sequences.append(EvalSequence(folder.name, tuple(str(f) for f in frames), ground_truth))
    return sequences


def check_first_box(name: str, ground_truth: np.ndarray, path) -> None:
    """Trackers start from the first frame's box: a sequence whose first row is absent is one error naming the
    sequence and its box file (line 1)."""
    first = np.asarray(ground_truth, dtype=np.float64).reshape(-1, 4)[:1]
    if len(first) and np.all(np.isfinite(first)) and first[0, 2] > 0 and first[0, 3] > 0:
        return
    raise UserError(f"sequence '{name}': its first frame has no box ('{path}' line 1 is blank, NaN or of zero or "
                    "negative size); the tracker starts from the first frame's box: give it one")


def absent_frames(sequences) -> dict[str, int]:
    """How many frames of each sequence have no box (NaN rows: kept, not scored), for those that have any."""
    counts = {s.name: int((~np.all(np.isfinite(s.ground_truth), axis=1)).sum()) for s in sequences}
    return {name: count for name, count in counts.items() if count}
