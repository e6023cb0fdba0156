"""Boxes, IoU and crops: the one place that owns box conventions.

Inside twintrack a box is a float ``x, y, w, h`` with ``x, y`` the top-left corner in 0-based continuous pixel
coordinates: pixel ``i`` covers ``[i, i + 1)``, so a box ``(0, 0, W, H)`` covers a whole ``W x H`` image and its
centre is ``(W / 2, H / 2)``. Files that use other conventions (OTB / got10k are 1-based) convert at the edges with
``from_one_based`` / ``to_one_based``.
"""

from __future__ import annotations

import cv2
import numpy as np

# ----------------------------------------------------------------------------------------------------------- boxes


def as_boxes(boxes) -> np.ndarray:
    """Any box or list of boxes as a float64 ``(N, 4)`` array."""
    arr = np.asarray(boxes, dtype=np.float64)
    return arr.reshape(-1, 4)


def xywh_to_cxcywh(boxes) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([b[..., :2] + b[..., 2:] / 2, b[..., 2:]], axis=-1)


def cxcywh_to_xywh(boxes) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([b[..., :2] - b[..., 2:] / 2, b[..., 2:]], axis=-1)


def from_one_based(boxes) -> np.ndarray:
    """OTB / got10k files count pixels from 1: their ``(1, 1, w, h)`` is our ``(0, 0, w, h)``."""
    b = np.array(boxes, dtype=np.float64)
    b[..., :2] -= 1
    return b


def to_one_based(boxes) -> np.ndarray:
    b = np.array(boxes, dtype=np.float64)
    b[..., :2] += 1
    return b


def iou(boxes_a, boxes_b) -> np.ndarray:
    """Element-wise IoU of two ``(N, 4)`` (or broadcastable) xywh arrays; 0 where a box is empty."""
    a = np.asarray(boxes_a, dtype=np.float64)
    b = np.asarray(boxes_b, dtype=np.float64)
    left = np.maximum(a[..., 0], b[..., 0])
    top = np.maximum(a[..., 1], b[..., 1])
    right = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
    bottom = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    # Rounding can put identical boxes a hair above 1, which would pass the success curve's 1.0 threshold.
    return np.clip(out, 0.0, 1.0)


def center_error(boxes_a, boxes_b) -> np.ndarray:
    """Euclidean distance between box centres, in pixels."""
    ca = xywh_to_cxcywh(boxes_a)[..., :2]
    cb = xywh_to_cxcywh(boxes_b)[..., :2]
    return np.sqrt(((ca - cb) ** 2).sum(axis=-1))


def clip_box(box, frame_w: float, frame_h: float, min_size: float = 1.0) -> np.ndarray:
    """Keep a box inside the frame with at least ``min_size`` pixels per side.

    A tracker whose target left the image still returns a valid box, hugging the border it crossed.
    """
    x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    min_w = min(min_size, frame_w)
    min_h = min(min_size, frame_h)
    w = float(np.clip(w, min_w, frame_w))
    h = float(np.clip(h, min_h, frame_h))
    x = float(np.clip(x, 0.0, frame_w - w))
    y = float(np.clip(y, 0.0, frame_h - h))
    return np.array([x, y, w, h])


def clip_boxes(boxes, frame_w: float, frame_h: float, min_size: float = 1.0) -> np.ndarray:
    """``clip_box`` for an (N, 4) array at once."""
    b = as_boxes(boxes).copy()
    b[:, 2] = np.clip(b[:, 2], min(min_size, frame_w), frame_w)
    b[:, 3] = np.clip(b[:, 3], min(min_size, frame_h), frame_h)
    b[:, 0] = np.clip(b[:, 0], 0.0, frame_w - b[:, 2])
    b[:, 1] = np.clip(b[:, 1], 0.0, frame_h - b[:, 3])
    return b


def box_is_valid(box, frame_w: float, frame_h: float) -> str | None:
    """Why a user's initial box is unusable, or None when it is fine."""
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.size != 4 or not np.all(np.isfinite(b)):
        return "the box needs four finite numbers x,y,w,h"
    x, y, w, h = b
    if w <= 0 or h <= 0:
        return f"the box has w={w:g}, h={h:g}; both must be > 0"
    if x >= frame_w or y >= frame_h or x + w <= 0 or y + h <= 0:
        return f"the box ({x:g},{y:g},{w:g},{h:g}) lies outside the {frame_w:g}x{frame_h:g} frame"
    return None


