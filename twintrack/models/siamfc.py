"""SiamFC: a shared backbone embeds exemplar and search crops; a cross-correlation compares them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from twintrack.models.backbone import VGGM


def cross_correlation(exemplar_feat: torch.Tensor, search_feat: torch.Tensor) -> torch.Tensor:
    """Correlate each exemplar with its own search map(s) in one grouped convolution.

    ``exemplar_feat`` (N, C, h, w); ``search_feat`` (N * k, C, H, W) with k search maps per exemplar (e.g. scales).
    Returns (N * k, 1, H - h + 1, W - w + 1).
    """
    n, c, h, w = exemplar_feat.shape
    nk, _, sh, sw = search_feat.shape
    k = nk // n
    # Put all search maps into the channel dimension, one group per (exemplar, map) pair.
    kernels = exemplar_feat.repeat_interleave(k, dim=0)  # (N * k, C, h, w)
    out = F.conv2d(search_feat.reshape(1, nk * c, sh, sw), kernels, groups=nk)
    return out.reshape(nk, 1, out.shape[-2], out.shape[-1])


class SiamFCHead(nn.Module):
    """Cross-correlation with a learned output scale and bias (the paper's 'adjust' layer).

    The raw correlation sums 512 x 11 x 11 products, 6.7x more than siamfc-pytorch's AlexNet (256 x 6 x 6, scaled by
    1e-3), so a fixed ``base_scale`` of 1e-4 brings it to logit range and the learned ``gain`` multiplies that. With
    1e-3 the first logits saturate and training collapses to a constant map (loss stuck at ln 2); learning the scale
    itself would give it a gradient the size of the raw correlation, which blows up SGD at the first step.
    """

    def __init__(self, base_scale: float = 1e-4) -> None:
        super().__init__()
        self.base_scale = base_scale
        self.gain = nn.Parameter(torch.tensor(1.0))
        self.bias = nn.Parameter(torch.tensor(0.0))

    def forward(self, exemplar_feat: torch.Tensor, search_feat: torch.Tensor) -> torch.Tensor:
        return cross_correlation(exemplar_feat, search_feat) * (self.base_scale * self.gain) + self.bias

    def all_pairs(self, exemplar_feats: torch.Tensor, search_feats: torch.Tensor) -> torch.Tensor:
        """Every exemplar against every search map in one plain convolution (the exemplars are its kernels).

        ``exemplar_feats`` (K, C, h, w), ``search_feats`` (S, C, H, W) -> logits (S, K, H - h + 1, W - w + 1).
        Tracking uses it both ways: one exemplar against three scaled search crops (SiamFC-3s), or an exemplar
        pyramid of K scales against the one search crop of a frame.
        """
        return F.conv2d(search_feats, exemplar_feats) * (self.base_scale * self.gain) + self.bias


class SiamFCNet(nn.Module):
    """Backbone + head. ``forward(exemplars, searches)`` returns response maps (logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = VGGM()
        self.head = SiamFCHead()

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def forward(self, exemplars: torch.Tensor, searches: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(exemplars), self.embed(searches))
