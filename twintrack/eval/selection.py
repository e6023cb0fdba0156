"""The selection protocol's building blocks (bench/selection.py is its command line; docs/experiments.md the rules
and what they decided): the splits, a cache of tracked runs keyed by everything that decides their boxes, and the
counts a verdict is made of.

A setting is kept only when, on every split, its mean AUC over the seeds is above the default's and it wins on
more sequences than it loses (per-sequence AUC averaged over the seeds, paired with the default's).

Trackers are built by a ``factory(name, weights=, device=, seed=, **overrides)`` the caller passes in
(``twintrack.create_tracker``): evaluation sits below the application layer. It must be a module-level function,
so that worker processes receive it by reference.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from twintrack.errors import UserError
from twintrack.eval.occlusion import OCCLUSION_SPLIT
from twintrack.eval.paths import data_root
from twintrack.eval.sequences import load_folder_sequences

# The fold: a second opinion that no tuning looked at, sorted(train)[FOLD_START::FOLD_EVERY] by sequence name.
FOLD_EVERY, FOLD_START = 8, 0
SPLITS = ("val", "fold", "rest", "occlusion")

# Shared modules left out of a run's code hash: configs (the resolved config is in the key itself) and utilities
# that change for reasons unrelated to tracking (frame checks, box helpers, timers). A change there that moves
# boxes needs a fresh cache folder.
SHARED_MODULES = ("twintrack.configs", "twintrack.geometry", "twintrack.tracker.base", "twintrack.tracker.timing")

# A win by less than NARROW x the default's standard deviation over seeds, with fewer than FULL_SEEDS seeds, is
# "narrow": rerun it at seeds 0-5 before deciding.
NARROW = 0.1
FULL_SEEDS = 6
TIE = 1e-9  # per-sequence differences within this are ties


# ----------------------------------------------------------------------------------------------------- splits
def fold_and_rest(sequences: list) -> tuple[list, list]:
    """(the fold, the rest) of the training sequences: every FOLD_EVERY-th by name, starting at FOLD_START."""
    ordered = sorted(sequences, key=lambda s: s.name)
    fold = ordered[FOLD_START::FOLD_EVERY]
    fold_names = {s.name for s in fold}
    return fold, [s for s in ordered if s.name not in fold_names]


def split_sequences(split: str, only=None, data: str | Path | None = None,
                    occlusion: str | Path = OCCLUSION_SPLIT) -> list:
    """The sequences of one split, optionally only those named in ``only``:

    - ``val``: DATA/sot/val, the sequences settings are tuned on;
    - ``fold``: a fixed fold of DATA/sot/train (fold_and_rest) that no tuning looks at;
    - ``rest``: the other training sequences (a third opinion for inference settings only: the networks were
      trained on them);
    - ``occlusion``: val and the fold with the target hidden for up to 20 frames (bench/occlusion.py builds it).
    """
    root = Path(data) if data else data_root()
    if split == "val":
        sequences = load_folder_sequences(root / "sot" / "val")
    elif split in ("fold", "rest"):
        fold, rest = fold_and_rest(load_folder_sequences(root / "sot" / "train"))
        sequences = fold if split == "fold" else rest
    elif split == "occlusion":
        if not Path(occlusion).is_dir():
            raise UserError(f"no occlusion split at '{occlusion}'; build it with bench/occlusion.py")
        sequences = load_folder_sequences(occlusion)
    else:
        raise UserError(f"unknown split {split!r}: choose from {', '.join(SPLITS)}")
    return [s for s in sequences if not only or s.name in only]


# ------------------------------------------------------------------------------------------ the run cache
def code_files(tracker) -> list[Path]:
    """The tracker's module and the twintrack modules it imports names from (but SHARED_MODULES): the code that
    decides its boxes. A tracker built of trackers (the twin) adds theirs."""
    module = sys.modules[type(tracker).__module__]
    names = {module.__name__}
    for value in vars(module).values():
        owner = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if isinstance(owner, str) and owner.startswith("twintrack") and owner not in SHARED_MODULES:
            names.add(owner)
    files = {Path(sys.modules[n].__file__) for n in names if n in sys.modules}
    for part in vars(tracker).values():
        if callable(getattr(part, "update", None)) and type(part).__module__.startswith("twintrack.tracker."):
            files.update(code_files(part))
    return sorted(files)


def run_key(factory: Callable, tracker_name: str, overrides: dict, seed: int, weights) -> str:
    """Hash of everything that decides a run's boxes except the sequence: the resolved config, the
    seed, the weights file's bytes and the tracker's source files."""
    tracker = factory(tracker_name, weights=weights, device="cpu", seed=seed, **overrides)
    config = dict(vars(tracker.config))
    digest = hashlib.sha1(f"{tracker_name}|{config!r}|{seed}|{weights}".encode())
    if weights is not None:  # the file's contents, not only its path: a run folder's weights change as it trains
        digest.update(Path(weights).read_bytes())
    for path in code_files(tracker):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def record_path(out: str | Path, key: str, split: str, sequence: str) -> Path:
    """Where the cache keeps one run: OUT/<run key>/<split>_<sequence>.json."""
    return Path(out) / key / f"{split}_{sequence}.json"


def track_one(job) -> dict:
    """One sequence: boxes, reported scores, lost flags and the raw score per frame (MDNet's fc6; None for
    trackers without one), its AUC and precision; written to the job's cache file atomically."""
    import torch

    from twintrack.eval.metrics import score_sequence
    from twintrack.eval.runner import track_sequence

    factory, tracker_name, overrides, seed, weights, sequence, path = job
    torch.set_num_threads(1)
    tracker = factory(tracker_name, weights=weights, device="cpu", seed=seed, **overrides)
    tracked = track_sequence(tracker, sequence)
    score = score_sequence(tracked.boxes, sequence.ground_truth)
    record = {"sequence": sequence.name, "seed": seed, "overrides": overrides, "auc": score.success_auc,
              "precision": score.precision, "update_seconds": tracked.update_seconds,
              "boxes": tracked.boxes.tolist(), "scores": tracked.scores, "lost": tracked.lost,
              "raw_scores": tracked.raw_scores}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)  # an interrupted run leaves no half-written result
    return record


