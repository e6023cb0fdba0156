"""MDNet's box regression on top of an offline prior (``bbreg_prior``, issue 11): SiamFC's offline regression was
fitted on channel-major RoIAlign vectors of the same backbone at the same scale; MDNet pools cells first, so the
prior is reordered once at construction. Whether the preset turns it on is decided by bench/selection.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

import twintrack
from conftest import moving_target_clip
from test_mdnet import CPU, make_net, make_tracker, run
from twintrack.configs import load_config
from twintrack.models.mdnet import MDNet, cells_first_order
from twintrack.tracker.bbreg import BoxRegressor, load_prior
from twintrack.tracker.mdnet import MDNetTracker

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cells_first_order_maps_each_cells_first_entry_to_its_channel_major_one():
    # 2 channels x 9 bins: channel-major is c * 9 + b, cells first is b * 2 + c.
    order = cells_first_order(18)
    assert order.tolist() == [0, 9, 1, 10, 2, 11, 3, 12, 4, 13, 5, 14, 6, 15, 7, 16, 8, 17]
    feature_map = torch.rand(1, 512, 20, 20, generator=torch.Generator().manual_seed(0))
    feature_map = feature_map.contiguous(memory_format=torch.channels_last)
    rois = torch.tensor([[0.0, 10, 12, 70, 90], [0.0, 40, 30, 100, 70]])
    channel_major = MDNet.pool(feature_map, rois).numpy()
    cells_first = MDNet.pool(feature_map, rois, cells_first=True).numpy()
    np.testing.assert_allclose(cells_first, channel_major[:, cells_first_order(512 * 9)], rtol=1e-6)


def test_a_reordered_regression_predicts_the_same_deltas_from_reordered_features():
    rng = np.random.default_rng(0)
    regression = BoxRegressor.from_arrays(rng.normal(size=(18, 4)), rng.normal(size=18), rng.normal(size=4))
    features = rng.normal(size=(5, 18))
    order = cells_first_order(18)
    np.testing.assert_allclose(regression.reordered(order).deltas(features[:, order]), regression.deltas(features))
    fitted = BoxRegressor(10.0, prior=regression)
    fitted.fit(features, np.tile([10.0, 10, 20, 20], (5, 1)) + rng.normal(size=(5, 4)), [10.0, 10, 20, 20])
    with pytest.raises(ValueError, match="before the fit"):
        fitted.reordered(order)


def test_auto_is_siamfcs_shipped_prior_reordered_for_the_shipped_weights_and_none_otherwise():
    shipped = twintrack.create_tracker("mdnet", device="cpu", bbreg_prior="auto")
    siamfc_prior = load_prior(load_config("siamfc"), shipped.net.backbone)  # use_bbreg on, bbreg_prior auto
    assert siamfc_prior is not None and shipped.extractor.cells_first
    features = np.random.default_rng(1).normal(size=(3, 512 * 9))
    np.testing.assert_allclose(shipped.regressor_prior.deltas(features[:, cells_first_order(512 * 9)]),
                               siamfc_prior.deltas(features), atol=1e-12)
    # The crop path pools 107-pixel crops, other features than the prior's; random conv layers are another backbone.
    assert twintrack.create_tracker("mdnet", device="cpu", bbreg_prior="auto", feature_path="crop").regressor_prior \
        is None
    assert make_tracker(bbreg_prior="auto").regressor_prior is None
    # Off in the preset; nothing is read with use_bbreg off.
    assert twintrack.create_tracker("mdnet", device="cpu").regressor_prior is None
    assert twintrack.create_tracker("mdnet", device="cpu", bbreg_prior="auto", use_bbreg=False).regressor_prior \
        is None


def test_the_first_frame_fit_is_made_on_top_of_a_prior_file(tmp_path):
    frames, gt = moving_target_clip(5, (96, 96), 24, (20, 24), (2, 1), background="noise", seed=1)
    dims = 512 * 9
    weights = np.zeros((dims, 4), np.float32)
    weights[:, 2] = 0.01  # the prior's width correction grows with the features' sum
    for name, prior_weights in (("constant", np.zeros_like(weights)), ("varying", weights)):
        save_file({"weights": prior_weights, "feature_mean": np.zeros(dims, np.float32),
                   "target_mean": np.array([0, 0, np.log(1.1), 0], np.float32)}, tmp_path / f"{name}.safetensors")
    plain_boxes, _ = run(make_tracker(), frames, gt[0])
    constant = make_tracker(bbreg_prior=str(tmp_path / "constant.safetensors"))
    constant_boxes, _ = run(constant, frames, gt[0])
    assert constant.regressor.prior is constant.regressor_prior is not None
    # A constant prior is taken back out by the first frame's intercept: the same boxes as without one.
    np.testing.assert_allclose(constant_boxes, plain_boxes, atol=1e-6)
    varying_boxes, _ = run(make_tracker(bbreg_prior=str(tmp_path / "varying.safetensors")), frames, gt[0])
    assert not np.allclose(varying_boxes[1:], plain_boxes[1:])
    # The file is read as given: in the pooled order the tracker uses (cells first), reordered from channel-major.
    tracker = MDNetTracker(make_net(), load_config("mdnet", {"bbreg_prior": str(tmp_path / "varying.safetensors")}),
                           CPU)
    np.testing.assert_array_equal(tracker.regressor_prior.weights, weights[cells_first_order(dims)])


def test_a_prior_for_other_features_is_a_one_line_error_for_either_tracker(tmp_path):
    from twintrack.errors import UserError

    save_file({"weights": np.zeros((6, 4), np.float32), "feature_mean": np.zeros(6, np.float32),
               "target_mean": np.zeros(4, np.float32)}, tmp_path / "small.safetensors")
    small = str(tmp_path / "small.safetensors")
    for name in ("siamfc", "mdnet"):
        with pytest.raises(UserError, match="reads 6 features per box, these weights pool 4608"):
            twintrack.create_tracker(name, device="cpu", use_bbreg=True, bbreg_prior=small)
