"""SiamFC's lost-target score: fit its logistic calibration on training sequences, measure it on others.

    python bench/siamfc_lost.py fit     [--data DATA_ROOT/sot/train] [--weights FILE]
    python bench/siamfc_lost.py measure [--data DATA_ROOT/sot/val]   [--weights FILE]

Samples, per sequence: the tracker is initialised on the first annotated frame; on up to ``--per-sequence``
later frames its search region is placed where tracking would put it (the true centre moved by a tracking error
of N(0, 0.1 x the target's mean side), the true size) and the response features are read (peak logit, peak
correlation relative to the first frame's, peak-to-sidelobe ratio; ``SiamFCTracker.score_features``) for three
versions of the frame:

- present: the frame as it is;
- painted out: the target's box (enlarged by 25%) covered by the frame's own background next to it (or inpainted
  where no such region fits), as when the target leaves or hides;
- elsewhere: a search region of the same size from a frame of another sequence.

``fit`` fits a logistic regression (present vs the two absent kinds, classes weighted equally), prints the
calibration and, with ``--write WEIGHTS``, stores it in that weights file (where SiamFC reads it). ``measure``
scores the samples with the weights' calibration (and ``--set`` overrides) and prints how well the score separates present from absent: the ROC AUC and the share of
each kind on the right side of 0.5. Fit on training sequences only; measure on val without tuning on it. DATA_ROOT
is $TWINTRACK_DATA, else ../shared/data beside the repository.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
import torch

from twintrack import create_tracker
from twintrack.configs import parse_overrides
from twintrack.data.images import read_image
from twintrack.eval.paths import sot_folder
from twintrack.eval.sequences import load_folder_sequences
from twintrack.geometry import context_size, xywh_to_cxcywh
from twintrack.tracker.siamfc import SiamFCCalibration
from twintrack.weights import write_calibration

FEATURES = ("peak", "ratio", "psr")
KINDS = ("present", "painted out", "elsewhere")


def place(tracker, center, size) -> None:
    """Put the tracker's search region where tracking would have it (centre, target size) for the next frame."""
    cfg = tracker.config
    tracker.center = np.asarray(center, dtype=np.float64)
    tracker.target_size = np.asarray(size, dtype=np.float64)
    tracker.exemplar_side = context_size(tracker.target_size, cfg.context)  # as init() sizes it
    tracker.search_side = tracker.exemplar_side * cfg.search_size / cfg.exemplar_size


def read_features(tracker, frame) -> np.ndarray:
    responses = tracker._responses(tracker.embed(tracker.search_crop(frame)))
    return tracker.score_features(responses[tracker._best_scale(responses)])


