"""Backbone runtimes side by side on CPU: speed (ms per call) and int8/bf16 accuracy against fp32 on real crops.

    .venv/bin/python bench/runtime.py                      # torch fp32/bf16, ONNX Runtime fp32/int8, OpenVINO
    .venv/bin/python bench/runtime.py --pt2e               # + torchao pt2e X86InductorQuantizer (compiles: minutes)
    .venv/bin/python bench/runtime.py --int8-model F.onnx  # another int8 model (default: the shipped one)

Timing: every engine is timed in each of --rounds interleaved rounds (median of --reps calls per round), and the
table gives the best round, so load from other processes on a shared machine hits all engines alike. Threads:
--threads (default 2) for torch, ONNX Runtime and OpenVINO. Accuracy: SiamFC response maps (shipped weights) for
exemplar/search pairs from ../shared/data/sot/val (evaluation only: the int8 model was calibrated on train):
same peak cell as fp32, largest peak shift, peak logit error, feature error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from twintrack.data import discover, read_image
from twintrack.geometry import context_size, crop_and_resize, xywh_to_cxcywh
from twintrack.models import SiamFCNet
from twintrack.runtime import build_backbone_engine
from twintrack.runtime.calibration import fingerprint, shipped_int8_model
from twintrack.runtime.engine import OnnxInt8Engine
from twintrack.runtime.onnx_graph import backbone_to_onnx
from twintrack.weights import default_weights, load_weights

VAL = Path(__file__).resolve().parents[2] / "shared/data/sot/val"
TRAIN = Path(__file__).resolve().parents[2] / "shared/data/sot/train"


def val_pairs(root: Path, per_sequence: int, gap: int = 5):
    """(exemplar 127, search 255) uint8 crops: exemplar at frame t's box, search at frame t+gap around t's box."""
    exemplars, searches = [], []
    for sequence in discover(root):
        for t in np.linspace(0, len(sequence.frames) - gap - 1, per_sequence).astype(int):
            cx, cy, w, h = xywh_to_cxcywh(sequence.boxes[t])
            side = context_size((w, h))
            exemplars.append(crop_and_resize(read_image(sequence.frames[t]), (cx, cy), side, 127))
            searches.append(crop_and_resize(read_image(sequence.frames[t + gap]), (cx, cy), side * 255 / 127, 255))
    return exemplars, searches


def to_tensor(crops) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().contiguous()


class NumpyEngine:
    """Any runtime that maps a float32 NCHW array to features (ONNX Runtime fp32, OpenVINO)."""

    def __init__(self, run) -> None:
        self.run = run

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.run(images.contiguous().numpy())))


def ort_session(model_bytes: bytes, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return NumpyEngine(lambda x: session.run(None, {"images": x})[0])


def openvino_engine(model_bytes: bytes, threads: int):
    import openvino

    core = openvino.Core()
    model = core.read_model(_tmp_file(model_bytes))
    compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    return NumpyEngine(lambda x: compiled(x)[0])


def nncf_engine(backbone, calibration, threads: int):
    import nncf
    import openvino

    core = openvino.Core()
    model = core.read_model(_tmp_file(backbone_to_onnx(backbone).SerializeToString()))
    dataset = nncf.Dataset([to_tensor([c]).numpy() for c in calibration])
    quantized = nncf.quantize(model, dataset, subset_size=len(calibration))
    compiled = core.compile_model(quantized, "CPU", {"INFERENCE_NUM_THREADS": threads})
    return NumpyEngine(lambda x: compiled(x)[0])


def pt2e_engine(backbone, calibration):
    """torchao's pt2e static quantization with X86InductorQuantizer, compiled by inductor (int8 kernels)."""
    import copy

    from torch.export import Dim
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    from twintrack.runtime.onnx_graph import inference_copy

    net = inference_copy(backbone)
    dims = {"images": {0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC}}
    exported = torch.export.export(net, (to_tensor(calibration[:2]),), dynamic_shapes=dims).module()
    quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    for crop in calibration:
        prepared(to_tensor([crop]))
    compiled = torch.compile(convert_pt2e(copy.deepcopy(prepared)))
    return lambda x: compiled(x)


_TMP = []


def _tmp_file(data: bytes) -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False)
    handle.write(data)
    handle.close()
    _TMP.append(handle.name)
    return handle.name


def time_engines(engines: dict, inputs: dict, rounds: int, reps: int) -> dict:
    best = {(e, i): float("inf") for e in engines for i in inputs}
    with torch.no_grad():
        for name, engine in engines.items():  # warm-up: first calls allocate and pick kernels
            for x in inputs.values():
                engine(x)
                engine(x)
        for _ in range(rounds):
            for name, engine in engines.items():
                for label, x in inputs.items():
                    times = []
                    for _ in range(reps):
                        start = time.perf_counter()
                        engine(x)
                        times.append(time.perf_counter() - start)
                    best[name, label] = min(best[name, label], 1000 * float(np.median(times)))
    return best


