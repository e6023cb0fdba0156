"""models/: VGG-M shapes, the grouped cross-correlation, SiamFCNet and BatchNorm folding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from twintrack.models import VGGM, SiamFCNet, cross_correlation, fold_batchnorm, init_weights


@pytest.fixture(scope="module")
def backbone():
    torch.manual_seed(0)
    net = VGGM().eval()
    init_weights(net)
    return net


@pytest.mark.parametrize("size, expected", [(127, 11), (255, 27), (239, 25)])
def test_vggm_output_shapes(backbone, size, expected):
    with torch.no_grad():
        out = backbone(torch.rand(2, 3, size, size) * 255)
    assert out.shape == (2, 512, expected, expected)
    assert VGGM.output_size(size) == expected


@pytest.mark.parametrize("size", [87, 100, 127, 143, 159, 200, 255, 271])
def test_vggm_output_size_agrees_with_forward(backbone, size):
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, size, size))
    assert out.shape[-1] == out.shape[-2] == VGGM.output_size(size)


def test_vggm_output_size_for_rectangular_input(backbone):
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 127, 255))
    assert out.shape == (1, 512, VGGM.output_size(127), VGGM.output_size(255))


def test_vggm_total_stride_is_eight():
    # One more step of 8 input pixels is one more feature cell.
    for size in (127, 135, 143, 255, 263):
        assert VGGM.output_size(size + 8) == VGGM.output_size(size) + 1
    assert VGGM.total_stride == 8


def loop_cross_correlation(exemplar_feat, search_feat):
    """The slow obvious version: one conv2d per (exemplar, search map) pair."""
    n = exemplar_feat.shape[0]
    k = search_feat.shape[0] // n
    outputs = []
    for i in range(n):
        for j in range(k):
            outputs.append(F.conv2d(search_feat[i * k + j : i * k + j + 1], exemplar_feat[i : i + 1]))
    return torch.cat(outputs)


@pytest.mark.parametrize("n, k", [(2, 3), (3, 1), (1, 4)])
def test_cross_correlation_equals_per_sample_loop(n, k):
    torch.manual_seed(n * 10 + k)
    exemplar_feat = torch.randn(n, 8, 5, 4)
    search_feat = torch.randn(n * k, 8, 13, 11)
    got = cross_correlation(exemplar_feat, search_feat)
    expected = loop_cross_correlation(exemplar_feat, search_feat)
    assert got.shape == (n * k, 1, 13 - 5 + 1, 11 - 4 + 1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_cross_correlation_hand_computed():
    # A 1x1 exemplar of value 2 on one channel just scales the search map.
    exemplar = torch.tensor([[[[2.0]]]])
    search = torch.arange(9.0).reshape(1, 1, 3, 3)
    torch.testing.assert_close(cross_correlation(exemplar, search), 2 * search)
    # A 2x2 all-ones exemplar sums each 2x2 window.
    ones = torch.ones(1, 1, 2, 2)
    expected = torch.tensor([[[[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]]]], dtype=torch.float32)
    torch.testing.assert_close(cross_correlation(ones, search), expected)


def test_cross_correlation_is_differentiable():
    exemplar_feat = torch.randn(2, 4, 3, 3, requires_grad=True)
    search_feat = torch.randn(6, 4, 7, 7, requires_grad=True)
    cross_correlation(exemplar_feat, search_feat).sum().backward()
    assert exemplar_feat.grad is not None and exemplar_feat.grad.abs().sum() > 0
    assert search_feat.grad is not None and search_feat.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def siamfc():
    torch.manual_seed(0)
    net = SiamFCNet().eval()
    init_weights(net.backbone)
    return net


def test_siamfc_response_is_17x17(siamfc):
    with torch.no_grad():
        one_each = siamfc(torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255)
        three_scales = siamfc(torch.rand(1, 3, 127, 127) * 255, torch.rand(3, 3, 255, 255) * 255)
    assert one_each.shape == (2, 1, 17, 17)
    assert three_scales.shape == (3, 1, 17, 17)
    assert torch.isfinite(one_each).all() and torch.isfinite(three_scales).all()


def test_siamfc_forward_is_embed_then_head(siamfc):
    torch.manual_seed(1)
    exemplars = torch.rand(1, 3, 127, 127) * 255
    searches = torch.rand(2, 3, 143, 143) * 255
    with torch.no_grad():
        direct = siamfc(exemplars, searches)
        staged = siamfc.head(siamfc.embed(exemplars), siamfc.embed(searches))
    assert direct.shape == (2, 1, 3, 3)
    torch.testing.assert_close(direct, staged)


def randomise_batchnorm(module: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=generator))
            m.running_var.copy_(torch.rand(c, generator=generator) * 2 + 0.2)
            m.weight.data.copy_(torch.rand(c, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=generator))


def test_fold_batchnorm_keeps_the_backbone_function():
    torch.manual_seed(0)
    net = VGGM().double()
    randomise_batchnorm(net)
    net.eval()
    images = torch.rand(2, 3, 127, 127, dtype=torch.float64)
    with torch.no_grad():
        before = net(images)
        fold_batchnorm(net)
        after = net(images)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 3
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_fold_batchnorm_keeps_the_siamfc_response_in_float32():
    torch.manual_seed(0)
    net = SiamFCNet()
    init_weights(net.backbone)
    randomise_batchnorm(net, seed=1)
    net.eval()
    exemplars = torch.rand(1, 3, 127, 127)
    searches = torch.rand(3, 3, 255, 255)
    with torch.no_grad():
        before = net(exemplars, searches)
        fold_batchnorm(net)
        after = net(exemplars, searches)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    scale = before.abs().max().item()
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4 * max(1.0, scale))
