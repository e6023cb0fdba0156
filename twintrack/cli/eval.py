"""`twintrack eval`: trackers and OpenCV baselines on a benchmark, with result files, plots and a report.

Every sequence runs through the got10k toolkit's tracking loop (our trackers wrapped as got10k trackers) and its
result is written in the got10k layout (see ``jobs.py``), atomically; a second run skips finished sequences unless
``--overwrite``. Scores come from our metrics (equal to got10k's, tested) and, beside them, from got10k's own
report of the benchmark's protocol.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

from twintrack.app.api import create_tracker
from twintrack.cli.common import add_device, add_overrides, add_tracker, counted, engine_line
from twintrack.errors import UserError
from twintrack.eval.baselines import NANOTRACK_ENV, VITTRACK_ENV
from twintrack.eval.got10k_adapter import KINDS, Benchmark, make_experiment, open_benchmark, parse_dataset_spec
from twintrack.eval.jobs import TrackerSpec, load_run, run_jobs, stale_jobs, vot_failures
from twintrack.eval.lock import eval_lock, settings_hash


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="evaluate trackers on a benchmark (got10k toolkit protocols)")
    add_tracker(parser, repeatable=True)
    parser.add_argument("--baseline", action="append", default=[], help="csrt, kcf, mil, nano or vit (repeatable)")
    parser.add_argument("--nano-model", metavar="BACKBONE.onnx,HEAD.onnx",
                        help="NanoTrack v2's two ONNX files (or their folder) for --baseline nano; default: "
                             "the environment variable TWINTRACK_NANOTRACK")
    parser.add_argument("--vit-model", metavar="FILE.onnx",
                        help="VitTrack's ONNX file (or its folder) for --baseline vit; default: the environment "
                             "variable TWINTRACK_VITTRACK")
    parser.add_argument("--dataset", required=True, metavar="KIND:ROOT",
                        help=f"KIND one of {', '.join(KINDS)}; folder:ROOT is OTB-style sequence folders")
    parser.add_argument("--split", help="otb: 2013|2015|tb50|tb100; vot: year; got10k: val; lasot: test|train; "
                                        "uav123: UAV123|UAV20L")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--workers", type=int, default=1, help="sequences run in parallel processes")
    parser.add_argument("--weights", help="weights for the (single) twintrack tracker")
    add_device(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed for stochastic trackers (MDNet)")
    parser.add_argument("--overwrite", action="store_true", help="redo sequences that have results")
    add_overrides(parser, "tracker config overrides")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from twintrack.configs import parse_overrides

    if not args.tracker and not args.baseline:
        raise UserError("name at least one --tracker or --baseline")
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1 (got {args.workers})")
    if args.weights and len(args.tracker) != 1:
        raise UserError("--weights applies to exactly one --tracker")
    if args.nano_model:
        # Through the environment, so --workers processes see it too.
        os.environ[NANOTRACK_ENV] = args.nano_model
    if args.vit_model:
        os.environ[VITTRACK_ENV] = args.vit_model
    kind, root = parse_dataset_spec(args.dataset)
    bench = open_benchmark(kind, root, args.split)
    _say_absent_frames(bench)
    overrides = parse_overrides(args.overrides)
    specs = [TrackerSpec(name, factory=create_tracker, weights=args.weights, device=args.device, seed=args.seed,
                         overrides=overrides)
             for name in args.tracker] + [TrackerSpec(name, baseline=True) for name in args.baseline]
    # Build each once before any sequence runs: a bad name or weights fails early; the instance gives its config.
    configs = {spec.name: spec.build() for spec in specs}
    _say_engines(specs, configs, args.weights)
    specs = _with_records(specs, configs)
    out = Path(args.out)
    # One run at a time in --out (eval/lock.py): the same settings wait and reuse, other settings are refused.
    settings = settings_hash({"dataset": [bench.kind, str(Path(bench.root).resolve()), bench.split],
                              "trackers": [spec.record for spec in specs]})

    def say_waiting(pid) -> None:
        print(f"twintrack: waiting for twintrack eval (pid {pid}), which runs the same settings into '{out}'; its "
              "results will be reused", flush=True)

    def say_taken_over(pid) -> None:
        print(f"twintrack: '{out}' was locked by twintrack eval pid {pid}, which ended without finishing; taken over")

    with eval_lock(out, settings, on_wait=say_waiting, on_takeover=say_taken_over):
        return _evaluate(args, bench, specs, configs, out)


def _evaluate(args: argparse.Namespace, bench: Benchmark, specs, configs, out: Path) -> int:
    """Run the stale jobs, then write the report (under the --out lock)."""
    results_dir = out / "results"
    # A stored result is reused only when its provenance record matches this run (eval/provenance.py).
    jobs, reruns = stale_jobs(bench, specs, results_dir, args.overwrite)
    redone = "".join(f", {count} redone: {reason} changed" for reason, count in reruns.items())
    print(f"twintrack: {counted(len(bench.sequences), 'sequence')} x {counted(len(specs), 'tracker')}, "
          f"{len(jobs)} to run ({counted(args.workers, 'worker')}{redone})")
    start = time.perf_counter()
    run_jobs(bench, jobs, results_dir, workers=args.workers,
             on_done=lambda tracker, seq: print(f"{tracker:>8} {seq}", flush=True))
    elapsed = time.perf_counter() - start

    names = [spec.name for spec in specs]
    experiment = make_experiment(bench, results_dir, out / "got10k_reports")
    from twintrack.eval.got10k_adapter import run_report

    performance = run_report(experiment, names)
    sections = _sections(bench, specs, configs, performance, results_dir, out, len(jobs), elapsed)
    from twintrack.eval.report import write_reports

    report = write_reports(out, f"twintrack evaluation: {bench.title}", sections)
    print(_console_table(sections))
    print(f"twintrack: report written to {report} and {report.with_suffix('.html')}")
    return 0


def _say_absent_frames(bench: Benchmark) -> None:
    """Frames whose box file marks them absent are kept and not scored: say how many, and where."""
    from twintrack.eval.sequences import absent_frames

    absent = absent_frames(bench.sequences)
    if absent:
        total = sum(absent.values())
        where = ", ".join(f"{name} ({count})" for name, count in list(absent.items())[:3])
        where += f" and {counted(len(absent) - 3, 'more sequence')}" if len(absent) > 3 else ""
        print(f"twintrack: {counted(total, 'frame')} marked absent in the ground truth (kept, not "
              f"scored): {where}")


def _say_engines(specs, instances, weights) -> None:
    """Which backbone engine each twintrack tracker runs, and why, once on stderr (as `twintrack track` says it);
    workers build the same trackers from the same settings."""
    for spec in specs:
        if not spec.baseline:
            line = engine_line(instances[spec.name], weights, label=spec.name)
            if line:
                print(line, file=sys.stderr)


def _sections(bench: Benchmark, specs, instances, performance, results_dir, out, jobs_run, elapsed):
    from twintrack.eval.compare import sequence_table, summary_table

    names = [spec.name for spec in specs]
    sections = []
    if bench.protocol == "vot":
        header = ["tracker", "accuracy", "robustness (failures)", "fps"]
        rows = [[n, f"{performance[n]['accuracy']:.3f}", f"{performance[n]['robustness']:.3f}",
                 f"{performance[n]['speed_fps']:.1f}"] for n in names]
        per_seq = (["sequence"] + [f"{n} failures" for n in names],
                   [[s.name] + [str(vot_failures(results_dir, n, s.name)) for n in names] for s in bench.sequences])
        sections.append(("Results", [
            f"{counted(len(bench.sequences), 'sequence')}, VOT supervised protocol (re-initialised 5 frames after "
            "each failure; accuracy with a 10-frame burn-in), computed by the got10k toolkit.", (header, rows)]))
        sections.append(("Per sequence", [per_seq]))
    else:
        from twintrack.eval.failure_report import absence_sections, failure_section
        from twintrack.eval.plots import plot_curves

        results = {n: [load_run(bench.protocol, results_dir, n, s) for s in bench.sequences] for n in names}
        plot_curves(results, out)
        reference = next((s.name for s in specs if s.baseline), None)
        sections.append(("Results", [
            f"{counted(len(bench.sequences), 'sequence')}, one-pass evaluation: success AUC over 21 IoU thresholds, "
            "precision at 20 px, normalized precision (centre error in ground-truth widths/heights, AUC over "
            "0..0.5), per-sequence averages; fps counts update() calls only.",
            summary_table(results, reference), "![success](success.png) ![precision](precision.png)"]))
        sections.append(("Per sequence (success AUC)", [sequence_table(results)]))
        sections.append(failure_section(bench.protocol, specs, results, bench.sequences, results_dir, out))
        sections += absence_sections(bench.protocol, results, bench.sequences, results_dir)
        sections.append(("got10k toolkit report", [_got10k_table(bench.protocol, performance, names),
                                                    "Full report: got10k_reports/*/performance.json"]))
    configs = {s.name: _config_dict(instances[s.name]) for s in specs if not s.baseline}
    sections.append(("Resolved configs", [("code", yaml.safe_dump(configs, sort_keys=False) if configs else
                                           "# OpenCV baselines only: default OpenCV parameters\n")]))
    sections.append(("Weights", [_weights_table(specs)]))
    sections.append(("Runtime", ["What computed the numbers besides config and weights; a result computed by "
                                 "another engine, library version or processor is redone.", _runtime_table(specs)]))
    sections.append(("Run", [f"{counted(jobs_run, 'sequence run')} this time in {elapsed:.0f} s; results in "
                             f"{results_dir} (got10k layout, 1-based boxes)."]))
    return sections


def _with_records(specs, instances):
    """Each spec with its provenance record: tracker, resolved config hash, weights sha256, seed, and what runs
    them (engine, library versions, processor: provenance.runtime_record of the built tracker)."""
    import dataclasses

    from twintrack.eval.provenance import runtime_record, tracker_record

    weights = {row[0]: row[2] for row in _weights_table(specs)[1]}
    return [dataclasses.replace(spec, record=tracker_record(
        spec.name, spec.baseline, None if spec.baseline else _config_dict(instances[spec.name]),
        weights[spec.name] if weights[spec.name] != "-" else None, None if spec.baseline else spec.seed,
        None if spec.baseline else runtime_record(instances[spec.name])))
        for spec in specs]


def _runtime_table(specs):
    """What computed each tracker's numbers, from its provenance record."""
    header = ["tracker", "engine", "torch", "onnxruntime", "OpenCV", "processor"]
    rows = [[s.name, "OpenCV" if s.baseline else s.record.get("engine", "-"),
             s.record.get("torch") or "-", s.record.get("onnxruntime") or "-", s.record.get("opencv") or "-",
             "; ".join(p for p in (s.record.get("cpu"), s.record.get("gpu")) if p) or "-"]
            for s in specs]
    return header, rows


