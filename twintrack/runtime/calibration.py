"""int8 calibration: training crops -> activation ranges -> a quantized (QDQ) ONNX model of the backbone.

ONNX Runtime's static quantization (``quantize_static``, QDQ format): weights int8 per output channel, activations
uint8 per tensor with ranges taken from the calibration crops. The network input is fixed at scale 1, zero point
0, so integer pixels 0..255 enter conv1 exactly. The same file runs in ONNX Runtime (twintrack's int8 engine), in
OpenVINO and in anything else that reads QDQ ONNX.

Calibration is deterministic: the same crops in the same order give the same model bytes. Crops come from
training sequences only (``scripts/calibrate_int8.py`` for the shipped weights, ``twintrack export --int8`` for
yours), never from the sequences a tracker is evaluated on.

A quantized model records the fingerprint of the fp32 weights it was made from; the engine uses it only for
those weights. The shipped one (``twintrack/weights/vggm_int8.onnx``, listed in ``int8.json`` with its sha256)
serves the shipped SiamFC and MDNet weights, which share one backbone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
from torch import nn

from twintrack.errors import UserError
from twintrack.runtime.onnx_graph import INPUT_NAME, backbone_to_onnx, inference_copy

# Each activation's range is its min and max over the calibration crops. On 48 val pairs MinMax kept every SiamFC
# response peak in fp32's cell; percentile clipping (99.99 / 99.999) moved 3 / 1 of them (docs/runtime.md).
CALIBRATION = {"method": "minmax", "percentile": 99.999}
EXEMPLAR_SIZE, SEARCH_SIZE, CONTEXT = 127, 255, 0.5  # SiamFC's crops (MDNet's region is 255 pixels too)
SHIPPED_TABLE = "int8.json"
METHODS = {"percentile": lambda m: m.Percentile, "minmax": lambda m: m.MinMax, "entropy": lambda m: m.Entropy}


def fingerprint(backbone: nn.Module) -> str:
    """sha256 of the backbone's weights as stored (every state-dict tensor as fp32 bytes, BatchNorm unfolded).

    No arithmetic touches the weights first: folding BatchNorm rounds differently on different CPUs, and a
    fingerprint of folded weights did not find the shipped calibration on an AMD EPYC. A backbone
    that is already folded has other tensors, so another fingerprint: pass the network as loaded.
    """
    return _state_digest(backbone.state_dict())


def folded_fingerprint(backbone: nn.Module) -> str:
    """The fingerprint that older int8 models record: of the BatchNorm-folded weights. It matches
    only on a CPU that folds as the exporting one did; the engine still accepts it for a user's own model."""
    return _state_digest(inference_copy(backbone).state_dict())


