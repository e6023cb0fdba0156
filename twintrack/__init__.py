"""twintrack: visual single-object tracking with SiamFC and MDNet on a shared VGG-M backbone.

Frames are HxWx3 RGB uint8 numpy arrays; boxes are 0-based ``x, y, w, h`` floats.

The public names are imported on first use (PEP 562), so ``import twintrack`` and ``twintrack --version`` do not
load torch.
"""

from importlib import import_module

from twintrack._version import __version__
from twintrack.errors import UserError

# public name -> the module that defines it
_PUBLIC = {
    "create_tracker": "twintrack.app.api",
    "list_trackers": "twintrack.app.api",
    "MultiTracker": "twintrack.app.multi",
    "track_video": "twintrack.app.video",
    "TrackedVideo": "twintrack.app.video",
    "cv2_tracker": "twintrack.app.opencv_compat",
    "TrackerSiamFC_create": "twintrack.app.opencv_compat",
    "TrackerMDNet_create": "twintrack.app.opencv_compat",
    "TrackResult": "twintrack.tracker.base",
    "Tracker": "twintrack.tracker.base",
}

__all__ = [*_PUBLIC, "UserError", "__version__"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'twintrack' has no attribute '{name}'")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(__all__)
