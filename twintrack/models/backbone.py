"""VGG-M conv1-3 (MDNet's backbone) rebuilt from conv + BatchNorm + ReLU + max-pool.

Shared by SiamFC and MDNet. One max-pool keeps the total stride at 8, so a 127 exemplar gives 11x11 features and a
255 search region 27x27 (SiamFC response 17x17). MDNet's LRN layers are replaced by BatchNorm, which trains from
scratch far more easily. conv3 ends without BN/ReLU: SiamFC correlates raw features, MDNet's head adds its ReLU.
"""

from __future__ import annotations

import torch
from torch import nn


class VGGM(nn.Module):
    total_stride = 8
    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2),
            nn.BatchNorm2d(96),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(96, 256, kernel_size=5, stride=2),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
        )
        self.conv3 = nn.Sequential(nn.Conv2d(256, 512, kernel_size=3, stride=1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images``: (N, 3, H, W) float RGB in [0, 255]. Returns (N, 512, H', W')."""
        return self.conv3(self.conv2(self.conv1(images)))

    @staticmethod
    def output_size(input_size: int) -> int:
        after_conv1 = (input_size - 7) // 2 + 1
        after_pool = (after_conv1 - 3) // 2 + 1
        after_conv2 = (after_pool - 5) // 2 + 1
        return after_conv2 - 2


def init_weights(module: nn.Module, scheme: str = "kaiming") -> None:
    """Weight init for training from scratch: ``kaiming`` (fan-out, ReLU) or ``xavier``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                raise ValueError(f"unknown init scheme '{scheme}' (kaiming or xavier)")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@torch.no_grad()
def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every Conv2d -> BatchNorm2d pair of a module (in eval mode) into the conv; BN becomes Identity.

    Inference only: the folded network computes the same function with one layer less per block.
    """
    for child_name, child in module.named_children():
        if isinstance(child, nn.Sequential):
            layers = list(child)
            for i in range(len(layers) - 1):
                conv, bn = layers[i], layers[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    std = torch.sqrt(bn.running_var + bn.eps)
                    factor = bn.weight / std
                    conv.weight.mul_(factor.reshape(-1, 1, 1, 1))
                    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                    new_bias = (bias - bn.running_mean) * factor + bn.bias
                    conv.bias = nn.Parameter(new_bias)
                    child[i + 1] = nn.Identity()
        else:
            fold_batchnorm(child)
    return module
