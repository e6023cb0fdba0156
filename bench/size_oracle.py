"""Where a setting's AUC goes: the centre or the size. Reads the boxes bench/selection.py cached (run it first; this
script tracks nothing) and scores them four ways against the ground truth:

    .venv/bin/python bench/size_oracle.py --tracker siamfc [--set KEY=VALUE ...] [--weights W] [--seeds 0]
        [--splits val fold rest] [--out runs/select_int8]

- as tracked;
- with the true area at the tracker's own centre and aspect (how much the scale estimate costs);
- with the true aspect at the tracker's own centre and area (how much a fixed aspect costs);
- with the true width and height at the tracker's own centre (both; what is left is the centre's error).

The columns are oracles, not trackers: they say which part of the box is worth working on. Session 14 read it on val
alone (SiamFC: 0.458 as tracked, about +0.06 with the true area, +0.004 with the true aspect) before building SiamFC's
box regression (docs/selection.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from selection import ROOT, run_key, split_sequences


def with_size(boxes: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``boxes`` (N, 4: x, y, w, h) resized to ``sizes`` (N, 2) about their own centres."""
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    return np.concatenate([centres - sizes / 2, sizes], axis=1)


def oracle_sizes(boxes: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """The (N, 2) sizes of each oracle: the true area at the box's aspect, the true aspect at the box's area, the
    true width and height."""
    area_scale = np.sqrt((truth[:, 2] * truth[:, 3]) / (boxes[:, 2] * boxes[:, 3]))[:, None]
    area = boxes[:, 2] * boxes[:, 3]
    aspect = truth[:, 2] / truth[:, 3]
    width = np.sqrt(area * aspect)
    return {"true area": boxes[:, 2:] * area_scale, "true aspect": np.stack([width, area / width], axis=1),
            "true size": truth[:, 2:]}


def main(argv=None) -> int:
    from twintrack.configs import parse_overrides
    from twintrack.eval.metrics import score_sequence

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", default="siamfc", choices=("siamfc", "mdnet"))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--weights")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--splits", nargs="+", default=["val"])
    parser.add_argument("--out", default=str(ROOT / "runs" / "select"))
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    columns = ("as tracked", "true area", "true aspect", "true size")
    print(f"{args.tracker} {overrides or 'preset'}, seeds {args.seeds}: mean AUC over sequences and seeds\n")
    print("| split | sequences | " + " | ".join(columns) + " |\n|---|---|" + "---|" * len(columns))
    for split in args.splits:
        sequences = split_sequences(split)
        totals = {c: [] for c in columns}
        for seed in args.seeds:
            folder = Path(args.out) / run_key(args.tracker, overrides, seed, args.weights)
            for sequence in sequences:
                path = folder / f"{split}_{sequence.name}.json"
                if not path.exists():
                    raise SystemExit(f"size_oracle.py: no cached run {path}; run bench/selection.py with this "
                                     f"setting, seed and split first")
                boxes = np.array(json.loads(path.read_text())["boxes"], dtype=np.float64)
                truth = sequence.ground_truth[: len(boxes)]
                known = np.all(np.isfinite(truth), axis=1)
                # Frames without a true box keep the tracked box (the metric skips them anyway).
                oracles = oracle_sizes(np.where(known[:, None], boxes, 1.0), np.where(known[:, None], truth, 1.0))
                totals["as tracked"].append(score_sequence(boxes, truth).success_auc)
                for column in columns[1:]:
                    resized = np.where(known[:, None], with_size(boxes, oracles[column]), boxes)
                    totals[column].append(score_sequence(resized, truth).success_auc)
        cells = " | ".join(f"{np.mean(totals[c]):.3f}" for c in columns)
        print(f"| {split} | {len(sequences)} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
