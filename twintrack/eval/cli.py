"""`twintrack eval`: trackers and OpenCV baselines on a folder benchmark, with results, plots and a report.

Results follow the got10k layout (``results/<tracker>/<sequence>.txt``, 1-based boxes as OTB files, and
``times/<tracker>/<sequence>_time.txt``), are written atomically per sequence, and a second run skips finished
sequences unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import yaml

from twintrack.errors import UserError
from twintrack.eval.metrics import score_sequence
from twintrack.eval.runner import SequenceRun, run_sequence
from twintrack.eval.sequences import EvalSequence, load_folder_sequences
from twintrack.geometry import from_one_based, to_one_based

KINDS = ("folder",)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="evaluate trackers on a benchmark (OTB one-pass protocol)")
    parser.add_argument("--tracker", action="append", default=[], help="twintrack tracker (repeatable)")
    parser.add_argument("--baseline", action="append", default=[], help="csrt, kcf or mil (repeatable)")
    parser.add_argument("--dataset", required=True, metavar="KIND:ROOT",
                        help="folder:ROOT (OTB-style sequence folders, e.g. ../shared/data/sot/val)")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--weights", help="weights for the (single) twintrack tracker")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--overwrite", action="store_true", help="redo sequences that have results")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="tracker config overrides")
    parser.set_defaults(func=run)


def parse_dataset(spec: str) -> list[EvalSequence]:
    kind, sep, root = spec.partition(":")
    if not sep:
        kind, root = "folder", spec
    if kind not in KINDS:
        raise UserError(f"--dataset {spec}: unknown kind '{kind}'; supported here: {', '.join(KINDS)}")
    return load_folder_sequences(root)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_run(out: Path, tracker: str, run: SequenceRun, frame_seconds: np.ndarray) -> None:
    boxes = to_one_based(run.boxes)
    write_atomic(out / "times" / tracker / f"{run.sequence}_time.txt",
                 "\n".join(f"{t:.6f}" for t in frame_seconds) + "\n")
    # The boxes file last: its presence marks the sequence as done.
    write_atomic(out / "results" / tracker / f"{run.sequence}.txt",
                 "\n".join(",".join(f"{v:.3f}" for v in b) for b in boxes) + "\n")


def load_run(out: Path, tracker: str, sequence: EvalSequence) -> SequenceRun | None:
    path = out / "results" / tracker / f"{sequence.name}.txt"
    if not path.exists():
        return None
    boxes = from_one_based(np.loadtxt(path, delimiter=",", ndmin=2))
    times = np.loadtxt(out / "times" / tracker / f"{sequence.name}_time.txt", ndmin=1)
    return SequenceRun(sequence.name, boxes, float(times.sum()), len(boxes),
                       score_sequence(boxes, sequence.ground_truth))


def run(args: argparse.Namespace) -> int:
    from twintrack import create_tracker
    from twintrack.configs import config_to_dict, parse_overrides
    from twintrack.eval.baselines import OpenCVTracker
    from twintrack.eval.compare import markdown_tables
    from twintrack.eval.plots import plot_curves

    if not args.tracker and not args.baseline:
        raise UserError("name at least one --tracker or --baseline")
    sequences = parse_dataset(args.dataset)
    overrides = parse_overrides(args.overrides)
    out = Path(args.out)
    factories = {name: (lambda n=name: OpenCVTracker(n)) for name in args.baseline}
    for name in args.tracker:
        factories[name] = lambda n=name: create_tracker(n, weights=args.weights, device=args.device, **overrides)
    # Build each once before any sequence runs: a bad name or weights fails early; the instance gives its config.
    first_instances = {name: make() for name, make in factories.items()}
    results: dict[str, list[SequenceRun]] = {}
    for name, make in factories.items():
        runs = []
        for sequence in sequences:
            previous = None if args.overwrite else load_run(out, name, sequence)
            if previous is None:
                run_result = run_sequence(make(), sequence)
                per_frame = np.full(run_result.frames, run_result.update_seconds / max(1, run_result.frames - 1))
                per_frame[0] = 0.0
                save_run(out, name, run_result, per_frame)
                previous = run_result
            runs.append(previous)
            print(f"{name:>8} {sequence.name:<28} AUC {previous.score.success_auc:.3f}")
        results[name] = runs
    reference = args.baseline[0] if args.baseline else None
    table = markdown_tables(results, reference=reference)
    configs = {name: config_to_dict(first_instances[name].config) for name in args.tracker}
    report = [f"# twintrack evaluation: {args.dataset}", "", f"{len(sequences)} sequences, OTB one-pass protocol "
              "(success AUC over 21 IoU thresholds, precision at 20 px; per-sequence averages).", "", table, "",
              "![success](success.png) ![precision](precision.png)", "", "## Resolved configs", "", "```yaml",
              yaml.safe_dump(configs, sort_keys=False).rstrip(), "```", ""]
    write_atomic(out / "report.md", "\n".join(report))
    plot_curves(results, out)
    print(table)
    print(f"twintrack: report written to {out / 'report.md'}")
    return 0
