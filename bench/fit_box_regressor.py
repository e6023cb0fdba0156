"""Fit SiamFC's offline box regression (the shipped ``bbreg_prior``) across training sequences:

    python bench/fit_box_regressor.py --out runs/box_regressor.safetensors [--data DATA_ROOT/sot/train]
        [--every 3] [--boxes 8] [--lambdas 1e4 1e5 1e6 1e7]

The first-frame regression (`use_bbreg`) learns one video's first box, loose or not, and one view of the target.
This one sees many targets at many sizes: on every --every-th frame of each sequence it simulates SiamFC's box
(the first frame's aspect, the true area times 1.05 ** N(0, 4), the centre off by N(0, 0.1) x the mean side), cuts
SiamFC's search crop around it, pools --boxes jittered boxes with MDNet's RoIAlign (the tracker's own code) and
accumulates the ridge regression's normal equations from those boxes to the true one. The ridge weight is chosen on
the last fifth of the sequences (by name) held out from the fit, then the fit is redone on all of them. On the
held-out sequences it also prints the error of each one's own first-frame regression (`use_bbreg`) and of that
regression with this fit as its prior (`bbreg_prior`).

It reads no val sequence, and it leaves out the sequences of the selection fold (DATA_ROOT/sot/train's every 8th
by name, twintrack/eval/selection.py) that --data holds, so that val and the fold can judge the fit
(`bench/selection.py --tracker siamfc --set bbreg_prior=OUT`). The shipped prior is this command with its
defaults (DATA_ROOT: $TWINTRACK_DATA, else ../shared/data beside the repository); its record is
twintrack/weights/bbreg_prior.json.

Checks: ``--samples tracked`` fits on the paper's SiamFC's own boxes instead of simulated ones (its held-out
figures are then on SiamFC's real errors); ``--compare FILE`` prints another prior's error on the same held-out
boxes, alone and under the first-frame fit (fair only for a FILE written with ``--no-refit``, which leaves the
held-out sequences out of the saved fit); ``--first-lambda`` sets that first-frame fit's ``bbreg_lambda``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

import twintrack
from twintrack.data import discover
from twintrack.data.images import read_image
from twintrack.eval.paths import sot_folder
from twintrack.eval.selection import split_sequences
from twintrack.geometry import context_size, crop_and_resize, iou
from twintrack.tracker.bbreg import BoxRegressor, load_regressor, regression_targets


def simulated_boxes(rng: np.random.Generator, truth: np.ndarray, first_aspect: float, count: int) -> np.ndarray:
    """``count`` boxes (x, y, w, h) as SiamFC might report for ``truth``: its first frame's aspect, the true area
    scaled by 1.05 ** N(0, 4), the centre moved by N(0, 0.1) x the true mean side."""
    cx, cy = truth[:2] + truth[2:] / 2
    area = truth[2] * truth[3] * (1.05 ** rng.normal(0, 4, count)) ** 2
    width = np.sqrt(area * first_aspect)
    height = area / width
    shift = rng.normal(0, 0.1, (count, 2)) * truth[2:].mean()
    return np.stack([cx + shift[:, 0] - width / 2, cy + shift[:, 1] - height / 2, width, height], axis=1)


class NormalEquations:
    """Running sums for a ridge regression with an intercept: n, sum x, sum y, X^T X, X^T Y (float64)."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.sx, self.sy = np.zeros(dim), np.zeros(4)
        self.xx, self.xy = np.zeros((dim, dim)), np.zeros((dim, 4))

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        x, y = x.astype(np.float64), y.astype(np.float64)
        self.n += len(x)
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.xx += x.T @ x
        self.xy += x.T @ y

    def solve(self, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights (D, 4), feature mean (D,), target mean (4,)) of the centred ridge regression."""
        mean_x, mean_y = self.sx / self.n, self.sy / self.n
        xx = self.xx - self.n * np.outer(mean_x, mean_x)
        xy = self.xy - self.n * np.outer(mean_x, mean_y)
        weights = np.linalg.solve(xx + ridge * np.eye(len(xx)), xy)
        return weights, mean_x, mean_y


def simulated_samples(rng: np.random.Generator, sequence, every: int, count: int):
    """(frame index, (count, 4) boxes) of simulated SiamFC boxes (simulated_boxes) on every ``every``-th frame."""
    first_aspect = sequence.boxes[0, 2] / sequence.boxes[0, 3]
    for index in range(1, len(sequence.frames), every):
        truth = sequence.boxes[index]
        if np.all(np.isfinite(truth)) and truth[2] > 2 and truth[3] > 2:
            yield index, simulated_boxes(rng, truth, first_aspect, count)


def collect(tracker, sequence, samples):
    """Features (N, 4608) and regression targets (N, 4) of one sequence's sample boxes: ``samples`` yields (frame
    index, boxes), and each frame's boxes are pooled from SiamFC's search crop around the first of them."""
    cfg = tracker.config
    features, targets = [], []
    for index, boxes in samples:
        frame = read_image(sequence.frames[index])
        # SiamFC's search crop around the first box (its centre and size), as the tracker would cut it.
        centre = boxes[0, :2] + boxes[0, 2:] / 2
        side = context_size(boxes[0, 2:], cfg.context) * cfg.search_size / cfg.exemplar_size
        crop = crop_and_resize(frame, centre, side, cfg.search_size, frame.reshape(-1, 3).mean(axis=0))
        feat = tracker.embed(crop[None])
        features.append(tracker._pool(feat, boxes, centre, side))
        targets.append(regression_targets(boxes, sequence.boxes[index]))
    if not features:
        return np.zeros((0, 512 * 9), np.float32), np.zeros((0, 4))
    return np.concatenate(features), np.concatenate(targets)


def tracked_samples(rng: np.random.Generator, sequence, every: int, count: int, min_iou: float = 0.3):
    """(frame index, (count, 4) boxes) where SiamFC itself puts its box: the paper's tracker (no regression) is run
    over the sequence, and on every ``every``-th frame whose tracked box overlaps the truth by ``min_iou`` (a lost
    box is no regression's business) that box and ``count - 1`` small jitters of it (area x 1.05 ** N(0, 1), centre
    off by N(0, 0.03) x the side) are the samples."""
    tracker = twintrack.create_tracker("siamfc", device="cpu", use_bbreg=False)
    tracker.init(read_image(sequence.frames[0]), sequence.boxes[0])
    for index in range(1, len(sequence.frames)):
        tracker.update(read_image(sequence.frames[index]))
        truth = sequence.boxes[index]
        if index % every or not (np.all(np.isfinite(truth)) and truth[2] > 2 and truth[3] > 2):
            continue
        box = np.concatenate([tracker.center - tracker.target_size / 2, tracker.target_size])
        if iou(box[None], truth[None])[0] < min_iou:
            continue
        centre, size = box[:2] + box[2:] / 2, box[2:] * (1.05 ** rng.normal(0, 1, (count, 1)))
        centres = centre + rng.normal(0, 0.03, (count, 2)) * box[2:].mean()
        centres[0], size[0] = centre, box[2:]
        yield index, np.concatenate([centres - size / 2, size], axis=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(sot_folder("train")), help="training sequences (default: %(default)s)")
    parser.add_argument("--out", required=True, help="the regression file to write (.safetensors)")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--boxes", type=int, default=8)
    parser.add_argument("--lambdas", type=float, nargs="+", default=[1e4, 1e5, 1e6, 1e7],
                        help="ridge weights to choose from on the held-out sequences")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", help="another prior file to check on the same held-out boxes (fair only if it "
                        "was fitted without them: write it with --no-refit)")
    parser.add_argument("--no-refit", action="store_true",
                        help="save the fit without the held-out sequences (default: refit on all of them)")
    parser.add_argument("--first-lambda", type=float, help="the first-frame fit's bbreg_lambda (default: the preset's)")
    parser.add_argument("--samples", choices=("simulated", "tracked"), default="simulated",
                        help="simulated SiamFC boxes around the truth, or the paper's SiamFC's own tracked boxes")
    parser.add_argument("--keep-fold", action="store_true",
                        help="fit on the selection fold's sequences too (default: left out)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    sequences = [s for s in discover(args.data) if not s.still]
    if not args.keep_fold:
        fold = {s.name for s in split_sequences("fold")}
        print(f"left out the selection fold: {', '.join(s.name for s in sequences if s.name in fold) or 'none'}")
        sequences = [s for s in sequences if s.name not in fold]
    held_out = {s.name for s in sorted(sequences, key=lambda s: s.name)[-(len(sequences) // 5):]}
    # The tracker cuts and pools the crops, and fits the first-frame regressions the offline one is compared with.
    overrides = {} if args.first_lambda is None else {"bbreg_lambda": args.first_lambda}
    tracker = twintrack.create_tracker("siamfc", device="cpu", use_bbreg=True, bbreg_prior="", **overrides)
    rng = np.random.default_rng(args.seed)
    fit, held = NormalEquations(512 * 9), []
    sampler = simulated_samples if args.samples == "simulated" else tracked_samples
    for number, sequence in enumerate(sequences):
        x, y = collect(tracker, sequence, sampler(rng, sequence, args.every, args.boxes))
        if sequence.name in held_out:
            held.append((x, y, sequence))
        else:
            fit.add(x, y)
        print(f"{number + 1}/{len(sequences)} {sequence.name}: {len(x)} boxes", flush=True)
    print(f"\nfit on {fit.n} boxes of {len(sequences) - len(held_out)} sequences; held out: {sorted(held_out)}")
    hx, hy = np.concatenate([h[0] for h in held]), np.concatenate([h[1] for h in held])
    baseline = float(np.mean(hy ** 2))
    scores = {}
    for ridge in args.lambdas:
        weights, mean_x, mean_y = fit.solve(ridge)
        error = float(np.mean(((hx - mean_x) @ weights + mean_y - hy) ** 2))
        scores[ridge] = error
        print(f"ridge {ridge:g}: held-out mean squared error {error:.5f} (no regression: {baseline:.5f})")
    best = min(scores, key=scores.get)
    # What this fit competes with, on the same held-out boxes: each sequence's own first-frame regression (the
    # tracker's use_bbreg), alone and with this fit as its prior (bbreg_prior).
    offline = BoxRegressor.from_arrays(*fit.solve(best))
    priors = {"none": None, "this fit": offline}
    if args.compare:
        priors[args.compare] = load_regressor(args.compare)
        error = np.mean((priors[args.compare].deltas(hx) - hy) ** 2)
        print(f"{args.compare} alone: held-out mean squared error {error:.5f}")
    first_frames = [read_image(sequence.frames[0]) for _, _, sequence in held]  # read once, fitted once per prior
    for name, prior in priors.items():
        tracker.regressor_prior = prior
        errors = []
        for (x, y, sequence), first in zip(held, first_frames):
            tracker.init(first, sequence.boxes[0])
            errors.append((tracker.regressor.deltas(x) - y) ** 2)
        print(f"each sequence's own first-frame regression (bbreg_lambda {tracker.config.bbreg_lambda:g}) on top of "
              f"{name}: {np.mean(np.concatenate(errors)):.5f}")
    if not args.no_refit:
        for x, y, _ in held:
            fit.add(x, y)
    weights, mean_x, mean_y = fit.solve(best)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_file({"weights": weights.astype(np.float32), "feature_mean": mean_x.astype(np.float32),
               "target_mean": mean_y.astype(np.float32), "ridge": np.array([best], np.float32)}, args.out)
    print(f"ridge {best:g} (held-out best), {'fitted' if args.no_refit else 'refit'} on {fit.n} boxes: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
