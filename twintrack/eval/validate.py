"""Validation during training: track a folder of sequences with the weights being trained, report AUC."""

from __future__ import annotations

import copy

import numpy as np

from twintrack.configs import load_config
from twintrack.eval.runner import run_sequence


def siamfc_val_scores(model, sequences, device) -> tuple[float, float]:
    """Mean success AUC and precision at 20 px of SiamFC (the preset's tracking settings) over ``sequences``."""
    from twintrack.tracker.siamfc import SiamFCTracker

    # The tracker folds BatchNorm into the conv weights in place: give it a copy, never the model in training.
    tracker = SiamFCTracker(copy.deepcopy(model).float(), load_config("siamfc"), device)
    scores = [run_sequence(tracker, sequence).score for sequence in sequences]
    return float(np.mean([s.success_auc for s in scores])), float(np.mean([s.precision for s in scores]))
