"""`twintrack train siamfc --data DIR [DIR ...] --out RUN_DIR [key=value ...]` and `twintrack precrop`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.distributed as dist

from twintrack.cli.common import add_device, add_overrides, counted, tracker_help, tracker_name
from twintrack.configs import load_config
from twintrack.app.registry import get_tracker, list_trackers
from twintrack.device import resolve_device
from twintrack.errors import UserError
from twintrack.train.datasets import load_all
from twintrack.train.optim import INITS, OPTIMIZERS, SCHEDULES


def add_parsers(subparsers) -> None:
    add_train_parser(subparsers)
    add_precrop_parser(subparsers)


def add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a tracker on sequence folders / image sets",
        description="Train a tracker. Config keys can be overridden as key=value (e.g. epochs=10 lr=0.01);\n"
        "the main keys and their choices are listed below.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_trainable_tracker(parser)
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR",
                        help="folders of OTB-style sequences or still-image sets (img/ + boxes.csv); "
                        "got10k:ROOT, lasot:ROOT or vid:ROOT load those datasets through the got10k toolkit")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: config, checkpoints, weights")
    parser.add_argument("--config", metavar="YAML", help="a training config file (default: the preset)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    parser.add_argument("--overwrite", action="store_true",
                        help="start again in a RUN_DIR that holds a run (its checkpoint, weights, metrics are removed)")
    add_init_weights(parser)
    add_device(parser)
    parser.add_argument("--max-steps", type=positive_int, help="stop after this many optimizer steps (smoke runs)")
    parser.add_argument("--overfit-batch", action="store_true",
                        help="sanity check: train on one fixed batch; exit 1 if the loss does not fall to ~0")
    parser.add_argument("--overfit-steps", type=int, default=0, metavar="N",
                        help="steps for --overfit-batch (default: 200)")
    add_overrides(parser)
    parser.set_defaults(func=run, list_options=("data",))


def add_trainable_tracker(parser) -> None:
    parser.add_argument("tracker", type=tracker_name, metavar="TRACKER",
                        help=f"which network to train: {tracker_help(trainable=True)}")


def add_init_weights(parser) -> None:
    parser.add_argument("--backbone", metavar="FILE",
                        help="weights to start from (mdnet: SiamFC weights whose conv layers start MDNet, default the "
                        "shipped SiamFC; siamfc: a previous run's weights, default none)")


def build_trainer(args: argparse.Namespace, sequences, run_dir, device):
    """The registered trainer for ``args.tracker`` with its training config (preset or --config, then overrides)."""
    entry = get_tracker(args.tracker)
    config = entry.load_train_config(args.overrides, path=args.config)
    if getattr(config, "num_threads", 0) > 0:
        torch.set_num_threads(config.num_threads)
    validator = None
    rank0 = not dist.is_initialized() or dist.get_rank() == 0
    if rank0 and getattr(config, "val_every", 0) > 0 and getattr(config, "val_data", ""):
        from twintrack.app.validate import TrackingValidator

        validator = TrackingValidator(entry.name, config.val_data, device)
    return entry.build_trainer(config, sequences, run_dir, device, validator=validator,
                               init_weights=entry.init_weights_file(args.backbone))


TRAIN_EPILOG = f"""\
main config keys (presets: twintrack/configs/train_siamfc.yaml, train_mdnet.yaml):
  optimizer        {' | '.join(OPTIMIZERS)}
  lr, lr_final     starting rate; exponential / cosine end there
  lr_schedule      {' | '.join(SCHEDULES)} (per epoch; an mdnet epoch is one cycle over its domains)
  lr_step_epochs, lr_step_gamma   step schedule: x gamma every N epochs
  switch_epoch     adam_then_sgd: Adam for N epochs, then SGD with momentum
  sgd_lr           adam_then_sgd: SGD rate at the switch (0: SWATS projection estimate)
  momentum, weight_decay
  init             {' | '.join(INITS)}
  siamfc: conv1_lr_mult conv2_lr_mult conv3_lr_mult head_lr_mult, epochs, pairs_per_epoch, batch_size
  mdnet:  conv_lr_mult fc6_lr_mult dropout, iterations
