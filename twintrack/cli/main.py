"""The `twintrack` command. User errors print one line and exit with status 2.

Every subcommand lives in one module of this package with an ``add_parsers(subparsers)`` function that adds its
parser(s) and sets ``func`` (called with the parsed arguments; returns the exit status). To add a command, write
``twintrack/cli/<name>.py`` with ``add_parsers`` and add the module's name to ``COMMANDS`` below.
"""

from __future__ import annotations

import importlib
import os
import sys

# FFmpeg (inside OpenCV) prints its own complaints about unreadable files straight to stderr; our error line says
# what is wrong, so keep its log quiet. cv2 is already imported by now (the twintrack package imports geometry.py);
# this still works because OpenCV reads both variables lazily, when its FFmpeg backend first opens a file and when
# it first logs (tests/test_cli.py checks that an unreadable video gives one error line).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from twintrack.cli.common import Parser, gather_overrides  # noqa: E402
from twintrack._version import __version__  # noqa: E402
from twintrack.errors import UserError  # noqa: E402

# Modules of twintrack.cli, in the order their commands appear in --help.
COMMANDS = ("track", "train", "lr_find", "eval", "export")
# Commands that need an optional dependency (eval: got10k and six): left out of the parser when it cannot be
# imported (e.g. on a bare GPU machine), so the other commands still work.
OPTIONAL_COMMANDS = ("eval",)


def build_parser() -> Parser:
    parser = Parser(prog="twintrack",
                    description="Visual single-object tracking (SiamFC, MDNet): track, demo, train, eval.")
    parser.add_argument("--version", action="version", version=f"twintrack {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"twintrack.cli.{name}")
        except ImportError as err:
            if name not in OPTIONAL_COMMANDS:
                raise
            add_missing_command(subparsers, name, err)
            continue
        module.add_parsers(subparsers)
    return parser


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


def main(argv=None) -> int:
    parser = build_parser()
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
