"""One evaluation job = one tracker on one sequence, run through got10k's tracking loop, its result written in the
got10k layout atomically. Jobs run in this process or in worker processes (``--workers N``).

Result layout under ``results/`` (what got10k's experiments read back):

- OTB protocol (otb, uav123, dtb70, lasot, folder): ``<tracker>/<seq>.txt``, ``<tracker>/times/<seq>_time.txt``
- GOT-10k: ``<tracker>/<seq>/<seq>_001.txt``, ``<tracker>/<seq>/<seq>_time.txt``
- VOT (supervised): ``<tracker>/baseline/<seq>/<seq>_001.txt`` (1 = init, 2 = failure, 0 = skipped), ``_time.txt``

Boxes in these files are 1-based ``x, y, w, h``. A job's provenance record (``provenance.py``) is removed when it
starts and written after its result files: a result counts as done only with a record that matches this run.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from twintrack.eval.frame_scores import FrameScores, scores_file, write_frame_scores
from twintrack.eval.got10k_adapter import Benchmark, Got10kTracker, make_experiment
from twintrack.eval.metrics import score_sequence
from twintrack.fileio import write_text_atomic
from twintrack.eval.provenance import check_result_length, read_record, record_file, sequence_record, why_stale
from twintrack.eval.runner import SequenceRun
from twintrack.eval.sequences import EvalSequence
from twintrack.geometry import from_one_based


@dataclass(frozen=True)
class TrackerSpec:
    """How to build a tracker in any process: a twintrack tracker or an OpenCV baseline.

    ``factory(name, weights=, device=, seed=, **overrides)`` builds a twintrack tracker (``create_tracker``, which
    the application layer passes in: evaluation sits below it). It must be a module-level function, so that worker
    processes receive it by reference."""

    name: str
    factory: Callable | None = None
    baseline: bool = False
    weights: str | None = None
    device: str = "auto"
    seed: int | None = 0  # MDNet samples at random; a fixed seed makes results repeatable
    overrides: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)  # what produced its results (provenance.tracker_record)

    def build(self):
        if self.baseline:
            from twintrack.eval.baselines import OpenCVTracker

            return OpenCVTracker(self.name)
        if self.factory is None:
            raise ValueError(f"TrackerSpec('{self.name}') needs a factory to build a twintrack tracker")
        return self.factory(self.name, weights=self.weights, device=self.device, seed=self.seed,
                              **self.overrides)


def result_file(protocol: str, results: Path, tracker: str, sequence: str) -> Path:
    if protocol == "vot":
        return results / tracker / "baseline" / sequence / f"{sequence}_001.txt"
    if protocol == "got10k":
        return results / tracker / sequence / f"{sequence}_001.txt"
    return results / tracker / f"{sequence}.txt"


def time_file(protocol: str, results: Path, tracker: str, sequence: str) -> Path:
    if protocol == "ope":
        return results / tracker / "times" / f"{sequence}_time.txt"
    return result_file(protocol, results, tracker, sequence).with_name(f"{sequence}_time.txt")


def run_job(bench: Benchmark, spec: TrackerSpec, index: int, results: Path) -> str:
    """Track one sequence and write its result files; returns the sequence name."""
    sequence = bench.sequences[index]
    record_path = record_file(results, spec.name, sequence.name)
    record_path.unlink(missing_ok=True)  # until this job's files are all written, its result is not done
    frame_scores = FrameScores(spec.build)  # per-frame score and lost, for the failure-awareness report
    tracker = Got10kTracker(spec.name, frame_scores.build)
    with contextlib.redirect_stdout(io.StringIO()):  # got10k prints a line per step
        if bench.protocol == "vot":
            # A rerun (--overwrite) starts clean: got10k appends repetitions to an existing time file.
            for path in (result_file("vot", results, spec.name, sequence.name),
                         time_file("vot", results, spec.name, sequence.name)):
                path.unlink(missing_ok=True)
            make_experiment(bench, results, results.parent / "got10k_reports", [sequence.name]).run_supervised(tracker)
            _write_record(record_path, spec, sequence)
            return sequence.name
        img_files, anno = bench.dataset[index][:2]
        boxes, times = tracker.track(img_files, np.asarray(anno, dtype=np.float64)[0, :4])
    write_text_atomic(time_file(bench.protocol, results, spec.name, sequence.name),
                 "\n".join(f"{t:.8f}" for t in times) + "\n")
    write_text_atomic(result_file(bench.protocol, results, spec.name, sequence.name),
                 "\n".join(",".join(f"{v:.3f}" for v in box) for box in boxes) + "\n")
    write_frame_scores(scores_file(bench.protocol, results, spec.name, sequence.name), frame_scores)
    _write_record(record_path, spec, sequence)
    return sequence.name


def _write_record(path: Path, spec: TrackerSpec, sequence: EvalSequence) -> None:
    import json

    record = sequence_record(spec.record, sequence.name, len(sequence.frames), sequence.ground_truth)
    write_text_atomic(path, json.dumps(record, indent=1) + "\n")


def stale_jobs(bench: Benchmark, specs: list[TrackerSpec], results: Path, overwrite: bool = False):
    """The (spec, sequence index) jobs to run: every one with --overwrite, else those whose result is missing or
    was produced by something else (provenance.why_stale). Returns (jobs, {reason: count} of reruns)."""
    jobs, reasons = [], {}
    for stale in results.rglob(".*.tmp") if results.is_dir() else ():  # left by a killed run's atomic writes
        stale.unlink(missing_ok=True)
    for spec in specs:
        for index, sequence in enumerate(bench.sequences):
            if overwrite:
                jobs.append((spec, index))
                continue
            path = result_file(bench.protocol, results, spec.name, sequence.name)
            if not path.exists():
                jobs.append((spec, index))
                continue
            wanted = sequence_record(spec.record, sequence.name, len(sequence.frames), sequence.ground_truth)
            reason = why_stale(read_record(record_file(results, spec.name, sequence.name)), wanted)
            if reason is None and bench.protocol != "vot" and _line_count(path) != len(sequence.frames):
                reason = "result file"  # edited or damaged since: got10k would stop on its length assertion
            if reason is not None:
                jobs.append((spec, index))
                reasons[reason] = reasons.get(reason, 0) + 1
    return jobs, reasons


def _line_count(path: Path) -> int:
    return sum(1 for line in path.read_text(errors="replace").splitlines() if line.strip())


def load_run(protocol: str, results: Path, tracker: str, sequence: EvalSequence) -> SequenceRun:
    """A finished OTB / GOT-10k protocol job read back from its files (boxes back to 0-based) and scored."""
    path = result_file(protocol, results, tracker, sequence.name)
    boxes = from_one_based(np.loadtxt(path, delimiter=",", ndmin=2))
    check_result_length(path, len(boxes), sequence.name, len(sequence.ground_truth))
    times = np.loadtxt(time_file(protocol, results, tracker, sequence.name), ndmin=1)
    # got10k times frame 0 with init(); fps counts update() calls only, as bench/speed.py does.
    return SequenceRun(sequence.name, boxes, float(times[1:].sum()), len(boxes),
                       score_sequence(boxes, sequence.ground_truth))


def vot_failures(results: Path, tracker: str, sequence: str) -> int:
    lines = result_file("vot", results, tracker, sequence).read_text().split()
    return sum(line == "2" for line in lines)


def run_jobs(bench: Benchmark, jobs: list[tuple[TrackerSpec, int]], results: Path, workers: int = 1,
             on_done=None) -> None:
    """Run ``jobs`` ((tracker spec, sequence index) pairs), in ``workers`` processes when more than one.

    Workers are spawned (not forked: a forked copy of a process that already ran torch's thread pool can hang)
    and share the CPU threads: each sets torch to ``total // workers`` threads.
    """
    if workers <= 1 or len(jobs) <= 1:
        for spec, index in jobs:
            name = run_job(bench, spec, index, results)
            if on_done:
                on_done(spec.name, name)
        return
    import torch

    threads = max(1, (os.cpu_count() or torch.get_num_threads()) // workers)
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(threads,)) as pool:
        pending = [(spec.name, pool.apply_async(run_job, (bench, spec, index, results))) for spec, index in jobs]
        for tracker, handle in pending:
            name = handle.get()  # re-raises a worker's exception here
            if on_done:
                on_done(tracker, name)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
