"""Still-image box sets: ``img/`` + ``boxes.csv`` with 0-based ``filename,x,y,w,h`` rows; one "sequence" per box."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from twintrack.data.sequences import Sequence, valid_rows

BOX_FILE = "boxes.csv"


def is_image_set(folder: str | Path) -> bool:
    return (Path(folder) / BOX_FILE).is_file()


def load_image_set(folder: str | Path) -> list[Sequence]:
    """A still-image set: every usable box becomes a one-frame sequence named ``<set>/<row>``."""
    folder = Path(folder)
    sequences = []
    with open(folder / BOX_FILE, newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            box = np.array([[float(row[k]) for k in ("x", "y", "w", "h")]])
            if not valid_rows(box).all():
                continue
            path = folder / "img" / row["filename"]
            sequences.append(Sequence(f"{folder.name}/{i}", (str(path),), box, still=True))
    return sequences
