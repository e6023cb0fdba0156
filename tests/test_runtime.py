"""The backbone engine (twintrack/runtime): int8 against fp32, deterministic calibration, fallbacks, errors.

Tolerances come from measurement (docs/runtime.md): on 48 val pairs the shipped int8 model kept every SiamFC
response peak in fp32's cell, with peak logits within 0.08 and features within 5% (relative L2).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import make_random_net, moving_target_clip, write_training_set
from twintrack.errors import UserError
from twintrack.models import SiamFCNet, fold_batchnorm
from twintrack.runtime import build_backbone_engine, calibration_crops, cpu, fingerprint, quantize_backbone
from twintrack.runtime.calibration import model_fingerprint, shipped_int8_model
from twintrack.runtime.engine import OnnxInt8Engine, TorchEngine
from twintrack.weights import default_weights, load_weights

pytest.importorskip("onnxruntime", reason="the int8 engine needs onnxruntime: pip install -e '.[test]'")
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


def to_tensor(crops) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().contiguous()


def random_backbone(seed: int = 0):
    """A random-init backbone with non-trivial BatchNorm statistics (so folding matters)."""
    backbone = make_random_net(seed).backbone
    generator = torch.Generator().manual_seed(seed)
    for module in backbone.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
    return backbone.eval()


def synthetic_crops(count: int, size: int = 255, seed: int = 0):
    """Textured squares on noise, at random places: crops with structure, like a tracker's."""
    crops = []
    for i in range(count):
        frames, _ = moving_target_clip(1, (size, size), 64, (60 + 7 * i % 90, 50 + 11 * i % 90), (0, 0),
                                       background="noise" if i % 2 else "smooth", seed=seed + i)
        crops.append(frames[0])
    return crops


@pytest.fixture(scope="module")
def shipped_backbone():
    net = SiamFCNet()
    load_weights(net, default_weights("siamfc"), arch="siamfc_vggm")
    return net


def peaks(head, pairs, engine):
    """SiamFC response maps for (exemplar, search) crop pairs through ``engine``."""
    with torch.no_grad():
        return [head(engine(to_tensor([z])), engine(to_tensor([x])))[0, 0] for z, x in pairs]


# ------------------------------------------------------------------------------------------- int8 accuracy


