"""Sequences: frame paths with 0-based ``x, y, w, h`` boxes, from OTB-style folders or got10k dataset objects.

An OTB-style sequence folder holds its frames (in ``img/`` or in the folder itself) and a 1-based box file,
``groundtruth_rect.txt`` (OTB) or ``groundtruth.txt`` (VOT, UAV123 exports, our own data). Training and evaluation
read folders through the same functions here, so they accept the same folders.

One rule for box files: line ``i`` is frame ``i``. A line is a box, or marks its frame absent (the target is not
visible or not annotated): a blank line, a NaN row, or zero or negative width or height; an absent frame keeps its
place as a NaN row, so the boxes after it never shift. Anything else (text, fewer than four numbers, infinity) is
an error naming the file and the line. Evaluation keeps absent frames (they are not scored); training leaves out
the frames whose box is absent, at most 1 px wide or high, or wholly outside the frame (``training_rows``) and
says how many (``skipped.note_skipped``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twintrack.data.images import image_size, list_images
from twintrack.data.skipped import note_skipped
from twintrack.errors import UserError
from twintrack.geometry import from_one_based

GROUND_TRUTH_FILES = ("groundtruth_rect.txt", "groundtruth.txt")  # looked for in this order
ABSENT = (np.nan,) * 4  # the row of a frame without a box


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
    """An OTB-style box file (comma, tab or space separated), one row per line as written: a box, or a NaN row
    where the line marks its frame absent (blank, NaN, zero or negative size)."""
    lines = read_text_file(path, "box file").splitlines()
    rows = np.array([_box_of_line(line, path, number) for number, line in enumerate(lines, start=1)],
                    dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(rows).all(axis=1).any():
        raise UserError(f"box file '{path}' holds no boxes; it needs one x,y,w,h line per frame")
    return rows


def _box_of_line(line: str, path, number: int) -> tuple:
    text = line.strip()
    if not text:
        return ABSENT
    parts = text.replace(",", " ").replace("\t", " ").split()
    if len(parts) < 4:
        raise UserError(f"box file '{path}' line {number}: '{text}' needs four numbers x,y,w,h")
    try:
        values = tuple(float(p) for p in parts[:4])
    except ValueError:
        raise UserError(f"box file '{path}' line {number}: cannot read '{text}' as numbers x,y,w,h") from None
    if any(np.isnan(values)):
        return ABSENT
    if not all(np.isfinite(values)):
        raise UserError(f"box file '{path}' line {number}: '{text}' is infinite; write a box, or NaN for a frame "
                        "without one")
    return ABSENT if values[2] <= 0 or values[3] <= 0 else values


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
    """Frame paths and 0-based boxes of one sequence folder, cut to the shorter of the two (absent frames kept as
    NaN rows)."""
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


def training_rows(boxes: np.ndarray, frame_wh: tuple[int, int] | None) -> tuple[np.ndarray, dict[str, int]]:
    """Which rows (0-based boxes) are training targets, and how many are left out by reason (``skipped.REASONS``):
    absent (NaN, zero or negative size), at most 1 px on a side, or wholly outside a ``frame_wh`` frame."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    finite = np.all(np.isfinite(boxes), axis=1)
    x, y, w, h = np.where(finite[:, None], boxes, 0.0).T
    absent = ~finite | (w <= 0) | (h <= 0)
    tiny = ~absent & ((w <= 1) | (h <= 1))
    outside = np.zeros(len(boxes), dtype=bool)
    if frame_wh is not None:
        outside = ~absent & ~tiny & ((x >= frame_wh[0]) | (y >= frame_wh[1]) | (x + w <= 0) | (y + h <= 0))
    counts = {"absent": int(absent.sum()), "tiny": int(tiny.sum()), "outside": int(outside.sum())}
    return ~(absent | tiny | outside), counts


def load_sequence_folder(folder: str | Path) -> Sequence:
    """One sequence folder for training: frames whose box is absent, degenerate or outside the frame are left out
    (and counted, ``skipped.note_skipped``)."""
    name = Path(folder).name
    frames, boxes = read_sequence_folder(folder)
    keep, skipped = training_rows(boxes, image_size(frames[0]) if frames else None)
    note_skipped(name, skipped)
    return Sequence(name, tuple(str(f) for f, k in zip(frames, keep) if k), boxes[keep])


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
        keep, skipped = training_rows(boxes[:n], image_size(img_files[0]) if n else None)
        note_skipped(f"{name}/{i}", skipped)
        frames = tuple(str(f) for f, k in zip(img_files[:n], keep) if k)
        if frames:
            sequences.append(Sequence(f"{name}/{i}", frames, boxes[:n][keep]))
    return sequences
