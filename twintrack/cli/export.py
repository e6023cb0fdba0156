"""`twintrack export TRACKER --format onnx --out DIR`: ONNX files + contract.json (twintrack/runtime/export.py).

The trackers offered are the registry's entries with an ``export`` hook (siamfc and mdnet built in): a tracker
registered with one is exported with no edit here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twintrack.cli.common import add_overrides
from twintrack.errors import UserError
from twintrack.app.registry import exportable_tracker, list_trackers

FORMATS = ("onnx",)


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a tracker's networks as ONNX plus its preprocessing contract (contract.json)",
        description="Write the tracker's networks as ONNX files (fp32; the backbone also as int8 with --int8) and "
        "contract.json: crop sizes, colour order, value range, layout, context, stride and the tracker's config. "
        "The int8 model is what `precision=int8` runs; give it to a tracker with int8_model=DIR/backbone_int8.onnx.",
    )
    # Checked against the registry when parsed (not fixed choices): trackers registered later are offered too.
    parser.add_argument("tracker", type=_exportable_name, metavar="TRACKER",
                        help=f"which tracker's networks: {', '.join(list_trackers(exportable=True))}")
    parser.add_argument("--format", default="onnx", choices=FORMATS, help="file format (default onnx)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the files (created if missing)")
    parser.add_argument("--weights", metavar="FILE", help=".safetensors weights (default: the shipped ones)")
    parser.add_argument("--int8", action="store_true",
                        help="also write backbone_int8.onnx: calibrated on --calib-data, or the shipped calibration "
                        "when the weights are the shipped ones and no --calib-data is given")
    parser.add_argument("--calib-data", nargs="+", metavar="DIR",
                        help="TRAINING sequences for int8 calibration (never the data you evaluate on)")
    parser.add_argument("--calib-frames", type=int, default=128, metavar="N",
                        help="frames drawn for calibration, one 255-pixel search crop each (default 128)")
    parser.add_argument("--calib-seed", type=int, default=0, metavar="N", help="seed of the frame draw (default 0)")
    add_overrides(parser)
    parser.set_defaults(func=run, list_options=("calib_data",))


def _exportable_name(name: str) -> str:
    """argparse ``type``: a tracker with an export hook, else one error line naming those that have one."""
    try:
        return exportable_tracker(name).name
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _int8_crops(args, backbone):
    """Calibration crops, or the shipped model's bytes (None, bytes); (None, None) without --int8."""
    from twintrack.runtime.calibration import calibration_crops, fingerprint, shipped_int8_model

    if not args.int8:
        if args.calib_data:
            raise UserError("--calib-data is used with --int8 only")
        return None, None
    if args.calib_frames < 1:
        raise UserError(f"--calib-frames needs a positive number (got {args.calib_frames})")
    if args.calib_data:
        from twintrack.data import discover

        sequences = [s for folder in args.calib_data for s in discover(folder)]
        return calibration_crops(sequences, args.calib_frames, args.calib_seed), None
    shipped = shipped_int8_model(fingerprint(backbone))
    if shipped is None:
        raise UserError("--int8 needs --calib-data DIR (training sequences) for weights other than the shipped ones")
    return None, shipped


def run(args: argparse.Namespace) -> int:
    from twintrack.weights import load_weights

    entry = exportable_tracker(args.tracker)
    config = entry.load_config(args.overrides)
    net = entry.resolve_model(config)
    weights = entry.weights_file(args.weights)
    if weights is not None:
        load_weights(net, weights, arch=entry.weights_arch)
    backbone = getattr(net, "backbone", None)
    if args.int8 and backbone is None:
        raise UserError(f"--int8 quantizes the VGG-M backbone, which tracker '{entry.name}' does not have")
    crops, shipped = _int8_crops(args, backbone.eval() if backbone is not None else None)
    contract = entry.run_export(net.eval(), config, args.out, int8_crops=crops)
    if shipped is not None:
        _add_shipped_int8(contract, shipped)
    names = sorted(p.name for p in Path(args.out).iterdir() if p.suffix in (".onnx", ".json"))
    print(f"twintrack: wrote {', '.join(names)} to {args.out}")
    return 0


def _add_shipped_int8(contract: Path, model: bytes) -> None:
    import json

    (contract.parent / "backbone_int8.onnx").write_bytes(model)
    data = json.loads(contract.read_text())
    data["files"]["backbone_int8"] = "backbone_int8.onnx"
    contract.write_text(json.dumps(data, indent=2) + "\n")
