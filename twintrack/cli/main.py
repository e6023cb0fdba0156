"""The `twintrack` command: track, demo, train. User errors print one line and exit with status 2."""

from __future__ import annotations

import argparse
import os
import sys

# FFmpeg (inside OpenCV) prints its own complaints about unreadable files straight to stderr; our error line says
# what is wrong, so keep its log quiet. Set before cv2 is imported anywhere.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from twintrack.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage dump becomes one line, status 2
        self.exit(2, f"twintrack: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from twintrack.tracker import cli as tracker_cli
    from twintrack.train import cli as train_cli
    from twintrack.train import lr_find

    parser = _Parser(prog="twintrack", description="Visual single-object tracking (SiamFC, MDNet): track, demo, train, eval.")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    tracker_cli.add_parsers(subparsers)
    train_cli.add_parser(subparsers)
    lr_find.add_parser(subparsers)
    train_cli.add_precrop_parser(subparsers)
    try:
        from twintrack.eval import cli as eval_cli
    except ImportError:  # got10k is not installed (e.g. on a bare GPU machine): the other commands still work
        eval_cli = None
    if eval_cli is not None:
        eval_cli.add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    # key=value config overrides may stand anywhere after the command: collect them from what argparse left.
    args, extra = parser.parse_known_args(argv)
    unknown = [item for item in extra if "=" not in item or item.startswith("-")]
    if unknown or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"twintrack: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("twintrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