def paint_out(frame: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    """The frame with the box (enlarged 25%) covered by an equal-sized neighbouring region of the same frame."""
    height, width = frame.shape[:2]
    cx, cy, w, h = xywh_to_cxcywh(np.asarray(box, dtype=np.float64))
    w, h = 1.25 * w, 1.25 * h
    x0, y0 = int(np.floor(cx - w / 2)), int(np.floor(cy - h / 2))
    x1, y1 = int(np.ceil(cx + w / 2)), int(np.ceil(cy + h / 2))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    out = frame.copy()
    bw, bh = x1 - x0, y1 - y0
    shifts = [(dx, dy) for dx, dy in ((-bw, 0), (bw, 0), (0, -bh), (0, bh))
              if 0 <= x0 + dx and x1 + dx <= width and 0 <= y0 + dy and y1 + dy <= height]
    if shifts and bw > 0 and bh > 0:
        dx, dy = shifts[rng.integers(len(shifts))]
        out[y0:y1, x0:x1] = frame[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
    else:
        mask = np.zeros((height, width), np.uint8)
        mask[y0:y1, x0:x1] = 255
        out = cv2.inpaint(frame, mask, 3, cv2.INPAINT_TELEA)
    return out


def collect(tracker, sequences, per_sequence: int, seed: int = 0):
    """(features (N, 3), kind (N,) index into KINDS) over the sequences."""
    rng = np.random.default_rng(seed)
    features, kinds = [], []
    for s, sequence in enumerate(sequences):
        gt = sequence.ground_truth
        valid = np.flatnonzero(np.isfinite(gt).all(axis=1) & (gt[:, 2] > 1) & (gt[:, 3] > 1))
        if len(valid) < 2:
            continue
        tracker.init(read_image(sequence.frames[valid[0]]), gt[valid[0]])
        picks = valid[1:][np.linspace(0, len(valid) - 2, min(per_sequence, len(valid) - 1)).astype(int)]
        for t in picks:
            frame = read_image(sequence.frames[t])
            cx, cy, w, h = xywh_to_cxcywh(gt[t])
            center = np.array([cx, cy]) + rng.normal(0, 0.1 * (w + h) / 2, 2)
            for kind, image in ((0, frame), (1, paint_out(frame, gt[t], rng))):
                place(tracker, center, (w, h))
                features.append(read_features(tracker, image))
                kinds.append(kind)
            other = sequences[(s + 1 + rng.integers(len(sequences) - 1)) % len(sequences)]
            image = read_image(other.frames[rng.integers(len(other.frames))])
            place(tracker, rng.uniform(0, 1, 2) * image.shape[1::-1], (w, h))
            features.append(read_features(tracker, image))
            kinds.append(2)
        print(f"{sequence.name}: {len(picks)} frames", file=sys.stderr, flush=True)
    return np.array(features), np.array(kinds)


def fit_logistic(x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, l2: float = 1e-3, steps: int = 50):
    """Weighted L2-regularised logistic regression by Newton steps; returns (bias, weights) in x's units."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = np.column_stack([np.ones(len(x)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ beta))
        grad = z.T @ (sample_weight * (p - y)) + l2 * np.r_[0, beta[1:]]
        hess = (z * (sample_weight * p * (1 - p))[:, None]).T @ z + l2 * np.diag(np.r_[0, np.ones(len(beta) - 1)])
        beta -= np.linalg.solve(hess, grad)
    weights = beta[1:] / std
    return float(beta[0] - (weights * mean).sum()), weights


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a present sample > score of an absent one), ties counted half (Mann-Whitney U)."""
    both = np.concatenate([positive, negative])
    ranks = np.empty(len(both))
    order = np.argsort(both, kind="mergesort")
    ranks[order] = np.arange(1, len(both) + 1)
    for value in np.unique(both):  # average ranks of ties
        tied = both == value
        ranks[tied] = ranks[tied].mean()
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def report(scores: np.ndarray, kinds: np.ndarray) -> None:
    present, absent = scores[kinds == 0], scores[kinds > 0]
    print(f"ROC AUC present vs absent: {roc_auc(present, absent):.3f} "
          f"({len(present)} present, {len(absent)} absent samples)")
    for k, name in enumerate(KINDS):
        share = (scores[kinds == k] >= 0.5).mean() if k == 0 else (scores[kinds == k] < 0.5).mean()
        side = "score >= 0.5" if k == 0 else "score < 0.5"
        print(f"  {name}: {share:.1%} with {side}, median score {np.median(scores[kinds == k]):.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("fit", "measure"))
    parser.add_argument("--data", help="sequence folders (fit: sot/train, measure: sot/val)")
    parser.add_argument("--weights", help="SiamFC weights (default: shipped)")
    parser.add_argument("--per-sequence", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="SiamFC config overrides")
    parser.add_argument("--write", metavar="WEIGHTS", help="fit: store the fitted weights in this weights file's "
                        "metadata, where SiamFC reads them (twintrack.weights.write_calibration)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = args.data or str(sot_folder("train" if args.mode == "fit" else "val"))
    tracker = create_tracker("siamfc", weights=args.weights, device="cpu", **parse_overrides(args.set))
    features, kinds = collect(tracker, load_folder_sequences(data), args.per_sequence)
    print(f"{data}: {len(kinds)} samples")
    for i, name in enumerate(FEATURES):
        print(f"  {name}: ROC AUC alone {roc_auc(features[kinds == 0, i], features[kinds > 0, i]):.3f}")
    if args.mode == "fit":
        labels = (kinds == 0).astype(np.float64)
        # Present and absent weigh the same in all, and the two absent kinds the same within absent.
        weight = np.where(kinds == 0, 0.5 / (kinds == 0).sum(), 0.0)
        for k in (1, 2):
            weight[kinds == k] = 0.25 / (kinds == k).sum()
        bias, weights = fit_logistic(features, labels, weight * len(kinds))
        fitted = {"bias": float(f"{bias:.4g}"), **{n: float(f"{v:.4g}") for n, v in zip(FEATURES, weights)}}
        print(f"\nfitted calibration: {fitted}")
        tracker.calibration = SiamFCCalibration.from_dict(fitted)
        if args.write:
            write_calibration(args.write, fitted)
            print(f"calibration written into {args.write}")
    scores = np.array([tracker.score(f) for f in features])
    report(scores, kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
