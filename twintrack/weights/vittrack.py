"""Where VitTrack's ONNX file is: twintrack neither ships nor downloads it, the user names it.

OpenCV's ``cv2.TrackerVit`` (OpenCV >= 4.9) runs it; opencv_zoo publishes it as
``object_tracking_vittrack_2023sep.onnx``. The ``vit`` baseline (eval/baselines.py) reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from twintrack.errors import UserError

VITTRACK_ENV = "TWINTRACK_VITTRACK"
VITTRACK_FILE = "object_tracking_vittrack_2023sep.onnx"


def vittrack_path(model: str | os.PathLike | None = None, user: str = "baseline 'vit'",
                  option: str = "--vit-model") -> Path:
    """The VitTrack ONNX file from ``model`` (or ``$TWINTRACK_VITTRACK``): the file, or a folder holding it under its
    release name. Raises a one-line UserError when it is missing; ``user`` and ``option`` say in it who needs the
    file and how to give it."""
    model = model or os.environ.get(VITTRACK_ENV)
    how = f"pass the file or a folder holding {VITTRACK_FILE} ({option}, or the environment variable {VITTRACK_ENV})"
    if not model:
        raise UserError(f"{user} needs VitTrack's ONNX file: {how}")
    path = Path(model)
    if path.is_dir():
        path = path / VITTRACK_FILE
    if not path.is_file():
        raise UserError(f"VitTrack model file '{path}' does not exist: {how}")
    return path
