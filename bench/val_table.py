"""Reproduce the README's validation table: twintrack trackers beside OpenCV baselines on sot/val, one run.

    .venv/bin/python bench/val_table.py [--data ../shared/data/sot/val] [--weights FILE] [--baselines csrt kcf mil]

Prints a Markdown table (success AUC, precision at 20 px, update() fps and fps relative to the first baseline) and
the per-sequence AUCs. Torch uses 2 threads so that fps is comparable with the single-process OpenCV trackers on
the 2-core reference machines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from twintrack import create_tracker
from twintrack.eval.baselines import OpenCVTracker
from twintrack.eval.compare import evaluate, markdown_tables
from twintrack.eval.sequences import load_folder_sequences

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sot" / "val"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--trackers", nargs="*", default=["siamfc"])
    parser.add_argument("--weights", help="weights for the twintrack tracker (default: shipped)")
    parser.add_argument("--baselines", nargs="*", default=["csrt"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], metavar="key=value", help="tracker config overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from twintrack.configs import parse_overrides

    overrides = parse_overrides(args.set)
    sequences = load_folder_sequences(args.data)
    results = {}
    start = time.perf_counter()
    for name in args.baselines:
        results[name] = evaluate(lambda: OpenCVTracker(name), sequences, desc=name)
    for name in args.trackers:
        results[name] = evaluate(lambda: create_tracker(name, weights=args.weights, device="cpu", **overrides),
                                 sequences, desc=name)
    # Show our trackers first, baselines after, fps relative to the first baseline.
    ordered = {n: results[n] for n in args.trackers + args.baselines}
    print(f"{len(sequences)} sequences from {args.data}; torch threads {args.threads}; "
          f"{time.perf_counter() - start:.0f} s\n")
    print(markdown_tables(ordered, reference=args.baselines[0] if args.baselines else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
