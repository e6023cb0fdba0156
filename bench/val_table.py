"""Reproduce the README's validation table in one run: every twintrack tracker and the OpenCV baselines on sot/val.

    python bench/val_table.py [--data DATA_ROOT/sot/val] [--workers N] [--out DIR] [--trackers siamfc mdnet]
                              [--baselines csrt kcf nano] [--set key=value ...] [--sequences NAME ...]
                              [--nano-model BACKBONE.onnx,HEAD.onnx] [--vit-model FILE.onnx]

It is `twintrack eval` (got10k tracking loop, OTB one-pass protocol, shipped weights, MDNet seed 0) on a fresh
output folder, so every sequence runs; it prints the summary table (success AUC, precision at 20 px, normalized
precision, update() fps and fps relative to the first baseline), the per-sequence AUCs, the failure-awareness table
(each tracker's score and lost verdict against its own failures) and the wall time. With one
worker torch uses 2 threads, so fps is comparable with the single-threaded OpenCV trackers on the 2-core reference
machines; with N workers the threads are divided among them. OpenCV's NanoTrack v2 (``nano``) is among the default
baselines when its ONNX files are found (``--nano-model``, default $TWINTRACK_NANOTRACK, else models/nanotrack
beside the data root), and so is VitTrack (``vit``) when its file is found (``--vit-model``, default
$TWINTRACK_VITTRACK, else models/vittrack beside the data root). DATA_ROOT is $TWINTRACK_DATA, else
../shared/data beside the repository. ``--sequences`` runs only the named sequences (a quick check, not the table).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from twintrack.cli import main as twintrack_main
from twintrack.eval.paths import default_nanotrack, default_vittrack, sot_folder


def subset_folder(data: Path, names: list[str]) -> Path:
    """A temporary folder of links to the named sequences of ``data``."""
    folder = Path(tempfile.mkdtemp(prefix="twintrack_val_subset_"))
    for name in names:
        if not (data / name).is_dir():
            raise SystemExit(f"val_table.py: no sequence '{name}' in '{data}'")
        os.symlink((data / name).resolve(), folder / name)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=sot_folder("val"), help="a folder of sequences")
    parser.add_argument("--sequences", nargs="*", help="only these sequences of --data")
    parser.add_argument("--trackers", nargs="*", default=["siamfc", "mdnet"])
    baselines = ["csrt", "kcf"] + (["nano"] if default_nanotrack() else []) + (["vit"] if default_vittrack() else [])
    parser.add_argument("--baselines", nargs="*", default=baselines)
    parser.add_argument("--nano-model", default=default_nanotrack(),
                        help="NanoTrack v2's ONNX files or folder (default: %(default)s)")
    parser.add_argument("--vit-model", default=default_vittrack(), help="VitTrack's ONNX file (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads with one worker")
    parser.add_argument("--out", help="output folder (default: a new temporary folder, so everything runs)")
    parser.add_argument("--set", nargs="*", default=[], metavar="key=value", help="tracker config overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or tempfile.mkdtemp(prefix="twintrack_val_")
    data = subset_folder(args.data, args.sequences) if args.sequences else args.data
    command = ["eval", "--dataset", f"folder:{data}", "--out", out, "--workers", str(args.workers)]
    command += [f"--tracker={name}" for name in args.trackers] + [f"--baseline={name}" for name in args.baselines]
    if "nano" in args.baselines and args.nano_model:
        command += [f"--nano-model={args.nano_model}"]
    if "vit" in args.baselines and args.vit_model:
        command += [f"--vit-model={args.vit_model}"]
    start = time.perf_counter()
    status = twintrack_main(command + list(args.set))
    subset = f" ({len(args.sequences)} sequences)" if args.sequences else ""
    print(f"\n{args.data}{subset}: {time.perf_counter() - start:.0f} s wall with {args.workers} worker(s); "
          f"results, plots and report in {out}")
    if status == 0:
        report = (Path(out) / "report.md").read_text()
        per_sequence = report.split("## Per sequence (success AUC)")[1].split("##")[0]
        print(per_sequence.strip())
        print("\nFailure-awareness" + report.split("## Failure-awareness")[1].split("\n## ")[0].rstrip())
    return status


if __name__ == "__main__":
    sys.exit(main())
