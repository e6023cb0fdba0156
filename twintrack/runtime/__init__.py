"""Inference runtimes for the shared backbone: fp32/bf16 in torch, int8 in ONNX Runtime, and ONNX export.

A bottom-layer package beside ``models/``: trackers build their engine with ``build_backbone_engine``; the
``export`` command writes the same ONNX graphs (docs/runtime.md).
"""

from twintrack.runtime.calibration import calibration_crops, fingerprint, quantize_backbone
from twintrack.runtime.cpu import native_bf16, native_int8
from twintrack.runtime.engine import PRECISIONS, OnnxInt8Engine, TorchEngine, build_backbone_engine

__all__ = [
    "PRECISIONS", "OnnxInt8Engine", "TorchEngine", "build_backbone_engine", "calibration_crops", "fingerprint",
    "native_bf16", "native_int8", "quantize_backbone",
]
