"""A setting's speed cost, measured so that a busy machine cannot fake it: the default and the candidate track the
same frames in one process, alternating frame by frame, so whatever else runs on the cores slows both alike.

    .venv/bin/python bench/ab_speed.py --tracker siamfc --set color_weight=0.3 color_background=lookalikes \
        [--base-set KEY=VALUE ...] [--sequences caviar_Caviar2 MountainBike6] [--frames 150] [--threads 1]

Prints, per val sequence, the median update() time of each and the candidate's fps as a fraction of the default's
(1.00: no cost). bench/selection.py's fps columns time the default's runs and the candidate's at different moments,
so a job that starts between them (a training) moves the ratio; this one does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VAL = ROOT.parent / "shared" / "data" / "sot" / "val"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import torch

    import twintrack
    from twintrack.configs import parse_overrides
    from twintrack.data import discover
    from twintrack.data.images import read_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", default="siamfc")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="the candidate's overrides")
    parser.add_argument("--base-set", nargs="*", default=[], metavar="KEY=VALUE", help="the default's (preset)")
    parser.add_argument("--sequences", nargs="*", help="val sequences (default: all 12)")
    parser.add_argument("--frames", type=int, default=150, help="frames per sequence, the first included")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not VAL.is_dir():
        raise SystemExit(f"ab_speed.py: no '{VAL}' (the val sequences)")
    torch.set_num_threads(args.threads)
    settings = {"default": parse_overrides(args.base_set), "candidate": parse_overrides(args.set)}
    sequences = [s for s in discover(VAL) if not args.sequences or s.name in args.sequences]
    candidate, default = " ".join(args.set) or "preset", " ".join(args.base_set) or "preset"
    print(f"{args.tracker}: candidate {candidate} vs default {default}, {args.threads} thread(s), frames alternating\n")
    print("| sequence | frames | default ms | candidate ms | candidate fps / default fps |\n|---|---|---|---|---|")
    ratios = []
    for sequence in sequences:
        frames = [read_image(path) for path in sequence.frames[: args.frames]]
        trackers = {name: twintrack.create_tracker(args.tracker, device="cpu", seed=0, **over)
                    for name, over in settings.items()}
        seconds = {name: [] for name in trackers}
        for tracker in trackers.values():
            tracker.init(frames[0], sequence.boxes[0])
        for frame in frames[1:]:
            for name, tracker in trackers.items():
                start = time.perf_counter()
                tracker.update(frame)
                seconds[name].append(time.perf_counter() - start)
        default, candidate = (float(np.median(seconds[name])) for name in ("default", "candidate"))
        ratios.append(default / candidate)
        print(f"| {sequence.name} | {len(frames) - 1} | {1000 * default:.1f} | {1000 * candidate:.1f} | "
              f"{default / candidate:.2f} |")
    print(f"\nmedian over sequences: candidate fps = {float(np.median(ratios)):.2f} x the default's")


if __name__ == "__main__":
    main()
