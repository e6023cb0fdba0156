"""`twintrack train siamfc --data DIR [DIR ...] --out RUN_DIR [key=value ...]` and `twintrack precrop`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.distributed as dist

from twintrack.cli.common import add_device, add_overrides
from twintrack.configs import load_config
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
    parser.add_argument("tracker", choices=["siamfc", "mdnet"], help="which network to train")
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR",
                        help="folders of OTB-style sequences or still-image sets (img/ + boxes.csv); "
                        "got10k:ROOT, lasot:ROOT or vid:ROOT load those datasets through the got10k toolkit")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: config, checkpoints, weights")
    parser.add_argument("--config", metavar="YAML", help="a training config file (default: the preset)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    parser.add_argument("--backbone", metavar="FILE",
                        help="mdnet: SiamFC weights whose conv layers start MDNet (default: the shipped SiamFC)")
    add_device(parser)
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke runs)")
    parser.add_argument("--overfit-batch", action="store_true",
                        help="sanity check: train on one fixed batch; exit 1 if the loss does not fall to ~0")
    parser.add_argument("--overfit-steps", type=int, default=0, metavar="N",
                        help="steps for --overfit-batch (default: 200)")
    add_overrides(parser)
    parser.set_defaults(func=run, list_options=("data",))


TRAIN_EPILOG = f"""\
main config keys (presets: twintrack/configs/train_siamfc.yaml, train_mdnet.yaml):
  optimizer        {' | '.join(OPTIMIZERS)}
  lr, lr_final     starting rate; exponential / cosine end there
  lr_schedule      {' | '.join(SCHEDULES)} (per epoch; per iteration for mdnet)
  lr_step_epochs, lr_step_gamma   step schedule: x gamma every N epochs
  switch_epoch     adam_then_sgd: Adam for N epochs (mdnet: iterations), then SGD with momentum
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


def run_precrop(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from twintrack.data.packs import write_pack

    sequences = load_all(args.data)
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
    overrides = args.overrides
    device = resolve_device(args.device)
    if dist.is_initialized():
        if args.tracker != "siamfc":
            raise UserError("multi-process (torchrun) training is for siamfc; train mdnet in one process")
        if device.type == "cuda":  # one GPU per process, as torchrun numbers them on each machine
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # training crops have fixed sizes: let cuDNN pick its fastest kernels
    sequences = load_all(args.data)
    videos = sum(1 for s in sequences if not s.still)
    print(f"twintrack: {videos} sequences, {len(sequences) - videos} still boxes, device {device}")
    if args.tracker == "siamfc":
        from twintrack.train.siamfc_trainer import SiamFCTrainer

        config = load_config("train_siamfc", overrides, path=args.config)
        if config.num_threads > 0:
            torch.set_num_threads(config.num_threads)
        validator = None
        if config.val_every > 0 and config.val_data and (not dist.is_initialized() or dist.get_rank() == 0):
            from twintrack.eval.validate import SiamFCValidator

            validator = SiamFCValidator(config.val_data, device)
        trainer = SiamFCTrainer(config, sequences, args.out, device, validator=validator)
    else:
        from twintrack.train.mdnet_trainer import MDNetTrainer
        from twintrack.weights import default_weights

        config = load_config("train_mdnet", overrides, path=args.config)
        backbone = args.backbone or default_weights("siamfc")
        trainer = MDNetTrainer(config, sequences, args.out, device, backbone_weights=backbone)
    if args.overfit_batch:
        from twintrack.train.babysit import DEFAULT_STEPS, overfit_batch, verdict

        success, losses = overfit_batch(trainer, args.overfit_steps or DEFAULT_STEPS)
        print(verdict(success, losses))
        return 0 if success else 1
    if args.resume:
        if not trainer.resume():
            raise UserError(f"--resume: no checkpoint in {args.out}; start without --resume")
        print(f"twintrack: resumed from {args.out}")
    trainer.fit(max_steps=args.max_steps)
    trainer.save()
    weights = "siamfc_vggm.safetensors" if args.tracker == "siamfc" else "mdnet_vggm.safetensors"
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(f"twintrack: weights written to {trainer.run_dir / weights}")
    return 0


def torchrun_main(argv: list[str]) -> int:
    """`torchrun --nproc_per_node N -m twintrack.train siamfc --data ... --out RUN [key=value ...]`.

    Same arguments as `twintrack train`. torchrun starts N processes and sets RANK/WORLD_SIZE/LOCAL_RANK (and, across
    machines, its rendezvous); each process joins the group here, trains a DistributedDataParallel replica on its
    shard of every epoch, and rank 0 writes the run folder. NCCL on GPUs, gloo on CPUs.
    """
    from twintrack.cli.main import main

    if "WORLD_SIZE" in os.environ and not dist.is_initialized():
        wants_cpu = "--device=cpu" in argv or ("--device" in argv[:-1] and argv[argv.index("--device") + 1] == "cpu")
        backend = "nccl" if torch.cuda.is_available() and not wants_cpu else "gloo"
        dist.init_process_group(backend)
    try:
        return main(["train", *argv])
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
