"""The data layer, below tracker/, train/ and eval/: image files, sequence folders, still-image sets, packs.

- ``images``: the image suffixes and ``read_image`` (RGB uint8).
- ``sequences``: ``Sequence``, OTB-style folders (``groundtruth_rect.txt`` or ``groundtruth.txt``), got10k objects.
- ``stills``: still-image box sets (``img/`` + ``boxes.csv``).
- ``discover``: every sequence and still set under a folder.
- ``skipped``: counts of the ground-truth rows training leaves out, for the CLI to print.
- ``packs``: pre-cropped training data (``twintrack precrop``).
"""

from twintrack.data.discover import discover
from twintrack.data.images import IMAGE_SUFFIXES, image_size, list_images, read_image
from twintrack.data.packs import is_pack, read_pack, write_pack
from twintrack.data.sequences import (
    GROUND_TRUTH_FILES,
    Sequence,
    from_got10k,
    is_sequence_folder,
    load_sequence_folder,
    read_box_file,
    read_sequence_folder,
    sequence_folders,
    training_rows,
)
from twintrack.data.skipped import counting_skipped_rows
from twintrack.data.stills import load_image_set

__all__ = [
    "IMAGE_SUFFIXES", "GROUND_TRUTH_FILES", "Sequence", "counting_skipped_rows", "discover", "from_got10k",
    "image_size", "is_pack", "is_sequence_folder", "list_images", "load_image_set", "load_sequence_folder",
    "read_box_file", "read_image", "read_pack", "read_sequence_folder", "sequence_folders", "training_rows",
    "write_pack",
]
