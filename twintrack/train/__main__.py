"""`torchrun --nproc_per_node N -m twintrack.train siamfc --data ... --out RUN [key=value ...]`: multi-process training.

Same arguments as `twintrack train`. torchrun starts N processes and sets RANK/WORLD_SIZE/LOCAL_RANK (and, across
machines, its rendezvous); each process joins the group here, trains a DistributedDataParallel replica on its shard
of every epoch, and rank 0 writes the run folder. NCCL on GPUs, gloo on CPUs.
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist

from twintrack.cli import main


def run() -> int:
    if "WORLD_SIZE" in os.environ and not dist.is_initialized():
        wants_cpu = any(arg in ("--device=cpu",) for arg in sys.argv) or (
            "--device" in sys.argv and sys.argv[sys.argv.index("--device") + 1] == "cpu")
        backend = "nccl" if torch.cuda.is_available() and not wants_cpu else "gloo"
        dist.init_process_group(backend)
    try:
        return main(["train", *sys.argv[1:]])
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


sys.exit(run())
