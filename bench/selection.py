"""Honest model selection: a candidate setting against the default, over seeds, on val AND on a second opinion.

    .venv/bin/python bench/selection.py --set KEY=VALUE [KEY=VALUE ...] [--seeds 0 1 2] [--splits val fold rest]
                                     [--tracker mdnet] [--base-set KEY=VALUE ...] [--reference siamfc]
                                     [--sequences NAME ...] [--workers 2] [--out runs/select]
    .venv/bin/python bench/selection.py --tracker siamfc --set KEY=VALUE ...   # one run per setting (deterministic)
    .venv/bin/python bench/selection.py --tracker siamfc --candidate-weights runs/new/siamfc_vggm.safetensors

(Named selection.py: a bench/select.py run as a script would shadow the standard library's select module, which
multiprocessing imports.) The protocol (docs/selection.md): a setting is kept only when, on BOTH splits, its mean AUC over the seeds is above
the default's and it wins on more sequences than it loses (per-sequence AUC averaged over the seeds, paired with
the default's). The splits:

- ``val``: ../shared/data/sot/val, the 12 sequences every setting so far was tuned on;
- ``fold``: a fixed fold of training sequences that no tuning looked at: every 8th name of
  ../shared/data/sot/train in sorted order, starting with the first (8 sequences, 668 frames; listed in
  docs/selection.md). The shipped MDNet fc layers were trained on them (and the conv layers, SiamFC's, too): a
  fold held out from training would be better, see the doc.
- ``rest`` (a default split for siamfc only): the other 53 training sequences (6,310 frames). A third opinion for
  SiamFC's inference settings: like the fold, they are in SiamFC's training set and no inference setting was
  tuned on them. For MDNet they are not (its fc layers were trained on them), so MDNet's default is val and fold.
- ``occlusion`` (never a default): val and the fold with the target hidden for up to 20 frames
  (bench/occlusion.py builds it under runs/occlusion). A stress test for robustness settings, whose failure mode
  the other splits lack.

Each (tracker, resolved config, weights, code, split, seed, sequence) run is cached as a JSON file under --out, keyed
by a hash of all of those (the tracker's own source files included), so the default's runs are reused by every
candidate and a changed tracker is rerun. ``--sequences`` restricts both splits to the named sequences (screening
only: a screen is not a decision). ``--reference siamfc`` adds a deterministic tracker's AUC per split (one run).
The per-frame raw scores are kept in the cache too: bench/calibrate.py fits MDNet's lost-target map from the fold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sot"
OCCLUSION = ROOT / "runs" / "occlusion"  # the stress split bench/occlusion.py writes
FOLD_EVERY, FOLD_START = 8, 0  # the second opinion: sorted(train)[FOLD_START::FOLD_EVERY]


def split_sequences(split: str, only=None):
    from twintrack.eval.sequences import load_folder_sequences

    if split == "val":
        sequences = load_folder_sequences(DATA / "val")
    elif split in ("fold", "rest"):
        train = sorted(load_folder_sequences(DATA / "train"), key=lambda s: s.name)
        fold = train[FOLD_START::FOLD_EVERY]
        fold_names = {s.name for s in fold}
        sequences = fold if split == "fold" else [s for s in train if s.name not in fold_names]
    elif split == "occlusion":
        if not OCCLUSION.is_dir():
            raise SystemExit(f"selection.py: no '{OCCLUSION}'; build the occlusion split with bench/occlusion.py")
        sequences = load_folder_sequences(OCCLUSION)
    else:
        raise SystemExit(f"selection.py: unknown split {split!r} (val, fold, rest or occlusion)")
    return [s for s in sequences if not only or s.name in only]


# Config keys that map the reported score and nothing else: changing them does not rerun the boxes.
SCORE_ONLY_KEYS = ("score_scale", "score_shift")


# Shared modules left out of a run's code hash: configs (the resolved config is in the key itself) and utilities
# that several people edit for reasons unrelated to tracking (frame checks, box helpers, timers). A change there
# that moves boxes needs --out pointed at a fresh folder.
SHARED_MODULES = ("twintrack.configs", "twintrack.geometry", "twintrack.tracker.base", "twintrack.tracker.timing")


def code_files(tracker) -> list[Path]:
    """The tracker's module and the twintrack modules it imports names from (but SHARED_MODULES): the code that
    decides its boxes."""
    module = sys.modules[type(tracker).__module__]
    names = {module.__name__}
    for value in vars(module).values():
        owner = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if isinstance(owner, str) and owner.startswith("twintrack") and owner not in SHARED_MODULES:
            names.add(owner)
    files = {Path(sys.modules[n].__file__) for n in names if n in sys.modules}
    for part in vars(tracker).values():  # a tracker built of trackers (the twin): theirs too
        if callable(getattr(part, "update", None)) and type(part).__module__.startswith("twintrack.tracker."):
            files.update(code_files(part))
    return sorted(files)


def run_key(tracker_name: str, overrides: dict, seed: int, weights) -> str:
    """Hash of everything that decides a run's boxes except the sequence (built once per setting and seed)."""
    from twintrack import create_tracker

    tracker = create_tracker(tracker_name, weights=weights, device="cpu", seed=seed, **overrides)
    config = {k: v for k, v in vars(tracker.config).items() if k not in SCORE_ONLY_KEYS}
    digest = hashlib.sha1(f"{tracker_name}|{config!r}|{seed}|{weights}".encode())
    if weights is not None:  # the file's contents, not only its path: a run folder's weights change as it trains
        digest.update(Path(weights).read_bytes())
    for path in code_files(tracker):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def track_one(job) -> dict:
    """One sequence: boxes, reported scores, lost flags and MDNet's raw fc6 score per frame (if it has one)."""
    import torch

    from twintrack import create_tracker
    from twintrack.eval.metrics import score_sequence
    from twintrack.eval.runner import track_sequence

    tracker_name, overrides, seed, weights, sequence, path = job
    torch.set_num_threads(1)
    tracker = create_tracker(tracker_name, weights=weights, device="cpu", seed=seed, **overrides)
    tracked = track_sequence(tracker, sequence)
    boxes, scores, lost, raw, seconds = (tracked.boxes.tolist(), tracked.scores, tracked.lost, tracked.raw_scores,
                                         tracked.update_seconds)
    score = score_sequence(np.array(boxes), sequence.ground_truth)
    record = {"sequence": sequence.name, "seed": seed, "overrides": overrides, "auc": score.success_auc, "precision": score.precision,
              "update_seconds": seconds, "boxes": boxes, "scores": scores, "lost": lost, "raw_scores": raw}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)  # atomic: an interrupted run leaves no half-written result
    return record


