"""Default places of the benchmark data and outputs, defined once for bench/ and scripts/.

- The data root holds ``sot/train`` and ``sot/val`` (OTB-style sequence folders): ``$TWINTRACK_DATA`` when set,
  else ``../shared/data`` beside the repository.
- The ONNX files of OpenCV's NanoTrack v2 and VitTrack (the ``nano`` and ``vit`` baselines; twintrack neither
  ships nor downloads them): ``$TWINTRACK_NANOTRACK`` / ``$TWINTRACK_VITTRACK`` when set, else
  ``models/nanotrack`` / ``models/vittrack/`` beside the data root when they exist.
- Benchmark outputs (caches, built splits) go under ``runs/`` in the repository (git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

from twintrack.weights.nanotrack import NANOTRACK_ENV
from twintrack.weights.vittrack import VITTRACK_ENV, VITTRACK_FILE

DATA_ENV = "TWINTRACK_DATA"
REPOSITORY = Path(__file__).resolve().parents[2]
RUNS = REPOSITORY / "runs"


def data_root() -> Path:
    """``$TWINTRACK_DATA``, else ``../shared/data`` relative to the repository."""
    return Path(os.environ.get(DATA_ENV) or REPOSITORY.parent / "shared" / "data")


def sot_folder(split: str) -> Path:
    """The folder of one split of the tracking data: ``train`` or ``val``."""
    return data_root() / "sot" / split


def _baseline_model(env: str, path: Path) -> str | None:
    """``$env`` when set, else ``path`` when it exists, else None."""
    if os.environ.get(env):
        return os.environ[env]
    return str(path) if path.exists() else None


def default_nanotrack() -> str | None:
    """NanoTrack v2's files as ``--nano-model`` takes them, or None when neither the variable nor the folder is
    there (the ``nano`` rows are then left out)."""
    return _baseline_model(NANOTRACK_ENV, data_root().parent / "models" / "nanotrack")


def default_vittrack() -> str | None:
    """VitTrack's file as ``--vit-model`` takes it, or None when neither the variable nor the file is there."""
    return _baseline_model(VITTRACK_ENV, data_root().parent / "models" / "vittrack" / VITTRACK_FILE)
