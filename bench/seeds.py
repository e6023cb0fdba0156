"""A stochastic tracker's accuracy over several seeds: MDNet's single-seed AUC on sot/val swings by about 0.03.

    python bench/seeds.py [--tracker mdnet] [--seeds 0 1 2 3 4 5] [--workers 2] [--weights FILE]
                          [--data DATA_ROOT/sot/val] [--out DIR] [--set key=value ...]

Each seed is one `twintrack eval` run (got10k tracking loop, OTB one-pass protocol) into DIR/seed<N>, so finished
seeds are kept when the command is run again with the same --out. Prints the AUC, precision at 20 px and
normalized precision of each seed, their mean and standard deviation, and the per-sequence AUC averaged over seeds
(with its min-max across seeds), which shows which sequences are settled and which hinge on one event.
SiamFC is deterministic: for the validation table's comparison it is enough to run it once (bench/val_table.py).
DATA_ROOT is $TWINTRACK_DATA, else ../shared/data beside the repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from twintrack.cli import main as twintrack_main
from twintrack.eval.got10k_adapter import open_benchmark
from twintrack.eval.jobs import load_run
from twintrack.eval.paths import sot_folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(sot_folder("val")), help="a folder of sequences")
    parser.add_argument("--tracker", default="mdnet")
    parser.add_argument("--weights")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", help="output folder (default: a new temporary folder)")
    parser.add_argument("--set", nargs="*", default=[], metavar="key=value", help="tracker config overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    out = Path(args.out or tempfile.mkdtemp(prefix="twintrack_seeds_"))
    bench = open_benchmark("folder", args.data)
    scores = {}  # seed -> (auc, precision, normalized precision, per-sequence aucs)
    for seed in args.seeds:
        seed_dir = out / f"seed{seed}"
        command = ["eval", "--dataset", f"folder:{args.data}", "--out", str(seed_dir), "--workers",
                   str(args.workers), f"--tracker={args.tracker}", "--seed", str(seed)]
        command += ["--weights", args.weights] if args.weights else []
        if twintrack_main(command + list(args.set)) != 0:
            return 1
        runs = [load_run(bench.protocol, seed_dir / "results", args.tracker, seq) for seq in bench.sequences]
        per_sequence = np.array([r.score.success_auc for r in runs])
        scores[seed] = (per_sequence.mean(), np.mean([r.score.precision for r in runs]),
                        np.mean([r.score.normalized_precision for r in runs]), per_sequence)

    settings = " ".join(args.set) or "preset"
    print(f"\n{args.tracker} ({settings}) on {args.data}, seeds {args.seeds}; runs in {out}\n")
    print("| seed | success AUC | precision @20 px | norm. precision |\n|---|---|---|---|")
    for seed, (auc, precision, normalized, _) in scores.items():
        print(f"| {seed} | {auc:.3f} | {precision:.3f} | {normalized:.3f} |")
    table = np.array([s[:3] for s in scores.values()])
    mean, std = table.mean(axis=0), table.std(axis=0, ddof=1) if len(table) > 1 else np.zeros(3)
    print("| **mean** | **{:.3f}** | **{:.3f}** | **{:.3f}** |".format(*mean))
    print("| std | {:.3f} | {:.3f} | {:.3f} |".format(*std))
    per_sequence = np.stack([s[3] for s in scores.values()])
    print("\n| sequence | mean AUC | min | max |\n|---|---|---|---|")
    for index, seq in enumerate(bench.sequences):
        column = per_sequence[:, index]
        print(f"| {seq.name} | {column.mean():.3f} | {column.min():.3f} | {column.max():.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
