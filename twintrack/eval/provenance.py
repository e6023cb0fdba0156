"""What produced an evaluation result: a small JSON record beside each (tracker, sequence) result.

A result is reused by a later ``twintrack eval --out`` only when its record equals what this run would produce:
the same tracker, resolved config (hash), weights (sha256), seed, and the same sequence (frame count and ground
truth hash). Anything else (other weights, another config, a sequence that grew) reruns that sequence, so a report
never shows a score next to a config that did not compute it. A result without a record (killed between its files,
or written by an older twintrack) is rerun too.

Records live in ``results/<tracker>/.provenance/<sequence>.json``: a hidden folder the got10k toolkit never reads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from twintrack.errors import UserError


def config_hash(config: dict) -> str:
    """sha256 of a resolved config in a canonical form (sorted keys), so equal configs hash equally."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def tracker_record(name: str, baseline: bool, config: dict | None, weights_sha256: str | None,
                   seed: int | None) -> dict:
    """The tracker half of a record (the same for every sequence of a run)."""
    if baseline:
        import cv2

        return {"tracker": name, "baseline": True, "opencv": cv2.__version__}
    return {"tracker": name, "baseline": False, "config_sha256": config_hash(config or {}),
            "weights_sha256": weights_sha256, "seed": seed}


def sequence_record(tracker: dict, name: str, frames: int, ground_truth: np.ndarray) -> dict:
    gt = np.ascontiguousarray(np.asarray(ground_truth, dtype=np.float64))
    return {**tracker, "sequence": name, "frames": int(frames),
            "ground_truth_sha256": hashlib.sha256(gt.tobytes()).hexdigest()}


def record_file(results: Path, tracker: str, sequence: str) -> Path:
    return Path(results) / tracker / ".provenance" / f"{sequence}.json"


def read_record(path: Path) -> dict | None:
    """A record, or None when it is missing or unreadable (the result is then rerun, never trusted)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def why_stale(record: dict | None, wanted: dict) -> str | None:
    """Why a stored result cannot be reused ("config", "weights", "frames", ...), or None when it can."""
    if record is None:
        return "no record"
    for key, reason in (("frames", "sequence length"), ("ground_truth_sha256", "ground truth"),
                        ("weights_sha256", "weights"), ("config_sha256", "config"), ("seed", "seed"),
                        ("opencv", "OpenCV version"), ("tracker", "tracker"), ("baseline", "tracker")):
        if record.get(key) != wanted.get(key):
            return reason
    return None


def check_result_length(path: Path, boxes: int, sequence: str, frames: int) -> None:
    """A result file must hold one box per frame; anything else is one line, not got10k's bare AssertionError."""
    if boxes != frames:
        raise UserError(f"result '{path}' holds {boxes} boxes but sequence '{sequence}' has {frames} frames: the "
                        "dataset changed since it was written; rerun twintrack eval (it redoes changed sequences) "
                        "or pass --overwrite")
