"""Several objects per frame: MultiTracker's cost per frame against one object, measured in the same run.

    python bench/multi.py [--tracker siamfc] [--objects 1 2 4 8] [--frames 30] [--repeats 2]
        [--layout spread|cluster] [--sizes same|mixed] [--clock cpu|wall] [--threads 1] [--set scale_mode=pyramid]
        [--device cpu|cuda]

Cost is CPU time of this process per frame (`--clock cpu`, the default), which stays meaningful on a machine shared
with other jobs; `--clock wall` measures elapsed time instead (use it on an idle machine). `--device cuda` (the
goal there: 16 objects at most 2x one) always uses the wall clock: a GPU's work is not this process's CPU time.
Every update returns boxes on the host, so each frame's time includes its device-to-host copies.

Objects are boxes spread over the first frame of DATA_ROOT/sot/val/bag (DATA_ROOT: $TWINTRACK_DATA, else
../shared/data beside the repository) or of --video. Each count runs --repeats times, interleaved with the others
so load drift on a shared machine hits every count alike; the table gives the best run per count.
Columns: MultiTracker with `share_features=True` (one shared feature map where it pays, batched crops otherwise),
MultiTracker as shipped (batched crops, `share_features=False`), and the naive loop (one independent tracker per
object, update() one after another). Ratios are to the default (batched crops) with the first object count.
`--layout spread` puts the objects on a grid over the whole frame, `cluster` side by side in one region (people in a
group, cars in a lane); `--sizes mixed` gives each row of the grid its own size.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import twintrack
from twintrack.app.multi import MultiTracker
from twintrack.app.sources import open_source
from twintrack.configs import parse_overrides
from twintrack.eval.paths import sot_folder


def object_boxes(count: int, width: int, height: int, layout: str, sizes: str, side: float = 48):
    """``count`` square boxes of about ``side`` px: on a grid over the frame, or packed side by side in its middle."""
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    span_w, span_h = (width, height) if layout == "spread" else (columns * side * 1.3, rows * side * 1.3)
    left, top = (width - span_w) / 2, (height - span_h) / 2
    boxes = []
    for k in range(count):
        row, col = divmod(k, columns)
        w = side * (0.8 + 0.4 * row / max(1, rows - 1)) if sizes == "mixed" else side
        cx = left + span_w * (col + 0.5) / columns
        cy = top + span_h * (row + 0.5) / rows
        boxes.append((cx - w / 2, cy - w / 2, w, w))
    return boxes


def clock(args) -> float:
    return time.process_time() if args.clock == "cpu" else time.perf_counter()


def time_multi(frames, boxes, args, share: bool) -> float:
    multi = MultiTracker(args.tracker, device=args.device, seed=0, share_features=share, **args.overrides)
    for box in boxes:
        multi.add(frames[0], box)
    multi.update(frames[1])  # warm-up (allocators, oneDNN kernels for this batch size)
    start = clock(args)
    for frame in frames[2:]:
        multi.update(frame)
    return (clock(args) - start) / (len(frames) - 2)


def time_loop(frames, boxes, args) -> float:
    trackers = [twintrack.create_tracker(args.tracker, device=args.device, seed=0, **args.overrides) for _ in boxes]
    for tracker, box in zip(trackers, boxes):
        tracker.init(frames[0], box)
    for tracker in trackers:
        tracker.update(frames[1])
    start = clock(args)
    for frame in frames[2:]:
        for tracker in trackers:
            tracker.update(frame)
    return (clock(args) - start) / (len(frames) - 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracker", default="siamfc")
    parser.add_argument("--video", default=str(sot_folder("val") / "bag"))
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--layout", choices=("spread", "cluster"), default="spread")
    parser.add_argument("--sizes", choices=("same", "mixed"), default="same")
    parser.add_argument("--no-loop", action="store_true", help="skip the one-tracker-per-object comparison")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="tracker config overrides")
    args = parser.parse_args()
    args.overrides = parse_overrides(args.set)
    if args.device == "cuda":
        args.clock = "wall"
    torch.set_num_threads(args.threads)

    frames = []
    for frame in open_source(args.video):
        frames.append(frame)
        if len(frames) == args.frames + 2:
            break
    height, width = frames[0].shape[:2]
    print(f"{args.tracker} {' '.join(args.set)} on {args.video} ({width}x{height}), {len(frames) - 2} timed frames, "
          f"{args.threads} threads, {args.device}, {args.clock} time, objects {args.layout} / {args.sizes} size, "
          f"best of {args.repeats}")

    columns = {"shared": {}, "crops": {}, "loop": {}}
    for _ in range(args.repeats):
        for n in args.objects:
            boxes = object_boxes(n, width, height, args.layout, args.sizes)
            columns["shared"].setdefault(n, []).append(1000 * time_multi(frames, boxes, args, share=True))
            columns["crops"].setdefault(n, []).append(1000 * time_multi(frames, boxes, args, share=False))
            if not args.no_loop:
                columns["loop"].setdefault(n, []).append(1000 * time_loop(frames, boxes, args))

    base = min(columns["crops"][args.objects[0]])
    print(f"\n| objects | shared map ms/frame ({args.clock}; ratio to {args.objects[0]}) | batched crops (default) | "
          "one tracker per object (loop) |")
    print("|---|---|---|---|")
    for n in args.objects:
        cells = []
        for name in ("shared", "crops", "loop"):
            runs = columns[name].get(n)
            cells.append(f"{min(runs):.1f} ({min(runs) / base:.2f}x)" if runs else "-")
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
