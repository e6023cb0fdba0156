"""DSST's scale filter (Danelljan et al., "Accurate Scale Estimation for Robust Visual Tracking", BMVC 2014).

A one-dimensional correlation filter over scales: at the target's centre, patches of the target's size times
``step ** k`` (k = -n/2 .. n/2) are resized to one small model size, described by HOG, and stacked into an
(n scales, d features) sample. The filter learnt on it (a Gaussian over the scale axis, peak at the current size)
answers, on the next frame's sample, with a response whose peak is the size change. It is learnt online at a
rate, so it follows the target's appearance at its own scale; SiamFC's three search scales compare one first-frame
template against zoomed crops, which is where its size estimate goes wrong (docs/selection.md, size oracle).

CSRT's and ECO's scale estimation is this filter; here it runs on the CPU from the frame alone (numpy + OpenCV),
so it works the same with every backbone and device.
"""

from __future__ import annotations

import cv2
import numpy as np

from twintrack.geometry import crop_and_resize

CELL = 4  # HOG cell side (pixels of the model patch), DSST's
BINS = 9  # unsigned orientation bins
CLIP = 0.2  # HOG's truncation of normalized bins
MODEL_MAX_AREA = 512  # DSST: patches are resized to at most this many pixels (32 x 16)
MIN_MODEL_SIDE = 2 * CELL


def hog_features(patches: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) uint8 or float patches -> (n, h // CELL, w // CELL, BINS + 4) float32 HOG.

    Felzenszwalb-style and simplified: per pixel the colour channel with the strongest gradient, unsigned
    orientation split linearly between the two nearest of BINS bins, summed in CELL x CELL cells; each cell is
    normalized by each of the four 2 x 2 blocks around it and truncated at CLIP; the features are the bins summed
    over the four normalizations (BINS) and the four normalizations' totals (4, texture energy)."""
    img = np.asarray(patches, dtype=np.float32)
    n, h, w, _ = img.shape
    padded = np.pad(img, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    dx = padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]
    dy = padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]
    magnitude = np.hypot(dx, dy)
    strongest = magnitude.argmax(axis=3)[..., None]
    dx = np.take_along_axis(dx, strongest, 3)[..., 0]
    dy = np.take_along_axis(dy, strongest, 3)[..., 0]
    magnitude = np.take_along_axis(magnitude, strongest, 3)[..., 0]
    # Unsigned angle in [0, pi) -> bin coordinate; pixel votes go to the two nearest bin centres.
    position = (np.arctan2(dy, dx) % np.pi) / (np.pi / BINS) - 0.5
    lower = np.floor(position)
    upper_weight = position - lower
    lower_bin = (lower.astype(np.int64) % BINS)[..., None]
    votes = np.zeros((n, h, w, BINS), dtype=np.float32)
    np.put_along_axis(votes, lower_bin, (magnitude * (1 - upper_weight))[..., None], axis=3)
    upper = np.zeros_like(votes)
    np.put_along_axis(upper, (lower_bin + 1) % BINS, (magnitude * upper_weight)[..., None], axis=3)
    votes += upper
    rows, cols = h // CELL, w // CELL
    cells = votes[:, :rows * CELL, :cols * CELL].reshape(n, rows, CELL, cols, CELL, BINS).sum(axis=(2, 4))
    energy = np.pad((cells ** 2).sum(axis=3), ((0, 0), (1, 1), (1, 1)), mode="edge")
    # The 2 x 2 blocks' energies: block (i, j) covers cells i..i+1, j..j+1 of the padded grid.
    blocks = energy[:, :-1, :-1] + energy[:, 1:, :-1] + energy[:, :-1, 1:] + energy[:, 1:, 1:]
    # Felzenszwalb's weights: 1/2 for the bins summed over four normalizations, 1/sqrt(18) = 0.2357 for the totals.
    features = np.zeros((n, rows, cols, BINS + 4), dtype=np.float32)
    for k, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):  # the four blocks that contain each cell
        norm = np.minimum(cells / np.sqrt(blocks[:, r:r + rows, c:c + cols, None] + 1e-4), CLIP)
        features[..., :BINS] += 0.5 * norm
        features[..., BINS + k] = 0.2357 * norm.sum(axis=3)
    return features


