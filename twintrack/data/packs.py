"""Pre-cropped training data on disk (pysot's ``par_crop``): every frame cropped once, then read back small.

A pack is a folder with ``pack.json`` and one JPEG per frame: the ``PRECROP_SIZE`` square around the target at
SiamFC's search-region scale. Training from a pack never decodes a full frame, so data loading keeps up with a
GPU, and a whole dataset shrinks to a size that can travel to a remote GPU machine (5,800 frames -> ~50 MB).

MDNet trains from packs too: its search region puts the target's mean side at ~64 pixels of 255, which is what a
pre-crop holds (127 / (2 x side) x side = 63.5), and pack.json keeps each target's box in crop pixels.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from twintrack.errors import UserError
from twintrack.geometry import context_size, crop_and_resize, xywh_to_cxcywh
from twintrack.data.images import read_image
from twintrack.data.sequences import Sequence

INDEX = "pack.json"
PRECROP_SIZE = 255  # the crop stored per frame: target centred, search-region scale


def precrop_geometry(box, exemplar_size: int, context: float):
    """Centre and side (frame pixels) of a frame's pre-crop: the exemplar region scaled by PRECROP_SIZE/exemplar."""
    cx, cy, w, h = xywh_to_cxcywh(np.asarray(box, dtype=np.float64))
    side = context_size((w, h), context) * PRECROP_SIZE / exemplar_size
    return (cx, cy), side


def box_in_crop(box, centre, side) -> np.ndarray:
    """``box`` (frame pixels, xywh) in the coordinates of the PRECROP_SIZE crop centred at ``centre``."""
    scale = PRECROP_SIZE / side
    x, y, w, h = np.asarray(box, dtype=np.float64)
    return np.array([(x - centre[0]) * scale + PRECROP_SIZE / 2, (y - centre[1]) * scale + PRECROP_SIZE / 2,
                     w * scale, h * scale])


def write_pack(sequences: list[Sequence], out_dir, exemplar_size: int = 127, context: float = 0.5,
               quality: int = 85, max_frames: int = 0, threads: int = 4, progress=None) -> dict:
    """Crop every frame of ``sequences`` into ``out_dir``; returns the index written to pack.json.

    ``max_frames`` > 0 keeps at most that many evenly spaced frames per sequence: neighbouring frames of a video
    are near duplicates, so thinning long sequences costs little diversity and a lot of bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    entries = []
    for seq_id, sequence in enumerate(sequences):
        keep = np.arange(len(sequence))
        if max_frames > 0 and len(keep) > max_frames:
            keep = np.unique(np.linspace(0, len(sequence) - 1, max_frames).round().astype(int))
        folder = out_dir / f"{seq_id:05d}"
        folder.mkdir(exist_ok=True)
        files, boxes = [], []
        for k, index in enumerate(keep):
            path = folder / f"{k:06d}.jpg"
            centre, side = precrop_geometry(sequence.boxes[index], exemplar_size, context)
            jobs.append((sequence.frames[index], centre, side, path))
            files.append(str(path.relative_to(out_dir)))
            boxes.append(box_in_crop(sequence.boxes[index], centre, side).round(3).tolist())
        entries.append({"name": sequence.name, "still": sequence.still, "files": files, "boxes": boxes})

    def crop_one(job):
        frame, centre, side, path = job
        crop = crop_and_resize(read_image(frame), centre, side, PRECROP_SIZE)
        cv2.imwrite(str(path), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])

    with ThreadPoolExecutor(max(1, threads)) as pool:  # cv2 releases the GIL while decoding and encoding
        for done, _ in enumerate(pool.map(crop_one, jobs), 1):
            if progress is not None:
                progress(done, len(jobs))
    index = {"version": 1, "precrop_size": PRECROP_SIZE, "exemplar_size": exemplar_size, "context": context,
             "sequences": entries}
    (out_dir / INDEX).write_text(json.dumps(index))
    return index


def is_pack(path) -> bool:
    return (Path(path) / INDEX).exists()  # a folder in its place is found, then refused by read_pack


def read_pack(path, exemplar_size: int | None = None, context: float | None = None) -> list[Sequence]:
    """The pack's sequences: frames are crop files, boxes are in crop pixels, ``precropped`` is set."""
    path = Path(path)
    try:
        index = json.loads((path / INDEX).read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path / INDEX}: cannot read the pack index ({err}); rebuild it with twintrack precrop")
    if not isinstance(index, dict):
        raise UserError(f"{path / INDEX}: not a pack index (a JSON object); rebuild it with twintrack precrop")
    for key, wanted in (("exemplar_size", exemplar_size), ("context", context)):
        if wanted is not None and index.get(key) != wanted:
            raise UserError(f"pack {path} was cropped with {key}={index.get(key)}, the config has {wanted}; "
                            "re-run twintrack precrop with the same settings")
    sequences = []
    try:
        for entry in index["sequences"]:
            frames = tuple(str(path / f) for f in entry["files"])
            if frames:
                sequences.append(Sequence(entry["name"], frames, np.asarray(entry["boxes"], dtype=np.float64),
                                          still=entry["still"], precropped=True))
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise UserError(f"{path / INDEX}: not a pack index ({type(err).__name__}: {err}); rebuild it with "
                        "twintrack precrop") from None
    return sequences