# ----------------------------------------------------------------------------------------------------------- crops


def crop_and_resize(
    image: np.ndarray,
    center_xy,
    src_size,
    out_size: int | tuple[int, int],
    border_value=None,
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """Crop a ``src_size`` (scalar side or ``(w, h)``) region centred at ``center_xy`` and resize it to ``out_size``.

    Parts of the region outside the image are filled with ``border_value`` (the image's mean colour by default,
    as SiamFC does, so padding looks like average context rather than a black edge). One ``warpAffine`` does the
    crop, the padding and the resize, which is several times faster than pad-then-crop-then-resize.
    """
    out_w, out_h = (out_size, out_size) if np.isscalar(out_size) else out_size
    src_w, src_h = (src_size, src_size) if np.isscalar(src_size) else src_size
    scale_x = float(src_w) / out_w
    scale_y = float(src_h) / out_h
    cx, cy = float(center_xy[0]), float(center_xy[1])
    # Output pixel u has its centre at u + 0.5; it samples the source at continuous coordinate
    # cx + (u + 0.5 - out_w / 2) * scale_x, i.e. at pixel index (that - 0.5) in OpenCV's convention.
    tx = cx - 0.5 + scale_x * (0.5 - out_w / 2)
    ty = cy - 0.5 + scale_y * (0.5 - out_h / 2)
    matrix = np.array([[scale_x, 0.0, tx], [0.0, scale_y, ty]], dtype=np.float64)
    if border_value is None:
        # cv2.mean: the same per-channel mean as numpy's, ~10x faster (it matters per training pair)
        border_value = np.array(cv2.mean(image)[: image.shape[2] if image.ndim == 3 else 1])
    border = np.atleast_1d(np.asarray(border_value, dtype=np.float64))
    if border.size == 1:  # one number pads every channel (OpenCV would fill the other channels with 0)
        border = np.repeat(border, 4)
    border = tuple(float(v) for v in border)
    return cv2.warpAffine(
        image,
        matrix,
        (int(out_w), int(out_h)),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )


def context_size(target_wh, context: float = 0.5) -> float:
    """SiamFC's exemplar side: sqrt((w + p)(h + p)) with p = context * (w + h)."""
    w, h = float(target_wh[0]), float(target_wh[1])
    pad = context * (w + h)
    return float(np.sqrt((w + pad) * (h + pad)))


# ------------------------------------------------------------------------------------------------ frame conversion


def to_rgb_uint8(frame: np.ndarray) -> np.ndarray:
    """Grayscale (HxW or HxWx1) and RGBA frames become HxWx3 RGB uint8; anything else is refused (ValueError).

    Bit depths are converted by the type's range, never by a frame's own values (a per-frame maximum makes the
    brightness jump between frames): uint16 0..65535 maps to 0..255; float frames are 0..1 (the skimage / torchvision
    convention); other integer types must already hold 0..255. NaN or infinite values are refused.
    """
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        arr = _to_uint8_range(arr)
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 4:
        return np.ascontiguousarray(arr[:, :, :3])
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr
    raise ValueError(f"a frame must be HxW, HxWx1, HxWx3 or HxWx4; got shape {arr.shape}")


def _to_uint8_range(arr: np.ndarray) -> np.ndarray:
    """A non-uint8 frame as uint8, scaled by its dtype's range."""
    if arr.dtype == np.uint16:
        # Round to nearest: 65535 -> 255, 257 * k -> k exactly.
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("the frame holds NaN or infinite values; pass finite pixel values")
        if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise ValueError(f"a float frame must hold values in 0..1 (got {arr.min():g}..{arr.max():g}); "
                             "divide by 255 or pass uint8")
        return (arr * 255.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"an {arr.dtype} frame must hold values in 0..255 (got {arr.min()}..{arr.max()}); "
                             "pass uint8, or uint16 for 16-bit images")
        return arr.astype(np.uint8)
    raise ValueError(f"a frame must be a numeric numpy array (uint8 RGB); got {_describe(arr)}")


def _describe(arr: np.ndarray) -> str:
    if arr.dtype == object and arr.ndim == 0:
        return type(arr.item()).__name__
    return f"an array of dtype {arr.dtype}"


# ------------------------------------------------------------------------------------------- candidate sampling


def jitter_boxes(
    rng: np.random.Generator,
    box,
    count: int,
    translate: float,
    scale: float,
    frame_wh=None,
    aspect: float = 1.0,
) -> np.ndarray:
    """``count`` boxes around ``box``: centre moved by N(0, translate * mean side), size by 1.05 ** N(0, scale).

    MDNet's Gaussian candidate generator; used for tracking candidates and training samples. ``aspect`` > 1 also
    scales width and height independently by aspect ** U(-1, 1) (py-MDNet's aspect jitter).
    """
    cx, cy, w, h = xywh_to_cxcywh(np.asarray(box, dtype=np.float64).reshape(4))
    mean_side = (w + h) / 2
    offsets = rng.standard_normal((count, 2)) * translate * mean_side
    factors = 1.05 ** (rng.standard_normal((count, 1)) * scale)
    sizes = np.array([w, h]) * factors * _aspect_factors(rng, count, aspect)
    out = cxcywh_to_xywh(np.concatenate([np.array([cx, cy]) + offsets, sizes], axis=1))
    if frame_wh is not None:
        out = clip_boxes(out, frame_wh[0], frame_wh[1], min_size=4)
    return out


def uniform_boxes(
    rng: np.random.Generator, box, count: int, translate: float, scale: float, frame_wh=None, aspect: float = 1.0
) -> np.ndarray:
    """``count`` boxes with centres moved uniformly within +-translate * mean side, size by 1.05 ** U(-scale, scale)
    (and by aspect ** U(-1, 1) per side, as in jitter_boxes)."""
    cx, cy, w, h = xywh_to_cxcywh(np.asarray(box, dtype=np.float64).reshape(4))
    mean_side = (w + h) / 2
    offsets = rng.uniform(-1, 1, (count, 2)) * translate * mean_side
    factors = 1.05 ** rng.uniform(-scale, scale, (count, 1)) * _aspect_factors(rng, count, aspect)
    out = cxcywh_to_xywh(np.concatenate([np.array([cx, cy]) + offsets, np.array([w, h]) * factors], axis=1))
    if frame_wh is not None:
        out = clip_boxes(out, frame_wh[0], frame_wh[1], min_size=4)
    return out


def _aspect_factors(rng: np.random.Generator, count: int, aspect: float) -> np.ndarray | float:
    """Per-side size factors aspect ** U(-1, 1); 1.0 (and no random draw, so old streams stay) when aspect is 1."""
    if aspect == 1.0:
        return 1.0
    return aspect ** rng.uniform(-1, 1, (count, 2))


def sample_by_iou(
    rng: np.random.Generator,
    generator,
    box,
    count: int,
    iou_range: tuple[float, float],
    max_rounds: int = 20,
    **kwargs,
) -> np.ndarray:
    """Draw boxes from ``generator(rng, box, n, **kwargs)`` until ``count`` have IoU with ``box`` in ``iou_range``.

    MDNet's positives (IoU >= 0.7) and negatives (IoU <= 0.5 or 0.3). Returns fewer boxes only if the generator
    rarely hits the range (e.g. a tiny box at an image corner).
    """
    lo, hi = iou_range
    kept: list[np.ndarray] = []
    total = 0
    for _ in range(max_rounds):
        candidates = generator(rng, box, max(count * 2, 16), **kwargs)
        overlaps = iou(candidates, np.asarray(box, dtype=np.float64).reshape(1, 4))
        good = candidates[(overlaps >= lo) & (overlaps <= hi)]
        kept.append(good)
        total += len(good)
        if total >= count:
            break
    out = np.concatenate(kept) if kept else np.zeros((0, 4))
    if len(out) > count:
        out = out[rng.choice(len(out), count, replace=False)]
    return out
