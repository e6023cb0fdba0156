"""A colour-histogram foreground model, the second cue of Staple (Bertinetto et al., "Staple: Complementary Learners
for Real-Time Tracking", CVPR 2016), for SiamFC's ``color_weight`` option.

SiamFC's response compares shapes and textures at 8-pixel cells; a look-alike of another colour (the passer-by in a
red coat, the other cyclist) can score as high as the target there. A colour model is blind to shape but sees
exactly that difference, and it is cheap: one table lookup per pixel of a small crop and an integral image.

The model: joint RGB histograms (32 bins per channel) of the target box (foreground) and of the search region
around it (background), each normalised to a density; a pixel's foreground probability is
``fg / (fg + bg)`` of its colour's bin (0.5 for a colour seen in neither). A candidate position's score is the mean
probability over a target-sized box centred there.
"""

from __future__ import annotations

import cv2
import numpy as np

BINS = 32  # per channel (Staple's); 32^3 joint bins
_SHIFT = 3  # 256 / BINS = 8 = 2^3
_EPS = 1e-6  # a bin seen in neither histogram scores 0.5


def bin_index(image: np.ndarray) -> np.ndarray:
    """(H, W) joint-bin index of each pixel of an (H, W, 3) uint8 RGB image."""
    quantised = (image >> _SHIFT).astype(np.int32)
    return (quantised[..., 0] * BINS + quantised[..., 1]) * BINS + quantised[..., 2]


class ColorModel:
    def __init__(self, crop: np.ndarray, box: np.ndarray) -> None:
        """``crop``: (H, W, 3) uint8 RGB around the target; ``box``: the target in it, (x, y, w, h) in pixels."""
        self.probability = self._fit(crop, box)

    def update(self, crop: np.ndarray, box: np.ndarray, rate: float) -> None:
        """Blend in the model of a newer view: ``(1 - rate) x old + rate x new`` per bin."""
        self.probability = (1 - rate) * self.probability + rate * self._fit(crop, box)

    @staticmethod
    def _fit(crop: np.ndarray, box: np.ndarray) -> np.ndarray:
        bins = bin_index(crop)
        inside = np.zeros(bins.shape, dtype=bool)
        x0, y0, x1, y1 = _pixel_span(box, bins.shape)
        inside[y0:y1, x0:x1] = True
        fg = np.bincount(bins[inside], minlength=BINS ** 3).astype(np.float64)
        bg = np.bincount(bins[~inside], minlength=BINS ** 3).astype(np.float64)
        fg /= max(fg.sum(), 1.0)
        bg /= max(bg.sum(), 1.0)
        return ((fg + _EPS) / (fg + bg + 2 * _EPS)).astype(np.float32)

    def pixel_map(self, crop: np.ndarray) -> np.ndarray:
        """(H, W) float32 foreground probability of each pixel."""
        return self.probability[bin_index(crop)]

    def box_scores(self, crop: np.ndarray, centres: np.ndarray, box_wh, probability=None) -> np.ndarray:
        """Mean foreground probability over a ``box_wh`` box centred at each of ``centres`` (..., 2) crop pixels
        (x, y), the box clipped to the crop; shape ``centres.shape[:-1]``. ``probability``: ``pixel_map(crop)``
        when the caller has it already."""
        if probability is None:
            probability = self.pixel_map(crop)
        sums = cv2.integral(probability, sdepth=cv2.CV_64F)  # (H + 1, W + 1)
        h, w = crop.shape[:2]
        half_w, half_h = max(box_wh[0], 1.0) / 2, max(box_wh[1], 1.0) / 2
        x0 = np.clip(np.round(centres[..., 0] - half_w), 0, w - 1).astype(int)
        x1 = np.clip(np.round(centres[..., 0] + half_w), x0 + 1, w).astype(int)
        y0 = np.clip(np.round(centres[..., 1] - half_h), 0, h - 1).astype(int)
        y1 = np.clip(np.round(centres[..., 1] + half_h), y0 + 1, h).astype(int)
        total = sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]
        return (total / ((x1 - x0) * (y1 - y0))).astype(np.float32)


def _pixel_span(box: np.ndarray, shape) -> tuple[int, int, int, int]:
    """The pixel rows/columns a box covers (at least one), clipped to an image of ``shape``."""
    h, w = shape[:2]
    x0 = int(np.clip(round(box[0]), 0, w - 1))
    y0 = int(np.clip(round(box[1]), 0, h - 1))
    x1 = int(np.clip(round(box[0] + box[2]), x0 + 1, w))
    y1 = int(np.clip(round(box[1] + box[3]), y0 + 1, h))
    return x0, y0, x1, y1
