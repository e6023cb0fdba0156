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


# JPEG start-of-frame markers (baseline, progressive, lossless...): their segment holds the image size.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image file: read from the header of a PNG or JPEG (no decoding: training reads
    one per sequence to check its boxes against the frame), else from the decoded image."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
            if head.startswith(b"\xff\xd8"):
                size = _jpeg_size(handle)
                if size is not None:
                    return size
    except OSError as err:
        raise UserError(f"cannot read image '{path}' ({err.strerror or err})") from None
    height, width = read_image(path).shape[:2]
    return width, height


def _jpeg_size(handle) -> tuple[int, int] | None:
    """Walk the JPEG's marker segments to the first start-of-frame; None when the file ends or is not a JPEG."""
    handle.seek(2)
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        while kind == 0xFF:  # fill bytes before a marker
            byte = handle.read(1)
            if not byte:
                return None
            kind = byte[0]
        if kind == 0x01 or 0xD0 <= kind <= 0xD8:  # markers without a segment
            continue
        length = int.from_bytes(handle.read(2), "big")
        if kind in _JPEG_SOF:
            segment = handle.read(5)  # precision, height, width
            if len(segment) < 5:
                return None
            return int.from_bytes(segment[3:5], "big"), int.from_bytes(segment[1:3], "big")
        if length < 2:
            return None
        handle.seek(length - 2, 1)
