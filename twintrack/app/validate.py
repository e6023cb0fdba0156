"""Validation during training: track a folder of sequences with the network being trained, report AUC.

Training (train/) does not import evaluation (eval/): the CLI builds a validator here and hands it to the
trainer, which calls ``validator(model)`` every ``val_every`` epochs.
"""

from __future__ import annotations

import numpy as np

from twintrack.eval.runner import run_sequence
from twintrack.eval.sequences import load_folder_sequences
from twintrack.app.registry import get_tracker


class TrackingValidator:
    """``validator(net) -> {"val_auc": mean success AUC, "val_prec": mean precision at 20 px}``: a registered
    tracker with its preset tracking settings, built around ``net`` (the network being trained, in its tracking
    form), over the sequences of ``val_data``. Stochastic trackers use seed 0, so epochs compare like for like."""

    def __init__(self, tracker: str, val_data: str, device) -> None:
        self.entry = get_tracker(tracker)
        self.sequences = load_folder_sequences(val_data)
        self.device = device

    def __call__(self, net) -> dict[str, float]:
        # Trackers never modify the network they are given (they fold BatchNorm on their own inference copy), so
        # the network in training is handed over as it is.
        tracker = self.entry.build_tracker(net, self.entry.load_config(), self.device, seed=0)
        scores = [run_sequence(tracker, sequence).score for sequence in self.sequences]
        return {"val_auc": float(np.mean([s.success_auc for s in scores])),
                "val_prec": float(np.mean([s.precision for s in scores]))}
