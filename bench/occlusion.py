"""Build the occlusion stress split: val and the fold with the target hidden for a stretch of frames.

    python bench/occlusion.py [--data DATA_ROOT] [--out runs/occlusion]     # about 70 MB, once
    python bench/selection.py --splits val fold occlusion --set KEY=VALUE

Neither val nor the fold has a long full occlusion, the failure that costs MDNet most on unseen video (a person
behind a parked car: the tracker keeps learning from the occluder and never comes back). This split has one in
each of their sequences, so settings meant for it can be judged by bench/selection.py (``--splits occlusion``).
How the target is hidden: twintrack/eval/occlusion.py. DATA_ROOT holds sot/train and sot/val (default:
$TWINTRACK_DATA, else ../shared/data beside the repository).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twintrack.eval.occlusion import OCCLUSION_SPLIT, write_sequence
from twintrack.eval.paths import data_root
from twintrack.eval.selection import split_sequences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help=f"data root (default: {data_root()})")
    parser.add_argument("--out", type=Path, default=OCCLUSION_SPLIT)
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"occlusion.py: '{args.out}' is not empty; remove it to rebuild")
    for split in ("val", "fold"):
        for sequence in split_sequences(split, data=args.data):
            record = write_sequence(sequence, args.out)
            print(f"{split:4s} {sequence.name:28s} {record['source_frames']:4d} frames, "
                  f"hidden {record['hidden']:2d} from frame {record['first_hidden']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
