"""twintrack: visual single-object tracking with SiamFC and MDNet on a shared VGG-M backbone.

Frames are HxWx3 RGB uint8 numpy arrays; boxes are 0-based ``x, y, w, h`` floats.
"""

from twintrack._version import __version__
from twintrack.api import create_tracker, list_trackers
from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult, Tracker
from twintrack.tracker.multi import MultiTracker
from twintrack.tracker.opencv_compat import TrackerMDNet_create, TrackerSiamFC_create, cv2_tracker
from twintrack.tracker.video import TrackedVideo, track_video

__all__ = ["create_tracker", "list_trackers", "TrackResult", "Tracker", "UserError", "MultiTracker", "track_video",
           "TrackedVideo", "cv2_tracker", "TrackerSiamFC_create", "TrackerMDNet_create", "__version__"]
