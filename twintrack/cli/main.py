"""The `twintrack` command. User errors print one line and exit with status 2.

Every subcommand lives in one module of this package with an ``add_parsers(subparsers)`` function that adds its
parser(s) and sets ``func`` (called with the parsed arguments; returns the exit status). To add a command, write
``twintrack/cli/<name>.py`` with ``add_parsers`` and list its commands in ``COMMANDS`` below.

A command's module is imported only when that command runs: the modules import torch, OpenCV and the trackers,
which take seconds, and ``twintrack --version`` or ``--help`` need none of them. ``--help`` lists the commands from
``COMMANDS`` (tests/test_faults_startup.py checks the table against the modules' own parsers).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

# FFmpeg (inside OpenCV) prints its own complaints about unreadable files straight to stderr; our error line says
# what is wrong, so keep its log quiet. Set before any command's module imports cv2 (OpenCV also reads both
# variables lazily; tests/test_cli.py checks that an unreadable video gives one error line).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from twintrack.cli.common import Parser, gather_overrides  # noqa: E402
from twintrack._version import __version__  # noqa: E402
from twintrack.errors import UserError  # noqa: E402

# command -> (module of twintrack.cli that adds its parser, its line in `twintrack --help`), in --help order.
COMMANDS = {
    "track": ("track", "track objects in a video, image folder, webcam or stream"),
    "demo": ("track", "track the embedded demo clip with the shipped weights"),
    "train": ("train", "train a tracker on sequence folders / image sets"),
    "precrop": ("train", "crop training data once into a small pack (fast loading, easy to copy to a GPU machine)"),
    "lr-find": ("lr_find", "learning-rate range test: loss against an exponentially growing lr"),
    "eval": ("eval", "evaluate trackers on a benchmark (got10k toolkit protocols)"),
    "export": ("export", "write a tracker's networks as ONNX plus its preprocessing contract (contract.json)"),
}
# Commands that need an optional dependency (eval: got10k and six): listed with the extra to install when it is
# missing (e.g. on a bare GPU machine), so the other commands still work.
OPTIONAL_COMMANDS = {"eval": ("got10k", "six")}


def build_parser(command: str | None = None, lazy: bool = False) -> Parser:
    """The whole parser; with ``lazy``, only ``command``'s module is imported (None: none) and every other command
    is a stub that only lists its name and help line."""
    parser = Parser(prog="twintrack",
                    description="Visual single-object tracking (SiamFC, MDNet): track, demo, train, eval.")
    parser.add_argument("--version", action="version", version=f"twintrack {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module_name in dict.fromkeys(module for module, _ in COMMANDS.values()):
        names = [name for name, (module, _) in COMMANDS.items() if module == module_name]
        if lazy and command not in names:
            for name in names:
                subparsers.add_parser(name, help=_listed_help(name), add_help=False)
            continue
        try:
            module = importlib.import_module(f"twintrack.cli.{module_name}")
        except ImportError as err:
            if module_name not in OPTIONAL_COMMANDS:
                raise
            add_missing_command(subparsers, module_name, err)
            continue
        module.add_parsers(subparsers)
    return parser


def _listed_help(name: str) -> str:
    """A command's --help line; for an optional command whose extra is missing, the extra to install (found
    without importing it)."""
    missing = next((module for module in OPTIONAL_COMMANDS.get(name, ()) if not _importable(module)), None)
    if missing is None:
        return COMMANDS[name][1]
    from twintrack.optional import EXTRA_OF_MODULE

    return f"(needs: pip install 'twintrack[{EXTRA_OF_MODULE.get(missing, 'all')}]')"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def add_missing_command(subparsers, name: str, err: ImportError) -> None:
    """A command whose extra is not installed is still listed; running it says which extra to install."""
    from twintrack.optional import EXTRA_OF_MODULE

    missing = (err.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(missing, "all")
    stub = subparsers.add_parser(name, help=f"(needs: pip install 'twintrack[{extra}]')", add_help=False)

    def refuse(args) -> int:
        raise UserError(f"twintrack {name} needs the '{missing}' package, which is not installed; "
                        f"install it with: pip install 'twintrack[{extra}]'")

    stub.set_defaults(func=refuse, missing_extra=True)  # takes any arguments: main() skips their check


def command_of(argv: list[str]) -> str | None:
    """The command an argument list names: its first item that is not an option (the top level has only
    --version and --help, which take no value)."""
    return next((item for item in argv if not item.startswith("-")), None)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_of(argv), lazy=True)
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "missing_extra", False):
        gather_overrides(parser, args, extra)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"twintrack: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("twintrack: interrupted", file=sys.stderr)
        return 130
    except OSError as err:  # the machine, not the code: a full disk, a file size limit, a read-only folder
        print(f"twintrack: error: {describe_os_error(err)}", file=sys.stderr)
        return 2


def describe_os_error(err: OSError) -> str:
    import errno

    reason = err.strerror or str(err)
    text = f"cannot access '{err.filename}': {reason}" if err.filename else f"a file write or read failed: {reason}"
    if err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        text += ("; free disk space (or raise the file size limit) and run the command again: eval skips "
                 "finished sequences, train continues with --resume")
    return text


if __name__ == "__main__":
    sys.exit(main())
