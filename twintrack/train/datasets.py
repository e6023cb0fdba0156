"""Training data from a ``--data`` spec: a folder (sequences, still-image sets), a pack, or KIND:ROOT.

Sequences, still sets and packs are read by the data layer (``twintrack.data``); this module picks the reader for
a spec and opens the big datasets (GOT-10k, LaSOT, ImageNet VID) through the got10k toolkit's dataset classes.
"""

from __future__ import annotations

from pathlib import Path

from twintrack.data import Sequence, discover, from_got10k, is_pack, read_pack
from twintrack.errors import UserError

GOT10K_KINDS = ("got10k", "lasot", "vid")


def load_data(spec: str) -> list[Sequence]:
    """A folder or a pack, or KIND:ROOT (KIND one of got10k, lasot, vid) for a dataset the got10k toolkit reads."""
    kind, _, root = spec.partition(":")
    if kind in GOT10K_KINDS and root:
        return _load_got10k(kind, root, spec)
    if is_pack(spec):
        return read_pack(spec)
    return discover(spec)


def _load_got10k(kind: str, root: str, spec: str) -> list[Sequence]:
    from got10k import datasets

    if not Path(root).is_dir():
        raise UserError(f"data {spec}: folder '{root}' does not exist")
    try:
        if kind == "got10k":
            dataset = datasets.GOT10k(root, subset="train")
        elif kind == "lasot":
            dataset = datasets.LaSOT(root, subset="train")
        else:
            dataset = datasets.ImageNetVID(root, subset=("train", "val"))
    except Exception as err:  # got10k raises bare Exception('Dataset not found or corrupted.')
        raise UserError(f"data {spec}: cannot read a {kind} dataset there ({err})") from None
    # LaSOT's ground truth is 1-based (as OTB); GOT-10k and VID boxes are used as the toolkit gives them.
    return from_got10k(dataset, one_based=(kind == "lasot"), name=kind)


def load_all(specs) -> list[Sequence]:
    """The sequences of several specs, in order."""
    return [sequence for spec in specs for sequence in load_data(spec)]
