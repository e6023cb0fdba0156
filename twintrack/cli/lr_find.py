"""`twintrack lr-find siamfc|mdnet --data DIR ... --out DIR`: the learning-rate range test (twintrack/train/lr_find.py)."""

from __future__ import annotations

import argparse
import tempfile

from twintrack.cli.common import add_device, add_overrides
from twintrack.train.lr_find import check_range, lr_range_test, write_outputs


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: loss against an exponentially growing lr",
        description="Train briefly with the learning rate growing from --lr-min to --lr-max; writes lr_find.csv and "
        "lr_find.png to --out and prints a suggested lr (steepest descent of the smoothed loss; min/10 when the "
        "curve is too short). Nothing in a run folder is changed. Config keys as for `twintrack train`.",
    )
    parser.add_argument("tracker", choices=["siamfc", "mdnet"])
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="as for `twintrack train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for lr_find.csv and lr_find.png")
    parser.add_argument("--config", metavar="YAML", help="a training config file (default: the preset)")
    parser.add_argument("--backbone", metavar="FILE", help="mdnet: SiamFC weights for the conv layers")
    add_device(parser)
    parser.add_argument("--lr-min", type=float, default=1e-6)
    parser.add_argument("--lr-max", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=100)
    add_overrides(parser)
    parser.set_defaults(func=run, list_options=("data",))


def run(args: argparse.Namespace) -> int:
    import torch

    from twintrack.configs import load_config
    from twintrack.device import resolve_device
    from twintrack.train.datasets import load_all

    check_range(args.lr_min, args.lr_max, args.steps)  # before any data is read
    overrides = args.overrides
    device = resolve_device(args.device)
    sequences = load_all(args.data)
    with tempfile.TemporaryDirectory(prefix="twintrack-lr-find-") as scratch:
        if args.tracker == "siamfc":
            from twintrack.train.siamfc_trainer import SiamFCTrainer

            config = load_config("train_siamfc", overrides, path=args.config)
            if config.num_threads > 0:
                torch.set_num_threads(config.num_threads)
            trainer = SiamFCTrainer(config, sequences, scratch, device)
        else:
            from twintrack.train.mdnet_trainer import MDNetTrainer
            from twintrack.weights import default_weights

            config = load_config("train_mdnet", overrides, path=args.config)
            trainer = MDNetTrainer(config, sequences, scratch, device,
                                   backbone_weights=args.backbone or default_weights("siamfc"))
        result = lr_range_test(trainer, args.lr_min, args.lr_max, args.steps, echo=print)
    csv_path, png_path = write_outputs(result, args.out)
    print(f"twintrack: {len(result.lrs)} steps written to {csv_path} and {png_path}")
    how = "steepest descent of the smoothed loss" if result.method == "steepest" else "lowest-loss lr / 10"
    print(f"twintrack: suggested lr {result.suggestion:.3g} ({how})")
    return 0
