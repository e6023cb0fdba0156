"""`twintrack train siamfc --data DIR [DIR ...] --out RUN_DIR [key=value ...]`."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from twintrack.configs import load_config
from twintrack.device import resolve_device
from twintrack.errors import UserError
from twintrack.train.datasets import discover, from_got10k
from twintrack.train.optim import OPTIMIZERS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a tracker on sequence folders / image sets",
        description="Train a tracker. Config keys can be overridden as key=value (e.g. epochs=10 lr=0.01). "
        f"Optimizers: {', '.join(OPTIMIZERS)}.",
    )
    parser.add_argument("tracker", choices=["siamfc", "mdnet"], help="which network to train")
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR",
                        help="folders of OTB-style sequences or still-image sets (img/ + boxes.csv); "
                        "got10k:ROOT, lasot:ROOT or vid:ROOT load those datasets through the got10k toolkit")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: config, checkpoints, weights")
    parser.add_argument("--config", metavar="YAML", help="a training config file (default: the preset)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    parser.add_argument("--backbone", metavar="FILE",
                        help="mdnet: SiamFC weights whose conv layers start MDNet (default: the shipped SiamFC)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke runs)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.set_defaults(func=run)


def load_data(spec: str):
    """A folder, or KIND:ROOT for a big dataset read through the got10k toolkit's dataset classes."""
    kind, _, root = spec.partition(":")
    if kind in ("got10k", "lasot", "vid") and root:
        from got10k import datasets

        if not Path(root).is_dir():
            raise UserError(f"--data {spec}: folder '{root}' does not exist")
        try:
            if kind == "got10k":
                dataset = datasets.GOT10k(root, subset="train")
            elif kind == "lasot":
                dataset = datasets.LaSOT(root, subset="train")
            else:
                dataset = datasets.ImageNetVID(root, subset=("train", "val"))
        except Exception as err:  # got10k raises bare Exception('Dataset not found or corrupted.')
            raise UserError(f"--data {spec}: cannot read a {kind} dataset there ({err})") from None
        # LaSOT's ground truth is 1-based (as OTB); GOT-10k and VID boxes are used as the toolkit gives them.
        return from_got10k(dataset, one_based=(kind == "lasot"), name=kind)
    return discover(spec)


def run(args: argparse.Namespace) -> int:
    # `--data A B key=value` puts the overrides into --data's list: split them back out.
    overrides = list(args.overrides) + [item for item in args.data if "=" in item]
    args.data = [item for item in args.data if "=" not in item]
    device = resolve_device(args.device)
    sequences = [seq for spec in args.data for seq in load_data(spec)]
    videos = sum(1 for s in sequences if not s.still)
    print(f"twintrack: {videos} sequences, {len(sequences) - videos} still boxes, device {device}")
    if args.tracker == "siamfc":
        from twintrack.train.siamfc_trainer import SiamFCTrainer

        config = load_config("train_siamfc", overrides, path=args.config)
        if config.num_threads > 0:
            torch.set_num_threads(config.num_threads)
        trainer = SiamFCTrainer(config, sequences, args.out, device)
    else:
        from twintrack.train.mdnet_trainer import MDNetTrainer
        from twintrack.weights import default_weights

        config = load_config("train_mdnet", overrides, path=args.config)
        backbone = args.backbone or default_weights("siamfc")
        trainer = MDNetTrainer(config, sequences, args.out, device, backbone_weights=backbone)
    if args.resume:
        if not trainer.resume():
            raise UserError(f"--resume: no checkpoint in {args.out}; start without --resume")
        print(f"twintrack: resumed from {args.out}")
    trainer.fit(max_steps=args.max_steps)
    trainer.save()
    weights = "siamfc_vggm.safetensors" if args.tracker == "siamfc" else "mdnet_vggm.safetensors"
    print(f"twintrack: weights written to {trainer.run_dir / weights}")
    return 0