see also: twintrack lr-find (learning-rate range test), --overfit-batch (can the model fit one batch?)
"""


def add_precrop_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "precrop",
        help="crop training data once into a small pack (fast loading, easy to copy to a GPU machine)",
        description="Crop every frame around its target at SiamFC's search scale and store it as a JPEG pack; "
        "`twintrack train --data PACK` then trains from it (SiamFC and MDNet).",
    )
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="as for `twintrack train`")
    parser.add_argument("--out", required=True, metavar="PACK_DIR", help="folder for pack.json and the crops")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of the crops (default 85)")
    parser.add_argument("--max-frames", type=int, default=0,
                        help="keep at most this many evenly spaced frames per sequence (0: all)")
    parser.set_defaults(func=run_precrop)


def load_training_data(specs) -> list:
    """``load_all(specs)``, printing how many ground-truth rows were left out, why and where (data/skipped.py)."""
    from twintrack.data import counting_skipped_rows

    with counting_skipped_rows() as skipped:
        sequences = load_all(specs)
    if skipped.summary():
        print(f"twintrack: {skipped.summary()}")
    return sequences


def run_precrop(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from twintrack.data.packs import write_pack

    sequences = load_training_data(args.data)
    config = load_config("train_siamfc")
    with tqdm(desc="precrop", unit="crop", dynamic_ncols=True) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        index = write_pack(sequences, args.out, config.exemplar_size, config.context, quality=args.quality,
                           max_frames=args.max_frames, progress=progress)
    crops = sum(len(entry["files"]) for entry in index["sequences"])
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*.jpg"))
    print(f"twintrack: {crops} crops of {len(index['sequences'])} sequences in {args.out} ({size / 2**20:.1f} MiB)")
    return 0


def run(args: argparse.Namespace) -> int:
    """``twintrack train``; under torchrun (``torchrun --nproc_per_node N -m twintrack train ...``, which sets
    WORLD_SIZE, RANK and LOCAL_RANK) each process joins the group here and trains a DistributedDataParallel replica
    on its shard of every epoch; rank 0 writes the run folder. NCCL on GPUs, gloo on CPUs."""
    check_train_extras(args)
    if "WORLD_SIZE" not in os.environ or dist.is_initialized():
        return _run(args)
    wants_cpu = args.device == "cpu"
    dist.init_process_group("nccl" if torch.cuda.is_available() and not wants_cpu else "gloo")
    try:
        return _run(args)
    finally:
        dist.destroy_process_group()


def check_train_extras(args: argparse.Namespace) -> None:
    """The train extra's packages this run will import, checked before any data is read or file written (the core
    install has none of them): TensorBoard (tb/) and matplotlib (curves.png) for every run but --overfit-batch,
    pytorch-optimizer for the optimizers it brings."""
    from twintrack.optional import require

    if not args.overfit_batch:
        require("tensorboard", "twintrack train (its TensorBoard logs in tb/)", extra="train")
        require("matplotlib", "twintrack train (its curves.png)", extra="train")
    config = get_tracker(args.tracker).load_train_config(args.overrides, path=args.config)
    if getattr(config, "optimizer", "") in ("adabound", "swats"):
        require("pytorch_optimizer", f"twintrack train (optimizer '{config.optimizer}')", extra="train")


def _run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if dist.is_initialized():
        if not get_tracker(args.tracker).distributed:
            names = ", ".join(n for n in list_trackers(trainable=True) if get_tracker(n).distributed)
            raise UserError(f"multi-process (torchrun) training is for {names}; train {args.tracker} in one process")
        if device.type == "cuda":  # one GPU per process, as torchrun numbers them on each machine
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # training crops have fixed sizes: let cuDNN pick its fastest kernels
    check_run_folder(Path(args.out), args.resume, args.overwrite)
    sequences = load_training_data(args.data)
    videos = sum(1 for s in sequences if not s.still)
    print(f"twintrack: {counted(videos, 'sequence')}, {counted(len(sequences) - videos, 'still box', 'still boxes')}, "
          f"device {device}")
    trainer = build_trainer(args, sequences, args.out, device)
    if args.overfit_batch:
        from twintrack.train.babysit import DEFAULT_STEPS, overfit_batch, verdict

        success, losses = overfit_batch(trainer, args.overfit_steps or DEFAULT_STEPS)
        print(verdict(success, losses))
        return 0 if success else 1
    if args.overwrite and (not dist.is_initialized() or dist.get_rank() == 0):
        clear_run_folder(Path(args.out))  # only now: a bad config or data above leaves the old run as it was
    if args.overwrite and dist.is_initialized():
        dist.barrier()
    if args.resume:
        try:
            resumed = trainer.resume()
        except UserError as err:
            raise UserError(f"--resume: {err}") from None
        if not resumed:
            raise UserError(f"--resume: no checkpoint in {args.out}; start without --resume")
        print(f"twintrack: resumed from {args.out}")
    trainer.fit(max_steps=args.max_steps)
    trainer.save()
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(f"twintrack: weights written to {trainer.weights_path}")
    return 0


def positive_int(text: str) -> int:
    """argparse type for counts: a whole number >= 1 (argparse turns the ValueError into one error line)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


# What a run writes into its folder; --overwrite removes these and nothing else.
RUN_FILES = ("checkpoint.pt", "metrics.csv", "config.yaml", "curves.png", "tb", "*.safetensors")


def run_files(run_dir: Path) -> list[Path]:
    return sorted(p for pattern in RUN_FILES for p in run_dir.glob(pattern)) if run_dir.is_dir() else []


def check_run_folder(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """A folder that holds a run (a checkpoint, weights or metrics) is continued or replaced only when asked."""
    if resume and overwrite:
        raise UserError("--resume continues the run in --out, --overwrite starts it again: give one of them")
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out '{run_dir}' is a file; give a folder for the run")
    # config.yaml, tb/ and a metrics.csv header alone: a run killed before its first checkpoint, nothing to lose.
    held = [p.name for p in run_files(run_dir) if p.name not in ("config.yaml", "tb", "curves.png")
            and not (p.name == "metrics.csv" and len(p.read_text(errors="replace").split()) <= 1)]
    if held and not resume and not overwrite:
        raise UserError(f"run folder '{run_dir}' already holds a run ({', '.join(held)}); continue it with --resume, "
                        "start it again with --overwrite, or choose another --out")


def clear_run_folder(run_dir: Path) -> None:
    import shutil

    for path in run_files(run_dir):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
