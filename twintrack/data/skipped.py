"""Counts of the ground-truth rows that training readers leave out, gathered while data loads, for the CLI to
print: every reader applies the same rule (``sequences.training_rows``) and says what it left out here, so
``twintrack train``, ``precrop`` and ``lr-find`` report one line whatever the data's form.

    with counting_skipped_rows() as skipped:
        sequences = load_all(specs)
    print(skipped.summary())   # None when nothing was left out
"""

from __future__ import annotations

import contextlib
from collections import Counter

# reason -> how the summary says it, in the summary's order
REASONS = {
    "absent": "marked absent (a blank line, NaN, or zero or negative size)",
    "outside": "wholly outside the frame",
    "tiny": "at most 1 px wide or high",
}


class SkippedRows:
    """Rows left out, by sequence and reason."""

    def __init__(self) -> None:
        self.by_sequence: dict[str, Counter] = {}

    def add(self, sequence: str, counts: dict[str, int]) -> None:
        counts = Counter({reason: int(n) for reason, n in counts.items() if n})
        if counts:
            self.by_sequence.setdefault(sequence, Counter()).update(counts)

    def summary(self, limit: int = 3) -> str | None:
        """One line: how many rows, why, and in which sequences (the first ``limit`` named)."""
        if not self.by_sequence:
            return None
        total = sum(self.by_sequence.values(), Counter())
        reasons = ", ".join(f"{total[r]} {text}" for r, text in REASONS.items() if total[r])
        names = sorted(self.by_sequence)
        where = ", ".join(f"{n} ({sum(self.by_sequence[n].values())})" for n in names[:limit])
        where += f" and {len(names) - limit} more" if len(names) > limit else ""
        rows = sum(total.values())
        return (f"{rows} ground-truth row{'s' if rows != 1 else ''} left out of training: {reasons}; "
                f"in {where}")


_collectors: list[SkippedRows] = []


@contextlib.contextmanager
def counting_skipped_rows():
    """Collect what the readers leave out while the body runs."""
    collector = SkippedRows()
    _collectors.append(collector)
    try:
        yield collector
    finally:
        _collectors.remove(collector)


def note_skipped(sequence: str, counts: dict[str, int]) -> None:
    """Called by a reader: ``counts`` rows of ``sequence`` left out, by reason (keys of ``REASONS``)."""
    for collector in _collectors:
        collector.add(sequence, counts)
