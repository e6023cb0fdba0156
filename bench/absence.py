"""Build the absence split: val and the fold with the target gone for 15-30 frames, then back.

    python bench/absence.py [--data DATA_ROOT] [--out runs/absence] [--variant cover away]    # about 150 MB, once
    twintrack eval --dataset folder:runs/absence/away --tracker siamfc --baseline csrt ... --out OUT

Each variant is a folder of OTB-style sequences whose ground truth is NaN (absent) over the stretch, with
absence.json recording every sequence's stretch (first absent frame, 0-based, and its length). How the target is
hidden in each variant (``cover``: a patch of nearby background over it; ``away``: the camera shows another part of
the scene): twintrack/eval/occlusion.py. `twintrack eval` on a variant's folder adds the section "Absence and
recovery" to its report (twintrack/eval/absence.py: said lost, back on the target, false presence).
DATA_ROOT holds sot/train and sot/val (default: $TWINTRACK_DATA, else ../shared/data beside the repository).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from twintrack.eval.absence import MIN_EVENT_FRAMES
from twintrack.eval.occlusion import ABSENCE_SPLIT, ABSENCE_VARIANTS, absence_window, write_absence_sequence
from twintrack.eval.paths import data_root
from twintrack.eval.selection import split_sequences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help=f"data root (default: {data_root()})")
    parser.add_argument("--out", type=Path, default=ABSENCE_SPLIT, help="one folder per variant is made in it")
    parser.add_argument("--variant", nargs="+", choices=ABSENCE_VARIANTS, default=list(ABSENCE_VARIANTS))
    args = parser.parse_args(argv)
    for variant in args.variant:
        folder = args.out / variant
        if folder.exists() and any(folder.iterdir()):
            raise SystemExit(f"absence.py: '{folder}' is not empty; remove it to rebuild")
    sequences = [(split, s) for split in ("val", "fold") for s in split_sequences(split, data=args.data)]
    for variant in args.variant:
        folder = args.out / variant
        stretches = {}
        for split, sequence in sequences:
            record = write_absence_sequence(sequence, folder, variant)
            if record is None:
                short = absence_window(len(sequence.frames))[1] < MIN_EVENT_FRAMES
                why = f"too short for {MIN_EVENT_FRAMES} absent frames" if short else "no view clear of the target"
                print(f"{variant:5s} {split:4s} {sequence.name:28s} left out: {why}")
                continue
            stretches[sequence.name] = {"split": split, "first_absent": record["first_absent"],
                                        "absent": record["absent"], "frames": record["source_frames"]}
            print(f"{variant:5s} {split:4s} {sequence.name:28s} {record['source_frames']:4d} frames, "
                  f"absent {record['absent']:2d} from frame {record['first_absent']}")
        (folder / "absence.json").write_text(json.dumps({"variant": variant, "sequences": stretches}, indent=1)
                                             + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
