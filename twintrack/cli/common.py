"""What every command shares: the one-line-error parser, the ``key=value`` splitter, --tracker and --device, and the
line naming a tracker's backbone engine (track, demo and eval)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from twintrack.errors import UserError

DEVICE_HELP = "auto (CUDA when available, else CPU), cpu, cuda or cuda:N (default: auto)"


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage dump becomes one line, status 2
        self.exit(2, f"twintrack: error: {message}\n")


def tracker_help(trainable: bool = False) -> str:
    """The registered trackers, one per line with their description, for --help."""
    from twintrack.app.registry import get_tracker, list_trackers

    names = list_trackers(trainable=trainable)
    return "; ".join(f"{name}: {get_tracker(name).description}" if get_tracker(name).description else name
                     for name in names)


def tracker_name(name: str) -> str:
    """argparse ``type`` for a tracker name: refuses names the registry does not know, listing those it does."""
    from twintrack.app.registry import get_tracker

    try:
        return get_tracker(name).name
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_tracker(parser: argparse.ArgumentParser, default: str | None = "siamfc", repeatable: bool = False) -> None:
    """``--tracker NAME``, its choices read from the registry when the parser is built."""
    if repeatable:
        parser.add_argument("--tracker", action="append", default=[], type=tracker_name, metavar="NAME",
                            help=f"twintrack tracker (repeatable): {tracker_help()}")
    else:
        parser.add_argument("--tracker", default=default, type=tracker_name, metavar="NAME",
                            help=f"tracker (default {default}): {tracker_help()}")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)


def check_output_folder(folder: str | Path, option: str = "--out") -> None:
    """A folder a command will create or write into, checked before any work: refused when it is a file, lies under
    a file, or cannot be written. Nothing is created here."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{option} '{folder}' is a file; give a folder")
    existing = folder
    while not existing.exists():  # the nearest part of the path that is there ('.' at the latest)
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} '{folder}' lies under '{existing}', which is a file; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{option} '{folder}': '{existing}' is not writable; choose another folder")


def add_overrides(parser: argparse.ArgumentParser, what: str = "config overrides") -> None:
    """``key=value`` config overrides; they may stand anywhere after the command (see ``gather_overrides``)."""
    parser.add_argument("overrides", nargs="*", metavar="key=value", help=what)
    parser.set_defaults(takes_overrides=True)


def is_override(item: str) -> bool:
    key, sep, _ = item.partition("=")
    return bool(sep) and not item.startswith("-") and key.strip().isidentifier()


def gather_overrides(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]) -> None:
    """The one place ``key=value`` items are split from the rest of a command line.

    argparse leaves them in three places: the ``overrides`` positional, the unparsed extras (when they follow an
    option), and the list of a ``nargs="+"`` option they follow (``--data A B lr=0.01``). All go to
    ``args.overrides``; anything else left over is an unrecognized argument.
    """
    unknown = [item for item in extra if not is_override(item)]
    if unknown or (extra and not getattr(args, "takes_overrides", False)):
        parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
    if not getattr(args, "takes_overrides", False):
        return
    overrides = list(args.overrides) + extra
    for name in getattr(args, "list_options", ()):  # nargs="+" options that may swallow key=value items
        items = getattr(args, name) or []
        overrides += [item for item in items if is_override(item)]
        setattr(args, name, [item for item in items if not is_override(item)])
    args.overrides = overrides


def engine_line(tracker, weights=None, label: str | None = None) -> str | None:
    """Which backbone engine runs and why, in one line (``label``, a tracker's name, leads it where several trackers
    run); where int8 is lost for want of a calibration for these weights, the command that writes one. None for
    trackers without a backbone engine (the OpenCV baselines)."""
    from twintrack.app.api import backbone_engine

    engine = backbone_engine(tracker)
    if engine is None:
        return None
    line = f"twintrack: {label + ' ' if label else ''}backbone engine {engine.name}: {engine.reason}"
    if engine.needs_calibration:
        name = getattr(tracker, "name", None) if getattr(tracker, "name", None) in ("siamfc", "mdnet") else "siamfc"
        line += (f"; int8 runs faster on this CPU: calibrate it once for these weights with `twintrack export "
                 f"{name} --weights {weights or 'W'} --int8 --calib-data TRAIN_SEQUENCES --out DIR`, then add "
                 "int8_model=DIR/backbone_int8.onnx to the command")
    return line


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 tracker``, ``2 trackers``: a count with its noun in the number it needs (``plural``: where it is not
    the noun plus s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"
