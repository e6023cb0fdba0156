"""MultiTracker: several objects in one video, one backbone call per frame for all of them where the tracker allows.

A tracker that splits its per-frame work (SiamFC: ``update(frame) == locate(frame, embed(search_crop(frame)))``)
is batched: every object's search crop goes through one ``embed`` call, then each object locates itself in its
slice of the features. Objects share that tracker's network and backbone engine (read-only while tracking); each
keeps its own per-video state, which ``init`` assigns afresh. A tracker without that split (MDNet, whose fc layers
are fine-tuned online per object) runs one full tracker per object in a loop.

Shared feature map (``share_features=True``, off by default): the backbone is fully convolutional (no padding), so
the features of a search crop are a window of the features of any larger image sampled at the same scale. When
several objects' search regions ask for about the same scale (within ``share_tolerance``) and overlap enough that one
canvas covering them has under half their crops' pixels, the canvas goes through the backbone once and each region's
window is read from its map (bilinear where the window falls between cells or differs in scale by up to the
tolerance). It is off by default because it was not faster than batched crops in bench/multi.py on the 2-core CPU
(README, "Several objects in one video"), and its reads are approximate.
"""

from __future__ import annotations

import copy
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from twintrack.errors import UserError
from twintrack.geometry import crop_and_resize
from twintrack.tracker.base import TrackResult, check_frame
from twintrack.tracker.device_crop import crop_resize, upload_frame

# VGG-M conv1-3 (conv 7/2, pool 3/2, conv 5/2, conv 3/1): feature cell k sees input pixels 8k .. 8k + 42, centred
# on pixel 8k + 21.
FEATURE_STRIDE = 8
FEATURE_OFFSET = 21
RECEPTIVE_FIELD = 43


def is_batchable(tracker) -> bool:
    """Whether a tracker exposes the split per-frame stages MultiTracker batches (search_regions, embed, locate)."""
    return all(callable(getattr(tracker, name, None)) for name in ("search_crop", "embed", "locate"))


