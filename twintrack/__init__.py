"""twintrack: visual single-object tracking with SiamFC and MDNet on a shared VGG-M backbone.

Frames are HxWx3 RGB uint8 numpy arrays; boxes are 0-based ``x, y, w, h`` floats.
"""

from twintrack.api import TRACKERS, create_tracker
from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult, Tracker

__version__ = "0.1.0"
__all__ = ["create_tracker", "TrackResult", "Tracker", "UserError", "TRACKERS", "__version__"]
