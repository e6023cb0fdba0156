"""OpenCV's trackers behind the twintrack Tracker protocol (RGB frames, 0-based xywh boxes): CSRT, KCF, MIL,
NanoTrack v2 and VitTrack.

NanoTrack v2 (``nano``) is a small Siamese network trained on thousands of videos; OpenCV runs it from two ONNX
files that twintrack neither ships nor downloads. The user names them: ``model="BACKBONE.onnx,HEAD.onnx"``, or a
folder holding ``nanotrack_backbone_sim_v2.onnx`` and ``nanotrack_head_sim_v2.onnx``, or the same in the
environment variable ``TWINTRACK_NANOTRACK`` (which also reaches ``twintrack eval``'s worker processes).

VitTrack (``vit``) is OpenCV's small transformer tracker (``cv2.TrackerVit``), from one ONNX file the user names the
same way: ``model="FILE.onnx"`` or its folder, or ``TWINTRACK_VITTRACK``.

Score and ``lost``: NanoTrack and VitTrack report the network's confidence (``getTrackingScore()``, in [0, 1]; not
calibrated to twintrack's 0.5 boundary); CSRT, KCF and MIL have none, their score is OpenCV's ``ok`` as 1 or 0.
``lost`` is ``not ok`` for all of them. VitTrack's ``ok`` is its score >= 0.2 (``tracking_score_threshold``, its
default); when not ok it returns an empty box, so the last box is kept (its score is reported as it is).
"""

from __future__ import annotations

import cv2
import numpy as np

from twintrack.errors import UserError
from twintrack.geometry import clip_box
from twintrack.tracker.base import TrackResult, check_frame, check_init_box
from twintrack.weights.nanotrack import NANOTRACK_ENV, NANOTRACK_FILES, nanotrack_paths  # noqa: F401 (API)
from twintrack.weights.vittrack import VITTRACK_ENV, VITTRACK_FILE, vittrack_path  # noqa: F401 (API)


def _nano(model):
    backbone, head = nanotrack_paths(model)
    params = cv2.TrackerNano_Params()
    params.backbone = str(backbone)
    params.neckhead = str(head)
    return cv2.TrackerNano_create(params)


def _vit(model):
    params = cv2.TrackerVit_Params()
    params.net = str(vittrack_path(model))
    return cv2.TrackerVit_create(params)


# opencv-contrib-python provides CSRT and KCF; the plain opencv-python wheel lacks them (not NanoTrack, VitTrack).
_FACTORIES = {
    "csrt": lambda model: cv2.TrackerCSRT.create(),
    "kcf": lambda model: cv2.TrackerKCF.create(),
    "mil": lambda model: cv2.TrackerMIL.create(),
    "nano": _nano,
    "vit": _vit,
}
BASELINES = tuple(_FACTORIES)
# Baselines whose score is the network's confidence; the others' score is only their ok flag (1 or 0).
SCORED_BASELINES = ("nano", "vit")
_MODEL_CHECKS = {"nano": nanotrack_paths, "vit": vittrack_path}


class OpenCVTracker:
    def __init__(self, name: str, model=None) -> None:
        if name not in _FACTORIES:
            raise UserError(f"unknown baseline '{name}'; choose one of {', '.join(BASELINES)}")
        self.name = name
        self.model = model
        if name in _MODEL_CHECKS:
            _MODEL_CHECKS[name](model)  # missing files fail here, before any sequence runs
        self._tracker = None
        self._last_box = None

    def init(self, frame, box) -> None:
        frame = check_frame(frame)
        box = check_init_box(box, frame)
        self._tracker = _FACTORIES[self.name](self.model)
        self._tracker.init(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), tuple(int(round(v)) for v in box))
        self._last_box = box

    def update(self, frame) -> TrackResult:
        if self._tracker is None:
            raise RuntimeError("call init(frame, box) before update(frame)")
        frame = check_frame(frame)
        ok, box = self._tracker.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if ok:  # on failure OpenCV returns no box (VitTrack: an empty one): keep the last one
            self._last_box = np.asarray(box, dtype=np.float64)
        height, width = frame.shape[:2]
        score = float(self._tracker.getTrackingScore()) if self.name in SCORED_BASELINES else float(ok)
        return TrackResult(box=clip_box(self._last_box, width, height), score=score, lost=not ok)
