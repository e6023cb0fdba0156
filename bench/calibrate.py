"""Fit MDNet's lost-target map on training sequences: score = sigmoid(scale * fc6 score + shift).

    python bench/calibrate.py [--set KEY=VALUE ...] [--seeds 0 1 2] [--label-iou 0.2] [--out runs/select]
                              [--data DATA_ROOT]

Reads the per-frame raw fc6 scores that bench/selection.py cached for that setting on the training fold (run it
first; this script tracks nothing itself), labels each frame "on target" when the box overlaps the ground truth by
at least --label-iou, and fits a one-variable logistic regression by Newton's method. The fit uses training
sequences only; the table it prints on val (if val runs are cached) is a check, never an input. Put the two
numbers in twintrack/configs/mdnet.yaml. --out and --data must be those of the bench/selection.py run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from twintrack import create_tracker
from twintrack.configs import parse_overrides
from twintrack.eval.paths import RUNS, data_root
from twintrack.eval.selection import record_path, run_key, split_sequences
from twintrack.geometry import iou
from twintrack.weights import write_calibration


def load_frames(out: Path, key: str, split: str, sequences) -> tuple[np.ndarray, np.ndarray]:
    """(raw scores, IoU with the ground truth) of every update() frame with a known box, from the cached runs."""
    raw, overlap = [], []
    for sequence in sequences:
        path = record_path(out, key, split, sequence.name)
        if not path.exists():
            raise SystemExit(f"calibrate.py: no cached run {path}; run bench/selection.py with this setting first")
        record = json.loads(path.read_text())
        boxes, gt = np.array(record["boxes"])[1:], sequence.ground_truth[1 : len(record["boxes"])]
        known = np.all(np.isfinite(gt), axis=1)
        raw.extend(np.array(record["raw_scores"][1:], dtype=np.float64)[known])
        overlap.extend(iou(boxes[known], gt[known]))
    return np.array(raw), np.array(overlap)


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3, steps: int = 50) -> tuple[float, float]:
    """(a, b) maximising the likelihood of y ~ sigmoid(a x + b), by Newton's method (a small ridge keeps it finite
    when the classes separate)."""
    design = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.zeros(2)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ theta))
        gradient = design.T @ (p - y) + ridge * theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge * np.eye(2)
        theta -= np.linalg.solve(hessian, gradient)
    return float(theta[0]), float(theta[1])


def report(name: str, raw, overlap, a: float, b: float, label_iou: float) -> None:
    prob = 1 / (1 + np.exp(-(a * raw + b)))
    on_target = overlap >= label_iou
    lost = prob < 0.5
    print(f"\n{name}: {len(raw)} frames, {on_target.mean():.1%} on target (IoU >= {label_iou})")
    print(f"  reported lost: {lost.mean():.1%} of frames; of the frames off target {lost[~on_target].mean():.1%} "
          f"reported lost, of those on target {lost[on_target].mean():.1%}")
    print("  | calibrated score | frames | on target |\n  |---|---|---|")
    for low in np.arange(0, 1, 0.2):
        band = (prob >= low) & (prob < low + 0.2 + 1e-9 * (low >= 0.8))
        if band.any():
            print(f"  | {low:.1f}-{low + 0.2:.1f} | {band.sum()} | {on_target[band].mean():.1%} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--weights")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--label-iou", type=float, default=0.2)
    parser.add_argument("--write", metavar="WEIGHTS", help="store the fitted map in this weights file's metadata, "
                        "where MDNet reads it (twintrack.weights.write_calibration)")
    parser.add_argument("--out", type=Path, default=RUNS / "select", help="bench/selection.py's run cache")
    parser.add_argument("--data", type=Path, help=f"data root holding sot/train and sot/val (default: {data_root()})")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    fits = {}
    for split in ("fold", "val"):
        raw, overlap = [], []
        for seed in args.seeds:
            key = run_key(create_tracker, "mdnet", overrides, seed, args.weights)
            try:
                seed_raw, seed_overlap = load_frames(args.out, key, split, split_sequences(split, data=args.data))
            except SystemExit:
                if split == "fold":
                    raise
                print(f"(no cached val runs for seed {seed}: val check skipped)")
                break
            raw.append(seed_raw)
            overlap.append(seed_overlap)
        else:
            fits[split] = (np.concatenate(raw), np.concatenate(overlap))
    raw, overlap = fits["fold"]
    a, b = fit_logistic(raw, (overlap >= args.label_iou).astype(np.float64))
    print(f"fit on the training fold, seeds {args.seeds}: scale {a:.4f}, shift {b:.4f} "
          f"(0.5 at fc6 score {-b / a:.3f})")
    for split, (raw, overlap) in fits.items():
        report(split + (" (fitted here)" if split == "fold" else " (check only)"), raw, overlap, a, b,
               args.label_iou)
    if args.write:
        write_calibration(args.write, {"scale": round(float(a), 4), "shift": round(float(b), 4)})
        print(f"calibration written into {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
