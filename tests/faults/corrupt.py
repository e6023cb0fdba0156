"""Ways to damage a file, each applied to a real file of the kind the CLI reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np


def empty(path: Path) -> None:
    Path(path).write_bytes(b"")


def truncated(path: Path) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: max(1, len(data) // 3)])


def random_bytes(path: Path) -> None:
    Path(path).write_bytes(np.random.default_rng(7).integers(0, 256, 4096, np.uint8).tobytes())


def flipped_middle(path: Path) -> None:
    """Random bytes over the middle tenth: the header still looks right."""
    data = bytearray(Path(path).read_bytes())
    start, span = len(data) * 9 // 20, max(16, len(data) // 10)
    data[start:start + span] = np.random.default_rng(8).integers(0, 256, len(data[start:start + span]),
                                                                 np.uint8).tobytes()
    Path(path).write_bytes(bytes(data))


def directory(path: Path) -> None:
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("a folder where a file should be\n")


def text(path: Path) -> None:
    Path(path).write_text("this is not the file you are looking for\n")


ALL = {"empty": empty, "truncated": truncated, "random bytes": random_bytes, "directory": directory}
