"""Run several trackers over the same sequences and tabulate AUC, precision and fps, per sequence and mean."""

from __future__ import annotations

from typing import Callable

import numpy as np
from tqdm import tqdm

from twintrack.eval.runner import SequenceRun, run_sequence
from twintrack.eval.sequences import EvalSequence


def evaluate(make_tracker: Callable[[], object], sequences: list[EvalSequence], desc: str = "") -> list[SequenceRun]:
    """A fresh tracker per sequence (trackers keep state), run with the OTB one-pass protocol."""
    return [run_sequence(make_tracker(), seq) for seq in tqdm(sequences, desc=desc, leave=False)]


def summary(runs: list[SequenceRun]) -> dict:
    """Per-sequence averages (OTB style) and fps over all update() calls."""
    frames = sum(r.frames - 1 for r in runs)
    seconds = sum(r.update_seconds for r in runs)
    return {
        "auc": float(np.mean([r.score.success_auc for r in runs])),
        "precision": float(np.mean([r.score.precision for r in runs])),
        "fps": frames / seconds if seconds > 0 else 0.0,
    }


def markdown_tables(results: dict[str, list[SequenceRun]], reference: str | None = None) -> str:
    """A summary table (with fps as a ratio to ``reference``) and a per-sequence AUC table."""
    names = list(results)
    summaries = {name: summary(runs) for name, runs in results.items()}
    lines = ["| tracker | AUC | Prec@20 | fps |" + (f" fps / {reference} |" if reference else ""),
             "|---|---|---|---|" + ("---|" if reference else "")]
    for name in names:
        s = summaries[name]
        row = f"| {name} | {s['auc']:.3f} | {s['precision']:.3f} | {s['fps']:.1f} |"
        if reference:
            row += f" {s['fps'] / summaries[reference]['fps']:.2f}x |"
        lines.append(row)
    lines += ["", "| sequence | " + " | ".join(f"{n} AUC" for n in names) + " |",
              "|---|" + "---|" * len(names)]
    for i, run in enumerate(results[names[0]]):
        cells = " | ".join(f"{results[n][i].score.success_auc:.3f}" for n in names)
        lines.append(f"| {run.sequence} | {cells} |")
    return "\n".join(lines)