def run_setting(factory: Callable, tracker_name: str, overrides: dict, seeds, weights, split_seqs: dict,
                out: str | Path, workers: int, run: bool = True) -> dict:
    """{split: {seed: {sequence: record}}} of one setting, running what the cache lacks in ``workers`` processes
    (nothing with ``run=False``: the cached records only)."""
    results, jobs = {}, []
    for seed in seeds:
        key = run_key(factory, tracker_name, overrides, seed, weights)
        (Path(out) / key).mkdir(parents=True, exist_ok=True)
        for split, sequences in split_seqs.items():
            slot = results.setdefault(split, {}).setdefault(seed, {})
            for sequence in sequences:
                path = record_path(out, key, split, sequence.name)
                if path.exists():
                    slot[sequence.name] = json.loads(path.read_text())
                else:
                    jobs.append(((factory, tracker_name, overrides, seed, weights, sequence, path), split, seed))
    jobs.sort(key=lambda j: -len(j[0][5].frames))  # longest first: the workers finish together
    if jobs and run:
        runs = "1 sequence run" if len(jobs) == 1 else f"{len(jobs)} sequence runs"
        print(f"{tracker_name} {overrides or '(preset)'}: {runs} to do", flush=True)
        with multiprocessing.get_context("spawn").Pool(max(1, workers)) as pool:
            for (_, split, seed), record in zip(jobs, pool.imap(track_one, [j[0] for j in jobs])):
                results[split][seed][record["sequence"]] = record
    return results


# ---------------------------------------------------------------------------------------------- the counts
def finished(sequences, settings: list[dict], seeds) -> list[str]:
    """Names of the sequences that every setting ({seed: {sequence: record}}) has for every seed."""
    return [s.name for s in sequences if all(s.name in runs[seed] for runs in settings for seed in seeds)]


def won_lost(diff) -> tuple[int, int]:
    """Sequences won and lost from per-sequence differences (candidate - default); within TIE is a tie."""
    diff = np.asarray(diff)
    return int((diff > TIE).sum()), int((diff < -TIE).sum())


def split_verdict(per_seed_base: np.ndarray, per_seed_cand: np.ndarray, wins: int, losses: int) -> str:
    """"wins", "does not win" or "narrow" from the per-seed mean AUCs and the paired sequence counts. A win needs
    a higher mean and more sequences won than lost; it is narrow when its margin is below NARROW x the default's
    standard deviation over fewer than FULL_SEEDS seeds (rerun at seeds 0-5 then)."""
    margin = float(per_seed_cand.mean() - per_seed_base.mean())
    if not (margin > 0 and wins > losses):
        return "does not win"
    spread = float(per_seed_base.std(ddof=1)) if len(per_seed_base) > 1 else 0.0
    return "narrow" if len(per_seed_base) < FULL_SEEDS and margin < NARROW * spread else "wins"


def fps(records) -> float:
    """update() frames per second over run records (each record's first frame is init's)."""
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
