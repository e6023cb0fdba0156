"""The backbone engine: VGG-M conv1-3 at the precision a tracker asks for, on its device.

``engine(images)`` takes (N, 3, H, W) float32 RGB 0..255 on the device and returns (N, C, H', W') float32 features.
fp32 and bf16 run in torch (BatchNorm folded, channels_last); int8 runs a calibrated QDQ ONNX model in ONNX
Runtime on CPU. The features' memory layout is the runtime's own, not converted: channels_last from the torch
engines (with ``channels_last``), NCHW from ONNX Runtime. Consumers read either (SiamFC's correlation reads one
search map of either layout without a copy; MDNet makes its region map channels_last once, for RoIAlign).
``precision="auto"`` takes int8 on CPUs with VNNI/AMX when ONNX Runtime and a calibration for these weights are
there, else bf16 on CPUs with native bf16, else fp32; GPUs run fp32.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from twintrack.errors import UserError
from twintrack.runtime import cpu
from twintrack.runtime.calibration import (fingerprint, folded_fingerprint, load_int8_file, model_fingerprint,
                                           shipped_int8_model)
from twintrack.runtime.onnx_graph import INPUT_NAME, inference_copy

PRECISIONS = ("auto", "fp32", "bf16", "int8")


class TorchEngine:
    """fp32 or bf16 (autocast) in torch, on an inference copy of the backbone."""

    def __init__(self, backbone: nn.Module, device: torch.device, precision: str, channels_last: bool = True,
                 note: str = "") -> None:
        net = inference_copy(backbone)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net.eval().to(device).to(memory_format=self.memory_format)
        self.device, self.precision, self.note = device, precision, note
        # fc layers after the backbone (MDNet's fc4) are worth bf16 only where bf16 is native.
        self.matmul_dtype = torch.bfloat16 if precision == "bf16" else torch.float32

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        # no_grad, not inference_mode: MDNet trains its fc layers online on features pooled from this output.
        with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                             enabled=self.precision == "bf16"):
            return self.net(images.contiguous(memory_format=self.memory_format)).float()


class OnnxInt8Engine:
    """A quantized ONNX model in ONNX Runtime on CPU, with as many threads as torch uses."""

    def __init__(self, model_bytes: bytes, channels_last: bool = True, threads: int | None = None) -> None:
        # channels_last is accepted for the signature build_backbone_engine shares with TorchEngine; ONNX Runtime
        # reads and writes NCHW whatever it says.
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Idle ORT threads would otherwise spin for a while after each call, taking cores from the torch work
        # (correlation, RoIAlign, fc layers) that follows.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        self.memory_format = torch.contiguous_format  # of the features it returns (ONNX Runtime's NCHW)
        self.device, self.precision, self.note = torch.device("cpu"), "int8", ""
        self.matmul_dtype = torch.bfloat16 if cpu.native_bf16() else torch.float32

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        # ONNX Runtime takes NCHW only: one copy for channels_last input (none for NCHW float32), dtype and layout
        # converted in the same pass.
        array = images.detach().to(torch.float32, memory_format=torch.contiguous_format).numpy()
        # Returned as ONNX Runtime gives it (NCHW): converting to channels_last here cost a copy that SiamFC's
        # correlation does not need, and MDNet does once itself.
        return torch.from_numpy(self.session.run(None, {INPUT_NAME: array})[0])


def _int8_model(backbone: nn.Module, int8_model) -> bytes | None:
    """The quantized model for these weights: the given file (checked) or the shipped one; None if there is none."""
    weights_fingerprint = fingerprint(backbone)
    if int8_model:
        data = load_int8_file(int8_model)
        recorded = model_fingerprint(data)
        # Older exported models record the folded weights' fingerprint: still theirs on the same CPU.
        if recorded != weights_fingerprint and recorded != folded_fingerprint(backbone):
            raise UserError(f"int8 model '{int8_model}' was calibrated for other weights; write one for these with: "
                            "twintrack export <tracker> --weights W --int8")
        return data
    return shipped_int8_model(weights_fingerprint)


def _fallback(device: torch.device) -> str:
    return "bf16" if device.type == "cpu" and cpu.native_bf16() else "fp32"


def build_backbone_engine(backbone: nn.Module, precision: str, device: torch.device, channels_last: bool = True,
                          int8_model: str | None = None):
    """An engine for ``backbone`` (left unchanged) at ``precision`` (auto | fp32 | bf16 | int8) on ``device``.

    ``int8_model``: a quantized model written by ``twintrack export --int8`` for these weights (default: the shipped
    calibration, which fits the shipped weights). ``engine.precision`` says what runs; ``engine.note`` why auto or
    int8 fell back, if they did. int8 without a calibration for these weights falls back with a warning.
    """
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    if device.type != "cpu":
        if precision == "int8":
            raise UserError(f"precision int8 runs on CPU only (ONNX Runtime); use precision fp32 or bf16 on {device}")
        return TorchEngine(backbone, device, "fp32" if precision == "auto" else precision, channels_last)
    if precision in ("fp32", "bf16") or (precision == "auto" and not cpu.native_int8()):
        return TorchEngine(backbone, device, _fallback(device) if precision == "auto" else precision,
                           channels_last)
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if precision == "int8":
            raise UserError("precision int8 needs the 'onnxruntime' package, which is not installed; "
                            "install it with: pip install 'twintrack[onnx]' (or set precision=auto)") from None
        return TorchEngine(backbone, device, _fallback(device), channels_last,
                           note="onnxruntime is not installed")
    model = _int8_model(backbone, int8_model)
    if model is None:
        fallback = _fallback(device)
        note = (f"no int8 calibration for these weights; running {fallback} "
                "(write one with: twintrack export <tracker> --weights W --int8, then set int8_model=PATH)")
        if precision == "int8":
            warnings.warn(note, stacklevel=2)
        return TorchEngine(backbone, device, fallback, channels_last, note=note)
    return OnnxInt8Engine(model, channels_last)
