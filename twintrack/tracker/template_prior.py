"""SiamFC's first-frame template, matched on the conv pass MDNet already makes: a drift-proof prior for its scores.

MDNet's search region is a SiamFC search crop (the target's mean side at 64 of 255 pixels, the same VGG-M conv
layers), so the first frame's feature map already holds SiamFC's exemplar: its central 11 x 11 cells. Correlating
that template with each later region map costs 18 MMAC (the conv pass is 1.2 GMAC) and gives a response that never
learns from the tracker's own, possibly wrong, updates: a person who walks past the target (caviar_Caviar2) or
a box that slides off onto background scores low there however well the online classifier has come to like it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from twintrack.models.backbone import VGGM
from twintrack.models.mdnet import FEATURE_ORIGIN

EXEMPLAR_CELLS = 11  # SiamFC's 127-pixel exemplar, in feature cells


class TemplatePrior:
    def __init__(self, feature_map: torch.Tensor, target_centre_px: float) -> None:
        """``feature_map``: the first frame's (1, C, M, M) region map with the target at its centre, which lies at
        ``target_centre_px`` region pixels on both axes."""
        size = feature_map.shape[-1]
        if size < EXEMPLAR_CELLS:
            raise ValueError(f"region feature map of {size} cells is smaller than the {EXEMPLAR_CELLS}-cell template")
        start = (size - EXEMPLAR_CELLS) // 2
        self.template = feature_map[:, :, start : start + EXEMPLAR_CELLS, start : start + EXEMPLAR_CELLS].clone()
        # Region pixel that response cell 0 stands for: the template centre's pixel when it sits at cell 0, moved by
        # where the target sat relative to the template's centre cell in the first frame (valid convolutions make
        # the two differ by a couple of pixels).
        template_centre_px = FEATURE_ORIGIN + VGGM.total_stride * (start + (EXEMPLAR_CELLS - 1) / 2)
        self.cell0_px = FEATURE_ORIGIN + VGGM.total_stride * (EXEMPLAR_CELLS - 1) / 2 + (
            target_centre_px - template_centre_px)

    def response(self, feature_map: torch.Tensor) -> np.ndarray:
        """The template's correlation with a region map, scaled to [0, 1] within the map (its peak is 1)."""
        with torch.no_grad():
            raw = F.conv2d(feature_map, self.template.to(feature_map.dtype))[0, 0].float().cpu().numpy()
        low, high = raw.min(), raw.max()
        return (raw - low) / max(high - low, 1e-12)

    def at(self, response: np.ndarray, centres_px: np.ndarray) -> np.ndarray:
        """``response`` bilinearly read at (N, 2) region-pixel centres (x, y); outside the map, its nearest edge."""
        cells = (np.asarray(centres_px, dtype=np.float64) - self.cell0_px) / VGGM.total_stride
        last = response.shape[0] - 1
        if last == 0:  # a region no larger than the exemplar: one response cell, no preference
            return np.full(len(cells), float(response[0, 0]))
        cells = np.clip(cells, 0, last)
        x0 = np.minimum(np.floor(cells[:, 0]).astype(int), last - 1)
        y0 = np.minimum(np.floor(cells[:, 1]).astype(int), last - 1)
        fx, fy = cells[:, 0] - x0, cells[:, 1] - y0
        top = response[y0, x0] * (1 - fx) + response[y0, x0 + 1] * fx
        bottom = response[y0 + 1, x0] * (1 - fx) + response[y0 + 1, x0 + 1] * fx
        return top * (1 - fy) + bottom * fy
