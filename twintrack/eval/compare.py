"""Tables of several trackers' runs over the same sequences: AUC, precision, normalized precision and fps."""

from __future__ import annotations

import numpy as np

from twintrack.eval.runner import SequenceRun

Table = tuple[list[str], list[list[str]]]  # header, rows of cells


def summary(runs: list[SequenceRun]) -> dict:
    """Per-sequence averages (OTB style) and fps over all update() calls."""
    frames = sum(r.frames - 1 for r in runs)
    seconds = sum(r.update_seconds for r in runs)
    return {
        "auc": float(np.mean([r.score.success_auc for r in runs])),
        "precision": float(np.mean([r.score.precision for r in runs])),
        "normalized_precision": float(np.mean([r.score.normalized_precision for r in runs])),
        "fps": frames / seconds if seconds > 0 else 0.0,
    }


def summary_table(results: dict[str, list[SequenceRun]], reference: str | None = None) -> Table:
    """One row per tracker; fps also as a ratio to ``reference`` (a baseline) when given."""
    summaries = {name: summary(runs) for name, runs in results.items()}
    header = ["tracker", "success AUC", "precision @20 px", "norm. precision", "fps"]
    header += [f"fps / {reference}"] if reference else []
    rows = []
    for name, s in summaries.items():
        row = [name, f"{s['auc']:.3f}", f"{s['precision']:.3f}", f"{s['normalized_precision']:.3f}", f"{s['fps']:.1f}"]
        if reference:
            ref_fps = summaries[reference]["fps"]
            row.append(f"{s['fps'] / ref_fps:.2f}x" if ref_fps > 0 else "-")
        rows.append(row)
    return header, rows


def sequence_table(results: dict[str, list[SequenceRun]]) -> Table:
    """Success AUC per sequence and tracker."""
    names = list(results)
    header = ["sequence"] + [f"{n} AUC" for n in names]
    rows = [[run.sequence] + [f"{results[n][i].score.success_auc:.3f}" for n in names]
            for i, run in enumerate(results[names[0]])]
    return header, rows


def markdown_table(table: Table) -> str:
    header, rows = table
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
