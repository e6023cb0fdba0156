"""Validation during training: track a folder of sequences with the network being trained, report AUC.

Training (train/) does not import evaluation (eval/): the CLI builds a validator here and hands it to the
trainer, which calls ``validator(model)`` every ``val_every`` epochs.
"""

from __future__ import annotations

import copy

import numpy as np

from twintrack.configs import load_config
from twintrack.eval.runner import run_sequence
from twintrack.eval.sequences import load_folder_sequences


class SiamFCValidator:
    """``validator(model) -> {"val_auc": mean success AUC, "val_prec": mean precision at 20 px}`` of SiamFC with
    the preset's tracking settings over the sequences of ``val_data``."""

    def __init__(self, val_data: str, device) -> None:
        self.sequences = load_folder_sequences(val_data)
        self.device = device

    def __call__(self, model) -> dict[str, float]:
        from twintrack.tracker.siamfc import SiamFCTracker

        # The tracker folds BatchNorm into the conv weights in place: give it a copy, never the model in training.
        tracker = SiamFCTracker(copy.deepcopy(model).float(), load_config("siamfc"), self.device)
        scores = [run_sequence(tracker, sequence).score for sequence in self.sequences]
        return {"val_auc": float(np.mean([s.success_auc for s in scores])),
                "val_prec": float(np.mean([s.precision for s in scores]))}
