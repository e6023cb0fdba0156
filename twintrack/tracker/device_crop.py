"""Crops cut on the tracker's device: the frame is uploaded once, every crop of the frame is one ``grid_sample``.

On a GPU, cutting crops on the CPU (``geometry.crop_and_resize``, cv2.warpAffine) and uploading each crop costs a
host-side warp per crop plus one small transfer per crop; uploading the uint8 frame once and sampling all its crops
on the device costs one transfer per frame. The CPU path of the trackers keeps cv2 (faster there, and its results
are what the shipped settings were measured with).

The sampling reproduces ``crop_and_resize`` (``cv2.warpAffine``, ``INTER_LINEAR``, ``BORDER_CONSTANT``): output
pixel u samples the source at pixel index ``cx + (u + 0.5 - out / 2) * scale - 0.5`` (scale = source side / output
side), bilinear, no antialiasing (neither warpAffine nor grid_sample filters when downscaling), and source pixels
outside the frame count as the padding colour, also for taps that straddle the frame's edge. Differences to cv2:
cv2 rounds the sample position to 1/32 pixel and its output to uint8; this returns unrounded float32
(tests/test_device_crop.py measures the difference).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def upload_frame(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    """An HxWx3 uint8 frame as a (1, 3, H, W) float32 tensor on ``device``: uploaded as uint8 (4x fewer bytes
    than float), converted on the device."""
    pixels = torch.from_numpy(np.ascontiguousarray(frame)).to(device)
    return pixels.permute(2, 0, 1)[None].to(torch.float32, memory_format=torch.contiguous_format)


def _axis(centres: np.ndarray, sides: np.ndarray, out: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis, per crop: grid_sample's normalised sample positions (N, out) and the weight the bilinear
    taps inside the frame carry (1 inside, falling linearly to 0 over the pixel beyond the edge)."""
    scale = sides / out
    u = np.arange(out, dtype=np.float64) + 0.5 - out / 2
    index = centres[:, None] + u[None, :] * scale[:, None] - 0.5  # pixel index, as crop_and_resize's matrix
    normalised = (2 * index + 1) / length - 1  # align_corners=False: index -0.5 -> -1, length - 0.5 -> +1
    inside = np.clip(np.minimum(index + 1, length - index), 0.0, 1.0)
    return normalised, inside


def crop_resize(frame: torch.Tensor, centres, sides, out_size: int | tuple[int, int], padding) -> torch.Tensor:
    """N crops of an uploaded frame in one call: (N, 3, out_h, out_w) float32 in [0, 255] on the frame's device.

    ``frame``: (1, 3, H, W) float32 from ``upload_frame``. ``centres``: (N, 2) x, y in frame pixels. ``sides``:
    (N,) square sides or (N, 2) widths and heights, in frame pixels. ``out_size``: a side or (w, h). ``padding``:
    the colour outside the frame: one grey value, (3,) for every crop or (N, 3) one per crop. Crop n equals
    ``crop_and_resize(frame, centres[n], sides[n], out_size, padding)`` up to cv2's rounding.
    """
    out_w, out_h = (out_size, out_size) if np.isscalar(out_size) else out_size
    out_w, out_h = int(out_w), int(out_h)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    count = len(centres)
    sides = np.asarray(sides, dtype=np.float64)
    sides = np.repeat(sides.reshape(-1, 1), 2, axis=1) if sides.ndim <= 1 else sides.reshape(-1, 2)
    sides = np.broadcast_to(sides, (count, 2))
    if count == 0:
        return frame.new_zeros((0, 3, out_h, out_w))
    height, width = frame.shape[-2:]
    gx, wx = _axis(centres[:, 0], sides[:, 0], out_w, width)
    gy, wy = _axis(centres[:, 1], sides[:, 1], out_h, height)
    colour = np.asarray(padding, dtype=np.float64)
    colour = np.broadcast_to(np.repeat(colour, 3) if colour.size == 1 else colour.reshape(-1, 3), (count, 3))
    # Everything the device needs in one small upload: positions, in-frame weights and colours per crop.
    packed = np.concatenate([gx, wx, gy, wy, colour], axis=1).astype(np.float32)
    params = torch.from_numpy(packed).to(frame.device)
    gx, wx, gy, wy, colour = params.split([out_w, out_w, out_h, out_h, 3], dim=1)
    grid = torch.stack([gx[:, None, :].expand(count, out_h, out_w), gy[:, :, None].expand(count, out_h, out_w)],
                       dim=-1)
    # Zeros padding: taps outside the frame add nothing, so a crop is (in-frame part) + (1 - in-frame weight) *
    # colour, which is bilinear sampling of the frame surrounded by the colour (cv2's BORDER_CONSTANT). The
    # in-frame weight is separable (x and y taps), computed on the host above instead of sampling a mask.
    sampled = F.grid_sample(frame.expand(count, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    outside = 1 - wy[:, :, None] * wx[:, None, :]
    return sampled + outside[:, None] * colour[:, :, None, None]
