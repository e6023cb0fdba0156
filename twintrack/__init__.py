"""twintrack: visual single-object tracking with SiamFC and MDNet on a shared VGG-M backbone.

Frames are HxWx3 RGB uint8 numpy arrays; boxes are 0-based ``x, y, w, h`` floats.
"""

from twintrack.api import create_tracker, list_trackers
from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult, Tracker

__version__ = "0.1.0"
__all__ = ["create_tracker", "list_trackers", "TrackResult", "Tracker", "UserError", "__version__"]
