"""NanoTrack v2 as a teacher for SiamFC training (distillation): its score map on a training pair, resampled onto
the student's response grid, becomes a soft label.

NanoTrack v2 was trained on thousands of videos; its classification map knows which look-alikes are not the
target, which our 61 sequences cannot teach. It is only read at training time, from ONNX files the user names
(the same two files as the ``nano`` baseline); twintrack never ships it.

Why the soft label is mixed into the labels rather than added as a second loss: binary cross-entropy is linear
in its target, so ``(1 - a) * BCE(z, y) + a * BCE(z, t) == BCE(z, (1 - a) * y + a * t)`` cell by cell, with the
same weights. Mixing the maps in the sampler gives exactly the two-term loss with no change to the trainer.
"""

from __future__ import annotations

import cv2
import numpy as np

TEACHER_SEARCH = 255  # NanoTrack v2's search crop (its backbone's input size is fixed to it)
TEACHER_EXEMPLAR = 127
TEACHER_STRIDE = 16
TEACHER_SCORE_SIZE = 16  # its score map; cell j lies (j - 8) * 16 pixels from the search crop's centre
TEACHER_CENTRE_CELL = 8


def pad_to_teacher(search: np.ndarray) -> np.ndarray:
    """A search crop smaller than the teacher's, padded evenly with its mean colour (SiamFC's context padding),
    so that both crops share their centre and scale."""
    size = search.shape[0]
    if size > TEACHER_SEARCH or (TEACHER_SEARCH - size) % 2:
        raise ValueError(f"distillation needs a search crop of at most {TEACHER_SEARCH} pixels that differs from "
                         f"it by an even number (got {size}); set search_size to e.g. 239 or 255")
    pad = (TEACHER_SEARCH - size) // 2
    if pad == 0:
        return search
    mean = cv2.mean(search)[:3]
    return cv2.copyMakeBorder(search, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=mean)


def resample_scores(teacher_map: np.ndarray, response_size: int, stride: float) -> np.ndarray:
    """Bilinear samples of the teacher's (16, 16) map at the centres of the student's (R, R) response cells.

    Student cell k lies ``(k - (R - 1) / 2) * stride`` pixels from the crop centre; in teacher cells that is
    ``offset / 16 + 8``. Cells beyond the teacher's grid take its edge value.
    """
    offsets = (np.arange(response_size) - (response_size - 1) / 2) * stride
    coords = np.clip(offsets / TEACHER_STRIDE + TEACHER_CENTRE_CELL, 0, TEACHER_SCORE_SIZE - 1)
    low = np.minimum(np.floor(coords).astype(int), TEACHER_SCORE_SIZE - 2)
    frac = coords - low
    # rows (y) first, then columns (x): the same 1-D weights on both axes since the grids are square
    rows = teacher_map[low] * (1 - frac)[:, None] + teacher_map[low + 1] * frac[:, None]
    return rows[:, low] * (1 - frac)[None, :] + rows[:, low + 1] * frac[None, :]


class NanoTeacher:
    """NanoTrack v2's foreground probability on (exemplar, search) crops, run by OpenCV's DNN module.

    OpenCV's DNN runs the backbone on both the 127-pixel exemplar and the 255-pixel search crop (the ONNX file
    fixes 255; onnxruntime would refuse 127). The nets are built on first use in each process: they do not
    pickle, and the training loader's worker processes receive the sampler by pickling.
    """

    def __init__(self, backbone_path, head_path) -> None:
        self.backbone_path = str(backbone_path)
        self.head_path = str(head_path)
        self._nets = None

    def __getstate__(self):
        return {**self.__dict__, "_nets": None}

    def _load(self):
        if self._nets is None:
            self._nets = (cv2.dnn.readNet(self.backbone_path), cv2.dnn.readNet(self.head_path))
        return self._nets

    def score_map(self, exemplar: np.ndarray, search: np.ndarray) -> np.ndarray:
        """The teacher's (16, 16) foreground probabilities for RGB uint8 crops: exemplar 127, search <= 255."""
        if exemplar.shape[:2] != (TEACHER_EXEMPLAR, TEACHER_EXEMPLAR):
            raise ValueError(f"distillation needs a {TEACHER_EXEMPLAR}-pixel exemplar (got {exemplar.shape[:2]})")
        backbone, head = self._load()
        features = []
        for crop in (exemplar, pad_to_teacher(search)):
            # NanoTrack takes OpenCV's BGR frames as 0-255 floats, without normalisation
            blob = np.ascontiguousarray(crop[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32)
            backbone.setInput(blob)
            features.append(backbone.forward())
        head.setInput(features[0], "input1")
        head.setInput(features[1], "input2")
        logits = head.forward("output1")[0]  # (2, 16, 16): background, foreground
        return 1.0 / (1.0 + np.exp(logits[0] - logits[1]))

    def soft_labels(self, exemplar: np.ndarray, search: np.ndarray, response_size: int, stride: float):
        """The teacher's probabilities at the student's response cells, (R, R) float32."""
        return resample_scores(self.score_map(exemplar, search), response_size, stride).astype(np.float32)
