"""Still-image box sets: ``img/`` + ``boxes.csv`` with 0-based ``filename,x,y,w,h`` rows; one "sequence" per box."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from twintrack.data.sequences import Sequence, read_text_file, valid_rows
from twintrack.errors import UserError

BOX_FILE = "boxes.csv"


def is_image_set(folder: str | Path) -> bool:
    return (Path(folder) / BOX_FILE).exists()  # a folder in its place is found, then refused when read


def load_image_set(folder: str | Path) -> list[Sequence]:
    """A still-image set: every usable box becomes a one-frame sequence named ``<set>/<row>``."""
    folder = Path(folder)
    box_file = folder / BOX_FILE
    rows = list(csv.DictReader(read_text_file(box_file, "still-set box file").splitlines()))
    if not rows:
        raise UserError(f"'{box_file}' holds no boxes; it needs a filename,x,y,w,h header and one row per box")
    sequences = []
    for i, row in enumerate(rows):
        try:
            box = np.array([[float(row[k]) for k in ("x", "y", "w", "h")]])
            path = folder / "img" / row["filename"]
        except (KeyError, TypeError, ValueError):
            raise UserError(f"'{box_file}' row {i + 2} is not filename,x,y,w,h: {row}") from None
        if not valid_rows(box).all():
            continue
        sequences.append(Sequence(f"{folder.name}/{i}", (str(path),), box, still=True))
    return sequences
