"""`twintrack lr-find siamfc|mdnet --data DIR ... --out DIR`: the learning-rate range test (twintrack/train/lr_find.py)."""

from __future__ import annotations

import argparse
import tempfile

from twintrack.cli.common import add_device, add_overrides, check_output_folder
from twintrack.cli.train import add_init_weights, add_trainable_tracker, build_trainer, load_training_data
from twintrack.errors import UserError
from twintrack.optional import require
from twintrack.train.lr_find import lr_range_test, write_outputs


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: loss against an exponentially growing lr",
        description="Train briefly with the learning rate growing from --lr-min to --lr-max; writes lr_find.csv and "
        "lr_find.png to --out and prints a suggested lr (steepest descent of the smoothed loss; min/10 when the "
        "curve is too short). Nothing in a run folder is changed. Config keys as for `twintrack train`.",
    )
    add_trainable_tracker(parser)
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="as for `twintrack train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for lr_find.csv and lr_find.png")
    parser.add_argument("--config", metavar="YAML", help="a training config file (default: the preset)")
    add_init_weights(parser)
    add_device(parser)
    parser.add_argument("--lr-min", type=float, default=1e-6)
    parser.add_argument("--lr-max", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=100)
    add_overrides(parser)
    parser.set_defaults(func=run, list_options=("data",))


def run(args: argparse.Namespace) -> int:
    from twintrack.device import resolve_device

    # Before any data is read, in the flags' words (the library's check_range says the same for Python callers).
    if not 0 < args.lr_min < args.lr_max:
        raise UserError(f"lr-find needs 0 < --lr-min < --lr-max (got {args.lr_min:g}, {args.lr_max:g})")
    if args.steps < 2:
        raise UserError(f"lr-find needs --steps >= 2 (got {args.steps})")
    # What the end needs, checked before the steps: they are lost when lr_find.csv and lr_find.png cannot be written.
    check_output_folder(args.out)
    require("matplotlib.figure", "lr-find's plot (lr_find.png)", extra="train")
    device = resolve_device(args.device)
    sequences = load_training_data(args.data)
    with tempfile.TemporaryDirectory(prefix="twintrack-lr-find-") as scratch:
        trainer = build_trainer(args, sequences, scratch, device)
        result = lr_range_test(trainer, args.lr_min, args.lr_max, args.steps, echo=print)
    csv_path, png_path = write_outputs(result, args.out)
    print(f"twintrack: {len(result.lrs)} steps written to {csv_path} and {png_path}")
    how = "steepest descent of the smoothed loss" if result.method == "steepest" else "lowest-loss lr / 10"
    print(f"twintrack: suggested lr {result.suggestion:.3g} ({how})")
    return 0