class MultiTracker:
    """Track several objects in one video.

    ``MultiTracker(name, weights=None, device="auto", seed=None, **overrides)`` takes ``create_tracker``'s
    arguments. ``add(frame, box) -> id`` starts an object on any frame (ids are 1, 2, ... and never reused);
    ``update(frame) -> {id: TrackResult}`` tracks every object into the next frame; ``remove(id)`` stops one.
    With a ``seed``, object ``id`` gets ``seed + id - 1``, so object 1 tracks exactly as a single tracker created
    with ``seed`` does.
    """

    def __init__(self, name: str, weights=None, device="auto", seed=None, share_features: bool = False,
                 share_tolerance: float = 0.05, **overrides) -> None:
        # Imported here: create_tracker sits above the tracker modules (it builds them).
        from twintrack.app.api import create_tracker

        def build(object_seed):
            return create_tracker(name, weights=weights, device=device, seed=object_seed, **overrides)

        self.name = name
        self.seed = seed
        # share_features=False (default): always batch crops, exactly the single-object computation per object.
        self.share_features = share_features
        self.share_tolerance = share_tolerance
        self._build: Callable = build
        self._prototype = build(seed)
        self.batched = is_batchable(self._prototype)
        self._prototype_unused = not self.batched
        # Off the CPU, batched objects' crops are cut on the device from one upload of the frame (settable, so
        # that tests can run that path on CPU tensors).
        device = getattr(self._prototype, "device", None)
        self.device_crops = self.batched and device is not None and device.type != "cpu"
        self._objects: dict[int, object] = {}
        self._next_id = 1

    # ------------------------------------------------------------------------------------------------- objects
    def add(self, frame, box) -> int:
        """Start tracking ``box`` (0-based x, y, w, h) in ``frame``; returns the new object's id."""
        object_id = self._next_id
        tracker = self._new_tracker(object_id)
        tracker.init(frame, box)  # raises (bad box, bad frame) before the id is taken
        self._objects[object_id] = tracker
        self._next_id += 1
        return object_id

    def remove(self, object_id: int) -> None:
        if object_id not in self._objects:
            raise UserError(f"MultiTracker has no object {object_id!r} (objects: {self.ids or 'none'})")
        del self._objects[object_id]

    @property
    def ids(self) -> list[int]:
        return list(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, object_id) -> bool:
        return object_id in self._objects

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._objects))

    def _new_tracker(self, object_id: int):
        if self.batched:
            # A shallow copy shares the network and engine; init() gives the copy its own per-video state.
            return copy.copy(self._prototype)
        if self._prototype_unused:  # the tracker built in the constructor, with the seed object 1 gets
            self._prototype_unused = False
            return self._prototype
        return self._build(None if self.seed is None else self.seed + object_id - 1)

    # -------------------------------------------------------------------------------------------------- frames
    def update(self, frame) -> dict[int, TrackResult]:
        """Every object's result in ``frame``, by id (an empty dict when there are no objects)."""
        if not self._objects:
            return {}
        frame = check_frame(frame)
        if not self.batched:
            return {object_id: tracker.update(frame) for object_id, tracker in self._objects.items()}
        return self._update_batched(frame)

    def _update_batched(self, frame: np.ndarray) -> dict[int, TrackResult]:
        trackers = list(self._objects.values())
        regions = [search_regions(t) for t in trackers] if self.share_features else [None] * len(trackers)
        if any(r is None for r in regions):
            regions = None
        features: list[list] = [[None] * len(r) for r in regions] if regions is not None else []
        need_crops = set(range(len(trackers)))
        if regions is not None:
            flat = [(i, j, region) for i, object_regions in enumerate(regions) for j, region in enumerate(object_regions)]
            size = trackers[0].config.search_size
            for group in group_by_scale(flat, size, self.share_tolerance):
                canvas = shared_canvas([region for _, _, region in group], size, frame.shape)
                if canvas is None:
                    continue
                padding = np.mean([trackers[i].avg_color for i, _, _ in group], axis=0)
                windows = read_windows(self._prototype, frame, canvas, [region for _, _, region in group], size,
                                       padding)
                for (i, j, _), window in zip(group, windows):
                    features[i][j] = window
            need_crops = {i for i, object_features in enumerate(features) if any(f is None for f in object_features)}
        indices = sorted(need_crops)
        if indices:
            batch, counts = self._search_crops(frame, trackers, indices)
            embedded = self._prototype.embed(batch)
            start = 0
            for i, count in zip(indices, counts):
                stop = start + count
                if regions is None:
                    features.append(embedded[start:stop])
                else:  # keep the shared windows, fill the rest from the crops
                    features[i] = [f if f is not None else embedded[start + j: start + j + 1]
                                   for j, f in enumerate(features[i])]
                start = stop
        results = {}
        for i, (object_id, tracker) in enumerate(self._objects.items()):
            object_features = features[i]
            if isinstance(object_features, list):
                object_features = torch.cat(object_features)
            results[object_id] = tracker.locate(frame, object_features)
        return results

    def _search_crops(self, frame: np.ndarray, trackers: list, indices: list[int]) -> tuple:
        """The search crops of objects ``indices`` as one batch for ``embed``, and how many crops each object has.
        On the CPU each tracker cuts its own (cv2, uint8 arrays). Off the CPU the frame is uploaded once and every
        object's crops are cut in one ``grid_sample`` call (tracker/device_crop.py): one transfer per frame instead of
        one per object."""
        if not self.device_crops:
            crops = [trackers[i].search_crop(frame) for i in indices]
            return np.concatenate(crops), [len(c) for c in crops]
        regions = [search_regions(trackers[i]) for i in indices]
        colours = np.concatenate([np.repeat(np.reshape(trackers[i].avg_color, (1, 3)), len(r), axis=0)
                                  for i, r in zip(indices, regions)])
        flat = np.concatenate(regions)
        size = self._prototype.config.search_size
        batch = crop_resize(upload_frame(frame, self._prototype.device), flat[:, :2], flat[:, 2], size, colours)
        return batch, [len(r) for r in regions]


# ---------------------------------------------------------------------------------------- shared feature map
def search_regions(tracker) -> np.ndarray | None:
    """The (k, 3) ``cx, cy, side`` frame regions of ``tracker.search_crop(frame)``'s k crops, or None if unknown."""
    regions = getattr(tracker, "search_regions", None)
    if callable(regions):
        return np.asarray(regions(), dtype=np.float64).reshape(-1, 3)
    try:  # SiamFCTracker's geometry, as its search_crop() computes it
        cfg = tracker.config
        factors = tracker.scale_factors if cfg.scale_mode == "search3" else (1.0,)
        return np.array([[tracker.center[0], tracker.center[1], tracker.search_side * f] for f in factors])
    except AttributeError:
        return None


