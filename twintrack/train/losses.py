"""Training losses (kept out of the models, whose forward() is inference-shaped)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def balanced_logistic_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """SiamFC's loss: per-cell logistic loss, positives and negatives weighted to equal halves per map.

    ``weights`` already sums to 1 per map (see ``pairs.label_map``), so the sum over cells is a per-pair mean;
    the result is averaged over the batch.
    """
    per_cell = F.binary_cross_entropy_with_logits(logits.float(), labels, weight=weights, reduction="none")
    return per_cell.flatten(1).sum(dim=1).mean()
