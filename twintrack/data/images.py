"""Image files: the one list of readable suffixes and the one reader (RGB uint8, as every frame in twintrack)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from twintrack.errors import UserError
from twintrack.geometry import to_rgb_uint8

# Every reader of image folders (frame sources, sequence folders, still sets) uses this list.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def list_images(folder: str | Path) -> list[Path]:
    """The image files of a folder, sorted by name (frame order in OTB-style folders)."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (grayscale and RGBA converted; 16-bit scaled by the type's range, so every frame
    of a sequence keeps its brightness)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UserError(f"cannot read image '{path}'")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    try:
        return to_rgb_uint8(image)
    except ValueError as err:
        raise UserError(f"image '{path}': {err}") from None