def model_size(target_wh) -> tuple[int, int]:
    """The model patch's (w, h): the target's first size, shrunk to at most MODEL_MAX_AREA pixels (DSST), at least
    MIN_MODEL_SIDE a side, and a whole number of cells."""
    w, h = (float(v) for v in target_wh)
    shrink = min(1.0, float(np.sqrt(MODEL_MAX_AREA / max(w * h, 1e-6))))
    return tuple(max(MIN_MODEL_SIDE, int(side * shrink) // CELL * CELL) for side in (w, h))


class ScaleFilter:
    """DSST's 1-D scale correlation filter. ``estimate(frame, center, size)`` -> the size factor; ``learn(frame,
    center, size)`` after the size is set. Frames are HxWx3 RGB uint8, centres and sizes in frame pixels."""

    def __init__(self, frame: np.ndarray, center, size, num: int = 33, step: float = 1.02, lr: float = 0.025,
                 regularization: float = 0.01, sigma_factor: float = 0.25) -> None:
        self.num, self.lr, self.regularization = num, lr, regularization
        offsets = np.arange(num) - (num - 1) / 2
        self.factors = step ** offsets
        # The desired response: a Gaussian over scale offsets, peak at the middle (no change).
        sigma = np.sqrt(num) * sigma_factor
        self.target_response = np.fft.fft(np.exp(-0.5 * offsets ** 2 / sigma ** 2))
        self.window = np.hanning(num + 2)[1:-1].astype(np.float32)  # DSST: no zero weights at the ends
        self.model_wh = model_size(size)
        self.numerator: np.ndarray | None = None
        self.denominator: np.ndarray | None = None
        self.learn(frame, center, size, rate=1.0)

    def sample(self, frame: np.ndarray, center, size) -> np.ndarray:
        """(num, d) float32: the HOG of the target's box at each scale factor around ``center``, windowed."""
        size = np.asarray(size, dtype=np.float64)
        model_w, model_h = self.model_wh
        # One crop of the largest scale's box at model resolution times that scale (area interpolation when it
        # shrinks a large target, so no aliasing), then each scale's box cut from it at model size.
        largest = float(self.factors[-1])
        canvas_wh = (max(1, int(round(model_w * largest))), max(1, int(round(model_h * largest))))
        region = size * largest
        pixels_per_model = region / np.array(canvas_wh)
        if pixels_per_model.max() > 1.5:  # large target: an exact-size crop, then an area-averaging resize
            exact_wh = tuple(int(side) for side in np.maximum(1, np.round(region)))
            canvas = cv2.resize(crop_and_resize(frame, center, exact_wh, exact_wh), canvas_wh,
                                interpolation=cv2.INTER_AREA)
        else:
            canvas = crop_and_resize(frame, center, tuple(region), canvas_wh)
        canvas_center = (canvas_wh[0] / 2, canvas_wh[1] / 2)
        scale = np.array(canvas_wh) / region  # canvas pixels per frame pixel
        patches = np.stack([crop_and_resize(canvas, canvas_center, tuple(size * f * scale), (model_w, model_h),
                                            border_value=0) for f in self.factors])
        features = hog_features(patches).reshape(self.num, -1)
        return features * self.window[:, None]

    def estimate(self, frame: np.ndarray, center, size) -> float:
        """The size factor at which the target at ``center`` now appears, relative to ``size``."""
        spectrum = np.fft.fft(self.sample(frame, center, size), axis=0)
        response = np.real(np.fft.ifft((self.numerator * spectrum).sum(axis=1) /
                                       (self.denominator + self.regularization)))
        return float(self.factors[int(np.argmax(response))])

    def learn(self, frame: np.ndarray, center, size, rate: float | None = None) -> None:
        """Blend this frame's filter (the target at ``center`` with ``size``) into the model at ``rate`` (default:
        the filter's learning rate; 1 = replace)."""
        rate = self.lr if rate is None else rate
        spectrum = np.fft.fft(self.sample(frame, center, size), axis=0)
        numerator = self.target_response[:, None] * np.conj(spectrum)
        denominator = np.real((spectrum * np.conj(spectrum)).sum(axis=1))
        if self.numerator is None or rate >= 1:
            self.numerator, self.denominator = numerator, denominator
        else:
            self.numerator = (1 - rate) * self.numerator + rate * numerator
            self.denominator = (1 - rate) * self.denominator + rate * denominator
