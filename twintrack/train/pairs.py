"""SiamFC training pairs: pre-cropped context regions, augmentation, and label maps.

Each frame is cropped once (pysot's pre-cropping) into a ``precrop_size`` square centred on the target at the
search-region scale; pairs are then cut from those crops with a random stretch and shift, so loading costs a
couple of small warps per pair instead of a JPEG decode.
"""

from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np
import torch

from twintrack.configs import SiamFCTrainConfig
from twintrack.geometry import crop_and_resize
from twintrack.models.backbone import VGGM
from twintrack.data.images import read_image
from twintrack.data.sequences import Sequence
from twintrack.data.packs import PRECROP_SIZE, precrop_geometry


def precrop(image: np.ndarray, box, exemplar_size: int, context: float) -> np.ndarray:
    """The search-scale region around ``box`` that a pack stores per frame (see train/pack.py)."""
    centre, side = precrop_geometry(box, exemplar_size, context)
    return crop_and_resize(image, centre, side, PRECROP_SIZE)


class CropCache:
    """Pre-cropped frames, computed on first use and kept (bounded, least recently used out first)."""

    def __init__(self, exemplar_size: int, context: float, max_items: int = 20000) -> None:
        self.exemplar_size = exemplar_size
        self.context = context
        self.max_items = max_items
        self._crops: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def get(self, sequence: Sequence, index: int) -> np.ndarray:
        key = (sequence.frames[index], index)
        crop = self._crops.get(key)
        if crop is None:
            image = read_image(sequence.frames[index])
            crop = image if sequence.precropped else precrop(image, sequence.boxes[index], self.exemplar_size,
                                                             self.context)
            self._crops[key] = crop
            if len(self._crops) > self.max_items:
                self._crops.popitem(last=False)
        else:
            self._crops.move_to_end(key)
        return crop


def label_map(response_size: int, stride: int, r_pos: float, r_neg: float, offset_xy=(0.0, 0.0)):
    """Logistic-loss labels and balanced weights for one response map.

    ``offset_xy`` is where the target centre lies relative to the search-crop centre (pixels). Cells within
    ``r_pos`` pixels of it are positive (1), beyond ``r_neg`` negative (0), between ignored (weight 0). Positives
    and negatives each carry half the total weight, as in SiamFC, since negatives outnumber positives ~30:1.
    """
    coords = (np.arange(response_size) - (response_size - 1) / 2) * stride
    dx = coords[None, :] - offset_xy[0]
    dy = coords[:, None] - offset_xy[1]
    dist = np.sqrt(dx**2 + dy**2)
    labels = (dist <= r_pos).astype(np.float32)
    positive = dist <= r_pos
    negative = dist > max(r_neg, r_pos)
    weights = np.zeros_like(labels)
    if positive.any():
        weights[positive] = 0.5 / positive.sum()
    if negative.any():
        weights[negative] = 0.5 / negative.sum()
    return labels, weights


