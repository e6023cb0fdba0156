"""Reproduce the README's validation table in one run: every twintrack tracker and the OpenCV baselines on sot/val.

    .venv/bin/python bench/val_table.py [--data ../shared/data/sot/val] [--workers N] [--out DIR]
                                        [--trackers siamfc mdnet] [--baselines csrt kcf nano] [--set key=value ...]
                                        [--nano-model BACKBONE.onnx,HEAD.onnx]

It is `twintrack eval` (got10k tracking loop, OTB one-pass protocol, shipped weights, MDNet seed 0) on a fresh
output folder, so every sequence runs; it prints the summary table (success AUC, precision at 20 px, normalized
precision, update() fps and fps relative to the first baseline), the per-sequence AUCs and the wall time. With one
worker torch uses 2 threads, so fps is comparable with the single-threaded OpenCV trackers on the 2-core reference
machines; with N workers the threads are divided among them. OpenCV's NanoTrack v2 (``nano``) is among the default
baselines when its ONNX files are found (``--nano-model``, default ../shared/models/nanotrack).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from twintrack.cli import main as twintrack_main

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sot" / "val"
DEFAULT_NANO = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "nanotrack"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--trackers", nargs="*", default=["siamfc", "mdnet"])
    parser.add_argument("--baselines", nargs="*", default=["csrt", "kcf", "nano"] if DEFAULT_NANO.is_dir()
                        else ["csrt", "kcf"])
    parser.add_argument("--nano-model", help=f"NanoTrack v2's ONNX files or folder (default: {DEFAULT_NANO})")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads with one worker")
    parser.add_argument("--out", help="output folder (default: a new temporary folder, so everything runs)")
    parser.add_argument("--set", nargs="*", default=[], metavar="key=value", help="tracker config overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or tempfile.mkdtemp(prefix="twintrack_val_")
    command = ["eval", "--dataset", f"folder:{args.data}", "--out", out, "--workers", str(args.workers)]
    command += [f"--tracker={name}" for name in args.trackers] + [f"--baseline={name}" for name in args.baselines]
    if "nano" in args.baselines:
        command += [f"--nano-model={args.nano_model or DEFAULT_NANO}"]
    start = time.perf_counter()
    status = twintrack_main(command + list(args.set))
    print(f"\n{args.data}: {time.perf_counter() - start:.0f} s wall with {args.workers} worker(s); "
          f"results, plots and report in {out}")
    if status == 0:
        report = (Path(out) / "report.md").read_text()
        per_sequence = report.split("## Per sequence (success AUC)")[1].split("##")[0]
        print(per_sequence.strip())
    return status


if __name__ == "__main__":
    sys.exit(main())
