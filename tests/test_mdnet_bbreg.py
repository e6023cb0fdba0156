"""The pooled order MDNet's box regression reads (cells first, as RoIAlign produces it) and the one-line error for
an offline regression file (``bbreg_prior``) fitted for other features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

import twintrack
from twintrack.models.mdnet import MDNet, cells_first_order

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


def test_a_prior_for_other_features_is_a_one_line_error(tmp_path):
    from twintrack.errors import UserError

    save_file({"weights": np.zeros((6, 4), np.float32), "feature_mean": np.zeros(6, np.float32),
               "target_mean": np.zeros(4, np.float32)}, tmp_path / "small.safetensors")
    small = str(tmp_path / "small.safetensors")
    with pytest.raises(UserError, match="reads 6 features per box, these weights pool 4608"):
        twintrack.create_tracker("siamfc", device="cpu", use_bbreg=True, bbreg_prior=small)