def run_setting(tracker_name, overrides, seeds, weights, split_seqs, out: Path, workers: int, run: bool = True):
    """{split: {seed: {sequence: record}}}, running only what the cache lacks (nothing with ``run=False``)."""
    results, jobs = {}, []
    for seed in seeds:
        key = run_key(tracker_name, overrides, seed, weights)
        for split, sequences in split_seqs.items():
            folder = out / key
            folder.mkdir(parents=True, exist_ok=True)
            for sequence in sequences:
                path = folder / f"{split}_{sequence.name}.json"
                slot = results.setdefault(split, {}).setdefault(seed, {})
                if path.exists():
                    slot[sequence.name] = json.loads(path.read_text())
                else:
                    jobs.append(((tracker_name, overrides, seed, weights, sequence, path), split, seed))
    jobs.sort(key=lambda j: -len(j[0][4].frames))  # longest first: workers finish together
    if jobs and run:
        print(f"{tracker_name} {overrides or '(preset)'}: {len(jobs)} sequence runs to do", flush=True)
        context = multiprocessing.get_context("spawn")
        with context.Pool(max(1, workers)) as pool:
            for (job, split, seed), record in zip(jobs, pool.imap(track_one, [j[0] for j in jobs])):
                results[split][seed][record["sequence"]] = record
    return results


def won_lost(diff) -> tuple[int, int]:
    """Sequences won and lost from per-sequence differences (candidate - default); within 1e-9 is a tie."""
    diff = np.asarray(diff)
    return int((diff > 1e-9).sum()), int((diff < -1e-9).sum())


def summarize(name, split, base, cand, sequences, seeds) -> str:
    """Print one split's table; the candidate's verdict there (``split_verdict``)."""
    # Only sequences finished for every seed of both settings (all of them unless --partial).
    names = [s.name for s in sequences if all(s.name in runs[seed] for runs in (base, cand) for seed in seeds)]
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
              f"{(diff > 0).sum()} / {(diff < 0).sum()} |")
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


NARROW = 0.1  # protocol item 10: a win by less than this x the default's std over seeds is rerun at seeds 0-5
FULL_SEEDS = 6


def split_verdict(per_seed_base: np.ndarray, per_seed_cand: np.ndarray, wins: int, losses: int) -> str:
    """"wins", "does not win" or "narrow" (protocol item 10: won by less than NARROW x the default's std over
    fewer than FULL_SEEDS seeds, so rerun at seeds 0-5) from the per-seed means and the paired sequence count."""
    margin = float(per_seed_cand.mean() - per_seed_base.mean())
    if not (margin > 0 and wins > losses):
        return "does not win"
    spread = float(per_seed_base.std(ddof=1)) if len(per_seed_base) > 1 else 0.0
    return "narrow" if len(per_seed_base) < FULL_SEEDS and margin < NARROW * spread else "wins"


def fps(records) -> float:
    frames = sum(len(r["boxes"]) - 1 for r in records)
    return frames / max(sum(r["update_seconds"] for r in records), 1e-9)