def test_int8_response_peaks_match_fp32_on_real_val_crops(shared_data, shipped_backbone):
    """Shipped weights and shipped int8 model on val pairs (never used to calibrate): exemplar at frame t, search
    region at frame t + 5 around the box of frame t. Measured: 48/48 same peak cell, peak logit error <= 0.08."""
    from twintrack.data import discover, read_image
    from twintrack.geometry import context_size, crop_and_resize, xywh_to_cxcywh

    pairs = []
    for sequence in discover(shared_data / "sot" / "val"):
        for t in (0, len(sequence.frames) // 2):
            cx, cy, w, h = xywh_to_cxcywh(sequence.boxes[t])
            side = context_size((w, h))
            pairs.append((crop_and_resize(read_image(sequence.frames[t]), (cx, cy), side, 127),
                          crop_and_resize(read_image(sequence.frames[t + 5]), (cx, cy), side * 255 / 127, 255)))
    fp32 = build_backbone_engine(shipped_backbone.backbone, "fp32", CPU)
    int8 = build_backbone_engine(shipped_backbone.backbone, "int8", CPU)
    assert isinstance(int8, OnnxInt8Engine) and int8.precision == "int8"
    head = shipped_backbone.head
    same = 0
    for ref, got in zip(peaks(head, pairs, fp32), peaks(head, pairs, int8)):
        ref_cell = np.unravel_index(int(ref.argmax()), ref.shape)
        got_cell = np.unravel_index(int(got.argmax()), got.shape)
        assert max(abs(a - b) for a, b in zip(ref_cell, got_cell)) <= 1
        assert abs(float(got.max() - ref.max())) < 0.15
        same += ref_cell == got_cell
    assert same >= 0.95 * len(pairs)


def test_int8_features_and_peaks_match_fp32_on_synthetic_crops():
    """Random weights calibrated on synthetic crops: features within 6%, the target's peak in the same cell."""
    net = make_random_net(3).eval()
    backbone = net.backbone
    model = quantize_backbone(backbone, synthetic_crops(16, seed=100))
    int8 = OnnxInt8Engine(model)
    fp32 = build_backbone_engine(backbone, "fp32", CPU)
    searches = synthetic_crops(4, seed=500)
    with torch.no_grad():
        ref, got = fp32(to_tensor(searches)), int8(to_tensor(searches))
    assert got.shape == ref.shape and got.dtype == torch.float32
    assert float((got - ref).norm() / ref.norm()) < 0.06
    # Exemplar: the centre 127 pixels around the pasted square of the first search crop.
    exemplar = [searches[0][60 + 32 - 63 : 60 + 32 + 64, 50 + 32 - 63 : 50 + 32 + 64]]
    with torch.no_grad():
        ref_map = F.conv2d(ref[:1], fp32(to_tensor(exemplar)))[0, 0]
        got_map = F.conv2d(got[:1], int8(to_tensor(exemplar)))[0, 0]
    assert int(ref_map.argmax()) == int(got_map.argmax())


# ------------------------------------------------------------------------------------------- calibration


def test_calibration_is_deterministic_and_depends_on_the_crops(tmp_path):
    backbone = random_backbone(1)
    sequences_root = write_training_set(tmp_path / "train", count=2, frames=5, frame_size=(96, 96), target=24)
    from twintrack.data import discover

    sequences = discover(sequences_root)
    crops = calibration_crops(sequences, count=6, seed=0)
    assert len(crops) == 6 and all(c.shape == (255, 255, 3) and c.dtype == np.uint8 for c in crops)
    again = calibration_crops(sequences, count=6, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(crops, again))
    first, second = quantize_backbone(backbone, crops), quantize_backbone(backbone, again)
    assert first == second  # same crops, same order -> the same model bytes
    other = quantize_backbone(backbone, synthetic_crops(6, seed=9))
    assert other != first
    assert model_fingerprint(first) == fingerprint(backbone)


def test_fingerprint_hashes_the_weights_as_stored_and_differs_between_weights():
    import hashlib

    backbone = random_backbone(2)
    # By hand: every state-dict tensor's name, shape and fp32 bytes, in order. No arithmetic on the weights, so the
    # same weights give the same fingerprint on any CPU (folding BatchNorm rounded differently on an AMD EPYC).
    digest = hashlib.sha256()
    for name, tensor in backbone.state_dict().items():
        array = tensor.float().contiguous().numpy()
        digest.update(f"{name}:{tuple(array.shape)}:".encode())
        digest.update(array.tobytes())
    assert fingerprint(backbone) == digest.hexdigest()
    assert fingerprint(backbone) == fingerprint(random_backbone(2))
    assert fingerprint(backbone) != fingerprint(random_backbone(3))
    assert fingerprint(backbone) != fingerprint(fold_batchnorm(random_backbone(2)))  # pass the network as loaded


def test_shipped_int8_model_fits_the_shipped_weights_and_was_calibrated_on_train(shipped_backbone):
    import json
    from importlib import resources

    data = shipped_int8_model(fingerprint(shipped_backbone.backbone))
    assert data is not None and model_fingerprint(data) == fingerprint(shipped_backbone.backbone)
    table = json.loads(resources.files("twintrack.weights").joinpath("int8.json").read_text())
    (entry,) = table.values()
    assert "train" in entry["calibration"] and "val" not in entry["calibration"]
    # The MDNet weights share the SiamFC backbone, so the same model serves them.
    from twintrack.models.mdnet import MDNet

    mdnet = MDNet()
    load_weights(mdnet, default_weights("mdnet"), arch="mdnet_vggm")
    assert fingerprint(mdnet.backbone) == fingerprint(shipped_backbone.backbone)


# ------------------------------------------------------------------------------------------- engines, fallback


def test_fp32_engine_equals_the_backbone_and_leaves_it_unchanged():
    backbone = random_backbone(4)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    images = to_tensor(synthetic_crops(2, size=127))
    with torch.no_grad():
        expected = backbone(images)
    for channels_last in (True, False):
        engine = build_backbone_engine(backbone, "fp32", CPU, channels_last=channels_last)
        assert isinstance(engine, TorchEngine) and engine.precision == "fp32"
        torch.testing.assert_close(engine(images), expected, rtol=1e-4, atol=1e-3)
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())


def test_bf16_engine_stays_close_to_fp32():
    backbone = random_backbone(5)
    images = to_tensor(synthetic_crops(1))
    fp32 = build_backbone_engine(backbone, "fp32", CPU)(images)
    bf16 = build_backbone_engine(backbone, "bf16", CPU)(images)
    assert bf16.dtype == torch.float32
    assert float((bf16 - fp32).norm() / fp32.norm()) < 0.03


def test_auto_falls_back_to_fp32_without_vnni_or_bf16_and_gives_fp32_results(monkeypatch, shipped_backbone):
    backbone = shipped_backbone.backbone
    images = to_tensor(synthetic_crops(1))
    reference = build_backbone_engine(backbone, "fp32", CPU)(images)
    monkeypatch.setattr(cpu, "native_int8", lambda: False)
    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    engine = build_backbone_engine(backbone, "auto", CPU)
    assert engine.precision == "fp32" and engine.matmul_dtype == torch.float32
    assert torch.equal(engine(images), reference)
    monkeypatch.setattr(cpu, "native_bf16", lambda: True)  # a CPU with bf16 units but no VNNI
    assert build_backbone_engine(backbone, "auto", CPU).precision == "bf16"


