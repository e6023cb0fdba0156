"""What produced an evaluation result: a small JSON record beside each (tracker, sequence) result.

A result is reused by a later ``twintrack eval --out`` only when its record equals what this run would produce:
the same tracker, resolved config (hash), weights (sha256), seed, what runs them (the backbone engine and its
precision, the versions of torch, onnxruntime and OpenCV, the processor), and the same sequence (frame count and
ground truth hash). Anything else (other weights, another config, int8 in ONNX Runtime here and fp32 in torch
there, a sequence that grew) reruns that sequence, so a report never shows a score next to a config or engine that
did not compute it. A result without a record (killed between its files, or written by an older twintrack) is
rerun too.

Records live in ``results/<tracker>/.provenance/<sequence>.json``: a hidden folder the got10k toolkit never reads.
"""

from __future__ import annotations

import hashlib
import json
import platform
from functools import lru_cache
from pathlib import Path

import numpy as np

from twintrack.errors import UserError


def config_hash(config: dict) -> str:
    """sha256 of a resolved config in a canonical form (sorted keys), so equal configs hash equally."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def tracker_record(name: str, baseline: bool, config: dict | None, weights_sha256: str | None,
                   seed: int | None, runtime: dict | None = None) -> dict:
    """The tracker half of a record (the same for every sequence of a run); ``runtime``: ``runtime_record`` of the
    built tracker."""
    if baseline:
        import cv2

        return {"tracker": name, "baseline": True, "opencv": cv2.__version__, **baseline_model_record(name)}
    return {"tracker": name, "baseline": False, "config_sha256": config_hash(config or {}),
            "weights_sha256": weights_sha256, "seed": seed, **(runtime or {})}


def baseline_model_record(name: str) -> dict:
    """The sha256 of the network files a baseline runs (NanoTrack v2, VitTrack; found as the baseline finds them),
    so that results of another model file are redone; {} for baselines without one."""
    from twintrack.weights import sha256_of

    if name == "nano":
        from twintrack.weights.nanotrack import nanotrack_paths

        return {"model_sha256": [sha256_of(path) for path in nanotrack_paths()]}
    if name == "vit":
        from twintrack.weights.vittrack import vittrack_path

        return {"model_sha256": [sha256_of(vittrack_path())]}
    return {}


def runtime_record(tracker) -> dict:
    """What computes a built tracker's numbers besides its config and weights: its backbone engines (runtime,
    precision, device), the versions of torch, onnxruntime (where an engine runs in it) and OpenCV (crops and
    resizing), and the processor. int8 in ONNX Runtime, bf16 and fp32 in torch give different boxes; so can other
    library versions and processors."""
    import cv2
    import torch

    engines = [describe_engine(engine) for engine in engines_of(tracker)]
    uses_onnxruntime = any(text.startswith("onnxruntime") for text in engines)
    gpus = sorted({engine.device for engine in engines_of(tracker) if engine.device.type == "cuda"}, key=str)
    return {"engine": ", ".join(engines) or "none",
            "torch": torch.__version__,
            "onnxruntime": _onnxruntime_version() if uses_onnxruntime else None,
            "opencv": cv2.__version__,
            "cpu": processor_name(),
            "gpu": ", ".join(torch.cuda.get_device_name(device) for device in gpus) or None}


def engines_of(tracker) -> list:
    """The backbone engines (twintrack.runtime.engine) a built tracker runs, found among its attributes and those of
    the twintrack objects it holds (the twin holds SiamFC and MDNet; MDNet's engine is in its feature extractor)."""
    from twintrack.runtime.engine import OnnxInt8Engine, TorchEngine

    found, seen, pending = [], set(), [(tracker, 0)]
    while pending:
        obj, depth = pending.pop(0)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (TorchEngine, OnnxInt8Engine)):
            found.append(obj)
            continue
        if depth < 3 and type(obj).__module__.startswith("twintrack.") and hasattr(obj, "__dict__"):
            pending += [(value, depth + 1) for value in vars(obj).values()]
    return found


def describe_engine(engine) -> str:
    """``onnxruntime int8`` or ``torch <precision> <device type>``."""
    if engine.precision == "int8":
        return "onnxruntime int8"
    return f"torch {engine.precision} {engine.device.type}"


def _onnxruntime_version() -> str | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime.__version__


@lru_cache(maxsize=1)
def processor_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


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
                        ("engine", "engine"), ("torch", "torch version"), ("onnxruntime", "onnxruntime version"),
                        ("opencv", "OpenCV version"), ("model_sha256", "model file"), ("cpu", "processor"), ("gpu", "GPU"),
                        ("tracker", "tracker"), ("baseline", "tracker")):
        if record.get(key) != wanted.get(key):
            return reason
    return None


def check_result_length(path: Path, boxes: int, sequence: str, frames: int) -> None:
    """A result file must hold one box per frame; anything else is one line, not got10k's bare AssertionError."""
    if boxes != frames:
        held = f"{boxes} box" if boxes == 1 else f"{boxes} boxes"
        length = f"{frames} frame" if frames == 1 else f"{frames} frames"
        raise UserError(f"result '{path}' holds {held} but sequence '{sequence}' has {length}: the "
                        "dataset changed since it was written; rerun twintrack eval (it redoes changed sequences) "
                        "or pass --overwrite")
