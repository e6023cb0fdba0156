"""nn.Modules only: inference-shaped forward(), no losses, no device moves, no config reading."""

from twintrack.models.backbone import VGGM, fold_batchnorm, init_weights
from twintrack.models.siamfc import SiamFCHead, SiamFCNet, cross_correlation

__all__ = ["VGGM", "SiamFCHead", "SiamFCNet", "cross_correlation", "fold_batchnorm", "init_weights"]
