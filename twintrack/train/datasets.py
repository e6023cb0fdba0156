"""Training data sources: any list of sequences (image files + 0-based xywh boxes).

Three kinds plug in:
- folders of OTB-style sequences (``<seq>/img/*.jpg`` + ``groundtruth_rect.txt``, 1-based), as ``sot/train``;
- still-image box sets (``img/`` + ``boxes.csv`` with 0-based ``filename,x,y,w,h``): one "sequence" per box;
- got10k dataset objects (GOT10k, ImageNetVID, LaSOT...): anything indexable that yields ``(img_files, anno)``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.errors import UserError
from twintrack.geometry import from_one_based

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Sequence:
    """One training sequence: frame paths and their 0-based xywh boxes (rows with invalid boxes removed)."""

    name: str
    frames: tuple[str, ...]
    boxes: np.ndarray  # (N, 4) float64
    still: bool = False  # a still image: pairs are made by augmenting it twice
    precropped: bool = False  # frames are pack crops (train/pack.py) and boxes are in crop pixels

    def __len__(self) -> int:
        return len(self.frames)


def read_box_file(path: Path) -> np.ndarray:
    """Read an OTB-style box file (comma, tab or space separated); NaN rows stay NaN."""
    rows = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        try:
            values = [float(p) for p in parts[:4]]
        except ValueError as err:
            raise UserError(f"{path}: cannot read box line '{line}' ({err})") from None
        if len(values) < 4:
            raise UserError(f"{path}: box line '{line}' needs four numbers x,y,w,h")
        rows.append(values)
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _valid_rows(boxes: np.ndarray) -> np.ndarray:
    return np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > 1) & (boxes[:, 3] > 1)


def load_sequence_folder(folder: Path) -> Sequence:
    """One OTB-style sequence folder; boxes converted from 1-based to 0-based."""
    folder = Path(folder)
    img_dir = folder / "img" if (folder / "img").is_dir() else folder
    frames = list_images(img_dir)
    gt_path = folder / "groundtruth_rect.txt"
    if not gt_path.exists():
        gt_path = folder / "groundtruth.txt"
    boxes = from_one_based(read_box_file(gt_path))
    n = min(len(frames), len(boxes))
    frames, boxes = frames[:n], boxes[:n]
    keep = _valid_rows(boxes)
    return Sequence(folder.name, tuple(str(f) for f in np.array(frames, dtype=object)[keep]), boxes[keep])


def load_image_set(folder: Path) -> list[Sequence]:
    """A still-image set: every box becomes a one-frame sequence."""
    folder = Path(folder)
    sequences = []
    with open(folder / "boxes.csv", newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            box = np.array([[float(row[k]) for k in ("x", "y", "w", "h")]])
            if not _valid_rows(box).all():
                continue
            path = folder / "img" / row["filename"]
            sequences.append(Sequence(f"{folder.name}/{i}", (str(path),), box, still=True))
    return sequences


def is_sequence_folder(folder: Path) -> bool:
    return (folder / "groundtruth_rect.txt").exists() or (
        (folder / "groundtruth.txt").exists() and (folder / "img").is_dir()
    )


def discover(path: str | Path) -> list[Sequence]:
    """Every sequence under ``path``: a sequence folder, an image set, or a folder holding those (two levels)."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"training data folder '{path}' does not exist; pass --data with a folder of sequences")
    if is_sequence_folder(path):
        return [load_sequence_folder(path)]
    if (path / "boxes.csv").exists():
        return load_image_set(path)
    found: list[Sequence] = []
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        if is_sequence_folder(child):
            found.append(load_sequence_folder(child))
        elif (child / "boxes.csv").exists():
            found.extend(load_image_set(child))
    if not found:
        raise UserError(
            f"no sequences found in '{path}': expected <seq>/img/*.jpg + <seq>/groundtruth_rect.txt, "
            "or img/ + boxes.csv"
        )
    return found


def from_got10k(dataset, one_based: bool = False, name: str = "got10k") -> list[Sequence]:
    """Wrap a got10k dataset object (GOT10k, ImageNetVID, LaSOT...): ``dataset[i] -> (img_files, anno)``.

    got10k's GOT-10k and ImageNet VID annotations are used as given; pass ``one_based=True`` for OTB-style ones.
    A 1-pixel offset matters little for training pairs, but we keep conventions exact where we know them.
    """
    sequences = []
    for i in range(len(dataset)):
        item = dataset[i]
        img_files, anno = item[0], np.asarray(item[1], dtype=np.float64).reshape(-1, 4)
        boxes = from_one_based(anno) if one_based else anno
        n = min(len(img_files), len(boxes))
        keep = _valid_rows(boxes[:n])
        frames = tuple(str(f) for f, k in zip(img_files[:n], keep) if k)
        if frames:
            sequences.append(Sequence(f"{name}/{i}", frames, boxes[:n][keep]))
    return sequences
