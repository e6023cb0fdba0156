"""Batches of SiamFC training pairs for the fit loop: seeded per pair, sharded across processes, loaded by workers.

Pair ``k`` of a run (epoch ``k // pairs_per_epoch``) is drawn from its own random stream seeded by ``(seed, k)``.
So the pairs do not depend on how many loader workers there are or how the epoch is split across DDP processes,
and a run resumed at an epoch boundary sees exactly the pairs an uninterrupted run would.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from twintrack.train.pairs import PairSampler


class PairDataset(Dataset):
    def __init__(self, sampler: PairSampler, seed: int) -> None:
        self.sampler = sampler
        self.seed = seed

    def __getitem__(self, k: int):
        exemplar, search, labels, weights = self.sampler.sample(np.random.default_rng([self.seed, k]))
        # uint8 images: a quarter of float32's bytes through the worker queues and the host-to-GPU copy.
        return (torch.from_numpy(np.ascontiguousarray(exemplar.transpose(2, 0, 1))),
                torch.from_numpy(np.ascontiguousarray(search.transpose(2, 0, 1))),
                torch.from_numpy(labels[None]), torch.from_numpy(weights[None]))


class EpochShardSampler(Sampler[int]):
    """This process's share of one epoch's pair indices: rank, rank + world, ... (a DistributedSampler without
    shuffling, since every pair is already drawn at random)."""

    def __init__(self, pairs_per_epoch: int, rank: int = 0, world: int = 1) -> None:
        self.pairs_per_epoch = pairs_per_epoch
        self.rank = rank
        self.world = world
        self.epoch = 0
        self.skip_pairs = 0

    def set_epoch(self, epoch: int, skip_pairs: int = 0) -> None:
        """Place the sampler at ``epoch``, without its first ``skip_pairs`` pairs (all processes together): a run
        resumed mid-epoch continues with the pairs an uninterrupted run would draw."""
        self.epoch = epoch
        self.skip_pairs = skip_pairs

    def __iter__(self):
        start = self.epoch * self.pairs_per_epoch
        return iter(range(start + self.skip_pairs + self.rank, start + self.pairs_per_epoch, self.world))

    def __len__(self) -> int:
        return len(range(self.skip_pairs + self.rank, self.pairs_per_epoch, self.world))


def _quiet_worker(_worker_id: int) -> None:
    # Workers cut and colour small crops: one thread each, or N workers x all cores oversubscribe the CPU.
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def make_loader(sampler: PairSampler, seed: int, pairs_per_epoch: int, batch_size: int, workers: int,
                pin_memory: bool, rank: int = 0, world: int = 1) -> tuple[DataLoader, EpochShardSampler]:
    shard = EpochShardSampler(pairs_per_epoch, rank, world)
    loader = DataLoader(
        PairDataset(sampler, seed),
        batch_size=batch_size,
        sampler=shard,
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=True,  # every process takes the same number of steps (DDP all-reduces each one)
        persistent_workers=workers > 0,  # keep each worker's crop cache across epochs
        prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=_quiet_worker if workers > 0 else None,
        # spawn, not fork: a forked child inherits OpenCV's and OpenMP's thread pools mid-state and can hang in
        # them (seen in the test suite); spawned workers start clean, at ~2 s each, once per run.
        multiprocessing_context="spawn" if workers > 0 else None,
    )
    return loader, shard
