"""Evaluation sequences from OTB-style folders: every frame, with its 0-based ground truth (NaN where unknown)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.data import GROUND_TRUTH_FILES, read_sequence_folder, sequence_folders
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
        sequences.append(EvalSequence(folder.name, tuple(str(f) for f in frames), ground_truth))
    return sequences