def group_by_scale(flat, crop_size: int, tolerance: float) -> list[list]:
    """Groups of two or more ``(object, index, region)`` whose sides lie within ``tolerance`` of the group's
    geometric mean, at most one region per object (an object's scale search stays on real crops of each scale)."""
    ordered = sorted(flat, key=lambda item: item[2][2])
    groups, current = [], []
    for item in ordered:
        too_far = current and item[2][2] / current[0][2][2] > (1 + tolerance) ** 2
        if too_far or any(item[0] == member[0] for member in current):
            groups.append(current)
            current = []
        current.append(item)
    if current:
        groups.append(current)
    return [group for group in groups if len(group) > 1]


def shared_canvas(regions, crop_size: int, frame_shape) -> tuple | None:
    """``(x0, y0, scale, width, height)`` of one canvas covering the regions (clipped to the frame plus a margin),
    or None when their separate crops are cheaper."""
    regions = np.asarray(regions, dtype=np.float64)
    scale = crop_size / float(np.exp(np.mean(np.log(regions[:, 2]))))
    half = regions[:, 2:3] / 2
    low = (regions[:, :2] - half).min(axis=0)
    high = (regions[:, :2] + half).max(axis=0)
    # Beyond a receptive field past the frame there is only padding: windows that reach there read the edge cells.
    margin = RECEPTIVE_FIELD / scale
    frame_h, frame_w = frame_shape[:2]
    low = np.maximum(low, [-margin, -margin])
    high = np.minimum(high, [frame_w + margin, frame_h + margin])
    width, height = (int(np.ceil(v)) for v in (high - low) * scale)
    # A canvas costs more per pixel than batched crops (measured: about 1.25x): share only where it clearly pays.
    if min(width, height) < RECEPTIVE_FIELD or width * height > 0.5 * len(regions) * crop_size ** 2:
        return None
    return float(low[0]), float(low[1]), scale, width, height


def read_windows(prototype, frame, canvas, regions, crop_size: int, padding) -> list[torch.Tensor]:
    """Each region's crop features, read from the canvas's feature map: a list of (1, C, n, n) tensors."""
    x0, y0, scale, width, height = canvas
    image = crop_and_resize(frame, (x0 + width / scale / 2, y0 + height / scale / 2), (width / scale, height / scale),
                            (width, height), padding)
    feature_map = prototype.embed(image[None])
    map_h, map_w = feature_map.shape[-2:]
    n = (crop_size - RECEPTIVE_FIELD) // FEATURE_STRIDE + 1
    # Crop cell j is centred on crop pixel 8j + 21, i.e. continuous crop coordinate 8j + 21.5; in frame and then
    # canvas coordinates, and back to a (fractional) canvas cell index.
    cell = FEATURE_STRIDE * np.arange(n) + FEATURE_OFFSET + 0.5
    grids = []
    for cx, cy, side in regions:
        xs = ((cx - side / 2 + cell * side / crop_size - x0) * scale - 0.5 - FEATURE_OFFSET) / FEATURE_STRIDE
        ys = ((cy - side / 2 + cell * side / crop_size - y0) * scale - 0.5 - FEATURE_OFFSET) / FEATURE_STRIDE
        gx = 2 * xs / max(1, map_w - 1) - 1
        gy = 2 * ys / max(1, map_h - 1) - 1
        grids.append(np.stack(np.meshgrid(gx, gy), axis=-1))
    grid = torch.from_numpy(np.stack(grids)).to(feature_map.device, torch.float32)
    with torch.inference_mode():
        windows = F.grid_sample(feature_map.float().expand(len(regions), -1, -1, -1), grid, mode="bilinear",
                                padding_mode="border", align_corners=True)
    # The layout the backbone returns (channels_last on CPU), which the correlation that follows is tuned for.
    layout = torch.channels_last if feature_map.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return [window.contiguous(memory_format=layout) for window in windows.split(1)]
