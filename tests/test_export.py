"""`twintrack export`: the ONNX files give torch's responses in ONNX Runtime; contract.json; the int8 file; errors.

Tolerances: fp32 ONNX vs torch differ by float summation order only (measured: max 5e-6 on features of magnitude
~4, 2e-6 on MDNet logits); we allow 1e-4 relative to the largest value.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import make_random_net, moving_target_clip, write_training_set
from twintrack.cli.main import main
from twintrack.models.mdnet import MDNet
from twintrack.runtime.export import export_mdnet, export_siamfc
from twintrack.app.registry import get_tracker

ort = pytest.importorskip("onnxruntime", reason="export tests need onnxruntime: pip install -e '.[test]'")
pytest.importorskip("onnx", reason="export tests need onnx: pip install -e '.[test]'")


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def close(got: np.ndarray, expected: torch.Tensor, rel: float = 1e-4) -> None:
    expected = expected.detach().numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= rel * np.abs(expected).max()


def crops_of_clip(size: int, count: int, seed: int) -> np.ndarray:
    frames, _ = moving_target_clip(count, (size, size), size // 3, (size // 3, size // 3), (3, 2),
                                   background="noise", seed=seed)
    return np.stack(frames).transpose(0, 3, 1, 2).astype(np.float32)


def test_siamfc_export_gives_torch_responses_in_onnxruntime(tmp_path):
    net = make_random_net(0).eval()
    config = get_tracker("siamfc").load_config()
    contract_path = export_siamfc(net, config, tmp_path)
    exemplars, searches = crops_of_clip(127, 1, seed=1), crops_of_clip(255, 3, seed=2)
    backbone = session(tmp_path / "backbone.onnx")
    exemplar_feat = backbone.run(None, {"images": exemplars})[0]
    search_feat = backbone.run(None, {"images": searches})[0]
    with torch.no_grad():
        torch_exemplar, torch_search = net.embed(torch.from_numpy(exemplars)), net.embed(torch.from_numpy(searches))
        torch_response = net.head(torch_exemplar, torch_search)
    close(exemplar_feat, torch_exemplar)
    close(search_feat, torch_search)
    response = session(tmp_path / "siamfc_head.onnx").run(
        None, {"exemplar_feat": exemplar_feat, "search_feat": search_feat})[0]
    assert response.shape == (3, 1, 17, 17)
    close(response, torch_response)
    for got, expected in zip(response[:, 0], torch_response[:, 0]):
        assert int(got.argmax()) == int(expected.argmax())

    contract = json.loads(contract_path.read_text())
    assert contract["backbone_input"]["colour_order"] == "RGB"
    assert contract["backbone_input"]["value_range"] == [0, 255] and contract["backbone_input"]["layout"] == "NCHW"
    assert contract["crops"]["exemplar_size"] == 127 and contract["crops"]["search_size"] == 255
    assert contract["crops"]["context"] == 0.5 and contract["backbone_output"]["total_stride"] == 8
    assert contract["files"] == {"backbone": "backbone.onnx", "head": "siamfc_head.onnx"}
    assert contract["config"]["scale_num"] == config.scale_num


def test_mdnet_export_scores_boxes_as_torch_does(tmp_path):
    torch.manual_seed(0)
    net = MDNet(num_branches=1).eval()
    contract_path = export_mdnet(net, get_tracker("mdnet").load_config(), tmp_path)
    region = crops_of_clip(255, 1, seed=3)
    features = session(tmp_path / "backbone.onnx").run(None, {"images": region})[0]
    # Boxes inside, across the border and around the whole region (RoIAlign's edge rules).
    rois = np.array([[50, 60, 120, 140], [0, 0, 255, 255], [100, 100, 164, 164], [-20, -10, 40, 30]], np.float32)
    scores = session(tmp_path / "mdnet_head.onnx").run(None, {"features": features, "rois": rois})[0]
    with torch.no_grad():
        torch_features = net.features(torch.from_numpy(region))
        batch_rois = torch.cat([torch.zeros(len(rois), 1), torch.from_numpy(rois)], dim=1)
        torch_scores = net.classify(net.pool(torch_features, batch_rois))
    close(features, torch_features)
    close(scores, torch_scores)
    contract = json.loads(contract_path.read_text())
    assert contract["crops"]["region_size"] == 255 and contract["head"]["roi_align"]["output_size"] == 3


def test_cli_export_with_int8_calibrated_on_training_data(tmp_path, random_weights, capsys):
    from twintrack.models import SiamFCNet
    from twintrack.runtime import build_backbone_engine
    from twintrack.weights import load_weights

    train = write_training_set(tmp_path / "train", count=2, frames=4, frame_size=(96, 96), target=24)
    out = tmp_path / "export"
    status = main(["export", "siamfc", "--out", str(out), "--weights", str(random_weights), "--int8",
                   "--calib-data", str(train), "--calib-frames", "4"])
    assert status == 0
    assert "backbone_int8.onnx" in capsys.readouterr().out
    contract = json.loads((out / "contract.json").read_text())
    assert contract["files"]["backbone_int8"] == "backbone_int8.onnx"
    # The tracker's engine takes the file for these weights (its recorded fingerprint matches).
    net = SiamFCNet()
    load_weights(net, random_weights, arch="siamfc_vggm")
    engine = build_backbone_engine(net.backbone, "int8", torch.device("cpu"), int8_model=str(out / "backbone_int8.onnx"))
    assert engine.precision == "int8"
    searches = crops_of_clip(255, 1, seed=4)
    with torch.no_grad():
        reference = net.backbone.eval()(torch.from_numpy(searches))
    got = engine(torch.from_numpy(searches))
    assert float((got - reference).norm() / reference.norm()) < 0.1


def test_cli_export_of_shipped_weights_copies_the_shipped_int8_model(tmp_path):
    from importlib import resources

    assert main(["export", "mdnet", "--out", str(tmp_path), "--int8"]) == 0
    shipped = resources.files("twintrack.weights").joinpath("vggm_int8.onnx").read_bytes()
    assert (tmp_path / "backbone_int8.onnx").read_bytes() == shipped
    assert {p.name for p in tmp_path.iterdir()} == {"backbone.onnx", "backbone_int8.onnx", "mdnet_head.onnx",
                                                     "contract.json"}


@pytest.mark.parametrize("argv, message", [
    (["--int8"], "--int8 needs --calib-data DIR"),
    (["--calib-data", "somewhere"], "--calib-data is used with --int8 only"),
    (["--int8", "--calib-data", "no_such_folder"], "no_such_folder"),
])
def test_cli_export_errors_are_one_line(tmp_path, random_weights, capsys, argv, message):
    status = main(["export", "siamfc", "--out", str(tmp_path / "x"), "--weights", str(random_weights), *argv])
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1