def accuracy(engine, reference, head, exemplars, searches) -> dict:
    with torch.no_grad():
        feats = [(engine(to_tensor([z])).float(), engine(to_tensor([x])).float()) for z, x in zip(exemplars, searches)]
    same, shifts, peak_err, feat_err = 0, [], [], []
    for (fz, fx), (rz, rx) in zip(feats, reference):
        with torch.no_grad():
            response, ref = head(fz, fx)[0, 0], head(rz, rx)[0, 0]
        p, q = np.unravel_index(int(response.argmax()), response.shape), np.unravel_index(int(ref.argmax()), ref.shape)
        same += p == q
        shifts.append(max(abs(p[0] - q[0]), abs(p[1] - q[1])))
        peak_err.append(abs(float(response.max() - ref.max())))
        feat_err.append(float((fx - rx).norm() / rx.norm()))
    return {"same peak": same / len(feats), "max shift (cells)": max(shifts),
            "peak logit err (median/max)": f"{np.median(peak_err):.3f}/{max(peak_err):.3f}",
            "feature rel. err": f"{np.median(feat_err):.3f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--pairs-per-sequence", type=int, default=4)
    parser.add_argument("--pt2e", action="store_true", help="add torchao pt2e + inductor (compiles for minutes)")
    parser.add_argument("--no-openvino", action="store_true")
    parser.add_argument("--int8-model", default=None, help="int8 ONNX model (default: the shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    net = SiamFCNet().eval()
    load_weights(net, default_weights("siamfc"), arch="siamfc_vggm")
    backbone, cpu = net.backbone, torch.device("cpu")
    int8_bytes = Path(args.int8_model).read_bytes() if args.int8_model else shipped_int8_model(fingerprint(backbone))
    fp32_onnx = backbone_to_onnx(backbone).SerializeToString()
    engines = {
        "torch fp32 NCHW": build_backbone_engine(backbone, "fp32", cpu, channels_last=False),
        "torch fp32 channels_last": build_backbone_engine(backbone, "fp32", cpu),
        "torch bf16 channels_last": build_backbone_engine(backbone, "bf16", cpu),
        "ONNX Runtime fp32": ort_session(fp32_onnx, args.threads),
        "ONNX Runtime int8 QDQ (chosen)": OnnxInt8Engine(int8_bytes, threads=args.threads),
    }
    calibration = None
    if not args.no_openvino or args.pt2e:
        from twintrack.runtime.calibration import calibration_crops

        calibration = calibration_crops(discover(TRAIN), 32, seed=0)
    if not args.no_openvino:
        engines["OpenVINO fp32"] = openvino_engine(fp32_onnx, args.threads)
        engines["OpenVINO int8 (same QDQ file)"] = openvino_engine(int8_bytes, args.threads)
        try:
            engines["OpenVINO + NNCF int8"] = nncf_engine(backbone, calibration, args.threads)
        except ImportError:
            print("nncf not installed: no OpenVINO + NNCF row")
    if args.pt2e:
        start = time.perf_counter()
        engines["torchao pt2e x86 int8 + inductor"] = pt2e_engine(backbone, calibration)
        print(f"pt2e: quantized in {time.perf_counter() - start:.0f} s (compiling on first calls)")

    exemplars, searches = val_pairs(VAL, args.pairs_per_sequence)
    inputs = {"255 x1": to_tensor(searches[:1]), "127 x1": to_tensor(exemplars[:1]), "255 x3": to_tensor(searches[:3])}
    start = time.perf_counter()
    timings = time_engines(engines, inputs, args.rounds, args.reps)
    reference_engine = engines["torch fp32 NCHW"]
    with torch.no_grad():
        reference = [(reference_engine(to_tensor([z])), reference_engine(to_tensor([x])))
                     for z, x in zip(exemplars, searches)]
    base = timings["torch fp32 channels_last", "255 x1"]
    print(f"\n{args.threads} threads, best of {args.rounds} interleaved rounds ({time.perf_counter() - start:.0f} s); "
          f"accuracy on {len(searches)} val pairs (SiamFC responses vs torch fp32)\n")
    print("| runtime | 255 x1 ms | 127 x1 ms | 255 x3 ms | speed-up (255 x1) | same peak | max shift | "
          "peak logit err med/max | feature err |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, engine in engines.items():
        acc = accuracy(engine, reference, net.head, exemplars, searches)
        row = [f"{timings[name, label]:.1f}" for label in inputs]
        print(f"| {name} | {' | '.join(row)} | {base / timings[name, '255 x1']:.2f}x | {acc['same peak']:.2f} | "
              f"{acc['max shift (cells)']} | {acc['peak logit err (median/max)']} | {acc['feature rel. err']} |")


if __name__ == "__main__":
    main()
