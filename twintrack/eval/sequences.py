"""Evaluation sequences from OTB-style folders: every frame, with its 0-based ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.errors import UserError
from twintrack.geometry import from_one_based
from twintrack.train.datasets import is_sequence_folder, list_images, read_box_file


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
    folders = [root] if is_sequence_folder(root) else sorted(p for p in root.iterdir() if is_sequence_folder(p))
    if not folders:
        raise UserError(f"no OTB-style sequences (img/ + groundtruth_rect.txt) in '{root}'")
    sequences = []
    for folder in folders:
        frames = list_images(folder / "img")
        gt = from_one_based(read_box_file(folder / "groundtruth_rect.txt"))
        n = min(len(frames), len(gt))
        sequences.append(EvalSequence(folder.name, tuple(str(f) for f in frames[:n]), gt[:n]))
    return sequences
