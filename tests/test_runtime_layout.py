"""The int8 engine's memory layouts: ONNX Runtime's NCHW output is returned as is (no channels_last copy), and
every consumer gives the same numbers as with the channels_last features the engine used to return.

Needs the shipped weights and int8 model only (no shared data).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import twintrack
from tests.conftest import moving_target_clip
from twintrack.geometry import crop_and_resize
from twintrack.models import SiamFCNet
from twintrack.runtime import build_backbone_engine
from twintrack.runtime.engine import OnnxInt8Engine
from twintrack.runtime.onnx_graph import INPUT_NAME
from twintrack.weights import default_weights, load_weights

pytest.importorskip("onnxruntime", reason="the int8 engine needs onnxruntime: pip install -e '.[test]'")
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def int8_engine():
    net = SiamFCNet()
    load_weights(net, default_weights("siamfc"), arch="siamfc_vggm")
    engine = build_backbone_engine(net.backbone.eval(), "int8", CPU)
    assert isinstance(engine, OnnxInt8Engine)
    return engine


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(4, (160, 192), 32, (60, 50), (3, 2), background="noise", seed=7)


def test_int8_engine_returns_onnx_runtimes_nchw_output_unchanged(int8_engine):
    crops = np.random.default_rng(0).integers(0, 256, (2, 255, 255, 3), dtype=np.uint8)
    nchw = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)
    direct = torch.from_numpy(int8_engine.session.run(None, {INPUT_NAME: nchw})[0])
    channels_last = torch.from_numpy(crops.astype(np.float32)).permute(0, 3, 1, 2)  # what SiamFC's embed feeds
    for images in (torch.from_numpy(nchw), channels_last, torch.from_numpy(crops).permute(0, 3, 1, 2)):
        features = int8_engine(images)
        assert features.is_contiguous() and features.dtype == torch.float32
        assert torch.equal(features, direct)  # within 0 of what ONNX Runtime wrote
        # ... and of the channels_last copy the engine used to return: a layout, not a value, changed
        assert torch.equal(features, features.contiguous(memory_format=torch.channels_last))


@pytest.mark.parametrize("scale_mode", ["pyramid", "search3"])
def test_siamfc_correlation_is_the_same_for_either_layout(scale_mode, clip):
    frames, gt = clip
    tracker = twintrack.create_tracker("siamfc", device="cpu", precision="int8", scale_mode=scale_mode)
    assert isinstance(tracker.backbone_engine, OnnxInt8Engine)
    tracker.init(frames[0], gt[0])
    features = tracker.embed(tracker.search_crop(frames[1]))
    assert features.is_contiguous()  # NCHW, as ONNX Runtime returns it
    now = tracker._responses(features)
    before = tracker._responses(features.contiguous(memory_format=torch.channels_last))
    # The correlation's matrix product reads the search map in either layout without a copy (pyramid: one map)
    # and gives the same bits (measured; BLAS packs both operand layouts alike).
    assert np.array_equal(now, before)


def test_mdnet_region_map_is_channels_last_with_the_int8_engine(clip):
    frames, gt = clip
    tracker = twintrack.create_tracker("mdnet", device="cpu", precision="int8", seed=0)
    assert isinstance(tracker.extractor.engine, OnnxInt8Engine)
    box = gt[0]
    avg = frames[0].reshape(-1, 3).mean(axis=0)
    region = tracker.extractor.region(frames[0], box, avg)
    # RoIAlign reads cells as rows of channels: made channels_last once per region, not once per pool() call.
    assert region.feature_map.is_contiguous(memory_format=torch.channels_last)
    size = tracker.config.region_size
    crop = crop_and_resize(frames[0], box[:2] + box[2:] / 2, size / region.scale, size, avg)
    expected = tracker.extractor.engine(torch.from_numpy(crop).permute(2, 0, 1)[None].float())
    assert torch.equal(region.feature_map, expected)
