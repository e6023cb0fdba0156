"""Tracking speed on CPU beside OpenCV CSRT, measured in the same run on the same frames.

    .venv/bin/python bench/speed.py [--sequence ../shared/data/sot/val/bag] [--weights FILE] [--threads 2] [--mdnet]
    .venv/bin/python bench/speed.py --profile [--profile-frames 60] [--set key=value ...]

Times update() only (frames decoded beforehand), after a few warm-up frames, and prints fps and the ratio to
CSRT for several SiamFC inference settings (and MDNet's two feature paths with ``--mdnet``). These machines are
noisy: read the ratios, not the bare times.

``--profile`` instead tracks with MDNet, reading each frame from disk, and prints where the time goes: ms per stage
for init() and per update() (mean over the frames after warm-up), from a StageTimer attached to the tracker.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from twintrack import create_tracker
from twintrack.configs import parse_overrides
from twintrack.eval.baselines import OpenCVTracker
from twintrack.eval.sequences import load_folder_sequences
from twintrack.data.images import read_image
from twintrack.tracker.timing import StageTimer

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


# Stage names of MDNetTracker's timer, in pipeline order, with what they cover.
MDNET_STAGES = {
    "frame read": "decode the image file (outside the tracker)",
    "sampling": "candidate boxes; positive / negative boxes for the memories",
    "crop": "search-region crop and resize, to tensor",
    "conv": "conv1-3 over the search region",
    "pool": "RoIAlign of every box (per-crop path: crops + conv per box)",
    "fc4": "fc4 on pooled features (candidates, new memory samples)",
    "scoring": "fc5-fc6 on the candidates, top-k",
    "bbreg": "box regression (init: ridge fit; per frame: predict)",
    "train": "init: first-frame fine-tuning; per frame: long/short-term updates",
}


def profile_mdnet(sequence, n_frames: int, warmup: int, overrides: dict, weights=None) -> None:
    """Where MDNet's time goes: a table of ms per stage, init() and mean per update()."""
    paths = sequence.frames[:n_frames]
    tracker = create_tracker("mdnet", weights=weights, device="cpu", seed=0, **overrides)
    timer = StageTimer(tracker.device)
    tracker.timer = timer

    def read(path):
        with timer.stage("frame read"):
            return read_image(path)

    tracker.init(read_image(paths[0]), sequence.ground_truth[0])  # warm-up: a process's first init pays set-up
    timer.reset()
    start = time.perf_counter()
    tracker.init(read(paths[0]), sequence.ground_truth[0])
    init_total = time.perf_counter() - start
    init_seconds = dict(timer.seconds)
    for path in paths[1 : 1 + warmup]:
        tracker.update(read(path))
    timer.reset()
    start = time.perf_counter()
    for path in paths[1 + warmup :]:
        tracker.update(read(path))
    frames_total = time.perf_counter() - start
    n = len(paths) - 1 - warmup
    per_frame = {k: v / n for k, v in timer.seconds.items()}

    precision = "bf16" if tracker.extractor.bf16 else "fp32"
    print(f"MDNet stage times, feature_path={tracker.config.feature_path}, {precision} (bf16: {tracker.config.bf16}), "
          f"{n} updates after {warmup} warm-up frames (long-term updates every {tracker.config.long_interval} "
          f"frames are included in the mean)\n")
    print("| stage | init (ms) | per frame (ms) | share of frame | calls in frames | what |")
    print("|---|---|---|---|---|---|")
    for name, what in MDNET_STAGES.items():
        ms_init, ms_frame = 1000 * init_seconds.get(name, 0.0), 1000 * per_frame.get(name, 0.0)
        print(f"| {name} | {ms_init:.1f} | {ms_frame:.2f} | {ms_frame / (1000 * frames_total / n):.0%} "
              f"| {timer.calls.get(name, 0)} | {what} |")
    other_init = init_total - sum(init_seconds.values())
    other_frame = frames_total / n - sum(per_frame.values())
    print(f"| other (untimed) | {1000 * other_init:.1f} | {1000 * other_frame:.2f} | "
          f"{other_frame / (frames_total / n):.0%} | | bookkeeping, memories, Python |")
    print(f"| **total** | {1000 * init_total:.1f} | {1000 * frames_total / n:.2f} | 100% | | "
          f"{n / frames_total:.1f} fps with frame reads, {n / (frames_total - timer.seconds['frame read']):.1f} "
          f"without |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", default=str(DEFAULT_SEQUENCE))
    parser.add_argument("--weights", help="SiamFC weights (default: shipped)")
    parser.add_argument("--mdnet-weights", help="MDNet weights (default: shipped)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--mdnet", action="store_true", help="also time MDNet (RoIAlign and per-crop paths)")
    parser.add_argument("--mdnet-frames", type=int, default=40, help="frames for the (slow) per-crop MDNet row")
    parser.add_argument("--no-siamfc", action="store_true", help="skip the SiamFC rows")
    parser.add_argument("--profile", action="store_true", help="only print MDNet's time per stage")
    parser.add_argument("--profile-frames", type=int, default=60)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="MDNet config overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sequence = load_folder_sequences(args.sequence)[0]
    overrides = parse_overrides(args.set)
    if args.profile:
        print(f"{sequence.name}, torch threads {args.threads}, torch {torch.__version__}")
        profile_mdnet(sequence, args.profile_frames, warmup=3, overrides=overrides, weights=args.mdnet_weights)
        return 0
    frames = [read_image(p) for p in sequence.frames[: args.frames]]
    init_box = sequence.ground_truth[0]
    rows = [("OpenCV CSRT", time_tracker(OpenCVTracker("csrt"), frames, init_box))]
    for label, variant in {} if args.no_siamfc else VARIANTS.items():
        tracker = create_tracker("siamfc", weights=args.weights, device="cpu", **variant)
        rows.append((label, time_tracker(tracker, frames, init_box)))
    if args.mdnet:
        # The RoIAlign path on every frame (long-term updates every 10 frames are part of its cost); the slow
        # per-crop path on the first --mdnet-frames.
        for label, variant, clip in (
            ("mdnet (RoIAlign, one conv pass) [default]", {"feature_path": "roi"}, frames),
            ("mdnet (RoIAlign), bf16=false", {"feature_path": "roi", "bf16": False}, frames),
            ("mdnet (per-crop 107x107)", {"feature_path": "crop"}, frames[: args.mdnet_frames]),
        ):
            tracker = create_tracker("mdnet", weights=args.mdnet_weights, device="cpu", seed=0,
                                     **{**overrides, **variant})
            precision = "bf16" if tracker.extractor.bf16 else "fp32"
            rows.append((f"{label}, {precision}, {len(clip)} frames", time_tracker(tracker, clip, init_box)))
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