def test_auto_takes_int8_where_vnni_and_a_calibration_exist(monkeypatch, shipped_backbone):
    monkeypatch.setattr(cpu, "native_int8", lambda: True)
    engine = build_backbone_engine(shipped_backbone.backbone, "auto", CPU)
    assert isinstance(engine, OnnxInt8Engine)
    images = to_tensor(synthetic_crops(2))
    explicit = build_backbone_engine(shipped_backbone.backbone, "int8", CPU)
    assert torch.equal(engine(images), explicit(images))  # deterministic, same model
    # User weights without a calibration: auto falls back quietly and says why in engine.note.
    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fallback = build_backbone_engine(random_backbone(6), "auto", CPU)
    assert fallback.precision == "fp32" and "no int8 calibration" in fallback.note


def test_int8_without_a_calibration_warns_in_one_line_and_runs_fp32(monkeypatch):
    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no int8 calibration for these weights") as record:
        engine = build_backbone_engine(random_backbone(7), "int8", CPU)
    assert engine.precision == "fp32" and "\n" not in str(record[0].message)


def test_missing_onnxruntime_auto_is_silent_and_int8_names_the_extra(monkeypatch, shipped_backbone):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    monkeypatch.setattr(cpu, "native_int8", lambda: True)
    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    engine = build_backbone_engine(shipped_backbone.backbone, "auto", CPU)
    assert engine.precision == "fp32"
    with pytest.raises(UserError, match=r"pip install 'twintrack\[onnx\]'") as err:
        build_backbone_engine(shipped_backbone.backbone, "int8", CPU)
    assert "\n" not in str(err.value)


def test_int8_model_file_errors_are_one_line(tmp_path):
    backbone = random_backbone(8)
    other = quantize_backbone(random_backbone(9), synthetic_crops(2, seed=1))
    path = tmp_path / "other_int8.onnx"
    path.write_bytes(other)
    with pytest.raises(UserError, match="calibrated for other weights"):
        build_backbone_engine(backbone, "int8", CPU, int8_model=str(path))
    with pytest.raises(UserError, match="does not exist"):
        build_backbone_engine(backbone, "int8", CPU, int8_model=str(tmp_path / "missing.onnx"))
    own = tmp_path / "own_int8.onnx"
    own.write_bytes(quantize_backbone(backbone, synthetic_crops(2, seed=1)))
    assert build_backbone_engine(backbone, "int8", CPU, int8_model=str(own)).precision == "int8"


def test_an_older_int8_model_that_records_the_folded_fingerprint_still_loads(tmp_path):
    import onnx

    from twintrack.runtime.calibration import folded_fingerprint

    backbone = random_backbone(8)
    model = onnx.load_from_string(quantize_backbone(backbone, synthetic_crops(2, seed=1)))
    for prop in model.metadata_props:
        if prop.key == "twintrack.fingerprint":
            assert prop.value == fingerprint(backbone)
            prop.value = folded_fingerprint(backbone)  # what the earlier export wrote
    old = tmp_path / "old_int8.onnx"
    old.write_bytes(model.SerializeToString())
    assert folded_fingerprint(backbone) != fingerprint(backbone)
    assert build_backbone_engine(backbone, "int8", CPU, int8_model=str(old)).precision == "int8"
    with pytest.raises(UserError, match="calibrated for other weights"):  # and still not for other weights
        build_backbone_engine(random_backbone(9), "int8", CPU, int8_model=str(old))


def test_bad_precision_and_int8_on_a_gpu_are_one_line_errors():
    backbone = random_backbone(10)
    with pytest.raises(UserError, match="precision must be one of auto, fp32, bf16, int8"):
        build_backbone_engine(backbone, "fp16", CPU)
    with pytest.raises(UserError, match="int8 runs on CPU only"):
        build_backbone_engine(backbone, "int8", torch.device("cuda"))


# ------------------------------------------------------------------------------------------- trackers


def track(tracker, frames, box):
    tracker.init(frames[0], box)
    return np.array([tracker.update(frame).box for frame in frames[1:]])


@pytest.mark.parametrize("name", ["siamfc", "mdnet"])
def test_trackers_forced_fallback_equal_fp32_and_int8_stays_close(monkeypatch, clip, name):
    """Shipped weights on the synthetic clip: ``auto`` on a CPU without VNNI/BF16 gives fp32's boxes exactly;
    ``int8`` follows the same target (boxes within 3 pixels; measured: SiamFC 0, MDNet 0.5 px on this clip)."""
    from twintrack.app.api import create_tracker

    frames, gt = clip
    fp32 = track(create_tracker(name, device="cpu", seed=0, precision="fp32"), frames, gt[0])
    int8_tracker = create_tracker(name, device="cpu", seed=0, precision="int8")
    engine = int8_tracker.backbone_engine if name == "siamfc" else int8_tracker.extractor.engine
    assert engine.precision == "int8"
    int8 = track(int8_tracker, frames, gt[0])
    assert np.abs(int8 - fp32).max() <= 3.0
    monkeypatch.setattr(cpu, "native_int8", lambda: False)
    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    fallback_tracker = create_tracker(name, device="cpu", seed=0)
    engine = fallback_tracker.backbone_engine if name == "siamfc" else fallback_tracker.extractor.engine
    assert engine.precision == "fp32"
    np.testing.assert_array_equal(track(fallback_tracker, frames, gt[0]), fp32)