def lost_rates(records, sequences) -> tuple[float, float] | None:
    """(share of frames reported lost where the target is hidden, share where it is not), over every record; the
    hidden frames are those without ground truth (the occlusion split's). None when no frame is hidden."""
    truth = {s.name: np.all(np.isfinite(s.ground_truth), axis=1) for s in sequences}
    hidden, seen = [], []
    for record in records:
        count = min(len(truth[record["sequence"]]), len(record["lost"]))
        visible = truth[record["sequence"]][1:count]  # update() frames only: the first is init's
        lost = np.asarray(record["lost"], dtype=bool)[1:count]
        hidden.extend(lost[~visible])
        seen.extend(lost[visible])
    return (float(np.mean(hidden)), float(np.mean(seen))) if hidden else None


def main(argv=None) -> int:
    from twintrack.configs import parse_overrides
    from twintrack.app.registry import get_tracker

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
    parser.add_argument("--splits", nargs="+",
                        help="default: val fold; val fold rest for siamfc (docs/selection.md, protocol item 4)")
    parser.add_argument("--sequences", nargs="*", help="screen on these sequences only (not a decision)")
    parser.add_argument("--reference", nargs="*", default=["siamfc"], help="deterministic trackers to show")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "runs" / "select"))
    parser.add_argument("--partial", action="store_true",
                        help="run nothing: summarize the cached runs finished so far (never a decision)")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = [0] if args.tracker == "siamfc" else [0, 1, 2]
    if args.splits is None:
        args.splits = ["val", "fold", "rest"] if args.tracker == "siamfc" else ["val", "fold"]
    out = Path(args.out)
    split_seqs = {split: split_sequences(split, args.sequences) for split in args.splits}
    base_over, cand_over = parse_overrides(args.base_set), parse_overrides(args.set)
    run = not args.partial
    base_tracker = args.base_tracker or args.tracker
    if get_tracker(base_tracker).stochastic:
        base = run_setting(base_tracker, base_over, args.seeds, args.weights, split_seqs, out, args.workers, run)
    else:  # a deterministic default runs once and stands for every seed
        once = run_setting(base_tracker, base_over, [0], args.weights, split_seqs, out, args.workers, run)
        base = {split: {seed: once[split][0] for seed in args.seeds} for split in once}
    # --weights are the candidate's too when both are one tracker; another tracker's file would not load.
    same_weights = args.weights if base_tracker == args.tracker else None
    cand = run_setting(args.tracker, cand_over, args.seeds, args.candidate_weights or same_weights, split_seqs, out,
                       args.workers, run)
    refs = {name: run_setting(name, {}, [0], None, split_seqs, out, args.workers, run) for name in args.reference}

    weights_note = f" with {args.candidate_weights}" if args.candidate_weights else ""
    base_note = f"{base_tracker} " if base_tracker != args.tracker else ""
    screen_note = " (SCREEN: subset of sequences)" if args.sequences else ""
    print(f"\n## {args.tracker}: candidate `{' '.join(args.set) or 'preset'}`{weights_note} vs default "
          f"{base_note}`{' '.join(args.base_set) or 'preset'}`{screen_note}")
    verdicts = {}
    for split, sequences in split_seqs.items():
        verdicts[split] = summarize(args.tracker, split, base[split], cand[split], sequences, args.seeds)
        finished = [s.name for s in sequences
                    if all(s.name in runs[seed] for runs in (base[split], cand[split]) for seed in args.seeds)]
        for name, ref in refs.items():
            if all(n in ref[split][0] for n in finished):
                aucs = [ref[split][0][n]["auc"] for n in finished]
                print(f"{name} (deterministic, one run) on {split}: AUC {np.mean(aucs):.3f}")
        by_name = {s.name: s for s in sequences}
        for label, runs in (("default", base[split]), ("candidate", cand[split])):
            records = [runs[seed][n] for seed in args.seeds for n in finished]
            print(f"{label} fps on {split} (update() only, 1 thread per worker, {args.workers} workers): "
                  f"{fps(records):.1f}")
            rates = lost_rates(records, [by_name[n] for n in finished])
            if rates is not None:
                print(f"{label} reports the target lost on {100 * rates[0]:.0f}% of the frames it is hidden in "
                      f"and on {100 * rates[1]:.0f}% of the others")
    per_split = ", ".join(f"{split}: {verdict}" for split, verdict in verdicts.items())
    if "does not win" in verdicts.values():
        outcome = "do not keep"
    elif "narrow" in verdicts.values():
        outcome = "RERUN with --seeds 0 1 2 3 4 5 (protocol item 10: a narrow win)"
    else:
        outcome = "KEEP" if not args.sequences and not args.partial else "do not keep (a screen or partial run)"
    print(f"\nverdict: {outcome} ({per_split})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
