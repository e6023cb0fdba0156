"""SiamFC tracking speed on CPU beside OpenCV CSRT, measured in the same run on the same frames.

    .venv/bin/python bench/speed.py [--sequence ../shared/data/sot/val/bag] [--weights FILE] [--threads 2]

Times update() only (frames decoded beforehand), after a few warm-up frames, and prints fps and the ratio to
CSRT for several SiamFC inference settings. These machines are noisy: read the ratios, not the bare times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from twintrack import create_tracker
from twintrack.eval.baselines import OpenCVTracker
from twintrack.eval.sequences import load_folder_sequences
from twintrack.tracker.sources import read_image

DEFAULT_SEQUENCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sot" / "val" / "bag"

VARIANTS = {
    "siamfc (plain: no BN folding, NCHW)": {"fold_bn": False, "channels_last": False},
    "siamfc (BN folded)": {"fold_bn": True, "channels_last": False},
    "siamfc (BN folded, channels_last) [default]": {},
    "siamfc (default + bf16)": {"bf16": True},
}


def time_tracker(tracker, frames, init_box, warmup: int = 3) -> float:
    tracker.init(frames[0], init_box)
    for frame in frames[1 : 1 + warmup]:
        tracker.update(frame)
    start = time.perf_counter()
    for frame in frames[1 + warmup :]:
        tracker.update(frame)
    return (len(frames) - 1 - warmup) / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", default=str(DEFAULT_SEQUENCE))
    parser.add_argument("--weights")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--mdnet", action="store_true", help="also time MDNet (RoIAlign and per-crop paths)")
    parser.add_argument("--mdnet-frames", type=int, default=40, help="frames for the (slow) MDNet rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sequence = load_folder_sequences(args.sequence)[0]
    frames = [read_image(p) for p in sequence.frames[: args.frames]]
    init_box = sequence.ground_truth[0]
    rows = [("OpenCV CSRT", time_tracker(OpenCVTracker("csrt"), frames, init_box))]
    for label, overrides in VARIANTS.items():
        tracker = create_tracker("siamfc", weights=args.weights, device="cpu", **overrides)
        rows.append((label, time_tracker(tracker, frames, init_box)))
    if args.mdnet:
        few = frames[: args.mdnet_frames]
        for label, path in (("mdnet (RoIAlign, one conv pass) [default]", "roi"), ("mdnet (per-crop 107x107)", "crop")):
            tracker = create_tracker("mdnet", device="cpu", seed=0, feature_path=path)
            rows.append((label, time_tracker(tracker, few, init_box)))
    # CSRT again at the end: the machine's load may have changed during the run.
    rows.append(("OpenCV CSRT (again)", time_tracker(OpenCVTracker("csrt"), frames, init_box)))
    csrt_fps = float(np.mean([rows[0][1], rows[-1][1]]))
    h, w = frames[0].shape[:2]
    print(f"{sequence.name}: {len(frames)} frames {w}x{h}, torch threads {args.threads}, torch {torch.__version__}\n")
    print("| tracker | fps | ratio to CSRT |")
    print("|---|---|---|")
    for label, fps in rows:
        print(f"| {label} | {fps:.1f} | {fps / csrt_fps:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
