"""MDNet (Nam & Han 2016) on the shared VGG-M backbone, with RT-MDNet's RoIAlign single-pass features.

``MDNet.features(images)`` runs the conv layers once per search region; ``MDNet.pool(feat, rois)`` cuts every
candidate box out of that map with ``torchvision.ops.roi_align``; ``MDNet.classify(pooled, branch)`` runs the fully
connected layers (fc4, fc5) and one two-way domain branch (fc6). Online updates call ``classify`` alone on cached
pooled features, as py-MDNet's ``forward(x, in_layer='fc4')``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from twintrack.models.backbone import VGGM

POOLED_SIZE = 3  # RoIAlign output cells per side (RT-MDNet uses 3x3)

# Where conv3 cell (0, 0) is centred on the input, in continuous pixel coordinates: conv1 (k7 s2), pool (k3 s2),
# conv2 (k5 s2), conv3 (k3 s1) put cell i's receptive-field centre on pixel index 8 i + 21, i.e. at 8 i + 21.5.
FEATURE_ORIGIN = 21.5


def normalize(pooled: torch.Tensor) -> torch.Tensor:
    """Scale each box's pooled vector to unit RMS.

    The SiamFC-trained conv3 has no fixed output scale (the correlation's gain absorbs it), and fc layers on raw
    features saw logits in the tens and a diverging loss; per-box normalisation makes fc training independent of
    that scale (MDNet's LRN played a similar role).
    """
    return pooled * torch.rsqrt(pooled.pow(2).mean(dim=1, keepdim=True) + 1e-6)


class MDNetHead(nn.Module):
    """fc4 -> fc5 -> fc6 (one branch per training domain), dropout before fc5 and fc6 as in py-MDNet."""

    def __init__(self, num_branches: int = 1, dropout: float = 0.5, in_features: int = 512 * POOLED_SIZE**2):
        super().__init__()
        self.fc4 = nn.Sequential(nn.Linear(in_features, 512), nn.ReLU(inplace=True))
        self.fc5 = nn.Sequential(nn.Dropout(dropout), nn.Linear(512, 512), nn.ReLU(inplace=True))
        self.fc6_dropout = nn.Dropout(dropout)
        self.branches = nn.ModuleList(nn.Linear(512, 2) for _ in range(num_branches))

    def forward(self, x: torch.Tensor, branch: int = 0, in_layer: str = "fc4") -> torch.Tensor:
        """(N, 512 * 9) pooled features (``in_layer="fc4"``) or (N, 512) fc4 outputs (``"fc5"``) -> (N, 2) logits
        [background, target]. Starting at fc5 lets online updates reuse cached fc4 outputs (py-MDNet's in_layer).
        """
        if in_layer == "fc4":
            x = self.fc4(x)
        elif in_layer != "fc5":
            raise ValueError(f"in_layer must be 'fc4' or 'fc5', not {in_layer!r}")
        return self.branches[branch](self.fc6_dropout(self.fc5(x)))


class MDNet(nn.Module):
    def __init__(self, num_branches: int = 1, dropout: float = 0.5) -> None:
        super().__init__()
        self.backbone = VGGM()
        self.head = MDNetHead(num_branches, dropout)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    @staticmethod
    def pool(feature_map: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """RoIAlign the boxes ``rois`` (K, 5: batch index, x1, y1, x2, y2 in input pixels) to (K, 512 * 9).

        Boxes are shifted by the feature origin so that a bin centred on pixel 8 i + 21.5 is centred on cell i; with
        2x2 samples per bin the result is that cell slightly blurred with its neighbours ([1/8, 3/4, 1/8] per axis
        for 8-pixel bins), which smooths small box shifts.
        ReLU follows because conv3 ends without one (SiamFC correlates the raw features).
        """
        shifted = rois.clone()
        shifted[:, 1:] -= FEATURE_ORIGIN - VGGM.total_stride / 2
        pooled = roi_align(feature_map, shifted, POOLED_SIZE, spatial_scale=1 / VGGM.total_stride,
                           sampling_ratio=2, aligned=True)
        return normalize(F.relu(pooled).flatten(1))

    def classify(self, x: torch.Tensor, branch: int = 0, in_layer: str = "fc4") -> torch.Tensor:
        return self.head(x, branch, in_layer)

    def forward(self, images: torch.Tensor, rois: torch.Tensor, branch: int = 0) -> torch.Tensor:
        return self.classify(self.pool(self.features(images), rois), branch)

    def crop_pool(self, crops: torch.Tensor) -> torch.Tensor:
        """The classic per-crop path: each crop (N, 3, 107, 107) through the conv layers, pooled to 3x3."""
        feat = self.features(crops)
        return normalize(F.relu(F.adaptive_avg_pool2d(feat, POOLED_SIZE)).flatten(1))
