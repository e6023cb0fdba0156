"""Model selection: a candidate setting against the default, over seeds, on val AND on second opinions.

    python bench/selection.py --set KEY=VALUE [KEY=VALUE ...] [--seeds 0 1 2] [--splits val fold rest]
                              [--tracker mdnet] [--base-set KEY=VALUE ...] [--reference siamfc]
                              [--sequences NAME ...] [--workers 2] [--data DATA_ROOT] [--out runs/select]
    python bench/selection.py --tracker siamfc --set KEY=VALUE ...   # one run per setting (deterministic)
    python bench/selection.py --tracker siamfc --candidate-weights runs/new/siamfc_vggm.safetensors
    python bench/selection.py --tracker twin --base-tracker mdnet    # two trackers against each other

The protocol (docs/experiments.md; its helpers in twintrack/eval/selection.py): a setting is kept only when, on
every split, its mean AUC over the seeds is above the default's and it wins on more sequences than it loses
(per-sequence AUC averaged over the seeds, paired with the default's); a win narrower than a tenth of the default's
spread over seeds is rerun at seeds 0-5. The splits: ``val`` (DATA_ROOT/sot/val), ``fold`` (every 8th training
sequence by name, which no tuning looks at), ``rest`` (the other training sequences: a default split for SiamFC's
inference settings only, since MDNet's fc layers were trained on them) and ``occlusion`` (never a default: val and
the fold with the target hidden, built by bench/occlusion.py). DATA_ROOT defaults to $TWINTRACK_DATA, else
../shared/data beside the repository.

Each (tracker, resolved config, weights, code, split, seed, sequence) run is cached as a JSON file under --out,
keyed by a hash of all of those (the tracker's own source files included), so the default's runs are reused by
every candidate and a changed tracker is rerun. ``--sequences`` restricts every split to the named sequences
(screening only: a screen is not a decision). ``--reference siamfc`` adds a deterministic tracker's AUC per split.
The per-frame raw scores are cached too: bench/calibrate.py fits MDNet's lost-target map from the fold's.
(Named selection.py: a bench/select.py run as a script would shadow the standard library's select module.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from twintrack import create_tracker
from twintrack.app.registry import get_tracker
from twintrack.configs import parse_overrides
from twintrack.eval.occlusion import OCCLUSION_SPLIT
from twintrack.eval.paths import RUNS, data_root
from twintrack.eval.selection import (
    finished,
    fps,
    lost_rates,
    run_setting,
    split_sequences,
    split_verdict,
    won_lost,
)


def summarize(split, base, cand, sequences, seeds) -> str:
    """Print one split's table; return the candidate's verdict there (split_verdict)."""
    names = finished(sequences, [base, cand], seeds)  # all of them unless --partial
    if len(names) < len(sequences):
        print(f"\n(PARTIAL: {len(names)} of {len(sequences)} {split} sequences finished for every seed)")
    if not names:
        return "does not win"
    base_auc = np.array([[base[seed][n]["auc"] for n in names] for seed in seeds])
    cand_auc = np.array([[cand[seed][n]["auc"] for n in names] for seed in seeds])
    print(f"\n### {split} ({len(names)} sequences, seeds {seeds})\n")
    print("| seed | default | candidate | diff | sequences won / lost |\n|---|---|---|---|---|")
    for i, seed in enumerate(seeds):
        diff = cand_auc[i] - base_auc[i]
        print(f"| {seed} | {base_auc[i].mean():.3f} | {cand_auc[i].mean():.3f} | {diff.mean():+.3f} | "
              "{} / {} |".format(*won_lost(diff)))
    per_seed_base, per_seed_cand = base_auc.mean(axis=1), cand_auc.mean(axis=1)
    std = (lambda v: v.std(ddof=1) if len(v) > 1 else 0.0)
    print(f"| **mean** | **{per_seed_base.mean():.3f}** (std {std(per_seed_base):.3f}) | "
          f"**{per_seed_cand.mean():.3f}** (std {std(per_seed_cand):.3f}) | "
          f"**{(per_seed_cand - per_seed_base).mean():+.3f}** | |")
    paired = cand_auc.mean(axis=0) - base_auc.mean(axis=0)
    wins, losses = won_lost(paired)
    print(f"\nPer sequence (mean over seeds), candidate - default: won {wins}, lost {losses}, "
          f"tied {len(names) - wins - losses}; seeds where the candidate's mean is higher: "
          f"{int((per_seed_cand > per_seed_base).sum())} of {len(seeds)}\n")
    print("| sequence | default | candidate | diff |\n|---|---|---|---|")
    for index, n in enumerate(names):
        print(f"| {n} | {base_auc[:, index].mean():.3f} | {cand_auc[:, index].mean():.3f} | {paired[index]:+.3f} |")
    return split_verdict(per_seed_base, per_seed_cand, wins, losses)


def print_extras(split, sequences, base, cand, refs, seeds, workers) -> None:
    """The reference trackers' AUC, both settings' fps and, where frames are hidden, how often each reports the
    target lost there and elsewhere."""
    names = finished(sequences, [base, cand], seeds)
    if not names:
        return
    for name, ref in refs.items():
        if all(n in ref[split][0] for n in names):
            aucs = [ref[split][0][n]["auc"] for n in names]
            print(f"{name} (deterministic, one run) on {split}: AUC {np.mean(aucs):.3f}")
    by_name = {s.name: s for s in sequences}
    for label, runs in (("default", base), ("candidate", cand)):
        records = [runs[seed][n] for seed in seeds for n in names]
        print(f"{label} fps on {split} (update() only, 1 thread per worker, {workers} workers): {fps(records):.1f}")
        rates = lost_rates(records, [by_name[n] for n in names])
        if rates is not None:
            print(f"{label} reports the target lost on {100 * rates[0]:.0f}% of the frames it is hidden in "
                  f"and on {100 * rates[1]:.0f}% of the others")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", default="mdnet")
    parser.add_argument("--base-tracker", help="the default's tracker (default: --tracker): compare two trackers, "
                        "e.g. --tracker twin --base-tracker mdnet")
    parser.add_argument("--weights", help="the default's weights (and the candidate's unless --candidate-weights)")
    parser.add_argument("--candidate-weights", help="the candidate's weights: compare two weight files")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="the candidate's overrides")
    parser.add_argument("--base-set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="the default's overrides (default: the preset)")
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="default: 0 1 2; 0 for siamfc (deterministic: every seed gives the same boxes)")
    parser.add_argument("--splits", nargs="+", help="default: val fold; val fold rest for siamfc")
    parser.add_argument("--sequences", nargs="*", help="screen on these sequences only (not a decision)")
    parser.add_argument("--reference", nargs="*", default=["siamfc"], help="deterministic trackers to show")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, help=f"data root holding sot/train and sot/val (default: {data_root()})")
    parser.add_argument("--occlusion", type=Path, default=OCCLUSION_SPLIT, help="the occlusion split's folder")
    parser.add_argument("--out", type=Path, default=RUNS / "select", help="the run cache")
    parser.add_argument("--partial", action="store_true",
                        help="run nothing: summarize the cached runs finished so far (never a decision)")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = [0] if args.tracker == "siamfc" else [0, 1, 2]
    if args.splits is None:
        args.splits = ["val", "fold", "rest"] if args.tracker == "siamfc" else ["val", "fold"]
    split_seqs = {split: split_sequences(split, args.sequences, args.data, args.occlusion) for split in args.splits}
    base_over, cand_over = parse_overrides(args.base_set), parse_overrides(args.set)
    common = dict(split_seqs=split_seqs, out=args.out, workers=args.workers, run=not args.partial)
    base_tracker = args.base_tracker or args.tracker
    if get_tracker(base_tracker).stochastic:
        base = run_setting(create_tracker, base_tracker, base_over, args.seeds, args.weights, **common)
    else:  # a deterministic default runs once and stands for every seed
        once = run_setting(create_tracker, base_tracker, base_over, [0], args.weights, **common)
        base = {split: {seed: once[split][0] for seed in args.seeds} for split in once}
    # --weights are the candidate's too when both are one tracker; another tracker's file would not load.
    same_weights = args.weights if base_tracker == args.tracker else None
    cand = run_setting(create_tracker, args.tracker, cand_over, args.seeds, args.candidate_weights or same_weights,
                       **common)
    refs = {name: run_setting(create_tracker, name, {}, [0], None, **common) for name in args.reference}

    weights_note = f" with {args.candidate_weights}" if args.candidate_weights else ""
    base_note = f"{base_tracker} " if base_tracker != args.tracker else ""
    screen_note = " (SCREEN: subset of sequences)" if args.sequences else ""
    print(f"\n## {args.tracker}: candidate `{' '.join(args.set) or 'preset'}`{weights_note} vs default "
          f"{base_note}`{' '.join(args.base_set) or 'preset'}`{screen_note}")
    verdicts = {}
    for split, sequences in split_seqs.items():
        verdicts[split] = summarize(split, base[split], cand[split], sequences, args.seeds)
        print_extras(split, sequences, base[split], cand[split], refs, args.seeds, args.workers)
    per_split = ", ".join(f"{split}: {verdict}" for split, verdict in verdicts.items())
    if "does not win" in verdicts.values():
        outcome = "do not keep"
    elif "narrow" in verdicts.values():
        outcome = "RERUN with --seeds 0 1 2 3 4 5 (a narrow win)"
    else:
        outcome = "KEEP" if not args.sequences and not args.partial else "do not keep (a screen or partial run)"
    print(f"\nverdict: {outcome} ({per_split})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
