"""Where NanoTrack v2's two ONNX files are: twintrack neither ships nor downloads them, the user names them.

The ``nano`` baseline (eval/baselines.py) reads them.
"""

from __future__ import annotations

import os
from pathlib import Path

from twintrack.errors import UserError

NANOTRACK_ENV = "TWINTRACK_NANOTRACK"
NANOTRACK_FILES = ("nanotrack_backbone_sim_v2.onnx", "nanotrack_head_sim_v2.onnx")


def nanotrack_paths(model: str | os.PathLike | tuple | None = None, user: str = "baseline 'nano'",
                    option: str = "--nano-model") -> tuple[Path, Path]:
    """(backbone, head) ONNX paths from ``model`` (or ``$TWINTRACK_NANOTRACK``): "BACKBONE,HEAD", a pair, or a
    folder holding the two files under their release names. Raises a one-line UserError when they are missing;
    ``user`` and ``option`` say in it who needs the files and how to give them."""
    model = model or os.environ.get(NANOTRACK_ENV)
    how = (f"pass BACKBONE.onnx,HEAD.onnx or a folder holding {' and '.join(NANOTRACK_FILES)} "
           f"({option}, or the environment variable {NANOTRACK_ENV})")
    if not model:
        raise UserError(f"{user} needs NanoTrack v2's two ONNX files: {how}")
    if isinstance(model, (tuple, list)):
        parts = [Path(p) for p in model]
    elif "," in str(model):
        parts = [Path(p.strip()) for p in str(model).split(",")]
    else:
        parts = [Path(model) / name for name in NANOTRACK_FILES]
    if len(parts) != 2:
        raise UserError(f"NanoTrack v2 needs exactly two ONNX files (got {model!r}): {how}")
    for path in parts:
        if not path.is_file():
            raise UserError(f"NanoTrack v2 model file '{path}' does not exist: {how}")
    return parts[0], parts[1]
