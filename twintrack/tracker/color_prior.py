"""A colour-histogram foreground model, the second cue of Staple (Bertinetto et al., "Staple: Complementary Learners
for Real-Time Tracking", CVPR 2016), for SiamFC's ``color_weight`` option.

SiamFC's response compares shapes and textures at 8-pixel cells; a look-alike of another colour (the passer-by in a
red coat, the other cyclist) can score as high as the target there. A colour model is blind to shape but sees
exactly that difference, and it is cheap: one table lookup per pixel of a small crop and an integral image.

The model: joint RGB histograms (32 bins per channel) of the target box (foreground) and of the search region
around it (background), each normalised to a density; a pixel's foreground probability is
``fg / (fg + bg)`` of its colour's bin (0.5 for a colour seen in neither). A candidate position's score is the mean
probability over a target-sized box centred there.

``LookalikeColorModel`` is DAT's distractor-aware variant (Possegger et al., "In Defense of Color-based Model-free
Tracking", CVPR 2015): the background histogram is taken from the look-alikes' boxes only, not from all of the
target's surroundings. A background that shares the target's colours (a dark rider in front of a dark forest) then
no longer pulls the target's own colours towards 0; only colours that tell the target from what the tracker confuses
it with count. Until a look-alike has been seen the model has nothing to say and the cue stays off.

The target's histogram: ``foreground="box"`` counts every pixel of the box. A box is rarely the target alone (a car
seen from a drone in a box that is half road), and the box's background colours then score as the target's, so a
box on empty road can hold the cue. ``foreground="contrast"`` weights each pixel of the box by its colour's
foreground probability against the crop's surroundings (Staple's model, fitted on the same crop): colours that are
as common around the box as inside it count little, the target's own colours fully. One pass, no segmentation.
"""

from __future__ import annotations

import cv2
import numpy as np

COLOR_CROP = 128  # side (pixels) of the crop the trackers fit and read the model on: colour needs no detail
BINS = 32  # per channel (Staple's); 32^3 joint bins
_SHIFT = 3  # 256 / BINS = 8 = 2^3
_EPS = 1e-6  # a bin seen in neither histogram scores 0.5


def bin_index(image: np.ndarray) -> np.ndarray:
    """(H, W) joint-bin index of each pixel of an (H, W, 3) uint8 RGB image."""
    quantised = (image >> _SHIFT).astype(np.int32)
    return (quantised[..., 0] * BINS + quantised[..., 1]) * BINS + quantised[..., 2]


def _density(bins: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The normalised joint-bin histogram of the pixels where ``mask`` holds (all zeros for an empty mask)."""
    counts = np.bincount(bins[mask], minlength=BINS ** 3).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def _box_mask(shape, box) -> np.ndarray:
    """(H, W) bool: the pixels of ``box`` (x, y, w, h), rounded and clipped to the image."""
    mask = np.zeros(shape, dtype=bool)
    x0, x1 = _span(box[0], box[0] + box[2], shape[1])
    y0, y1 = _span(box[1], box[1] + box[3], shape[0])
    mask[y0:y1, x0:x1] = True
    return mask


def _probability(fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    return ((fg + _EPS) / (fg + bg + 2 * _EPS)).astype(np.float32)


def target_density(bins: np.ndarray, inside: np.ndarray, foreground: str = "box") -> np.ndarray:
    """The target's colour density from the pixels where ``inside`` holds: each counted once (``box``) or weighted
    by its colour's foreground probability against the pixels outside (``contrast``; see the module's doc)."""
    density = _density(bins, inside)
    if foreground == "box":
        return density
    weights = _probability(density, _density(bins, ~inside))[bins[inside]].astype(np.float64)
    counts = np.bincount(bins[inside], weights=weights, minlength=BINS ** 3)
    return counts / max(counts.sum(), _EPS)


class ColorModel:
    active = True  # the surroundings model has something to say from the first frame on

    def __init__(self, crop: np.ndarray, box: np.ndarray, foreground: str = "box") -> None:
        """``crop``: (H, W, 3) uint8 RGB around the target; ``box``: the target in it, (x, y, w, h) in pixels;
        ``foreground``: how the target's histogram counts the box's pixels (box or contrast, module doc)."""
        self.foreground_mode = foreground
        self.probability = self._fit(crop, box)

    def update(self, crop: np.ndarray, box: np.ndarray, rate: float) -> None:
        """Blend in the model of a newer view: ``(1 - rate) x old + rate x new`` per bin."""
        self.probability = (1 - rate) * self.probability + rate * self._fit(crop, box)

    def _fit(self, crop: np.ndarray, box: np.ndarray) -> np.ndarray:
        bins = bin_index(crop)
        inside = _box_mask(bins.shape, box)
        return _probability(target_density(bins, inside, self.foreground_mode), _density(bins, ~inside))

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


class LookalikeColorModel(ColorModel):
    """DAT's object-vs-distractor model: the target's colours against the look-alikes' (see the module's doc)."""

    def __init__(self, crop: np.ndarray, box: np.ndarray, foreground: str = "box") -> None:
        self.foreground_mode = foreground
        self.foreground = self._target(crop, box)
        self.lookalikes = None  # their colours' density, once one has been seen
        self.probability = None

    @property
    def active(self) -> bool:
        return self.lookalikes is not None

    def update(self, crop: np.ndarray, box: np.ndarray, rate: float) -> None:
        """Blend in a newer view of the target's colours."""
        self.foreground = (1 - rate) * self.foreground + rate * self._target(crop, box)
        self._refresh()

    def _target(self, crop: np.ndarray, box: np.ndarray) -> np.ndarray:
        return target_density(bin_index(crop), _box_mask(crop.shape[:2], box), self.foreground_mode)

    def add_lookalikes(self, crop: np.ndarray, target_box: np.ndarray, boxes: np.ndarray, rate: float) -> None:
        """Blend in the colours of this view's look-alike ``boxes`` (N, 4) at ``rate`` (the first ones seen are
        taken whole); the target's own box is left out where they overlap it."""
        bins = bin_index(crop)
        mask = np.zeros(bins.shape, dtype=bool)
        for box in boxes:
            mask |= _box_mask(bins.shape, box)
        mask &= ~_box_mask(bins.shape, target_box)
        if not mask.any():
            return
        current = _density(bins, mask)
        self.lookalikes = current if self.lookalikes is None else (1 - rate) * self.lookalikes + rate * current
        self._refresh()

    def _refresh(self) -> None:
        if self.lookalikes is not None:
            self.probability = _probability(self.foreground, self.lookalikes)


def _span(low, high, size: int):
    """Pixel range [first, end) from continuous edges ``low``, ``high`` (scalars or arrays): rounded, clipped to
    ``size`` pixels, at least one pixel wide."""
    first = np.clip(np.round(low), 0, size - 1).astype(int)
    end = np.clip(np.round(high), first + 1, size).astype(int)
    return first, end
