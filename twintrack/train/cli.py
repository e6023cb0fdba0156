"""`twintrack train siamfc --data DIR [DIR ...] --out RUN_DIR [key=value ...]`."""

from __future__ import annotations

import argparse

import torch

from twintrack.configs import load_config
from twintrack.device import resolve_device
from twintrack.errors import UserError
from twintrack.train.datasets import discover
from twintrack.train.optim import OPTIMIZERS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a tracker on sequence folders / image sets",
        description="Train a tracker. Config keys can be overridden as key=value (e.g. epochs=10 lr=0.01). "
        f"Optimizers: {', '.join(OPTIMIZERS)}.",
    )
    parser.add_argument("tracker", choices=["siamfc"], help="which network to train")
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR",
                        help="folders of OTB-style sequences or still-image sets (img/ + boxes.csv)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: config, checkpoints, weights")
    parser.add_argument("--config", metavar="YAML", help="a training config file (default: the preset)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke runs)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from twintrack.train.siamfc_trainer import SiamFCTrainer

    # `--data A B key=value` puts the overrides into --data's list: split them back out.
    overrides = list(args.overrides) + [item for item in args.data if "=" in item]
    args.data = [item for item in args.data if "=" not in item]
    config = load_config("train_siamfc", overrides, path=args.config)
    device = resolve_device(args.device)
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    sequences = [seq for folder in args.data for seq in discover(folder)]
    videos = sum(1 for s in sequences if not s.still)
    print(f"twintrack: {videos} sequences, {len(sequences) - videos} still boxes, device {device}")
    trainer = SiamFCTrainer(config, sequences, args.out, device)
    if args.resume:
        if not trainer.resume():
            raise UserError(f"--resume: no checkpoint in {args.out}; start without --resume")
        print(f"twintrack: resumed at epoch {trainer.state.epoch}, step {trainer.state.step}")
    trainer.fit(max_steps=args.max_steps)
    trainer.save()
    print(f"twintrack: weights written to {trainer.run_dir / 'siamfc_vggm.safetensors'}")
    return 0
