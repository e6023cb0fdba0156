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
        x0, x1 = _span(box[0], box[0] + box[2], bins.shape[1])
        y0, y1 = _span(box[1], box[1] + box[3], bins.shape[0])
        inside[y0:y1, x0:x1] = True
        fg = np.bincount(bins[inside], minlength=BINS ** 3).astype(np.float64)
        bg = np.bincount(bins[~inside], minlength=BINS ** 3).astype(np.float64)
        fg /= max(fg.sum(), 1.0)
        bg /= max(bg.sum(), 1.0)
        return ((fg + _EPS) / (fg + bg + 2 * _EPS)).astype(np.float32)

    def pixel_map(self, crop: np.ndarray) -> np.ndarray:
        """(H, W) float32 foreground probability of each pixel."""
        return self.probability[bin_index(crop)]

    @staticmethod
    def box_scores(probability: np.ndarray, centres: np.ndarray, box_wh) -> np.ndarray:
        """Mean of a ``pixel_map`` over a ``box_wh`` box centred at each of ``centres`` (..., 2) pixels (x, y), the
        box clipped to the map; shape ``centres.shape[:-1]``."""
        sums = cv2.integral(probability, sdepth=cv2.CV_64F)  # (H + 1, W + 1)
        h, w = probability.shape[:2]
        half_w, half_h = max(box_wh[0], 1.0) / 2, max(box_wh[1], 1.0) / 2
        x0, x1 = _span(centres[..., 0] - half_w, centres[..., 0] + half_w, w)
        y0, y1 = _span(centres[..., 1] - half_h, centres[..., 1] + half_h, h)
        total = sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]
        return (total / ((x1 - x0) * (y1 - y0))).astype(np.float32)


def _span(low, high, size: int):
    """Pixel range [first, end) from continuous edges ``low``, ``high`` (scalars or arrays): rounded, clipped to
    ``size`` pixels, at least one pixel wide."""
    first = np.clip(np.round(low), 0, size - 1).astype(int)
    end = np.clip(np.round(high), first + 1, size).astype(int)
    return first, end