def _state_digest(state_dict) -> str:
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        array = tensor.detach().cpu().float().contiguous().numpy()
        digest.update(f"{name}:{tuple(array.shape)}:".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def calibration_crops(sequences, count: int = 64, seed: int = 0) -> list[np.ndarray]:
    """``count`` 255-pixel search crops, cut as SiamFC cuts them (target at exemplar scale, context 0.5, centred a
    little off the target as while tracking), from frames drawn with a fixed seed, cycling through ``sequences``
    (objects with ``frames`` and ``boxes``, 0-based xywh) in the order given. uint8 RGB arrays, in the order the
    model sees them.

    Search crops only: a 127 exemplar is the centre of such a crop at the same scale (the same statistics), and
    ONNX Runtime's histogram calibration needs one input size. MDNet's region is 255 pixels at the same scale.
    """
    from twintrack.data import read_image
    from twintrack.geometry import context_size, crop_and_resize, xywh_to_cxcywh

    if not sequences:
        raise UserError("calibration needs at least one training sequence")
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(count):
        sequence = sequences[i % len(sequences)]
        index = int(rng.integers(len(sequence.frames)))
        frame = read_image(sequence.frames[index])
        cx, cy, w, h = xywh_to_cxcywh(np.asarray(sequence.boxes[index], dtype=np.float64))
        exemplar_side = context_size((w, h), CONTEXT)
        shift = rng.uniform(-0.25, 0.25, size=2) * exemplar_side
        crops.append(crop_and_resize(frame, (cx + shift[0], cy + shift[1]),
                                     exemplar_side * SEARCH_SIZE / EXEMPLAR_SIZE, SEARCH_SIZE))
    return crops


def _require_quantization():
    try:
        import onnx  # noqa: F401
        from onnxruntime import quantization
    except ImportError:
        raise UserError("int8 calibration needs the 'onnx' and 'onnxruntime' packages; "
                        "install them with: pip install 'twintrack[onnx]'") from None
    return quantization


def quantize_backbone(backbone: nn.Module, crops, method: str = CALIBRATION["method"],
                      percentile: float = CALIBRATION["percentile"]) -> bytes:
    """The int8 QDQ ONNX model of ``backbone``, calibrated on ``crops`` (uint8 HxWx3 RGB arrays, one size).

    Deterministic: same weights, same crops in the same order -> the same bytes.
    """
    quantization = _require_quantization()
    if len(crops) == 0:
        raise UserError("int8 calibration needs at least one crop")
    metadata = {
        "twintrack.fingerprint": fingerprint(backbone),
        "twintrack.calibration": json.dumps({"method": method, "percentile": percentile, "crops": len(crops)}),
    }
    model = backbone_to_onnx(backbone, metadata)

    class Crops(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(crops)

        def get_next(self):
            crop = next(self.batches, None)
            if crop is None:
                return None
            return {INPUT_NAME: np.ascontiguousarray(np.asarray(crop, np.float32).transpose(2, 0, 1)[None])}

    # ONNX Runtime's quantizer prints progress and logs advice on the root logger: keep a user's console quiet.
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), _quiet_logging():
        fp32_path, int8_path = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        fp32_path.write_bytes(model.SerializeToString())
        quantization.quantize_static(
            str(fp32_path), str(int8_path), Crops(),
            quant_format=quantization.QuantFormat.QDQ, per_channel=True,
            activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
            calibrate_method=METHODS[method](quantization.CalibrationMethod),
            extra_options={
                "CalibPercentile": percentile,
                # Pixels 0..255 are exact at scale 1, zero point 0: conv1 sees the crop as it is.
                "TensorQuantOverrides": {INPUT_NAME: [{"scale": np.array(1.0, np.float32), "zero_point": np.array(0, np.uint8)}]},
            },
        )
        return int8_path.read_bytes()


@contextlib.contextmanager
def _quiet_logging():
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def model_fingerprint(model_bytes: bytes) -> str | None:
    """The weight fingerprint recorded in a quantized model (None if it has none)."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    return next((p.value for p in model.metadata_props if p.key == "twintrack.fingerprint"), None)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped_int8_model(backbone_fingerprint: str) -> bytes | None:
    """The shipped int8 model for these weights (checked against its sha256), or None if none was shipped."""
    from twintrack.weights import shipped_for_backbone

    path = shipped_for_backbone(SHIPPED_TABLE, backbone_fingerprint, "int8 model",
                                "reinstall twintrack or set precision=fp32")
    return None if path is None else path.read_bytes()


def write_shipped_entry(model_bytes: bytes, folder: Path, file_name: str, note: str) -> dict:
    """Write ``model_bytes`` into ``folder`` and list it in ``folder/int8.json`` under its weights' fingerprint."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_bytes(model_bytes)
    table_path = folder / SHIPPED_TABLE
    table = json.loads(table_path.read_text()) if table_path.exists() else {}
    table[model_fingerprint(model_bytes)] = {"file": file_name, "sha256": _sha256(model_bytes), "calibration": note}
    table_path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    return table


def load_int8_file(path: str | Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"int8 model '{path}' does not exist; write one with: twintrack export <tracker> --int8")
    return path.read_bytes()


__all__ = ["CALIBRATION", "calibration_crops", "fingerprint", "load_int8_file", "model_fingerprint",
           "quantize_backbone", "shipped_int8_model", "write_shipped_entry"]
