"""The twin tracker's boxes replayed from SiamFC's and MDNet's own cached runs (session 17, docs/selection.md):

    .venv/bin/python bench/twin_replay.py --weights runs/mdnet_v3_nofold/mdnet_vggm.safetensors \
        [--rule siamfc_first|max] [--seeds 0 1 2] [--splits val fold occlusion rest] [--out runs/select_int8]

The twin (tracker/twin.py) runs both trackers untouched and reports one of their answers per frame, so its boxes
on a sequence follow from the two trackers' own runs, which bench/selection.py caches: this reads those runs
(running the ones the cache lacks, as selection.py would) and applies the twin's rule (twin.choose) frame by frame.
It prints, per split, the three trackers' mean AUC per seed and the per-sequence table (mean over seeds) with the
sequences the twin wins and loses against each. `bench/selection.py --tracker twin --base-tracker mdnet` runs the
twin itself, for the decision and as the check that the replay is exact.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from selection import run_setting, split_sequences, won_lost  # noqa: E402
from twintrack.eval.metrics import score_sequence  # noqa: E402
from twintrack.tracker.base import TrackResult  # noqa: E402
from twintrack.tracker.twin import choose  # noqa: E402


def replay(rule: str, siamfc: dict, mdnet: dict) -> np.ndarray:
    """The twin's boxes (N, 4) from one sequence's SiamFC and MDNet run records (boxes, scores, lost per frame)."""
    boxes = []
    for frame in range(len(siamfc["boxes"])):
        answers = {name: TrackResult(np.asarray(run["boxes"][frame]), run["scores"][frame], run["lost"][frame])
                   for name, run in (("siamfc", siamfc), ("mdnet", mdnet))}
        boxes.append(answers[choose(rule, answers["siamfc"], answers["mdnet"])].box)
    return np.array(boxes)


def wins(a: list[float], b: list[float]) -> str:
    """"won / lost" of ``a`` against ``b``, sequence by sequence (selection.py's rule: within 1e-9 is a tie)."""
    return "{} / {}".format(*won_lost(np.asarray(a) - np.asarray(b)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="MDNet's weights (default: the shipped ones)")
    parser.add_argument("--rule", default="siamfc_first", choices=("siamfc_first", "max"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--splits", nargs="+", default=["val", "fold"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "runs" / "select"))
    parser.add_argument("--partial", action="store_true", help="run nothing: replay what the cache holds")
    args = parser.parse_args(argv)
    split_seqs = {split: split_sequences(split) for split in args.splits}
    out, run = Path(args.out), not args.partial
    siamfc = run_setting("siamfc", {}, [0], None, split_seqs, out, args.workers, run)
    mdnet = run_setting("mdnet", {}, args.seeds, args.weights, split_seqs, out, args.workers, run)
    print(f"## twin (`rule={args.rule}`) replayed from SiamFC's and MDNet's runs (MDNet: "
          f"{args.weights or 'shipped weights'}, seeds {args.seeds})")
    for split, sequences in split_seqs.items():
        names = [s.name for s in sequences
                 if s.name in siamfc[split][0] and all(s.name in mdnet[split][seed] for seed in args.seeds)]
        if not names:
            print(f"\n### {split}: no cached runs")
            continue
        by_name = {s.name: s for s in sequences}
        table = {}  # name -> (siamfc, mdnet per seed, twin per seed)
        for name in names:
            own = siamfc[split][0][name]
            twin = [score_sequence(replay(args.rule, own, mdnet[split][seed][name]),
                                   by_name[name].ground_truth).success_auc for seed in args.seeds]
            table[name] = (own["auc"], [mdnet[split][seed][name]["auc"] for seed in args.seeds], twin)
        print(f"\n### {split} ({len(names)} of {len(sequences)} sequences)\n")
        print("| seed | siamfc | mdnet | twin |\n|---|---|---|---|")
        for i, seed in enumerate(args.seeds):
            row = [np.mean([table[n][0] for n in names]), np.mean([table[n][1][i] for n in names]),
                   np.mean([table[n][2][i] for n in names])]
            print(f"| {seed} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
        s, m, t = ([float(np.mean(table[n][k])) for n in names] for k in range(3))
        print(f"| **mean** | **{np.mean(s):.3f}** | **{np.mean(m):.3f}** | **{np.mean(t):.3f}** |\n")
        print(f"twin against MDNet: won / lost {wins(t, m)}; against SiamFC: {wins(t, s)} (sequences, mean over "
              "seeds)\n")
        print("| sequence | siamfc | mdnet | twin | twin - mdnet | twin - siamfc |\n|---|---|---|---|---|---|")
        for name, a, b, c in zip(names, s, m, t):
            print(f"| {name} | {a:.3f} | {b:.3f} | {c:.3f} | {c - b:+.3f} | {c - a:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
