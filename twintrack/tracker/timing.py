"""Opt-in wall-clock timing of a tracker's stages, to see where its time goes (``bench/speed.py --profile``).

A tracker holds ``timer = None`` by default and then times nothing; attach a ``StageTimer`` to it and every
``with tracker._stage("conv"):`` block adds its duration to that stage's total.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

import torch


class StageTimer:
    """Seconds and calls per named stage, summed until ``reset()``.

    On CUDA the device is synchronised at both ends of a stage, or asynchronous kernels would be billed to
    whichever later stage happens to wait for them.
    """

    def __init__(self, device: torch.device | str | None = None) -> None:
        self.sync_cuda = device is not None and torch.device(device).type == "cuda"
        self.reset()

    def reset(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def stage(self, name: str):
        if self.sync_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.sync_cuda:
                torch.cuda.synchronize()
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1

    def total(self) -> float:
        return float(sum(self.seconds.values()))
