"""The application layer: what builds and drives trackers (the registry and ``create_tracker``, MultiTracker,
video sources and sinks, ``track_video``, the OpenCV adapter, validation during training, the demo clip).

It sits above tracker/, train/, eval/ and runtime/ and below cli/.
"""
