"""Sequences: frame paths with 0-based ``x, y, w, h`` boxes, from OTB-style folders or got10k dataset objects.

An OTB-style sequence folder holds its frames (in ``img/`` or in the folder itself) and a 1-based box file,
``groundtruth_rect.txt`` (OTB) or ``groundtruth.txt`` (VOT, UAV123 exports, our own data). Training and evaluation
read folders through the same functions here, so they accept the same folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.data.images import list_images
from twintrack.errors import UserError
from twintrack.geometry import from_one_based

GROUND_TRUTH_FILES = ("groundtruth_rect.txt", "groundtruth.txt")  # looked for in this order


@dataclass(frozen=True)
class Sequence:
    """One training sequence: frame paths and their 0-based xywh boxes (rows with invalid boxes removed)."""

    name: str
    frames: tuple[str, ...]
    boxes: np.ndarray  # (N, 4) float64
    still: bool = False  # a still image: pairs are made by augmenting it twice
    precropped: bool = False  # frames are pack crops (data/packs.py) and boxes are in crop pixels

    def __len__(self) -> int:
        return len(self.frames)


def read_box_file(path: str | Path) -> np.ndarray:
    """Read an OTB-style box file (comma, tab or space separated); NaN rows stay NaN."""
    rows = []
    for line in read_text_file(path, "box file").splitlines():
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
    if not rows:
        raise UserError(f"box file '{path}' holds no boxes; it needs one x,y,w,h line per frame")
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def read_text_file(path: str | Path, what: str) -> str:
    """A text file's contents; a folder, unreadable or binary file is one UserError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{what} '{path}' is not a text file (damaged?); restore or rewrite it") from None
    except OSError as err:
        raise UserError(f"{what} '{path}' cannot be read ({err.strerror or err})") from None


def ground_truth_file(folder: str | Path) -> Path | None:
    """The folder's box file (``groundtruth_rect.txt`` or ``groundtruth.txt``), None when it has neither."""
    for name in GROUND_TRUTH_FILES:
        if (Path(folder) / name).exists():  # a folder in its place is found, then refused by read_box_file
            return Path(folder) / name
    return None


def _frame_folder(folder: Path) -> Path:
    return folder / "img" if (folder / "img").is_dir() else folder


def is_sequence_folder(folder: str | Path) -> bool:
    """A box file beside images (in ``img/`` or in the folder itself)."""
    folder = Path(folder)
    return folder.is_dir() and ground_truth_file(folder) is not None and bool(list_images(_frame_folder(folder)))


def read_sequence_folder(folder: str | Path) -> tuple[list[Path], np.ndarray]:
    """Frame paths and 0-based boxes of one sequence folder, cut to the shorter of the two (NaN rows kept)."""
    folder = Path(folder)
    gt_path = ground_truth_file(folder)
    if gt_path is None:
        raise UserError(f"'{folder}' has no {' or '.join(GROUND_TRUTH_FILES)}")
    frames = list_images(_frame_folder(folder))
    boxes = from_one_based(read_box_file(gt_path))
    n = min(len(frames), len(boxes))
    return frames[:n], boxes[:n]


def sequence_folders(root: str | Path) -> list[Path]:
    """``root`` itself when it is a sequence folder, else its sequence subfolders, sorted."""
    root = Path(root)
    if is_sequence_folder(root):
        return [root]
    return sorted(p for p in root.iterdir() if is_sequence_folder(p))


def valid_rows(boxes: np.ndarray) -> np.ndarray:
    """Rows that are usable training targets: finite, and more than a pixel on each side."""
    return np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > 1) & (boxes[:, 3] > 1)


def load_sequence_folder(folder: str | Path) -> Sequence:
    """One sequence folder for training: frames whose box is unknown or degenerate are left out."""
    frames, boxes = read_sequence_folder(folder)
    keep = valid_rows(boxes)
    return Sequence(Path(folder).name, tuple(str(f) for f, k in zip(frames, keep) if k), boxes[keep])


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
        keep = valid_rows(boxes[:n])
        frames = tuple(str(f) for f, k in zip(img_files[:n], keep) if k)
        if frames:
            sequences.append(Sequence(f"{name}/{i}", frames, boxes[:n][keep]))
    return sequences
