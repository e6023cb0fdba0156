"""Still-image box sets: ``img/`` + ``boxes.csv`` with 0-based ``filename,x,y,w,h`` rows; one "sequence" per box."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from twintrack.data.images import image_size
from twintrack.data.sequences import Sequence, read_text_file, training_rows
from twintrack.data.skipped import note_skipped
from twintrack.errors import UserError

BOX_FILE = "boxes.csv"


def is_image_set(folder: str | Path) -> bool:
    return (Path(folder) / BOX_FILE).exists()  # a folder in its place is found, then refused when read


def load_image_set(folder: str | Path) -> list[Sequence]:
    """A still-image set: every usable box (``sequences.training_rows``) becomes a one-frame sequence named
    ``<set>/<row>``; the others are counted (``skipped.note_skipped``)."""
    folder = Path(folder)
    box_file = folder / BOX_FILE
    rows = list(csv.DictReader(read_text_file(box_file, "still-set box file").splitlines()))
    if not rows:
        raise UserError(f"'{box_file}' holds no boxes; it needs a filename,x,y,w,h header and one row per box")
    sequences, skipped = [], {}
    for i, row in enumerate(rows):
        try:
            box = np.array([[float(row[k]) for k in ("x", "y", "w", "h")]])
            path = folder / "img" / row["filename"]
        except (KeyError, TypeError, ValueError):
            raise UserError(f"'{box_file}' line {i + 2} is not filename,x,y,w,h: {row}") from None
        # The image's size only where the box could be a target: the outside check needs it.
        keep, counts = training_rows(box, None)
        if keep.all():
            keep, counts = training_rows(box, image_size(path))
        for reason, count in counts.items():
            skipped[reason] = skipped.get(reason, 0) + count
        if keep.all():
            sequences.append(Sequence(f"{folder.name}/{i}", (str(path),), box, still=True))
    note_skipped(folder.name, skipped)
    return sequences