class PairSampler:
    """Draws augmented (exemplar, search, labels, weights) tuples from sequences and still images."""

    def __init__(self, sequences: list[Sequence], config: SiamFCTrainConfig, cache: CropCache | None = None):
        self.config = config
        self.videos = [s for s in sequences if not s.still and len(s) >= 2]
        self.stills = [s for s in sequences if s.still or len(s) == 1]
        if not self.videos and not self.stills:
            raise ValueError("no training sequences with valid boxes")
        # Longer sequences are drawn more often, but sub-linearly so that short clips still matter.
        lengths = np.array([len(s) for s in self.videos], dtype=np.float64)
        self.video_weights = np.sqrt(lengths) / np.sqrt(lengths).sum() if len(lengths) else None
        self.cache = cache or CropCache(config.exemplar_size, config.context)
        self.response_size = VGGM.output_size(config.search_size) - VGGM.output_size(config.exemplar_size) + 1

    def _pick_frames(self, rng: np.random.Generator) -> tuple[Sequence, int, int]:
        use_still = self.stills and (not self.videos or rng.random() < self.config.image_pair_prob)
        if use_still:
            sequence = self.stills[rng.integers(len(self.stills))]
            return sequence, 0, 0
        sequence = self.videos[rng.choice(len(self.videos), p=self.video_weights)]
        first = int(rng.integers(len(sequence)))
        lo = max(0, first - self.config.max_frame_gap)
        hi = min(len(sequence) - 1, first + self.config.max_frame_gap)
        second = int(rng.integers(lo, hi + 1))
        if second == first and hi > lo:  # a pair of identical frames teaches little
            second = lo if first != lo else hi
        return sequence, first, second

    def _color(self, rng: np.random.Generator, image: np.ndarray, gray: bool) -> np.ndarray:
        """Brightness, contrast and saturation jitter, then grayscale: all linear in RGB, so one 3x4 colour
        transform does them in a single pass (numpy's per-step float copies cost ~3 ms a pair)."""
        matrix = np.eye(3)
        offset = 0.0
        jitter = self.config.color_jitter
        if jitter > 0:
            brightness = 1 + rng.uniform(-jitter, jitter)
            contrast = 1 + rng.uniform(-jitter, jitter)
            saturation = 1 + rng.uniform(-jitter, jitter)
            mean = float(np.mean(cv2.mean(image)[:3]))
            # contrast about the image mean, brightness scaling the mean: x -> contrast * x + mean * (b - c);
            # saturation about each pixel's channel mean: S = s * I + (1 - s) / 3 (rows sum to 1, offset unchanged)
            matrix = contrast * (saturation * np.eye(3) + (1 - saturation) / 3)
            offset = mean * (brightness - contrast)
        if gray:
            matrix = np.full((3, 3), 1 / 3) @ matrix
        affine = np.concatenate([matrix, np.full((3, 1), offset)], axis=1)
        # uint8 out (rounded, clipped): pairs travel between loader processes and to the GPU at a quarter the bytes.
        return cv2.transform(image, affine)

    def _cut(self, rng, crop: np.ndarray, out_size: int, shift: int, flip: bool, gray: bool):
        """Cut ``out_size`` pixels from a pre-crop with a random stretch and shift; return (image, target offset)."""
        cfg = self.config
        stretch = 1 + rng.uniform(-cfg.stretch, cfg.stretch, size=2)
        offset = rng.integers(-shift, shift + 1, size=2) if shift > 0 else np.zeros(2)
        centre = PRECROP_SIZE / 2 + offset
        # The region of the pre-crop that maps to out_size pixels, scaled per axis by the stretch.
        src = (out_size / stretch[0], out_size / stretch[1])
        image = crop_and_resize(crop, centre, src, out_size)
        # The target sits at the pre-crop centre, i.e. at -offset (scaled) relative to the cut's centre.
        target_offset = -offset * stretch
        if flip:
            image = image[:, ::-1]
            target_offset = target_offset * np.array([-1.0, 1.0])
        return self._color(rng, image, gray), target_offset

    def sample(self, rng: np.random.Generator):
        cfg = self.config
        sequence, first, second = self._pick_frames(rng)
        flip = rng.random() < cfg.flip_prob
        gray = rng.random() < cfg.gray_prob
        exemplar, _ = self._cut(rng, self.cache.get(sequence, first), cfg.exemplar_size, 0, flip, gray)
        search, offset = self._cut(rng, self.cache.get(sequence, second), cfg.search_size, cfg.max_shift, flip, gray)
        labels, weights = label_map(self.response_size, VGGM.total_stride, cfg.r_pos, cfg.r_neg, offset)
        return exemplar, search, labels, weights

    def batch(self, rng: np.random.Generator, size: int):
        """A batch as float tensors: exemplars (B,3,127,127), searches (B,3,S,S), labels and weights (B,1,R,R)."""
        items = [self.sample(rng) for _ in range(size)]

        def stack(i, chw):
            arr = np.stack([it[i] for it in items])
            arr = arr.transpose(0, 3, 1, 2) if chw else arr[:, None]
            return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))

        return stack(0, True), stack(1, True), stack(2, False), stack(3, False)
