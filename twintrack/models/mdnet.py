"""MDNet (Nam & Han 2016) on the shared VGG-M backbone, with RT-MDNet's RoIAlign single-pass features.

``MDNet.features(images)`` runs the conv layers once per search region; ``MDNet.pool(feat, rois)`` cuts every
candidate box out of that map with RoIAlign (``roi_align``: torchvision's aligned RoIAlign as one weighted
``embedding_bag``, about 10x faster on CPU); ``MDNet.classify(pooled, branch)`` runs the fully
connected layers (fc4, fc5) and one two-way domain branch (fc6). Online updates call ``classify`` alone on cached
pooled features, as py-MDNet's ``forward(x, in_layer='fc4')``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from twintrack.models.backbone import VGGM

POOLED_SIZE = 3  # RoIAlign output cells per side (RT-MDNet uses 3x3)

# Where conv3 cell (0, 0) is centred on the input, in continuous pixel coordinates: conv1 (k7 s2), pool (k3 s2),
# conv2 (k5 s2), conv3 (k3 s1) put cell i's receptive-field centre on pixel index 8 i + 21, i.e. at 8 i + 21.5.
FEATURE_ORIGIN = 21.5


def _bilinear_taps(start: torch.Tensor, bin_size: torch.Tensor, size: int, bins: int, samples: int):
    """Along one axis: the feature rows (or columns) each output bin reads and their weights, (K, bins, 2 * samples).

    Each bin averages ``samples`` points spaced evenly inside it; each point is a linear interpolation of its two
    neighbouring cells. Edge rules copy torchvision's CPU kernel exactly: a point beyond one cell outside the map
    reads zero, a point within that cell reads the border cell, and the last cell is its own upper neighbour.
    """
    bin_index = torch.arange(bins, dtype=start.dtype, device=start.device)
    within_bin = (torch.arange(samples, dtype=start.dtype, device=start.device) + 0.5) / samples
    points = start[:, None, None] + (bin_index[:, None] + within_bin) * bin_size[:, None, None]  # (K, bins, samples)
    inside = (points >= -1.0) & (points <= size)
    points = points.clamp(min=0)
    low = points.floor().long()
    at_end = low >= size - 1
    low = low.clamp(max=size - 1)
    points = torch.where(at_end, low.to(points.dtype), points)
    high = torch.where(at_end, low, low + 1)
    frac = points - low
    weight = inside.to(points.dtype) / samples  # 1 / samples per point: the bin's average
    index = torch.stack([low, high], dim=-1).flatten(2)
    weights = torch.stack([(1 - frac) * weight, frac * weight], dim=-1).flatten(2)
    return index, weights


def roi_align(feature_map: torch.Tensor, rois: torch.Tensor, output_size: int, spatial_scale: float,
              sampling_ratio: int) -> torch.Tensor:
    """``torchvision.ops.roi_align(..., aligned=True)`` with a fixed ``sampling_ratio``, as one embedding_bag.

    (N, C, H, W) features, (K, 5) rois (batch index, x1, y1, x2, y2) -> (K, C, out, out). Bilinear sampling is
    separable, so every output bin is a weighted sum of at most (2 samples x 2 taps)^2 = 16 feature cells: a
    weighted ``embedding_bag`` over the map's cells as rows of C channels. Torchvision's CPU kernel walks the
    channels one at a time in scalar code, single-threaded; this is one vectorised gather-and-sum (about 10x
    faster on CPU for the few hundred boxes per frame), differentiable in the features like the original. Agrees
    with torchvision to float rounding, gradients included (tests/test_mdnet_speed.py).
    """
    n, c, h, w = feature_map.shape
    k = len(rois)
    boxes = rois[:, 1:].to(feature_map.dtype) * spatial_scale - 0.5  # aligned=True: pixel centres at +0.5
    x1, y1, x2, y2 = boxes.unbind(1)
    rows, row_w = _bilinear_taps(y1, (y2 - y1) / output_size, h, output_size, sampling_ratio)
    cols, col_w = _bilinear_taps(x1, (x2 - x1) / output_size, w, output_size, sampling_ratio)
    # Bin (i, j) of box r reads cell (row, col) of image b at table row b*H*W + row*W + col.
    first = (rois[:, 0].long() * (h * w))[:, None, None, None, None]
    index = first + rows[:, :, None, :, None] * w + cols[:, None, :, None, :]  # (K, out, out, taps, taps)
    weight = row_w[:, :, None, :, None] * col_w[:, None, :, None, :]
    bags, taps = k * output_size * output_size, (2 * sampling_ratio) ** 2
    # Rows of C channels: a view for channels_last maps (the tracker's), one copy otherwise.
    table = feature_map.permute(0, 2, 3, 1).reshape(n * h * w, c)
    if not table.is_contiguous():  # embedding_bag's fast kernel needs contiguous rows
        table = table.contiguous()
    pooled = F.embedding_bag(index.reshape(bags, taps), table, mode="sum",
                             per_sample_weights=weight.reshape(bags, taps))
    return pooled.view(k, output_size, output_size, c).permute(0, 3, 1, 2)


def normalize(pooled: torch.Tensor) -> torch.Tensor:
    """Scale each box's pooled vector to unit RMS.

    The SiamFC-trained conv3 has no fixed output scale (the correlation's gain absorbs it), and fc layers on raw
    features saw logits in the tens and a diverging loss; per-box normalisation makes fc training independent of
    that scale (MDNet's LRN played a similar role).
    """
    return pooled * torch.rsqrt(pooled.pow(2).mean(dim=1, keepdim=True) + 1e-6)


def dropout(x: torch.Tensor, module: nn.Dropout, generator: torch.Generator | None) -> torch.Tensor:
    """``module(x)``, or with a ``generator`` the same dropout with masks drawn from it.

    The tracker's online training passes its own seeded CPU generator: repeatable runs without touching torch's
    global RNG, and a ``rand`` mask takes about a third of CPU ``bernoulli_``'s time (a large part of a small
    fc training step).
    """
    if generator is None or not module.training or module.p == 0:
        return module(x)
    keep = torch.rand(x.shape, generator=generator, device=generator.device) >= module.p
    return x * keep.to(x.device, x.dtype) * (1 / (1 - module.p))


def _relu_normalize_(flat: torch.Tensor) -> torch.Tensor:
    """``normalize(relu(flat))`` in place, for inference on a fresh tensor that nothing else holds.

    The out-of-place version allocates and fills three more (K, 4608) tensors and took 3-4 ms per 256 boxes on
    CPU, more than RoIAlign itself; this takes about 0.3 ms. (Autograd needs the out-of-place one.)
    """
    flat = flat.relu_()
    mean_square = torch.linalg.vector_norm(flat, dim=1, keepdim=True).square_().div_(flat.shape[1])
    return flat.mul_(mean_square.add_(1e-6).rsqrt_())


class MDNetHead(nn.Module):
    """fc4 -> fc5 -> fc6 (one branch per training domain), dropout before fc5 and fc6 as in py-MDNet."""

    def __init__(self, num_branches: int = 1, dropout: float = 0.5, in_features: int = 512 * POOLED_SIZE**2):
        super().__init__()
        self.fc4 = nn.Sequential(nn.Linear(in_features, 512), nn.ReLU(inplace=True))
        self.fc5 = nn.Sequential(nn.Dropout(dropout), nn.Linear(512, 512), nn.ReLU(inplace=True))
        self.fc6_dropout = nn.Dropout(dropout)
        self.branches = nn.ModuleList(nn.Linear(512, 2) for _ in range(num_branches))

    def forward(self, x: torch.Tensor, branch: int = 0, in_layer: str = "fc4",
                generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, 512 * 9) pooled features (``in_layer="fc4"``) or (N, 512) fc4 outputs (``"fc5"``) -> (N, 2) logits
        [background, target]. Starting at fc5 lets online updates reuse cached fc4 outputs (py-MDNet's in_layer).
        ``generator``: where training-mode dropout draws its masks (default: torch's global RNG).
        """
        if in_layer == "fc4":
            x = self.fc4(x)
        elif in_layer != "fc5":
            raise ValueError(f"in_layer must be 'fc4' or 'fc5', not {in_layer!r}")
        dropout5, linear5, relu5 = self.fc5  # a Sequential for the weights' names (fc5.1.weight)
        x = relu5(linear5(dropout(x, dropout5, generator)))
        return self.branches[branch](dropout(x, self.fc6_dropout, generator))


class MDNet(nn.Module):
    def __init__(self, num_branches: int = 1, dropout: float = 0.5) -> None:
        super().__init__()
        self.backbone = VGGM()
        self.head = MDNetHead(num_branches, dropout)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    @staticmethod
    def pool(feature_map: torch.Tensor, rois: torch.Tensor, cells_first: bool = False) -> torch.Tensor:
        """RoIAlign the boxes ``rois`` (K, 5: batch index, x1, y1, x2, y2 in input pixels) to (K, 512 * 9).

        Boxes are shifted by the feature origin so that a bin centred on pixel 8 i + 21.5 is centred on cell i; with
        2x2 samples per bin the result is that cell slightly blurred with its neighbours ([1/8, 3/4, 1/8] per axis
        for 8-pixel bins), which smooths small box shifts.
        ReLU follows because conv3 ends without one (SiamFC correlates the raw features).

        The vector is channel-major (``c * 9 + bin``), the order fc4's weights expect. ``cells_first=True`` gives
        bin-major order (``bin * 512 + c``), the order roi_align computes, without the transposing copy (about
        1.3 ms per 256 boxes on CPU); feed it to fc4 with ``cells_first_weight(fc4 weight)``.
        """
        shifted = rois.clone()
        shifted[:, 1:] -= FEATURE_ORIGIN - VGGM.total_stride / 2
        pooled = _roi_align_on_device(feature_map, shifted)
        flat = pooled.permute(0, 2, 3, 1).reshape(len(rois), -1) if cells_first else pooled.flatten(1)
        if torch.is_grad_enabled() and flat.requires_grad:  # the trainer, with conv layers learning
            return normalize(F.relu(flat))
        return _relu_normalize_(flat)

    def classify(self, x: torch.Tensor, branch: int = 0, in_layer: str = "fc4",
                 generator: torch.Generator | None = None) -> torch.Tensor:
        return self.head(x, branch, in_layer, generator)

    def forward(self, images: torch.Tensor, rois: torch.Tensor, branch: int = 0) -> torch.Tensor:
        return self.classify(self.pool(self.features(images), rois), branch)

    def crop_pool(self, crops: torch.Tensor, cells_first: bool = False) -> torch.Tensor:
        """The classic per-crop path: each crop (N, 3, 107, 107) through the conv layers, pooled to 3x3
        (``cells_first`` as in ``pool``)."""
        pooled = F.adaptive_avg_pool2d(self.features(crops), POOLED_SIZE)
        flat = pooled.permute(0, 2, 3, 1).flatten(1) if cells_first else pooled.flatten(1)
        if torch.is_grad_enabled() and flat.requires_grad:
            return normalize(F.relu(flat))
        return _relu_normalize_(flat)


def _roi_align_on_device(feature_map: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
    """Our measured ``roi_align`` on CPU (about 10x faster than torchvision's scalar CPU kernel), torchvision's own
    kernel elsewhere (its CUDA kernel is the maintained one; ours would launch a large gather there) when torchvision
    is installed: it is not a core dependency, and ours runs on any device."""
    torchvision_roi_align = None if feature_map.device.type == "cpu" else _torchvision_roi_align()
    if torchvision_roi_align is None:
        return roi_align(feature_map, rois, POOLED_SIZE, spatial_scale=1 / VGGM.total_stride, sampling_ratio=2)
    return torchvision_roi_align(feature_map, rois.to(feature_map.dtype), POOLED_SIZE,
                                 spatial_scale=1 / VGGM.total_stride, sampling_ratio=2, aligned=True)


def _torchvision_roi_align():
    """torchvision's ``roi_align``, or None where torchvision is not installed."""
    try:
        from torchvision.ops import roi_align as torchvision_roi_align
    except ImportError:
        return None
    return torchvision_roi_align


def cells_first_order(features: int) -> np.ndarray:
    """Where each entry of a cells-first pooled vector sits in the channel-major one:
    ``pool(..., cells_first=True)[:, j] == pool(...)[:, order[j]]`` for ``features`` = channels x 9."""
    return np.arange(features).reshape(-1, POOLED_SIZE**2).T.reshape(-1)


def cells_first_weight(weight: torch.Tensor) -> torch.Tensor:
    """fc4's (out, 512 * 9) channel-major weight reordered for ``pool(..., cells_first=True)`` inputs."""
    return weight[:, torch.from_numpy(cells_first_order(weight.shape[1])).to(weight.device)].contiguous()
