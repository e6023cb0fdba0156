"""Every sequence under a folder: sequence folders, still-image sets, or a folder holding those (two levels)."""

from __future__ import annotations

from pathlib import Path

from twintrack.data.sequences import GROUND_TRUTH_FILES, Sequence, is_sequence_folder, load_sequence_folder
from twintrack.data.stills import BOX_FILE, is_image_set, load_image_set
from twintrack.errors import UserError


def discover(path: str | Path) -> list[Sequence]:
    """The sequences of ``path``: itself a sequence folder or an image set, or a folder of those. A sequence left
    with no usable frame (every box absent, tiny or outside; counted by the readers) is left out."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"data folder '{path}' does not exist; pass a folder of sequences")
    if is_sequence_folder(path):
        return [s for s in [load_sequence_folder(path)] if len(s)]
    if is_image_set(path):
        return load_image_set(path)
    found: list[Sequence] = []
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        if is_sequence_folder(child):
            found += [s for s in [load_sequence_folder(child)] if len(s)]
        elif is_image_set(child):
            found.extend(load_image_set(child))
    if not found:
        raise UserError(
            f"no sequences found in '{path}': expected <seq>/img/*.jpg + <seq>/{' or '.join(GROUND_TRUTH_FILES)}, "
            f"or img/ + {BOX_FILE}"
        )
    return found