def _got10k_table(protocol, performance, names):
    if protocol == "got10k":  # AO and SR over frames where the target is visible, as the GOT-10k server
        header = ["tracker", "AO", "SR@0.5", "fps"]
        rows = [[n, f"{performance[n]['overall']['ao']:.3f}", f"{performance[n]['overall']['sr']:.3f}",
                 f"{performance[n]['overall']['speed_fps']:.1f}"] for n in names]
    else:
        header = ["tracker", "success score", "precision score", "fps (got10k: init included)"]
        rows = [[n, f"{performance[n]['overall']['success_score']:.3f}",
                 f"{performance[n]['overall']['precision_score']:.3f}",
                 f"{performance[n]['overall']['speed_fps']:.1f}"] for n in names]
    return header, rows


def _config_dict(tracker) -> dict:
    from twintrack.configs import config_to_dict

    return config_to_dict(tracker.config)


def _weights_table(specs):
    from twintrack.app.registry import get_tracker
    from twintrack.weights import registry, sha256_of

    shipped = registry()
    rows = []
    for spec in specs:
        if spec.baseline:
            rows.append([spec.name, "OpenCV (no weights)", "-"])
            continue
        entry = get_tracker(spec.name)
        chosen = spec.weights or entry.default_weights
        if chosen is None:
            rows.append([spec.name, "none (the tracker loads no weights)", "-"])
        elif not spec.weights and chosen in shipped:
            rows.append([spec.name, f"shipped {shipped[chosen]['file']}", shipped[chosen]["sha256"]])
        else:
            rows.append([spec.name, str(chosen), sha256_of(entry.weights_file(spec.weights))])
    return ["tracker", "weights", "sha256"], rows


def _console_table(sections) -> str:
    from twintrack.eval.compare import markdown_table

    return markdown_table(next(item for item in sections[0][1] if isinstance(item, tuple)))
